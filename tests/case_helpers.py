"""Helpers for the case workflow tests (issue 3): drive cases through the real workflow functions."""

from __future__ import annotations

import itertools
import threading
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from dibao import cases, clock, entitlement, workflow
from dibao.errors import Conflict
from dibao.identity import with_check_digit
from dibao.models import Case, Decision, Region, User, WorkCapacity
from dibao.workflow import Neighbour

_ids = itertools.count(1)


def valid_id(birth: str = "19600101", n: int | None = None) -> str:
    base = f"340102{birth}{(n if n is not None else next(_ids)) % 1000:03d}"
    return with_check_digit(base)


def user(session: Session, world, name: str) -> User:
    return session.get(User, world.users[name])


def region(session: Session, world, name: str) -> Region:
    return session.get(Region, world.regions[name])


def standard(session: Session, world, amount: str = "780.00") -> None:
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                             amount=Decimal(amount), effective_from=date(2026, 1, 1))


def register(session: Session, staff: User, *, income: str = "600.00", members: int = 2, **kwargs) -> Case:
    fields = {"head_name": "李桂兰", "head_id_number": valid_id(), "head_phone": "13912345678",
              "address": "幸福路 8 号 2 单元 301 室", "public_address": "幸福路 8 号", "category": 2,
              "head_age": 58, "head_health": "高血压", "head_work_capacity": WorkCapacity.partial}
    fields.update(kwargs)
    case = cases.register_case(session, staff, **fields)
    if income:
        cases.add_income(session, staff, case, case.members[0].id, source="wage", amount=Decimal(income))
    for i in range(1, members):
        cases.add_member(session, staff, case, name=f"李小{i}", relation="子女", age=12 + i, id_number=None,
                         health="", work_capacity=WorkCapacity.none, deduction=None, deduction_note="")
    return case


def visit(session: Session, actor: User, case: Case, *, investigators=("张调查", "王调查"), neighbours=3,
          **kwargs):
    return workflow.record_home_visit(
        session, actor, case, visited_on=kwargs.pop("visited_on", clock.today()),
        housing=kwargs.pop("housing", "两居室旧房，家具简陋，无汽车"),
        inquiry=kwargs.pop("inquiry", "户主打零工，月收入约 600 元；子女上学"),
        notes="户主签字确认", family_signed=True, investigators=list(investigators),
        neighbours=[Neighbour(f"邻居{i}", f"{i}01 室", "情况属实，生活困难") for i in range(neighbours)],
        **kwargs)


def community_review(session: Session, staff: User, case: Case, decision=Decision.approve, **kwargs):
    params = {"held_on": clock.today(), "location": "社区会议室", "panel": ["评一", "评二", "评三", "评四", "评五"],
              "attendees": ["镇民政办 刘干事"], "votes_for": 5, "votes_against": 0, "votes_abstain": 0,
              "opinion": "经民主评议，同意上报。" if decision == Decision.approve else "家庭收入超过标准，不同意。"}
    params.update(kwargs)
    return workflow.record_community_review(session, staff, case, decision=decision, **params)


def town_decision(session: Session, town: User, case: Case, decision=Decision.approve, **kwargs):
    params = {"held_on": clock.today(), "title": "镇党委会议 2026年第3次", "participants": ["书记", "镇长", "委员"],
              "opinion": "经镇党委会议研究，同意。" if decision == Decision.approve else "收入超标，不同意。"}
    params.update(kwargs)
    return workflow.record_town_decision(session, town, case, decision=decision, **params)


def verify(session: Session, actor: User, case: Case, *, result=None):
    """家庭经济状况核对 (issue 10): a request to the agencies and its result, which the county approval requires."""
    from dibao import assets
    from dibao.models.household import VerificationResult

    verification = assets.request_verification(session, actor, case, requested_on=clock.today(),
                                               authorised_on=clock.today(),
                                               agencies=["不动产登记", "公安（车辆）", "银行（存款）"])
    return assets.record_result(session, actor, case, verification.id,
                                result=result or VerificationResult.consistent, result_on=clock.today(),
                                findings="核对结果与申报一致。")


def to_stage(session: Session, world, case: Case, stop, *, levels=(), override_reason=None):
    """Drive a registered case forward until it reaches ``stop`` (with no notice rounds); ``override_reason``
    is the written reason the community and town give when they approve a household whose amount is 0."""
    from dibao.models import Stage

    staff = user(session, world, "staff_a1")
    town = user(session, world, "town_a")
    county = user(session, world, "county")
    steps = [
        (Stage.applied, lambda: visit(session, staff, case)),
        (Stage.investigating, lambda: workflow.submit_for_review(session, staff, case)),
        (Stage.community_review, lambda: community_review(session, staff, case, levels=levels,
                                                          override_reason=override_reason)),
        (Stage.town_review, lambda: workflow.record_town_check(session, town, case, "材料齐全，复查属实。")),
        (Stage.town_decision, lambda: (town_decision(session, town, case, levels=levels,
                                                     override_reason=override_reason),
                                      verify(session, town, case))),  # the 核对 the county approval requires
        (Stage.county_approval, lambda: workflow.record_county_decision(
            session, county, case, decision=Decision.approve, opinion="同意纳入低保。", levels=levels)),
    ]
    for stage, step in steps:
        if case.stage == stop:
            return case
        assert case.stage == stage, (case.stage, stage)
        step()
    assert case.stage == stop
    return case


def at_the_same_moment(app, session, second) -> list[Conflict]:
    """Two requests at the same moment: ``second`` (given its own session) runs in another thread while
    ``session``'s transaction (the first request, its work done) is still open; then ``session`` commits. What
    ``second`` was refused (a Conflict)."""
    refused: list[Conflict] = []

    def other_request():
        with app.app_context(), app.extensions["dibao.write_sessions"]() as other:
            try:
                second(other)
                other.commit()
            except Conflict as err:
                refused.append(err)
                other.rollback()

    worker = threading.Thread(target=other_request)
    worker.start()
    worker.join(1.5)  # it has read the case and waits for the first request
    session.commit()
    worker.join(60)
    assert not worker.is_alive()
    return refused


def fresh(session: Session) -> None:
    """Forget what the test's session holds: the next read sees what the requests committed."""
    session.rollback()
    session.expire_all()
