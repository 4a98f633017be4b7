/* A failed htmx request made visible (loaded by templates/base.html; the kiosk has its own, in kiosk.js).
   htmx 2 swaps no 4xx/5xx answer, so a refused or failed action would silently do nothing; swapping the error
   into the target would throw away a field the user typed into. Instead the server's error fragment
   (templates/_error.html), or for a network failure or time-out a sentence from the region's data- attributes,
   goes into the page's one alert region [data-htmx-alert], which screen readers announce. The focus stays
   where the user is typing. The next successful request clears it. */
(function () {
  "use strict";
  // Tags of the error fragment kept when its text is copied; everything else is reduced to its text.
  var KEEP = { STRONG: true, UL: true, OL: true, LI: true, P: true };

  function region() { return document.querySelector("[data-htmx-alert]"); }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // Copy text and a few plain tags, never an attribute: the answer is parsed in an inert document and never
  // inserted as markup.
  function copy(from, to) {
    Array.prototype.forEach.call(from.childNodes, function (node) {
      if (node.nodeType === 3) {
        to.appendChild(document.createTextNode(node.nodeValue));
      } else if (node.nodeType === 1) {
        if (KEEP[node.nodeName]) {
          var el = document.createElement(node.nodeName.toLowerCase());
          to.appendChild(el);
          copy(node, el);
        } else {
          copy(node, to);
        }
      }
    });
  }

  // The app's error fragment in an htmx answer, or null (a proxy's page, a re-rendered form, JSON …).
  function errorFragment(xhr) {
    if (!xhr || !/^text\/html/i.test(xhr.getResponseHeader("Content-Type") || "")) return null;
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    return doc.querySelector(".error-fragment");
  }

  function show(fill) {
    var box = region();
    if (!box) return;
    var body = document.createElement("div");
    fill(body);
    var said = body.textContent.replace(/\s+/g, " ").trim();
    if (box.getAttribute("data-said") === said) return;  // the same failure again (a poll): not announced twice
    clear(box);
    box.appendChild(body);
    box.setAttribute("data-said", said);
    box.parentNode.hidden = false;  // a role="alert" element shown is announced, as one inserted would be
  }

  function say(key) {
    return function (body) {
      var box = region();
      body.appendChild(document.createTextNode(box.getAttribute("data-" + key) || box.getAttribute("data-generic") || ""));
    };
  }

  function hide() {
    var box = region();
    if (!box || !box.hasAttribute("data-said")) return;
    clear(box);
    box.removeAttribute("data-said");
    box.parentNode.hidden = true;
  }

  // A form or list re-rendered with its own messages and a 400/422 (e.g. the audit search) is meant for its
  // target: swap it as a 200 would be. An error fragment, or anything else, is not swapped.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    if ((xhr.status === 400 || xhr.status === 422) && /^text\/html/i.test(xhr.getResponseHeader("Content-Type") || "")
        && !/<html[\s>]/i.test(xhr.responseText) && !errorFragment(xhr)) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });

  document.addEventListener("htmx:responseError", function (evt) {
    var fragment = errorFragment(evt.detail.xhr);
    show(fragment ? function (body) { copy(fragment, body); } : say("generic"));
  });
  document.addEventListener("htmx:sendError", function () { show(say("network")); });
  document.addEventListener("htmx:timeout", function () { show(say("timeout")); });
  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.detail.successful === true) hide();
  });
  document.addEventListener("click", function (evt) {
    if (!evt.target.closest || !evt.target.closest("[data-htmx-alert-close]")) return;
    hide();
    var main = document.getElementById("main");  // the button is gone: leave the focus somewhere sensible
    if (main) main.focus();
  });
})();
