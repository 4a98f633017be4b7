"""Issue 4: the staff side — compose, preview per channel, publish, schedule, withdraw; disclosure editor;
content pages."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

from sqlalchemy import select

from dibao import audit
from dibao import clock as app_clock
from dibao.models import Case, Level, NoticeBatch, Stage
from tests.conftest import csrf_token
from tests.factories import case_awaiting_notice
from tests.notice_helpers import _region


def _batch(session):
    session.rollback()  # end the test session's read snapshot: the requests wrote in their own sessions
    return session.scalar(select(NoticeBatch))


def _cases(session, n=2, community="100001001", level=Level.town):
    region = _region(session, community)
    cases = [case_awaiting_notice(session, region, level, head_name=f"孙{'一二三四五'[i]}明") for i in range(n)]
    session.commit()
    return cases


def test_town_reviewer_composes_previews_and_publishes(client, auth, world, session, clock):
    cases = _cases(session, 2)
    other_town = _cases(session, 1, community="100002001")
    auth.login("town_a")
    html = client.get("/admin/notices/new").get_data(as_text=True)
    assert "新建乡镇（街道）公示" in html
    assert all(c.number in html for c in cases) and other_town[0].number not in html
    token = csrf_token(client, "/admin/notices/new")
    form = {"csrf_token": token, "title": "甲镇第一批审核公示", "window_days": "7", "opens_at": "",
            "case_id": [str(c.id) for c in cases]}
    res = client.post("/admin/notices/preview", data=form)
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    for label in ("社区公示终端", "纸质公示栏", "公众网站", "开放数据接口"):
        assert label in html
    assert "孙一明" in html and "孙*明" in html  # full name inside the community, masked outside
    assert '"name": "孙*明"' in unescape(html)  # the API sample
    assert _batch(session) is None  # a preview publishes nothing
    res = client.post("/admin/notices/publish", data={**form, "case_id": [], "case_ids": f"{cases[0].id},{cases[1].id}"})
    assert res.status_code == 302
    batch = _batch(session)
    assert res.headers["Location"].endswith(f"/admin/notices/{batch.public_id}")
    html = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "公示已发布，共 2 户" in html and batch.fingerprint in html
    session.rollback()
    assert {session.get(Case, c.id).stage for c in cases} == {Stage.town_notice}
    assert "孙*明" in client.get("/notices/100001001").get_data(as_text=True)
    assert "甲镇第一批审核公示" in client.get("/admin/notices/").get_data(as_text=True)


def test_preview_without_cases_explains(client, auth, world, session, clock):
    _cases(session, 1)
    auth.login("town_a")
    token = csrf_token(client, "/admin/notices/new")
    res = client.post("/admin/notices/preview", data={"csrf_token": token, "title": "t", "window_days": "7"})
    assert res.status_code == 400 and "请至少选择一户" in res.get_data(as_text=True)


def test_schedule_through_the_ui(client, auth, world, session, clock):
    cases = _cases(session, 1)
    auth.login("town_a")
    token = csrf_token(client, "/admin/notices/new")
    base = {"csrf_token": token, "title": "定时公示", "window_days": "7", "case_ids": str(cases[0].id)}
    # local time 2026-03-19 09:00 = 01:00 UTC
    res = client.post("/admin/notices/schedule", data={**base, "opens_at": ""})
    assert res.status_code == 400 and "请填写定时发布的时间" in res.get_data(as_text=True)
    res = client.post("/admin/notices/schedule", data={**base, "opens_at": "2026-03-18T09:00"})
    assert res.status_code == 400 and "不能早于现在" in res.get_data(as_text=True)
    res = client.post("/admin/notices/schedule", data={**base, "opens_at": "2026-03-19T09:00"})
    assert res.status_code == 302
    batch = _batch(session)
    assert batch.opens_at == clock.t0 + timedelta(hours=23)
    assert "孙" not in client.get("/notices/").get_data(as_text=True)
    clock.set(batch.opens_at)
    assert "孙*明" in client.get("/notices/").get_data(as_text=True)


def test_withdraw_through_the_ui_requires_a_reason(client, auth, world, session, clock):
    cases = _cases(session, 2)
    auth.login("town_a")
    token = csrf_token(client, "/admin/notices/new")
    client.post("/admin/notices/publish", data={"csrf_token": token, "title": "撤回测试", "window_days": "7",
                                                 "case_ids": f"{cases[0].id},{cases[1].id}"})
    batch = _batch(session)
    entry = batch.entries[0]
    url = f"/admin/notices/{batch.public_id}"
    res = client.post(f"{url}/entries/{entry.public_id}/withdraw", data={"csrf_token": token, "reason": ""},
                      follow_redirects=True)
    assert "请写明撤回原因" in res.get_data(as_text=True)
    res = client.post(f"{url}/entries/{entry.public_id}/withdraw",
                      data={"csrf_token": token, "reason": "户籍信息有误，核实后重新公示"}, follow_redirects=True)
    assert "已撤回" in res.get_data(as_text=True)
    assert client.get(f"/notices/e/{entry.public_id}").status_code == 410
    res = client.post(f"{url}/withdraw", data={"csrf_token": token, "reason": "整批材料需要补充"}, follow_redirects=True)
    assert "已撤回" in res.get_data(as_text=True)
    session.rollback()
    assert {session.get(Case, c.id).stage for c in cases} == {Stage.awaiting_town_notice}
    actions = [e.action for e in audit.events_for(session, "notice_batch", batch.public_id)]
    assert actions == ["notice_batch_published", "notice_batch_withdrawn"]


def test_other_town_cannot_see_or_withdraw(client, auth, world, session, clock):
    cases = _cases(session, 1)
    auth.login("town_a")
    token = csrf_token(client, "/admin/notices/new")
    client.post("/admin/notices/publish", data={"csrf_token": token, "title": "甲镇", "window_days": "7",
                                                 "case_ids": str(cases[0].id)})
    batch = _batch(session)
    auth.logout()
    auth.login("town_b")
    assert client.get(f"/admin/notices/{batch.public_id}").status_code == 404
    token = csrf_token(client, "/admin/")
    assert client.post(f"/admin/notices/{batch.public_id}/withdraw",
                       data={"csrf_token": token, "reason": "越权撤回尝试"}).status_code == 404
    assert "甲镇" not in client.get("/admin/notices/").get_data(as_text=True).split("<main", 1)[1]


def test_disclosure_policy_editor_changes_every_channel(client, auth, world, session, clock):
    from tests.notice_helpers import publish_town_batch

    publish_town_batch(session, 1, head_name="王小明")
    assert "王*明" in client.get("/notices/100001001").get_data(as_text=True)
    etag = client.get("/api/v1/notices").headers["ETag"]
    auth.login("county")
    token = csrf_token(client, "/admin/disclosure")
    grid = {f"{ch}-{f}": "hidden" for ch in ("kiosk", "print", "web", "api")
            for f in ("name", "photo", "address", "household_size", "income", "amount", "opinion")}
    assert client.post("/admin/disclosure", data={"csrf_token": token, **grid}).status_code == 403
    auth.logout()
    auth.login("admin")
    token = csrf_token(client, "/admin/disclosure")
    page = client.get("/admin/disclosure").get_data(as_text=True)
    assert "身份证号码" in page and "公众网站" in page
    from dibao.disclosure import DEFAULT, Channel, Field

    form = {f"{ch.value}-{f.value}": DEFAULT.mode(ch, f) for ch in Channel for f in Field}
    form["web-name"] = "hidden"
    form["api-amount"] = "hidden"
    bad = client.post("/admin/disclosure", data={"csrf_token": token, **form, "web-income": "bogus"})
    assert bad.status_code == 400 and "设置无效" in bad.get_data(as_text=True)
    res = client.post("/admin/disclosure", data={"csrf_token": token, **form})
    assert res.status_code == 302
    assert "王" not in client.get("/notices/100001001").get_data(as_text=True).split('id="board"', 1)[1]
    res = client.get("/api/v1/notices", headers={"If-None-Match": etag})
    assert res.status_code == 200 and "monthly_amount" not in res.get_data(as_text=True)
    assert audit.events_for(session, "disclosure_policy", None) == []  # object_id None is stored as NULL
    events = [e for e in session.scalars(select(__import__("dibao.models", fromlist=["AuditEvent"]).AuditEvent))
              if e.action == "disclosure_policy_saved"]
    assert len(events) == 1 and "web.name" in events[0].details


def test_content_pages_edited_by_admin_show_on_the_portal(client, auth, world, session):
    auth.login("admin")
    token = csrf_token(client, "/admin/content/policy")
    res = client.post("/admin/content/policy", data={"csrf_token": token, "title": "阳光县低保政策",
                                                     "body": "第一段<script>alert(1)</script>\n\n- 条目一\n- 条目二"})
    assert res.status_code == 302
    html = client.get("/policies/policy").get_data(as_text=True)
    assert "阳光县低保政策" in html and "<li>条目一</li>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    auth.logout()
    auth.login("town_a")
    token = csrf_token(client, "/admin/content/policy")
    res = client.post("/admin/content/policy", data={"csrf_token": token, "title": "x", "body": "y"})
    assert res.status_code == 403


def test_admin_nav_links(client, auth, world):
    auth.login("admin")
    html = client.get("/admin/").get_data(as_text=True)
    for href in ("/admin/notices/", "/admin/disclosure", "/admin/content/"):
        assert href in html
    assert app_clock.now()  # the clock fixture is active


def test_community_staff_see_only_their_households_of_a_town_board(client, auth, world, session, clock):
    from dibao import notices as domain
    from tests.notice_helpers import _user

    own = case_awaiting_notice(session, _region(session, "100001001"), Level.town, head_name="本社区户")
    neighbour = case_awaiting_notice(session, _region(session, "100001002"), Level.town, head_name="邻社区户")
    session.commit()
    batch = domain.publish(session, _user(session, "town_a"), case_ids=[own.id, neighbour.id], title="甲镇合并公示")
    session.commit()
    auth.login("staff_a1")
    html = client.get(f"/admin/notices/{batch.public_id}").get_data(as_text=True)
    assert "本社区户" in html and "邻社区户" not in html
    auth.logout()
    auth.login("staff_b1")
    assert client.get(f"/admin/notices/{batch.public_id}").status_code == 404


def test_preview_shows_the_photo_consent_without_a_broken_image(app, client, auth, world, session, clock):
    import io

    from PIL import Image

    from dibao import media

    buf = io.BytesIO()
    Image.new("RGB", (40, 40)).save(buf, format="JPEG")
    key = media.store_image(buf.getvalue(), app.config["MEDIA_DIR"]).key
    case = case_awaiting_notice(session, _region(session, "100001001"), Level.town, photo_key=key, photo_consent=True)
    session.commit()
    auth.login("town_a")
    token = csrf_token(client, "/admin/notices/new")
    html = client.post("/admin/notices/preview", data={"csrf_token": token, "title": "t", "window_days": "7",
                                                       "case_id": [str(case.id)]}).get_data(as_text=True)
    assert "有照片，已书面同意公开" in html and "preview-1/photo" not in html
