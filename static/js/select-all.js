/* "全选": a checkbox with data-select-all="NAME" checks or clears every checkbox named NAME in its form, and
   shows itself as mixed when only some are checked. Without JavaScript the boxes are still checked one by one. */
(function () {
  "use strict";
  function boxes(master) {
    var form = master.form || document;
    return Array.prototype.slice.call(form.querySelectorAll('input[type="checkbox"][name="' + master.dataset.selectAll + '"]'));
  }
  function sync(master) {
    var all = boxes(master), on = all.filter(function (b) { return b.checked; }).length;
    master.checked = all.length > 0 && on === all.length;
    master.indeterminate = on > 0 && on < all.length;
  }
  function init() {
    document.querySelectorAll("input[data-select-all]").forEach(function (master) {
      master.hidden = false;
      master.addEventListener("change", function () {
        boxes(master).forEach(function (b) { b.checked = master.checked; });
      });
      boxes(master).forEach(function (b) { b.addEventListener("change", function () { sync(master); }); });
      sync(master);
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
