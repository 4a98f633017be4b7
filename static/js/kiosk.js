// The kiosk display (templates/kiosk/display.html). It never goes blank and never shows an expired notice:
// - the slide polls the next slide with htmx; on a 5xx or a network loss nothing is swapped, a small
//   offline mark appears, and the same element retries on its next tick (recovery needs nothing);
// - every entry carries its closing instant (data-closes-at, UTC) and is hidden here when the clock passes
//   it, online or not; the clock is the browser's, corrected by the server's time (X-Server-Time);
// - the last slide shown is kept in localStorage and a service worker (/kiosk/sw.js) keeps the shell,
//   the assets and the slides, so a reload while offline shows the last content;
// - the header's count of households on notice and the page numbers follow what is still shown: the page keeps
//   the closing instants of each page it has shown, recounts and renumbers when entries close, and offline
//   skips a page whose entries have all closed;
// - tapping an entry shows it large with a big QR code; after 60 s without a touch the rotation is back;
// - a closed entry is forgotten, not only hidden: cut out of the page, of the slide kept in localStorage and
//   (a "prune" message with this page's clock) of every copy the service worker keeps, photos included;
// - the resident chooses the text size (字号: 标准 / 大 / 特大) in the header, on this screen only, without a request;
//   enlarged, a slide that no longer fits is shown in parts; after 3 minutes without a touch it is 标准 again.
(function () {
  "use strict";

  var body = document.body;
  if (body.dataset.kioskStatus === "not-registered") {
    // A revoked or unknown token: forget everything this screen kept.
    try { Object.keys(localStorage).forEach(function (k) { if (k.indexOf("kiosk:") === 0) localStorage.removeItem(k); }); } catch (e) { /* ignore */ }
    return;
  }
  var token = body.dataset.kioskToken;
  if (!token) return;

  var STORE = "kiosk:" + token;
  var IDLE_MS = 60 * 1000;
  // A resident reads the rotation without touching it: the size they chose outlasts a few slides before the
  // screen assumes they have gone.
  var TEXT_SIZE_IDLE_MS = 3 * 60 * 1000;
  var timeZone = body.dataset.timezone || "Asia/Shanghai";
  var renderedAt = Number(body.dataset.serverNow) || 0;

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE) || "null"); } catch (e) { return null; }
  }
  function save(data) {
    try { localStorage.setItem(STORE, JSON.stringify(data)); } catch (e) { /* storage full or blocked */ }
  }

  // The clock: the browser's, corrected by the server's. A shell served from the worker's cache carries an
  // old server time, so the larger of the shell's and the last learnt offset wins: if in doubt the kiosk
  // believes it is later, and hides a closing entry early rather than late.
  var stored = load();
  var offset = renderedAt ? renderedAt - Date.now() : 0;
  var lastServer = renderedAt;
  if (stored && typeof stored.offset === "number") {
    offset = Math.max(offset, stored.offset);
    lastServer = Math.max(lastServer, stored.server || 0);
  }
  function now() { return Date.now() + offset; }

  // --- the kept slide: without its closed entries, whatever is on screen -----------------------------------
  // Returns the earliest closing instant still in the kept copy (Infinity when none).
  function pruneStored(t) {
    var data = load();
    if (!data || !data.html) return Infinity;
    var holder = document.createElement("template"); // inert: nothing in it loads
    holder.innerHTML = data.html;
    var next = Infinity, cut = false;
    holder.content.querySelectorAll("[data-closes-at]").forEach(function (el) {
      var closes = Date.parse(el.dataset.closesAt);
      if (isNaN(closes) || t >= closes) { el.remove(); cut = true; } else next = Math.min(next, closes);
    });
    if (cut) {
      var slide = holder.content.querySelector("#k-slide");
      data.html = slide ? slide.outerHTML : "";
      save(data);
      stored = data;
    }
    return next;
  }
  var storedCloses = pruneStored(now());

  // --- restore: a shell older than the last slide shown (a reload served by the service worker) -------
  if (stored && stored.html && stored.at > renderedAt) {
    var current = document.getElementById("k-slide");
    if (current) {
      var holder = document.createElement("div");
      holder.innerHTML = stored.html;
      var restored = holder.querySelector("#k-slide");
      if (restored) current.replaceWith(restored);
    }
    if (stored.at - renderedAt > 2000) setOffline(true);
  }

  // --- the count and the page numbers: what is still shown --------------------------------------------------
  // A slide says how many households are on notice (data-open) and which page of how many it is (data-index,
  // data-total), as the server counted when it rendered it; offline nobody recounts when entries close. So the
  // page keeps, for each page of the rotation it has shown, the closing instants of the entries that page had
  // (data-page-entries of them; numbers only, nothing of a household) in localStorage, and counts and numbers
  // itself: each entry closed is one household less, a page with none left is not counted (and, offline, is
  // skipped by the rotation). An entry the kept copy no longer has was cut out because it closed or went.
  var PAGES = STORE + ":pages";
  var pagesKept = (function () {
    try { return JSON.parse(localStorage.getItem(PAGES) || "{}") || {}; } catch (e) { return {}; }
  })();

  function boardOf(slide) { return slide.dataset.open + "/" + slide.dataset.total; }

  function learnSlide(slide) {
    if (!slide || slide.dataset.open === undefined) return;
    var board = boardOf(slide);
    var pages = pagesKept[board] || {};
    var n = Number(slide.dataset.pageEntries) || 0;
    var closes = [];
    slide.querySelectorAll(".k-entry[data-closes-at]").forEach(function (el) {
      var at = Date.parse(el.dataset.closesAt);
      closes.push(isNaN(at) ? 0 : at);
    });
    while (closes.length < n) closes.push(0); // cut out of the kept copy: closed (or withdrawn)
    pages[slide.dataset.index] = { n: n, closes: closes.slice(0, n) };
    // This board first, and at most two older ones (kept slides of an older board may still be shown offline).
    var kept = {};
    kept[board] = pages;
    Object.keys(pagesKept).filter(function (k) { return k !== board; }).slice(0, 2).forEach(function (k) {
      kept[k] = pagesKept[k];
    });
    pagesKept = kept;
    try { localStorage.setItem(PAGES, JSON.stringify(kept)); } catch (e) { /* storage full or blocked */ }
  }

  function openOn(page, t) {
    return page.closes.filter(function (at) { return at > t; }).length;
  }

  function pagesOf(slide) { return (slide && pagesKept[boardOf(slide)]) || {}; }

  function recount(t) {
    var slide = document.getElementById("k-slide");
    if (!slide || slide.dataset.open === undefined) return;
    var pages = pagesOf(slide);
    var open = Number(slide.dataset.open) || 0;
    var total = Number(slide.dataset.total) || 1;
    var index = Number(slide.dataset.index) || 0;
    var empty = 0, emptyBefore = 0;
    Object.keys(pages).forEach(function (i) {
      var page = pages[i];
      if (!page.n || Number(i) >= total) return;
      var left = openOn(page, t);
      open -= page.n - left;
      if (!left) {
        empty += 1;
        if (Number(i) < index) emptyBefore += 1;
      }
    });
    var count = slide.querySelector(".k-slide-head h2 strong");
    if (count) {
      var shownHere = slide.querySelectorAll(".k-entry:not(.k-expired)").length;
      var text = String(Math.max(open, shownHere));
      if (count.textContent !== text) count.textContent = text;
    }
    var number = slide.querySelector(".k-page[data-page-words]");
    if (number && empty < total) {
      var words = number.dataset.pageWords.replace("1001", String(index + 1 - emptyBefore))
        .replace("1002", String(total - empty));
      if (number.textContent !== words) number.textContent = words;
    }
  }

  // Offline, the rotation skips the pages whose entries have all closed (online the server pages anew).
  document.addEventListener("htmx:configRequest", function (evt) {
    var d = evt.detail || {};
    var m = /\/slide\/(\d+)$/.exec(d.path || "");
    if (!m || !body.classList.contains("k-is-offline")) return;
    var slide = document.getElementById("k-slide");
    if (!slide || slide.dataset.open === undefined) return;
    var pages = pagesOf(slide);
    var total = Number(slide.dataset.total) || 1;
    var t = now();
    for (var step = 0; step < total; step++) {
      var i = (Number(m[1]) + step) % total;
      var page = pages[i];
      if (!page || !page.n || openOn(page, t) > 0) {
        if (step) d.path = d.path.slice(0, d.path.length - m[1].length) + i;
        return;
      }
    }
  });

  // --- offline mark ----------------------------------------------------------------------------------
  function setOffline(on) {
    var mark = document.getElementById("k-offline");
    if (mark) mark.hidden = !on;
    body.classList.toggle("k-is-offline", on);
  }

  // --- header clock ------------------------------------------------------------------------------------
  // In the server's words (templates/kiosk/display.html: dibao.i18n.localdate, the locale's long date then the
  // weekday, and localtime "clock"): "2026年3月18日 星期三" and "09:05", in the page's language and the deployment's zone.
  var dateFmt, dayFmt, timeFmt;
  try {
    var lang = document.documentElement.lang || "zh-CN";
    dateFmt = new Intl.DateTimeFormat(lang, { timeZone: timeZone, year: "numeric", month: "long", day: "numeric" });
    dayFmt = new Intl.DateTimeFormat(lang, { timeZone: timeZone, weekday: "long" });
    timeFmt = new Intl.DateTimeFormat(lang, { timeZone: timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  } catch (e) { dateFmt = dayFmt = timeFmt = null; }

  function tickClock(t) {
    if (!dateFmt) return;
    var d = new Date(t);
    var dateEl = document.getElementById("k-date");
    var timeEl = document.getElementById("k-time");
    var date = dateFmt.format(d) + " " + dayFmt.format(d);
    var time = timeFmt.format(d);
    if (dateEl && dateEl.textContent !== date) dateEl.textContent = date;
    if (timeEl && timeEl.textContent !== time) timeEl.textContent = time;
  }

  // --- the time left, in the portal's words -------------------------------------------------------------
  // The server says it with dibao.notices.time_left ("还剩 6 天 23 小时", "还剩 5 小时 3 分钟", "还剩 34 分钟"):
  // the same arithmetic here (whole days and hours, minutes rounded down, at least 1), the same words (the
  // page's data-left-words: each phrasing with stand-in numbers, dibao.kiosks.countdown_words).
  var leftWords = {};
  try { leftWords = JSON.parse(body.dataset.leftWords || "{}"); } catch (e) { /* none: the server's text stays */ }

  function fill(kind, values) {
    var words = leftWords[kind];
    if (!words || !words.text) return "";
    var marks = Object.keys(values).map(function (name) { return words[name]; });
    if (marks.some(function (m) { return !m; })) return "";
    return words.text.replace(new RegExp(marks.join("|"), "g"), function (found) {
      for (var name in values) { if (words[name] === found) return String(values[name]); }
      return found;
    });
  }

  function timeLeft(ms) {
    var seconds = Math.floor(ms / 1000);
    var days = Math.floor(seconds / 86400), rest = seconds % 86400;
    var hours = Math.floor(rest / 3600);
    var minutes = Math.floor((rest % 3600) / 60);
    if (days) return fill("dh", { days: days, hours: hours });
    if (hours) return fill("hm", { hours: hours, minutes: minutes });
    return fill("m", { minutes: Math.max(1, minutes) });
  }

  function showLeft(box, text) {
    // The numbers in <strong> (large), as the server renders them (kiosk.views.emphasise_numbers).
    box.textContent = "";
    text.split(/(\d+)/).forEach(function (part) {
      if (!part) return;
      if (/^\d+$/.test(part)) {
        var strong = document.createElement("strong");
        strong.textContent = part;
        box.appendChild(strong);
      } else {
        box.appendChild(document.createTextNode(part));
      }
    });
  }

  // --- expiry: hide what has closed, count the time left down ----------------------------------------------
  function expire(t) {
    var removed = false;
    document.querySelectorAll("[data-closes-at]").forEach(function (el) {
      var closes = Date.parse(el.dataset.closesAt);
      if (isNaN(closes)) return;
      if (t >= closes) {
        // Closed: out of the page (not only hidden), then out of the kept copies below.
        el.hidden = true;
        el.classList.add("k-expired");
        if (el.closest("#k-detail-body")) closeDetail();
        el.remove();
        removed = true;
        if (typeof shown !== "undefined") shown.restart(); // off the screen: its time on it ends here
      } else {
        var left = closes - t;
        var box = el.querySelector("[data-left]");
        var text = timeLeft(left);
        if (box && text && box.textContent !== text) showLeft(box, text);
        if (box) box.classList.toggle("k-last-day", left < 86400000);
      }
    });
    var slide = document.getElementById("k-slide");
    if (slide && slide.dataset.kind === "entries") {
      var visible = slide.querySelectorAll(".k-entry:not(.k-expired)");
      var slot = slide.querySelector(".k-fallback-slot");
      if (slot && !visible.length && slot.hidden) {
        // Every entry of this slide has closed (offline, or between polls): show the procedure instead.
        var tpl = document.getElementById("k-fallback");
        if (tpl) slot.appendChild(tpl.content.cloneNode(true));
        slot.hidden = false;
        var head = slide.querySelector(".k-slide-head");
        if (head) head.hidden = true;
      }
    }
    recount(t);
    if (removed && textSize !== "standard") fit(); // the parts again, without what closed
    var open = document.querySelector("#k-detail-body .k-entry");
    if (open && open.classList.contains("k-expired")) closeDetail();
    if (removed || t >= storedCloses) {
      storedCloses = pruneStored(t);
      forget(t);
    }
  }

  // Ask the service worker to forget what closed by this page's clock (it also forgets by its own).
  function forget(t) {
    var sw = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (sw) sw.postMessage({ type: "prune", token: token, now: Math.round(t) });
  }

  function tick() {
    var t = now();
    tickClock(t);
    expire(t);
  }

  // --- htmx: swap only good answers, keep the last content otherwise -----------------------------------
  function isSlideEvent(evt) {
    // After an outerHTML swap htmx reports the parent as the element, so tell slide polls by their path.
    var d = evt.detail || {};
    var path = (d.pathInfo && d.pathInfo.requestPath) || (d.requestConfig && d.requestConfig.path) || "";
    return path.indexOf("/slide/") !== -1 || (d.elt && d.elt.id === "k-slide");
  }

  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (!isSlideEvent(evt)) return;
    var xhr = evt.detail.xhr;
    if (xhr.status === 404 && xhr.getResponseHeader("X-Kiosk-Status") === "not-registered") {
      evt.detail.shouldSwap = false;
      try { localStorage.removeItem(STORE); localStorage.removeItem(PAGES); } catch (e) { /* ignore */ }
      window.location.reload();
      return;
    }
    if (xhr.status !== 200 || !/id="k-slide"/.test(xhr.responseText || "")) {
      evt.detail.shouldSwap = false;
      evt.detail.isError = false;
      setOffline(true);
      return;
    }
    if (holding) evt.detail.shouldSwap = false; // this poll showed the slide's next part instead (fit, below)
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    if (!isSlideEvent(evt)) return;
    var xhr = evt.detail.xhr;
    if (!evt.detail.successful || !xhr || xhr.status !== 200) { setOffline(true); return; }
    if (xhr.getResponseHeader("X-Kiosk-Offline") === "1") { setOffline(true); return; }
    var server = Number(xhr.getResponseHeader("X-Server-Time"));
    if (server && server > lastServer) { lastServer = server; offset = server - Date.now(); }
    setOffline(false);
  });

  ["htmx:sendError", "htmx:responseError", "htmx:timeout", "htmx:swapError"].forEach(function (name) {
    document.addEventListener(name, function () { setOffline(true); });
  });

  document.addEventListener("htmx:afterSwap", function () {
    learnSlide(document.getElementById("k-slide")); // what the page had, before anything closed is cut out
    tick(); // an entry that closed meanwhile never shows, not even for a second
    var slide = document.getElementById("k-slide");
    if (slide) {
      save({ html: slide.outerHTML, at: now(), offset: offset, server: lastServer });
      storedCloses = pruneStored(now());
    }
    fit(); // the new slide at the resident's text size
    shown.restart();
  });

  // --- touch: one entry large, back to the rotation after 60 s idle ---------------------------------------
  var idleTimer = null;
  var detail = document.getElementById("k-detail");
  var detailBody = document.getElementById("k-detail-body");

  function closeDetail() {
    if (!detail || detail.hidden) return;
    if (window.dibaoReadAloud) window.dibaoReadAloud.stop();
    detail.hidden = true;
    detailBody.innerHTML = "";
    clearTimeout(idleTimer);
    shown.restart();
  }

  function touched() {
    clearTimeout(idleTimer);
    if (detail && !detail.hidden) idleTimer = setTimeout(closeDetail, IDLE_MS);
    if (textSize !== "standard") keepTextSize();
  }

  function openDetail(entry) {
    if (!detail) return;
    var copy = entry.cloneNode(true);
    copy.querySelectorAll(".k-open").forEach(function (button) { button.remove(); }); // open already
    detailBody.innerHTML = "";
    detailBody.appendChild(copy);
    detail.hidden = false;
    var close = document.getElementById("k-detail-close");
    if (close) close.focus();
    touched();
    shown.restart();
  }

  document.addEventListener("pointerdown", touched, true);
  document.addEventListener("keydown", touched, true);
  document.addEventListener("click", function (evt) {
    if (evt.target.closest("#k-detail-close")) { closeDetail(); return; }
    var size = evt.target.closest("button[data-text-size]");
    if (size) { setTextSize(size.dataset.textSize); return; }
    var entry = evt.target.closest("#k-slide .k-entry");
    if (entry) openDetail(entry);
  });
  // From the keyboard: the card's button (Enter or Space click it, as any button), Escape closes.
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape") closeDetail();
  });

  // --- the resident's text size (字号, 适老化) ----------------------------------------------------------------
  // The header's buttons put a class on <html> (static/css/kiosk.css scales the type by it): no request, so it works
  // offline, and every slide swapped in takes it. The screen is shared: 3 minutes after the last touch it is back
  // to 标准 for the next resident. Nothing is kept: a reload starts at 标准.
  var TEXT_SIZES = { standard: null, large: "k-text-large", largest: "k-text-largest" };
  var textSize = "standard";
  var sizeTimer = null;

  function setTextSize(size) {
    if (!Object.prototype.hasOwnProperty.call(TEXT_SIZES, size)) size = "standard";
    var root = document.documentElement;
    root.classList.remove("k-text-large", "k-text-largest", "k-text-enlarged");
    if (TEXT_SIZES[size]) root.classList.add(TEXT_SIZES[size], "k-text-enlarged");
    document.querySelectorAll("button[data-text-size]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.textSize === size));
    });
    var changed = size !== textSize;
    textSize = size;
    if (size !== "standard") keepTextSize();
    else clearTimeout(sizeTimer);
    if (changed) fit();
  }

  function keepTextSize() {
    clearTimeout(sizeTimer);
    sizeTimer = setTimeout(function () { setTextSize("standard"); }, TEXT_SIZE_IDLE_MS);
  }

  // --- a slide in parts: enlarged, a slide may not fit the screen ---------------------------------------------
  // It is then shown in parts, each for one rotation interval: as many of its entries, paragraphs, steps or roster
  // rows (a note, a picture) as fit, in their order (kiosk.css stacks a page's entries in one column). The poll of
  // each interval is still made (the kiosk stays "online" for the admin, dibao.kiosks.status), but while parts are
  // left its answer is not swapped in and the next part shows instead: the slide is fetched again when its last
  // part has had its time. Hidden parts carry .k-later (not on screen: not reported as shown, dibao.display).
  var inParts = null; // { slide, groups: [[element, …], …], at: the part shown }
  var holding = false;

  function units(slide) {
    var entries = slide.querySelectorAll(".k-entries > .k-entry:not(.k-expired)");
    if (entries.length) return Array.prototype.slice.call(entries);
    return Array.prototype.slice.call(slide.querySelectorAll(
      ".k-info-body, .k-info-note, .k-steps > li, .k-roster tbody > tr, .k-announcement-picture"));
  }

  // Anything of the slide past its box, cut off by a box that clips, or wider than the screen.
  function overflows(slide) {
    if (document.documentElement.scrollWidth > window.innerWidth + 1) return true;
    var box = slide.getBoundingClientRect();
    var all = slide.querySelectorAll(":scope > *, .k-slide-head > *, .k-fallback-slot > *, .k-info > *, " +
      ".k-announcement > * > *, .k-entry, .k-entry-text, .k-entry-side, .k-steps, .k-roster");
    for (var i = 0; i < all.length; i++) {
      var el = all[i];
      if (!el.getClientRects().length) continue; // not displayed
      var r = el.getBoundingClientRect();
      if (r.top < box.top - 1 || r.bottom > box.bottom + 1 || r.left < box.left - 1 || r.right > box.right + 1) return true;
      if (getComputedStyle(el).overflowY !== "visible" && el.scrollHeight > el.clientHeight + 1) return true;
    }
    return false;
  }

  function partWords(part, count) {
    return (body.dataset.partWords || "1001 / 1002").replace("1001", String(part)).replace("1002", String(count));
  }

  function showPart(at) {
    inParts.at = at;
    inParts.groups.forEach(function (group, i) {
      group.forEach(function (el) { el.classList.toggle("k-later", i !== at); });
    });
    if (inParts.mark) inParts.mark.setAttribute("data-part", partWords(at + 1, inParts.groups.length));
    if (typeof shown !== "undefined") shown.restart(); // other entries on screen now
  }

  // Split the slide on screen into parts for the text size (none at 标准); keeps the part shown if it can.
  function fit() {
    var slide = document.getElementById("k-slide");
    var at = inParts && inParts.slide === slide ? inParts.at : 0;
    var had = inParts !== null;
    inParts = null;
    document.querySelectorAll("#k-slide .k-later").forEach(function (el) { el.classList.remove("k-later"); });
    document.querySelectorAll("#k-slide [data-part]").forEach(function (el) { el.removeAttribute("data-part"); });
    if (!slide || textSize === "standard") {
      if (had && typeof shown !== "undefined") shown.restart();
      return;
    }
    var list = units(slide);
    if (list.length < 2) return;
    // The part's words follow the page number (kiosk.css; its text is recount's): on screen, with the widest
    // numbers, while the parts are measured.
    var mark = slide.querySelector(".k-slide-head:not([hidden]) .k-page, :scope > .k-page");
    if (mark) mark.setAttribute("data-part", partWords(list.length, list.length));
    // As many as fit in each part, in their order (at least one).
    var groups = [], group = [];
    list.forEach(function (el) { el.classList.add("k-later"); });
    list.forEach(function (el) {
      el.classList.remove("k-later");
      if (group.length && overflows(slide)) {
        group.forEach(function (done) { done.classList.add("k-later"); });
        groups.push(group);
        group = [];
      }
      group.push(el);
    });
    groups.push(group);
    list.forEach(function (el) { el.classList.remove("k-later"); });
    if (groups.length < 2) {
      if (mark) mark.removeAttribute("data-part");
      return;
    }
    inParts = { slide: slide, groups: groups, at: 0, mark: mark };
    showPart(Math.min(at, groups.length - 1));
  }

  // Each poll of the slide: its next part, if it has one, and its answer waits (the htmx:beforeSwap above).
  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (!isSlideEvent(evt)) return;
    var slide = document.getElementById("k-slide");
    holding = !!inParts && inParts.slide === slide && inParts.at < inParts.groups.length - 1;
    if (holding) showPart(inParts.at + 1);
  });

  // The fonts arriving, the offline mark taking a row, the screen turned: measure again.
  if (document.fonts) document.fonts.addEventListener("loadingdone", function () { if (textSize !== "standard") fit(); });
  if (window.ResizeObserver && document.getElementById("k-main")) {
    new ResizeObserver(function () { if (textSize !== "standard") fit(); }).observe(document.getElementById("k-main"));
  }

  // --- service worker: keeps the shell, assets and slides for a reload while offline ----------------------
  function registerWorker() {
    if (!("serviceWorker" in navigator) || !body.dataset.sw) return;
    navigator.serviceWorker.register(body.dataset.sw, { scope: body.dataset.scope }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      var assets = [];
      try { assets = JSON.parse(body.dataset.assets || "[]"); } catch (e) { /* ignore */ }
      var slide = document.getElementById("k-slide");
      var urls = assets.concat([location.pathname + location.search]);
      if (slide && slide.getAttribute("hx-get")) urls.push(slide.getAttribute("hx-get"));
      document.querySelectorAll("#k-slide img").forEach(function (img) { urls.push(img.getAttribute("src")); });
      if (reg.active) {
        reg.active.postMessage({ type: "precache", urls: urls });
        reg.active.postMessage({ type: "prune", token: token, now: Math.round(now()) });
      }
    }).catch(function () { /* no worker: the page still keeps its content while it stays open */ });
  }

  // --- proof of display: which entries were on screen, and when (dibao.display) ------------------------------
  // The entries on screen now form a segment; it is closed when the slide changes, an entry is opened large or
  // closes, the page is hidden, and every minute. Closed segments wait in localStorage until the server has
  // them (also across an outage and a reload), then go in one POST with a key, so a resent report counts once.
  var shown = (function () {
    var QUEUE = STORE + ":shown";
    var MAX = 4000;
    var segment = null;

    function queue() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
    function keep(items) { try { localStorage.setItem(QUEUE, JSON.stringify(items.slice(-MAX))); } catch (e) { /* full */ } }

    function visibleEntries() {
      if (document.visibilityState === "hidden") return [];
      var open = document.querySelector("#k-detail-body .k-entry:not(.k-expired)");
      var scope = detail && !detail.hidden ? (open ? [open] : []) :
        Array.prototype.slice.call(document.querySelectorAll("#k-slide .k-entry:not(.k-expired):not(.k-later)"));
      return scope.map(function (el) { return el.dataset.entry; }).filter(Boolean);
    }

    function cycle() {
      var slide = document.getElementById("k-slide");
      var total = slide ? Number(slide.dataset.total) || 1 : 1;
      return total * (Number(body.dataset.rotation) || 20);
    }

    function close() {
      if (!segment) return;
      var to = now();
      if (to - segment.from >= 1000) {
        var items = queue();
        segment.entries.forEach(function (entry) {
          var last = null;
          for (var i = items.length - 1; i >= 0 && i >= items.length - 40; i--) {
            if (items[i].entry === entry) { last = items[i]; break; }
          }
          if (last && segment.from - last.to <= 2000) last.to = to; // the same slide, still on screen
          else items.push({ entry: entry, from: Math.round(segment.from), to: Math.round(to), cycle: cycle() });
        });
        keep(items);
      }
      segment = null;
    }

    function restart() {
      close();
      var entries = visibleEntries();
      if (entries.length) segment = { entries: entries, from: now() };
    }

    var sending = false;
    function flush() {
      restart();
      var items = queue();
      if (!items.length || sending || !body.dataset.report || !window.fetch) return;
      sending = true;
      var key = Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
      fetch(body.dataset.report, {
        method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit", keepalive: true,
        body: JSON.stringify({ key: key, shown: items.slice(0, 500) })
      }).then(function (res) {
        if (res.ok || res.status === 400) keep(queue().slice(Math.min(items.length, 500)));
      }).catch(function () { /* offline: kept for the next minute */ }).then(function () { sending = false; });
    }

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") flush(); else restart();
    });
    setInterval(flush, 60 * 1000);
    return { restart: restart, flush: flush };
  })();
  window.dibaoKioskShown = shown; // for the browser tests

  learnSlide(document.getElementById("k-slide"));
  tick();
  fit(); // 标准: also takes off the marks of parts a slide restored from localStorage may carry
  shown.restart();
  setInterval(tick, 1000);
  setInterval(function () { forget(now()); }, 60 * 1000); // the worker has no clock of its own to wake it
  if (document.readyState === "complete") registerWorker();
  else window.addEventListener("load", registerWorker);
})();
