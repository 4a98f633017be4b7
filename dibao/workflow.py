"""The case workflow: stages, the transitions between them, who may take each step, and the guards.

Every stage change is decided by :func:`_transition` (the transition table, the time stamp, the audit event);
:func:`_step` applies it to one case and :func:`_move` writes its event, :func:`_step_many` applies it to many
cases with one ``UPDATE`` and gives their events to write together (publishing a board). Which
notice rounds are used is configuration (``NOTICE_LEVELS``); a level without a notice round goes straight from
its opinion to the next level's review (:func:`after_opinion`).

The steps (DESIGN.md "The workflow"):

    applied ──home visit──▶ investigating ──submit──▶ community_review ──panel opinion──▶ [community notice]
    ──▶ town_review ──town check──▶ town_decision ──town meeting + opinion──▶ [town notice]
    ──▶ county_approval ──county decision──▶ [county notice] ──▶ active ──exit──▶ exited

Any review step may end in ``rejected`` with a written reason, recorded as that level's reject opinion.
Guards: a home visit needs ≥ 2 investigators and ≥ 3 neighbour visits; each level's step needs the level
below to have approved; an unresolved objection holds the case at every advance; a close relative of staff
(近亲属) needs a county home visit before the county may approve, and so does a case with an objection or a
report during its application (a county visit recorded after the latest one was filed, A 20). A home visit is
signed by the family, or says why it was not (A 15–16). The grace periods of one approval add up to at most
6 months (A 33).
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from dibao import audit, cache, clock, db, entitlement, roster_summary, scope
from dibao.db import chunks
from dibao.errors import Conflict, Forbidden, Invalid, NotFound, Problems, chosen, collect
from dibao.models import (
    AmountChange,
    Case,
    Decision,
    Level,
    Member,
    Objection,
    Opinion,
    Report,
    Role,
    Stage,
    User,
    WorkCapacity,
)
from dibao.models.records import (
    CaseRecord,
    HomeVisit,
    MeetingPerson,
    NeighbourVisit,
    PersonKind,
    RecordKind,
    ReviewMeeting,
    ReviewResult,
    TownMeeting,
    TownMeetingResult,
    VisitInvestigator,
)
from dibao.text import clean_line, clean_text, normalise_name

STAGE_LABELS = {
    Stage.applied: _l("已受理"),
    Stage.investigating: _l("入户调查"),
    Stage.community_review: _l("民主评议"),
    Stage.awaiting_community_notice: _l("待社区公示"),
    Stage.community_notice: _l("社区公示中"),
    Stage.town_review: _l("乡镇审核"),
    Stage.town_decision: _l("乡镇会议研究"),
    Stage.awaiting_town_notice: _l("待乡镇公示"),
    Stage.town_notice: _l("乡镇公示中"),
    Stage.county_approval: _l("县级审批"),
    Stage.awaiting_county_notice: _l("待县级公示"),
    Stage.county_notice: _l("县级公示中"),
    Stage.active: _l("在保"),
    Stage.rejected: _l("不予批准"),
    Stage.exited: _l("已退保"),
}

# The body that reviews, opines and notices at each level.
REVIEWER_LABELS = {Level.community: _l("社区"), Level.town: _l("乡镇（街道）"), Level.county: _l("县民政局")}
OPINION_TITLES = {Level.community: _l("初审意见"), Level.town: _l("审核意见"), Level.county: _l("审批结果")}
DECISION_LABELS = {Decision.approve: _l("同意"), Decision.reject: _l("不同意")}

# Each level's notice: the stage that waits for it, the stage while it is open.
AWAITING_NOTICE = {
    Level.community: Stage.awaiting_community_notice,
    Level.town: Stage.awaiting_town_notice,
    Level.county: Stage.awaiting_county_notice,
}
IN_NOTICE = {
    Level.community: Stage.community_notice,
    Level.town: Stage.town_notice,
    Level.county: Stage.county_notice,
}
# Where a case goes once a level's notice (or, without a notice round, its opinion) is done.
AFTER_LEVEL = {Level.community: Stage.town_review, Level.town: Stage.county_approval, Level.county: Stage.active}

REVIEW_STAGES = {
    Stage.investigating, Stage.community_review, Stage.town_review, Stage.town_decision, Stage.county_approval,
}
CLOSED_STAGES = {Stage.rejected, Stage.exited}
OPEN_STAGES = frozenset(Stage) - CLOSED_STAGES
# Stages in which the county has not decided yet (the whole-case deadline runs).
UNDECIDED_STAGES = frozenset({
    Stage.applied, Stage.investigating, Stage.community_review, Stage.awaiting_community_notice,
    Stage.community_notice, Stage.town_review, Stage.town_decision, Stage.awaiting_town_notice,
    Stage.town_notice, Stage.county_approval,
})
# Stages of a household the county has approved and not yet closed: it has its amount and its periods (paid once
# active; before that its county notice is still to come or running).
APPROVED_STAGES = frozenset({Stage.awaiting_county_notice, Stage.county_notice, Stage.active})
# The level that owns a stage (its rejection is that level's opinion).
STAGE_LEVEL = {
    Stage.applied: Level.community, Stage.investigating: Level.community, Stage.community_review: Level.community,
    Stage.town_review: Level.town, Stage.town_decision: Level.town, Stage.county_approval: Level.county,
}

TRANSITIONS: dict[Stage, set[Stage]] = {
    Stage.applied: {Stage.investigating, Stage.rejected},
    Stage.investigating: {Stage.community_review, Stage.rejected},
    Stage.community_review: {Stage.awaiting_community_notice, Stage.town_review, Stage.rejected},
    Stage.awaiting_community_notice: {Stage.community_notice},
    Stage.community_notice: {Stage.town_review, Stage.investigating, Stage.awaiting_community_notice},
    Stage.town_review: {Stage.town_decision, Stage.rejected, Stage.investigating},
    Stage.town_decision: {Stage.awaiting_town_notice, Stage.county_approval, Stage.rejected},
    Stage.awaiting_town_notice: {Stage.town_notice},
    Stage.town_notice: {Stage.county_approval, Stage.investigating, Stage.awaiting_town_notice},
    Stage.county_approval: {Stage.awaiting_county_notice, Stage.active, Stage.rejected, Stage.investigating},
    Stage.awaiting_county_notice: {Stage.county_notice},
    Stage.county_notice: {Stage.active, Stage.investigating, Stage.awaiting_county_notice},
    Stage.active: {Stage.exited, Stage.investigating},
    Stage.rejected: set(),
    Stage.exited: set(),
}

# 分类管理: months between reviews for each category (seed: yearly, half-yearly, quarterly, monthly).
REVIEW_MONTHS = {1: 12, 2: 6, 3: 3, 4: 1}
CATEGORY_LABELS = {1: _l("一类（每年复核）"), 2: _l("二类（每半年复核）"), 3: _l("三类（每季度复核）"),
                   4: _l("四类（每月复核）")}
MAX_GRACE_MONTHS = 6
MIN_INVESTIGATORS = 2
MAX_PERSON_NAME = 50  # (the name columns of visit_investigator, neighbour_visit and meeting_person)
MIN_NEIGHBOURS = 3
MIN_REASON = 4  # characters of a written reason
MAX_VOTES = 99  # of one ballot of a community review panel


def check_category(value: int | None, members: Iterable[Member] | None = None) -> int:
    """One of the four categories of 分类管理 (REVIEW_MONTHS), as chosen in a form or a filter; with the
    household's ``members``, also one it may have (:func:`least_category`)."""
    if value not in REVIEW_MONTHS:
        raise Invalid(_l("请选择分类（一至四类）。"), field="category")
    if members is not None and int(value) < least_category(members):
        raise Invalid(_l("该户有劳动年龄内有劳动能力的成员，或有经营、种养殖等不固定收入，按规定至少每半年复核一次"
                         "（A 31）：请选择二类或以上。"), field="category")
    return int(value)


