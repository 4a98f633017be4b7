"""Issue 3: the role × region matrix, as a pyramid. Every action against every user at the workflow's rules
(no HTTP); then, per route, one allowed and one refused request through the server (out of region 404, wrong
role 403, wrong stage 409) with nothing changed, and the case page offering only what the user may do.
"""

import io

import pytest
from sqlalchemy import func, select

from dibao import workflow
from dibao.errors import Conflict, Forbidden, NotFound
from dibao.models import AuditEvent, Case, Stage
from dibao.models.records import Standard
from dibao.workflow import ACTION_RULES, Action
from tests.case_helpers import register, standard, to_stage, user
from tests.conftest import csrf_token
from tests.factories import tiny_pdf

USERS = ["staff_a1", "staff_a2", "staff_b1", "town_a", "town_b", "county", "admin"]
# The case lives in 甲一社区 (comm_a1): staff_a1, town_a and county (and admin, county level) see it;
# staff_a2 (another community of the same town), staff_b1 and town_b (another town) do not.
SEES_CASE = {"staff_a1", "town_a", "county", "admin"}

PDF = tiny_pdf()


def _visit(token):
    data = {"csrf_token": token, "visited_on": "2026-03-18", "investigators": "调查甲\n调查乙",
            "housing": "旧房两间", "inquiry": "无业", "family_signed": "y"}
    for i in range(3):
        data.update({f"neighbours-{i}-name": f"邻居{i}", f"neighbours-{i}-statement": "属实"})
    return data


# action → (stage to put the case in, path under /admin/cases/<id>, form data, offered-on-page marker, allowed)
ACTIONS = {
    "edit": (Stage.applied, "/edit", lambda t, c: {
        "csrf_token": t, "head_phone": "13900001111", "address": "新地址 1 号", "public_address": "新地址",
        "category": "2"}, "/edit\"", {"staff_a1"}),
    "member_add": (Stage.applied, "/members", lambda t, c: {
        "csrf_token": t, "name": "新成员", "relation": "配偶", "age": "50", "work_capacity": "full"},
        "/members\"", {"staff_a1"}),
    "income_add": (Stage.applied, "/members/{m}/incomes", lambda t, c: {
        "csrf_token": t, "source": "wage", "amount": "100"}, "/incomes\"", {"staff_a1"}),
    "photo": (Stage.applied, "/photo", lambda t, c: {"csrf_token": t, "consent": "y", "photo": (io.BytesIO(
        _png()), "p.png")}, "/photo\"", {"staff_a1"}),
    "home_visit": (Stage.applied, "/visit", lambda t, c: _visit(t), "/visit\"", {"staff_a1", "county"}),
    "submit_review": (Stage.investigating, "/submit", lambda t, c: {"csrf_token": t}, "/submit\"", {"staff_a1"}),
    "community_review": (Stage.community_review, "/community-review", lambda t, c: {
        "csrf_token": t, "meeting_id": "0", "held_on": "2026-03-18", "panel": "甲\n乙\n丙", "votes_for": "3",
        "votes_against": "0", "votes_abstain": "0", "decision": "approve", "opinion": "同意上报。"},
        "/community-review\"", {"staff_a1"}),
    "town_check": (Stage.town_review, "/town-check", lambda t, c: {"csrf_token": t, "findings": "复查属实无误。"},
                   "/town-check\"", {"town_a"}),
    "town_decision": (Stage.town_decision, "/town-decision", lambda t, c: {
        "csrf_token": t, "title": "镇党委会", "held_on": "2026-03-18", "participants": "甲\n乙\n丙",
        "decision": "approve", "opinion": "同意。"}, "/town-decision\"", {"town_a"}),
    "county_decision": (Stage.county_approval, "/county-decision", lambda t, c: {
        "csrf_token": t, "decision": "approve", "opinion": "同意。"}, "/county-decision\"", {"county"}),
    "reject_community": (Stage.applied, "/reject", lambda t, c: {"csrf_token": t, "reason": "申请人主动撤回"},
                         "/reject\"", {"staff_a1"}),
    "reject_town": (Stage.town_review, "/reject", lambda t, c: {"csrf_token": t, "reason": "收入超过标准"},
                    "/reject\"", {"town_a"}),
    "reject_county": (Stage.county_approval, "/reject", lambda t, c: {"csrf_token": t, "reason": "收入超过标准"},
                      "/reject\"", {"county"}),
    "send_back": (Stage.town_review, "/send-back", lambda t, c: {"csrf_token": t, "reason": "需重新入户核实"},
                  "/send-back\"", {"town_a"}),
    "send_back_county": (Stage.county_approval, "/send-back", lambda t, c: {"csrf_token": t,
                                                                            "reason": "需重新入户核实"},
                         "/send-back\"", {"county"}),
    "periodic_review": (Stage.active, "/review", lambda t, c: {  # issue 10: the review with its checklist
        "csrf_token": t, "checked": "income", "findings": "情况无变化，继续保障。", "category": "1",
        "outcome": "continue"}, "/review\"", {"staff_a1"}),
    "adjust": (Stage.active, "/adjust", lambda t, c: {"csrf_token": t, "amount": "500", "reason": "子女已就业"},
               "/adjust\"", {"county"}),
    "grace": (Stage.active, "/grace", lambda t, c: {"csrf_token": t, "months": "3", "reason": "户主已就业"},
              "/grace\"", {"county"}),
    "exit": (Stage.active, "/exit", lambda t, c: {"csrf_token": t, "reason": "家庭收入超过标准"}, "/exit\"",
             {"county"}),
    "attach": (Stage.town_review, "/attachments", lambda t, c: {"csrf_token": t, "title": "申请书",
                                                                "file": (io.BytesIO(PDF), "a.pdf")},
                 "/attachments\"", {"staff_a1", "town_a", "county"}),
}


