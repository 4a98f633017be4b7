"""Dynamic management of active households (issue 10, items 1–4): reviews on the category's schedule (分类管理),
the county's decisions on what reviews and the sweep propose, deaths, the end of grace periods, monthly contacts
(月联系制度) and re-check campaigns (全面入户核查).

The schedule: category 1 is reviewed every 12 months, 2 every 6, 3 every 3, 4 every month, counted from the
approval or the last review (``Case.next_review_due``, set by ``workflow``). A household is *due* when that date
has come, or when something is waiting for a decision on it (an exit proposed at the end of its grace period, a
re-check after a death, an exit or amount change proposed by a review): the dashboard's "到期待复核" counts exactly
:func:`due_condition`, and the worklist lists it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from dibao import audit, clock, db, entitlement, scope, workflow
from dibao.errors import COLLECTED, Conflict, DomainError, Forbidden, Invalid, NotFound, chosen, collect
from dibao.models import Case, Level, Region, Role, Stage, User
from dibao.models.management import (
    Campaign,
    CampaignHousehold,
    Contact,
    ContactWay,
    Proposal,
    ProposalKind,
    ProposalSource,
    ProposalStatus,
)
from dibao.models.records import CaseRecord, RecordKind
from dibao.workflow import Action

log = logging.getLogger("dibao.reviews")

SOON_DAYS = 30  # "due within 30 days"
BUCKETS = {
    "due": _l("到期待复核"),
    "overdue": _l("已逾期"),
    "week": _l("7 天内到期"),
    "soon": _l("30 天内到期"),
}
PROPOSAL_KIND_LABELS = {ProposalKind.exit: _l("建议退保"), ProposalKind.amount: _l("建议调整金额"),
                        ProposalKind.recheck: _l("须重新核查")}
PROPOSAL_SOURCE_LABELS = {ProposalSource.review: _l("定期复核"), ProposalSource.grace_end: _l("渐退期满"),
                          ProposalSource.death: _l("家庭成员死亡"), ProposalSource.campaign: _l("全面入户核查"),
                          ProposalSource.member_change: _l("家庭成员变化")}
CONTACT_WAY_LABELS = {ContactWay.visit: _l("入户走访"), ContactWay.phone: _l("电话联系"),
                      ContactWay.came_in: _l("来社区办事")}
RECORD_LABELS = {
    RecordKind.town_check: _l("乡镇复查"), RecordKind.periodic_review: _l("定期复核"),
    RecordKind.grace: _l("渐退期"), RecordKind.adjustment: _l("调整保障金额"),
    RecordKind.campaign_check: _l("全面入户核查"), RecordKind.standard_raise: _l("提标"),
    RecordKind.death: _l("家庭成员死亡"), RecordKind.grace_end: _l("渐退期满"),
    RecordKind.proposal_decided: _l("县级决定"),
}
# The household's timeline (dibao.audit_log.action_label reads these after dibao.cases.EVENT_LABELS).
EVENT_LABELS = {
    "review_recorded": _l("复核记录"), "proposal_decided": _l("县级对建议作出决定"), "grace_ended": _l("渐退期满，建议退保"),
    "death_recorded": _l("记录家庭成员死亡"), "contact_logged": _l("月联系"), "campaign_check_recorded": _l("全面入户核查"),
    "standard_raised": _l("提标，调整保障金额"),
    "proposal_withdrawn": _l("撤回调整金额的建议（成员再次变化后金额不变）"),
}
# What a review looks at (recorded with its findings).
CHECK_ITEMS = {
    "members": _l("家庭成员"), "income": _l("收入"), "housing": _l("住房和消费"), "work": _l("就业和劳动能力"),
    "assets": _l("财产"), "health": _l("健康状况"),
}
REVIEW_OUTCOMES = {"continue": _l("继续保障"), "amount": _l("建议调整保障金额"), "exit": _l("建议退保")}
MIN_TEXT = workflow.MIN_REASON


def _text(value: str | None, field_name: str, message, maximum: int = 4000) -> str:
    value = (value or "").strip()
    if len(value) < MIN_TEXT:
        raise Invalid(message, field=field_name)
    if len(value) > maximum:
        raise Invalid(_l("内容太长，请精简到 %(n)d 字以内。", n=maximum), field=field_name)
    return value


def _in_scope(user: User) -> ColumnElement[bool]:
    return Case.region_id.in_(scope.region_ids_in_scope(user))


def _open_proposal():
    return exists().where(Proposal.case_id == Case.id, Proposal.status == ProposalStatus.open)


# --- 1. the schedule and the worklist ---------------------------------------------------------------------

def due_condition(today: date | None = None) -> ColumnElement[bool]:
    """Active, and either its review date has come or something waits for a decision on it."""
    today = today or clock.today()
    return or_(_date_come(today), and_(Case.stage == Stage.active, _open_proposal()))


def _date_come(today: date) -> ColumnElement[bool]:
    """The first half of ``due_condition``: active, and its review date has come."""
    return and_(Case.stage == Stage.active, Case.next_review_due <= today)


def bucket_condition(bucket: str, today: date | None = None) -> ColumnElement[bool]:
    today = today or clock.today()
    if bucket == "due":
        return due_condition(today)
    if bucket == "overdue":
        return and_(Case.stage == Stage.active, Case.next_review_due < today)
    if bucket == "week":
        return or_(due_condition(today), and_(Case.stage == Stage.active,
                                              Case.next_review_due <= today + timedelta(days=7)))
    if bucket == "soon":
        return and_(Case.stage == Stage.active, Case.next_review_due > today,
                    Case.next_review_due <= today + timedelta(days=SOON_DAYS))
    raise Invalid(_l("没有这个复核清单。"), field="bucket")


def due_count(session: Session, user: User) -> int:
    """How many households ``due_condition`` holds for, counted as its two disjoint halves: the review date has
    come (the scope's active cases, by index) plus a proposal waiting on a household whose date has not come
    (driven from the few open proposals). One count with the OR made PostgreSQL scan every case of the province
    (the EXISTS cannot use an index): 444 ms for a county's dashboard at 1,000,000 households."""
    today = clock.today()
    date_come = select(func.count(Case.id)).where(_in_scope(user), _date_come(today))
    waiting = (select(func.count(func.distinct(Case.id)))
               .select_from(Proposal).join(Case, Case.id == Proposal.case_id)
               .where(Proposal.status == ProposalStatus.open, _in_scope(user), Case.stage == Stage.active,
                      or_(Case.next_review_due > today, Case.next_review_due.is_(None))))  # date not come
    return (session.scalar(date_come) or 0) + (session.scalar(waiting) or 0)


@dataclass
class WorkItem:
    case: Case
    due: date | None
    overdue: bool
    proposals: list[Proposal]


@dataclass
class Worklist:
    bucket: str
    category: int | None
    items: list[WorkItem]
    counts: dict[str, int]
    by_category: dict[int, int]


def worklist_conditions(user: User, *, bucket: str = "due", category: int | None = None,
                        community_id: int | None = None, today: date | None = None) -> list:
    """The households a worklist (or its export) lists: in the user's scope, in the bucket, in a community and
    a category when chosen."""
    conditions = [_in_scope(user), bucket_condition(bucket, today or clock.today())]
    if community_id:
        conditions.append(Case.region_id == community_id)
    if category:
        conditions.append(Case.category == category)
    return conditions


def worklist_order() -> tuple:
    """Soonest due first, those without a date last."""
    return Case.next_review_due.is_(None), Case.next_review_due, Case.id


def worklist(session: Session, user: User, *, bucket: str = "due", category: int | None = None,
             community_id: int | None = None, limit: int = 500) -> Worklist:
    """The households to review in the user's scope: due now, overdue or due within 30 days, by category."""
    today = clock.today()
    base = worklist_conditions(user, bucket=bucket, community_id=community_id, today=today)
    if category is not None:
        workflow.check_category(category)
    by_category = dict(session.execute(select(Case.category, func.count(Case.id)).where(*base)
                                       .group_by(Case.category)).all())
    if category:
        base.append(Case.category == category)
    stmt = select(Case).where(*base).options(selectinload(Case.members)).order_by(*worklist_order()).limit(limit)
    cases = list(session.scalars(stmt))
    proposals: dict[int, list[Proposal]] = {}
    if cases:
        for p in session.scalars(select(Proposal).where(Proposal.case_id.in_([c.id for c in cases]),
                                                        Proposal.status == ProposalStatus.open)
                                 .order_by(Proposal.id)):
            proposals.setdefault(p.case_id, []).append(p)
    counts = {key: session.scalar(select(func.count(Case.id)).where(_in_scope(user), bucket_condition(key, today)))
              or 0 for key in BUCKETS}
    items = [WorkItem(c, c.next_review_due, c.next_review_due is not None and c.next_review_due < today,
                      proposals.get(c.id, [])) for c in cases]
    return Worklist(bucket=bucket, category=category, items=items, counts=counts,
                    by_category={k: by_category.get(k, 0) for k in workflow.REVIEW_MONTHS})


def open_proposals(session: Session, case: Case) -> list[Proposal]:
    return list(session.scalars(select(Proposal).where(Proposal.case_id == case.id,
                                                       Proposal.status == ProposalStatus.open)
                                .order_by(Proposal.id)))


def _propose(session: Session, actor: User | None, case: Case, kind: ProposalKind, source: ProposalSource,
             reason: str, amount: Decimal | None = None) -> Proposal:
    proposal = Proposal(case_id=case.id, kind=kind, source=source, status=ProposalStatus.open, reason=reason,
                        amount=amount, created_by_id=actor.id if actor else None,
                        created_by_name=actor.display_name if actor else audit.SYSTEM_ACTOR, created_at=clock.now())
    session.add(proposal)
    session.flush()
    return proposal


def propose_recomputed_amount(session: Session, actor: User, case: Case, reason: str) -> Proposal | None:
    """A member change of an approved household (家庭成员变化): the amount its figures now give goes to the county
    as a proposal, not into payment — raising or cutting a payment is the county's decision, with the reason told
    to the family (A 32). One open proposal of this kind at a time: a later change updates it. None when the
    amount does not change (an open proposal of this kind is then withdrawn: the household is back as paid)."""
    result = entitlement.refresh(session, case, update_payment=False)
    pending = next((p for p in open_proposals(session, case)
                    if p.kind == ProposalKind.amount and p.source == ProposalSource.member_change), None)
    if result.amount is None or result.amount == case.monthly_amount:
        if pending is not None:
            pending.status, pending.decided_at = ProposalStatus.declined, clock.now()
            pending.decided_by_name = actor.display_name
            pending.decision_note = str(_l("成员再次变化后金额与现发金额相同，无需调整。"))
            # A state change of its own (the county's list loses it): its own event, beside the member change's.
            audit.record(session, actor, "proposal_withdrawn", "case", case.id, region_id=case.region_id,
                         details={"proposal": pending.id, "amount": str(pending.amount), "reason": pending.decision_note})
        return None
    if pending is not None:
        pending.amount = result.amount
        pending.reason = f"{pending.reason}\n{reason}"[:2000]
        session.flush()
        return pending
    return _propose(session, actor, case, ProposalKind.amount, ProposalSource.member_change, reason, result.amount)


def review(session: Session, actor: User, case: Case, *, checked: Sequence[str], findings: str, category: int | None,
           outcome: str = "continue", amount: Decimal | str | None = None, reason: str = "") -> CaseRecord:
    """分类管理复核 by the community: what was checked and found, the category confirmed or changed (the next
    review follows from it), and optionally a proposal for the county — a new amount (with the reason; empty
    amount: the amount computed from the current incomes) or an exit (with the reason). A review also settles
    the re-checks a death required. ``amount`` as typed (or given), checked with the rest."""
    workflow.take(session, actor, case, Action.periodic_review)
    items = [c for c in checked if c in CHECK_ITEMS]
    with collect() as problems:  # every problem of the form at once
        if not items:
            problems.add("checked", _l("请勾选本次复核核查的内容。"))
        if outcome not in REVIEW_OUTCOMES:
            problems.add("outcome", _l("请选择复核结论。"))
        elif outcome != "continue":
            reason = problems.check(_text, reason, "reason",
                                    _l("建议调整金额或退保时，请写明理由（至少 %(n)d 个字）。", n=MIN_TEXT))
        findings = problems.check(_findings_required, findings)
        problems.check(workflow.check_category, category, case.members)
        amount = problems.check(entitlement.parse_money, amount, field_name="amount", allow_empty=True)
    text = "、".join(str(CHECK_ITEMS[c]) for c in items)
    record = workflow.periodic_review(session, actor, case, findings=f"{_l('核查内容：')}{text}\n{findings}",
                                      category=category)
    proposal = None
    if outcome == "amount":
        proposed = amount if amount is not None else record.amount_after
        if proposed is None:
            raise Conflict(_l("本地区还没有设置低保标准，无法核定金额。"))
        if proposed == case.monthly_amount:
            raise Invalid(_l("建议金额与现发金额相同，无需调整。"), field="amount")
        proposal = _propose(session, actor, case, ProposalKind.amount, ProposalSource.review, reason, proposed)
    elif outcome == "exit":
        proposal = _propose(session, actor, case, ProposalKind.exit, ProposalSource.review, reason)
    settled = []
    for open_one in open_proposals(session, case):
        if open_one.kind == ProposalKind.recheck:
            open_one.status = ProposalStatus.confirmed
            open_one.decided_by_name = actor.display_name
            open_one.decided_at = clock.now()
            open_one.decision_note = str(_l("已复核"))
            settled.append(open_one.id)
    audit.record(session, actor, "review_recorded", "case", case.id, region_id=case.region_id,
                 details={"check": record.id, "checked": items, "outcome": outcome,
                          "proposal": proposal.id if proposal else None, "settled": settled})
    return record


def _findings_required(findings: str | None) -> str:
    return _text(findings, "findings", _l("请填写复核情况（至少 %(n)d 个字）。", n=MIN_TEXT))


# --- the county decides what was proposed ------------------------------------------------------------------

def get_proposal(session: Session, actor: User, proposal_id: int) -> Proposal:
    return scope.get(session, actor, Proposal, proposal_id, _l("没有找到该建议。"))


def _recomputed(session: Session, case: Case, proposal: Proposal) -> bool:
    """Whether an amount proposal is the formula's result rather than an amount staff fixed: it equals what the
    household's figures give under the standard in force when it was proposed, or under today's."""
    if proposal.amount is None:
        return True
    proposed_on = clock.to_local(proposal.created_at).date()
    return any(entitlement.compute_for(session, case, on).computed == proposal.amount
               for on in (proposed_on, clock.today()))


def decide(session: Session, actor: User, proposal: Proposal, *, confirm: bool, reason: str) -> Proposal:
    """The county confirms a proposal (the exit, or the new amount, with the reason told to the family) or declines
    it with a reason (a declined exit at the end of a grace period keeps the household and ends its grace)."""
    case = proposal.case
    if not scope.can_see(actor, case.region):
        raise NotFound(_l("没有找到该建议。"))
    if actor.role != Role.county_approver:
        raise Forbidden(_l("只有县民政局可以对退保和调整金额的建议作出决定。"))
    # Two decisions at the same moment (a double click, two approvers): the second waits, then finds it decided.
    proposal = db.locked(session, proposal)
    if proposal.status != ProposalStatus.open:
        raise Conflict(_l("该建议已经处理。"))
    if proposal.kind == ProposalKind.recheck:
        raise Conflict(_l("重新核查由社区复核完成，不需要县级决定。"))
    reason = _text(reason, "reason", _l("请写明理由（至少 %(n)d 个字）。", n=MIN_TEXT))
    if confirm and proposal.kind == ProposalKind.exit:
        workflow.exit_case(session, actor, case, reason)
    elif confirm and proposal.kind == ProposalKind.amount:
        # A recomputation (the review left the amount empty) is applied as one: the amount computed now, under the
        # standard in force now (a 提标 since the proposal is kept), and no staff override — an override would
        # keep the household out of every later 提标. Only an amount staff typed stays fixed.
        fixed = None if _recomputed(session, case, proposal) else proposal.amount
        workflow.adjust_amount(session, actor, case, amount=fixed, reason=reason)
    elif not confirm:
        workflow.require(actor, case, Action.adjust_amount)
        if proposal.source == ProposalSource.grace_end:
            case.grace_until = None
            case.next_review_due = workflow.add_months(clock.today(),
                                                       workflow.REVIEW_MONTHS.get(case.category, 12))
    proposal.status = ProposalStatus.confirmed if confirm else ProposalStatus.declined
    proposal.decided_by_name = actor.display_name
    proposal.decided_at = clock.now()
    proposal.decision_note = reason
    session.add(CaseRecord(case_id=case.id, kind=RecordKind.proposal_decided,
                           findings=f"{PROPOSAL_KIND_LABELS[proposal.kind]}（{PROPOSAL_SOURCE_LABELS[proposal.source]}）："
                                    f"{_l('同意') if confirm else _l('不同意')}。{reason}",
                           author_id=actor.id, author_name=actor.display_name, created_at=clock.now()))
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "proposal_decided", "case", case.id, region_id=case.region_id,
                 details={"proposal": proposal.id, "kind": proposal.kind.value, "confirmed": confirm,
                          "reason": reason})
    return proposal


