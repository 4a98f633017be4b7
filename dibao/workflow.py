"""The case workflow: stages, the transitions between them, and the guards on each.

Every stage change goes through :func:`_move`, which checks the transition table and writes one audit
event. Which notice rounds are used is configuration (``NOTICE_LEVELS``); a level without a notice round
goes straight from its opinion to the next level's review.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from dibao import audit, clock
from dibao.errors import Conflict
from dibao.models import Case, FeedbackStatus, Level, Objection, Stage, User

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

LEVEL_LABELS = {Level.community: _l("社区"), Level.town: _l("乡镇（街道）"), Level.county: _l("县民政局")}

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

TRANSITIONS: dict[Stage, set[Stage]] = {
    Stage.applied: {Stage.investigating, Stage.rejected},
    Stage.investigating: {Stage.community_review, Stage.rejected},
    Stage.community_review: {Stage.awaiting_community_notice, Stage.town_review, Stage.rejected},
    Stage.awaiting_community_notice: {Stage.community_notice},
    Stage.community_notice: {Stage.town_review, Stage.investigating},
    Stage.town_review: {Stage.town_decision, Stage.rejected, Stage.investigating},
    Stage.town_decision: {Stage.awaiting_town_notice, Stage.county_approval, Stage.rejected},
    Stage.awaiting_town_notice: {Stage.town_notice},
    Stage.town_notice: {Stage.county_approval, Stage.investigating},
    Stage.county_approval: {Stage.awaiting_county_notice, Stage.active, Stage.rejected, Stage.investigating},
    Stage.awaiting_county_notice: {Stage.county_notice},
    Stage.county_notice: {Stage.active, Stage.investigating},
    Stage.active: {Stage.exited, Stage.investigating},
    Stage.rejected: set(),
    Stage.exited: set(),
}


def notice_levels(config_levels: Iterable[str]) -> tuple[Level, ...]:
    return tuple(Level(v) for v in config_levels if v)


def after_opinion(level: Level, levels_with_notice: Iterable[Level]) -> Stage:
    """Where an approving opinion at ``level`` sends the case: its notice round, or the next level."""
    return AWAITING_NOTICE[level] if level in set(levels_with_notice) else AFTER_LEVEL[level]


def is_held(session: Session, case: Case) -> bool:
    """An unresolved objection holds the case: it may not advance until the objection is decided."""
    stmt = select(
        exists().where(Objection.case_id == case.id, Objection.status != FeedbackStatus.decided)
    )
    return bool(session.scalar(stmt))


def _move(
    session: Session,
    actor: User | None,
    case: Case,
    to: Stage,
    *,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    """The one place a case changes stage: checks the table, stamps the time, writes the audit event."""
    if to not in TRANSITIONS[case.stage]:
        raise Conflict(_l("案件当前处于“%(stage)s”阶段，不能办理这一步。", stage=STAGE_LABELS[case.stage]))
    previous = case.stage
    case.stage = to
    case.stage_changed_at = clock.now()
    case.updated_at = case.stage_changed_at
    audit.record(session, actor, action, "case", case.id, region_id=case.region_id,
                 details={"from": previous.value, "to": to.value, **(details or {})})


# --- the notice rounds (called by dibao.notices) -------------------------------------------------------

def notice_published(session: Session, actor: User | None, case: Case, level: Level, batch_public_id: str) -> None:
    if case.stage != AWAITING_NOTICE[level]:
        raise Conflict(_l("案件“%(number)s”不在待公示阶段，不能列入公示。", number=case.number))
    _move(session, actor, case, IN_NOTICE[level], action="notice_published", details={"batch": batch_public_id})


def notice_closed(session: Session, case: Case, level: Level, batch_public_id: str) -> bool:
    """The notice window closed: move the case on unless an objection holds it. Returns True if moved."""
    if case.stage != IN_NOTICE[level] or is_held(session, case):
        return False
    _move(session, None, case, AFTER_LEVEL[level], action="notice_closed", details={"batch": batch_public_id})
    return True


def notice_withdrawn(session: Session, actor: User | None, case: Case, level: Level, batch_public_id: str) -> None:
    """A withdrawn entry puts the case back to wait for a new notice of the same level."""
    if case.stage == IN_NOTICE[level]:
        case.stage = AWAITING_NOTICE[level]
        case.stage_changed_at = clock.now()
        audit.record(session, actor, "notice_entry_withdrawn", "case", case.id, region_id=case.region_id,
                     details={"batch": batch_public_id, "to": case.stage.value})


def objection_upheld(session: Session, actor: User | None, case: Case, objection_code: str) -> None:
    """An upheld objection sends the case back to investigation; it must be noticed again."""
    for opinion in case.opinions:
        opinion.superseded = True
    _move(session, actor, case, Stage.investigating, action="sent_back_by_objection",
          details={"objection": objection_code})
