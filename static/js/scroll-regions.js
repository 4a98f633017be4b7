/* A wide table that scrolls in its own box (.table-scroll, templates) carries tabindex="0" so that a keyboard can
   reach it and scroll it with the arrow keys. When the table fits its box that stop leads nowhere: the tabindex
   is taken off while the box does not overflow and put back as soon as it does again (the window turned or
   resized, 大字 switched on, a font arriving). Without JavaScript every box keeps its tabindex (the old way). */
(function () {
  "use strict";
  function update(box) {
    if (box.scrollWidth > box.clientWidth + 1) box.setAttribute("tabindex", "0");
    else if (document.activeElement !== box) box.removeAttribute("tabindex"); // (focused: when it is left)
  }
  document.addEventListener("DOMContentLoaded", function () {
    var boxes = Array.prototype.slice.call(document.querySelectorAll(".table-scroll[tabindex]"));
    if (!boxes.length || !window.ResizeObserver) return;
    var observer = new ResizeObserver(function (entries) {
      entries.forEach(function (entry) { update(entry.target.closest(".table-scroll")); });
    });
    boxes.forEach(function (box) {
      update(box);
      observer.observe(box); // the box: the window's width
      if (box.firstElementChild) observer.observe(box.firstElementChild); // the table: text size, fonts
      box.addEventListener("focusout", function () { update(box); });
    });
  });
})();
