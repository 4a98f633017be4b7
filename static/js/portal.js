// Large-text mode (适老化): works without the browser's own zoom and is remembered on this device.
(function () {
  var KEY = "dibao-large-text";
  var root = document.documentElement;
  function apply(on) {
    root.classList.toggle("large-text", on);
    document.querySelectorAll("[data-text-size]").forEach(function (b) { b.setAttribute("aria-pressed", on ? "true" : "false"); });
  }
  try { apply(localStorage.getItem(KEY) === "1"); } catch (e) { /* storage may be blocked */ }
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-text-size]");
    if (!btn) return;
    var on = !root.classList.contains("large-text");
    apply(on);
    try { localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* ignore */ }
  });
})();
