"""In Chromium: a kiosk runs the scripts and stylesheets of the page it was served. Their URLs carry a hash of
their content (dibao.web.static_fingerprint), so after a deploy the kiosk's service worker, which answers static
files from its own copy first, fetches the new version instead of handing yesterday's script to today's page; and
the new copy replaces the older ones it kept."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.browser.test_kiosk_browser import _until, server  # noqa: F401 - server is a fixture
from tests.kiosk_helpers import publish, register

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]

# The worker's kept copies of one static path: [search, text].
_KEPT = """async (path) => {
  const cache = await caches.open('dibao-kiosk-v1');
  const out = [];
  for (const req of await cache.keys()) {
    const url = new URL(req.url);
    if (url.pathname !== path) continue;
    const res = await cache.match(req);
    out.push([url.search, res ? await res.text() : null]);
  }
  return out;
}"""

# Yesterday's kiosk.js, as an older deploy left it in the worker's cache.
_PLANT = """async ([path, search]) => {
  const cache = await caches.open('dibao-kiosk-v1');
  await cache.put(path + search, new Response('window.yesterday = true;',
                                              {headers: {'Content-Type': 'text/javascript'}}));
  for (const req of await cache.keys()) {  // today's copy not kept yet: as on the first load after a deploy
    const url = new URL(req.url);
    if (url.pathname === path && url.search !== search) await cache.delete(req);
  }
}"""


def _version(path: str) -> str:
    return hashlib.sha256((ROOT / "static" / path).read_bytes()).hexdigest()[:12]


def test_the_kiosk_fetches_a_new_script_and_keeps_one_copy(page, server, session, world, clock):  # noqa: F811
    region = world.regions["comm_a1"]
    publish(session, region, ["王秀兰"], title="第一批")
    kiosk = register(session, region)
    html = page.goto(f"{server.url}/kiosk/{kiosk.token}").text()
    today = f"?v={_version('js/kiosk.js')}"
    assert f'/static/js/kiosk.js{today}"' in html
    assert f"/static/css/kiosk.css?v={_version('css/kiosk.css')}" in html
    assert re.search(r"NotoSansSC-Regular-00\.woff2(?!\?)", html)  # fonts keep their names: the CSS asks for them
    _until(page, f"fetch('/static/js/kiosk.js{today}').then(() => true)")  # (through the worker, which keeps it)
    _until(page, f"({_KEPT})('/static/js/kiosk.js').then(kept => kept.some(([s]) => s === '{today}'))")

    # an older deploy's script is all the worker holds: the page does not get it, it gets today's
    page.evaluate(_PLANT, ["/static/js/kiosk.js", "?v=0123456789ab"])
    page.reload()
    page.locator("button[data-text-size='largest']").click()  # today's script handles today's control
    assert page.evaluate("document.documentElement.classList.contains('k-text-largest')")
    assert page.evaluate("window.yesterday === undefined")
    # and today's copy replaces yesterday's: one version kept
    _until(page, f"({_KEPT})('/static/js/kiosk.js').then(kept => kept.length === 1 && kept[0][0] === '{today}')")

