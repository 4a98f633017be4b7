// The kiosk's service worker, served as /kiosk/sw.js (scope /kiosk/). It keeps what a kiosk needs to show
// its last content when the network or the server is gone, even across a full reload:
// - /kiosk/<token> (the shell) and /kiosk/<token>/slide/<n>: network first; a good answer is kept; on a
//   network error or a 5xx the kept copy is answered, marked "X-Kiosk-Offline: 1" (the page shows its
//   offline mark); an answer "not registered" (404) forgets everything kept for that token;
// - /static/… (CSS, JS, fonts): the kept copy at once, refreshed in the background; scripts and stylesheets are
//   named with their content's hash (?v=), so a deploy's new version is fetched, and replaces the old one kept.
// The page asks for its shell and assets to be kept as soon as the worker is ready ("precache").
//
// A closed notice is forgotten, not only hidden: nothing of a household stays in this cache past the closing
// of its notice. Every kept shell and slide carries its entries' closing instants (data-closes-at), every kept
// photo its own (X-Kiosk-Closes): when the clock passes one — the server's (X-Server-Time) or the page's
// ("prune" messages; if in doubt, the later) — the entry is cut out of every kept copy and its photo dropped,
// before anything kept is answered and while the page runs. Online, a photo answered 410 drops the entry at
// once, a slide saying the rotation is shorter drops the kept slides past its end, slide 0 replaces the slide
// of the kept shells, and a photo of an entry no kept copy shows any more is dropped.
//
// These copies are the only ones: the server sends the shell, the slides and the photos "no-store", so the
// browser's HTTP cache keeps none of them (it could not be made to forget). The revalidation it used to do is
// done here: a kept slide or photo keeps its ETag, the worker sends it as If-None-Match, and a 304 (nothing
// rendered on the server) is answered with the kept copy as a 200, with the 304's fresh headers (X-Server-Time).
// A kept copy rewritten here (an entry cut out) is no longer what its ETag named: it loses the ETag, and the
// next request for it is answered in full.
"use strict";

var CACHE = "dibao-kiosk-v1";
var CLOCK_KEY = "/kiosk/sw.js?clock"; // the learnt clock offset, kept across restarts of the worker

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf("dibao-kiosk-") === 0 && k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "precache" && Array.isArray(data.urls)) event.waitUntil(precache(data.urls));
  if (data.type === "prune" && typeof data.token === "string") {
    event.waitUntil(learn(Number(data.now)).then(function () { return forgetClosed(data.token, {}); }));
  }
});

// --- the clock: the device's, corrected by what the server or the page said (the later wins) ----------------
var offset = null;

// The server's time (authoritative) sets the offset; the page's (its clock corrected by the server's) only
// moves it later: if in doubt the worker believes it is later and forgets a closing notice early, not late.
function learn(t, authoritative) {
  if (!t || isNaN(t)) return Promise.resolve();
  var o = t - Date.now();
  return loadOffset().then(function () {
    if (offset !== null && (authoritative ? Math.abs(o - offset) < 1000 : o <= offset)) return null;
    offset = o;
    return caches.open(CACHE).then(function (cache) { return cache.put(CLOCK_KEY, new Response(String(o))); });
  }).catch(function () { return null; });
}

function loadOffset() {
  if (offset !== null) return Promise.resolve(offset);  // once loaded, this worker's own value is the newest
  return caches.open(CACHE).then(function (cache) { return cache.match(CLOCK_KEY); }).then(function (hit) {
    return hit ? hit.text() : null;
  }).then(function (text) {
    var o = text === null ? NaN : Number(text);
    if (!isNaN(o) && (offset === null || o > offset)) offset = o;
    return offset;
  });
}

function clockNow() {
  return loadOffset().then(function () { return Date.now() + (offset || 0); });
}

// --- forgetting closed notices -------------------------------------------------------------------------------
// Cache writes go one after the other, so that a pruned old copy never overwrites a fresh one.
var queue = Promise.resolve();
function serial(work) {
  var run = queue.then(work, work);
  queue = run.catch(function () { return null; });
  return run;
}

