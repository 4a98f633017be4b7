"""In Chromium: the kiosk's text size (字号: 标准 / 大 / 特大, MIIT 适老化 asks for text adjustable to ≥ 30 pt).

A resident taps 「特大」 in the header: every text is ≥ 40 px (30 pt) on 1920×1080, on a 1080×1920 portrait screen and
on a 1366×768 panel (its compact layout: one entry a part, the photo beside the words), and every slide still fits —
shown in parts where it must (as many of its entries or rows as fit, one part each rotation interval), nothing cut
off, nothing past the screen's edge. The size stays through the polls and the next slide, needs no request (it works
with the server down and from the worker's cached shell), and 3 minutes without a touch bring the standard size back
for the next resident. The buttons are reachable by keyboard and axe finds nothing, not even a minor finding.
Screenshots: test-artifacts/kiosk-textsize/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dibao import notices
from dibao.models import Level, Region
from tests.browser.axe import ensure_axe, scan
from tests.browser.test_kiosk_browser import WAIT, _kiosk, _until, _wait_for_worker, server  # noqa: F401 - fixture
from tests.browser.test_kiosk_forgets_browser import _photo
from tests.browser.test_kiosk_type_size_browser import (
    _CHECK_JS,
    ADDRESS,
    NAMES,
    around_the_notices,
    each_slide,
)
from tests.conftest import T0
from tests.factories import case_awaiting_notice
from tests.kiosk_helpers import publish

pytestmark = pytest.mark.browser

LARGEST_PX = 40  # 30 pt
MIN_PX, MIN_LINE_HEIGHT = 24, 1.3  # the kiosk's floor for every text (the header's control keeps its size)
ROTATION = 20
OPINION = "经入户调查和民主评议，评议小组一致认为该户家庭月人均收入低于当地低保标准，同意纳入低保，报乡镇审核。"

# The entries' body text as the resident reads it: address, facts, opinion, the time left (computed px).
_ENTRY_TEXT = """() => [...document.querySelectorAll(
    '#k-slide .k-entry :is(.k-addr, .k-facts dt, .k-facts dd, .k-opinion, .k-days, .k-closes, .k-qr-label)')]
  .filter(el => el.checkVisibility()).map(el => parseFloat(getComputedStyle(el).fontSize))"""

# Every visible text on the screen except the size control itself: the smallest computed font size.
_SMALLEST_OUTSIDE_CONTROL = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let smallest = Infinity, what = '';
  for (let node; (node = walker.nextNode());) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el.checkVisibility() || el.closest('.k-textsize')) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < smallest) { smallest = size; what = node.textContent.trim().slice(0, 20); }
  }
  return [smallest, what];
}"""

# What a slide shows in parts (entries, paragraphs, notes, steps, roster rows, a picture): [its words, on screen?].
_UNITS = """() => [...document.querySelectorAll('#k-slide :is(.k-entry .k-name, .k-info-body, .k-info-note, '
    + '.k-steps > li, .k-roster tbody > tr, .k-announcement-picture)')]
  .map(el => [el.textContent.trim() || el.getAttribute('alt'), el.checkVisibility()])"""

# The page does not scroll sideways and the slide's content ends inside the slide, above the screen's bottom.
_FITS = """() => {
  const slide = document.getElementById('k-slide').getBoundingClientRect();
  let bottom = 0;
  for (const el of document.querySelectorAll('#k-slide *')) {
    if (!el.checkVisibility()) continue;
    bottom = Math.max(bottom, el.getBoundingClientRect().bottom);
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth, innerHeight,
          bottom, slideBottom: slide.bottom};
}"""


def _shots(screenshot_dir):
    folder = screenshot_dir / "kiosk-textsize"
    folder.mkdir(exist_ok=True)
    return folder


