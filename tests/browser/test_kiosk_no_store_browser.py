"""In Chromium: the browser's own HTTP cache keeps nothing of a household shown on a kiosk — the shell, the slides
and the photos are ``no-store`` — so what the service worker forgets is gone from the device; the worker keeps its
copies in Cache Storage and revalidates them itself (If-None-Match), so an unchanged slide is still answered 304.
A withdrawn household leaves every copy when slide 0 comes back without it (the kept shell's slide is replaced)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dibao import notices
from dibao.models import User
from dibao.models.kiosk import Kiosk
from tests.browser.test_kiosk_browser import WAIT, _until, server  # noqa: F401 - server is a fixture
from tests.browser.test_kiosk_forgets_browser import _CACHED, _STORED, _photo, http_cached, outside
from tests.kiosk_helpers import publish, register

pytestmark = pytest.mark.browser

WITHDRAWN = "撤回户"
STAYS = "留下户"
NEW = "新来户"


def _served(page, server, condition):  # noqa: F811
    """Wait (in short steps, the page running) until the server's log satisfies ``condition``."""
    for _ in range(WAIT // 200):
        if condition(server.log):
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"timed out; the server saw {server.log}")


def _kiosk(session, world, rotation_seconds):
    kiosk = register(session, world.regions["comm_a1"], rotation_seconds=600)
    session.get(Kiosk, kiosk.id).rotation_seconds = rotation_seconds  # shorter than the admin allows
    session.commit()
    return kiosk


def test_a_withdrawn_household_is_kept_nowhere_in_the_browser(page, server, session, world, live_app):  # noqa: F811
    key = _photo(live_app)
    batch = publish(session, world.regions["comm_a1"], [WITHDRAWN, STAYS], photo_key=key, photo_consent=True)
    gone, stays = (e.public_id for e in sorted(batch.entries, key=lambda e: e.position))
    kiosk = _kiosk(session, world, rotation_seconds=1)
    base = f"/kiosk/{kiosk.token}"
    paths = [base, f"{base}/slide/0", f"{base}/photo/{gone}", f"{base}/photo/{stays}"]

    page.goto(server.url + base)
    expect(page.locator("#k-slide .k-entry .k-name")).to_have_text([WITHDRAWN, STAYS])
    # the worker keeps the shell, slide 0 (with the household) and both photos
    _until(page, f"""{_CACHED}.then(items => ['/photo/{gone}', '/photo/{stays}', '/slide/0', '{base}']
                       .every(p => items.some(([path, text]) => path.endsWith(p)
                                              && (p.includes('/photo/') || text.includes('{WITHDRAWN}')))))""")
    _served(page, server, lambda log: (f"{base}/slide/0", 304) in log)  # a poll revalidated by the worker
    _until(page, f"{_STORED}.includes('{WITHDRAWN}')")  # and the page its last slide
    # the first load (before the worker) and the worker's own fetches: none of them in the HTTP cache
    other = outside(page, server)
    assert http_cached(other, paths) == []

    entry = next(e for e in batch.entries if e.public_id == gone)
    notices.withdraw_entry(session, session.get(User, world.users["town_a"]), entry, "材料有误重新公示")
    session.commit()
    publish(session, world.regions["comm_a1"], [NEW], title="第二批")

    # slide 0 comes back without it: the kept slide, the kept shell's slide and localStorage follow, and the
    # photo no kept copy shows any more is dropped
    expect(page.locator("#k-slide .k-entry .k-name")).to_have_text([STAYS, NEW], timeout=WAIT)
    _until(page, f"""(async () => {{
      const items = await {_CACHED};
      const shell = items.find(([p]) => p === '{base}');
      return shell && shell[1].includes('{NEW}') && shell[1].includes('{STAYS}')
        && !items.some(([p, t]) => p.endsWith('/photo/{gone}') || t.includes('{WITHDRAWN}') || t.includes('{gone}'))
        && items.some(([p]) => p.endsWith('/photo/{stays}'))
        && !{_STORED}.includes('{WITHDRAWN}');
    }})()""")

    server.stop()
    # nothing left to answer it, whatever the page asks: not the worker, not the browser's cache
    asked = page.evaluate("""async (paths) => {
      const out = {};
      for (const path of paths) {
        try {
          const res = await fetch(path, { cache: 'force-cache' });
          out[path] = res.headers.get('Content-Type').startsWith('image/') ? 'image' : await res.text();
        } catch (e) { out[path] = null; }
      }
      return out;
    }""", paths)
    assert asked[f"{base}/photo/{gone}"] is None
    assert asked[f"{base}/photo/{stays}"] == "image"  # still open: still shown offline
    assert all(WITHDRAWN not in text and STAYS in text for text in (asked[base], asked[f"{base}/slide/0"]))
    assert http_cached(other, paths) == []


def test_an_unchanged_slide_is_still_answered_304(page, server, session, world, live_app):  # noqa: F811
    key = _photo(live_app)
    publish(session, world.regions["comm_a1"], [STAYS], photo_key=key, photo_consent=True)
    kiosk = _kiosk(session, world, rotation_seconds=1)
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    _until(page, "navigator.serviceWorker.controller !== null")
    _until(page, f"""{_CACHED}.then(items => items.some(([p]) => p.endsWith('/slide/0'))
                                         && items.some(([p]) => p.includes('/photo/')))""")

    mark = len(server.log)
    _served(page, server, lambda log: len([p for p, _ in log[mark:] if "/slide/" in p]) >= 4)
    polls = server.log[mark:]
    slides = [status for path, status in polls if "/slide/" in path]
    assert len(slides) >= 4 and set(slides) == {304}, polls  # revalidated by the worker, nothing rendered
    assert {status for path, status in polls if "/photo/" in path} <= {304}, polls
    expect(page.locator("#k-slide .k-entry .k-name")).to_have_text([STAYS])
    expect(page.locator("#k-offline")).to_be_hidden()