# --- 4. grace periods end by themselves; a death starts a re-check -----------------------------------------

def grace_pass(session: Session, today: date | None = None) -> list[int]:
    """The sweep: every active household whose 渐退期 ended gets an exit proposal (once) and is due for review."""
    today = today or clock.today()
    has_open = exists().where(Proposal.case_id == Case.id, Proposal.status == ProposalStatus.open,
                              Proposal.source == ProposalSource.grace_end)
    ended = list(session.scalars(select(Case).where(Case.stage == Stage.active, Case.grace_until.is_not(None),
                                                    Case.grace_until <= today, ~has_open)
                                 .order_by(Case.id).with_for_update(of=Case, skip_locked=True)))
    for case in ended:
        reason = str(_l("渐退期已于 %(day)s 届满，建议办理退保。", day=case.grace_until.isoformat()))
        proposal = _propose(session, None, case, ProposalKind.exit, ProposalSource.grace_end, reason)
        session.add(CaseRecord(case_id=case.id, kind=RecordKind.grace_end, findings=reason,
                               author_name=audit.SYSTEM_ACTOR, created_at=clock.now()))
        if case.next_review_due is None or case.next_review_due > today:
            case.next_review_due = today
        session.flush()
        audit.record(session, None, "grace_ended", "case", case.id, region_id=case.region_id,
                     details={"grace_until": case.grace_until.isoformat(), "proposal": proposal.id})
    return [c.id for c in ended]


