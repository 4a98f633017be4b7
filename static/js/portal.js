// Public pages: large-text mode (适老化) remembered on this device (text-size.js applies it before the page
// is drawn; this handles the button), and the error summary of a form taking the focus when the page loads.
(function () {
  var KEY = "dibao-large-text";
  var root = document.documentElement;
  function apply(on) {
    root.classList.toggle("large-text", on);
    document.querySelectorAll("[data-text-size]").forEach(function (b) { b.setAttribute("aria-pressed", on ? "true" : "false"); });
  }
  apply(root.classList.contains("large-text"));
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-text-size]");
    if (!btn) return;
    var on = !root.classList.contains("large-text");
    apply(on);
    try { localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* ignore */ }
  });

  // A form sent back with problems: the summary at its top is read first and says where to go.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (ev) {
      var link = ev.target.closest("a[href^='#']");
      if (!link) return;
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (field) { ev.preventDefault(); field.focus(); field.scrollIntoView({ block: "center" }); }
    });
  }
})();
