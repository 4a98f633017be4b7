// The kiosk's service worker, served as /kiosk/sw.js (scope /kiosk/). It keeps what a kiosk needs to show
// its last content when the network or the server is gone, even across a full reload:
// - /kiosk/<token> (the shell) and /kiosk/<token>/slide/<n>: network first; a good answer is kept; on a
//   network error or a 5xx the kept copy is answered, marked "X-Kiosk-Offline: 1" (the page shows its
//   offline mark); an answer "not registered" (404) forgets everything kept for that token;
// - /static/… (CSS, JS, fonts): the kept copy at once, refreshed in the background.
// The page asks for its shell and assets to be kept as soon as the worker is ready ("precache").
"use strict";

var CACHE = "dibao-kiosk-v1";

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
});

function sameOrigin(url) {
  try { return new URL(url, self.location.href).origin === self.location.origin; } catch (e) { return false; }
}

function precache(urls) {
  return caches.open(CACHE).then(function (cache) {
    return Promise.all(urls.filter(sameOrigin).map(function (url) {
      return cache.match(url).then(function (hit) {
        if (hit && url.indexOf("/static/") !== -1) return null; // assets: kept copy is refreshed on use
        return fetch(url, { credentials: "same-origin" }).then(function (res) {
          if (res.ok) return cache.put(url, res);
          return null;
        }).catch(function () { return null; });
      });
    }));
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
  return caches.open(CACHE).then(function (cache) {
    function fallback(original) {
      return cache.match(key, { ignoreVary: true }).then(function (hit) {
        if (hit) return offlineCopy(hit);
        if (original) return original;
        return Response.error();
      });
    }
    return fetch(request).then(function (res) {
      if (res.status === 404 && res.headers.get("X-Kiosk-Status") === "not-registered") {
        return forgetToken(cache, token).then(function () { return res; });
      }
      if (res.ok) {
        var copy = res.clone();
        return cache.put(key, copy).then(function () { return res; }, function () { return res; });
      }
      if (res.status >= 500) return fallback(res);
      return res;
    }, function () { return fallback(null); });
  });
}

function staleWhileRevalidate(event) {
  var request = event.request;
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request, { ignoreVary: true }).then(function (hit) {
      var refresh = fetch(request).then(function (res) {
        if (res.ok) return cache.put(request, res.clone()).then(function () { return res; });
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
