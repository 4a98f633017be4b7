"""Issue 3: the case screens — list with live search and masking, registration, the archive, step forms,
attachments and the standards screen."""

import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import func, select

from dibao.models import AuditEvent, Case, Stage
from dibao.models.records import Attachment, HomeVisit, Standard
from tests.case_helpers import fresh, register, standard, to_stage, user, valid_id
from tests.conftest import csrf_token
from tests.factories import tiny_pdf


@pytest.fixture
def seeded(session, world):
    standard(session, world)
    session.commit()
    return world



def _token(client, path):
    return csrf_token(client, path)


def test_staff_registers_a_case_and_adds_members_and_incomes(client, auth, session, seeded):
    auth.login("staff_a1")
    res = client.get("/admin/cases/new")
    assert res.status_code == 200 and "登记低保申请" in res.get_data(as_text=True)
    idn = valid_id("19580312")
    res = client.post("/admin/cases/new", data={
        "csrf_token": _token(client, "/admin/cases/new"), "head_name": "周秀英", "head_id_number": idn,
        "head_age": "68", "head_health": "糖尿病", "head_work_capacity": "none", "head_phone": "13912345678",
        "address": "甲一社区 幸福路 8 号 2 单元 301 室", "public_address": "幸福路 8 号", "category": "1",
    })
    assert res.status_code == 302
    case = session.scalars(select(Case)).one()
    assert case.stage == Stage.applied and case.head_id_number == idn and case.household_size == 1
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "周秀英" in page and idn in page  # staff see the full number on the archive page
    assert "记录入户调查" in page

    token = _token(client, f"/admin/cases/{case.id}")
    res = client.post(f"/admin/cases/{case.id}/members", data={
        "csrf_token": token, "name": "周小军", "relation": "子女", "age": "35", "work_capacity": "full",
        "deduction": "200", "deduction_note": "就业通勤成本"})
    assert res.status_code == 302
    fresh(session)
    case = session.get(Case, case.id)
    son = case.members[1]
    res = client.post(f"/admin/cases/{case.id}/members/{son.id}/incomes", data={
        "csrf_token": token, "source": "wage", "amount": "1200", "note": "保安"})
    assert res.status_code == 302
    res = client.post(f"/admin/cases/{case.id}/members/{case.members[0].id}/incomes", data={
        "csrf_token": token, "source": "special_care", "amount": "300"})
    assert res.status_code == 302
    fresh(session)
    case = session.get(Case, case.id)
    assert case.computed_amount == Decimal("560.00")  # 780×2 − (1200 − 200); the 300 special-care not counted
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "不计入" in page and "560.00" in page and "(780.00 − 500.00) × 2" in page


@pytest.mark.parametrize("data,message", [
    ({"head_id_number": "340102195803121230"}, "校验不通过"),
    ({"head_id_number": "12345"}, "18 位"),
    ({"head_phone": "12345"}, "电话号码格式不对"),
    ({"head_name": ""}, "请填写户主姓名"),
])
def test_registration_refuses_bad_input_and_saves_nothing(client, auth, session, seeded, data, message):
    auth.login("staff_a1")
    form = {"csrf_token": _token(client, "/admin/cases/new"), "head_name": "周秀英", "head_id_number": valid_id(),
            "head_age": "68", "head_work_capacity": "none", "address": "幸福路 8 号", "category": "1", **data}
    res = client.post("/admin/cases/new", data=form)
    assert res.status_code == 400
    assert message in res.get_data(as_text=True)
    fresh(session)
    assert session.scalar(select(func.count(Case.id))) == 0


def test_only_community_staff_may_register(client, auth, seeded):
    auth.login("town_a")
    assert client.get("/admin/cases/new").status_code == 403


