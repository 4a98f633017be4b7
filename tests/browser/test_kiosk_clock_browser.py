"""In Chromium: the kiosk's clock says the date and time in the server's words. The header is rendered by the server
(dibao.i18n.localdate: 「2026年3月18日 星期三」) and then kept by static/js/kiosk.js every second: the two must write the
same text — no 「03月18日」 once the script takes over, and the same again when the date turns at midnight."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from dibao.models import Region
from tests.browser.test_kiosk_browser import _kiosk, server  # noqa: F401 - server is a fixture
from tests.conftest import T0

pytestmark = pytest.mark.browser

_SERVED = re.compile(r'id="k-date">([^<]*)</span>\s*<span class="k-time" id="k-time">([^<]*)<')


def _served(html: str) -> tuple[str, str]:
    """The date and the time as the server wrote them into the page."""
    found = _SERVED.search(html)
    assert found, "no clock in the page"
    return found.group(1).strip(), found.group(2).strip()


def _shown(page) -> tuple[str, str]:
    return page.locator("#k-date").inner_text().strip(), page.locator("#k-time").inner_text().strip()


def test_the_script_writes_the_date_and_time_as_the_server_does(page, server, session, world, clock):  # noqa: F811
    kiosk = _kiosk(session, session.get(Region, world.regions["comm_a2"]), rotation_seconds=600)
    url = f"{server.url}/kiosk/{kiosk.token}"
    page.set_viewport_size({"width": 1920, "height": 1080})

    page.clock.install(time=T0)  # the server's clock (the fixture) and the browser's: 10:00 in Shanghai
    served = _served(page.goto(url).text())
    assert served == ("2026年3月18日 星期三", "10:00")
    assert _shown(page) == served  # after load: the script's first tick has rewritten it, in the same words
    page.clock.fast_forward(1_000)  # its next tick
    assert _shown(page) == served

    # a single-digit day, and the date turning at midnight while the page is up
    evening = datetime(2026, 4, 5, 15, 59, 30, tzinfo=UTC)  # 23:59:30 on Sunday 5 April, Shanghai
    clock.set(evening)
    page.clock.set_system_time(evening)
    served = _served(page.goto(url).text())
    assert served == ("2026年4月5日 星期日", "23:59")
    assert _shown(page) == served
    page.clock.fast_forward(60_000)
    expect(page.locator("#k-date")).to_have_text("2026年4月6日 星期一")
    clock.set(evening + timedelta(seconds=60))  # what the server writes at that instant
    assert _shown(page) == _served(page.request.get(url).text())
