"""Issue 6 in Chromium: the kiosk rotates, survives a server stop and a reload while offline, hides an entry
whose window closed (browser clock moved, server gone), shows an entry large on a tap, and is readable in
both orientations (screenshots in test-artifacts/)."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from werkzeug.serving import WSGIRequestHandler, make_server

from dibao import kiosks, notices
from dibao.models import Level, Region
from dibao.models.kiosk import Kiosk
from tests.conftest import T0
from tests.factories import case_awaiting_notice

pytestmark = pytest.mark.browser

NAMES = ["张建国", "李秀英", "王淑珍", "赵桂兰", "钱德胜", "孙丽华", "周福林", "吴爱民", "郑晓红"]
WAIT = 15_000  # ms: generous for a loaded CI machine; every wait ends as soon as the page is there


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class KioskServer:
    """A live server that can be stopped and started again on the same port; it logs (path, status)."""

    def __init__(self, app):
        self.app = app
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log: list[tuple[str, int]] = []
        self._server = None

    def _wsgi(self, environ, start_response):
        def recording(status, headers, exc_info=None):
            self.log.append((environ.get("PATH_INFO", ""), int(status[:3])))
            # One request per connection: once the server is stopped, no kept-alive connection answers.
            return start_response(status, [*headers, ("Connection", "close")], exc_info)

        return self.app(environ, recording)

    def start(self):
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def statuses(self, fragment: str) -> list[int]:
        return [status for path, status in self.log if fragment in path]


@pytest.fixture
def server(live_app):
    srv = KioskServer(live_app)
    srv.start()
    yield srv
    try:
        srv.stop()
    except Exception:  # noqa: BLE001,S110 - already stopped by the test
        pass


def _publish(session, region, names, title="社区初审公示", window_days=7):
    cases = [case_awaiting_notice(session, region, Level.community, head_name=n) for n in names]
    notices.publish_batch(session, None, level=Level.community, region=region, cases=cases, title=title,
                          window_days=window_days)
    session.commit()


def _kiosk(session, region, rotation_seconds) -> Kiosk:
    kiosk = kiosks.register(session, None, name="活动室公示屏", region=region)
    kiosk.rotation_seconds = rotation_seconds  # shorter than the admin allows, to keep the test quick
    session.commit()
    return kiosk


def _names(page) -> list[str]:
    return page.locator("#k-slide .k-entry:visible .k-name").all_inner_texts()


def _wait_for_index(page, index: int):
    expect(page.locator("#k-slide")).to_have_attribute("data-index", str(index), timeout=WAIT)


def _until(page, expression: str, timeout_ms: int = WAIT):
    """Poll ``expression`` in the page (page.wait_for_function would need 'unsafe-eval', which CSP forbids)."""
    for _ in range(timeout_ms // 200):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"timed out waiting for {expression}")


def _wait_for_worker(page):
    _until(page, "navigator.serviceWorker.controller !== null")
    _until(page, """caches.open('dibao-kiosk-v1').then(c => c.keys()).then(keys => {
                      const urls = keys.map(r => new URL(r.url).pathname);
                      return urls.some(u => u.endsWith('.woff2')) && urls.some(u => u.endsWith('kiosk.css'))
                        && urls.some(u => u.startsWith('/kiosk/') && !u.includes('/slide/'));
                    })""")


def test_kiosk_rotates_and_keeps_its_content_while_the_server_is_down(page, server, session, world,
                                                                       screenshot_dir):
    region = session.get(Region, world.regions["comm_a1"])
    _publish(session, region, NAMES[:5])  # five entries: three pages of two (kiosks.PAGE_SIZE)
    kiosk = _kiosk(session, region, rotation_seconds=2)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server.url}/kiosk/{kiosk.token}")

    expect(page.locator("#k-slide")).to_have_attribute("data-index", "0")
    seen = {0: _names(page)}
    for index in (1, 2, 0, 1):
        _wait_for_index(page, index)
        seen.setdefault(index, _names(page))
    assert kiosks.PAGE_SIZE == 2 and seen == {0: NAMES[0:2], 1: NAMES[2:4], 2: NAMES[4:5]}
    # the second round was revalidated: the server answered 304 and the page still turned
    assert 304 in server.statuses("/slide/"), server.log
    expect(page.locator("#k-offline")).to_be_hidden()

    server.stop()
    expect(page.locator("#k-offline")).to_be_visible(timeout=WAIT)
    assert "网络中断" in page.locator("#k-offline").inner_text()
    for _ in range(3):  # several rotation intervals without a server: never blank
        page.wait_for_timeout(2_000)
        assert len(_names(page)) >= 1
        assert page.locator("#k-slide .k-entry:visible").count() >= 1
    page.screenshot(path=str(screenshot_dir / "kiosk-offline-1920x1080.png"))

    server.start()
    expect(page.locator("#k-offline")).to_be_hidden(timeout=WAIT)
    before = page.locator("#k-slide").get_attribute("data-index")
    _until(page, f"document.getElementById('k-slide').dataset.index !== '{before}'")
    assert len(_names(page)) >= 1


def test_a_reload_while_offline_shows_the_last_content(page, server, session, world):
    region = session.get(Region, world.regions["comm_a1"])
    _publish(session, region, NAMES)
    kiosk = _kiosk(session, region, rotation_seconds=3)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    _wait_for_worker(page)
    _wait_for_index(page, 1)  # the last content is now page 2, not the page the shell was served with
    assert _names(page) == NAMES[2:4]

    server.stop()
    page.reload()
    expect(page.locator("#k-slide")).to_have_attribute("data-index", "1", timeout=WAIT)
    assert _names(page) == NAMES[2:4]
    expect(page.locator("#k-offline")).to_be_visible(timeout=WAIT)
    # the shell, its CSS and its fonts came from the worker
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(0, 0, 0)"
    page.evaluate("document.fonts.ready")
    assert page.evaluate("[...document.fonts].some(f => f.family.includes('Kiosk') && f.status === 'loaded')")

    server.start()
    expect(page.locator("#k-offline")).to_be_hidden(timeout=WAIT)


def test_an_entry_disappears_offline_when_the_browser_clock_passes_its_closing(page, server, session, world,
                                                                               clock):
    region = session.get(Region, world.regions["comm_a1"])
    clock.set(T0 - timedelta(days=7) + timedelta(hours=1))
    _publish(session, region, ["早到期"], title="上一批")  # closes at T0 + 1 h
    clock.set(T0)
    _publish(session, region, ["晚到期"], title="这一批")  # closes at T0 + 7 days
    kiosk = _kiosk(session, region, rotation_seconds=20)

    page.clock.install(time=T0)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    assert _names(page) == ["早到期", "晚到期"]
    closes = page.locator(".k-entry").first.get_attribute("data-closes-at")
    assert closes == (T0 + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    server.stop()
    page.clock.fast_forward("59:00")  # one minute before the closing instant: still shown
    assert _names(page) == ["早到期", "晚到期"]
    page.clock.fast_forward("01:01")  # past it: the page hides the entry by itself, with no server
    expect(page.get_by_text("早到期")).to_be_hidden(timeout=WAIT)
    assert _names(page) == ["晚到期"]
    expect(page.locator("#k-offline")).to_be_visible(timeout=WAIT)

    page.clock.fast_forward(7 * 24 * 3600 * 1000)  # a week later every entry has closed: the procedure, never blank
    expect(page.get_by_text("晚到期")).to_be_hidden(timeout=WAIT)
    expect(page.locator("#k-slide .k-fallback-slot")).to_contain_text("低保审核审批 9 个步骤", timeout=WAIT)


def test_a_tap_shows_the_entry_large_and_60_seconds_idle_return_to_the_rotation(page, server, session, world,
                                                                                screenshot_dir):
    region = session.get(Region, world.regions["comm_a1"])
    _publish(session, region, NAMES[:3])
    kiosk = _kiosk(session, region, rotation_seconds=20)
    page.clock.install(time=T0)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server.url}/kiosk/{kiosk.token}")

    entry = page.locator("#k-slide .k-entry").first
    assert entry.bounding_box()["height"] >= 60  # a touch target
    entry.click()
    detail = page.locator("#k-detail")
    expect(detail).to_be_visible()
    expect(detail.locator(".k-name")).to_have_text(NAMES[0])
    qr_box = detail.locator(".k-qr svg").bounding_box()
    assert qr_box["width"] >= 400 and qr_box["height"] >= 400  # the big QR code
    close = page.get_by_role("button", name="返回")
    assert close.bounding_box()["height"] >= 60 and close.bounding_box()["width"] >= 60
    page.screenshot(path=str(screenshot_dir / "kiosk-detail-1920x1080.png"))

    page.clock.fast_forward(45_000)
    detail.click()  # a touch keeps it open
    page.clock.fast_forward(45_000)
    expect(detail).to_be_visible()
    page.clock.fast_forward(16_000)  # 61 s since the last touch
    expect(detail).to_be_hidden()
    expect(page.locator("#k-slide")).to_be_visible()

    page.locator("#k-slide .k-entry").nth(1).click()
    expect(detail).to_be_visible()
    close.click()
    expect(detail).to_be_hidden()


def test_an_entry_is_one_button_a_finger_or_the_keyboard_opens(page, server, session, world):
    """The card is a real button's (templates/kiosk/_entry.html): named by its household, reached with Tab, opened with
    Enter or Space; and a tap anywhere on the card — its corners, its photo's place, its QR code — opens it too."""
    region = session.get(Region, world.regions["comm_a1"])
    _publish(session, region, NAMES[:2])
    kiosk = _kiosk(session, region, rotation_seconds=600)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    detail = page.locator("#k-detail")
    card = page.locator("#k-slide .k-entry").first
    button = page.get_by_role("button", name=f"查看{NAMES[0]}的公示详情")
    expect(button).to_have_attribute("aria-haspopup", "dialog")
    assert page.locator("#k-slide [role]:not(button, [role=marquee])").count() == 0  # no article posing as one
    inner, outer = button.bounding_box(), card.bounding_box()  # the whole card is the button's, inside its frame
    assert all(abs(inner[k] - outer[k]) <= 4 for k in ("x", "y", "width", "height")), (inner, outer)

    for _ in range(12):  # Tab, as a keyboard user does, past the header's buttons to the first entry
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('#k-slide .k-entry:first-child .k-open')"):
            break
    else:
        raise AssertionError("the entry is not reachable with Tab")
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert ring == "solid"  # the focus shows, as the card's frame
    for key in ("Enter", " "):
        page.keyboard.press(key)
        expect(detail).to_be_visible()
        expect(detail.locator(".k-name")).to_have_text(NAMES[0])
        assert page.locator("#k-detail-body button").count() == 0  # the copy has no button of its own
        assert page.evaluate("document.activeElement.id") == "k-detail-close"
        page.keyboard.press("Escape")
        expect(detail).to_be_hidden()
        button.focus()

    box = card.bounding_box()
    qr = card.locator(".k-qr").bounding_box()
    for x, y in ((box["x"] + 8, box["y"] + 8), (box["x"] + box["width"] - 8, box["y"] + box["height"] - 8),
                 (qr["x"] + qr["width"] / 2, qr["y"] + qr["height"] / 2)):
        page.mouse.click(x, y)
        expect(detail).to_be_visible()
        expect(detail.locator(".k-name")).to_have_text(NAMES[0])
        page.get_by_role("button", name="返回").click()
        expect(detail).to_be_hidden()


