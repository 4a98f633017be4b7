"""Issue 14, item 2: announcements (宣传) and standing documents (制度) — published by staff for a region, listed on
the portal by date and region, shown from their start date and gone by themselves after their end date."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from dibao import announcements
from dibao.models import AuditEvent, Region, User
from dibao.models.announcement import Announcement, AnnouncementKind
from tests.application_helpers import login, staff_token
from tests.factories import tiny_pdf
from tests.feedback_helpers import jpeg

PDF = tiny_pdf()


def publish(session, world, *, region="county", kind=AnnouncementKind.announcement, title="提高低保标准的通知",
            starts_on=date(2026, 3, 18), ends_on=date(2026, 3, 31), ticker=None, category=None, user="admin",
            app=None):
    actor = session.get(User, world.users[user])
    with app.app_context():
        item = announcements.publish(
            session, actor, kind=kind, region=session.get(Region, world.regions[region]),
            fields=announcements.Fields(title=title, body="第一段。\n\n第二段。", starts_on=starts_on, ends_on=ends_on,
                                        ticker=ticker or "", category=category),
            media_dir=app.config["MEDIA_DIR"])
        session.commit()
    return item


def test_an_announcement_appears_on_its_start_date_and_ends_by_itself(app, client, session, world, clock):
    item = publish(session, world, starts_on=date(2026, 3, 20), ends_on=date(2026, 3, 22), app=app)
    page = f"/announcements/{item.public_id}"
    assert client.get(page).status_code == 404  # 18 March: not yet
    assert item.title not in client.get("/announcements/").get_data(as_text=True)
    # Local midnight of the 20th (16:00 UTC on the 19th): it is there, nothing had to run.
    clock.set(datetime(2026, 3, 19, 16, 0, tzinfo=UTC))
    assert item.title in client.get("/announcements/").get_data(as_text=True)
    html = client.get(page).get_data(as_text=True)
    assert "第一段。" in html and "第二段。" in html and "2026年3月20日 至 2026年3月22日" in html
    # The last second of the 22nd, local: still there; the next second: gone, with 410.
    clock.set(datetime(2026, 3, 22, 15, 59, 59, tzinfo=UTC))
    assert client.get(page).status_code == 200
    clock.advance(seconds=1)
    res = client.get(page)
    assert res.status_code == 410 and "已于2026年3月22日结束" in res.get_data(as_text=True)
    assert item.title not in client.get("/announcements/").get_data(as_text=True)


def test_the_list_is_by_date_and_region(app, client, session, world):
    publish(session, world, region="county", title="全县公告", starts_on=date(2026, 3, 1), app=app)
    publish(session, world, region="comm_a1", title="甲一社区公告", starts_on=date(2026, 3, 10), user="staff_a1",
            app=app)
    publish(session, world, region="comm_b1", title="乙一社区公告", starts_on=date(2026, 3, 15), user="staff_b1",
            app=app)
    titles = re.findall(r'<h2><a href="/announcements/\w+">([^<]+)</a>', client.get("/announcements/")
                        .get_data(as_text=True))
    assert titles == ["乙一社区公告", "甲一社区公告", "全县公告"]  # newest first
    town_a = client.get("/announcements/?region=100001").get_data(as_text=True)
    assert "全县公告" in town_a and "甲一社区公告" in town_a and "乙一社区公告" not in town_a
    assert client.get("/announcements/?region=nope").status_code == 404


def test_documents_are_listed_by_category_with_their_files(app, client, session, world):
    actor = session.get(User, world.users["county"])
    with app.app_context():
        item = announcements.publish(
            session, actor, kind=AnnouncementKind.document, region=session.get(Region, world.regions["county"]),
            fields=announcements.Fields(title="测试县低保实施方案", body="全文见附件。", starts_on=date(2026, 1, 1),
                                        ends_on=None, category="plan"),
            files=[announcements.Upload(PDF, "实施方案.pdf"), announcements.Upload(jpeg(), "申请表.png")],
            media_dir=app.config["MEDIA_DIR"])
        session.commit()
    html = client.get("/documents/").get_data(as_text=True)
    assert "实施方案" in html and "测试县低保实施方案" in html and "2 个附件可下载" in html
    page = client.get(f"/announcements/{item.public_id}").get_data(as_text=True)
    assert "实施方案.pdf" in page and "申请表.jpg" in page
    res = client.get(f"/announcements/{item.public_id}/files/0")
    assert res.status_code == 200 and res.mimetype == "application/pdf" and res.data.startswith(b"%PDF-")
    assert "attachment" in res.headers["Content-Disposition"]


@pytest.mark.parametrize("username, region, kind, status", [
    ("staff_a1", "comm_a1", "announcement", 303),
    ("town_a", "town_a", "announcement", 303),
    ("county", "county", "document", 303),
    ("staff_a1", "comm_a2", "announcement", 400),  # another community: not in the form's list
    ("town_b", "town_a", "announcement", 400),
    ("staff_a1", "comm_a1", "document", 403),  # the county's documents
    ("town_a", "town_a", "document", 403),
])
def test_who_publishes_what_where(app, client, session, world, username, region, kind, status):
    login(client, username)
    token = staff_token(client, "/admin/announcements/new")
    res = client.post("/admin/announcements/new", data={
        "csrf_token": token, "kind": kind, "category": "rule" if kind == "document" else "",
        "region_id": world.regions[region], "title": "春节期间办理安排", "body": "节日期间照常受理。",
        "starts_on": "2026-03-18", "ends_on": "2026-03-31"}, content_type="multipart/form-data")
    assert res.status_code == status
    if status == 400:
        assert "请选择发布范围" in res.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(func.count(Announcement.id))) == (1 if status == 303 else 0)


def test_publishing_with_a_picture_and_withdrawing(app, client, session, world):
    login(client, "staff_a1")
    token = staff_token(client, "/admin/announcements/new")
    res = client.post("/admin/announcements/new", data={
        "csrf_token": token, "kind": "announcement", "region_id": world.regions["comm_a1"],
        "title": "入户调查时间安排", "body": "本周六上午入户调查。", "ticker": "本周六上午入户调查，请在家等候",
        "starts_on": "2026-03-18", "ends_on": "2026-03-25", "picture": (io.BytesIO(jpeg()), "p.jpg")},
        content_type="multipart/form-data")
    assert res.status_code == 303
    item = session.scalar(select(Announcement))
    assert item.picture_key and item.ticker == "本周六上午入户调查，请在家等候"
    assert client.get(f"/announcements/{item.public_id}/picture").status_code == 200
    with app.app_context():
        assert announcements.ticker(session, session.get(Region, world.regions["comm_a1"])) == [item.ticker]
        assert announcements.ticker(session, session.get(Region, world.regions["comm_a2"])) == []
    edit = f"/admin/announcements/{item.id}"
    res = client.post(edit + "/withdraw", data={"csrf_token": staff_token(client, edit), "reason": "时间改了"})
    assert res.status_code == 303
    assert client.get(f"/announcements/{item.public_id}").status_code == 410
    assert client.get(f"/announcements/{item.public_id}/picture").status_code == 410
    session.rollback()
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == item.public_id)).all()
    assert actions == ["announcement_published", "announcement_withdrawn"]


def test_an_announcement_needs_an_end_date_after_its_start(app, client, session, world):
    login(client, "staff_a1")
    token = staff_token(client, "/admin/announcements/new")
    base = {"csrf_token": token, "kind": "announcement", "region_id": world.regions["comm_a1"], "title": "标题",
            "body": "正文", "starts_on": "2026-03-18"}
    res = client.post("/admin/announcements/new", data={**base, "ends_on": ""})
    assert res.status_code == 400 and "公告要有结束日期" in res.get_data(as_text=True)
    res = client.post("/admin/announcements/new", data={**base, "ends_on": "2026-03-01"})
    assert res.status_code == 400 and "结束日期不能早于开始日期" in res.get_data(as_text=True)
    assert session.scalar(select(func.count(Announcement.id))) == 0

