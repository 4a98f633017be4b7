"""In Chromium: every piece of text the kiosk shows is at least 24 CSS px (the MIIT app spec's 18 pt body text),
body text keeps a line spacing of at least 1.3, and nothing spills out of its box or off the screen — on every
kind of slide (entries, one entry alone, announcement, roster, fund totals, policy, procedure, standard), on the
large view of a tapped entry, in the offline state and on the neutral "not registered" screen; on the cheap
1366×768 panel, on 1920×1080 and on a 1080×1920 portrait screen. Screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from dibao import announcements, kiosks
from dibao.models import Region, Stage, User
from dibao.models.announcement import AnnouncementKind
from dibao.models.records import Standard
from tests.browser.test_kiosk_browser import WAIT, _kiosk, server  # noqa: F401 - server is a fixture
from tests.conftest import T0
from tests.factories import make_case
from tests.feedback_helpers import jpeg
from tests.kiosk_helpers import publish

pytestmark = pytest.mark.browser

MIN_PX = 24  # 18 pt
MIN_LINE_HEIGHT = 1.3
VIEWPORTS = [(1366, 768), (1920, 1080), (1080, 1920)]
# Long but real: a four-character name, a long address, every fact, an opinion.
NAMES = ["欧阳晓明", "李秀英", "王淑珍", "赵桂兰", "钱德胜"]
ADDRESS = "甲一社区幸福路128号5单元1201室"

# Every visible text node: its element's font size and its block's line height, and each of its line boxes
# inside the viewport and inside every block that contains it (text leaving its box is cut off by an
# `overflow: hidden` card, or runs over its neighbour). Headings and the clock may set tighter lines; the ticker
# moves sideways on purpose (it is checked for size and height only). The vertical slack is the gap between a
# line box and the taller CJK font box of its glyphs.
_CHECK_JS = """([minPx, minLine]) => {
  const W = innerWidth, H = innerHeight, problems = [], sizes = [];
  const shown = (el) => el.checkVisibility({visibilityProperty: true, opacityProperty: true});
  const inline = (el) => getComputedStyle(el).display === 'inline';
  const boxless = (el) => inline(el) || getComputedStyle(el).display === 'contents';  // its children's box counts
  const label = (el, text) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${text}"`;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode());) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (!text || !shown(el)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    sizes.push([size, text.slice(0, 16)]);
    if (size < minPx - 0.05) problems.push(`font-size ${size}px < ${minPx}px: ${label(el, text.slice(0, 20))}`);
    let block = el;
    while (inline(block)) block = block.parentElement;
    const bs = getComputedStyle(block);
    if (!block.closest('h1, h2, h3, .k-time') && bs.lineHeight !== 'normal') {
      const ratio = parseFloat(bs.lineHeight) / parseFloat(bs.fontSize);
      if (ratio < minLine - 0.005) problems.push(`line-height ${ratio.toFixed(2)} < ${minLine}: ${label(block, text.slice(0, 20))}`);
    }
    const ticker = el.closest('.k-ticker');
    const range = document.createRange();
    range.selectNodeContents(node);
    const slack = size * 0.25;
    for (const r of range.getClientRects()) {
      if (r.width < 0.5) continue;
      if ((!ticker && (r.left < -1 || r.right > W + 1)) || r.top < -slack || r.bottom > H + slack) {
        problems.push(`off the screen: ${label(el, text.slice(0, 20))} ${JSON.stringify(r)}`);
        break;
      }
      let outside = null;
      for (let a = block; a && a !== document.documentElement; a = a.parentElement) {
        if (boxless(a) || (ticker && ticker.contains(a) && a !== ticker)) continue;
        const b = a.getBoundingClientRect();
        const sideways = !ticker && (r.left < b.left - 1 || r.right > b.right + 1);
        if (sideways || r.top < b.top - slack || r.bottom > b.bottom + slack) { outside = a; break; }
      }
      if (outside) {
        problems.push(`outside its box ${label(outside, '')}: ${label(el, text.slice(0, 20))}`);
        break;
      }
    }
  }
  const boxes = '.k-header, .k-header > *, .k-main, .k-slide, .k-slide-head, .k-entries, .k-entry, .k-entry-text, '
    + '.k-entry-side, .k-info, .k-roster, .k-steps, .k-announcement, .k-footer, .k-footer > *, .k-detail, '
    + '.k-detail-body, .k-detail-bar, .k-neutral, .k-ticker';
  for (const c of document.querySelectorAll(boxes)) {
    if (!shown(c)) continue;
    // Sideways, nothing may stick out; downwards, what a clipping box hides (a box that lets it show is covered
    // by the line boxes above, with the slack for the CJK glyph boxes of a tight heading).
    const wide = !c.matches('.k-ticker') && c.scrollWidth > c.clientWidth + 1;
    const clips = getComputedStyle(c).overflowY !== 'visible';
    if (wide || (clips && c.scrollHeight > c.clientHeight + 1)) {
      problems.push(`overflows: ${label(c, '')} scroll ${c.scrollWidth}×${c.scrollHeight} `
                    + `client ${c.clientWidth}×${c.clientHeight}`);
    }
    const b = c.getBoundingClientRect();
    if (b.left < -1 || b.top < -1 || b.right > W + 1 || b.bottom > H + 1) {
      problems.push(`off the screen: ${label(c, '')} ${JSON.stringify(b)}`);
    }
  }
  sizes.sort((a, b) => a[0] - b[0]);
  return {problems, smallest: sizes.slice(0, 3)};
}"""


def _check(page, what: str, screenshot_dir, name: str) -> float:
    page.evaluate("document.fonts.ready")
    page.screenshot(path=str(screenshot_dir / name))
    result = page.evaluate(_CHECK_JS, [MIN_PX, MIN_LINE_HEIGHT])
    assert not result["problems"], (what, result["problems"])
    assert result["smallest"], what
    return result["smallest"][0][0]


def each_slide(page, server, kiosks):  # noqa: F811 - server is the fixture's value
    """Every slide of each kiosk, opened at it (?p=): (kiosk, index, the slide's locator, its kind)."""
    for kiosk in kiosks:
        page.goto(f"{server.url}/kiosk/{kiosk.token}")
        total = int(page.locator("#k-slide").get_attribute("data-total"))
        for index in range(total):
            page.goto(f"{server.url}/kiosk/{kiosk.token}?p={index}")
            slide = page.locator("#k-slide")
            expect(slide).to_have_attribute("data-index", str(index))
            yield kiosk, index, slide, slide.get_attribute("data-kind")


def around_the_notices(session, world, live_app, monkeypatch, community, roster):
    """Every other kind of slide of a busy kiosk: a standing roster of the households ``roster`` names, the
    county's standard, an announcement with its ticker, and three months of the community's fund totals."""
    for i, name in enumerate(roster):
        make_case(session, community, stage=Stage.active, head_name=name, members=1 + i % 3,
                  amount=Decimal("1960.00"))
    session.add(Standard(region=session.get(Region, world.regions["county"]), monthly_amount=Decimal("720.00"),
                         effective_from=T0.date(), note="县政〔2026〕1号", created_at=T0))
    session.commit()
    with live_app.app_context():
        _announce(session, world, live_app.config["MEDIA_DIR"])
    monkeypatch.setattr(kiosks, "funds_totals", lambda _session, region: [
        {"month": date(2026, m, 1), "households": 112, "persons": 245, "amount": Decimal("214800.00")}
        for m in (3, 2, 1)] if region.id == community.id else [])


def _announce(session, world, media_dir):
    announcements.publish(
        session, session.get(User, world.users["admin"]), kind=AnnouncementKind.announcement,
        region=session.get(Region, world.regions["county"]),
        fields=announcements.Fields(
            title="关于提高城乡低保标准的通知",
            body="自4月1日起，本县城乡低保标准提高到每人每月 860 元，已在保的家庭不用申请，由民政部门自动调整。\n\n"
                 "有疑问的，请到社区办公室咨询，或拨打社会救助服务热线。",
            starts_on=date(2026, 3, 18), ends_on=date(2026, 3, 25), ticker="低保标准 4 月起提高，详询社区"),
        picture=jpeg(), media_dir=media_dir)
    session.commit()


@pytest.mark.parametrize("width,height", VIEWPORTS)
def test_every_text_on_every_slide_is_24px_or_more_and_fits(page, server, session, world, screenshot_dir,  # noqa: F811
                                                            monkeypatch, live_app, width, height):
    community = session.get(Region, world.regions["comm_a1"])
    empty = session.get(Region, world.regions["comm_a2"])
    publish(session, community.id, NAMES, address=ADDRESS)  # a full page, then one entry alone
    around_the_notices(session, world, live_app, monkeypatch, community,
                       ["刘桂芳", "陈志明", "杨淑英", "黄德福", "赵玉兰", "周国强", "吴秀珍", "徐建华", "孙美玲"])
    kiosk = _kiosk(session, community, rotation_seconds=600)
    quiet = _kiosk(session, empty, rotation_seconds=600)
    page.set_viewport_size({"width": width, "height": height})
    size = f"{width}x{height}"
    smallest, kinds = [], set()

    for k, index, _slide, kind in each_slide(page, server, (kiosk, quiet)):
        kinds.add(kind)
        count = page.locator("#k-slide .k-entry").count()
        name = f"kiosk-type-{size}-{'quiet' if k is quiet else 'busy'}-{index}-{kind}.png"
        smallest.append(_check(page, f"{kind} slide {index} ({count} entries)", screenshot_dir, name))
        if kind == "entries" and index == 0:  # the large view of a tapped entry
            page.locator("#k-slide .k-entry").first.click()
            expect(page.locator("#k-detail")).to_be_visible()
            smallest.append(_check(page, "detail", screenshot_dir, f"kiosk-type-{size}-detail.png"))
            page.get_by_role("button", name="返回").click()
            expect(page.locator("#k-detail")).to_be_hidden()
    assert kinds == {"entries", "announcement", "roster", "funds", "policy", "procedure", "standard"}

    flaky = _kiosk(session, community, rotation_seconds=2)  # polls soon, and finds the server gone
    page.goto(f"{server.url}/kiosk/{flaky.token}")
    server.stop()
    expect(page.locator("#k-offline")).to_be_visible(timeout=WAIT)
    smallest.append(_check(page, "offline", screenshot_dir, f"kiosk-type-{size}-offline.png"))
    server.start()

    page.goto(f"{server.url}/kiosk/not-a-kiosk")
    expect(page.get_by_text("本终端尚未登记")).to_be_visible()
    smallest.append(_check(page, "not registered", screenshot_dir, f"kiosk-type-{size}-not-registered.png"))
    print(f"{size}: smallest text {min(smallest)}px")
