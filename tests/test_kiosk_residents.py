"""Issue 14, items 3 and 4: what else the kiosk shows (announcements, ticker, the standing roster, fund totals),
its health (a banner and an e-mail when it goes dark, how long it has been dark), and the proof of display
(what each kiosk reported having on screen, as hours and gaps on the batch's page)."""

from __future__ import annotations

import io
import re
import sys
import types
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import announcements, kiosks, notify
from dibao.models import Region, Stage, User
from dibao.models.announcement import AnnouncementKind
from dibao.models.disclosure import DisclosureRule
from dibao.models.display import BoardPhoto, DisplaySpan, KioskOutage
from dibao.models.notification import Notification
from tests.application_helpers import login, staff_token
from tests.conftest import T0
from tests.factories import make_case
from tests.feedback_helpers import jpeg
from tests.kiosk_helpers import publish, register
from tests.servers import smtp_server  # noqa: F401 - fixture


@pytest.fixture
def kiosk(session, world):
    return register(session, world.regions["comm_a1"])


def slides(client, kiosk, n=12):
    """The kind and HTML of each slide of a rotation (following the slide's own next link)."""
    out, url, seen = [], f"/kiosk/{kiosk.token}/slide/0", set()
    for _ in range(n):
        html = client.get(url).get_data(as_text=True)
        index = re.search(r'data-index="(\d+)"', html).group(1)
        if index in seen:
            break
        seen.add(index)
        out.append((re.search(r'data-kind="(\w+)"', html).group(1), html))
        url = re.search(r'hx-get="([^"]+)"', html).group(1)
    return out


def announce(app, session, world, *, region="county", title="关于提高城乡低保标准的通知", ticker=None,
             starts_on=date(2026, 3, 18), ends_on=date(2026, 3, 20), picture=None):
    with app.app_context():
        item = announcements.publish(
            session, session.get(User, world.users["admin"]), kind=AnnouncementKind.announcement,
            region=session.get(Region, world.regions[region]),
            fields=announcements.Fields(title=title, body="自4月1日起，低保标准提高到每人每月 860 元。",
                                        starts_on=starts_on, ends_on=ends_on, ticker=ticker or ""),
            picture=picture, media_dir=app.config["MEDIA_DIR"])
        session.commit()
    return item


# --- what the kiosk shows ------------------------------------------------------------------------------------

def test_announcements_are_slides_and_a_ticker_until_their_end_date(app, client, session, world, kiosk, clock):
    publish(session, world.regions["comm_a1"], ["张建国"])
    item = announce(app, session, world, ticker="低保标准 4 月起提高，详询社区", picture=jpeg())
    announce(app, session, world, region="comm_b1", title="乙一社区的公告")  # another community's: not here
    rotation = slides(client, kiosk)
    assert [kind for kind, _ in rotation] == ["entries", "announcement"]
    html = rotation[1][1]
    assert "关于提高城乡低保标准的通知" in html and "每人每月 860 元" in html and "乙一社区的公告" not in html
    picture = re.search(r'src="(/kiosk/[^"]+/picture)"', html).group(1)
    assert client.get(picture).status_code == 200
    for _kind, page in rotation:  # the ticker runs under every slide
        assert 'class="k-ticker"' in page and "低保标准 4 月起提高，详询社区" in page
    # The 20th is its last day; from the 21st (local) it is gone by itself, picture and all.
    clock.set(T0 + timedelta(days=2, hours=13, minutes=59))  # 23:59 on the 20th
    assert "announcement" in [k for k, _ in slides(client, kiosk)]
    clock.advance(minutes=1)
    rotation = slides(client, kiosk)
    assert [kind for kind, _ in rotation] == ["entries"] and "k-ticker" not in rotation[0][1]
    assert client.get(picture).status_code == 404
    assert item.public_id


def test_the_standing_roster_is_shown_as_the_kiosk_policy_allows(app, client, session, world, kiosk):
    region = session.get(Region, world.regions["comm_a1"])
    for i, name in enumerate(["刘桂芳", "陈志明", "杨淑英", "黄德福", "赵玉兰", "周国强", "吴秀珍", "徐建华", "孙美玲"]):
        make_case(session, region, stage=Stage.active, head_name=name, members=1 + i % 3,
                  amount=Decimal("960.00"))
    make_case(session, session.get(Region, world.regions["comm_a2"]), stage=Stage.active, head_name="别处户")
    session.commit()
    rotation = slides(client, kiosk)
    roster = [html for kind, html in rotation if kind == "roster"]
    assert kiosks.ROSTER_PAGE_SIZE == 4 and len(roster) == 3  # nine households, four a page
    assert "本社区共 9 户 18 人享受低保" in roster[0] and "刘桂芳" in roster[0] and "960.00" in roster[0]
    assert "名单第 3 / 3 页" in roster[2] and "别处户" not in "".join(roster)
    assert all(name in "".join(roster) for name in ("刘桂芳", "孙美玲", "徐建华"))
    # The admin hides names on the kiosk: the roster follows, names are nowhere on it.
    session.add(DisclosureRule(channel="kiosk", field="name", mode="hidden", updated_at=T0,
                               region_id=world.regions["county"]))
    session.commit()
    roster = [html for kind, html in slides(client, kiosk) if kind == "roster"]
    assert roster and "刘桂芳" not in "".join(roster) and "户主" not in roster[0]