def record_death(session: Session, actor: User, case: Case, *, member_id: int, died_on: date,
                 note: str = "") -> Proposal:
    """户主或成员死亡: written into the archive; the household is due for the re-check the rules require (its
    members and amount are settled by that review)."""
    workflow.take(session, actor, case, Action.periodic_review)
    member = next((m for m in case.members if m.id == member_id), None)
    with collect() as problems:  # every problem at once
        if member is None:
            problems.add("member_id", _l("请选择去世的家庭成员。"))
        if died_on is None:
            problems.add("died_on", _l("请填写死亡日期。"))
        elif died_on > clock.today():
            problems.add("died_on", _l("死亡日期不能晚于今天。"))
    who = _l("户主") if member.position == 0 else member.relation
    text = str(_l("%(who)s %(name)s 于 %(day)s 去世。", who=who, name=member.name, day=died_on.isoformat()))
    if (note or "").strip():
        text += " " + note.strip()[:1000]
    return death_recheck(session, actor, case, text=text, died_on=died_on, member_id=member.id)


def death_recheck(session: Session, actor: User, case: Case, *, text: str, died_on: date,
                  member_id: int | None) -> Proposal:
    """What every recorded death does, whichever screen recorded it (this one, or a member leaving the household
    by death in dibao.household): the archive says so and the household is due for its re-check now."""
    session.add(CaseRecord(case_id=case.id, kind=RecordKind.death, findings=text, author_id=actor.id,
                           author_name=actor.display_name, created_at=clock.now()))
    proposal = _propose(session, actor, case, ProposalKind.recheck, ProposalSource.death,
                        str(_l("家庭成员死亡，须重新核查家庭人口、收入和保障金额。")))
    case.next_review_due = clock.today()
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "death_recorded", "case", case.id, region_id=case.region_id,
                 details={"member": member_id, "died_on": died_on.isoformat(), "proposal": proposal.id})
    return proposal


