"""In Chromium: offline, when the kiosk's clock passes the closing of some entries, the header's count of households
on notice and the page numbering follow what is still shown — on the slide on screen, through the rotation (the
service worker's kept slides, a slide whose entries have all closed is skipped) and after a reload while offline.
Screenshots in test-artifacts/."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from dibao import announcements, kiosks
from dibao.models import Region, User
from dibao.models.announcement import AnnouncementKind
from dibao.models.kiosk import Kiosk
from tests.browser.test_kiosk_browser import WAIT, _until, server  # noqa: F401 - server is a fixture
from tests.conftest import T0
from tests.kiosk_helpers import publish, register

pytestmark = pytest.mark.browser

FIRST = ["甲早一", "甲早二"]  # close at T0 + 20 min: the whole first slide
SECOND = ["乙早三"]  # closes at T0 + 30 min: half of the second slide
LATER = ["丙晚一", "丙晚二", "丙晚三", "丙晚四"]  # close at T0 + 7 days

# What the slide on screen says and shows (only what is visible).
_STATE = """() => {
  const s = document.getElementById('k-slide');
  const vis = el => !!el && !el.hidden && el.offsetParent !== null;
  const head = s.querySelector('.k-slide-head');
  const page = s.querySelector('.k-page');
  return {
    index: Number(s.dataset.index), kind: s.dataset.kind,
    count: vis(head) ? head.querySelector('h2 strong').textContent.trim() : null,
    page: vis(page) ? page.textContent.trim() : null,
    names: [...s.querySelectorAll('.k-entry')].filter(vis).map(e => e.querySelector('.k-name').textContent.trim()),
    fallback: vis(s.querySelector('.k-fallback-slot')),
  };
}"""
_KEPT_SLIDES = """caches.open('dibao-kiosk-v1').then(c => c.keys()).then(keys => keys
  .map(r => new URL(r.url).pathname).filter(p => p.includes('/slide/')).length)"""


def _page(label: str) -> tuple[int, int]:
    found = re.fullmatch(r"第 (\d+) / (\d+) 页", label or "")
    assert found, label
    return int(found[1]), int(found[2])


def _watch(page, seconds: float) -> list[dict]:
    """The distinct states of the screen over ``seconds`` (the rotation going on by itself)."""
    states: list[dict] = []
    for _ in range(int(seconds * 5)):
        state = page.evaluate(_STATE)
        if not states or state != states[-1]:
            states.append(state)
        page.wait_for_timeout(200)
    return states


def _check_rounds(states: list[dict], extras: int, whole_round: bool = True) -> None:
    """Each state agrees with itself and with the board: 4 households on notice (the closed three gone), on
    three pages of entries (the first slide, all closed, is skipped) and the slides after them."""
    pages = 3 + extras
    entry_states = [s for s in states if s["kind"] == "entries"]
    for state in states:
        assert not set(state["names"]) & set(FIRST + SECOND), state  # closed: never shown
        assert not state["fallback"], state  # a slide with nothing left is skipped, not shown empty
        number, total = _page(state["page"])
        assert total == pages, state
        if state["kind"] == "entries":
            assert state["names"], state
            assert state["count"] == str(len(LATER)), state  # the households still on notice
            # the pages are numbered as shown: the first page (all closed) is gone, the others move up
            expected = {"丙晚一": 1, "丙晚二": 2, "丙晚三": 2, "丙晚四": 3}[state["names"][0]]
            assert number == expected, state
        else:
            assert number > 3, state
    if not whole_round:
        return
    shown = [name for s in entry_states for name in s["names"]]
    assert set(shown) == set(LATER), states  # every open household still comes round
    assert {_page(s["page"])[0] for s in states} == set(range(1, pages + 1)), states


def _announce(session, world, media_dir):
    """An announcement: a slide after the pages of entries, numbered with them."""
    announcements.publish(
        session, session.get(User, world.users["admin"]), kind=AnnouncementKind.announcement,
        region=session.get(Region, world.regions["county"]),
        fields=announcements.Fields(title="关于提高城乡低保标准的通知", body="自4月1日起，本县城乡低保标准提高。",
                                    starts_on=date(2026, 3, 18), ends_on=date(2026, 3, 25)),
        media_dir=media_dir)
    session.commit()


def test_offline_the_count_and_the_page_numbers_follow_the_entries_still_shown(page, server, session, world,  # noqa: F811
                                                                               clock, live_app, screenshot_dir):
    region = world.regions["comm_a1"]
    clock.set(T0 - timedelta(days=7) + timedelta(minutes=20))
    publish(session, region, FIRST, title="第一批")
    clock.set(T0 - timedelta(days=7) + timedelta(minutes=30))
    publish(session, region, SECOND, title="第二批")
    clock.set(T0)
    publish(session, region, LATER, title="第三批")
    _announce(session, world, live_app.config["MEDIA_DIR"])
    kiosk = register(session, region, rotation_seconds=600)
    session.get(Kiosk, kiosk.id).rotation_seconds = 2  # shorter than the admin allows: quick rounds
    session.commit()

    page.clock.install(time=T0)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    total = int(page.locator("#k-slide").get_attribute("data-total"))
    extras = total - 4  # seven entries, two a slide (kiosks.PAGE_SIZE): four slides, then the others
    assert kiosks.PAGE_SIZE == 2 and extras >= 1
    first = page.evaluate(_STATE)
    assert (first["count"], first["page"], first["names"]) == ("7", f"第 1 / {total} 页", FIRST)
    # a whole round online: the worker keeps every slide
    _until(page, f"{_KEPT_SLIDES}.then(n => n >= {total})", timeout_ms=4 * WAIT)

    server.stop()
    page.clock.fast_forward("40:00")  # past the closing of the first three, with no server to ask
    expect(page.locator("#k-offline")).to_be_visible(timeout=WAIT)
    for name in FIRST + SECOND:
        expect(page.get_by_text(name)).to_have_count(0, timeout=WAIT)
    now = page.evaluate(_STATE)
    if now["kind"] == "entries" and now["names"]:
        assert now["count"] == "4", now  # on the slide on screen, at once
    page.wait_for_timeout(2 * 2_000 + 500)  # the rotation has learnt that it is offline
    states = _watch(page, seconds=2 * (total + 1))  # a whole round, and more
    page.screenshot(path=str(screenshot_dir / "kiosk-offline-count-1920x1080.png"))
    _check_rounds(states, extras)

    page.reload()  # a full reload while offline: the shell and the slides come from the worker
    expect(page.locator("#k-offline")).to_be_visible(timeout=WAIT)
    restored = page.evaluate(_STATE)
    page.screenshot(path=str(screenshot_dir / "kiosk-offline-count-reload-1920x1080.png"))
    _check_rounds([restored], extras, whole_round=False)
    page.wait_for_timeout(2 * 2_000 + 500)
    _check_rounds(_watch(page, seconds=2 * (total + 1)), extras)