WORKING_AGE = range(16, 60)  # 法定劳动年龄: from 16 to the retirement age
IRREGULAR_INCOME = frozenset({"business", "farming"})  # 经营性、种养殖: income that moves with season and market


def needs_half_yearly(members: Iterable[Member]) -> bool:
    """A 31: a household with a member able to work, of working age, or with irregular income is reviewed at
    least every six months; only the others (the old, the ill, the disabled, 三无) may be reviewed yearly."""
    for member in members:
        if (member.work_capacity == WorkCapacity.full and member.age is not None
                and member.age in WORKING_AGE):
            return True
        if any(income.source in IRREGULAR_INCOME and income.monthly_amount
               for income in getattr(member, "incomes", ())):
            return True
    return False


def least_category(members: Iterable[Member]) -> int:
    """The lowest category (the longest review interval) the household may have: 2 (half-yearly) or 1."""
    return 2 if needs_half_yearly(members) else 1


# --- who may do what, where ---------------------------------------------------------------------------

class Action(enum.StrEnum):
    edit = "edit"  # 修改家庭信息、成员、收入、照片
    home_visit = "home_visit"  # 入户调查
    submit_review = "submit_review"  # 调查完毕，提交民主评议
    community_review = "community_review"  # 民主评议 + 初审意见
    town_check = "town_check"  # 乡镇审核（复查）
    town_decision = "town_decision"  # 乡镇会议 + 审核意见
    county_decision = "county_decision"  # 县级审批
    reject = "reject"  # 不予批准（写明理由）
    send_back = "send_back"  # 退回重新调查
    periodic_review = "periodic_review"  # 定期复核
    adjust_amount = "adjust_amount"  # 调整保障金额
    grace = "grace"  # 渐退期
    exit = "exit"  # 退保
    attach = "attach"  # 上传材料


ACTION_LABELS = {
    Action.edit: _l("修改家庭信息"),
    Action.home_visit: _l("记录入户调查"),
    Action.submit_review: _l("调查完毕，提交民主评议"),
    Action.community_review: _l("记录民主评议和初审意见"),
    Action.town_check: _l("乡镇审核（复查）"),
    Action.town_decision: _l("记录乡镇会议和审核意见"),
    Action.county_decision: _l("县级审批"),
    Action.reject: _l("不予批准"),
    Action.send_back: _l("退回重新调查"),
    Action.periodic_review: _l("定期复核"),
    Action.adjust_amount: _l("调整保障金额"),
    Action.grace: _l("设置渐退期"),
    Action.exit: _l("退保"),
    Action.attach: _l("上传材料"),
}

_ALL_BEFORE_DECISION = frozenset({
    Stage.applied, Stage.investigating, Stage.community_review, Stage.town_review, Stage.town_decision,
    Stage.county_approval,
})

ACTION_RULES: dict[Action, dict[Role, frozenset[Stage]]] = {
    Action.edit: {Role.community_staff: OPEN_STAGES},
    Action.home_visit: {
        Role.community_staff: frozenset({Stage.applied, Stage.investigating}),
        Role.town_reviewer: frozenset({Stage.town_review}),
        Role.county_approver: _ALL_BEFORE_DECISION,
    },
    Action.submit_review: {Role.community_staff: frozenset({Stage.investigating})},
    Action.community_review: {Role.community_staff: frozenset({Stage.community_review})},
    Action.town_check: {Role.town_reviewer: frozenset({Stage.town_review})},
    Action.town_decision: {Role.town_reviewer: frozenset({Stage.town_decision})},
    Action.county_decision: {Role.county_approver: frozenset({Stage.county_approval})},
    Action.reject: {
        Role.community_staff: frozenset({Stage.applied, Stage.investigating, Stage.community_review}),
        Role.town_reviewer: frozenset({Stage.town_review, Stage.town_decision}),
        Role.county_approver: frozenset({Stage.county_approval}),
    },
    Action.send_back: {
        Role.town_reviewer: frozenset({Stage.town_review}),
        Role.county_approver: frozenset({Stage.county_approval}),
    },
    Action.periodic_review: {Role.community_staff: frozenset({Stage.active})},
    Action.adjust_amount: {Role.county_approver: frozenset({Stage.active})},
    Action.grace: {Role.county_approver: frozenset({Stage.active})},
    Action.exit: {Role.county_approver: frozenset({Stage.active})},
    Action.attach: {
        Role.community_staff: frozenset(Stage),
        Role.town_reviewer: frozenset(Stage),
        Role.county_approver: frozenset(Stage),
    },
}


def may(user: User, case: Case, action: Action) -> bool:
    """Whether ``user`` may take ``action`` on ``case`` now (role, region and stage; not the guards)."""
    stages = ACTION_RULES[action].get(user.role)
    return bool(stages) and case.stage in stages and scope.can_see(user, case.region)


def available_actions(user: User, case: Case) -> list[Action]:
    return [action for action in Action if may(user, case, action)]


def require(user: User, case: Case, action: Action) -> None:
    """Refuse what the role, region or stage does not allow: out of region 404, wrong role 403,
    wrong stage 409. Nothing has been changed when this raises."""
    if not scope.can_see(user, case.region):
        raise NotFound(_l("没有找到该案件。"))
    stages = ACTION_RULES[action].get(user.role)
    if not stages:
        raise Forbidden(_l("您的岗位不能办理“%(action)s”。", action=ACTION_LABELS[action]))
    if case.stage not in stages:
        raise Conflict(_l("案件当前处于“%(stage)s”阶段，不能办理“%(action)s”。",
                          stage=STAGE_LABELS[case.stage], action=ACTION_LABELS[action]))


