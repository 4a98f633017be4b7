"""The close-relative safeguard (近亲属备案, A 11, 20) and the special case (特殊情况, 45 working days, A 22): any staff
may set the close-relative flag, only the county (with a written reason, audited) may clear it or change the special
case; the community's edit shows them as text and refuses a changed value beside the field, nothing written."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from dibao import cases, workflow
from dibao.errors import Conflict, Forbidden, Invalid
from dibao.models import AuditEvent, Case, Stage
from tests.case_helpers import fresh, register, standard, to_stage, user, visit
from tests.conftest import csrf_token
from tests.test_all_errors import field_error


@pytest.fixture
def w(session, world):
    standard(session, world)
    session.commit()
    return world



def edit_form(client, case_id, **fields):
    data = {"csrf_token": csrf_token(client, f"/admin/cases/{case_id}/edit"), "head_phone": "13912345678",
            "address": "幸福路 8 号 2 单元 301 室", "public_address": "幸福路 8 号", "category": "2"}
    data.update(fields)
    return data


def events(session, action, case_id):
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                         AuditEvent.object_id == str(case_id))))


# --- the community --------------------------------------------------------------------------------------------

def test_the_clerk_sees_the_county_flags_as_text(client, auth, session, w):
    case = register(session, user(session, w, "staff_a1"), close_relative_of_staff=True)
    session.commit()
    auth.login("staff_a1")
    page = client.get(f"/admin/cases/{case.id}/edit").get_data(as_text=True)
    assert 'type="checkbox"' not in re.sub(r'<input[^>]*no_income[^>]*>', "", page)  # only 三无 is a checkbox
    assert '<input type="hidden" name="close_relative_of_staff" value="y">' in page
    assert "此标记只有县级审批人员可以取消" in page and "特殊情况由县级审批人员认定或取消" in page
    assert 'name="special_case"' not in page  # not special: nothing to carry
    assert "修改近亲属备案或特殊情况" not in client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert client.get(f"/admin/cases/{case.id}/flags").status_code == 403


def test_a_clerk_cannot_clear_the_close_relative_flag_and_the_county_visit_stays_required(client, auth, session, w):
    case = register(session, user(session, w, "staff_a1"), close_relative_of_staff=True)
    to_stage(session, w, case, Stage.county_approval)  # waiting for the county, with no county home visit
    session.commit()
    case_id = case.id
    auth.login("staff_a1")
    res = client.post(f"/admin/cases/{case_id}/edit", data=edit_form(client, case_id, address="别处 1 号"))
    assert res.status_code == 409
    assert "社区不能取消此标记" in field_error(res.get_data(as_text=True), "close_relative_of_staff")
    fresh(session)
    case = session.get(Case, case_id)
    assert case.close_relative_of_staff and case.address == "幸福路 8 号 2 单元 301 室"  # nothing written
    assert events(session, "case_updated", case_id) == []
    auth.logout()
    # the county still cannot approve without its own home visit
    auth.login("county")
    path = f"/admin/cases/{case_id}/county-decision"
    res = client.post(path, data={"csrf_token": csrf_token(client, path), "decision": "approve",
                                  "opinion": "同意纳入低保。"})
    assert res.status_code == 409 and "县级工作人员入户调查" in res.get_data(as_text=True)
    fresh(session)
    assert session.get(Case, case_id).stage == Stage.county_approval
    visit(session, user(session, w, "county"), session.get(Case, case_id))  # the county's own visit
    assert workflow.has_county_visit(session, session.get(Case, case_id))


def test_a_clerk_cannot_change_the_special_case(client, auth, session, w):
    case = register(session, user(session, w, "staff_a1"))
    session.commit()
    auth.login("staff_a1")
    res = client.post(f"/admin/cases/{case.id}/edit", data=edit_form(client, case.id, special_case="y"))
    assert res.status_code == 409
    assert "只能由县级审批人员认定或取消" in field_error(res.get_data(as_text=True), "special_case")
    fresh(session)
    assert session.get(Case, case.id).special_case is False
    with pytest.raises(Forbidden):
        cases.update_flags(session, user(session, w, "staff_a1"), session.get(Case, case.id),
                           close_relative_of_staff=False, special_case=True, reason="家庭情况特殊")


def test_a_clerk_may_set_the_flag_and_saving_keeps_the_county_flags(client, auth, session, w):
    case = register(session, user(session, w, "staff_a1"))
    case.special_case = True  # as the county would have decided it
    session.commit()
    auth.login("staff_a1")
    res = client.post(f"/admin/cases/{case.id}/edit",
                      data=edit_form(client, case.id, close_relative_of_staff="y", special_case="y"))
    assert res.status_code == 302
    fresh(session)
    saved = session.get(Case, case.id)
    assert saved.close_relative_of_staff and saved.special_case
    # saving the rest with the page as drawn (the flags' hidden inputs) changes only the rest
    page = client.get(f"/admin/cases/{case.id}/edit").get_data(as_text=True)
    assert '<input type="hidden" name="special_case" value="y">' in page
    res = client.post(f"/admin/cases/{case.id}/edit", data=edit_form(client, case.id, address="新地址 9 号",
                                                                      close_relative_of_staff="y", special_case="y"))
    assert res.status_code == 302
    fresh(session)
    saved = session.get(Case, case.id)
    assert saved.address == "新地址 9 号" and saved.close_relative_of_staff and saved.special_case


# --- the county -----------------------------------------------------------------------------------------------

def test_the_county_clears_the_flag_only_with_a_reason(client, auth, session, w):
    case = register(session, user(session, w, "staff_a1"), close_relative_of_staff=True)
    session.commit()
    auth.login("county")
    assert "修改近亲属备案或特殊情况" in client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    path = f"/admin/cases/{case.id}/flags"
    page = client.get(path).get_data(as_text=True)
    assert 'name="reason"' in page and 'name="close_relative_of_staff"' in page and "checked" in page
    res = client.post(path, data={"csrf_token": csrf_token(client, path), "reason": ""})
    assert res.status_code == 400 and "须写明理由" in field_error(res.get_data(as_text=True), "reason")
    fresh(session)
    assert session.get(Case, case.id).close_relative_of_staff
    assert events(session, "case_flags_changed", case.id) == []
    res = client.post(path, data={"csrf_token": csrf_token(client, path), "reason": "经核实，申请人与经办人无亲属关系。"})
    assert res.status_code == 302
    fresh(session)
    assert not session.get(Case, case.id).close_relative_of_staff
    [event] = events(session, "case_flags_changed", case.id)
    details = json.loads(event.details)
    assert details["reason"] == "经核实，申请人与经办人无亲属关系。" and details["changed"] == ["close_relative_of_staff"]
    assert event.actor_id == user(session, w, "county").id


def test_the_county_decides_the_special_case_with_a_reason(session, w):
    county = user(session, w, "county")
    case = register(session, user(session, w, "staff_a1"))
    with pytest.raises(Invalid) as refused:
        cases.update_flags(session, county, case, close_relative_of_staff=False, special_case=True, reason="")
    assert refused.value.field == "reason" and case.special_case is False
    assert cases.update_flags(session, county, case, close_relative_of_staff=False, special_case=True,
                              reason="需跨省核对存款，延长时限。") == ["special_case"]
    whole = next(d for d in cases.deadlines(case, []) if d.key == "whole")
    assert "45" in whole.label
    # setting the close-relative flag needs no reason; the admin is county-level too
    assert cases.update_flags(session, user(session, w, "admin"), case, close_relative_of_staff=True,
                              special_case=True, reason="") == ["close_relative_of_staff"]
    # a town reviewer is not
    with pytest.raises(Forbidden):
        cases.update_flags(session, user(session, w, "town_a"), case, close_relative_of_staff=False,
                           special_case=False, reason="经核实无亲属关系。")
    assert case.close_relative_of_staff and case.special_case


def test_a_closed_case_keeps_its_flags(session, w):
    staff = user(session, w, "staff_a1")
    case = register(session, staff, close_relative_of_staff=True)
    workflow.reject(session, staff, case, reason="家庭收入超过当地低保标准，不予批准。")
    with pytest.raises(Conflict):
        cases.update_flags(session, user(session, w, "county"), case, close_relative_of_staff=False,
                           special_case=False, reason="经核实无亲属关系。")
    assert case.close_relative_of_staff
