"""One person, one open household (一人只能属于一户): an ID number already on the head or a member of an open case
(any stage but rejected or exited) is refused on every path that puts a person into a household — registration,
adding or editing a member, a member joining (birth, marriage, moving in), accepting an online application — with
the message beside the ID number field and nothing written. Staff who may open the holding case are told its
number; others only the town (or county) it is in."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from dibao import applications, cases, household, workflow
from dibao.crypto import blind_index
from dibao.errors import Conflict
from dibao.models import AuditEvent, Case, Member, Stage, WorkCapacity
from dibao.models.application import ApplicationStatus
from dibao.models.household import MemberChange, MemberChangeKind
from tests.application_helpers import MEMBER_ID, login, only, staff_token
from tests.application_helpers import submit as apply_online
from tests.case_helpers import fresh, register, standard, user, valid_id
from tests.conftest import csrf_token


@pytest.fixture
def w(session, world):
    standard(session, world)
    session.commit()
    return world



def rows_with(session, id_number: str) -> int:
    return session.scalar(select(func.count(Member.id)).where(Member.id_number_hash == blind_index(id_number)))


def add(session, actor, case, id_number, name="张三"):
    return cases.add_member(session, actor, case, name=name, relation="其他", age=40, id_number=id_number,
                            health="", work_capacity=WorkCapacity.full, deduction=None, deduction_note="")


def member_form(client, case_id, id_number):
    return {"csrf_token": csrf_token(client, f"/admin/cases/{case_id}"), "name": "周大军", "relation": "其他",
            "age": "45", "id_number": id_number, "work_capacity": "full", "deduction": "", "deduction_note": ""}


def field_error(page: str, field: str) -> str:
    """The message the page shows beside ``field`` (the form macro's ``<p id="{field}-err">``)."""
    match = re.search(rf'<p class="error" id="{field}-err"[^>]*>(.*?)</p>', page, re.S)
    assert match, f"no message beside {field}"
    return match.group(1)


# --- adding a member over HTTP --------------------------------------------------------------------------------

def test_a_member_who_heads_another_open_case_is_refused_beside_the_id_field(client, auth, session, w):
    staff = user(session, w, "staff_a1")
    holder = register(session, staff)  # an open case whose head is the person
    target = register(session, staff, head_id_number=valid_id())
    session.commit()
    head_id, target_id, holder_number = holder.head_id_number, target.id, holder.number
    auth.login("staff_a1")
    res = client.post(f"/admin/cases/{target_id}/members", data=member_form(client, target_id, head_id))
    assert res.status_code == 409
    message = field_error(res.get_data(as_text=True), "id_number")
    assert holder_number in message and "不能重复登记" in message
    fresh(session)
    assert rows_with(session, head_id) == 1  # only the head's own row
    assert session.get(Case, target_id).household_size == 2
    assert session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "member_added", AuditEvent.object_id == str(target_id))) == 1  # the helper's one


def test_a_member_of_a_household_in_another_town_is_refused_without_its_number(client, auth, session, w):
    other = register(session, user(session, w, "staff_b1"))  # 乙街道: outside staff_a1's region
    person = valid_id("19800202")
    add(session, user(session, w, "staff_b1"), other, person)
    target = register(session, user(session, w, "staff_a1"))
    session.commit()
    other_number, target_id = other.number, target.id
    auth.login("staff_a1")
    res = client.post(f"/admin/cases/{target_id}/members", data=member_form(client, target_id, person))
    assert res.status_code == 409
    page = res.get_data(as_text=True)
    message = field_error(page, "id_number")
    assert "乙街道" in message and "一人只能属于一户" in message
    assert other_number not in page  # a household outside the clerk's region is not named
    fresh(session)
    assert rows_with(session, person) == 1


def test_the_town_sees_the_number_of_a_household_in_its_own_town(session, w):
    staff = user(session, w, "staff_a2")  # 甲二社区
    person = valid_id("19800303")
    holder = register(session, user(session, w, "staff_a1"))
    add(session, user(session, w, "staff_a1"), holder, person)
    target = register(session, staff)
    with pytest.raises(Conflict) as refused:  # the clerk of the neighbouring community: the town, no number
        add(session, staff, target, person)
    assert refused.value.field == "id_number" and "甲镇" in str(refused.value.message)
    assert holder.number not in str(refused.value.message)
    with pytest.raises(Conflict) as refused:  # the town reviewer may open it: its number
        cases.check_one_household(session, user(session, w, "town_a"), target, person)
    assert holder.number in str(refused.value.message) and "成员" in str(refused.value.message)


# --- registration, member edits, member changes ------------------------------------------------------------