def test_list_masks_and_searches_live(client, auth, session, seeded):
    staff = user(session, seeded, "staff_a1")
    register(session, staff, head_name="李桂兰", head_id_number="350102196001011234", head_phone="13812341234")
    register(session, staff, head_name="王建国", head_id_number=valid_id())
    session.commit()
    auth.login("staff_a1")
    page = client.get("/admin/cases/").get_data(as_text=True)
    assert "35*************234" in page and "350102196001011234" not in page
    assert "138****1234" in page and "13812341234" not in page
    assert 'hx-trigger="input changed delay:300ms' in page and 'hx-get="/admin/cases/"' in page
    # The same URL answers an htmx request with the table fragment only.
    res = client.get("/admin/cases/?q=王建", headers={"HX-Request": "true"})
    html = res.get_data(as_text=True)
    assert "王建国" in html and "李桂兰" not in html and "<html" not in html
    full = client.get("/admin/cases/?q=王建").get_data(as_text=True)
    assert "<html" in full and "王建国" in full and "李桂兰" not in full
    assert "HX-Request" in res.headers["Vary"]
    restored = client.get("/admin/cases/?q=王建", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restored.get_data(as_text=True)  # the back button gets the whole page


def test_valid_id_helper_makes_valid_numbers():
    from dibao.identity import normalise_id_number

    assert normalise_id_number("350102196001011234") == "350102196001011234"
    assert normalise_id_number(valid_id()) is not None


def test_list_filters(client, auth, session, seeded, clock):
    staff = user(session, seeded, "staff_a1")
    clock.set(datetime(2026, 2, 12, 2, tzinfo=UTC))  # accepted Thu 12 Feb, before the Spring Festival
    late = register(session, staff, head_name="超期户", category=3)
    clock.set(datetime(2026, 3, 18, 2, tzinfo=UTC))
    fresh = register(session, staff, head_name="新申请", head_id_number=valid_id())
    other = register(session, user(session, seeded, "staff_a2"), head_name="甲二户", head_id_number=valid_id())
    session.commit()
    auth.login("county")
    page = client.get("/admin/cases/?overdue=home_visit").get_data(as_text=True)
    assert "超期户" in page and "新申请" not in page and "入户调查超期" in page
    page = client.get("/admin/cases/?category=3").get_data(as_text=True)
    assert "超期户" in page and "新申请" not in page
    page = client.get(f"/admin/cases/?community={other.region_id}").get_data(as_text=True)
    assert "甲二户" in page and "超期户" not in page
    page = client.get("/admin/cases/?stage=applied").get_data(as_text=True)
    assert all(name in page for name in ("超期户", "新申请", "甲二户"))
    assert "甲二户" not in client.get("/admin/cases/?stage=active").get_data(as_text=True)
    assert client.get("/admin/cases/?stage=nonsense").status_code == 400
    assert late.id and fresh.id


def test_dashboard_shows_overdue_counts_for_the_users_region(client, auth, session, seeded, clock):
    clock.set(datetime(2026, 2, 12, 2, tzinfo=UTC))
    register(session, user(session, seeded, "staff_a1"), head_name="超期户")
    register(session, user(session, seeded, "staff_b1"), head_name="乙户", head_id_number=valid_id())
    session.commit()
    clock.set(datetime(2026, 3, 18, 2, tzinfo=UTC))
    auth.login("town_a")
    page = client.get("/admin/").get_data(as_text=True)
    assert re.search(r"入户调查超期 <strong>1</strong>", page)
    auth.logout()
    auth.login("county")
    page = client.get("/admin/").get_data(as_text=True)
    assert re.search(r"入户调查超期 <strong>2</strong>", page)
    # 30 working days from Thu 12 Feb (Spring Festival off, Sat 14 and Sat 28 Feb on) end on Wed 1 Apr.
    assert re.search(r"办结超期 <strong>0</strong>", page)
    clock.set(datetime(2026, 4, 1, 15, 59, tzinfo=UTC))  # 23:59 on 1 Apr locally: still in time
    client.get("/admin/")  # the idle session expired while the clock jumped: sign in again
    auth.login("county")
    assert re.search(r"办结超期 <strong>0</strong>", client.get("/admin/").get_data(as_text=True))
    clock.set(datetime(2026, 4, 1, 16, 0, tzinfo=UTC))  # 00:00 on 2 Apr locally (a minute later)
    assert re.search(r"办结超期 <strong>2</strong>", client.get("/admin/").get_data(as_text=True))


def _visit_form(token, **over):
    data = {"csrf_token": token, "visited_on": "2026-03-18", "investigators": "甲一专干\n社区 刘干事",
            "housing": "两居室旧房，无汽车", "inquiry": "户主患病无业", "notes": "", "family_signed": "y"}
    for i in range(3):
        data[f"neighbours-{i}-name"] = f"邻居{i}"
        data[f"neighbours-{i}-relation"] = f"{i + 1}01 室"
        data[f"neighbours-{i}-statement"] = "情况属实"
    data.update(over)
    return data


def test_home_visit_form_and_its_guard(client, auth, session, seeded):
    case = register(session, user(session, seeded, "staff_a1"))
    session.commit()
    auth.login("staff_a1")
    token = _token(client, f"/admin/cases/{case.id}/visit")
    res = client.post(f"/admin/cases/{case.id}/visit", data=_visit_form(token, investigators="甲一专干"))
    assert res.status_code == 400 and "至少需要 2 名调查人员" in res.get_data(as_text=True)
    res = client.post(f"/admin/cases/{case.id}/visit", data=_visit_form(token, **{"neighbours-2-name": "",
                                                                               "neighbours-2-statement": ""}))
    assert res.status_code == 400 and "至少需要走访 3 户" in res.get_data(as_text=True)
    fresh(session)
    assert session.scalar(select(func.count(HomeVisit.id))) == 0
    res = client.post(f"/admin/cases/{case.id}/visit", data=_visit_form(token))
    assert res.status_code == 302
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "甲一专干、社区刘干事" in page and "邻居2" in page and "入户调查" in page
    fresh(session)
    assert session.get(Case, case.id).stage == Stage.investigating


def test_rejection_needs_reason_through_the_form(client, auth, session, seeded):
    case = register(session, user(session, seeded, "staff_a1"))
    session.commit()
    auth.login("staff_a1")
    token = _token(client, f"/admin/cases/{case.id}/reject")
    res = client.post(f"/admin/cases/{case.id}/reject", data={"csrf_token": token, "reason": ""})
    assert res.status_code == 400 and "请写明理由" in res.get_data(as_text=True)
    res = client.post(f"/admin/cases/{case.id}/reject", data={"csrf_token": token, "reason": "申请人主动撤回申请"})
    assert res.status_code == 302
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "申请人主动撤回申请" in page and "甲一专干" in page and "不予批准" in page


def test_county_decision_page_shows_the_computation(client, auth, session, seeded):
    case = register(session, user(session, seeded, "staff_a1"))
    to_stage(session, seeded, case, Stage.county_approval)
    session.commit()
    auth.login("county")
    page = client.get(f"/admin/cases/{case.id}/county-decision").get_data(as_text=True)
    assert "保障金额核算" in page and "960.00" in page
    token = _token(client, f"/admin/cases/{case.id}/county-decision")
    res = client.post(f"/admin/cases/{case.id}/county-decision", data={
        "csrf_token": token, "decision": "approve", "opinion": "同意纳入低保。", "override_amount": "1000",
        "override_reason": ""})
    assert res.status_code == 400 and "理由" in res.get_data(as_text=True)
    res = client.post(f"/admin/cases/{case.id}/county-decision", data={
        "csrf_token": token, "decision": "approve", "opinion": "同意纳入低保。"})
    assert res.status_code == 302, res.get_data(as_text=True)
    fresh(session)
    case = session.get(Case, case.id)
    assert case.stage == Stage.awaiting_county_notice and case.monthly_amount == Decimal("960.00")
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "2026年4月" in page  # payment starts the month after approval


def _png(size=(40, 30)):
    out = io.BytesIO()
    Image.new("RGB", size, (200, 50, 50)).save(out, format="PNG")
    return out.getvalue()


def test_attachments_upload_and_bad_files(client, auth, session, seeded, app, tmp_path):
    case = register(session, user(session, seeded, "staff_a1"))
    session.commit()
    auth.login("staff_a1")
    token = _token(client, f"/admin/cases/{case.id}")
    url = f"/admin/cases/{case.id}/attachments"
    res = client.post(url, data={"csrf_token": token, "title": "户口本",
                                 "file": (io.BytesIO(b"MZ\x90\x00not a picture"), "virus.exe")},
                      content_type="multipart/form-data")
    assert res.status_code == 400 and "只能上传照片或 PDF" in res.get_data(as_text=True)
    res = client.post(url, data={"csrf_token": token, "title": "户口本", "file": (io.BytesIO(b""), "")},
                      content_type="multipart/form-data")
    assert res.status_code == 400 and "请选择要上传的文件" in res.get_data(as_text=True)
    assert session.scalar(select(func.count(Attachment.id))) == 0
    fresh(session)
    events_before = session.scalar(select(func.count(AuditEvent.id)))
    pdf = tiny_pdf()
    res = client.post(url, data={"csrf_token": token, "title": "低保申请书", "file": (io.BytesIO(pdf), "申请书.pdf")},
                      content_type="multipart/form-data")
    assert res.status_code == 302
    res = client.post(url, data={"csrf_token": token, "title": "住房照片", "file": (io.BytesIO(_png()), "a.png")},
                      content_type="multipart/form-data")
    assert res.status_code == 302
    fresh(session)
    docs = session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [d.content_type for d in docs] == ["application/pdf", "image/jpeg"]
    assert session.scalar(select(func.count(AuditEvent.id))) == events_before + 2
    res = client.get(f"/admin/cases/attachments/{docs[0].id}")
    # The stored PDF is the upload re-written without its metadata, and it is downloaded, never shown inline.
    assert res.status_code == 200 and res.data.startswith(b"%PDF-") and "证明".encode("utf-16-be") not in res.data
    assert res.headers["Cache-Control"] == "private, no-store"
    assert res.headers["Content-Disposition"].startswith("attachment;")
    assert client.get(f"/admin/cases/attachments/{docs[1].id}/thumb").status_code == 200
    auth.logout()
    auth.login("staff_b1")  # another town: the document does not exist for them
    assert client.get(f"/admin/cases/attachments/{docs[0].id}").status_code == 404


def test_household_photo_with_consent(client, auth, session, seeded):
    case = register(session, user(session, seeded, "staff_a1"))
    session.commit()
    auth.login("staff_a1")
    token = _token(client, f"/admin/cases/{case.id}")
    res = client.post(f"/admin/cases/{case.id}/photo", data={"csrf_token": token, "consent": "y"},
                      content_type="multipart/form-data")
    assert res.status_code == 400 and "请先上传户照片" in res.get_data(as_text=True)
    res = client.post(f"/admin/cases/{case.id}/photo", data={"csrf_token": token, "consent": "y",
                                                            "photo": (io.BytesIO(_png()), "home.png")},
                      content_type="multipart/form-data")
    assert res.status_code == 302
    fresh(session)
    case = session.get(Case, case.id)
    assert case.photo_key and case.photo_consent and case.photo_consent_at is not None
    assert client.get(f"/admin/cases/{case.id}/photo/thumb").status_code == 200


def test_standards_screen_is_for_admins(client, auth, session, seeded):
    auth.login("admin")
    page = client.get("/admin/standards/").get_data(as_text=True)
    assert "780.00" in page and "新增标准" in page
    county_id = seeded.regions["town_b"]
    token = _token(client, "/admin/standards/")
    res = client.post("/admin/standards/", data={"csrf_token": token, "region_id": county_id,
                                                  "monthly_amount": "800", "effective_from": "2026-07-01",
                                                  "note": "县政府〔2026〕12号"})
    assert res.status_code == 302
    res = client.post("/admin/standards/", data={"csrf_token": token, "region_id": county_id,
                                                  "monthly_amount": "-5", "effective_from": "2026-08-01"})
    assert res.status_code == 400 and "不能为负数" in res.get_data(as_text=True)
    fresh(session)
    assert session.scalar(select(func.count(Standard.id))) == 2
    auth.logout()
    auth.login("county")
    page = client.get("/admin/standards/").get_data(as_text=True)
    assert "780.00" in page and "新增标准" not in page
    token = _token(client, "/admin/standards/")
    res = client.post("/admin/standards/", data={"csrf_token": token, "region_id": county_id,
                                                  "monthly_amount": "900", "effective_from": "2026-09-01"})
    assert res.status_code == 403
    fresh(session)
    assert session.scalar(select(func.count(Standard.id))) == 2


def test_case_form_choices_follow_the_chosen_language(client, auth, world):
    """Module-level choice labels stay lazy: staff who chose English see English options."""
    auth.login("staff_a1")
    client.get("/lang/en")
    html = client.get("/admin/cases/new").get_data(as_text=True)
    assert "Able to work" in html
    assert "有劳动能力" not in html
