// Large-text mode (适老化), part one: loaded in the <head> without defer, so a page opens already large when
// the resident chose it on an earlier page (no flash of small text). The button is handled in portal.js.
(function () {
  try {
    if (localStorage.getItem("dibao-large-text") === "1") document.documentElement.classList.add("large-text");
  } catch (e) { /* storage may be blocked: normal size */ }
})();