def take(session: Session, user: User, case: Case, action: Action) -> None:
    """:func:`require`, with the case's row locked first (:func:`dibao.db.locked`) and re-read: of two requests
    doing the same step at the same moment (a double click, two clerks, two servers) the second waits, then finds
    the case already moved and is refused 409 — never the same approval, exit or amount written twice."""
    db.locked(session, case)
    require(user, case, action)


# --- small helpers -------------------------------------------------------------------------------------

def notice_levels(config_levels: Iterable[str]) -> tuple[Level, ...]:
    """The levels with a notice round, from the deployment's ``NOTICE_LEVELS`` (the callers pass it in)."""
    return tuple(Level(v) for v in config_levels if v)


# The seed's three rounds: what the domain assumes when a caller does not say (DESIGN.md "The workflow").
ALL_LEVELS: tuple[Level, ...] = (Level.community, Level.town, Level.county)


def after_opinion(level: Level, levels_with_notice: Iterable[Level]) -> Stage:
    """Where an approving opinion at ``level`` sends the case: its notice round, or the next level."""
    return AWAITING_NOTICE[level] if level in set(levels_with_notice) else AFTER_LEVEL[level]


def is_held(session: Session, case: Case) -> bool:
    """An unresolved objection holds the case: it may not advance until the objection is decided."""
    stmt = select(
        exists().where(Objection.case_id == case.id, Objection.status.in_(Objection.HOLDING))
    )
    return bool(session.scalar(stmt))


def _not_held(session: Session, case: Case) -> None:
    if is_held(session, case):
        raise Conflict(_l("该户有尚未办结的异议，案件暂停推进；请先核查并办结异议。"))


def current_opinion(case: Case, level: Level) -> Opinion | None:
    for opinion in reversed(case.opinions):
        if opinion.level == level and not opinion.superseded:
            return opinion
    return None


def _require_approved(case: Case, level: Level) -> None:
    opinion = current_opinion(case, level)
    if opinion is None or opinion.decision != Decision.approve:
        raise Conflict(_l("还没有%(level)s的同意意见，不能办理这一步。", level=REVIEWER_LABELS[level]))


def _text(value: str | None, *, field: str, message, minimum: int = 1, maximum: int = 4000) -> str:
    value = (value or "").strip()
    if len(value) < minimum:
        raise Invalid(message, field=field)
    if len(value) > maximum:
        raise Invalid(_l("内容太长，请精简到 %(n)d 字以内。", n=maximum), field=field)
    return value


def _reason(value: str | None, field: str = "reason") -> str:
    return _text(value, field=field, minimum=MIN_REASON,
                 message=_l("请写明理由（至少 %(n)d 个字）。", n=MIN_REASON))


def _names(values: Iterable[str], field: str | None = None, *, clean: Callable[[str], str] = normalise_name,
           maximum: int = MAX_PERSON_NAME) -> list[str]:
    """Names typed one a line (investigators, a meeting's panel and attendees, participants), each cleaned as every
    person's name is where it enters (:func:`dibao.text.normalise_name`: 张　三 and 张\u200b三 are 张三) and then
    kept once, so one person typed twice never counts as two. A line with something typed and no name left after
    cleaning, or a name longer than ``maximum``, is refused on ``field`` (every such line at once) — never dropped
    or cut short. ``clean``: :func:`organisation` for the names of agencies."""
    kept: list[str] = []
    with collect() as problems:
        for value in values:
            if not value or value.isspace():
                continue
            name = clean(value)
            if not name:
                problems.add(field, _l("有一行只有看不见的字符或符号，没有姓名，请删去或重新填写。"))
            elif len(name) > maximum:
                problems.add(field, _l("“%(name)s”超过 %(n)d 个字：请每行只填一个名字。",
                                       name=name[:12] + "…", n=maximum))
            elif name not in kept:
                kept.append(name)
    return kept


def organisation(value: str | None) -> str:
    """The name of an organisation as typed (an agency, 县民政局): no control or formatting character, one space
    for any run of whitespace (a full-width space too), nothing at either end; otherwise as typed — unlike a
    person's name, not NFKC (公安（车辆） keeps its full-width brackets) and its spaces are not removed."""
    return " ".join(clean_line(value).split())


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _meeting_decided(session: Session, actor: User, case: Case, level: Level, levels: Iterable[Level], decision: Decision,
                     opinion: str, override: str | None, action: str, details: dict) -> Opinion:
    """A meeting's decision on one household (the community's review, the town's): the level's signed opinion,
    then the case moves on — or ends, rejected — with one audit event saying which meeting decided."""
    signed = _opinion(session, actor, case, level, decision, opinion, override)
    details = {**details, "opinion": signed.id}
    if override:
        details["override_reason"] = override
    if decision == Decision.reject:
        _move(session, actor, case, Stage.rejected, action="case_rejected",
              details={**details, "level": level.value, "reason": opinion})
    else:
        _move(session, actor, case, after_opinion(level, levels), action=action, details=details)
    return signed


def _opinion(session: Session, actor: User, case: Case, level: Level, decision: Decision, text: str,
             override_reason: str | None = None) -> Opinion:
    # A new opinion of a level replaces an earlier one of the same level (e.g. after a send-back).
    for earlier in case.opinions:
        if earlier.level == level and not earlier.superseded:
            earlier.superseded = True
    opinion = Opinion(case=case, level=level, decision=decision, text=text, author_id=actor.id,
                      author_name=actor.display_name, created_at=clock.now(), override_reason=override_reason)
    session.add(opinion)
    session.flush()
    return opinion


def approval_override(session: Session, case: Case, override_reason: str | None) -> str | None:
    """No public "同意" for a household whose amount is 0 (income at or above the standard): the community and
    town opinions refuse it unless a written reason is given, which is then published with the opinion.
    Returns the reason to keep (None when the amount is not 0, or unknown for want of a standard)."""
    amount = entitlement.compute_for(session, case).amount
    if amount is None or amount > 0:
        return None
    return _text(override_reason, field="override_reason", minimum=MIN_REASON, maximum=2000, message=_l(
        "按家庭收入核算的保障金额为 0（家庭人均收入不低于低保标准），不能作出“同意”的意见。确有特殊情况的，"
        "请在“特殊情况说明”中写明理由（至少 %(n)d 个字），理由将随公示公开。", n=MIN_REASON))