# --- 3. monthly contact (月联系制度) --------------------------------------------------------------------------

def _contact_way(way: str) -> ContactWay:
    try:
        return ContactWay(way)
    except ValueError:
        raise Invalid(_l("请选择联系方式。"), field="way") from None


MAX_CONTACT_NOTE = 2000


def log_contact(session: Session, actor: User, case: Case, *, contacted_on: date, way: str, note: str = "") -> Contact:
    """月联系 of a household in payment, by its community's staff. The date, the way and the note are checked
    together (every problem at once, each beside its field); a case not in payment is refused at once."""
    if not scope.can_see(actor, case.region):
        raise NotFound(_l("没有找到该案件。"))
    if actor.role != Role.community_staff:
        raise Forbidden(_l("月联系由社区低保专干记录。"))
    if case.stage != Stage.active:
        raise Conflict(_l("只有在保家庭需要记录月联系。"))
    with collect() as problems:  # every problem at once
        how = problems.check(_contact_way, way)
        if contacted_on is None:
            problems.add("contacted_on", _l("请填写联系日期。"))
        elif contacted_on > clock.today():
            problems.add("contacted_on", _l("联系日期不能晚于今天。"))
        elif contacted_on < clock.today() - timedelta(days=92):
            problems.add("contacted_on", _l("只能补记三个月内的联系。"))
        if len((note or "").strip()) > MAX_CONTACT_NOTE:
            problems.add("note", _l("内容太长，最多 %(n)d 个字。", n=MAX_CONTACT_NOTE))
    contact = Contact(case_id=case.id, contacted_on=contacted_on, way=how, note=(note or "").strip(),
                      recorded_by_id=actor.id, recorded_by_name=actor.display_name, created_at=clock.now())
    session.add(contact)
    session.flush()
    audit.record(session, actor, "contact_logged", "case", case.id, region_id=case.region_id,
                 details={"contact": contact.id, "on": contacted_on.isoformat(), "way": how.value})
    return contact


