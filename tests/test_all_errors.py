"""A form with several problems shows them all at once, each beside its field, and saves nothing: the domain
collects its checks (dibao.errors.collect) and raises one error with every problem; dibao.web.attach_error puts
each beside its field; the error pages and the API's JSON list them all."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dibao import announcements, applications, cases, household, kiosks
from dibao import clock as app_clock
from dibao.errors import Conflict, Forbidden, Invalid, NotFound, collect
from dibao.models import Case, Member, MemberIncome, Objection, Region, Report, Stage
from dibao.models.application import Application
from dibao.models.household import MemberChange, MemberChangeKind, Transfer, TransferKind
from dibao.web import attach_error
from tests.application_helpers import ID
from tests.application_helpers import submit as submit_application
from tests.case_helpers import register, standard, to_stage, user, valid_id
from tests.conftest import csrf_token
from tests.factories import make_case
from tests.feedback_helpers import form_fields, objection_data, open_entry


def count(session, model) -> int:
    session.rollback()  # a new snapshot: what the requests committed
    return session.scalar(select(func.count()).select_from(model))


def field_error(html: str, field_id: str) -> str:
    """The message shown beside a field (its ``<p class="error" id="…-err">``)."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-err"[^>]*>(.*?)</p>', html, re.S)
    return match.group(1) if match else ""


def summary(html: str) -> str:
    """The error summary at the top of a public form."""
    match = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    return match.group(0) if match else ""


# --- the error itself ------------------------------------------------------------------------------------

def test_one_problem_is_raised_as_it_always_was(app):
    with app.app_context(), pytest.raises(Invalid) as caught, collect() as problems:
        problems.add("name", "请填写姓名。")
    err = caught.value
    assert (err.field, str(err.message), str(err), err.status) == ("name", "请填写姓名。", "请填写姓名。", 400)
    assert err.field_problems == [("name", "请填写姓名。")]
    single = Invalid("请填写姓名。", field="name")  # a plain Invalid: unchanged
    assert single.field_problems == [("name", "请填写姓名。")] and single.message == "请填写姓名。"


def test_several_problems_are_one_error_with_all_of_them(app):
    with app.test_request_context(), pytest.raises(Invalid) as caught, collect() as problems:
        problems.add("name", "请填写姓名。")
        problems.check(cases._age, 200)  # a check that raises: kept, and the block goes on
        problems.add("address", "请填写家庭住址。")
    err = caught.value
    assert err.status == 400 and err.field == "name"
    assert [(f, str(m)) for f, m in err.field_problems] == [
        ("name", "请填写姓名。"), ("age", "请填写正确的年龄（0–130）。"), ("address", "请填写家庭住址。")]
    assert str(err.message) == "有 3 处需要修改：请填写姓名。 请填写正确的年龄（0–130）。 请填写家庭住址。"


def test_conflicts_alone_keep_their_status_and_refusals_of_scope_end_the_block(app):
    with app.app_context(), pytest.raises(Conflict) as caught, collect() as problems:
        problems.add_error(Conflict("已被使用。", field="a"))
        problems.add_error(Conflict("已有一条。", field="b"))
    assert caught.value.status == 409 and len(caught.value.field_problems) == 2
    with app.app_context(), pytest.raises(Forbidden), collect() as problems:
        problems.add("a", "x")
        raise Forbidden("没有权限。")
    with app.app_context(), pytest.raises(Invalid) as caught, collect() as problems:
        problems.add("a", "第一处。")
        raise Invalid("第二处。", field="b")  # raised in the block: reported with those before it
    assert [f for f, _m in caught.value.field_problems] == ["a", "b"]


def test_attach_error_puts_each_problem_beside_its_field(app):
    from portal.forms import ApplicationForm

    with app.test_request_context(method="POST", data={}):
        form = ApplicationForm(meta={"csrf": False})
        form.validate()
        attach_error(form, Invalid.many([("head_name", "甲。"), ("members-1-age", "乙。"), (None, "丙。"),
                                         ("submission_id", "丁。")]))
        assert "甲。" in form.head_name.errors
        assert form.members[1].form.age.errors == ["乙。"]
        assert form.form_errors == ["丙。", "丁。"]  # no field, or a hidden one: above the form