def _move(
    session: Session,
    actor: User | None,
    case: Case,
    to: Stage,
    *,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    """A case changes stage, with its audit event (see ``_step``)."""
    audit.record_many(session, actor, [_step(case, to, action=action, details=details)])


def _step(case: Case, to: Stage, *, action: str, details: dict[str, Any] | None = None) -> audit.Entry:
    """A case changes stage: :func:`_transition`'s values set on the case (``_move`` writes the event at once)."""
    values, event = _transition(case, to, action=action, details=details)
    for name, value in values.items():
        setattr(case, name, value)
    return event


def _transition(case: Case, to: Stage, *, action: str, details: dict[str, Any] | None = None,
                at: datetime | None = None) -> tuple[dict[str, Any], audit.Entry]:
    """The one rule of a stage change: checks the table, stamps the time (``at``, default now), and gives the
    case's new column values and the audit event to write. :func:`_step` sets them on one case;
    :func:`_step_many` writes many at once."""
    if to not in TRANSITIONS[case.stage]:
        raise Conflict(_l("案件当前处于“%(stage)s”阶段，不能办理这一步。", stage=STAGE_LABELS[case.stage]))
    now = at or clock.now()
    values = {"stage": to, "stage_changed_at": now, "updated_at": now}
    return values, audit.Entry(action, "case", case.id, region_id=case.region_id,
                               details={"from": case.stage.value, "to": to.value, **(details or {})})


def _step_many(session: Session, cases: Sequence[Case], to: Stage, *, action: str,
               details: dict[str, Any] | None = None) -> list[audit.Entry]:
    """:func:`_step` for many cases (a board of thousands), written with one ``UPDATE … WHERE id IN`` per group
    of cases with the same stage before and the same new values — not one ORM update per case.

    Each ``UPDATE`` also requires the stage the session read: a case moved meanwhile by another transaction
    matches nothing, and the whole step is refused (Conflict; the caller's transaction rolls back). The cases
    in the session get the new values as already stored, so what the request reads next shows them."""
    table, at = Case.__table__, clock.now()  # one instant for the step: the cases' new values are alike
    groups: dict[tuple, list[Case]] = {}
    events = []
    for case in cases:
        values, event = _transition(case, to, action=action, details=details, at=at)
        groups.setdefault((case.stage, tuple(values.items())), []).append(case)
        events.append(event)
    for (before, items), group in groups.items():
        values = dict(items)
        for chunk in chunks(group, 2000):  # a board of 10,000 in five statements (SQLite takes 32,766 parameters)
            moved = session.execute(table.update().where(table.c.id.in_([c.id for c in chunk]),
                                                         table.c.stage == before).values(values)).rowcount
            if moved != len(chunk):
                raise Conflict(_l("有案件刚刚被他人办理，阶段已经改变；请刷新后重新选择。"))
        for case in group:
            for name, value in values.items():
                set_committed_value(case, name, value)
        # The flush hooks never see a Core UPDATE: the public versions, and the roster summary when households
        # come into or leave the roster.
        regions = {case.region_id for case in group}
        cache.note_regions(session, regions)
        if Stage.active in (before, to):
            roster_summary.invalidate_regions(session, regions)
    return events


# --- 入户调查 -------------------------------------------------------------------------------------------

@dataclass
class Neighbour:
    name: str
    relation: str
    statement: str


def _neighbours(problems: Problems, neighbours: Sequence[Neighbour]) -> list[Neighbour]:
    """The neighbours visited (rows with anything typed), cleaned: each name as a person's name, the relation as
    one line. Their problems go to ``problems``: a row without a name or a statement, a name too long, one
    neighbour entered twice (same name and same relation or address), fewer than three."""
    visited: list[Neighbour] = []
    seen: set[tuple[str, str]] = set()
    incomplete = False
    for i, row in enumerate(neighbours):
        if not (row.name or "").strip() and not (row.statement or "").strip():
            continue  # an empty row of the form
        neighbour = Neighbour(normalise_name(row.name), organisation(row.relation)[:100], (row.statement or "").strip())
        visited.append(neighbour)
        if not neighbour.name or not neighbour.statement:
            incomplete = True
        elif (neighbour.name, neighbour.relation) in seen:
            problems.add(f"neighbours-{i}-name", _l("走访对象“%(name)s”填了两次；同名的不是同一人时，请在“关系或住址”"
                                                    "里写明区别。", name=neighbour.name))
        else:
            seen.add((neighbour.name, neighbour.relation))
            if len(neighbour.name) > MAX_PERSON_NAME:
                problems.add(f"neighbours-{i}-name", _l("姓名最多 %(n)d 个字。", n=MAX_PERSON_NAME))
    if incomplete:
        problems.add("neighbours", _l("每位走访对象都要填写姓名和了解到的情况。"))
    elif len(seen) < MIN_NEIGHBOURS:  # (one neighbour entered twice counts once)
        problems.add("neighbours", _l("至少需要走访 %(n)d 户邻居（或村民、房东、用工单位），目前只有 %(m)d 户。",
                                      n=MIN_NEIGHBOURS, m=len(seen)))
    return visited


def record_home_visit(
    session: Session,
    actor: User,
    case: Case,
    *,
    visited_on: date | None,
    housing: str,
    inquiry: str,
    notes: str = "",
    family_signed: bool = False,
    unsigned_reason: str | None = None,
    investigators: Sequence[str],
    neighbours: Sequence[Neighbour],
) -> HomeVisit:
    """一看二问三走访. The first visit moves an accepted case into investigation. The investigators and the family
    sign the record (A 15–16): without ``family_signed``, ``unsigned_reason`` says why the family did not."""
    take(session, actor, case, Action.home_visit)
    with collect() as problems:  # every problem of the visit at once
        names = problems.check(_names, investigators, "investigators")
        if names is not None and len(names) < MIN_INVESTIGATORS:
            typed = sum(1 for value in investigators if value and not value.isspace())
            if typed > len(names):  # one person typed twice (张三 and 张\u200b三, 张　三 …) is one investigator
                problems.add("investigators", _l("调查人员中有重复的姓名（%(names)s），入户调查至少需要 %(n)d 名不同的"
                                                 "调查人员。", names="、".join(names), n=MIN_INVESTIGATORS))
            else:
                problems.add("investigators", _l("入户调查至少需要 %(n)d 名调查人员，请填写全部调查人员的姓名。",
                                                 n=MIN_INVESTIGATORS))
        visited = _neighbours(problems, neighbours)
        housing = problems.check(_text, housing, field="housing", message=_l("请填写“一看”：住房和生活消费情况。"))
        inquiry = problems.check(_text, inquiry, field="inquiry", message=_l("请填写“二问”：就业、收入和健康情况。"))
        unsigned_reason = None if family_signed else problems.check(
            _text, clean_text(unsigned_reason), field="unsigned_reason", minimum=MIN_REASON, maximum=500,
            message=_l("调查记录须由调查人员和申请家庭签字。家庭未签字的，请写明原因（如拒绝签字、无法签字及其缘由），至少 "
                       "%(n)d 个字。", n=MIN_REASON))
        if visited_on is None:
            problems.add("visited_on", _l("请填写调查日期。"))
        elif visited_on > clock.today():
            problems.add("visited_on", _l("调查日期不能晚于今天。"))
        elif visited_on < clock.to_local(case.accepted_at).date():
            problems.add("visited_on", _l("调查日期不能早于受理日期。"))
    moves = case.stage == Stage.applied
    if moves:
        _not_held(session, case)
    visit = HomeVisit(
        case=case, visited_on=visited_on, housing=housing, inquiry=inquiry, notes=(notes or "").strip(),
        family_signed=bool(family_signed), unsigned_reason=unsigned_reason, county_level=actor.role == Role.county_approver
        and actor.region.level == Level.county,
        recorded_by_id=actor.id, recorded_by_name=actor.display_name, created_at=clock.now(),
    )
    visit.investigators = [VisitInvestigator(position=i, name=name) for i, name in enumerate(names)]
    visit.neighbours = [NeighbourVisit(position=i, name=n.name, relation=n.relation, statement=n.statement)
                        for i, n in enumerate(visited)]
    session.add(visit)
    session.flush()
    details = {"visit": visit.id, "investigators": names, "neighbours": len(visited),
               "county_level": visit.county_level, "family_signed": visit.family_signed,
               "unsigned_reason": unsigned_reason}
    if moves:
        _move(session, actor, case, Stage.investigating, action="home_visit_recorded", details=details)
        visit.created_at = case.stage_changed_at
    else:
        case.updated_at = clock.now()
        audit.record(session, actor, "home_visit_recorded", "case", case.id, region_id=case.region_id,
                     details=details)
    return visit


def visits_since(session: Session, case: Case, since) -> list[HomeVisit]:
    stmt = select(HomeVisit).where(HomeVisit.case_id == case.id, HomeVisit.created_at >= since)
    return list(session.scalars(stmt))


def submit_for_review(session: Session, actor: User, case: Case) -> None:
    """Investigation done: the case goes to the community review panel."""
    take(session, actor, case, Action.submit_review)
    _not_held(session, case)
    if not visits_since(session, case, case.stage_changed_at):
        raise Conflict(_l("本轮调查还没有入户调查记录，请先记录入户调查。"))
    _move(session, actor, case, Stage.community_review, action="submitted_for_review")


# --- 民主评议 / 初审意见 -----------------------------------------------------------------------------------

def _review_meeting_people(held_on: date | None, panel: Sequence[str],
                           attendees: Sequence[str]) -> tuple[list[str], list[str]]:
    """A new review meeting's checks, all at once: its date, its panel's and its attendees' names (cleaned)."""
    with collect() as problems:
        panel_names = problems.check(_names, panel, "panel")
        attendee_names = problems.check(_names, attendees, "attendees")
        if panel_names is not None and len(panel_names) < 3:
            problems.add("panel", _l("民主评议小组至少需要 3 名成员，请逐行填写姓名。"))
        if held_on is None:
            problems.add("held_on", _l("请填写评议日期。"))
        elif held_on > clock.today():
            problems.add("held_on", _l("评议日期不能晚于今天。"))
    return panel_names or [], attendee_names or []


def new_review_meeting(session: Session, actor: User, case: Case, *, held_on: date, location: str,
                       panel: Sequence[str], attendees: Sequence[str]) -> ReviewMeeting:
    panel_names, attendee_names = _review_meeting_people(held_on, panel, attendees)
    meeting = ReviewMeeting(region_id=case.region_id, held_on=held_on, location=(location or "").strip()[:200],
                            recorded_by_id=actor.id, recorded_by_name=actor.display_name, created_at=clock.now())
    meeting.people = [MeetingPerson(position=i, kind=PersonKind.panel, name=n) for i, n in enumerate(panel_names)]
    meeting.people += [MeetingPerson(position=100 + i, kind=PersonKind.attendee, name=n)
                       for i, n in enumerate(attendee_names)]
    session.add(meeting)
    session.flush()
    return meeting


def recent_review_meetings(session: Session, case: Case, limit: int = 10) -> list[ReviewMeeting]:
    stmt = (select(ReviewMeeting).where(ReviewMeeting.region_id == case.region_id)
            .order_by(ReviewMeeting.held_on.desc(), ReviewMeeting.id.desc()).limit(limit))
    return list(session.scalars(stmt))


def record_community_review(
    session: Session,
    actor: User,
    case: Case,
    *,
    decision: Decision | str | None,
    opinion: str,
    votes_for: int | None,
    votes_against: int | None,
    votes_abstain: int | None = 0,
    meeting: ReviewMeeting | None = None,
    meeting_id: int | None = None,
    held_on: date | None = None,
    location: str = "",
    panel: Sequence[str] = (),
    attendees: Sequence[str] = (),
    levels: Iterable[Level] = ALL_LEVELS,
    override_reason: str | None = None,
) -> Opinion:
    """The panel's result for this household and the community's signed 初审意见 (an approval of a household
    whose amount is 0 only with ``override_reason``, see :func:`approval_override`)."""
    take(session, actor, case, Action.community_review)
    _not_held(session, case)
    other_meeting = False  # a meeting the form's list does not offer (not this community's, or none)
    if meeting is None and meeting_id:
        meeting = db.get_record(session, ReviewMeeting, meeting_id)
        if meeting is None or meeting.region_id != case.region_id:
            meeting, other_meeting = None, True
    with collect() as problems:  # every problem at once, before the meeting or the result is written
        decision = chosen(Decision, decision)
        if decision is None:
            problems.add("decision", _l("请选择评议结果。"))
        if other_meeting:
            problems.add("meeting_id", _l("请选择本社区的评议会议。"))
        opinion = problems.check(_text, opinion, field="opinion",
                                 minimum=2 if decision == Decision.approve else MIN_REASON,
                                 message=_l("请填写评议意见；不同意时写明理由（至少 %(n)d 个字）。", n=MIN_REASON))
        override = (problems.check(approval_override, session, case, override_reason)
                    if decision == Decision.approve else None)
        votes_ok = True
        for name, value in (("votes_for", votes_for), ("votes_against", votes_against),
                            ("votes_abstain", votes_abstain)):
            if value is None and name != "votes_abstain":
                problems.add(name, _l("请填写票数。"))
                votes_ok = False
            elif value is not None and not 0 <= value <= MAX_VOTES:
                problems.add(name, _l("票数应在 0 到 %(n)d 之间。", n=MAX_VOTES))
                votes_ok = False
        panel_size = len(meeting.panel) if meeting is not None else None
        if meeting is None and not other_meeting:
            people = problems.check(_review_meeting_people, held_on, panel, attendees)
            panel_size = len(people[0]) if people is not None else None
        if votes_ok:
            votes_abstain = votes_abstain or 0
            total = votes_for + votes_against + votes_abstain
            if total == 0:
                problems.add("votes_for", _l("请填写表决票数。"))
            elif panel_size is not None and total > panel_size:
                problems.add("votes_for", _l("票数合计 %(total)d 超过了评议小组人数 %(n)d。", total=total,
                                             n=panel_size))
            elif decision == Decision.approve and votes_for * 2 <= total:
                problems.add("decision", _l("同意票未过半数，评议结果不能是“同意”。"))
    if meeting is None:
        meeting = new_review_meeting(session, actor, case, held_on=held_on, location=location, panel=panel,
                                     attendees=attendees)
    session.add(ReviewResult(meeting=meeting, case=case, decision=decision, opinion=opinion, votes_for=votes_for,
                             votes_against=votes_against, votes_abstain=votes_abstain))
    return _meeting_decided(session, actor, case, Level.community, levels, decision, opinion, override,
                            "community_review_recorded",
                            {"meeting": meeting.id, "votes": [votes_for, votes_against, votes_abstain]})


# --- 乡镇审核 -----------------------------------------------------------------------------------------

def record_town_check(session: Session, actor: User, case: Case, findings: str) -> CaseRecord:
    """The town re-checks the materials (and may visit); its findings are written down."""
    take(session, actor, case, Action.town_check)
    _not_held(session, case)
    _require_approved(case, Level.community)
    findings = _text(findings, field="findings", minimum=MIN_REASON,
                     message=_l("请填写复查情况（至少 %(n)d 个字）。", n=MIN_REASON))
    record = CaseRecord(case_id=case.id, kind=RecordKind.town_check, findings=findings, author_id=actor.id,
                         author_name=actor.display_name, created_at=clock.now())
    session.add(record)
    session.flush()
    _move(session, actor, case, Stage.town_decision, action="town_check_recorded", details={"check": record.id})
    return record


def _town_meeting_fields(held_on: date | None, title: str, participants: Sequence[str]) -> tuple[str, list[str]]:
    """A new town meeting's checks, all at once: its title, its participants' names (cleaned) and its date."""
    with collect() as problems:
        title = problems.check(_text, title, field="title", message=_l("请填写会议名称。"), maximum=200)
        names = problems.check(_names, participants, "participants")
        if names is not None and len(names) < 3:
            problems.add("participants", _l("请逐行填写参会人员（至少 3 人）。"))
        if held_on is None:
            problems.add("held_on", _l("请填写会议日期。"))
        elif held_on > clock.today():
            problems.add("held_on", _l("会议日期不能晚于今天。"))
    return title, names or []


def new_town_meeting(session: Session, actor: User, town_id: int, *, held_on: date, title: str,
                     participants: Sequence[str]) -> TownMeeting:
    """One 乡镇党委会议 record (title, date, participants); its households are added by
    :func:`record_town_decision` with ``meeting=``."""
    title, names = _town_meeting_fields(held_on, title, participants)
    meeting = TownMeeting(region_id=town_id, held_on=held_on, title=title,
                          participants="\n".join(names), recorded_by_id=actor.id,
                          recorded_by_name=actor.display_name, created_at=clock.now())
    session.add(meeting)
    session.flush()
    return meeting


def record_town_decision(
    session: Session,
    actor: User,
    case: Case,
    *,
    held_on: date | None = None,
    title: str = "",
    participants: Sequence[str] = (),
    decision: Decision | str | None,
    opinion: str,
    meeting: TownMeeting | None = None,
    levels: Iterable[Level] = ALL_LEVELS,
    override_reason: str | None = None,
    tier: str | None = None,
    tier_reason: str | None = None,
) -> Opinion:
    """The town meeting studies the household; its conclusion is the town's signed 审核意见 (an approval of a
    household whose amount is 0 only with ``override_reason``, see :func:`approval_override`). Under a 分档
    standard an approval proposes the household's ``tier`` (with ``tier_reason``), so the notice that follows
    shows an amount; the county may change it. Without
    ``meeting`` a new meeting is recorded from ``held_on``, ``title`` and ``participants``; with it (one sitting
    deciding several households) the household joins that meeting, which must be its town's."""
    take(session, actor, case, Action.town_decision)
    _not_held(session, case)
    _require_approved(case, Level.community)
    with collect() as problems:  # every problem at once, the new meeting's with the opinion's
        decision = chosen(Decision, decision)
        if decision is None:
            problems.add("decision", _l("请选择研究结果。"))
        opinion = problems.check(_text, opinion, field="opinion",
                                 minimum=2 if decision == Decision.approve else MIN_REASON,
                                 message=_l("请填写审核意见；不同意时写明理由（至少 %(n)d 个字）。", n=MIN_REASON))
        override = (problems.check(approval_override, session, case, override_reason)
                    if decision == Decision.approve else None)
        tier_choice = None
        if decision == Decision.approve:
            tier_choice = problems.check(entitlement.tier_choice, session, case, tier, tier_reason)
            if tier_choice is None and entitlement.compute_for(session, case).tier_missing:
                problems.add("tier", entitlement.TIER_NEEDED)
        if meeting is None:
            problems.check(_town_meeting_fields, held_on, title, participants)
    if meeting is None:
        meeting = new_town_meeting(session, actor, case.region.parent_id, held_on=held_on, title=title,
                                   participants=participants)
    elif meeting.region_id != case.region.parent_id:
        raise Invalid(_l("一次乡镇会议只能研究本乡镇的家庭。"))
    session.add(TownMeetingResult(meeting=meeting, case=case, decision=decision, conclusion=opinion))
    if tier_choice is not None:
        entitlement.set_tier(session, actor, case, tier_choice)
        entitlement.refresh(session, case, update_payment=True)  # the amount the notice will show
    return _meeting_decided(session, actor, case, Level.town, levels, decision, opinion, override,
                            "town_decision_recorded", {"meeting": meeting.id})


# --- 县级审批 -----------------------------------------------------------------------------------------

def has_county_visit(session: Session, case: Case, since: datetime | None = None) -> bool:
    """Whether county staff recorded a home visit of the case (recorded at ``since`` or later, if given)."""
    where = [HomeVisit.case_id == case.id, HomeVisit.county_level.is_(True)]
    if since is not None:
        where.append(HomeVisit.created_at >= since)
    return bool(session.scalar(select(exists().where(*where))))


def last_feedback_filed(session: Session, case: Case) -> datetime | None:
    """When the latest objection or report about the case during this application (since it was accepted) was
    filed; None if there was none. Whatever its outcome, the county must then visit the household (A 20)."""
    filed = [session.scalar(select(func.max(model.created_at)).where(model.case_id == case.id,
                                                                     model.created_at >= case.accepted_at))
             for model in (Objection, Report)]
    return max((at for at in filed if at is not None), default=None)


def record_county_decision(
    session: Session,
    actor: User,
    case: Case,
    *,
    decision: Decision | str | None,
    opinion: str,
    override_amount: Decimal | str | None = None,
    override_reason: str | None = None,
    levels: Iterable[Level] = ALL_LEVELS,
    tier: str | None = None,
    tier_reason: str | None = None,
) -> Opinion:
    """审批: approval fixes the amount, the start of payment (the month after) and the next review.
    ``override_amount`` as typed (or given), checked with the opinion; under a 分档 standard ``tier`` (a name of
    its tiers) with ``tier_reason``, see :func:`entitlement.tier_choice`."""
    take(session, actor, case, Action.county_decision)
    _not_held(session, case)
    _require_approved(case, Level.town)
    decision = chosen(Decision, decision)
    if decision == Decision.reject:
        opinion = _reason(opinion, field="opinion")
        signed = _opinion(session, actor, case, Level.county, Decision.reject, opinion)
        _move(session, actor, case, Stage.rejected, action="case_rejected",
              details={"level": Level.county.value, "reason": opinion, "opinion": signed.id})
        return signed
    with collect() as problems:  # every problem of the form at once: the opinion, the amount typed, its reason
        if decision is None:  # (checked as an approval's, which asks least of the opinion)
            problems.add("decision", _l("请选择审批结果。"))
        opinion = problems.check(_text, opinion, field="opinion", minimum=2, message=_l("请填写审批意见。"))
        override_amount = problems.check(entitlement.parse_money, override_amount, field_name="override_amount",
                                         allow_empty=True)
        problems.check(entitlement.override_reason, override_amount, override_reason)
        tier_choice = problems.check(entitlement.tier_choice, session, case, tier, tier_reason)
    if case.close_relative_of_staff and not has_county_visit(session, case):
        raise Conflict(_l("该户是工作人员近亲属备案对象，须由县级工作人员入户调查后才能审批。"))
    filed = last_feedback_filed(session, case)
    if filed is not None and not has_county_visit(session, case, since=filed):
        raise Conflict(_l("该户在本次申请办理期间有群众异议或举报（最近一件于 %(day)s 收到），须由县级工作人员在此之后"
                          "入户调查，才能审批同意。", day=clock.to_local(filed).date().isoformat()))
    # issue 10: the approval requires a completed 核对; a flagged 返贫 case the county's written decision
    from dibao import assets

    assets.approval_guard(session, case)
    entitlement.set_tier(session, actor, case, tier_choice)
    entitlement.set_override(case, override_amount, override_reason)
    result = entitlement.refresh(session, case, update_payment=True)
    if result.standard is None:
        raise Conflict(_l("本地区还没有设置低保标准，无法核定金额；请管理员先设置低保标准。"))
    if result.amount is None and result.tier_missing:
        raise Invalid(entitlement.TIER_NEEDED, field="tier")
    if result.amount is None or result.amount <= 0:
        raise Conflict(_l("核算的保障金额为 0，家庭人均收入不低于低保标准，不能批准；如有特殊情况请写明理由调整金额。"))
    now = clock.now()
    today = clock.today()
    case.approved_at = now
    case.payment_start = entitlement.next_month(today)
    category_before = case.category
    case.category = max(case.category or 1, least_category(case.members))  # A 31: the rule, not a yearly review
    case.next_review_due = add_months(today, REVIEW_MONTHS.get(case.category, 12))
    signed = _opinion(session, actor, case, Level.county, Decision.approve, opinion)
    entitlement.start_period(session, actor, case, amount=case.monthly_amount, starts_on=case.payment_start,
                             change=AmountChange.approved, reason=opinion)
    _move(session, actor, case, after_opinion(Level.county, levels), action="county_approved",
          details={"opinion": signed.id, "amount": str(case.monthly_amount),
                   "computed": str(result.computed), "override": str(override_amount) if override_amount else None,
                   "payment_start": case.payment_start.isoformat(),
                   **({"category": [category_before, case.category]} if case.category != category_before else {})})
    return signed


# --- rejection and send-back -------------------------------------------------------------------------

def reject(session: Session, actor: User, case: Case, reason: str) -> Opinion:
    """不予批准 at the level that holds the case, with a written reason kept as that level's opinion."""
    take(session, actor, case, Action.reject)
    _not_held(session, case)
    reason = _reason(reason)
    level = STAGE_LEVEL[case.stage]
    signed = _opinion(session, actor, case, level, Decision.reject, reason)
    _move(session, actor, case, Stage.rejected, action="case_rejected",
          details={"level": level.value, "reason": reason, "opinion": signed.id})
    return signed


def send_back(session: Session, actor: User, case: Case, reason: str) -> None:
    """退回重新调查: the earlier opinions no longer stand; the case must be investigated and noticed again."""
    take(session, actor, case, Action.send_back)
    _not_held(session, case)
    reason = _reason(reason)
    for opinion in case.opinions:
        opinion.superseded = True
    _move(session, actor, case, Stage.investigating, action="sent_back", details={"reason": reason})


# --- ongoing management ------------------------------------------------------------------------------

def periodic_review(session: Session, actor: User, case: Case, *, findings: str, category: int | None) -> CaseRecord:
    """分类管理复核: findings written down, category confirmed or changed, the next review scheduled."""
    take(session, actor, case, Action.periodic_review)
    with collect() as problems:  # both at once
        findings = problems.check(_text, findings, field="findings", minimum=MIN_REASON,
                                  message=_l("请填写复核情况（至少 %(n)d 个字）。", n=MIN_REASON))
        problems.check(check_category, category, case.members)
    result = entitlement.refresh(session, case, update_payment=False)
    record = CaseRecord(case_id=case.id, kind=RecordKind.periodic_review, findings=findings,
                         category_before=case.category, category_after=category,
                         amount_before=case.monthly_amount, amount_after=result.computed,
                         author_id=actor.id, author_name=actor.display_name, created_at=clock.now())
    session.add(record)
    case.category = category
    case.next_review_due = add_months(clock.today(), REVIEW_MONTHS[category])
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "periodic_review", "case", case.id, region_id=case.region_id,
                 details={"check": record.id, "category": [record.category_before, category],
                          "next_review_due": case.next_review_due.isoformat(),
                          "computed": str(result.computed)})
    return record