def contacts_for(session: Session, case: Case, limit: int = 12) -> list[Contact]:
    return list(session.scalars(select(Contact).where(Contact.case_id == case.id)
                                .order_by(Contact.contacted_on.desc(), Contact.id.desc()).limit(limit)))


@dataclass
class CommunityContacts:
    region: Region
    active: int
    contacted: int
    category4: int
    category4_missing: int


@dataclass
class Completeness:
    month: date
    communities: list[CommunityContacts]
    missing: list[Case]  # category-4 households with no contact this month


def completeness(session: Session, user: User, month: date | None = None) -> Completeness:
    """月联系: per community, how many active households were contacted in ``month``; which category-4 households
    (reviewed monthly) were not."""
    start = entitlement.month_start(month or clock.today())
    end = entitlement.next_month(start)
    contacted = exists().where(Contact.case_id == Case.id, Contact.contacted_on >= start, Contact.contacted_on < end)
    active = [_in_scope(user), Case.stage == Stage.active]
    per: dict[int, list[int]] = {}
    for region_id, cat, was in session.execute(select(Case.region_id, Case.category, contacted).where(*active)):
        counts = per.setdefault(region_id, [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += bool(was)
        if cat == 4:
            counts[2] += 1
            counts[3] += not was
    regions = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_(list(per))))} if per else {}
    communities = [CommunityContacts(regions[rid], *counts) for rid, counts in per.items()]
    communities.sort(key=lambda c: c.region.path)
    missing = list(session.scalars(select(Case).where(*active, Case.category == 4, ~contacted)
                                   .order_by(Case.region_id, Case.id)))
    return Completeness(month=start, communities=communities, missing=missing)


# --- 2. re-check campaigns (全面入户核查) ----------------------------------------------------------------------

CAMPAIGN_ROLES = {Role.county_approver: Level.county, Role.town_reviewer: Level.town}


