"""The 承办人 (assignee) of an objection or a report is someone who can open it and work on it: the list offers only
such accounts and the server refuses any other — a community's supervision group (群众监督组), whose account opens
only its community's payments, above all — so nothing is left with nobody able to handle it. The role × region
matrix of assigning an objection (reports: tests/test_reports_matrix.py)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dibao import feedback
from dibao.errors import Invalid, NotFound
from dibao.models import AuditEvent, Objection, Region, Report, Role, Stage, User
from tests.conftest import csrf_token
from tests.factories import make_case
from tests.feedback_form_helpers import _objection
from tests.feedback_helpers import open_entry

USERS = ["staff_a1", "staff_a2", "staff_b1", "town_a", "town_b", "county", "admin", "supervisor_a1"]
# Who opens an objection against a household of 甲一社区, and whom each of them may give it to (their own subtree).
SEES = {"staff_a1", "town_a", "county", "admin"}
OFFERS = {"staff_a1": {"staff_a1"}, "town_a": {"staff_a1", "town_a"}, "county": SEES, "admin": SEES}
REFUSED_SUPERVISOR = "群众监督组的账号不能打开和办理异议、举报，不能作为承办人"


@pytest.fixture
def supervisor(session, world, make_user):
    """甲一社区's supervision group: in the community's scope, read-only on its payments."""
    make_user("supervisor_a1", Role.supervisor, session.get(Region, world.regions["comm_a1"]), display_name="甲一监督组")
    return session.scalar(select(User.id).where(User.username == "supervisor_a1"))


def _ids(world, supervisor) -> dict[str, int]:
    return {**world.users, "supervisor_a1": supervisor}


def _offered(html: str) -> set[int]:
    select_html = re.search(r'<select[^>]*name="assignee"[^>]*>(.*?)</select>', html, re.S).group(1)
    return {int(v) for v in re.findall(r'<option[^>]*value="(\d+)"', select_html)} - {0}


def _state(session, model, item_id):
    session.rollback()
    session.expire_all()
    item = session.get(model, item_id)
    return (item.status, item.assigned_to_id, item.check_notes, session.scalar(select(func.count(AuditEvent.id))))


def _report(session, world) -> Report:
    case = make_case(session, session.get(Region, world.regions["comm_a1"]), stage=Stage.active, head_name="赵大海")
    sub = feedback.Submission(category="favouritism", description="这户家里有两辆车，请核查。")
    report = feedback.submit_report(session, sub, subject="recipient", region_code="100001001",
                                    case_number=case.number, about=None, media_dir="").item
    session.commit()
    return report


@pytest.mark.parametrize("who", USERS)
def test_objection_assignment_matrix(client, auth, session, world, supervisor, who):
    ids = _ids(world, supervisor)
    objection = _objection(session, open_entry(session, world))
    url = f"/admin/feedback/objection/{objection.id}"
    auth.login(who)
    token = csrf_token(client, "/admin/payments/" if who == "supervisor_a1" else "/admin/")
    detail = client.get(url)
    closed = 403 if who == "supervisor_a1" else 404  # the supervision group opens no feedback page at all
    if who in SEES:
        assert detail.status_code == 200
        assert _offered(detail.get_data(as_text=True)) == {ids[u] for u in OFFERS[who]}
        assert "甲一监督组" not in detail.get_data(as_text=True)
    else:
        assert detail.status_code == closed

    # Giving it to the supervision group: refused with a message (or not found at all), nothing changes.
    before = _state(session, Objection, objection.id)
    res = client.post(url + "/decide", data={"csrf_token": token, "outcome": "check", "assignee": str(supervisor)})
    assert res.status_code == (400 if who in SEES else closed)
    if who in SEES:
        assert REFUSED_SUPERVISOR in res.get_data(as_text=True)
    assert _state(session, Objection, objection.id) == before

    # Giving it to the community's clerk, who can open it: whoever sees it may.
    res = client.post(url + "/decide", data={"csrf_token": token, "outcome": "check",
                                             "assignee": str(ids["staff_a1"])})
    after = _state(session, Objection, objection.id)
    if who in SEES:
        assert res.status_code == 303 and after[1] == ids["staff_a1"]
    else:
        assert res.status_code == closed and after == before


def test_the_supervision_group_cannot_open_what_it_would_be_given(client, auth, session, world, supervisor):
    """Why it is never an assignee: its account is turned away from the inbox and from the objection itself."""
    objection = _objection(session, open_entry(session, world))
    auth.login("supervisor_a1")
    assert client.get("/admin/feedback/").status_code == 403
    assert client.get(f"/admin/feedback/objection/{objection.id}").status_code == 403
    account = session.get(User, supervisor)
    assert not feedback.can_see(account, objection) and feedback.inbox(session, account, state="all") == []
    with pytest.raises(NotFound):
        feedback.get_item(session, account, "objection", objection.id)


def test_a_reports_assignee_list_holds_only_those_who_can_open_it(client, auth, session, world, supervisor):
    report = _report(session, world)
    url = f"/admin/feedback/report/{report.id}"
    auth.login("town_a")
    html = client.get(url).get_data(as_text=True)
    assert _offered(html) == {world.users["staff_a1"], world.users["town_a"]} and "甲一监督组" not in html
    before = _state(session, Report, report.id)
    for account, message in ((supervisor, REFUSED_SUPERVISOR), (world.users["staff_a2"], "请选择能够办理这件的工作人员")):
        res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "check",
                                                 "assignee": str(account), "notes": "已电话联系社区核实。"})
        assert res.status_code == 400 and message in res.get_data(as_text=True)
        assert _state(session, Report, report.id) == before, "neither the assignee nor the notes are kept"


def test_the_domain_refuses_an_assignee_who_cannot_open_it(session, world, supervisor):
    objection = _objection(session, open_entry(session, world))
    report = _report(session, world)
    county = session.get(User, world.users["county"])
    for item in (objection, report):
        people = feedback.assignees(session, county, item)
        assert supervisor not in {u.id for u in people} and world.users["staff_a1"] in {u.id for u in people}
        with pytest.raises(Invalid) as refused:
            feedback.assign(session, county, item, supervisor)
        assert refused.value.status == 400 and REFUSED_SUPERVISOR in str(refused.value.message)
        with pytest.raises(Invalid):
            feedback.handle(session, county, item, feedback.Handling(outcome="check", assignee_id=supervisor))
        assert item.assigned_to_id is None
    session.rollback()
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action.like("%_assigned"))) == 0
