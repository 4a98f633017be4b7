"""Issue 14, item 1: 网上申请 — apply on the portal without an account, track it by code, and the community's
answer: accept (an ``applied`` case with everything typed) or return with 一次性告知."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text

from dibao import applications
from dibao.models import AuditEvent, Case, Member, Region, Stage
from dibao.models.application import Application, ApplicationStatus, DocumentKind
from dibao.models.notification import Notification, NotifyChannel
from dibao.models.records import Attachment
from tests.application_helpers import (
    ID,
    MEMBER_ID,
    PHONE,
    application_data,
    login,
    only,
    receipt_code,
    staff_token,
    submit,
)
from tests.factories import make_case
from tests.feedback_helpers import jpeg


def count(session, model=Application) -> int:
    session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    return session.scalar(select(func.count(model.id)))


# --- applying -------------------------------------------------------------------------------------------

def test_an_application_is_filed_and_tracked_without_showing_who_applied(app, client, session, world):
    res = submit(client)
    assert res.status_code == 303 and res.headers["Location"].endswith("/apply/receipt")
    code = receipt_code(client)

    application = only(session)
    assert application.status == ApplicationStatus.submitted
    assert application.head_id_number == ID and application.head_phone == PHONE
    raw = session.execute(text("SELECT head_id_number FROM application")).scalar()
    assert ID not in raw  # encrypted at rest
    assert [(m.name, m.relation, m.age) for m in application.members] == [("王小军", "子女", 17)]
    assert [d.kind for d in application.documents] == [DocumentKind.material]
    # 2026-03-18 is a Wednesday: three working days later is Monday the 23rd.
    assert application.deadline == date(2026, 3, 23)

    page = client.get(f"/track/{code}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "private, no-store"
    assert "已提交，等待社区受理" in html and "测试县甲镇甲一社区" in html and "2026年3月23日 前" in html
    for secret in (ID, PHONE, "王秀兰", "王小军", "幸福路", "种菜", MEMBER_ID):
        assert secret not in html
    # The code is found however a resident types it.
    assert client.get(f"/track?code={code[:5].lower()}-{code[5:].lower()}").headers["Location"].endswith(code)


def test_every_problem_is_listed_at_the_top_and_nothing_is_saved(app, client, session, world):
    res = submit(client, head_name="", head_id_number="110101195003071234", head_phone="123", reason="困难",
                 check_consent="", region="", **{"members-1-name": "李四"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    summary = html.split('data-error-summary', 1)[1].split("</div>", 1)[0]
    for message in ("请选择您家所在的社区（村）", "请填写申请人姓名", "身份证号码校验不通过", "电话号码格式不对",
                    "至少 10 个字", "请勾选同意", "请选择与申请人的关系", "请填写正确的年龄"):
        assert message in summary, message
    assert 'href="#members-1-relation"' in summary
    assert 'value="李四"' in html  # what was typed stays …
    assert ID[:-1] not in html and PHONE not in html and MEMBER_ID not in html  # … but no ID number or phone
    assert "身份证号码和电话号码没有保留" in html
    for name in ("head_id_number", "head_phone"):  # … and beside each box that was emptied (portal.forms)
        box = html.split(f'id="field-{name}"', 1)[1].split("</div>", 1)[0]
        assert "这个号码没有保留在页面上，请重新填写" in box and f"{name}-retype" in box, name
    assert "这个号码没有保留" not in html.split('id="field-proxy_phone"', 1)[1].split("</div>", 1)[0]  # not typed
    assert count(session) == 0


def test_a_relative_applying_must_add_the_authorisation(app, client, session, world):
    import io

    res = submit(client, by_proxy="proxy", proxy_name="王小军", proxy_relation="子女", proxy_phone="13900001111")
    assert res.status_code == 400 and "委托书" in res.get_data(as_text=True)
    data = application_data(client, by_proxy="proxy", proxy_name="王小军", proxy_relation="子女",
                            proxy_phone="13900001111")
    data["authorisation"] = (io.BytesIO(jpeg(color=(10, 10, 200))), "weituo.jpg")
    res = client.post("/apply", data=data, content_type="multipart/form-data")
    assert res.status_code == 303
    application = only(session)
    assert application.by_proxy and application.proxy_phone == "13900001111"
    assert [d.kind for d in application.documents] == [DocumentKind.authorisation]


def test_honeypot_bad_photo_and_double_submit(app, client, session, world):
    assert submit(client, website="http://spam").status_code == 400
    res = submit(client, files=[b"not an image"])
    assert res.status_code == 400 and "第 1 张材料照片" in res.get_data(as_text=True)
    assert count(session) == 0
    data = application_data(client)
    assert client.post("/apply", data=data).status_code == 303
    assert client.post("/apply", data=data).status_code == 303  # the same form again: the same application
    assert count(session) == 1
    # A second, different form for the same ID number while the first waits is filed like any other: the public
    # answer never says someone applied already (staff see both, tests/test_apply_privacy.py).
    res = submit(client)
    assert res.status_code == 303 and "已经有一份网上申请" not in res.get_data(as_text=True)
    assert count(session) == 2


def test_the_deadline_counts_working_days_across_a_holiday(app, client, session, world, clock):
    clock.set(datetime(2026, 9, 30, 2, 0, tzinfo=UTC))  # the day before the National Day holiday
    assert submit(client).status_code == 303
    deadline = only(session).deadline
    assert deadline > date(2026, 10, 7)  # 1–7 October are not working days
    from dibao import workdays

    assert workdays.workdays_between(date(2026, 9, 30), deadline) == 3


# --- the community's answer --------------------------------------------------------------------------------

@pytest.fixture
def filed(app, client, session, world):
    assert submit(client).status_code == 303
    code = receipt_code(client)

    return only(session), code


def test_staff_inbox_is_scoped_and_shows_the_deadline(app, client, session, world, filed, clock):
    application, _code = filed
    login(client, "staff_a1")
    html = client.get("/admin/applications/").get_data(as_text=True)
    assert application.tracking_code in html and "2026-03-23" in html and "已超期 " not in html
    clock.advance(days=6)  # Tuesday the 24th: one day late
    login(client, "staff_a1")  # (the idle session ended meanwhile)
    html = client.get("/admin/applications/?state=overdue").get_data(as_text=True)
    assert application.tracking_code in html and "已超期 1 天" in html
    detail = client.get(f"/admin/applications/{application.id}").get_data(as_text=True)
    assert ID in detail and PHONE in detail  # staff see what they need
    login(client, "staff_a2")  # another community
    assert application.tracking_code not in client.get("/admin/applications/?state=all").get_data(as_text=True)
    assert client.get(f"/admin/applications/{application.id}").status_code == 404


def test_accepting_registers_the_applied_case_with_everything_typed(app, client, session, world, filed, clock):
    application, code = filed
    clock.advance(days=1)
    login(client, "staff_a1")
    token = staff_token(client, f"/admin/applications/{application.id}")
    res = client.post(f"/admin/applications/{application.id}/accept", data={"csrf_token": token})
    assert res.status_code == 303
    session.rollback()
    case = session.scalar(select(Case))
    assert res.headers["Location"].endswith(f"/admin/cases/{case.id}")
    assert case.stage == Stage.applied and case.region_id == world.regions["comm_a1"]
    assert case.head_name == "王秀兰" and case.head_id_number == ID and case.head_phone == PHONE
    assert case.accepted_at == clock.now()  # the case's deadlines start at acceptance
    members = session.scalars(select(Member).where(Member.case_id == case.id).order_by(Member.position)).all()
    assert [(m.name, m.relation, m.age) for m in members] == [("王秀兰", "本人", 76), ("王小军", "子女", 17)]
    assert members[1].id_number == MEMBER_ID
    attachments = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
    assert len(attachments) == 1 and "网上申请" in attachments[0].title
    application = only(session)
    assert application.status == ApplicationStatus.accepted and application.case_id == case.id
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "application_accepted")) == 1
    sms = only(session, Notification)
    assert sms.channel == NotifyChannel.sms and sms.recipient == PHONE and "已由甲一社区受理" in sms.body

    assert "已受理，案件" in client.get(res.headers["Location"]).get_data(as_text=True)  # the case page, flashed
    html = client.get(f"/track/{code}").get_data(as_text=True)
    assert "已受理，正在办理" in html and "等待入户调查" in html and case.number not in html
    # It cannot be answered twice.
    res = client.post(f"/admin/applications/{application.id}/accept", data={"csrf_token": token})
    assert res.status_code == 409 and count(session, Case) == 1


def test_returning_tells_every_missing_item_once(app, client, session, world, filed):
    application, code = filed
    login(client, "staff_a1")
    token = staff_token(client, f"/admin/applications/{application.id}")
    url = f"/admin/applications/{application.id}/return"
    res = client.post(url, data={"csrf_token": token, "other": "  ", "note": ""})
    assert res.status_code == 400 and "至少一项" in res.get_data(as_text=True)
    res = client.post(url, data={"csrf_token": token, "items": ["户口簿（户主页和每位成员页）"],
                                 "other": "王小军的学生证\n- 2025 年的医药费发票", "note": "材料可以拍照上传。"})
    assert res.status_code == 303
    application = only(session)
    assert application.status == ApplicationStatus.returned
    assert application.missing_items == ["户口簿（户主页和每位成员页）", "王小军的学生证", "2025 年的医药费发票"]
    assert "需要补充材料" in only(session, Notification).body

    html = client.get(f"/track/{code}").get_data(as_text=True)
    assert "需要补齐的材料（一次性告知）" in html
    items = re.findall(r"<li>([^<]+)</li>", html.split('class="missing-items"', 1)[1].split("</ol>", 1)[0])
    assert items == application.missing_items
    assert "材料可以拍照上传。" in html and 'href="/apply"' in html
    # 一次性: no second return.
    res = client.post(url, data={"csrf_token": token, "other": "还有一项"})
    assert res.status_code == 409
    assert only(session).missing_items == application.missing_items


@pytest.mark.parametrize("username, status", [("town_a", 403), ("county", 403), ("admin", 403), ("staff_a2", 404),
                                              ("staff_b1", 404), ("town_b", 404)])
def test_only_the_communitys_own_staff_answer(app, client, session, world, filed, username, status):
    application, _code = filed
    login(client, username)
    token = staff_token(client, "/admin/")
    for action, data in (("accept", {}), ("return", {"other": "身份证"})):
        res = client.post(f"/admin/applications/{application.id}/{action}", data={"csrf_token": token, **data})
        assert res.status_code == status, action
    assert only(session).status == ApplicationStatus.submitted
    assert count(session, Case) == 0
    assert count(session, Notification) == 0


def test_accepting_a_household_that_already_has_a_case_is_refused(app, client, session, world, filed):
    application, _code = filed
    make_case(session, session.get(Region, world.regions["comm_a1"]), stage=Stage.investigating, id_number=ID)
    session.commit()
    login(client, "staff_a1")
    token = staff_token(client, f"/admin/applications/{application.id}")
    res = client.post(f"/admin/applications/{application.id}/accept", data={"csrf_token": token})
    assert res.status_code == 409 and "不能重复登记" in res.get_data(as_text=True)
    assert only(session).status == ApplicationStatus.submitted
    assert count(session, Case) == 1


def test_document_photos_are_staff_only(app, client, session, world, filed):
    application, _code = filed
    doc = application.documents[0]
    assert client.get(f"/admin/applications/documents/{doc.id}").status_code in (302, 401)
    login(client, "staff_a1")
    assert client.get(f"/admin/applications/documents/{doc.id}/thumb").status_code == 200
    login(client, "staff_b1")
    assert client.get(f"/admin/applications/documents/{doc.id}").status_code == 404


def test_lookup_unknown_code_is_none(app, session):
    with app.app_context():
        assert applications.lookup(session, "ABCDEFGHJK") is None
        assert applications.lookup(session, "nonsense!") is None