def adjust_amount(session: Session, actor: User, case: Case, *, amount: Decimal | str | None, reason: str,
                  effective_from: date | None = None, tier: str | None = None) -> CaseRecord:
    """Raise or cut the payment of an active household: only with a written reason (A 32), from the first day
    of ``effective_from``'s month (default: next month; an earlier month is paid as arrears).
    ``amount`` (as typed, or given) None applies the freshly computed amount; under a 分档 standard ``tier``
    changes the household's tier (the adjustment's reason is its reason)."""
    take(session, actor, case, Action.adjust_amount)
    starts_on = entitlement.month_start(effective_from) if effective_from else entitlement.next_month(clock.today())
    with collect() as problems:  # every problem at once
        amount = problems.check(entitlement.parse_money, amount, field_name="amount", allow_empty=True)
        reason = problems.check(_reason, reason)
        if case.payment_start and starts_on < case.payment_start:
            problems.add("effective_from", _l("调整不能早于开始发放的月份（%(month)s）。",
                                              month=case.payment_start.isoformat()[:7]))
        tier_choice = problems.check(entitlement.tier_choice, session, case, tier, reason) if reason else None
    entitlement.set_tier(session, actor, case, tier_choice)
    entitlement.set_override(case, amount, reason)
    result = entitlement.refresh(session, case, update_payment=False)
    new_amount = result.amount
    if new_amount is None and result.tier_missing:
        raise Invalid(entitlement.TIER_NEEDED, field="tier")
    if result.standard is None or new_amount is None:
        raise Conflict(_l("本地区还没有设置低保标准，无法核定金额。"))
    before = case.monthly_amount
    case.monthly_amount = new_amount
    case.updated_at = clock.now()
    record = CaseRecord(case_id=case.id, kind=RecordKind.adjustment, findings=reason, amount_before=before,
                         amount_after=new_amount, author_id=actor.id, author_name=actor.display_name,
                         created_at=clock.now())
    session.add(record)
    entitlement.start_period(session, actor, case, amount=new_amount, starts_on=starts_on,
                             change=AmountChange.adjusted, reason=reason)
    audit.record(session, actor, "amount_adjusted", "case", case.id, region_id=case.region_id,
                 details={"before": str(before), "after": str(new_amount), "reason": reason,
                          "from": starts_on.isoformat()})
    return record


