"""In Chromium: the kiosk counts the time left down by itself between polls and with the server gone, in the
portal's words (dibao.notices.time_left), never rounded up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from dibao.models import Region
from tests.browser.test_kiosk_browser import WAIT, _kiosk, _publish, server  # noqa: F401 - server is a fixture
from tests.conftest import T0

pytestmark = pytest.mark.browser


def test_the_kiosk_counts_down_in_the_portals_words_while_offline(page, server, session, world, clock):  # noqa: F811
    region = session.get(Region, world.regions["comm_a1"])
    clock.set(T0 - timedelta(days=7) + timedelta(hours=1, minutes=34, seconds=30))
    _publish(session, region, ["将到期"])  # closes at T0 + 1 h 34 min 30 s
    clock.set(T0)
    kiosk = _kiosk(session, region, rotation_seconds=600)

    page.clock.install(time=T0)
    page.goto(f"{server.url}/kiosk/{kiosk.token}")
    left = page.locator(".k-entry [data-left]").first
    expect(left).to_have_text("还剩 1 小时 34 分钟")
    assert left.locator("strong").all_inner_texts() == ["1", "34"]  # the numbers in large type

    server.stop()
    page.clock.fast_forward("01:00")  # 1 h 33 min 30 s
    expect(left).to_have_text("还剩 1 小时 33 分钟", timeout=WAIT)
    page.clock.fast_forward("59:00")  # 34 min 30 s: "34 分钟", as the portal says — not "1 小时"
    expect(left).to_have_text("还剩 34 分钟", timeout=WAIT)
    expect(left).to_have_class("k-days k-last-day")
    page.clock.fast_forward("34:00")  # 30 s: the last minute
    expect(left).to_have_text("还剩 1 分钟", timeout=WAIT)