def _png():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (20, 20), (10, 120, 10)).save(out, format="PNG")
    return out.getvalue()


def _snapshot(session, case_id):
    session.rollback()
    session.expire_all()
    case = session.get(Case, case_id)
    return (case.stage, case.updated_at, case.head_phone, case.photo_key, case.household_size,
            case.monthly_amount, session.scalar(select(func.count(AuditEvent.id))))


# Which workflow rule each route of ACTIONS exercises (several routes share the "edit" rule).
RULE_OF = {
    "edit": Action.edit, "member_add": Action.edit, "income_add": Action.edit, "photo": Action.edit,
    "home_visit": Action.home_visit, "submit_review": Action.submit_review,
    "community_review": Action.community_review, "town_check": Action.town_check,
    "town_decision": Action.town_decision, "county_decision": Action.county_decision,
    "reject_community": Action.reject, "reject_town": Action.reject, "reject_county": Action.reject,
    "send_back": Action.send_back, "send_back_county": Action.send_back, "periodic_review": Action.periodic_review,
    "adjust": Action.adjust_amount, "grace": Action.grace, "exit": Action.exit, "attach": Action.attach,
}


def _case_at(session, world, stage):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    to_stage(session, world, case, stage)
    session.commit()
    return case


@pytest.mark.parametrize("action", [a for a in ACTIONS if a in RULE_OF])
def test_rules_table(session, world, action):
    """The base of the pyramid: every user against the workflow's rules, without HTTP. Out of region is
    NotFound (its existence is not revealed), a role without the action Forbidden, the right role at another
    stage Conflict; exactly the expected users may."""
    stage, _path, _data, _marker, allowed = ACTIONS[action]
    case = _case_at(session, world, stage)
    rule = RULE_OF[action]
    for who in USERS:
        actor = user(session, world, who)
        assert workflow.may(actor, case, rule) == (who in allowed), (action, who)
        if who in allowed:
            workflow.require(actor, case, rule)
            continue
        with pytest.raises((NotFound,) if who not in SEES_CASE else (Forbidden, Conflict)):
            workflow.require(actor, case, rule)


def _http_cases():
    """One allowed and one refused request per route: the refused one by a user who sees the case (403/409),
    else by one who does not (404). The out-of-region refusal of every route is covered by the rules table and
    by test_out_of_region_is_not_found below."""
    for action, (_stage, _path, _data, _marker, allowed) in ACTIONS.items():
        yield pytest.param(action, sorted(allowed)[0], id=f"{action}-allowed")
        refused = [who for who in USERS if who in SEES_CASE and who not in allowed]
        yield pytest.param(action, refused[0] if refused else "staff_b1", id=f"{action}-refused")


