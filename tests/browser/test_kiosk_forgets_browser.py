"""In Chromium: a kiosk forgets a closed notice — its slide text and its photo leave the service worker's Cache
Storage and the page's localStorage once the notice closes, with the server up and with the server down past
the closing time (also across a reload while offline), while an open notice is still shown offline; the browser's
own HTTP cache never held them. Online, a photo answered 410 (withdrawn) takes its entry out of every kept copy,
and a rotation grown shorter drops the kept slides past its end."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from dibao import media, notices
from dibao.models import User
from dibao.models.kiosk import Kiosk
from tests.browser.test_kiosk_browser import NAMES, WAIT, _until, server  # noqa: F401 - server is a fixture
from tests.conftest import T0
from tests.kiosk_helpers import publish, register

pytestmark = pytest.mark.browser

CLOSING = "早到期"  # closes at T0 + 1 h
OPEN = "晚到期"  # closes at T0 + 7 days

# Every kept answer of the worker's cache as [path, text] (images as ""), and the kiosk's localStorage.
_CACHED = """(async () => {
  const cache = await caches.open('dibao-kiosk-v1');
  const out = [];
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    if (!res) continue;  // dropped meanwhile
    const type = res.headers.get('Content-Type') || '';
    out.push([new URL(req.url).pathname, type.startsWith('image/') ? '' : await res.text()]);
  }
  return out;
})()"""
_STORED = "JSON.stringify(Object.entries(localStorage).filter(([k]) => k.startsWith('kiosk:')))"

# Which of the given paths the browser's own HTTP cache would answer ("only-if-cached" never goes to the network),
# asked from a page the kiosk's worker does not control. The kiosk's answers are no-store: none, ever.
_HTTP_CACHED = """async (paths) => {
  const found = [];
  for (const path of paths) {
    try {
      const res = await fetch(path, { cache: 'only-if-cached', mode: 'same-origin' });
      found.push([path, res.status]);
    } catch (e) { /* not in the HTTP cache */ }
  }
  return found;
}"""


def outside(page, server):  # noqa: F811
    """A page of the kiosk's origin outside the worker's scope (/kiosk/): its requests go to the HTTP cache."""
    other = page.context.new_page()
    other.goto(f"{server.url}/static/favicon.ico")
    return other


def http_cached(other, paths) -> list:
    return other.evaluate(_HTTP_CACHED, paths)


def _photo(app) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (60, 80), (100, 120, 140)).save(buf, "JPEG")
    return media.store_image(buf.getvalue(), app.config["MEDIA_DIR"]).key


def _setup(session, world, clock, live_app, page, server):  # noqa: F811
    key = _photo(live_app)
    region = world.regions["comm_a1"]
    clock.set(T0 - timedelta(days=7) + timedelta(hours=1))
    closing = publish(session, region, [CLOSING], title="上一批", photo_key=key, photo_consent=True)
    clock.set(T0)
    publish(session, region, [OPEN], title="这一批", photo_key=key, photo_consent=True)
    kiosk = register(session, region, rotation_seconds=600)
    session.get(Kiosk, kiosk.id).rotation_seconds = 2  # shorter than the admin allows: the slide is re-polled
    session.commit()
    closing_id = closing.entries[0].public_id

    page.clock.install(time=T0)
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    assert page.locator("#k-slide .k-entry .k-name").all_inner_texts() == [CLOSING, OPEN]
    # the worker keeps the shell, the slide and both photos; localStorage the last slide (after a poll)
    _until(page, f"""{_CACHED}.then(items => items.some(([p]) => p.endsWith('/photo/{closing_id}'))
                       && items.filter(([p, t]) => t.includes('{CLOSING}')).length >= 2)""")
    _until(page, f"{_STORED}.includes('{CLOSING}')")
    return kiosk, closing_id


def _forgotten(page, closing_id) -> str:
    """A JS condition: nothing of the closed notice is kept anywhere, the open one still is."""
    return f"""(async () => {{
      const items = await {_CACHED};
      const stored = {_STORED};
      return !items.some(([p, t]) => t.includes('{CLOSING}') || t.includes('{closing_id}'))
        && !stored.includes('{CLOSING}')
        && items.some(([p, t]) => p.includes('/photo/'))
        && items.filter(([p, t]) => t.includes('{OPEN}')).length >= 2;
    }})()"""


def test_a_closed_notice_leaves_the_kiosks_storage_with_the_server_up(page, server, session, world, clock,  # noqa: F811
                                                                      live_app):
    kiosk, closing_id = _setup(session, world, clock, live_app, page, server)

    clock.set(T0 + timedelta(hours=1, minutes=1))
    page.clock.fast_forward("01:01:00")
    _until(page, _forgotten(page, closing_id))
    assert page.locator("#k-slide .k-entry .k-name").all_inner_texts() == [OPEN]
    assert page.locator(f"[data-entry='{closing_id}']").count() == 0  # out of the page, not only hidden
    expect(page.locator("#k-offline")).to_be_hidden()


def test_a_closed_notice_leaves_the_kiosks_storage_while_the_server_is_down(page, server, session, world,  # noqa: F811
                                                                           clock, live_app):
    kiosk, closing_id = _setup(session, world, clock, live_app, page, server)
    base = f"/kiosk/{kiosk.token}"
    paths = [base, f"{base}/slide/0", *page.locator("#k-slide img").evaluate_all("els => els.map(e => e.src)")]
    other = outside(page, server)

    server.stop()
    page.clock.fast_forward("01:01:00")  # past the closing the slide carried, with no server to ask
    _until(page, _forgotten(page, closing_id))
    assert http_cached(other, paths) == []  # nor in the browser's own cache (no-store: it never was)

    page.reload()  # a full reload while offline: the shell and the slide come from the worker
    expect(page.locator("#k-offline")).to_be_visible(timeout=WAIT)
    expect(page.locator("#k-slide .k-entry .k-name")).to_have_text([OPEN], timeout=WAIT)  # open: still shown
    assert page.locator(f"[data-entry='{closing_id}']").count() == 0
    assert page.evaluate(_forgotten(page, closing_id))


# --- the worker's other ways of forgetting (static/kiosk-sw.js), online ------------------------------------------

WITHDRAWN = "撤回户"


def _withdraw(session, world, entry):
    notices.withdraw_entry(session, session.get(User, world.users["town_a"]), entry, "材料有误重新公示")
    session.commit()


def test_a_photo_answered_410_takes_its_entry_out_of_every_kept_copy(page, server, session, world,  # noqa: F811
                                                                     live_app):
    key = _photo(live_app)
    batch = publish(session, world.regions["comm_a1"], [WITHDRAWN, OPEN], photo_key=key, photo_consent=True)
    entry = min(batch.entries, key=lambda e: e.position)
    kiosk = register(session, world.regions["comm_a1"], rotation_seconds=600)  # no poll during the test
    base = f"/kiosk/{kiosk.token}"
    page.goto(server.url + base)
    _until(page, f"""{_CACHED}.then(items => items.filter(([p]) => p.includes('/photo/')).length === 2
                       && items.filter(([p, t]) => t.includes('{WITHDRAWN}')).length >= 2)""")

    _withdraw(session, world, entry)
    mark = len(server.log)
    # whatever asks for the photo next (an <img> of a kept slide, the precache) hears 410 ...
    assert page.evaluate(f"fetch('{base}/photo/{entry.public_id}').then(r => r.status)") == 410
    # ... and the worker drops the photo and cuts the entry out of the kept shell and slide, with no poll
    _until(page, f"""{_CACHED}.then(items => !items.some(([p, t]) => p.endsWith('/photo/{entry.public_id}')
                                                         || t.includes('{WITHDRAWN}') || t.includes('{entry.public_id}'))
                       && items.some(([p]) => p.includes('/photo/'))
                       && items.filter(([p, t]) => t.includes('{OPEN}')).length >= 2)""")
    assert not [path for path, _ in server.log[mark:] if "/photo/" not in path], server.log[mark:]  # no poll


def test_a_shorter_rotation_drops_the_kept_slides_past_its_end(page, server, session, world):  # noqa: F811
    batch = publish(session, world.regions["comm_a1"], NAMES[:5])  # two to a slide (kiosks.PAGE_SIZE): three slides
    kiosk = register(session, world.regions["comm_a1"], rotation_seconds=600)
    session.get(Kiosk, kiosk.id).rotation_seconds = 1  # shorter than the admin allows: quick rounds
    session.commit()
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    kept = f"""{_CACHED}.then(items => items.map(([p]) => p).filter(p => p.includes('/slide/'))
                 .map(p => p.slice(p.lastIndexOf('/') + 1)).sort().join(','))"""
    _until(page, f"{kept}.then(slides => slides === '0,1,2')")  # a whole round kept

    _withdraw(session, world, min(batch.entries, key=lambda e: e.position))  # four left: two slides
    expect(page.locator("#k-slide")).to_have_attribute("data-total", "2", timeout=WAIT)
    _until(page, f"{kept}.then(slides => slides === '0,1')")  # slide 2 went, although its entry is open
