"""The household after approval (issue 10, item 6): members joining and leaving (birth, death, marriage, moving)
with dates and reasons, and the transfer of the whole archive to another community (人户分离, 拆迁).

Also the small permission rule the issue-10 actions share (:class:`Rule`, :func:`require`): like
``workflow.require`` — out of region 404, wrong role 403, wrong stage 409 — for actions outside the case workflow's
own table. An amount that changes through a member change or a transfer starts a new ``AmountPeriod`` from the
next month (never silently), with one audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import audit, cases, clock, db, entitlement, reviews, scope, workflow
from dibao.errors import Conflict, Forbidden, Invalid, NotFound, chosen, collect
from dibao.models import (
    AmountChange,
    Case,
    FeedbackStatus,
    Level,
    Region,
    Report,
    ReportSubject,
    Role,
    Stage,
    User,
    WorkCapacity,
)
from dibao.models.household import MemberChange, MemberChangeKind, Transfer, TransferKind


@dataclass(frozen=True)
class Rule:
    """Who may take an issue-10 action on a case, and in which stages."""

    label: object
    roles: dict[Role, frozenset[Stage]]

    def allows(self, user: User, case: Case) -> bool:
        stages = self.roles.get(user.role)
        return bool(stages) and case.stage in stages and scope.can_see(user, case.region)


def require(user: User, case: Case, rule: Rule) -> None:
    if not scope.can_see(user, case.region):
        raise NotFound(_l("没有找到该案件。"))
    stages = rule.roles.get(user.role)
    if not stages:
        raise Forbidden(_l("您的岗位不能办理“%(action)s”。", action=rule.label))
    if case.stage not in stages:
        raise Conflict(_l("案件当前处于“%(stage)s”阶段，不能办理“%(action)s”。",
                          stage=workflow.STAGE_LABELS[case.stage], action=rule.label))


def take(session: Session, user: User, case: Case, rule: Rule) -> None:
    """:func:`require` with the case's row locked and re-read first (as ``workflow.take``)."""
    db.locked(session, case)
    require(user, case, rule)


OPEN = frozenset(workflow.OPEN_STAGES)
MEMBER_CHANGE = Rule(_l("登记家庭成员变化"), {Role.community_staff: OPEN})
# Not while a notice round is pending or open: the notice names the old community (move it before or after).
_MOVABLE = OPEN - frozenset(workflow.AWAITING_NOTICE.values()) - frozenset(workflow.IN_NOTICE.values())
TRANSFER = Rule(_l("迁移到其他社区"), {Role.town_reviewer: _MOVABLE, Role.county_approver: _MOVABLE})

MEMBER_CHANGE_LABELS = {
    MemberChangeKind.birth: _l("出生"), MemberChangeKind.marriage_in: _l("婚入"),
    MemberChangeKind.moved_in: _l("迁入"), MemberChangeKind.death: _l("死亡"),
    MemberChangeKind.marriage_out: _l("婚出"), MemberChangeKind.moved_out: _l("迁出"),
}
JOINING = {MemberChangeKind.birth, MemberChangeKind.marriage_in, MemberChangeKind.moved_in}
TRANSFER_LABELS = {TransferKind.separation: _l("人户分离"), TransferKind.demolition: _l("拆迁安置"),
                   TransferKind.moved: _l("迁居")}


def _date(value: date | None, field: str) -> date:
    if value is None:
        raise Invalid(_l("请填写日期。"), field=field)
    if value > clock.today():
        raise Invalid(_l("日期不能晚于今天。"), field=field)
    return value


def _reason(value: str | None) -> str:
    value = (value or "").strip()
    if len(value) < workflow.MIN_REASON:
        raise Invalid(_l("请写明原因（至少 %(n)d 个字）。", n=workflow.MIN_REASON), field="reason")
    return value[:2000]


def _apply_new_amount(session: Session, actor: User, case: Case, change: AmountChange, reason: str) -> tuple:
    """Recompute; an approved household gets the new amount from next month as a new period (never silently).
    Returns (amount before, amount after)."""
    before = case.monthly_amount
    if case.stage in workflow.UNDECIDED_STAGES:
        entitlement.refresh(session, case, update_payment=True)
        return before, case.monthly_amount
    result = entitlement.refresh(session, case, update_payment=False)
    if case.stage not in workflow.APPROVED_STAGES:
        return before, before
    after = result.amount
    if after is None or after == before:
        return before, before
    case.monthly_amount = after
    starts_on = entitlement.next_month(clock.today())
    if case.payment_start and starts_on < case.payment_start:
        starts_on = case.payment_start
    entitlement.start_period(session, actor, case, amount=after, starts_on=starts_on, change=change, reason=reason)
    return before, after


