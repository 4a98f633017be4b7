"""The staff forms converted after the first 28 (tests/test_all_errors_staff.py): staff accounts, a member's income, a
verification's result, duplicate objections decided together and the kiosk registry. Each used to stop at a check
of the form's own (a choice not offered, an id that is no number, an empty required field) before the domain's
checks ran; now one POST with several mistakes shows every message beside its own field, with a 4xx, and saves
nothing. The domain calls (the command line's and the jobs') collect the same problems."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dibao import accounts, assets, clock, feedback, kiosks
from dibao.errors import Invalid
from dibao.models import AuditEvent, FeedbackStatus, Level, MemberIncome, Objection, Region, Role, User
from dibao.models.household import Verification
from dibao.models.kiosk import Kiosk
from tests.case_helpers import region, register, standard, user
from tests.conftest import csrf_token
from tests.feedback_helpers import open_entry
from tests.staff_form_helpers import post_with_mistakes
from tests.test_all_errors import count
from tests.test_all_errors_staff import beside


def _applied(session, w):
    return {"case": register(session, user(session, w, "staff_a1"), members=1)}


def _with_member(session, w):
    case = register(session, user(session, w, "staff_a1"), members=2)
    return {"case": case, "member": case.members[-1]}


def _verification(session, w):
    case = register(session, user(session, w, "staff_a1"), members=1)
    verification = assets.request_verification(session, user(session, w, "staff_a1"), case,
                                               requested_on=clock.today(), authorised_on=clock.today(),
                                               agencies=["不动产登记", "银行（存款）"])
    return {"case": case, "verification": verification}


def _duplicates(session, w):
    entry = open_entry(session, w, level=Level.town)
    for text in ("情况与公示不符，他家有车。", "他家儿子在城里开了饭店。"):
        feedback.submit_objection(session, entry.public_id, feedback.Submission(category="other", description=text),
                                  media_dir="/nonexistent")
    return {"entry": entry}


def _kiosk(session, w):
    return {"kiosk": kiosks.register(session, None, name="活动室公示屏", region=region(session, w, "comm_a1"))}


# id: (who posts, the records made first, the url, the form, [(field, a message expected beside it)], the table)
STAFF_FORMS = {
    # the role was a choice the form checked alone (a role not offered stopped the name and password checks)
    "new account": ("admin", None, "/admin/users/new", {
        "username": "newclerk", "display_name": "", "role": "chief", "region_id": "{comm_a1}",
        "password": "12345678"},
        [("display_name", "请填写姓名"), ("role", "请选择角色"), ("password", "至少需要 10 个字符")], User),
    # the region likewise: one the list did not offer, or none
    "account edit": ("admin", None, "/admin/users/{user_staff_a2}/edit", {
        "username": "staff_a2", "display_name": "", "role": "community_staff", "region_id": "999999999",
        "active": "y", "password": "123"},
        [("display_name", "请填写姓名"), ("region_id", "请选择所属区划"), ("password", "至少需要 10 个字符")], AuditEvent),
    "account edit, no region": ("admin", None, "/admin/users/{user_staff_a2}/edit", {
        "username": "staff_a2", "display_name": "甲二专干", "role": "", "region_id": "", "active": "y"},
        [("role", "请选择角色"), ("region_id", "请选择所属区划")], AuditEvent),
    # the income type was the form's choice, the amount required by the form and parsed by the domain
    "income": ("staff_a1", _with_member, "/admin/cases/{case}/members/{member}/incomes", {
        "source": "lottery", "amount": "很多", "note": ""},
        [("source", "请选择收入类型"), ("amount", "金额格式不对")], MemberIncome),
    # the result was the form's choice (and the domain's Enum() failed on anything else)
    "verification result": ("town_a", _verification, "/admin/cases/{case}/verifications/{verification}/result", {
        "result": "maybe", "result_on": "", "findings": ""},
        [("result", "请选择核对结果"), ("result_on", "请填写核对结果的日期")], Verification),
    # an id that is no number stopped in the form; the domain then said the ticked objections alone, before the
    # outcome and the answer
    "objections together": ("town_a", _duplicates, "/admin/feedback/entries/{entry}/decide", {
        "objection_ids": "12x", "outcome": "", "public_answer": "不"},
        [("objection_ids", "请勾选这条公示下仍未办结的异议"), ("outcome", "请选择核查结论"),
         ("public_answer", "请填写向群众公开的答复")], Objection),
    # (the town is no choice of the form's list of communities: the domain says why, with the rest)
    "kiosk": ("admin", None, "/admin/kiosks/new", {"name": "", "region_id": "{town_a}", "rotation_seconds": "3"},
              [("name", "请填写终端名称"), ("region_id", "公示终端只能登记到社区（村）"),
               ("rotation_seconds", "翻页间隔应在5到600秒之间")], Kiosk),
}


def _decided(session) -> list:
    session.rollback()
    return sorted((o.id, o.status) for o in session.scalars(select(Objection)))


@pytest.mark.parametrize("name", list(STAFF_FORMS))
def test_staff_form_shows_its_own_and_the_domains_problems_together(app, client, auth, session, world, name):
    post_with_mistakes(app, client, auth, session, world, STAFF_FORMS[name], statuses=(400,),
                       also_unchanged=_decided)


def test_kiosk_settings_form_leaves_its_checks_to_the_domain(client, auth, session, world):
    """(Both were the form's checks too, and shown together: the same messages now come from the domain.)"""
    kiosk = _kiosk(session, world)["kiosk"]
    session.commit()
    auth.login("admin")
    before = (kiosk.name, kiosk.rotation_seconds, count(session, AuditEvent))
    res = client.post(f"/admin/kiosks/{kiosk.id}", data={"csrf_token": csrf_token(client, "/admin/kiosks/"),
                                                         "name": " ", "rotation_seconds": ""})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "请填写终端名称" in beside(html, "name") and "请填写翻页间隔" in beside(html, "rotation_seconds")
    kiosk = session.get(Kiosk, kiosk.id)
    assert (kiosk.name, kiosk.rotation_seconds, count(session, AuditEvent)) == before


def test_account_edit_with_bad_choices_changes_nothing(client, auth, session, world):
    target = user(session, world, "staff_a2")
    before = (target.display_name, target.role, target.region_id, target.password_hash)
    session.rollback()
    auth.login("admin")
    res = client.post(f"/admin/users/{world.users['staff_a2']}/edit", data={
        "csrf_token": csrf_token(client, "/admin/users/"), "display_name": "甲二专干改", "role": "chief",
        "region_id": str(world.regions["comm_b1"] + 10**6), "active": "y", "password": "a-much-longer-password-42"})
    assert res.status_code == 400
    session.expire_all()
    target = user(session, world, "staff_a2")
    assert (target.display_name, target.role, target.region_id, target.password_hash) == before


# --- the domain calls, as the command line and the jobs make them -----------------------------------------------

def test_create_user_collects_the_role_and_region_with_the_rest(app, session, world):
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        accounts.create_user(session, None, username="x", display_name="", password="short", role="chief",
                             region=None)
    assert [f for f, _m in caught.value.field_problems] == ["username", "display_name", "password", "role",
                                                            "region_id"]
    session.rollback()
    assert count(session, User) == len(world.users)


def test_update_user_takes_the_role_as_a_form_sends_it(app, session, world):
    admin, target = user(session, world, "admin"), user(session, world, "staff_a2")
    with app.test_request_context():
        accounts.update_user(session, admin, target, display_name="甲二专干", role="town_reviewer",
                             region=region(session, world, "town_a"), active=True)
    session.commit()
    assert user(session, world, "staff_a2").role == Role.town_reviewer
    with app.test_request_context(), pytest.raises(Invalid) as caught:  # oneself: an unknown role is no admin either
        accounts.update_user(session, admin, admin, display_name="管理员", role="chief",
                             region=region(session, world, "county"), active=True)
    assert [(f, str(m)) for f, m in caught.value.field_problems] == [("role", "请选择角色。")]


def test_register_kiosk_collects_the_community_with_the_rest(app, session, world):
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        kiosks.register(session, None, name="", region=session.get(Region, world.regions["town_a"]),
                        rotation_seconds=None)
    assert [f for f, _m in caught.value.field_problems] == ["name", "rotation_seconds", "region_id"]
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        kiosks.register(session, None, name="屏", region=None)
    assert [(f, str(m)) for f, m in caught.value.field_problems] == [("region_id", "请选择社区。")]
    session.rollback()
    assert count(session, Kiosk) == 0


def test_record_result_collects_an_unknown_result(app, session, world):
    standard(session, world)
    made = _verification(session, world)
    session.commit()
    town = user(session, world, "town_a")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        assets.record_result(session, town, made["case"], made["verification"].id, result="maybe",
                             result_on=clock.today() + timedelta(days=1), findings="")
    assert [f for f, _m in caught.value.field_problems] == ["result", "result_on"]
    session.rollback()
    assert session.get(Verification, made["verification"].id).result is None


def test_decide_together_collects_the_objections_outcome_and_answer(app, session, world):
    standard(session, world)
    entry = _duplicates(session, world)["entry"]
    session.commit()
    ids = [o.id for o in session.scalars(select(Objection).order_by(Objection.id))]
    town = user(session, world, "town_a")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        feedback.decide_together(session, town, entry.id, [ids[0], -1], "maybe", "")
    assert [f for f, _m in caught.value.field_problems] == ["objection_ids", "outcome", "public_answer", "notes"]
    session.rollback()
    assert _decided(session) == [(i, FeedbackStatus.received) for i in ids]


@pytest.mark.parametrize("picked", [str(2**31), str(2**63), "-1", "１２", "x"])
def test_a_region_no_list_offers_is_said_beside_the_field(client, auth, session, world, picked):
    auth.login("admin")
    token = csrf_token(client, "/admin/users/new")
    res = client.post("/admin/users/new", data={"csrf_token": token, "username": "newclerk", "display_name": "新专干",
                                                "role": "community_staff", "region_id": picked,
                                                "password": "a-much-longer-password-42"})
    assert res.status_code == 400 and "请选择所属区划" in beside(res.get_data(as_text=True), "region_id")
    res = client.post("/admin/kiosks/new", data={"csrf_token": token, "name": "屏", "region_id": picked,
                                                 "rotation_seconds": "15"})
    assert res.status_code == 400 and "请选择社区" in beside(res.get_data(as_text=True), "region_id")
    assert count(session, User) == len(world.users) and count(session, Kiosk) == 0