def test_error_pages_and_the_api_list_every_problem(app, client):
    many = Invalid.many([("region", "请选择社区。"), ("about", "请写明被举报人。")])

    def raise_many():
        raise many

    app.add_url_rule("/_many", "many_html", raise_many)
    app.add_url_rule("/api/v1/_many", "many_api", raise_many)
    res = client.get("/_many")
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert re.search(r'<li>请选择社区。</li>\s*<li>请写明被举报人。</li>', html)
    fragment = client.get("/_many", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "error-fragment" in fragment and "<li>请选择社区。</li>" in fragment and "<li>请写明被举报人。</li>" in fragment
    body = client.get("/api/v1/_many").get_json()
    assert body["error"] == "invalid" and "请选择社区。" in body["message"] and "请写明被举报人。" in body["message"]
    assert body["problems"] == [{"field": "region", "message": "请选择社区。"},
                                {"field": "about", "message": "请写明被举报人。"}]


# --- the public forms --------------------------------------------------------------------------------------

def test_application_with_a_waiting_twin_shows_only_its_own_problems(client, session, world):
    assert submit_application(client).status_code == 303
    res = submit_application(client, address="", check_consent="")  # the same ID number, two mistakes
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "请填写家庭住址" in field_error(html, "address")
    assert "请勾选同意" in field_error(html, "check_consent")
    assert "已经有一份网上申请" not in html  # the public is never told someone applied (test_apply_privacy)
    assert "有 2 处需要修改" in summary(html)
    assert count(session, Application) == 1


def test_application_form_limits_and_domain_checks_together(client, session, world):
    res = submit_application(client, head_name="王" * 51, reason="没钱", check_consent="")
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "最多 50 个字" in field_error(html, "head_name")  # the form's own limit
    assert "至少 10 个字" in field_error(html, "reason")  # the domain's checks, in the same answer
    assert "请勾选同意" in field_error(html, "check_consent")
    assert count(session, Application) == 0


def test_report_shows_who_it_is_about_with_the_other_problems(client, session, world):
    data = {**form_fields(client, "/reports/new"), "subject": "staff", "region": "100001001", "about": "",
            "category": "other", "description": "态度差", "name": "张三", "phone": "123", "website": ""}
    res = client.post("/reports/new", data=data)
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "请写明被举报的工作人员或单位" in field_error(html, "about")
    assert "至少 5 个字" in field_error(html, "description")
    assert "请填写正确的手机号码" in field_error(html, "phone")
    assert "有 3 处需要修改" in summary(html)
    assert count(session, Report) == 0


def test_report_form_limit_and_the_reports_own_checks_together(client, session, world):
    region = session.get(Region, world.regions["comm_a2"])
    other = make_case(session, region, stage=Stage.active, head_name="赵大海")
    session.commit()
    data = {**form_fields(client, "/reports/new"), "subject": "recipient", "region": "100001001",
            "case": other.number, "about": "", "category": "", "description": "他" * 2001, "name": "",
            "phone": "", "website": ""}
    res = client.post("/reports/new", data=data)
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "最多 2000 个字" in field_error(html, "description")  # the form's own limit
    assert "不在该社区的低保名单上" in html  # the household is another community's
    assert "请选择反映的问题类型" in html
    assert count(session, Report) == 0


def test_objection_names_a_bad_photo_with_the_other_problems(client, session, world):
    entry = open_entry(session, world)
    data = objection_data(client, entry.public_id, description="有车", category="")
    data["photos"] = [(io.BytesIO(b"not an image at all"), "photo.jpg")]
    res = client.post(f"/objections/new?entry={entry.public_id}", data=data, content_type="multipart/form-data")
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "第 1 张照片" in field_error(html, "photos")
    assert "至少 5 个字" in field_error(html, "description")
    assert "请选择反映的问题类型" in html
    assert count(session, Objection) == 0


# --- the staff forms ---------------------------------------------------------------------------------------

@pytest.fixture
def seeded(session, world):
    standard(session, world)
    session.commit()
    return world


def test_registration_shows_every_problem(client, auth, session, seeded):
    auth.login("staff_a1")
    good_id = valid_id("19580312")
    bad_id = good_id[:17] + ("0" if good_id[17] != "0" else "1")  # the same number with a wrong check digit
    res = client.post("/admin/cases/new", data={
        "csrf_token": csrf_token(client, "/admin/cases/new"), "head_name": "周秀英", "head_id_number": bad_id,
        "head_age": "68", "head_work_capacity": "none", "head_phone": "12345", "address": "幸福路 8 号",
        "category": "1"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "校验不通过" in field_error(html, "head_id_number")
    assert "电话号码格式不对" in field_error(html, "head_phone")
    assert count(session, Case) == 0


@pytest.mark.parametrize(("deduction", "field", "message"), [
    ("200", "deduction_note", "扣减支出请注明原因"),  # a deduction without its reason
    ("两百", "deduction", "金额格式不对"),  # a deduction typed wrong: reported with the rest, not first and alone
])
def test_member_form_shows_every_problem(client, auth, session, seeded, deduction, field, message):
    case = register(session, user(session, seeded, "staff_a1"), members=1)
    session.commit()
    auth.login("staff_a1")
    res = client.post(f"/admin/cases/{case.id}/members", data={
        "csrf_token": csrf_token(client, f"/admin/cases/{case.id}"), "name": "周小军", "relation": "子女",
        "age": "35", "work_capacity": "full", "id_number": "12345", "deduction": deduction, "deduction_note": ""})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "18 位" in field_error(html, "id_number")
    assert message in field_error(html, field)
    assert count(session, Member) == 1


def test_income_checks_its_type_and_amount_together(app, session, seeded):
    case = register(session, user(session, seeded, "staff_a1"), members=1, income="")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        cases.add_income(session, user(session, seeded, "staff_a1"), case, case.members[0].id, source="lottery",
                         amount="很多")
    assert [f for f, _m in caught.value.field_problems] == ["source", "amount"]
    session.rollback()
    assert count(session, MemberIncome) == 0


@pytest.fixture
def active(session, seeded):
    case = register(session, user(session, seeded, "staff_a1"))
    to_stage(session, seeded, case, Stage.active)
    session.commit()
    return case


def test_member_joining_shows_every_problem(client, auth, session, seeded, active):
    auth.login("staff_a1")
    url = f"/admin/cases/{active.id}/changes"
    future = (app_clock.today() + timedelta(days=3)).isoformat()
    members = len(active.members)
    res = client.post(url + "/join", data={
        "csrf_token": csrf_token(client, url), "kind": MemberChangeKind.birth.value, "happened_on": future,
        "name": "李小宝", "relation": "孙子女", "age": "0", "id_number": "12345", "reason": "出生"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "日期不能晚于今天" in field_error(html, "happened_on")
    assert "请写明原因" in field_error(html, "reason")
    assert "18 位" in field_error(html, "id_number")
    assert count(session, MemberChange) == 0 and count(session, Member) == members


def test_transfer_shows_every_problem(client, auth, session, seeded, active):
    auth.login("town_a")
    url = f"/admin/cases/{active.id}/changes"
    future = (app_clock.today() + timedelta(days=3)).isoformat()
    res = client.post(f"/admin/cases/{active.id}/transfer", data={
        "csrf_token": csrf_token(client, url), "to_region_id": str(active.region_id),
        "kind": TransferKind.moved.value, "moved_on": future, "address": "乙一社区 1 号", "reason": "搬家"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "迁入社区与现在的社区相同" in html
    assert "日期不能晚于今天" in html and "请写明原因" in html
    assert count(session, Transfer) == 0


def test_member_leaving_shows_every_problem(app, session, seeded, active):
    future = app_clock.today() + timedelta(days=3)
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        household.member_leaves(session, user(session, seeded, "staff_a1"), active, active.members[1].id,
                                kind=MemberChangeKind.birth, happened_on=future, reason="")
    assert [f for f, _m in caught.value.field_problems] == ["kind", "happened_on", "reason"]


# --- other staff forms: the domain reports every problem ------------------------------------------------------

def test_other_staff_checks_report_every_problem(app, session, seeded):
    with app.test_request_context():
        with pytest.raises(Invalid) as caught, collect() as problems:
            kiosks._check_settings(problems, "", 1)
        assert [f for f, _m in caught.value.field_problems] == ["name", "rotation_seconds"]
        with pytest.raises(Invalid) as caught:
            announcements._checked(announcements.AnnouncementKind.document,
                                   announcements.Fields(title="", body="", ticker="", starts_on=None, ends_on=None))
        assert [f for f, _m in caught.value.field_problems] == ["title", "body", "starts_on", "category"]
        with pytest.raises(NotFound):  # scope still ends it at once
            cases.get_case(session, user(session, seeded, "staff_b1"),
                           register(session, user(session, seeded, "staff_a1")).id)
        session.rollback()


def test_a_waiting_application_does_not_stop_a_second_with_its_id_number(app, session, world):
    inp = applications.ApplicationInput(
        region_code="100001001", head_name="王秀兰", head_id_number=ID, head_phone="13812345678",
        address="甲一社区幸福路 12 号", reason="老伴去年去世，我一个人靠种菜生活。", check_consent=True)
    with app.test_request_context():
        first = applications.submit(session, inp, media_dir=app.config["MEDIA_DIR"]).application
        session.commit()
        second = applications.submit(session, inp, media_dir=app.config["MEDIA_DIR"]).application
        session.commit()
    assert second.id != first.id and second.head_id_hash == first.head_id_hash