# --- member changes ------------------------------------------------------------------------------------------

def member_joins(session: Session, actor: User, case: Case, *, kind: MemberChangeKind | str,
                 happened_on: date | None, reason: str, name: str, relation: str, age: int | None,
                 id_number: str | None = None, work_capacity: WorkCapacity = WorkCapacity.none) -> MemberChange:
    """A member joined (birth, marriage, moving in): added to the household, the amount recomputed."""
    take(session, actor, case, MEMBER_CHANGE)
    kind = chosen(MemberChangeKind, kind)
    with collect() as problems:  # the change's fields and the member's, all at once, before anything is written
        if kind not in JOINING:
            problems.add("kind", _l("请选择成员增加的原因（出生、婚入、迁入）。"))
        happened_on = problems.check(_date, happened_on, "happened_on")
        reason = problems.check(_reason, reason)
        problems.check(cases.member_values, name=name, relation=relation, age=age, id_number=id_number, health="",
                       work_capacity=work_capacity, deduction=None, deduction_note="", head=False,
                       household=(session, actor, case, None))  # one person, one open household
    # cases.add_member / remove_member edit the household (community staff, open stages: MEMBER_CHANGE's rule),
    # refresh the computed amount and write their own audit event. The one-household check above holds the
    # person's lock to the end of the transaction: add_member need not check (nor lock) again.
    member = cases.add_member(session, actor, case, name=name, relation=relation, age=age, id_number=id_number,
                              health="", work_capacity=work_capacity, deduction=None, deduction_note="",
                              household_checked=True)
    return _record(session, actor, case, kind, member.name, happened_on, reason)


def member_leaves(session: Session, actor: User, case: Case, member_id: int | None, *,
                  kind: MemberChangeKind | str, happened_on: date | None, reason: str) -> MemberChange:
    """A member left (death, marriage, moving out): removed from the household, the amount recomputed."""
    take(session, actor, case, MEMBER_CHANGE)
    kind = chosen(MemberChangeKind, kind)
    member = next((m for m in case.members if m.id == member_id), None)
    with collect() as problems:  # every problem at once
        if member is None:
            problems.add("member_id", _l("请选择减少的家庭成员。"))
        elif member.position == 0:
            problems.add_error(Conflict(_l("户主不能直接减少：请先在“家庭成员”中把新户主改为第一行（户主变更），"
                                           "再登记原户主的变化。"), field="member_id"))
        if kind is None or kind in JOINING:
            problems.add("kind", _l("请选择成员减少的原因（死亡、婚出、迁出）。"))
        happened_on = problems.check(_date, happened_on, "happened_on")
        reason = problems.check(_reason, reason)
    name = member.name
    cases.remove_member(session, actor, case, member_id)
    change = _record(session, actor, case, kind, name, happened_on, reason)
    if kind == MemberChangeKind.death and case.stage == Stage.active:
        # A death in an approved household always starts the re-check the rules require (dibao.reviews).
        reviews.death_recheck(session, actor, case, died_on=happened_on, member_id=None,
                              text=str(_l("%(relation)s %(name)s 于 %(day)s 去世。", relation=member.relation,
                                          name=name, day=happened_on.isoformat())))
    return change


def _record(session, actor, case, kind, name, happened_on, reason) -> MemberChange:
    text = f"{MEMBER_CHANGE_LABELS[kind]}：{name}。{reason}"
    proposal = None
    if case.stage in workflow.APPROVED_STAGES:
        # The community records the change; the new amount is the county's to decide (A 32), by a proposal.
        before = after = case.monthly_amount
        proposal = reviews.propose_recomputed_amount(session, actor, case, text)
    else:
        before, after = _apply_new_amount(session, actor, case, AmountChange.household_changed, text)
    change = MemberChange(case_id=case.id, kind=kind, member_name=name, happened_on=happened_on, reason=reason,
                          size_after=len(case.members), amount_before=before, amount_after=after,
                          recorded_by_id=actor.id, recorded_by_name=actor.display_name, created_at=clock.now())
    session.add(change)
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "member_change_recorded", "case", case.id, region_id=case.region_id,
                 details={"change": change.id, "kind": kind.value, "name": name,
                          "happened_on": happened_on.isoformat(), "size": change.size_after,
                          "amount": [str(before) if before is not None else None,
                                     str(after) if after is not None else None],
                          **({"proposal": proposal.id, "proposed": str(proposal.amount)} if proposal else {})})
    return change