def _campaign_visible(user: User, campaign: Campaign) -> bool:
    """Its openers' scope, and the staff of every region under it (who do the checks)."""
    return scope.can_see(user, campaign.region) or user.region.path.startswith(campaign.region.path)


def campaigns(session: Session, user: User) -> list[Campaign]:
    found = session.scalars(select(Campaign).order_by(Campaign.opened_on.desc(), Campaign.id.desc()))
    return [c for c in found if _campaign_visible(user, c)]


def get_campaign(session: Session, user: User, campaign_id: int) -> Campaign:
    campaign = db.get_record(session, Campaign, campaign_id)
    if campaign is None or not _campaign_visible(user, campaign):
        raise NotFound(_l("没有找到该核查。"))
    return campaign


def open_campaign(session: Session, actor: User, *, title: str, due_on: date | None = None) -> Campaign:
    """A county or town opens a re-check of every household active in its scope today."""
    if actor.role not in CAMPAIGN_ROLES:
        raise Forbidden(_l("全面入户核查由县民政局或乡镇（街道）组织。"))
    title = (title or "").strip()
    with collect() as problems:  # every problem at once
        if len(title) < 2 or len(title) > 200:
            problems.add("title", _l("请填写核查名称。"))
        if due_on is not None and due_on < clock.today():
            problems.add("due_on", _l("完成期限不能早于今天。"))
    running = session.scalar(select(Campaign).where(Campaign.region_id == actor.region_id,
                                                    Campaign.closed_on.is_(None)))
    if running is not None:
        raise Conflict(_l("本区域已有进行中的核查“%(title)s”，请先结束它。", title=running.title))
    campaign = Campaign(region_id=actor.region_id, title=title, opened_on=clock.today(), due_on=due_on,
                        opened_by_id=actor.id, opened_by_name=actor.display_name, created_at=clock.now())
    session.add(campaign)
    session.flush()
    households = session.execute(select(Case.id, Case.region_id).where(_in_scope(actor), Case.stage == Stage.active)
                                 .order_by(Case.id)).all()
    session.add_all(CampaignHousehold(campaign_id=campaign.id, case_id=cid, community_id=rid)
                    for cid, rid in households)
    session.flush()
    audit.record(session, actor, "campaign_opened", "campaign", campaign.id, region_id=actor.region_id,
                 details={"title": title, "households": len(households)})
    return campaign


def close_campaign(session: Session, actor: User, campaign: Campaign) -> None:
    if not scope.can_see(actor, campaign.region) or actor.role not in CAMPAIGN_ROLES:
        raise Forbidden(_l("只有组织核查的县民政局或乡镇（街道）可以结束核查。"))
    if campaign.closed_on is not None:
        raise Conflict(_l("该核查已经结束。"))
    campaign.closed_on = clock.today()
    audit.record(session, actor, "campaign_closed", "campaign", campaign.id, region_id=campaign.region_id,
                 details=progress(session, actor, campaign).totals())


@dataclass
class CommunityProgress:
    region: Region
    total: int = 0
    done: int = 0


@dataclass
class Progress:
    campaign: Campaign
    communities: list[CommunityProgress]
    households: list[CampaignHousehold] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {"total": sum(c.total for c in self.communities), "done": sum(c.done for c in self.communities)}


def progress(session: Session, user: User, campaign: Campaign, *, community_id: int | None = None,
             pending_only: bool = False) -> Progress:
    """Per community in the user's scope: households in the campaign, and how many were checked."""
    in_scope = CampaignHousehold.community_id.in_(scope.region_ids_in_scope(user))
    rows = session.execute(
        select(CampaignHousehold.community_id, func.count(CampaignHousehold.id),
               func.count(CampaignHousehold.record_id))
        .where(CampaignHousehold.campaign_id == campaign.id, in_scope)
        .group_by(CampaignHousehold.community_id)).all()
    regions = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_([r[0] for r in rows])))} \
        if rows else {}
    communities = sorted((CommunityProgress(regions[rid], total, done) for rid, total, done in rows),
                         key=lambda c: c.region.path)
    conditions = [CampaignHousehold.campaign_id == campaign.id, in_scope]
    if community_id:
        conditions.append(CampaignHousehold.community_id == community_id)
    if pending_only:
        conditions.append(CampaignHousehold.record_id.is_(None))
    households = list(session.scalars(select(CampaignHousehold).where(*conditions)
                                      .options(selectinload(CampaignHousehold.case))
                                      .order_by(CampaignHousehold.community_id, CampaignHousehold.case_id)
                                      .limit(1000)))
    return Progress(campaign, communities, households)