_CONTRAST_JS = """() => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const bg = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c;
    }
    return 'rgb(0, 0, 0)';
  };
  const out = [];
  document.querySelectorAll('.k-screen *').forEach(el => {
    const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent.trim()).join('');
    if (!text || !el.offsetParent) return;
    const a = lum(getComputedStyle(el).color), b = lum(bg(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    out.push([text.slice(0, 20), ratio, parseFloat(getComputedStyle(el).fontSize)]);
  });
  return out;
}"""


@pytest.mark.parametrize("width,height", [(1920, 1080), (1080, 1920)])
def test_readable_in_both_orientations_with_chinese_fonts_from_static(page, server, session, world,
                                                                     screenshot_dir, width, height):
    region = session.get(Region, world.regions["comm_a1"])
    _publish(session, region, ["欧阳晓明", "李秀英", "王淑珍", "赵桂兰"])
    kiosk = _kiosk(session, region, rotation_seconds=600)
    empty = _kiosk(session, session.get(Region, world.regions["comm_a2"]), rotation_seconds=600)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    page.evaluate("document.fonts.ready")

    assert float(page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")) >= 28
    fonts = page.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert any("Kiosk Sans SC" in f for f in fonts)
    assert all(url.startswith(server.url) for url in page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"))  # nothing from a CDN
    ratios = page.evaluate(_CONTRAST_JS)
    assert ratios and min(r[1] for r in ratios) >= 7, sorted(ratios, key=lambda r: r[1])[:3]
    # the slide fits the screen: a page of entries (two: kiosks.PAGE_SIZE), none cut off
    # (test_kiosk_type_size_browser.py measures every text on every kind of slide)
    boxes = [page.locator("#k-slide .k-entry").nth(i).bounding_box() for i in range(kiosks.PAGE_SIZE)]
    footer = page.locator(".k-footer").bounding_box()
    assert all(b["y"] + b["height"] <= footer["y"] + 1 and b["x"] + b["width"] <= width for b in boxes)
    columns = len({round(b["x"]) for b in boxes})
    assert columns == (2 if width > height else 1)
    page.screenshot(path=str(screenshot_dir / f"kiosk-{width}x{height}.png"))

    page.goto(f"{server.url}/kiosk/{empty.token}?p=1")
    expect(page.locator("#k-slide")).to_have_attribute("data-kind", "procedure")
    page.evaluate("document.fonts.ready")
    page.screenshot(path=str(screenshot_dir / f"kiosk-procedure-{width}x{height}.png"))