def test_fund_totals_are_shown_only_once_payments_publish_them(app, client, session, world, kiosk, monkeypatch):
    assert "funds" not in [k for k, _ in slides(client, kiosk)]  # no payments module: no slide
    payments = types.ModuleType("dibao.payments")
    payments.funds_totals = lambda _session, region: [
        {"month": date(2026, 2, 1), "households": 12, "persons": 25, "amount": Decimal("21480.00")}
    ] if region.code == "100001001" else []
    monkeypatch.setitem(sys.modules, "dibao.payments", payments)
    app.extensions["dibao.cache"].clear()  # a module swapped in, not a publication in the database (issue 13)
    html = dict(slides(client, kiosk))["funds"]
    assert "2026-02" in html and ">12<" in html and ">25<" in html and "21480.00" in html


# --- health --------------------------------------------------------------------------------------------------

def test_a_kiosk_that_misses_its_polls_alerts_its_communitys_staff(app, client, session, world, kiosk, clock,
                                                                   smtp_server):  # noqa: F811
    app.config.update(SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    staff = session.get(User, world.users["staff_a1"])
    staff.email = "staff_a1@community.example"
    session.get(User, world.users["staff_a2"]).email = "staff_a2@community.example"  # another community
    session.commit()
    assert client.get(f"/kiosk/{kiosk.token}").status_code == 200  # polls at 10:00
    clock.advance(seconds=59)
    assert kiosks.run_offline_alerts(app) == 0  # still online (three missed polls of 20 s make it offline)
    login(client, "staff_a1")
    assert "台公示终端离线" not in client.get("/admin/").get_data(as_text=True)

    clock.advance(hours=2)
    assert kiosks.run_offline_alerts(app) == 1
    assert kiosks.run_offline_alerts(app) == 0  # one alert per outage
    login(client, "staff_a1")
    page = client.get("/admin/").get_data(as_text=True)
    assert "1 台公示终端离线" in page and "活动室公示屏" in page and "已 2小时" in page
    login(client, "town_a")  # the town sees its communities' kiosks too
    assert "1 台公示终端离线" in client.get("/admin/").get_data(as_text=True)
    login(client, "staff_b1")
    assert "台公示终端离线" not in client.get("/admin/").get_data(as_text=True)

    assert notify.run_for_app(app).sent == 1
    (mail,) = smtp_server.messages
    assert mail["To"] == "staff_a1@community.example" and "公示终端离线：活动室公示屏" == mail["Subject"]
    assert "2026-03-18 10:00" in mail.get_content()

    # Back on, then dark again: a new outage, a new e-mail.
    client.get(f"/kiosk/{kiosk.token}/slide/0")
    assert kiosks.run_offline_alerts(app) == 0
    clock.advance(minutes=5)
    assert kiosks.run_offline_alerts(app) == 1
    session.rollback()
    assert session.scalar(select(func.count(KioskOutage.id))) == 2
    assert session.scalar(select(func.count(Notification.id))) == 2


def test_the_registry_says_how_long_a_kiosk_has_been_dark(app, client, session, world, kiosk, clock):
    client.get(f"/kiosk/{kiosk.token}")
    clock.advance(hours=3)
    login(client, "county")
    html = client.get("/admin/kiosks/").get_data(as_text=True)
    assert "离线" in html and "已 3小时 无显示" in html
    with app.app_context():
        kiosks.revoke(session, None, session.get(type(kiosk), kiosk.id))
        session.commit()
    clock.advance(days=2)
    login(client, "county")
    assert "已 2天 无显示" in client.get(f"/admin/kiosks/{kiosk.id}").get_data(as_text=True)


# --- proof of display ----------------------------------------------------------------------------------------

def report(client, kiosk, entries, start, end, *, key=None, step=timedelta(hours=1), cycle=20):
    """What kiosk.js sends: the entries on screen, piece by piece, from ``start`` to ``end``."""
    shown, t = [], start
    while t < end:
        nxt = min(t + step, end)
        shown += [{"entry": e, "from": int(t.timestamp() * 1000), "to": int(nxt.timestamp() * 1000),
                   "cycle": cycle} for e in entries]
        t = nxt
    return client.post(f"/kiosk/{kiosk.token}/shown", json={"key": key or f"k{start.timestamp():.0f}x",
                                                             "shown": shown})


def test_the_display_log_adds_up_the_hours_and_shows_the_gaps(app, client, session, world, kiosk, clock):
    batch = publish(session, world.regions["comm_a1"], ["张建国", "李秀英"], window_days=7)
    other = publish(session, world.regions["comm_a2"], ["别处户"], window_days=7)
    ids = [e.public_id for e in batch.entries]
    opens, closes = batch.opens_at, batch.closes_at
    # Day one in full, then the kiosk is dark for five hours, then on to the end of the window.
    clock.set(opens + timedelta(days=1))
    assert report(client, kiosk, ids, opens, opens + timedelta(days=1)).status_code == 204
    clock.set(closes + timedelta(hours=1))
    dark = opens + timedelta(days=1)
    res = report(client, kiosk, ids, dark + timedelta(hours=5), closes + timedelta(hours=1), key="second-report")
    assert res.status_code == 204
    # Sent again (its answer was lost): counted once. Another community's entry: not this kiosk's to prove.
    assert report(client, kiosk, ids, dark + timedelta(hours=5), closes, key="second-report").status_code == 204
    assert report(client, kiosk, [other.entries[0].public_id], opens, closes, key="other").status_code == 204
    session.rollback()
    assert session.scalar(select(func.count(DisplaySpan.id))) == 4  # two per entry: before and after the gap

    login(client, "staff_a1")
    html = client.get(f"/admin/notices/{batch.public_id}/display").get_data(as_text=True)
    row = html.split("活动室公示屏", 1)[1].split("</tr>", 1)[0]
    assert "163.0 小时" in row  # 7 × 24 − 5; nothing after the window closed
    assert "97%" in row and "2026-03-19 10:00 — 2026-03-19 15:00（5小时）" in row
    assert "全程" not in row
    # The batch page loads the same summary (htmx), and links the printable page.
    page = client.get(f"/admin/notices/{batch.public_id}").get_data(as_text=True)
    assert f'hx-get="/admin/notices/{batch.public_id}/display"' in page
    fragment = client.get(f"/admin/notices/{batch.public_id}/display", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<section class="card display-summary"')


def test_a_full_week_on_screen_is_complete(app, client, session, world, kiosk, clock):
    batch = publish(session, world.regions["comm_a1"], ["张建国"], window_days=7)
    clock.set(batch.closes_at)
    report(client, kiosk, [batch.entries[0].public_id], batch.opens_at, batch.closes_at)
    login(client, "staff_a1")
    row = client.get(f"/admin/notices/{batch.public_id}/display").get_data(as_text=True).split("活动室公示屏", 1)[1]
    assert "168.0 小时" in row.split("</tr>")[0] and "✔ 全程" in row.split("</tr>")[0]


def test_reports_are_checked(client, session, world, kiosk):
    url = f"/kiosk/{kiosk.token}/shown"
    assert client.post(url, data="nonsense", content_type="application/json").status_code == 400
    assert client.post(url, json={"shown": [{"entry": "x", "from": 1, "to": 0}]}).status_code == 400
    assert client.post("/kiosk/not-a-kiosk/shown", json={"shown": []}).status_code == 404
    assert client.post(url, json={"key": "empty-report", "shown": []}).status_code == 204


@pytest.mark.parametrize("username, status", [("staff_a1", 303), ("town_a", 303), ("county", 303),
                                              ("staff_b1", 404), ("town_b", 404), ("admin", 403)])
def test_staff_attach_a_photo_of_the_paper_board(app, client, session, world, username, status):
    batch = publish(session, world.regions["comm_a1"], ["张建国"])
    login(client, username)
    token = staff_token(client, "/admin/")
    res = client.post(f"/admin/notices/{batch.public_id}/display/photos", content_type="multipart/form-data",
                      data={"csrf_token": token, "taken_on": "2026-03-18", "note": "社区公示栏",
                            "photo": (io.BytesIO(jpeg()), "board.jpg")})
    assert res.status_code == status
    session.rollback()
    assert session.scalar(select(func.count(BoardPhoto.id))) == (1 if status == 303 else 0)
    if status == 303:
        html = client.get(f"/admin/notices/{batch.public_id}/display").get_data(as_text=True)
        photo = re.search(r'src="(/admin/display/photos/\d+/thumb)"', html).group(1)
        assert client.get(photo).status_code == 200


def test_staff_set_their_own_alert_address(app, client, session, world):
    login(client, "staff_a1")
    token = staff_token(client, "/admin/me/alerts")
    res = client.post("/admin/me/alerts", data={"csrf_token": token, "email": "not an address"})
    assert res.status_code == 400 and "电子邮箱格式不对" in res.get_data(as_text=True)
    assert client.post("/admin/me/alerts", data={"csrf_token": token, "email": "a1@community.example"}
                       ).status_code == 303
    session.rollback()
    assert session.get(User, world.users["staff_a1"]).email == "a1@community.example"
    assert session.get(User, world.users["staff_a2"]).email is None