def record_check(session: Session, actor: User, campaign: Campaign, case_id: int, *, findings: str) -> CaseRecord:
    """One household's check in the campaign, by its community (or town) staff: a record in its archive."""
    item = session.scalar(select(CampaignHousehold).where(CampaignHousehold.campaign_id == campaign.id,
                                                          CampaignHousehold.case_id == case_id))
    if item is None or not scope.can_see(actor, item.case.region):
        raise NotFound(_l("没有找到该户。"))
    if actor.role not in (Role.community_staff, Role.town_reviewer):
        raise Forbidden(_l("入户核查由社区低保专干或乡镇（街道）工作人员记录。"))
    if campaign.closed_on is not None:
        raise Conflict(_l("该核查已经结束。"))
    if item.record_id is not None:
        raise Conflict(_l("该户已经核查过了。"))
    findings = _text(findings, "findings", _l("请填写核查情况（至少 %(n)d 个字）。", n=MIN_TEXT))
    record = CaseRecord(case_id=item.case_id, kind=RecordKind.campaign_check,
                        findings=f"{campaign.title}：{findings}", author_id=actor.id,
                        author_name=actor.display_name, created_at=clock.now())
    session.add(record)
    session.flush()
    item.record_id = record.id
    item.checked_on = clock.today()
    audit.record(session, actor, "campaign_check_recorded", "case", item.case_id, region_id=item.case.region_id,
                 details={"campaign": campaign.id, "check": record.id})
    return record


def campaign_items_for(session: Session, case: Case) -> list[CampaignHousehold]:
    """The open campaigns this household still waits in (the case page links to its check)."""
    return list(session.scalars(select(CampaignHousehold).join(Campaign)
                                .where(CampaignHousehold.case_id == case.id, CampaignHousehold.record_id.is_(None),
                                       Campaign.closed_on.is_(None))))


# --- the sweep -------------------------------------------------------------------------------------------------

def run_pass(app: Flask) -> dict[str, int]:
    """The management part of the sweep, each step its own transaction: grace periods that ended get their exit
    proposal; standards whose date arrived get their 提标 preview for the county (dibao.raises)."""
    from dibao import raises

    make_session = app.extensions["dibao.write_sessions"]
    with make_session() as session:
        ended = grace_pass(session)
        session.commit()
    with make_session() as session:
        try:
            detected = raises.detect(session)
            session.commit()
        except IntegrityError:  # another process recorded the same standard's raise first: nothing left to do
            session.rollback()
            detected = []
    if ended or detected:
        log.info("management sweep: %d grace periods ended, %d standards to raise", len(ended), len(detected))
    return {"grace_ended": len(ended), "raises": len(detected)}


# --- 11. the clerk's week --------------------------------------------------------------------------------------

WEEK_DAYS = 7


@dataclass
class Week:
    until: date
    reviews: list[Case]
    review_count: int
    objections: list  # open objections whose deadline falls this week (or passed)
    notices: list  # notice batches whose window closes this week
    raises: int = 0  # 提标 waiting for the county's confirmation


def week_ahead(session: Session, user: User, limit: int = 8) -> Week:
    """What is due this week in the user's scope: reviews, objections to decide, notices closing."""
    from dibao.models import FeedbackStatus, NoticeBatch, Objection

    today = clock.today()
    until = today + timedelta(days=WEEK_DAYS)
    reviews_due = and_(_in_scope(user), or_(due_condition(today),
                                            and_(Case.stage == Stage.active, Case.next_review_due <= until)))
    review_count = session.scalar(select(func.count(Case.id)).where(reviews_due)) or 0
    due_cases = list(session.scalars(select(Case).where(reviews_due)
                                     .order_by(Case.next_review_due, Case.id).limit(limit)))
    in_scope = scope.region_ids_in_scope(user)
    objections = list(session.scalars(select(Objection).where(Objection.region_id.in_(in_scope),
                                                              Objection.status != FeedbackStatus.decided,
                                                              Objection.deadline <= until)
                                      .order_by(Objection.deadline, Objection.id).limit(limit)))
    now = clock.now()
    notices = list(session.scalars(select(NoticeBatch).where(NoticeBatch.region_id.in_(in_scope),
                                                             NoticeBatch.withdrawn_at.is_(None),
                                                             NoticeBatch.opens_at <= now,
                                                             NoticeBatch.closes_at > now,
                                                             NoticeBatch.closes_at <= now + timedelta(days=WEEK_DAYS))
                                   .order_by(NoticeBatch.closes_at).limit(limit)))
    from dibao import raises

    return Week(until=until, reviews=due_cases, review_count=review_count, objections=objections, notices=notices,
                raises=raises.pending_count(session, user) if user.role == Role.county_approver else 0)


# --- 11. one sitting of the community review panel decides several households ----------------------------------

@dataclass
class SittingResult:
    case_id: int
    decision: str
    votes_for: int | None
    votes_against: int | None
    votes_abstain: int | None
    opinion: str


def sitting_candidates(session: Session, user: User) -> list[Case]:
    """The households in the user's scope waiting for the community review panel."""
    return list(session.scalars(select(Case).where(_in_scope(user), Case.stage == Stage.community_review)
                                .order_by(Case.region_id, Case.id)))


