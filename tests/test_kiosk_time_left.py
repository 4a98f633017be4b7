"""The kiosk says how long a notice has left in the portal's words (dibao.notices.time_left), never rounded up:
with 34 minutes left it says "还剩 34 分钟" — as the portal does — not "还剩 1 小时"."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest

from dibao import kiosks, notices
from dibao.models import NoticeEntry
from tests.conftest import T0
from tests.kiosk_helpers import publish, register


def _left(html: str) -> list[str]:
    """The time left of each entry, as a reader sees it (the tags of the large numbers removed)."""
    return [re.sub(r"<[^>]+>", "", p) for p in re.findall(r'<p class="k-days[^"]*" data-left>(.*?)</p>', html)]


@pytest.mark.parametrize(("left", "said"), [
    (timedelta(minutes=34, seconds=50), "还剩 34 分钟"),
    (timedelta(seconds=20), "还剩 1 分钟"),
    (timedelta(hours=5, minutes=3), "还剩 5 小时 3 分钟"),
    (timedelta(days=6, hours=23, minutes=59), "还剩 6 天 23 小时"),
])
def test_the_kiosk_and_the_portal_say_the_same_time_left(client, session, world, clock, left, said):
    batch = publish(session, world.regions["comm_a1"], ["到期户"], window_days=7)
    kiosk = register(session, world.regions["comm_a1"])
    clock.set(T0 + timedelta(days=7) - left)
    kiosk_html = client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True)
    assert _left(kiosk_html) == [said]
    assert notices.time_left(batch.closes_at) == said
    entry = session.query(NoticeEntry).filter_by(batch_id=batch.id).one()
    portal_html = client.get(f"/notices/e/{entry.public_id}").get_data(as_text=True)
    assert f"（{said}）" in portal_html
    # the numbers are the large type
    assert re.search(r"<strong>\d+</strong>", re.search(r'data-left>(.*?)</p>', kiosk_html).group(1))
    last_day = left < timedelta(days=1)
    assert ('class="k-days k-last-day"' in kiosk_html) == last_day


def test_on_the_last_day_the_slide_changes_with_the_minute(client, session, world, clock):
    publish(session, world.regions["comm_a1"], ["到期户"], window_days=7)
    kiosk = register(session, world.regions["comm_a1"])
    url = f"/kiosk/{kiosk.token}/slide/0"
    clock.set(T0 + timedelta(days=7) - timedelta(minutes=34, seconds=50))
    res = client.get(url)
    assert _left(res.get_data(as_text=True)) == ["还剩 34 分钟"]
    clock.advance(seconds=40)  # still 34 minutes: the same slide, 304
    assert client.get(url, headers={"If-None-Match": res.headers["ETag"]}).status_code == 304
    clock.advance(seconds=20)  # 33 minutes 50 seconds
    res = client.get(url, headers={"If-None-Match": res.headers["ETag"]})
    assert res.status_code == 200 and _left(res.get_data(as_text=True)) == ["还剩 33 分钟"]


def test_the_pages_countdown_has_the_portals_words(client, session, world):
    kiosk = register(session, world.regions["comm_a1"])
    html = client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True)
    words = json.loads(unescape(re.search(r'data-left-words="([^"]+)"', html).group(1)))
    assert words == kiosks.countdown_words(T0)
    for kind, sample in words.items():  # each stand-in number is in its phrasing, once
        marks = [v for k, v in sample.items() if k != "text"]
        assert marks and all(sample["text"].count(m) == 1 for m in marks), kind
    assert words["m"]["text"] == "还剩 58 分钟" and words["dh"]["text"] == "还剩 1001 天 23 小时"