def grace_months_used(session: Session, case: Case) -> int:
    """The months of grace (渐退期) granted to the household since its current approval: the grants of one
    approval add up to at most :data:`MAX_GRACE_MONTHS` (A 33), a grant after a declined exit proposal included.
    A grant whose months are unknown (recorded before they were kept, without its audit event) counts in full."""
    stmt = select(func.coalesce(func.sum(func.coalesce(CaseRecord.months, MAX_GRACE_MONTHS)), 0)).where(
        CaseRecord.case_id == case.id, CaseRecord.kind == RecordKind.grace)
    if case.approved_at is not None:
        stmt = stmt.where(CaseRecord.created_at >= case.approved_at)
    return int(session.scalar(stmt) or 0)


def start_grace(session: Session, actor: User, case: Case, *, months: int | None, reason: str) -> CaseRecord:
    """渐退期: payment continues for at most 6 months after a member found work, then the case exits. The
    grants since the household's approval add up to at most 6 months (a second grant only for what is left)."""
    take(session, actor, case, Action.grace)
    if case.grace_until is not None:
        raise Conflict(_l("该户已在渐退期内（至 %(day)s）。", day=case.grace_until.isoformat()))
    used = grace_months_used(session, case)
    left = max(MAX_GRACE_MONTHS - used, 0)
    if left == 0:
        raise Conflict(_l("该户本次批准以来已享受渐退期 %(used)d 个月，已达 %(n)d 个月的上限，不能再设置渐退期；"
                          "收入超过标准的，请办理退保。", used=used, n=MAX_GRACE_MONTHS))
    with collect() as problems:  # every problem at once
        if months is None:
            problems.add("months", _l("请填写月数。"))
        elif not 1 <= months <= MAX_GRACE_MONTHS:
            problems.add("months", _l("渐退期为 1 至 %(n)d 个月。", n=MAX_GRACE_MONTHS))
        elif months > left:
            problems.add("months", _l("渐退期合计不超过 %(n)d 个月：该户本次批准以来已享受 %(used)d 个月，"
                                      "最多还可设置 %(left)d 个月。", n=MAX_GRACE_MONTHS, used=used, left=left))
        reason = problems.check(_reason, reason)
    case.grace_until = add_months(clock.today(), months)
    case.next_review_due = case.grace_until
    case.updated_at = clock.now()
    record = CaseRecord(case_id=case.id, kind=RecordKind.grace, findings=reason, months=months, author_id=actor.id,
                         author_name=actor.display_name, created_at=clock.now())
    session.add(record)
    session.flush()
    audit.record(session, actor, "grace_started", "case", case.id, region_id=case.region_id,
                 details={"months": months, "grace_until": case.grace_until.isoformat(), "reason": reason})
    return record


