"""适老化 on a phone and a tablet: with 大字模式 on (pressed on the page, kept across pages as the site keeps it),
every public page fits a 360 px wide phone and a tablet either way up (768 × 1024, 1024 × 768) — no sideways
scrolling, nothing past the right edge, nothing cut off, no text drawn over other text, no table column squeezed
until a heading or a name stands one character a line. A table too wide for the screen may scroll inside its own
labelled box, focusable while (and only while) it does scroll. The charts' labels are readable (≥ 12 px) and
apart. Printed (print media on an A4 or A3 sheet's width), a board or a receipt fits the sheet, in points, larger
when 大字 was chosen.

Screenshots: test-artifacts/large-text/<mode>-<page>.png (-768, -1024: the tablet; -print: the sheet).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dibao.models import NoticeEntry, Objection, Region

pytestmark = pytest.mark.browser
WAIT = 20_000
WIDTH = 360
TABLETS = [(768, 1024), (1024, 768)]
LARGE_PX = "24px"  # html.large-text: 150 % of the browser's 16 px
A4_PX, A3_PX = 718, 1032  # the printable width of an A4 (10 mm margins) and an A3 (12 mm) sheet, at 96 px an inch
# Tablet screenshots of these pages only (each is checked at every size; a full-page screenshot is slow).
TABLET_SHOTS = {"board-community", "roster-community", "funds-town", "stats-town", "stats-county"}

# Everything the resident would see wrongly, as one list per page (a page may have several problems).
LAYOUT_PROBLEMS = r"""
() => {
  const width = document.documentElement.clientWidth;
  const problems = [];
  const label = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.classList.length) s += "." + Array.from(el.classList).join(".");
    const text = (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 30);
    return text ? `${s} “${text}”` : s;
  };
  // Out of sight on purpose: display/visibility, the visually-hidden clip, off-screen to the left (skip link,
  // honeypot, a table head moved away on a phone).
  const unseen = (el) => {
    if (!el.checkVisibility({visibilityProperty: true})) return true;  // (also a closed <details>' content)
    for (let a = el; a && a !== document.documentElement; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.clip && cs.clip !== "auto") return true;
      if (cs.clipPath && cs.clipPath !== "none") return true;
      if ((cs.position === "absolute" || cs.position === "fixed") && a.getBoundingClientRect().right <= 0) return true;
    }
    return false;
  };
  const scrollsX = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const scroller = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) if (scrollsX(a)) return a;
    return null;
  };

  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth || doc.scrollWidth > width)
    problems.push(`page scrolls sideways: scrollWidth ${doc.scrollWidth} > ${Math.min(window.innerWidth, width)}`);

  for (const el of document.body.querySelectorAll("*")) {
    if (["SCRIPT", "STYLE", "TEMPLATE", "NOSCRIPT"].includes(el.tagName)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > width + 0.5 && !scroller(el) && !unseen(el))
      problems.push(`past the right edge (${Math.round(r.right)} > ${width}): ${label(el)}`);
    const cs = getComputedStyle(el);
    // Cut off: a box that hides what does not fit in it.
    const hides = ["hidden", "clip"];
    if ((hides.includes(cs.overflowX) && el.scrollWidth > el.clientWidth + 1
         || hides.includes(cs.overflowY) && el.scrollHeight > el.clientHeight + 1
         || cs.textOverflow === "ellipsis" && el.scrollWidth > el.clientWidth + 1) && !unseen(el))
      problems.push(`content cut off: ${label(el)}`);
    // A table that scrolls in its own box is fine if a keyboard can reach it and it says what it is.
    if (scrollsX(el) && el.scrollWidth > el.clientWidth + 1 && el !== document.body && !unseen(el)) {
      if (el.tabIndex < 0) problems.push(`scrolling box not reachable by keyboard: ${label(el)}`);
      if (!el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
        problems.push(`scrolling box without a name: ${label(el)}`);
    }
  }

  // A long label beside a radio button or a check box must not squeeze it out of shape.
  for (const box of document.querySelectorAll("input[type=radio], input[type=checkbox]")) {
    const r = box.getBoundingClientRect();
    if (r.width > 0 && Math.abs(r.width - r.height) > 1 && !unseen(box))
      problems.push(`squeezed (${Math.round(r.width)}×${Math.round(r.height)}): input#${box.id}`);
  }

  // A squeezed column: a table heading or value of up to four characters (户主姓名, 4 人, 史*华), a number
  // (2520.00), or a button or link that short, broken over two lines or more.
  const lineCount = (el) => {
    const tops = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.data.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) if (r.width > 1) tops.push(r.top);
    }
    tops.sort((a, b) => a - b);
    const size = parseFloat(getComputedStyle(el).fontSize);
    return tops.filter((t, i) => i === 0 || t - tops[i - 1] > 0.6 * size).length;
  };
  for (const el of document.body.querySelectorAll("th, td, a, button")) {
    const bare = (el.innerText || "").replace(/\s+/g, "");
    if (!bare || !(bare.length <= 4 || /^[\d.,<>*—%-]+$/.test(bare)) || unseen(el)) continue;
    if (getComputedStyle(el).display === "inline") continue;  // a link in running text wraps with the text
    const n = lineCount(el);
    if (n > 1) problems.push(`squeezed onto ${n} lines: ${label(el)}`);
  }

  // A box that may scroll but does not is no tab stop (static/js/scroll-regions.js takes its tabindex off).
  for (const el of document.querySelectorAll(".table-scroll")) {
    if (!unseen(el) && el.scrollWidth <= el.clientWidth + 1 && el.tabIndex >= 0)
      problems.push(`a tab stop that does not scroll: ${label(el)}`);
  }

  // Text drawn over other text: the line boxes of different text nodes must not cross (a little, as tight
  // line-heights make a heading's lines touch, is allowed).
  const lines = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(), i = 0; node; node = walker.nextNode(), i++) {
    if (!node.data.trim()) continue;
    const el = node.parentElement;
    if (!el || el.closest("svg, script, style, noscript, template") || unseen(el)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects())
      if (r.width > 1 && r.height > 1) lines.push({r, i, el, text: node.data.trim().slice(0, 20)});
  }
  lines.sort((a, b) => a.r.top - b.r.top);
  for (let a = 0; a < lines.length; a++) {
    for (let b = a + 1; b < lines.length && lines[b].r.top < lines[a].r.bottom; b++) {
      const p = lines[a], q = lines[b];
      if (p.i === q.i) continue;
      const x = Math.min(p.r.right, q.r.right) - Math.max(p.r.left, q.r.left);
      const y = Math.min(p.r.bottom, q.r.bottom) - Math.max(p.r.top, q.r.top);
      if (x > 2 && y > 0.3 * Math.min(p.r.height, q.r.height))
        problems.push(`text overlaps: “${p.text}” and “${q.text}”`);
    }
  }
  return [...new Set(problems)];
}
"""

# The charts' labels as the resident sees them: at least 12 px high on the screen (the SVG is scaled to its box),
# within the window, and two upright labels never over each other (the slanted place names are 45° apart).
CHART_PROBLEMS = r"""
() => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  for (const svg of document.querySelectorAll(".figure-chart svg")) {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    const upright = [];
    for (const t of svg.querySelectorAll("text")) {
      if (!t.checkVisibility()) continue;
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      const r = t.getBoundingClientRect();
      if (px < 12) problems.push(`chart label ${px.toFixed(1)} px: “${t.textContent}”`);
      if (r.left < 0 || r.right > width + 0.5) problems.push(`chart label off the screen: “${t.textContent}”`);
      const tf = getComputedStyle(t).transform;
      if (tf === "none" || /^matrix\(1, 0, 0, 1,/.test(tf)) upright.push([t.textContent, r]);
    }
    for (let a = 0; a < upright.length; a++)
      for (let b = a + 1; b < upright.length; b++) {
        const [p, q] = [upright[a][1], upright[b][1]];
        if (Math.min(p.right, q.right) - Math.max(p.left, q.left) > 1 && Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > 1)
          problems.push(`chart labels overlap: “${upright[a][0]}” and “${upright[b][0]}”`);
      }
  }
  return [...new Set(problems)];
}
"""
NEXT_FRAME = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def _pages(session) -> list[tuple[str, str]]:
    """Each kind of public page of the demo county: name → path."""
    from dibao import clock, notices
    from dibao.models.announcement import Announcement
    from dibao.models.application import Application

    at = clock.now()
    entries = list(session.scalars(select(NoticeEntry).order_by(NoticeEntry.id)))
    entry = next(e for e in entries if notices.entry_status(e, at) == notices.Status.open)
    closed = next((e for e in entries if notices.entry_status(e, at) == notices.Status.closed), None)
    community = entry.region
    town = community.parent
    county = session.scalar(select(Region).where(Region.parent_id.is_(None)).order_by(Region.id))
    objection = session.scalar(select(Objection).order_by(Objection.id))
    application = session.scalar(select(Application).order_by(Application.id))
    announcement = session.scalar(select(Announcement).order_by(Announcement.id))
    pages = [
        ("home", "/"), ("board-all", "/notices/"), ("board-town", f"/notices/{town.code}"),
        ("board-community", f"/notices/{community.code}"), ("entry", f"/notices/e/{entry.public_id}"),
        ("roster", "/roster/"), ("roster-community", f"/roster/{community.code}"),
        ("policies", "/policies/"), ("procedure", "/policies/procedure"),
        ("funds", "/funds/"), ("funds-town", f"/funds/{town.code}"),
        ("stats", "/stats/"), ("stats-county", f"/stats/{county.code}"), ("stats-town", f"/stats/{town.code}"),
        ("announcements", "/announcements/"), ("announcement", f"/announcements/{announcement.public_id}"),
        ("documents", "/documents/"),
        ("objection-choose", "/objections/new"), ("objection-community", f"/objections/new?region={community.code}"),
        ("objection-form", f"/objections/new?entry={entry.public_id}"), ("report-form", "/reports/new"),
        ("track", "/track"), ("track-objection", f"/track/{objection.tracking_code}"),
        ("apply-form", "/apply"), ("track-application", f"/track/{application.tracking_code}"),
        ("print-board", f"/notices/{community.code}/print"),
        ("not-found", "/notices/e/nosuchentry"), ("no-such-page", "/no/such/page"),
    ]
    if closed is not None:
        pages.append(("gone", f"/notices/e/{closed.public_id}"))
    return pages


@pytest.mark.parametrize("mode", ["normal", "large"])  # two tests, so the suite's workers share them
def test_every_public_page_fits_a_phone(browser, live_server, runner, session, clock, screenshot_dir, mode):
    """Each page at normal size, or after pressing 大字模式 once: on a phone, then (the same page, the window
    resized) on a tablet upright and on its side; a board, the printable board and a receipt also printed."""
    # Months after the demo's first standard, so that its households have been paid (a funds table to fit).
    clock.set(clock.t0 + timedelta(days=120))
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    session.rollback()
    pages = _pages(session)
    shots = screenshot_dir / "large-text"
    shots.mkdir(exist_ok=True)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": WIDTH, "height": 740},
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    found: dict[str, list[str]] = {}

    def note(where, problems):
        if problems:
            found[f"{mode}: {where} ({page.url.removeprefix(live_server.url)})"] = (
                problems[:8] + ([f"… and {len(problems) - 8} more"] if len(problems) > 8 else []))

    def look(name, size=None, shot=True):
        if size is not None:
            page.set_viewport_size({"width": size[0], "height": size[1]})
            page.evaluate(NEXT_FRAME)  # (the scroll boxes' tab stops follow the new width on the next frame)
        suffix = f"-{size[0]}" if size else ""
        if shot:
            page.screenshot(path=str(shots / f"{mode}-{name}{suffix}.png"), full_page=True)
        note(name + (f" at {size[0]}×{size[1]}" if size else ""),
             page.evaluate(LAYOUT_PROBLEMS) + page.evaluate(CHART_PROBLEMS))

    def check(mode, name):
        page.wait_for_load_state("networkidle", timeout=WAIT)
        large = page.evaluate("document.documentElement.classList.contains('large-text')")
        assert large == (mode == "large"), (mode, name)
        if large:
            assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == LARGE_PX, name
        look(name)
        for size in TABLETS:
            look(name, size, shot=name in TABLET_SHOTS)
        page.set_viewport_size({"width": WIDTH, "height": 740})

    def printed(name, sheet_px=A4_PX):
        """The page as the printer lays it out on the sheet's printable width: nothing past its edge, and the
        type in points, larger in 大字 (the web pages 13.5 / 18 pt, the printable board 11 / 15 pt on A4)."""
        page.emulate_media(media="print")
        page.set_viewport_size({"width": sheet_px, "height": 1000})
        try:
            sheet = page.locator("main.sheet")
            if sheet.count():
                size = sheet.evaluate("el => getComputedStyle(el).fontSize")
                want = {("a4", "normal"): "14.6667px", ("a4", "large"): "20px",  # 11 pt, 15 pt
                        ("a3", "normal"): "18.6667px", ("a3", "large"): "25.3333px"}  # 14 pt, 19 pt
                assert size == want["a3" if sheet_px == A3_PX else "a4", mode], (name, size)
            else:
                size = page.evaluate("getComputedStyle(document.documentElement).fontSize")
                assert size == {"normal": "18px", "large": "24px"}[mode], (name, size)  # 13.5 pt, 18 pt
            page.screenshot(path=str(shots / f"{mode}-{name}-print.png"), full_page=True)
            note(f"{name} printed", page.evaluate(LAYOUT_PROBLEMS))
        finally:
            page.emulate_media(media="screen")
            page.set_viewport_size({"width": WIDTH, "height": 740})

    page.goto(live_server.url + "/")
    if mode == "large":
        button = page.get_by_role("button", name="大字模式")
        button.click()  # as a resident does; the site keeps the choice on this device
        assert button.get_attribute("aria-pressed") == "true"
    for name, path in pages:
        response = page.goto(live_server.url + path)
        expected = 404 if name in ("not-found", "no-such-page") else 410 if name == "gone" else 200
        assert response is not None and response.status == expected, (name, path)
        if name in ("funds", "funds-town", "stats", "stats-county"):
            assert page.locator("table").count() > 0, f"{name}: the demo has no table to fit"
        check(mode, name)
        if name in ("board-community", "print-board"):
            printed(name)
    page.goto(live_server.url + dict(pages)["print-board"] + "?size=a3")
    printed("print-board-a3", A3_PX)

    # An objection sent back with a problem (the summary at the top), then sent: the receipt, its tracking.
    page.goto(live_server.url + dict(pages)["objection-form"])
    page.get_by_label("具体情况").fill("他家在镇上开了一家超市，收入不少。")
    page.get_by_role("button", name="提交异议").click()
    page.locator("[data-error-summary]").wait_for()
    check(mode, "objection-errors")
    page.get_by_label("人情保、关系保").check()
    page.get_by_role("button", name="提交异议").click()
    page.wait_for_url(live_server.url + "/receipt")
    code = page.locator("[data-tracking-code]").get_attribute("data-tracking-code")
    check(mode, "receipt")
    printed("receipt")
    page.goto(f"{live_server.url}/track/{code}")
    check(mode, "track-new-objection")
    context.close()
    assert not found, "\n".join(f"{name}:\n  " + "\n  ".join(problems) for name, problems in found.items())