def _fits(page, what: str, path, allowed: tuple[str, ...] = ()) -> None:
    """Nothing clipped or off the screen (the kiosk's own check of every text and box, and the page's width)."""
    page.evaluate("document.fonts.ready")
    page.screenshot(path=str(path))
    result = page.evaluate(_CHECK_JS, [MIN_PX, MIN_LINE_HEIGHT])
    problems = [p for p in result["problems"] if not p.startswith(allowed)]
    assert not problems, (what, problems)
    box = page.evaluate(_FITS)
    assert box["scrollWidth"] <= box["innerWidth"], (what, box)
    assert box["bottom"] <= box["slideBottom"] + 1 and box["slideBottom"] <= box["innerHeight"], (what, box)


def _choose(page, name: str) -> None:
    """Tap a size as a resident does, and see it chosen (pressed, with its check mark, not by colour alone)."""
    button = page.locator(".k-textsize").get_by_role("button", name=name, exact=True)
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    assert page.locator(".k-textsize [aria-pressed=true]").count() == 1
    mark = button.evaluate("b => getComputedStyle(b, '::before').visibility")
    assert mark == "visible"


def _part(page) -> str | None:
    """The part of the slide on screen, as its page number says it ("第 1 / 2 部分"), or None (shown whole)."""
    return page.evaluate("""() => {
      const mark = document.querySelector('#k-slide .k-page[data-part]');
      if (!mark || !mark.checkVisibility()) return null;
      const words = getComputedStyle(mark, '::after').content;  // what the screen shows after the page number
      return words === 'none' ? null : mark.dataset.part;
    }""")


def _until_part(page, words: str) -> None:
    _until(page, f"document.querySelector('#k-slide .k-page[data-part=\"{words}\"]') !== null")


def _size(page) -> str:
    return page.locator(".k-textsize [aria-pressed=true]").inner_text().strip().lstrip("✓").strip()


def _busy_and_quiet(session, world, live_app, monkeypatch):
    """A community with five entries (three pages), an announcement with a ticker, the roster, the fund totals and
    a standard; and one with nothing open (policy, procedure, standard)."""
    community = session.get(Region, world.regions["comm_a1"])
    empty = session.get(Region, world.regions["comm_a2"])
    photo = _photo(live_app)  # every entry as complete as it comes: with the head of household's photo
    cases = [case_awaiting_notice(session, community, Level.community, head_name=n, address=ADDRESS,
                                  photo_key=photo, photo_consent=True) for n in NAMES]
    cases[0].opinions[0].text = OPINION  # a real panel's opinion: three lines at 特大
    notices.publish_batch(session, None, level=Level.community, region=community, cases=cases, title="社区初审公示")
    around_the_notices(session, world, live_app, monkeypatch, community,
                       ["刘桂芳", "陈志明", "杨淑英", "黄德福", "赵玉兰", "周国强", "吴秀珍"])
    return community, empty