def exit_case(session: Session, actor: User, case: Case, reason: str) -> None:
    """退保 with a documented reason (the family must be told why)."""
    take(session, actor, case, Action.exit)
    _not_held(session, case)
    reason = _reason(reason)
    case.exit_reason = reason
    stops = entitlement.next_month(clock.today())  # the month of the exit is still paid
    entitlement.start_period(session, actor, case, amount=Decimal("0"), starts_on=stops,
                             change=AmountChange.exited, reason=reason)
    _move(session, actor, case, Stage.exited, action="case_exited",
          details={"reason": reason, "payment_stops": stops.isoformat()})


# --- the notice rounds (called by dibao.notices) -------------------------------------------------------

def notice_published(session: Session, actor: User | None, cases: Sequence[Case], level: Level,
                     batch_public_id: str) -> None:
    """The cases of a new board are on notice: each moves on (:func:`_step_many`), and their audit events are
    appended together — one lock, one look at the chain's head and one ``executemany`` for the board, not one
    per household (a board can hold thousands). All are checked before anything is written."""
    for case in cases:
        if case.stage != AWAITING_NOTICE[level]:
            raise Conflict(_l("案件“%(number)s”不在待公示阶段，不能列入公示。", number=case.number))
    steps = _step_many(session, cases, IN_NOTICE[level], action="notice_published", details={"batch": batch_public_id})
    audit.append_many(session, actor, steps)


def notice_closed(session: Session, case: Case, level: Level, batch_public_id: str) -> bool:
    """The notice window closed: move the case on unless an objection holds it. Returns True if moved."""
    if case.stage != IN_NOTICE[level] or is_held(session, case):
        return False
    _move(session, None, case, AFTER_LEVEL[level], action="notice_closed", details={"batch": batch_public_id})
    return True


def notice_withdrawn(session: Session, actor: User | None, case: Case, level: Level, batch_public_id: str) -> None:
    """A withdrawn entry puts the case back to wait for a new notice of the same level."""
    if case.stage == IN_NOTICE[level]:
        _move(session, actor, case, AWAITING_NOTICE[level], action="notice_entry_withdrawn",
              details={"batch": batch_public_id})


def objection_upheld(session: Session, actor: User | None, case: Case, objection_code: str) -> None:
    """An upheld objection sends the case back to investigation; it must be noticed again."""
    for opinion in case.opinions:
        opinion.superseded = True
    _move(session, actor, case, Stage.investigating, action="sent_back_by_objection",
          details={"objection": objection_code})