var ENTRY = /<article class="k-entry"[^>]*?data-entry="([^"]*)"[^>]*?data-closes-at="([^"]*)"[\s\S]*?<\/article>/g;
var SHELL_SLIDE = /(<main class="k-main" id="k-main">)[\s\S]*?(<\/main>)/;

function kind(pathname) {
  if (/^\/kiosk\/[^/]+\/photo\/[^/]+$/.test(pathname)) return "photo";
  if (/^\/kiosk\/[^/]+\/slide\/\d+$/.test(pathname)) return "slide";
  if (/^\/kiosk\/[^/]+$/.test(pathname)) return "shell";
  return null;
}

function lastSegment(pathname) { return decodeURIComponent(pathname.slice(pathname.lastIndexOf("/") + 1)); }

// Cut the closed entries (closing at or before t, or named in gone) out of a kept shell or slide.
function cut(html, t, gone) {
  return html.replace(ENTRY, function (article, id, closes) {
    var at = Date.parse(closes);
    return (isNaN(at) || at <= t || gone.indexOf(id) !== -1) ? "" : article;
  });
}

function rewrite(cache, request, hit, html) {
  var headers = new Headers(hit.headers);
  headers.delete("Content-Length");
  headers.delete("ETag"); // no longer what the server sent under it: the next request asks for it in full
  return cache.put(request, new Response(html, { status: hit.status, statusText: hit.statusText, headers: headers }));
}

// what: { gone: [entry ids answered 410], total: the rotation's length now, slide0: fresh slide 0 markup }
function forgetClosed(token, what) {
  return serial(function () {
    return Promise.all([caches.open(CACHE), clockNow()]).then(function (got) {
      var cache = got[0], t = got[1], gone = what.gone || [];
      return cache.keys().then(function (requests) {
        var mine = requests.filter(function (req) { return kioskToken(new URL(req.url).pathname) === token; });
        var shown = {};
        var photos = [];
        return Promise.all(mine.map(function (req) {
          var path = new URL(req.url).pathname;
          var k = kind(path);
          if (k === "photo") { photos.push(req); return null; }
          if (!k) return null;
          if (k === "slide" && what.total && Number(lastSegment(path)) >= what.total) return cache.delete(req);
          return cache.match(req).then(function (hit) {
            if (!hit) return null;
            return hit.clone().text().then(function (html) {
              var fresh = html;
              if (k === "shell" && what.slide0) fresh = fresh.replace(SHELL_SLIDE, function (m, open, close) {
                return open + what.slide0 + close;
              });
              fresh = cut(fresh, t, gone);
              fresh.replace(ENTRY, function (article, id) { shown[id] = true; return article; });
              return fresh === html ? null : rewrite(cache, req, hit, fresh);
            });
          });
        })).then(function () {
          return Promise.all(photos.map(function (req) {
            var id = lastSegment(new URL(req.url).pathname);
            return cache.match(req).then(function (hit) {
              var closes = hit ? Date.parse(hit.headers.get("X-Kiosk-Closes") || "") : NaN;
              if (hit && shown[id] && !(closes <= t) && gone.indexOf(id) === -1) return null;
              return cache.delete(req);
            });
          }));
        });
      });
    });
  });
}

function sameOrigin(url) {
  try { return new URL(url, self.location.href).origin === self.location.origin; } catch (e) { return false; }
}

function precache(urls) {
  return caches.open(CACHE).then(function (cache) {
    return Promise.all(urls.filter(sameOrigin).map(function (url) {
      url = new URL(url, self.location.href).href;
      return cache.match(url).then(function (hit) {
        if (hit && url.indexOf("/static/") !== -1) return null; // assets: kept copy is refreshed on use
        return revalidate(cache, url).then(function (got) {
          if (got.res.ok && !got.unchanged) {
            return serial(function () {
              return cache.put(url, got.res).then(function () { return dropOtherVersions(cache, url); });
            });
          }
          return null;
        }).catch(function () { return null; });
      });
    }));
  });
}

// --- revalidation (the answers are no-store: the browser's HTTP cache does none) --------------------------------
var NOT_UPDATED = /^(content-length|content-type|content-encoding|transfer-encoding|connection)$/i;

// The kept copy's body and headers, updated by those of the 304 that confirmed it (as an HTTP cache does).
function confirmed(kept, notModified) {
  var headers = new Headers(kept.headers);
  notModified.headers.forEach(function (value, name) { if (!NOT_UPDATED.test(name)) headers.set(name, value); });
  return new Response(kept.body, { status: kept.status, statusText: kept.statusText, headers: headers });
}

// Fetch a request (or a URL), with If-None-Match when a kept copy has an ETag. Resolves to { res }: the
// network's answer, or on a 304 the kept copy (confirmed) with unchanged: true. A kept copy that changed or
// went meanwhile is asked for again in full.
function revalidate(cache, request) {
  var url = typeof request === "string" ? request : request.url;
  function plain() { return fetch(request).then(function (res) { return { res: res }; }); }
  if (typeof request !== "string" && request.mode === "navigate") return plain(); // the shell: no ETag
  return cache.match(url, { ignoreVary: true }).then(function (hit) {
    var etag = hit && hit.headers.get("ETag");
    if (!etag) return plain();
    var headers = new Headers(typeof request === "string" ? undefined : request.headers);
    headers.set("If-None-Match", etag);
    // mode same-origin: an <img>'s own request (no-cors) could not carry If-None-Match
    return fetch(url, { headers: headers, mode: "same-origin", credentials: "same-origin", cache: "no-store" })
      .then(function (res) {
        if (res.status !== 304) return { res: res };
        return cache.match(url, { ignoreVary: true }).then(function (kept) {
          if (!kept || kept.headers.get("ETag") !== etag) return plain();
          return { res: confirmed(kept, res), unchanged: true };
        });
      });
  });
}

function kioskToken(pathname) {
  var m = /^\/kiosk\/([A-Za-z0-9_-]+)(\/|$)/.exec(pathname);
  return m && m[1] !== "sw.js" ? m[1] : null;
}

function forgetToken(cache, token) {
  return cache.keys().then(function (requests) {
    return Promise.all(requests.filter(function (req) {
      return kioskToken(new URL(req.url).pathname) === token;
    }).map(function (req) { return cache.delete(req); }));
  });
}

function offlineCopy(hit) {
  var headers = new Headers(hit.headers);
  headers.set("X-Kiosk-Offline", "1");
  return hit.blob().then(function (blob) {
    return new Response(blob, { status: 200, statusText: "OK", headers: headers });
  });
}

function networkFirst(request, token) {
  var key = request.url;
  var path = new URL(key).pathname;
  var k = kind(path);
  return caches.open(CACHE).then(function (cache) {
    function fallback(original) {
      // Offline: first forget what closed meanwhile (by the clock last learnt), then answer what is left.
      return forgetClosed(token, {}).catch(function () { return null; }).then(function () {
        return cache.match(key, { ignoreVary: true });
      }).then(function (hit) {
        if (hit) return offlineCopy(hit);
        if (original) return original;
        return Response.error();
      });
    }
    return revalidate(cache, request).then(function (got) {
      var res = got.res;
      if (res.status === 404 && res.headers.get("X-Kiosk-Status") === "not-registered") {
        return forgetToken(cache, token).then(function () { return res; });
      }
      var server = Number(res.headers.get("X-Server-Time"));
      var learnt = server ? learn(server, true) : Promise.resolve();
      if (got.unchanged) return learnt.then(function () { return res; }); // the kept copy, as it is
      if (res.ok) {
        var copy = res.clone();
        if (k !== "slide" && k !== "shell") {
          return serial(function () { return cache.put(key, copy); }).then(function () { return res; }, function () { return res; });
        }
        return copy.clone().text().then(function (html) {
          var total = /data-total="(\d+)"/.exec(html);
          var what = { total: total ? Number(total[1]) : 0 };
          if (k === "slide" && lastSegment(path) === "0") {
            var section = /<section class="k-slide[\s\S]*<\/section>/.exec(html);
            if (section) what.slide0 = section[0];
          }
          return learnt.then(function () {
            return serial(function () { return cache.put(key, copy); });
          }).then(function () { return forgetClosed(token, what); });
        }).then(function () { return res; }, function () { return res; });
      }
      if (res.status === 404 || res.status === 410) {
        // A photo no longer shown (410: its notice closed or was withdrawn) or a page that is gone: forget it.
        var gone = res.status === 410 && k === "photo" ? [lastSegment(path)] : [];
        return serial(function () { return cache.delete(key); }).then(function () {
          return gone.length ? forgetClosed(token, { gone: gone }) : null;
        }).then(function () { return res; }, function () { return res; });
      }
      if (res.status >= 500) return fallback(res);
      return res;
    }, function () { return fallback(null); });
  });
}

// A script or stylesheet is named with its content's hash (?v=, dibao.web.static_fingerprint): a new version
// replaces the older ones kept, so each deploy leaves one copy of each file here.
function dropOtherVersions(cache, href) {
  var url = new URL(href);
  if (url.pathname.indexOf("/static/") !== 0 || !url.searchParams.has("v")) return Promise.resolve();
  return cache.keys().then(function (requests) {
    return Promise.all(requests.filter(function (kept) {
      var other = new URL(kept.url);
      return other.pathname === url.pathname && other.search !== url.search;
    }).map(function (kept) { return cache.delete(kept); }));
  });
}

function staleWhileRevalidate(event) {
  var request = event.request;
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request, { ignoreVary: true }).then(function (hit) {
      var refresh = fetch(request).then(function (res) {
        if (res.ok) {
          return cache.put(request, res.clone()).then(function () { return dropOtherVersions(cache, request.url); })
            .then(function () { return res; });
        }
        return res;
      });
      if (hit) {
        event.waitUntil(refresh.catch(function () { return null; }));
        return hit;
      }
      return refresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET" || !sameOrigin(request.url)) return;
  var url = new URL(request.url);
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(staleWhileRevalidate(event));
    return;
  }
  var token = kioskToken(url.pathname);
  if (token) event.respondWith(networkFirst(request, token));
});