@pytest.mark.parametrize("width,height", [(1920, 1080), (1080, 1920), (1366, 768)])
def test_the_largest_size_makes_entries_40px_and_every_slide_still_fits(page, server, session, world,  # noqa: F811
                                                                        live_app, monkeypatch, screenshot_dir,
                                                                        width, height):
    community, empty = _busy_and_quiet(session, world, live_app, monkeypatch)
    busy, quiet = _kiosk(session, community, ROTATION), _kiosk(session, empty, ROTATION)
    shots = _shots(screenshot_dir)
    size = f"{width}x{height}"
    page.clock.install(time=T0)  # the rotation moves on when the test says so
    page.set_viewport_size({"width": width, "height": height})
    standard_px = page.evaluate("Math.max(24, Math.min(innerWidth, innerHeight) * 0.026)")  # kiosk.css
    kinds = set()

    for kiosk, index, slide, kind in each_slide(page, server, (busy, quiet)):
        kinds.add(kind)
        name = f"{size}-{'busy' if kiosk is busy else 'quiet'}-{index}-{kind}"
        assert _size(page) == "标准"
        assert abs(page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") - standard_px) < 0.01
        # (the standard size shows two lines of an opinion, then "…": the whole of it on a tap)
        _fits(page, f"{kind} {index} standard", shots / f"{name}-standard.png", ("outside its box p.k-opinion",))

        _choose(page, "特大")
        smallest, text = page.evaluate(_SMALLEST_OUTSIDE_CONTROL)
        assert smallest >= LARGEST_PX, (kind, smallest, text)  # every text but the control: ≥ 30 pt
        if kind == "entries":
            sizes = page.evaluate(_ENTRY_TEXT)
            assert sizes and min(sizes) >= LARGEST_PX, sizes
        part_words = _part(page)
        count = int(part_words.split("/")[1].split()[0]) if part_words else 1
        everything, seen = [text for text, _ in page.evaluate(_UNITS)], []
        for part in range(1, count + 1):
            if part > 1:
                page.locator(".k-clock").click()  # a touch: the size stays
                page.clock.fast_forward(ROTATION * 1000)  # the next poll shows the next part, not the next slide
                _until_part(page, f"第 {part} / {count} 部分")
                expect(slide).to_have_attribute("data-index", str(index))
            seen += [text for text, shown in page.evaluate(_UNITS) if shown]
            _fits(page, f"{kind} {index} largest, part {part}/{count}", shots / f"{name}-largest-{part}.png")
            if kind == "entries":
                assert page.evaluate(_ENTRY_TEXT) and min(page.evaluate(_ENTRY_TEXT)) >= LARGEST_PX
        assert seen == everything, (kind, index)  # every entry, paragraph or row in its turn, none twice
        if kind == "entries" and width > height:  # a card of 40 px text is half the landscape screen's height
            assert count == len(everything) == page.locator("#k-slide .k-entry").count()

        if kind == "entries" and index == 0:  # the large view of a tapped entry, at 特大
            page.locator("#k-slide .k-entry:visible").click()
            expect(page.locator("#k-detail")).to_be_visible()
            _fits(page, "detail at 特大", shots / f"{size}-detail-largest.png")
            smallest, text = page.evaluate(_SMALLEST_OUTSIDE_CONTROL)
            assert smallest >= LARGEST_PX, ("detail", smallest, text)
            page.get_by_role("button", name="返回").click()
            _choose(page, "大")
            _fits(page, "entries at 大", shots / f"{name}-large.png")
    assert kinds == {"entries", "announcement", "roster", "funds", "policy", "procedure", "standard"}


def test_the_size_stays_through_polls_and_slides_and_goes_back_after_a_minute_idle(page, server, session,  # noqa: F811
                                                                                   world):
    community = session.get(Region, world.regions["comm_a1"])
    publish(session, community.id, NAMES[:5], address=ADDRESS)  # three pages of two
    kiosk = _kiosk(session, community, rotation_seconds=3)
    page.clock.install(time=T0)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    slide = page.locator("#k-slide")
    expect(slide).to_have_attribute("data-index", "0")
    assert page.locator("#k-slide .k-entry:visible").count() == 2
    asked = []
    page.on("request", lambda request: asked.append(request.url))

    _choose(page, "特大")
    assert [url for url in asked if "/slide/" not in url] == []  # chosen on the screen: no request but the polls
    assert min(page.evaluate(_ENTRY_TEXT)) >= LARGEST_PX
    assert page.locator("#k-slide .k-entry:visible .k-name").all_inner_texts() == [NAMES[0]]
    assert _part(page) == "第 1 / 2 部分"

    # the next poll: the page's second entry, polled all the same (the kiosk stays online for the admin)
    expect(page.locator("#k-slide .k-entry:visible .k-name")).to_have_text(NAMES[1], timeout=WAIT)
    assert _part(page) == "第 2 / 2 部分"
    expect(slide).to_have_attribute("data-index", "0")
    assert len(server.statuses("/slide/")) >= 1
    # the one after: the next slide, swapped in by htmx, at the same size
    expect(slide).to_have_attribute("data-index", "1", timeout=WAIT)
    assert _size(page) == "特大"
    assert page.evaluate("document.documentElement.classList.contains('k-text-largest')")
    assert page.locator("#k-slide .k-entry:visible .k-name").all_inner_texts() == [NAMES[2]]
    assert min(page.evaluate(_ENTRY_TEXT)) >= LARGEST_PX
    assert page.evaluate(_FITS)["scrollWidth"] <= 1920

    # three minutes without a touch: 标准 again, for the next resident; reading on without touching keeps it
    # a while, and a touch in between starts the three minutes again
    page.clock.fast_forward(170_000)
    assert _size(page) == "特大"
    page.locator(".k-clock").click()
    page.clock.fast_forward(170_000)
    assert _size(page) == "特大"
    page.clock.fast_forward(11_000)  # 181 s since the last touch
    expect(page.locator(".k-textsize [aria-pressed=true]")).to_have_text("标准")
    assert not page.evaluate("document.documentElement.className.includes('k-text')")
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "28.08px"
    assert _part(page) is None
    assert page.locator("#k-slide .k-entry:visible").count() == page.locator("#k-slide .k-entry").count()


def test_the_size_works_with_the_server_down_and_from_the_cached_shell(page, server, session, world,  # noqa: F811
                                                                       screenshot_dir):
    community = session.get(Region, world.regions["comm_a1"])
    publish(session, community.id, NAMES[:4], address=ADDRESS)
    kiosk = _kiosk(session, community, rotation_seconds=2)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    _wait_for_worker(page)

    server.stop()
    expect(page.locator("#k-offline")).to_be_visible(timeout=WAIT)
    _choose(page, "特大")
    assert min(page.evaluate(_ENTRY_TEXT)) >= LARGEST_PX
    _fits(page, "offline at 特大", _shots(screenshot_dir) / "1920x1080-offline-largest.png")

    page.reload()  # the shell, its script and its stylesheet from the service worker
    expect(page.locator("#k-offline")).to_be_visible(timeout=WAIT)
    assert _size(page) == "标准"  # a reload starts at the standard size
    _choose(page, "大")
    assert page.evaluate("document.documentElement.classList.contains('k-text-large')")
    sizes = page.evaluate(_ENTRY_TEXT)
    assert sizes and min(sizes) >= 28.08 * 1.2 - 0.1
    server.start()


def test_the_buttons_answer_the_keyboard_and_axe_finds_nothing(browser, server, session, world):  # noqa: F811
    ensure_axe()
    community = session.get(Region, world.regions["comm_a1"])
    publish(session, community.id, NAMES[:2], address=ADDRESS)
    kiosk = _kiosk(session, community, rotation_seconds=600)
    # axe is injected into the page (the kiosk's CSP forbids it): bypass the CSP, as test_accessibility does.
    context = browser.new_context(bypass_csp=True, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    group = page.get_by_role("group", name="字号")
    expect(group).to_be_visible()
    for button in group.get_by_role("button").all():  # touch targets
        box = button.bounding_box()
        assert box["width"] >= 60 and box["height"] >= 60, box

    for _ in range(10):  # Tab, as a keyboard user does, to 「大」
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.textSize") == "large":
            break
    else:
        raise AssertionError("「大」 is not reachable with Tab")
    page.keyboard.press("Enter")
    assert _size(page) == "大"
    page.keyboard.press("Tab")
    page.keyboard.press(" ")
    assert _size(page) == "特大"
    assert min(page.evaluate(_ENTRY_TEXT)) >= LARGEST_PX

    # the kiosk is clean: any finding fails, whatever its impact (an <article role="button"> was two minor ones)
    for label in ("特大", "标准", "an entry open"):
        if label == "标准":
            page.locator(".k-textsize").get_by_role("button", name="标准").click()
        if label == "an entry open":
            page.locator("#k-slide .k-entry").first.click()
            expect(page.locator("#k-detail")).to_be_visible()
        found = [(v["id"], v["impact"], v["nodes"][:3]) for v in scan(page)]
        assert found == [], label
    context.close()