def community_sitting(session: Session, actor: User, *, held_on: date | None, location: str, panel: Sequence[str],
                      attendees: Sequence[str], results: Sequence[SittingResult],
                      levels=workflow.ALL_LEVELS) -> list[int]:
    """民主评议 of several households in one meeting: one meeting record, each household's votes and opinion
    through ``workflow.record_community_review``. All or nothing: a refusal for one names the household and the
    caller's transaction is rolled back; every household's refusal is said at once (:func:`_each_household`)."""
    from dibao.models import Decision

    _check_sitting(results, workflow._review_meeting_people, held_on, panel, attendees)
    meeting = None

    def decide(case: Case, result: SittingResult) -> None:
        nonlocal meeting
        if meeting is not None and meeting.region_id != case.region_id:
            raise Invalid(_l("一次评议会议只能评议同一社区的家庭。"))
        decision = chosen(Decision, result.decision)
        if decision is None:
            raise Invalid(_l("请选择评议结果。"))
        if meeting is None:  # the meeting's own problems (panel, attendees, date) were checked above
            meeting = workflow.new_review_meeting(session, actor, case, held_on=held_on, location=location,
                                                  panel=panel, attendees=attendees)
        workflow.record_community_review(
            session, actor, case, decision=decision, opinion=result.opinion, votes_for=result.votes_for,
            votes_against=result.votes_against, votes_abstain=result.votes_abstain or 0, meeting=meeting,
            levels=levels)

    return _each_household(session, actor, results, Action.community_review, decide)


def _check_sitting(results: Sequence, meeting_fields: Callable[..., object], *fields: object) -> None:
    """A sitting's own problems at once, before any household is taken: none chosen, and the meeting's fields
    (``meeting_fields(*fields)``, the check a new meeting's record runs)."""
    with collect() as problems:
        if not results:
            problems.add("include", _l("请至少选择一户。"))
        problems.check(meeting_fields, *fields)


def _each_household(session: Session, actor: User, results: Sequence, action: Action,
                    decide: Callable[[Case, Any], None]) -> list[int]:
    """A sitting's households, each taken for ``action`` and ``decide``d: all or nothing, and every household's
    refusal said at once, led by whose it is (a clerk with ten households fixes them in one round, not ten). A
    household that is refused wrote nothing (the workflow checks before it writes); if any is, the error raised
    here rolls the caller's transaction back with the others' records. Not found (404) and not allowed (403) end
    the sitting at once, as for one household."""
    done = []
    with collect() as problems:
        for result in results:
            case = scope.get(session, actor, Case, result.case_id, _l("没有找到该案件。"))
            try:
                workflow.take(session, actor, case, action)
                decide(case, result)
            except DomainError as err:
                about = _about(case, err, field=f"household-{case.id}")  # (its row in the sitting's table)
                if not isinstance(about, COLLECTED):
                    raise about from None
                problems.add_error(about)
            else:
                done.append(case.id)
    return done


def _about(case: Case, err: DomainError, field: str | None = None) -> DomainError:
    """A household's own refusal in a sitting of several: the same kind of error, its message led by whose it is."""
    return type(err)(_l("%(name)s（%(number)s）：%(message)s", name=case.head_name, number=case.number,
                        message=err.message), field=field)


# --- 11. one 乡镇党委会议 decides several households ---------------------------------------------------------

@dataclass
class TownSittingResult:
    case_id: int
    decision: str
    opinion: str
    override_reason: str = ""
    tier: str = ""  # 分档 only: the tier the town proposes, with its reason (workflow.record_town_decision)
    tier_reason: str = ""


def town_sitting_candidates(session: Session, user: User) -> list[Case]:
    """The households in the user's scope waiting for the town meeting."""
    return list(session.scalars(select(Case).where(_in_scope(user), Case.stage == Stage.town_decision)
                                .order_by(Case.region_id, Case.id)))


def town_sitting(session: Session, actor: User, *, held_on: date | None, title: str, participants: Sequence[str],
                 results: Sequence[TownSittingResult], levels=workflow.ALL_LEVELS) -> list[int]:
    """乡镇党委会议 studying several households in one sitting: one meeting record (title, date, participants),
    each household's decision and opinion through ``workflow.record_town_decision``. All or nothing: a refusal
    for one names the household and the caller's transaction is rolled back; every household's refusal is said at
    once (:func:`_each_household`)."""
    from dibao.models import Decision

    _check_sitting(results, workflow._town_meeting_fields, held_on, title, participants)
    meeting = None

    def decide(case: Case, result: TownSittingResult) -> None:
        nonlocal meeting
        decision = chosen(Decision, result.decision)
        if decision is None:
            raise Invalid(_l("请选择研究结果。"))
        if meeting is None:  # the meeting's own problems (title, participants, date) were checked above
            meeting = workflow.new_town_meeting(session, actor, case.region.parent_id, held_on=held_on,
                                                title=title, participants=participants)
        workflow.record_town_decision(session, actor, case, decision=decision, opinion=result.opinion,
                                      meeting=meeting, levels=levels, override_reason=result.override_reason or None,
                                      tier=result.tier or None, tier_reason=result.tier_reason or None)

    return _each_household(session, actor, results, Action.town_decision, decide)
