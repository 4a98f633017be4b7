/* "打印": a button with data-print prints the page. An inline onclick would be refused by the
   Content-Security-Policy (script-src 'self'), which left the button doing nothing. Without JavaScript the
   button stays hidden and the browser's own print command still works. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();
