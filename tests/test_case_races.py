"""The same step done twice at the same moment (a double click on 退保, two county approvers on one proposal, two
servers): the second request waits for the first, then finds the work done and is refused — the household is
exited, its amount changed, its proposal decided once. On SQLite writing transactions already queue; on
PostgreSQL the case's (or the proposal's) row lock does it (``dibao.db.locked``)."""

from __future__ import annotations

from sqlalchemy import func, select

from dibao import reviews, workflow
from dibao.models import AmountChange, AmountPeriod, Case, Stage, User
from dibao.models.audit import AuditEvent
from dibao.models.records import CaseRecord, RecordKind
from tests.case_helpers import at_the_same_moment, standard, user
from tests.review_helpers import active


def _events(session, action: str, case_id: int) -> int:
    return session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action,
                                                                  AuditEvent.object_type == "case",
                                                                  AuditEvent.object_id == str(case_id)))


def test_an_exit_clicked_twice_exits_the_household_once(app, session, world):
    standard(session, world)
    case = active(session, world)
    session.commit()
    county_id, case_id = world.users["county"], case.id
    workflow.exit_case(session, user(session, world, "county"), case, "家庭收入已超过低保标准，经核实退保。")

    refused = at_the_same_moment(app, session, lambda other: workflow.exit_case(
        other, other.get(User, county_id), other.get(Case, case_id), "家庭收入已超过低保标准，经核实退保。"))

    assert len(refused) == 1 and refused[0].status == 409
    session.expire_all()
    assert session.get(Case, case_id).stage == Stage.exited
    assert session.scalar(select(func.count(AmountPeriod.id)).where(
        AmountPeriod.case_id == case_id, AmountPeriod.change == AmountChange.exited)) == 1
    assert _events(session, "case_exited", case_id) == 1


def test_one_exit_proposal_decided_by_two_approvers_at_once_is_decided_once(app, session, world):
    standard(session, world)
    case = active(session, world)
    reviews.review(session, user(session, world, "staff_a1"), case, checked=["income"],
                   findings="户主已就业，家庭收入超过标准。", category=2, outcome="exit",
                   reason="家庭收入已超过低保标准，建议退保。")
    [proposal] = reviews.open_proposals(session, case)
    session.commit()
    county_id, case_id, proposal_id = world.users["county"], case.id, proposal.id
    reviews.decide(session, user(session, world, "county"), proposal, confirm=True, reason="同意退保，已告知家庭。")

    def second(other):
        reviews.decide(other, other.get(User, county_id), other.get(type(proposal), proposal_id), confirm=True,
                       reason="同意退保，已告知家庭。")

    refused = at_the_same_moment(app, session, second)

    assert len(refused) == 1 and refused[0].status == 409
    session.expire_all()
    assert session.get(Case, case_id).stage == Stage.exited
    assert session.scalar(select(func.count(CaseRecord.id)).where(
        CaseRecord.case_id == case_id, CaseRecord.kind == RecordKind.proposal_decided)) == 1
    assert _events(session, "proposal_decided", case_id) == 1
    assert _events(session, "case_exited", case_id) == 1