def test_registering_a_member_of_an_open_case_as_head_is_refused(session, w):
    staff = user(session, w, "staff_a1")
    holder = register(session, staff)
    person = valid_id("19900101")
    add(session, staff, holder, person)
    session.commit()
    before = session.scalar(select(func.count(Case.id)))
    with pytest.raises(Conflict) as refused:
        register(session, user(session, w, "staff_a2"), head_id_number=person)
    assert refused.value.field == "head_id_number" or any(
        field == "head_id_number" for field, _m in refused.value.field_problems)
    fresh(session)
    assert session.scalar(select(func.count(Case.id))) == before and rows_with(session, person) == 1


def test_registration_form_shows_the_refusal_beside_the_head_id(client, auth, session, w):
    staff = user(session, w, "staff_a1")
    holder = register(session, staff)
    person = valid_id("19900102")
    add(session, staff, holder, person)
    session.commit()
    auth.login("staff_a1")
    res = client.post("/admin/cases/new", data={
        "csrf_token": csrf_token(client, "/admin/cases/new"), "head_name": "周秀英", "head_id_number": person,
        "head_age": "50", "head_work_capacity": "full", "address": "幸福路 1 号", "category": "1"})
    assert res.status_code == 409
    assert holder.number in field_error(res.get_data(as_text=True), "head_id_number")
    fresh(session)
    assert session.scalar(select(func.count(Case.id))) == 1


def test_changing_a_members_id_number_to_someone_elses_is_refused(client, auth, session, w):
    staff = user(session, w, "staff_a1")
    holder = register(session, staff)
    target = register(session, staff)
    member = target.members[1]
    session.commit()
    head_id, target_id, member_id = holder.head_id_number, target.id, member.id
    auth.login("staff_a1")
    path = f"/admin/cases/{target_id}/members/{member_id}"
    res = client.post(path, data={**member_form(client, target_id, head_id), "csrf_token": csrf_token(client, path),
                                  "relation": "子女"})
    assert res.status_code == 409 and holder.number in field_error(res.get_data(as_text=True), "id_number")
    fresh(session)
    assert session.get(Member, member_id).id_number is None and rows_with(session, head_id) == 1
    # the head's own number, on the head's row, stays editable (it is not "someone else's")
    head = session.get(Case, target_id).members[0]
    cases.update_member(session, staff, session.get(Case, target_id), head.id, name=head.name, relation="本人",
                        age=59, id_number=head.id_number, health="", work_capacity=WorkCapacity.full,
                        deduction=None, deduction_note="")
    assert head.age == 59


def test_the_same_person_twice_in_one_household_is_refused(session, w):
    staff = user(session, w, "staff_a1")
    case = register(session, staff)
    with pytest.raises(Conflict, match="本户"):
        add(session, staff, case, case.head_id_number)
    person = valid_id("20000101")
    add(session, staff, case, person)
    with pytest.raises(Conflict, match="本户"):
        add(session, staff, case, person, name="李四")


def test_a_member_joining_who_belongs_to_another_household_is_refused(session, w):
    staff = user(session, w, "staff_a1")
    holder = register(session, staff)
    target = register(session, staff)
    session.commit()
    size = target.household_size
    with pytest.raises(Conflict) as refused:
        household.member_joins(session, staff, target, kind=MemberChangeKind.marriage_in,
                               happened_on=date(2026, 3, 1), reason="结婚登记，配偶户口迁入", name="王某",
                               relation="配偶", age=40, id_number=holder.head_id_number)
    assert any(field == "id_number" and holder.number in str(message)
               for field, message in refused.value.field_problems)
    fresh(session)
    assert session.get(Case, target.id).household_size == size
    assert session.scalar(select(func.count(MemberChange.id))) == 0


def test_a_member_joining_is_checked_once_and_the_same_person_joining_elsewhere_at_that_moment_is_refused(
        app, session, w, monkeypatch):
    """member_joins checks its fields and the household together, then adds the member without checking the
    person a second time; the lock that one check took on the person (PostgreSQL) still holds to the end of the
    transaction, so a second community adding the same person at the same moment waits and is refused."""
    from dibao.models import User
    from tests.case_helpers import at_the_same_moment

    first_staff, second_staff = user(session, w, "staff_a1"), user(session, w, "staff_b1")
    first_home, second_home = register(session, first_staff), register(session, second_staff)
    session.commit()
    checked = []
    check = cases.check_one_household
    monkeypatch.setattr(cases, "check_one_household",
                        lambda session, actor, case, id_number, **kw: checked.append(case.id) or check(
                            session, actor, case, id_number, **kw))
    person = valid_id("19880808")

    def joins(sess, actor, case):
        household.member_joins(sess, actor, case, kind=MemberChangeKind.marriage_in, happened_on=date(2026, 3, 1),
                               reason="结婚登记，配偶户口迁入", name="孙丽", relation="配偶", age=37, id_number=person)

    joins(session, first_staff, first_home)  # not committed yet
    assert checked == [first_home.id]
    refused = at_the_same_moment(app, session, lambda other: joins(other, other.get(User, second_staff.id),
                                                                   other.get(Case, second_home.id)))
    assert checked == [first_home.id, second_home.id]  # once a request
    assert len(refused) == 1 and any(field == "id_number" for field, _message in refused[0].field_problems)
    fresh(session)
    assert rows_with(session, person) == 1
    assert session.scalar(select(func.count(MemberChange.id))) == 1