@pytest.mark.parametrize(("action", "who"), list(_http_cases()))
def test_matrix(client, auth, session, world, action, who):
    stage, path, data, marker, allowed = ACTIONS[action]
    case = _case_at(session, world, stage)
    case_id, member_id = case.id, case.members[0].id
    auth.login(who)
    token = csrf_token(client, "/admin/")
    url = f"/admin/cases/{case_id}" + path.format(m=member_id)

    detail = client.get(f"/admin/cases/{case_id}")
    if who in SEES_CASE:
        assert detail.status_code == 200
        offered = (f"/admin/cases/{case_id}" + marker.rstrip('"').format(m=member_id)).split("{")[0]
        page = detail.get_data(as_text=True)
        assert (offered + '"' in page or (action == "income_add" and "/incomes\"" in page)) == (who in allowed), \
            "the page offers exactly what the user may do"
    else:
        assert detail.status_code == 404

    before = _snapshot(session, case_id)
    multipart = action in ("photo", "attach")
    res = client.post(url, data=data(token, case), content_type="multipart/form-data" if multipart else None)
    after = _snapshot(session, case_id)
    if who in allowed:
        assert res.status_code == 302, res.get_data(as_text=True)[:2000]
        assert after != before
    else:
        expected = 404 if who not in SEES_CASE else (
            409 if user(session, world, who).role in ACTION_RULES[RULE_OF[action]] else 403)
        assert res.status_code == expected, (res.status_code, who)
        assert after == before, "a refused request changes nothing"
        if who in SEES_CASE:  # the step's own page is refused too
            assert client.get(url).status_code in (expected, 405)


@pytest.mark.parametrize("action", ["edit", "county_decision", "attach"])
def test_out_of_region_is_not_found(client, auth, session, world, action):
    stage, path, data, _marker, _allowed = ACTIONS[action]
    case = _case_at(session, world, stage)
    for who in ("staff_a2", "town_b"):
        auth.login(who)
        token = csrf_token(client, "/admin/")
        before = _snapshot(session, case.id)
        res = client.post(f"/admin/cases/{case.id}" + path.format(m=case.members[0].id), data=data(token, case),
                          content_type="multipart/form-data" if action == "attach" else None)
        assert res.status_code == 404 and _snapshot(session, case.id) == before
        auth.logout()


@pytest.mark.parametrize("who", USERS)
def test_matrix_register(client, auth, session, world, who):
    from tests.case_helpers import valid_id

    auth.login(who)
    listing = client.get("/admin/cases/").get_data(as_text=True)
    assert ("登记新申请" in listing) == who.startswith("staff")
    token = csrf_token(client, "/admin/")
    res = client.post("/admin/cases/new", data={
        "csrf_token": token, "head_name": "新户", "head_id_number": valid_id(), "head_age": "60",
        "head_work_capacity": "none", "address": "某路 1 号", "category": "1"})
    session.rollback()
    cases = session.scalars(select(Case)).all()
    if who.startswith("staff"):
        assert res.status_code == 302
        assert [c.region_id for c in cases] == [user(session, world, who).region_id]  # own community only
    else:
        assert res.status_code == 403 and cases == []


@pytest.mark.parametrize("who", USERS)
def test_matrix_standards(client, auth, session, world, who):
    auth.login(who)
    token = csrf_token(client, "/admin/")
    res = client.post("/admin/standards/", data={"csrf_token": token, "region_id": world.regions["county"],
                                                  "monthly_amount": "800", "effective_from": "2026-07-01"})
    session.rollback()
    count = session.scalar(select(func.count(Standard.id)))
    if who == "admin":
        assert res.status_code == 302 and count == 1
    else:
        assert res.status_code == 403 and count == 0


def test_wrong_stage_is_a_conflict_and_changes_nothing(client, auth, session, world):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    session.commit()
    auth.login("staff_a1")
    token = csrf_token(client, "/admin/")
    before = _snapshot(session, case.id)
    assert client.post(f"/admin/cases/{case.id}/submit", data={"csrf_token": token}).status_code == 409
    assert client.get(f"/admin/cases/{case.id}/periodic-review").status_code == 409
    assert _snapshot(session, case.id) == before


def test_out_of_region_document_and_photo_are_not_found(client, auth, session, world):
    case = register(session, user(session, world, "staff_a1"))
    session.commit()
    auth.login("staff_a1")  # the control: in its own community the search and the list do find the household
    link = f'href="/admin/cases/{case.id}"'  # the query itself is echoed in the search box, so look for the row
    assert link in client.get("/admin/cases/?q=李桂兰").get_data(as_text=True)
    auth.logout()
    auth.login("staff_b1")
    assert client.get(f"/admin/cases/{case.id}/photo/thumb").status_code == 404
    assert link not in client.get("/admin/cases/?q=李桂兰").get_data(as_text=True)
    assert link not in client.get("/admin/cases/").get_data(as_text=True)