def member_changes(session: Session, case: Case) -> list[MemberChange]:
    return list(session.scalars(select(MemberChange).where(MemberChange.case_id == case.id)
                                .order_by(MemberChange.happened_on, MemberChange.id)))


# --- transfer to another community -------------------------------------------------------------------------

def transfer_targets(session: Session, actor: User, case: Case) -> list[Region]:
    """The communities the actor may move the household to (in their scope, not its own)."""
    return [r for r in scope.regions_in_scope(session, actor)
            if r.level == Level.community and r.id != case.region_id]


def transfer(session: Session, actor: User, case: Case, *, to_region_id: int | None, kind: TransferKind | str,
             moved_on: date | None, reason: str, address: str, public_address: str = "") -> Transfer:
    """迁移: the one archive follows the household to the new community, whose staff take it over (scope follows
    ``Case.region``); the old community loses it. The amount is recomputed under the new region's standard."""
    take(session, actor, case, TRANSFER)
    # None: none chosen, or one the form's list does not offer (admin.views.chosen_region); said with the rest
    target = scope.get_region(session, actor, to_region_id) if to_region_id is not None else None
    kind = chosen(TransferKind, kind)
    address = (address or "").strip()
    with collect() as problems:  # every problem at once, before anything is written
        if target is None or target.level != Level.community:
            problems.add("to_region_id", _l("请选择迁入的社区（村）。"))
        elif target.id == case.region_id:
            problems.add("to_region_id", _l("迁入社区与现在的社区相同。"))
        if kind is None:
            problems.add("kind", _l("请选择迁移类型。"))
        moved_on = problems.check(_date, moved_on, "moved_on")
        reason = problems.check(_reason, reason)
        if not address:
            problems.add("address", _l("请填写迁入后的家庭住址。"))
        elif len(address) > 200:
            problems.add("address", _l("内容太长，最多 %(n)d 个字。", n=200))
    old = case.region
    before_address = case.address
    case.region = target
    case.region_id = target.id
    case.address = address
    case.public_address = (public_address or "").strip()[:200]
    session.flush()
    before, after = _apply_new_amount(session, actor, case, AmountChange.transferred,
                                      f"{TRANSFER_LABELS[kind]}：{old.name} → {target.name}。{reason}")
    record = Transfer(case_id=case.id, from_region_id=old.id, to_region_id=target.id, kind=kind, moved_on=moved_on,
                      reason=reason, address_before=before_address, address_after=address, amount_before=before,
                      amount_after=after, recorded_by_id=actor.id, recorded_by_name=actor.display_name,
                      created_at=clock.now())
    session.add(record)
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "case_transferred", "case", case.id, region_id=target.id,
                 details={"transfer": record.id, "from": old.code, "to": target.code, "kind": kind.value,
                          "moved_on": moved_on.isoformat(),
                          "amount": [str(before) if before is not None else None,
                                     str(after) if after is not None else None]})
    _reports_follow(session, actor, case, old, target)
    return record


def _reports_follow(session: Session, actor: User, case: Case, old: Region, target: Region) -> None:
    """Open reports about the household follow it: its new community and town keep its archive now, and the old
    community's staff can no longer open it. Decided reports stay where they were decided (and their real-name
    reporters are told from there); objections stay with the notice they were filed against, whose level
    answers them (dibao.feedback.can_decide)."""
    reports = session.scalars(select(Report).where(
        Report.case_id == case.id, Report.subject == ReportSubject.recipient, Report.region_id == old.id,
        Report.status != FeedbackStatus.decided).order_by(Report.id)).all()
    for report in reports:
        report.region_id = target.id
        assignee = report.assigned_to
        if assignee is not None and not target.path.startswith(assignee.region.path):
            report.assigned_to_id = None  # whoever had it can no longer see it: the new side assigns it again
        audit.record(session, actor, "report_moved", "report", report.tracking_code, region_id=target.id,
                     details={"case": case.number, "from": old.code, "to": target.code,
                              "unassigned": report.assigned_to_id is None and assignee is not None})


def transfers(session: Session, case: Case) -> list[Transfer]:
    return list(session.scalars(select(Transfer).where(Transfer.case_id == case.id).order_by(Transfer.id)))