# --- online applications -----------------------------------------------------------------------------------

def test_accepting_an_application_with_a_member_of_another_household_is_refused(app, client, session, w):
    staff = user(session, w, "staff_a1")
    holder = register(session, staff)
    add(session, staff, holder, MEMBER_ID)  # the application's member (tests.application_helpers)
    session.commit()
    assert apply_online(client).status_code == 303
    application = only(session)
    cases_before = session.scalar(select(func.count(Case.id)))
    login(client, "staff_a1")
    token = staff_token(client, f"/admin/applications/{application.id}")
    res = client.post(f"/admin/applications/{application.id}/accept", data={"csrf_token": token})
    page = res.get_data(as_text=True)
    assert res.status_code == 409 and "王小军" in page and holder.number in page and "一人只能属于一户" in page
    fresh(session)
    assert only(session).status == ApplicationStatus.submitted
    assert session.scalar(select(func.count(Case.id))) == cases_before and rows_with(session, MEMBER_ID) == 1


def test_the_domain_refuses_the_application_too(session, w, app, client):
    assert apply_online(client).status_code == 303
    application = only(session)
    staff = user(session, w, "staff_a1")
    holder = register(session, staff)
    add(session, staff, holder, MEMBER_ID)
    with pytest.raises(Conflict, match="王小军"):
        applications.accept(session, staff, application, media_dir=app.config["MEDIA_DIR"])


# --- closed cases do not count -----------------------------------------------------------------------------

@pytest.mark.parametrize("closed", [Stage.rejected, Stage.exited])
def test_a_closed_case_does_not_block(session, w, closed):
    staff = user(session, w, "staff_a1")
    old = register(session, staff)
    person = valid_id("19700101")
    add(session, staff, old, person)
    if closed == Stage.rejected:
        workflow.reject(session, staff, old, reason="家庭收入超过当地低保标准，不予批准。")
    else:
        old.stage = Stage.exited  # (the exit's own rules are tested elsewhere: only the stage matters here)
    session.commit()
    target = register(session, staff)
    add(session, staff, target, person)  # as a member: accepted
    session.commit()
    assert rows_with(session, person) == 2
    new = register(session, user(session, w, "staff_a2"), head_id_number=old.head_id_number)  # as a head: accepted
    assert new.stage == Stage.applied


def test_two_communities_registering_one_person_at_the_same_moment_make_one_household(app, session, w):
    """Two clerks in two towns register the same person at the same moment: the second save waits for the first
    (PostgreSQL: a lock on the person; SQLite: one writer at a time) and is then refused — before, each checked
    the other's household absent and both were written."""
    from tests.case_helpers import at_the_same_moment

    person = valid_id("19650505")
    register(session, user(session, w, "staff_a1"), head_id_number=person)  # not committed yet
    refused = at_the_same_moment(app, session, lambda other: register(
        other, other.get(type(user(session, w, "staff_b1")), w.users["staff_b1"]), head_id_number=person))
    assert len(refused) == 1
    fresh(session)
    assert session.scalar(select(func.count(Case.id)).where(Case.head_id_hash == blind_index(person))) == 1


def test_check_households_lists_people_already_in_two_open_households(runner, session, w):
    """Data from before the rule (or an old system) may hold a person twice: `dibao check-households` names them,
    masked, with the case numbers, and exits 1; a closed case does not count."""
    from dibao.identity import mask_id

    staff = user(session, w, "staff_a1")
    person = valid_id("19720303")
    first, second = register(session, staff), register(session, staff)
    for case in (first, second):  # written behind the rule's back, as old data was
        session.add(Member(case=case, position=9, name="重复者", relation="子女", age=50, id_number=person,
                           health="", work_capacity=WorkCapacity.none, monthly_deduction=0, deduction_note=""))
    session.commit()
    result = runner.invoke(args=["check-households"])
    assert result.exit_code == 1
    assert f"{mask_id(person)}: {', '.join(sorted([first.number, second.number]))}" in result.output
    assert person not in result.output
    workflow.reject(session, user(session, w, "staff_a1"), second, "经核实该成员已在另一户登记，不予受理。")
    session.commit()
    result = runner.invoke(args=["check-households"])
    assert result.exit_code == 0 and "every person is in one open household" in result.output
