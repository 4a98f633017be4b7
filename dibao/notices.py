"""Notice batches (张榜公示) and their windows.

An entry is public while ``opens_at <= now < closes_at`` and neither it nor its batch is withdrawn. This is
decided at read time (:func:`entry_status` for one entry, :func:`_live` in every query), so an entry
disappears at its closing second whether or not the sweep has run; the sweep only records the closing and
moves the cases on. This module owns the window: nothing else decides whether an entry is open.
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, event, func, inspect, or_, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload, selectinload

from dibao import audit, clock, db, entitlement, i18n, roster_summary, scope, workflow
from dibao.errors import Conflict, Forbidden, Gone, Invalid, NotFound, Problems, collect, parse_record_id
from dibao.models import (
    Case,
    Level,
    NoticeBatch,
    NoticeEntry,
    Opinion,
    Region,
    Role,
    Stage,
    User,
)

PUBLIC_ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud and typed from paper


# Random bytes to characters: a byte below 248 (8 × 31) is the character at its value modulo 31 — each
# equally likely — and the other 8 are dropped (bytes.translate does both in C).
_DRAWN = bytes.maketrans(bytes(range(248)), (PUBLIC_ID_ALPHABET * 8).encode())
_UNEVEN = bytes(range(248, 256))


def new_public_ids(count: int, length: int = 10) -> list[str]:
    """``count`` identifiers of ``length`` characters of the alphabet, each character uniformly at random (a
    board of 10,000 entries draws its ids at once: one draw each cost a fifth of the publish)."""
    need = count * length
    chars = b""
    while len(chars) < need:  # about 3 % of the bytes are dropped: draw a little more than needed
        chars += secrets.token_bytes(need + need // 16 + 8).translate(_DRAWN, _UNEVEN)
    text = chars[:need].decode("ascii")
    return [text[i:i + length] for i in range(0, need, length)]


def new_public_id(length: int = 10) -> str:
    """One identifier of :func:`new_public_ids`."""
    return new_public_ids(1, length)[0]


def snapshot(case: Case, opinion: Opinion) -> dict:
    """What an entry freezes of a case: full values; disclosure decides per channel what is shown."""
    return {
        "head_name": case.head_name,
        "address": case.address,
        "public_address": case.public_address or case.region.name,
        "household_size": case.household_size,
        "household_income": case.household_income,
        "monthly_amount": case.monthly_amount,
        "category": case.category,
        "photo_key": case.photo_key if case.photo_consent else None,
        "opinion_decision": opinion.decision,
        "opinion_text": opinion.text,
        "opinion_author": opinion.author_name,
        "opinion_at": opinion.created_at,
        "opinion_override_reason": opinion.override_reason,
    }


def fingerprint(batch: NoticeBatch, entries: Sequence[NoticeEntry]) -> str:
    """SHA-256 over the published content, shown wherever the batch is shown so copies can be compared."""
    def published(e: NoticeEntry) -> dict:
        out = {"id": e.public_id, "name": e.head_name, "address": e.address, "size": e.household_size,
               "income": str(e.household_income), "amount": str(e.monthly_amount),
               "decision": e.opinion_decision.value, "opinion": e.opinion_text, "photo": e.photo_key}
        if e.opinion_override_reason:  # only when there is one: earlier fingerprints stay reproducible
            out["override_reason"] = e.opinion_override_reason
        return out

    content = {
        "batch": batch.public_id,
        "level": batch.level.value,
        "region": batch.region.code,
        "title": batch.title,
        "opens_at": batch.opens_at.isoformat(),
        "closes_at": batch.closes_at.isoformat(),
        "entries": [published(e) for e in entries],
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# 张榜公示七天 (DESIGN.md; the 2021 rules, art. 19): a deployment may set a longer window (its
# NOTICE_WINDOW_DAYS, which callers pass in as ``minimum_days``: the domain never reads the app's config).
DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 60


def check_window(window_days: int | None, minimum_days: int = DEFAULT_WINDOW_DAYS) -> int:
    """The number of days a board stays up: the deployment's window (``minimum_days``) unless staff lengthen it
    (over a holiday, say) up to MAX_WINDOW_DAYS. Never shorter: residents are owed the whole window to object."""
    if window_days is None:
        return minimum_days
    if window_days < minimum_days:
        raise Invalid(_l("公示期不能少于 %(n)d 天（本地规定的公示天数）。可以延长，不能缩短。", n=minimum_days),
                      field="window_days")
    maximum = max(MAX_WINDOW_DAYS, minimum_days)
    if window_days > maximum:
        raise Invalid(_l("公示期最长 %(n)d 天。", n=maximum), field="window_days")
    return window_days


def publish_batch(
    session: Session,
    actor: User | None,
    *,
    level: Level,
    region: Region,
    cases: Sequence[Case],
    title: str,
    window_days: int | None = None,
    opens_at: datetime | None = None,
    minimum_days: int = DEFAULT_WINDOW_DAYS,
) -> NoticeBatch:
    """Publish (or schedule, with a future ``opens_at``) one board of the given cases at ``level``, open for
    ``window_days`` (default: ``minimum_days``, the deployment's window; never fewer — see :func:`check_window`).
    Every way a board is published, at every level, now or scheduled, comes through here."""
    now = clock.now()
    opens_at = opens_at or now
    with collect() as problems:  # every problem at once
        if opens_at < now - timedelta(seconds=1):
            problems.add("opens_at", _l("公示开始时间不能早于现在。"))
        window_days = _check_board(problems, title, window_days, minimum_days, chosen=bool(cases))
    with db.without_cycle_collector():
        return _write_batch(session, actor, level=level, region=region, cases=cases, title=title,
                            window_days=window_days, opens_at=opens_at, now=now)


def _write_batch(session: Session, actor: User | None, *, level: Level, region: Region, cases: Sequence[Case],
                 title: str, window_days: int, opens_at: datetime, now: datetime) -> NoticeBatch:
    public_id, *entry_ids = new_public_ids(len(cases) + 1)
    # Every case checked and snapshotted before anything is written: a refusal leaves nothing to undo.
    rows = []
    for position, (case, entry_id) in enumerate(zip(cases, entry_ids, strict=True)):
        if not case.region.path.startswith(region.path):
            raise Conflict(_l("案件“%(number)s”不在本辖区。", number=case.number))
        opinion = workflow.current_opinion(case, level)
        if opinion is None:
            raise Conflict(_l("案件“%(number)s”还没有本级意见，不能公示。", number=case.number))
        rows.append({"public_id": entry_id, "case_id": case.id, "position": position,
                     "region_id": case.region_id, **snapshot(case, opinion)})
    batch = NoticeBatch(
        public_id=public_id,
        level=level,
        region=region,
        title=title.strip(),
        opens_at=opens_at,
        closes_at=opens_at + timedelta(days=window_days),
        fingerprint="",
        created_by_id=actor.id if actor else None,
        created_at=now,
    )
    # The fingerprint is over the rows as written (the entries read back later carry the same values).
    batch.fingerprint = fingerprint(batch, [SimpleNamespace(**row) for row in rows])
    workflow.notice_published(session, actor, cases, level, batch.public_id)  # checks every case, then moves them
    session.add(batch)
    session.flush()  # the batch's id; its region marks the county's public version for the bump (the entries and
    # the cases, written without the ORM, all lie in that region's subtree, so in the same county)
    for row in rows:
        row["batch_id"] = batch.id
    # One executemany: the ORM's unit of work for 10,000 new objects cost ten times the insert itself.
    db.insert_rows(session, NoticeEntry.__table__, rows)
    # Not read back: ``batch.entries`` loads them when a caller asks (the staff view after publishing asks only
    # for their number, entry_count) — building 10,000 entry objects nobody reads cost a sixth of the publish.
    session.expire(batch, ["entries"])
    audit.record(session, actor, "notice_batch_published", "notice_batch", batch.public_id,
                 region_id=region.id, details={"level": level.value, "entries": len(rows),
                                               "opens_at": opens_at.isoformat(), "fingerprint": batch.fingerprint})
    return batch


def _live(stmt, region: Region | None, at: datetime):
    """Restrict a select over notice entries to the live ones of ``region``'s subtree at ``at``: not withdrawn,
    batch not closed (open now, or scheduled). The one place the boards, the kiosk and the forms look."""
    stmt = (stmt.join(NoticeEntry.batch).join(Region, NoticeEntry.region_id == Region.id)
            .where(NoticeBatch.closes_at > at, NoticeBatch.withdrawn_at.is_(None), NoticeEntry.withdrawn_at.is_(None))
            .order_by(NoticeBatch.opens_at, NoticeBatch.id, NoticeEntry.position))
    if region is not None:
        # A board lists households of the subtree of the region it is posted in (publish_batch refuses others;
        # regions never move), so a subtree's entries are on boards posted in it or above it: asking for those
        # first keeps a town's board from reading every entry of five years of closed boards (issue 13).
        posted = aliased(Region)
        stmt = stmt.where(Region.path.startswith(region.path, autoescape=True), NoticeBatch.region_id.in_(
            select(posted.id).where(or_(posted.path.startswith(region.path, autoescape=True),
                                        posted.path.in_(_ancestor_paths(region.path))))))
    return stmt


def _ancestor_paths(path: str) -> list[str]:
    """The paths of the regions above the one at ``path`` ("/a/b/c/" → "/a/", "/a/b/")."""
    codes = path.strip("/").split("/")
    return ["/" + "".join(f"{code}/" for code in codes[:n]) for n in range(1, len(codes))]


def open_entries(session: Session, region: Region | None, at: datetime | None = None) -> list[NoticeEntry]:
    """Open entries of households in ``region``'s subtree, batch by batch, in board order."""
    at = at or clock.now()
    return list(session.scalars(_live(select(NoticeEntry), region, at).where(NoticeBatch.opens_at <= at)))


# --- immutability of the snapshot ------------------------------------------------------------------------

SNAPSHOT_FIELDS = (
    "head_name", "address", "public_address", "household_size", "household_income", "monthly_amount", "category",
    "photo_key", "opinion_decision", "opinion_text", "opinion_author", "opinion_at", "case_id", "batch_id",
    "region_id", "position", "public_id", "opinion_override_reason",
)


@event.listens_for(NoticeEntry, "before_update")
def _snapshot_is_immutable(mapper, connection, target: NoticeEntry) -> None:
    """What was published stays as published: only the withdrawal columns of an entry may change."""
    state = inspect(target)
    changed = [name for name in SNAPSHOT_FIELDS if state.attrs[name].history.has_changes()]
    if changed:
        raise Conflict(_l("已发布的公示内容不能修改（%(fields)s）。", fields=", ".join(changed)))


# --- who publishes at which level ------------------------------------------------------------------------

# The name of each level's notice round (on boards, kiosks and in default titles).
ROUND_LABELS = {Level.community: _l("社区初审"), Level.town: _l("乡镇审核"), Level.county: _l("县级审批")}
PUBLISHER_ROLES = {Role.community_staff, Role.town_reviewer, Role.county_approver}


def publishing_level(user: User) -> Level:
    """Community staff publish community notices, town reviewers town notices, county approvers county ones."""
    if user.role not in PUBLISHER_ROLES:
        raise Forbidden(_l("只有社区专干、乡镇审核人员和县级审批人员可以发布公示。"))
    return user.region.level


def awaiting_cases(session: Session, user: User) -> list[Case]:
    """Cases in the user's region that wait for the notice of the user's level."""
    level = publishing_level(user)
    stmt = (
        select(Case)
        .join(Case.region)
        .where(Case.stage == workflow.AWAITING_NOTICE[level], scope.subtree_condition(user.region))
        .options(selectinload(Case.members), selectinload(Case.opinions))
        .order_by(Region.path, Case.number)
    )
    return list(session.scalars(stmt))


def _chosen_cases(problems: Problems, session: Session, user: User, level: Level,
                  case_ids: Iterable[int | str]) -> list[Case]:
    """The chosen cases (none: an empty list), each in scope (else NotFound, at once), waiting for this level's
    notice and carrying this level's opinion (else a Conflict naming it, collected with the form's other
    problems)."""
    values = [v for v in case_ids if not isinstance(v, str) or v.strip()]
    ids = [parse_record_id(v) for v in values]
    if None in ids:  # (also a number no key can reach: it is not asked of the database)
        problems.add("case_id", _l("所选案件无效。"))
        return []
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    found = {c.id: c for c in session.scalars(
        select(Case).where(Case.id.in_(ids)).options(selectinload(Case.members), selectinload(Case.opinions)))}
    cases = []
    for case_id in ids:
        case = found.get(case_id)
        if case is None or not scope.can_see(user, case.region):
            raise NotFound(_l("没有找到所选的案件。"))
        if case.stage != workflow.AWAITING_NOTICE[level]:
            problems.add_error(Conflict(_l("案件“%(number)s”不在待公示阶段，不能列入公示。", number=case.number),
                                        field="case_id"))
        elif workflow.current_opinion(case, level) is None:
            problems.add_error(Conflict(_l("案件“%(number)s”还没有本级意见，不能公示。", number=case.number),
                                        field="case_id"))
        cases.append(case)
    return cases


def _check_board(problems: Problems, title: str | None, window_days: int | None, minimum_days: int, *,
                 chosen: bool) -> int | None:
    """What every board needs, however it is published: a title, at least one household (``chosen``), a window of
    the deployment's length or longer (:func:`check_window`). Returns the window's days (None when refused)."""
    if not chosen:
        problems.add("case_id", _l("请至少选择一户。"))
    if not (title or "").strip():
        problems.add("title", _l("请填写公示标题。"))
    return problems.check(check_window, window_days, minimum_days)


@dataclass(frozen=True)
class Draft:
    """A board as staff composed it, checked and not yet written: what the preview shows and the publish writes
    (:func:`compose`, :func:`publish_draft`)."""

    level: Level
    region: Region
    cases: list[Case]
    title: str
    window_days: int
    opens_at: datetime | None  # None: at publishing
    minimum_days: int


def compose(session: Session, user: User, *, case_ids: Iterable[int | str], title: str | None,
            window_days: int | None, opens_at: datetime | None = None, scheduled: bool = False,
            minimum_days: int = DEFAULT_WINDOW_DAYS) -> Draft:
    """Check a board composed on the staff form, every problem at once — the one check of its preview and of its
    publish: the title, the households chosen (``case_ids``, as sent), the number of days (required: blank is
    refused), the scheduled opening (required when ``scheduled``; never in the past). Writes nothing.

    Only a refusal of scope ends it at once: a publisher's role (403), a case the user cannot see (404)."""
    level = publishing_level(user)
    now = clock.now()
    with collect() as problems:  # in the form's order: households, title, days, opening
        cases = _chosen_cases(problems, session, user, level, case_ids)
        days = _check_board(problems, title, window_days, minimum_days, chosen=bool(cases) or problems.has("case_id"))
        if window_days is None:
            problems.add("window_days", _l("请填写公示天数。"))
        if scheduled and opens_at is None:
            problems.add("opens_at", _l("请填写定时发布的时间。"))
        elif opens_at is not None and opens_at < now:
            problems.add("opens_at", _l("定时发布的时间不能早于现在。"))
    return Draft(level=level, region=user.region, cases=cases, title=(title or "").strip(), window_days=days,
                 opens_at=opens_at, minimum_days=minimum_days)


def default_title(user: User, at: datetime | None = None) -> str:
    level = publishing_level(user)
    return str(_l("%(region)s低保%(what)s公示（%(date)s）", region=user.region.name,
                  what=ROUND_LABELS[level], date=i18n.localdate(at or clock.now())))




def preview_entries(cases: Sequence[Case], level: Level) -> list[SimpleNamespace]:
    """What the entries would freeze if published now (for the preview of each channel)."""
    out = []
    for position, case in enumerate(cases):
        opinion = workflow.current_opinion(case, level)
        if opinion is None:
            raise Conflict(_l("案件“%(number)s”还没有本级意见，不能公示。", number=case.number))
        out.append(SimpleNamespace(public_id=f"preview-{position + 1}", position=position, region=case.region,
                                   case=case, **snapshot(case, opinion)))
    return out


def publish_draft(session: Session, user: User, draft: Draft) -> NoticeBatch:
    """Publish (or schedule) a board as :func:`compose` checked it."""
    return publish_batch(session, user, level=draft.level, region=draft.region, cases=draft.cases, title=draft.title,
                         window_days=draft.window_days, opens_at=draft.opens_at, minimum_days=draft.minimum_days)


def publish(
    session: Session,
    user: User,
    *,
    case_ids: Iterable[int],
    title: str,
    opens_at: datetime | None = None,
    window_days: int | None = None,
    minimum_days: int = DEFAULT_WINDOW_DAYS,
) -> NoticeBatch:
    """Publish (or schedule) a board of the user's level in the user's region; ``minimum_days`` is the
    deployment's window (the app's NOTICE_WINDOW_DAYS), ``window_days`` at least that (None: that)."""
    draft = compose(session, user, case_ids=case_ids, title=title, opens_at=opens_at, minimum_days=minimum_days,
                    window_days=minimum_days if window_days is None else window_days)
    return publish_draft(session, user, draft)


# --- status, staff views, withdrawal ---------------------------------------------------------------------

class Status(enum.StrEnum):
    scheduled = "scheduled"
    open = "open"
    closed = "closed"
    withdrawn = "withdrawn"


STATUS_LABELS = {Status.scheduled: _l("待发布"), Status.open: _l("公示中"), Status.closed: _l("已结束"),
                 Status.withdrawn: _l("已撤回")}


def entry_count(session: Session, batch: NoticeBatch) -> int:
    """How many households a board lists (withdrawn ones included), without loading them."""
    return session.scalar(select(func.count(NoticeEntry.id)).where(NoticeEntry.batch_id == batch.id)) or 0


def batch_status(batch: NoticeBatch, at: datetime | None = None) -> Status:
    at = at or clock.now()
    if batch.withdrawn_at is not None:
        return Status.withdrawn
    if at < batch.opens_at:
        return Status.scheduled
    if at < batch.closes_at:
        return Status.open
    return Status.closed


def entry_status(entry: NoticeEntry, at: datetime | None = None) -> Status:
    if entry.withdrawn_at is not None:
        return Status.withdrawn
    return batch_status(entry.batch, at)


def staff_batches(session: Session, user: User, status: Status | None = None) -> list[NoticeBatch]:
    """Batches posted in the user's subtree or covering households in it, newest first."""
    in_scope = select(NoticeEntry.batch_id).join(Region, NoticeEntry.region_id == Region.id).where(
        scope.subtree_condition(user.region))
    stmt = (
        select(NoticeBatch)
        .where(NoticeBatch.id.in_(in_scope))
        .options(selectinload(NoticeBatch.entries))
        .order_by(NoticeBatch.opens_at.desc(), NoticeBatch.id.desc())
    )
    batches = list(session.scalars(stmt))
    if status is not None:
        now = clock.now()
        batches = [b for b in batches if batch_status(b, now) == status]
    return batches


def get_batch(session: Session, user: User, public_id: str) -> NoticeBatch:
    batch = session.scalar(select(NoticeBatch).where(NoticeBatch.public_id == public_id))
    if batch is None:
        raise NotFound(_l("没有找到该公示。"))
    if not scope.can_see(user, batch.region) and not any(scope.can_see(user, e.region) for e in batch.entries):
        raise NotFound(_l("没有找到该公示。"))
    return batch


WITHDRAW_REFUSED = _l("只有发布公示的本级或上级工作人员可以撤回。")  # the refusal, and the pages' hint


def _may_withdraw(user: User, batch: NoticeBatch) -> None:
    if user.role not in PUBLISHER_ROLES | {Role.admin} or not scope.can_see(user, batch.region):
        raise Forbidden(WITHDRAW_REFUSED)


def may_withdraw(user: User, batch: NoticeBatch) -> bool:
    """Whether :func:`withdraw_batch` and :func:`withdraw_entry` would let ``user`` withdraw ``batch`` or an entry
    of it (the one rule, :func:`_may_withdraw`, asked by the pages that offer the withdrawal)."""
    try:
        _may_withdraw(user, batch)
    except Forbidden:
        return False
    return True


def visible_entries(user: User, batch: NoticeBatch) -> list[NoticeEntry]:
    """The entries of ``batch`` in ``user``'s scope, in board order: a community's staff see their own households
    of a town or county board, not their neighbours' (the batch page, the list's and the export's counts)."""
    return [e for e in batch.entries if scope.can_see(user, e.region)]


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise Invalid(_l("请写明撤回原因（至少 4 个字）。"), field="reason")
    if len(reason) > 1000:
        raise Invalid(_l("撤回原因请控制在 1000 字以内。"), field="reason")
    return reason


def withdraw_batch(session: Session, actor: User, batch: NoticeBatch, reason: str) -> None:
    """Take a whole board down early (or cancel a scheduled one); its cases wait for a new notice."""
    _may_withdraw(actor, batch)
    reason = _reason(reason)
    now = clock.now()
    status = batch_status(batch, now)
    if status == Status.withdrawn:
        raise Conflict(_l("该公示已经撤回。"))
    if status == Status.closed:
        raise Conflict(_l("该公示已经结束，不能撤回。"))
    batch.withdrawn_at = now
    batch.withdrawn_reason = reason
    batch.withdrawn_by_id = actor.id
    for entry in batch.entries:
        if entry.withdrawn_at is None:
            workflow.notice_withdrawn(session, actor, entry.case, batch.level, batch.public_id)
    audit.record(session, actor, "notice_batch_withdrawn", "notice_batch", batch.public_id,
                 region_id=batch.region_id, details={"reason": reason, "was": status.value})


def withdraw_entry(session: Session, actor: User, entry: NoticeEntry, reason: str) -> None:
    """Take one household off a board early; the rest of the board stays."""
    batch = entry.batch
    _may_withdraw(actor, batch)
    reason = _reason(reason)
    now = clock.now()
    status = entry_status(entry, now)
    if status == Status.withdrawn:
        raise Conflict(_l("该条公示已经撤回。"))
    if status == Status.closed:
        raise Conflict(_l("该公示已经结束，不能撤回。"))
    _take_down(session, actor, entry, reason, now)
    workflow.notice_withdrawn(session, actor, entry.case, batch.level, batch.public_id)


def _take_down(session: Session, actor: User | None, entry: NoticeEntry, reason: str, now: datetime,
               **details) -> None:
    """The withdrawal of one entry (off every board, kiosk, page and API from this instant), audited."""
    entry.withdrawn_at = now
    entry.withdrawn_reason = reason
    entry.withdrawn_by_id = actor.id if actor else None
    audit.record(session, actor, "notice_entry_withdrawn_early", "notice_entry", entry.public_id,
                 region_id=entry.region_id, details={"batch": entry.batch.public_id, "reason": reason, **details})


def withdraw_for_objection(session: Session, actor: User | None, case: Case, public_answer: str,
                           objection_code: str) -> list[NoticeEntry]:
    """An upheld objection: what was published about the household was wrong, so every entry of the case that
    is still live (open or scheduled) comes off the boards at once, with the public answer as the reason.
    The case's own move (back to investigation) is the objection's decision, not this."""
    now = clock.now()
    entries = [e for e in session.scalars(select(NoticeEntry).where(NoticeEntry.case_id == case.id))
               if entry_status(e, now) in (Status.open, Status.scheduled)]
    for entry in entries:
        _take_down(session, actor, entry, public_answer, now, objection=objection_code)
    return entries


def get_entry(session: Session, user: User, public_id: str) -> NoticeEntry:
    entry = session.scalar(select(NoticeEntry).where(NoticeEntry.public_id == public_id))
    if entry is None or not scope.can_see(user, entry.region):
        raise NotFound(_l("没有找到该条公示。"))
    return entry


# --- the public side -------------------------------------------------------------------------------------

def region_by_code(session: Session, code: str) -> Region:
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise NotFound(_l("没有找到这个地区。"))
    return region


def public_entry(session: Session, public_id: str | None, at: datetime | None = None) -> NoticeEntry:
    """An entry as the public may see it: open, or Gone (410) once closed or withdrawn.

    The one gate of every public URL that names an entry (page, API, photos, QR target, objection and report
    forms): past it, nothing of the snapshot is shown. A scheduled entry is not public yet and is reported as
    not found. ``public_id`` is what was typed or scanned (case and spaces do not matter).
    """
    at = at or clock.now()
    public_id = (public_id or "").strip().lower()
    entry = None
    if 0 < len(public_id) <= 24 and all(ch in PUBLIC_ID_ALPHABET for ch in public_id):
        entry = session.scalar(
            select(NoticeEntry).where(NoticeEntry.public_id == public_id).options(joinedload(NoticeEntry.region)))
    if entry is None:
        raise NotFound(_l("没有找到这条公示，请核对编号。"), field="entry")
    status = entry_status(entry, at)
    if status == Status.scheduled:
        raise NotFound(_l("没有找到这条公示，请核对编号。"), field="entry")
    if status == Status.withdrawn:
        when = entry.withdrawn_at or entry.batch.withdrawn_at
        raise Gone(_l("这条公示已于%(date)s撤回，不再公开。如有疑问，请拨打社会救助服务热线。",
                      date=i18n.localtime(when, "long")))
    if status == Status.closed:
        raise Gone(_l("这条公示的公示期已于%(date)s结束。按照规定，公示期满后公示内容不再公开。"
                      "如有疑问，请拨打社会救助服务热线。", date=i18n.localtime(entry.batch.closes_at, "long")))
    return entry


def time_left(closes_at: datetime, at: datetime | None = None) -> str:
    """“还剩 N 天 M 小时”; in the last hour “还剩 M 分钟”."""
    at = at or clock.now()
    seconds = int((closes_at - at).total_seconds())
    if seconds <= 0:
        return str(_l("已结束"))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = max(1, rest // 60) if not days and not hours else rest // 60
    if days:
        return str(_l("还剩 %(days)d 天 %(hours)d 小时", days=days, hours=hours))
    if hours:
        return str(_l("还剩 %(hours)d 小时 %(minutes)d 分钟", hours=hours, minutes=minutes))
    return str(_l("还剩 %(minutes)d 分钟", minutes=minutes))


@dataclass
class BoardGroup:
    batch: NoticeBatch
    entries: list[NoticeEntry] = field(default_factory=list)


@dataclass
class Board:
    """The open entries of a region's subtree at ``at``, grouped by batch (and so by level)."""

    region: Region | None
    at: datetime
    groups: list[BoardGroup]
    next_boundary: datetime | None  # the next instant this board changes by itself (an opening or closing)

    @property
    def entries(self) -> list[NoticeEntry]:
        return [e for g in self.groups for e in g.entries]

    def etag_parts(self) -> list[str]:
        parts = [self.region.code if self.region else "*",
                 self.next_boundary.isoformat() if self.next_boundary else "-"]
        for group in self.groups:
            parts.append(f"{group.batch.public_id}:{group.batch.fingerprint}")
            parts.extend(e.public_id for e in group.entries)
        return parts


LEVEL_ORDER = {Level.county: 0, Level.town: 1, Level.community: 2}


def board(session: Session, region: Region | None, at: datetime | None = None) -> Board:
    """One query: every live (open or scheduled) entry of the subtree; scheduled ones only give the boundary."""
    at = at or clock.now()
    stmt = _live(select(NoticeEntry).options(joinedload(NoticeEntry.region)), region, at)
    groups: dict[int, BoardGroup] = {}
    boundaries = []
    for entry in session.scalars(stmt).unique():
        batch = entry.batch
        if batch.opens_at > at:
            boundaries.append(batch.opens_at)
            continue
        boundaries.append(batch.closes_at)
        groups.setdefault(batch.id, BoardGroup(batch)).entries.append(entry)
    ordered = sorted(groups.values(), key=lambda g: (LEVEL_ORDER[g.batch.level], g.batch.opens_at, g.batch.id))
    return Board(region, at, ordered, min(boundaries) if boundaries else None)


BOARD_PER_PAGE = 50  # open entries a page of the API's listing, by default


@dataclass
class BoardPage:
    """One page of a board's open entries, in board order (level: county, town, community; then opening, batch,
    position), grouped by batch — a batch may run over two pages, each shows its part. ``total`` and
    ``next_boundary`` are the whole board's, not the page's."""

    region: Region | None
    at: datetime
    groups: list[BoardGroup]
    total: int
    page: int
    per_page: int
    next_boundary: datetime | None
    photos: frozenset[str] = frozenset()  # public ids of the page's entries whose photo may be shown now

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def etag_parts(self) -> list[str]:
        parts = [self.region.code if self.region else "*", str(self.total), str(self.page), str(self.per_page),
                 self.next_boundary.isoformat() if self.next_boundary else "-"]
        for group in self.groups:
            parts.append(f"{group.batch.public_id}:{group.batch.fingerprint}")
            parts.extend(f"{e.public_id}:p" if e.public_id in self.photos else e.public_id for e in group.entries)
        return parts


def _photo_shown():
    """Whether an entry's photo is shown now — :func:`shown_photo_key` in SQL, over an entry joined to its case."""
    return and_(NoticeEntry.photo_key.is_not(None), Case.photo_consent.is_(True),
                Case.photo_key == NoticeEntry.photo_key)


def board_count(session: Session, region: Region | None, at: datetime | None = None) -> tuple[int, datetime | None]:
    """How many entries of the subtree are open at ``at``, and the board's next boundary (the soonest opening of a
    scheduled batch or closing of an open one) — one aggregate, no entry loaded."""
    at = at or clock.now()
    is_open = NoticeBatch.opens_at <= at
    stmt = _live(select(func.count(sql_case((is_open, NoticeEntry.id))),
                        func.min(sql_case((is_open, NoticeBatch.closes_at), else_=NoticeBatch.opens_at))),
                 region, at).order_by(None)
    total, boundary = session.execute(stmt).one()
    return int(total or 0), boundary


def board_page(session: Session, region: Region | None, at: datetime | None = None, *, page: int = 1,
               per_page: int = BOARD_PER_PAGE) -> BoardPage:
    """Page ``page`` (from 1) of the open entries of the subtree, ``per_page`` a page, in :func:`board` order."""
    at = at or clock.now()
    total, boundary = board_count(session, region, at)
    level_order = sql_case(LEVEL_ORDER, value=NoticeBatch.level)
    stmt = (_live(select(NoticeEntry, _photo_shown()).options(contains_eager(NoticeEntry.batch),
                                                             contains_eager(NoticeEntry.region)), region, at)
            .join_from(NoticeEntry, Case, NoticeEntry.case_id == Case.id)
            .where(NoticeBatch.opens_at <= at)
            .order_by(None).order_by(level_order, NoticeBatch.opens_at, NoticeBatch.id, NoticeEntry.position)
            .limit(per_page).offset((max(page, 1) - 1) * per_page))
    groups: dict[int, BoardGroup] = {}
    photos = set()
    for entry, photo in session.execute(stmt):
        groups.setdefault(entry.batch_id, BoardGroup(entry.batch)).entries.append(entry)
        if photo:
            photos.add(entry.public_id)
    return BoardPage(region, at, list(groups.values()), total, max(page, 1), per_page, boundary, frozenset(photos))


@dataclass
class Signature:
    """What a board shows, from a light column query: enough for its ETag without loading the entries."""

    parts: list[str]
    closes: list[datetime]  # closing instants of the open batches (their time left is on the page)
    next_boundary: datetime | None


def board_signature(session: Session, region: Region | None, at: datetime | None = None) -> Signature:
    at = at or clock.now()
    photo_shown = _photo_shown()  # withdrawn consent changes the tag
    stmt = _live(select(NoticeBatch.public_id, NoticeBatch.fingerprint, NoticeBatch.opens_at, NoticeBatch.closes_at,
                        NoticeEntry.public_id, photo_shown), region, at).join_from(
        NoticeEntry, Case, NoticeEntry.case_id == Case.id)
    parts = [region.code if region else "*"]
    closes: dict[str, datetime] = {}
    boundaries = []
    for batch_id, fp, opens_at, closes_at, entry_id, photo in session.execute(stmt):
        if opens_at > at:
            boundaries.append(opens_at)
            continue
        boundaries.append(closes_at)
        if batch_id not in closes:
            closes[batch_id] = closes_at
            parts.append(f"{batch_id}:{fp}")
        parts.append(f"{entry_id}:p" if photo else entry_id)
    boundary = min(boundaries) if boundaries else None
    parts.append(boundary.isoformat() if boundary else "-")
    return Signature(parts, list(closes.values()), boundary)


def shown_photo_key(entry) -> str | None:
    """The photo an entry may show now: its snapshot's photo, only while the household's case still has that
    very photo with consent recorded. Withdrawn consent (or a deleted or replaced photo) is honoured on the
    next request on every channel, although the snapshot itself never changes (PIPL Art. 15: consent may be
    withdrawn at any time). Works on anything with ``photo_key`` and ``case`` (an entry, a preview)."""
    key = getattr(entry, "photo_key", None)
    if not key:
        return None
    case = getattr(entry, "case", None)
    return key if case is not None and case.photo_consent and case.photo_key == key else None


def entry_photo_key(session: Session, public_id: str, allowed: bool, at: datetime | None = None) -> str:
    """The photo of an open entry, for a channel that ``allowed`` photos; Gone once the entry is."""
    entry = public_entry(session, public_id, at)
    key = shown_photo_key(entry)
    if not allowed or not key:
        raise NotFound(_l("这条公示没有可公开的照片。"))
    return key


ROSTER_PER_PAGE = 50  # lines of the public roster a page (web and the API's default)


def _roster_select(stmt, region: Region | None):
    """Restrict a select over cases to the standing roster of ``region``'s subtree (every region: None)."""
    stmt = stmt.join(Case.region).where(Case.stage == Stage.active)
    if region is not None:
        stmt = stmt.where(Region.path.startswith(region.path, autoescape=True))
    return stmt


@dataclass(frozen=True)
class RosterLine:
    """One household of the roster: what ``disclosure.present_roster`` may show of it, and no more (no ID
    number is even read: a Case row would decrypt its head's and members' on loading)."""

    id: int
    region: Region
    head_name: str
    address: str
    public_address: str
    household_size: int
    monthly_amount: Decimal | None


def roster(session: Session, region: Region | None, *, page: int = 1, per_page: int | None = None,
           start: tuple[str, int] | None = None) -> list[RosterLine]:
    """The standing list of current recipients (在保, 公布 without end date) in a subtree, ordered by community,
    head's name and id (a stable order: pages never overlap or leave a gap). ``per_page`` None: all of them
    (a community's kiosk); otherwise page ``page`` (from 1) of that many lines — or, given the page's ``start``
    (:meth:`RosterTotals.start`: its community's path and how many of that community's lines come before it),
    the page from there: page 16,000 of a province then costs what page 1 does, not a walk over 800,000 lines."""
    stmt = (_roster_select(select(Case.id, Region, Case.head_name, Case.address, Case.public_address,
                                  Case.household_size, Case.monthly_amount), region)
            .order_by(Region.path, Case.head_name, Case.id))
    if per_page is not None:
        skip = (max(page, 1) - 1) * per_page
        if start is not None:
            path, skip = start
            stmt = stmt.where(Region.path >= path)
        stmt = stmt.limit(per_page).offset(skip)
    return [RosterLine(*row) for row in session.execute(stmt)]


@dataclass(frozen=True)
class RosterTotals:
    """The whole roster of a subtree in three figures, for the line above every page, and its households per
    community (region path, count) in roster order: where each page starts."""

    households: int
    persons: int
    amount: Decimal  # yuan a month, every household's amount added up
    communities: tuple[tuple[str, int], ...] = ()

    def pages(self, per_page: int) -> int:
        return max(1, -(-self.households // per_page))

    def start(self, page: int, per_page: int) -> tuple[str, int] | None:
        """Where page ``page`` starts: the path of the community holding its first line and how many of that
        community's lines come before it; None past the end."""
        skip = (max(page, 1) - 1) * per_page
        for path, count in self.communities:
            if skip < count:
                return path, skip
            skip -= count
        return None

    def __add__(self, other: RosterTotals) -> RosterTotals:
        """Two rosters one after the other (counties in path order: their communities follow one another)."""
        return RosterTotals(self.households + other.households, self.persons + other.persons,
                            self.amount + other.amount, self.communities + other.communities)


def roster_totals(session: Session, region: Region | None, *, summary: bool = True) -> RosterTotals:
    """Households, persons and monthly money of the roster, per community (issue 13: a province's roster is
    never loaded to be counted): from the roster summary for the communities it holds, by SQL aggregates over
    the households of the others — in one statement (``dibao.roster_summary``); ``summary=False`` counts them
    all live, as before the summary. The same figures either way (the tests compare them)."""
    rows = roster_summary.totals_rows(session, region, summary=summary)
    return RosterTotals(sum(int(row[1]) for row in rows), sum(int(row[2]) for row in rows),
                        sum((entitlement.summed_money(row[3]) for row in rows), Decimal("0.00")),
                        tuple((path, int(count)) for path, count, _, _ in rows))


# --- the sweep (dibao.sweep runs it; each step in its own short transaction) ------------------------------

def due_batch_ids(session: Session, at: datetime) -> list[int]:
    """Batches whose window has closed and whose closing is not recorded yet."""
    stmt = select(NoticeBatch.id).where(
        NoticeBatch.closes_at <= at, NoticeBatch.closing_recorded_at.is_(None), NoticeBatch.withdrawn_at.is_(None)
    ).order_by(NoticeBatch.closes_at, NoticeBatch.id)
    return list(session.scalars(stmt))


@dataclass
class Closing:
    batch: str
    moved: list[str] = field(default_factory=list)  # case numbers moved to the next stage
    held: list[str] = field(default_factory=list)  # case numbers held by an unresolved objection


def close_batch(session: Session, batch_id: int, at: datetime) -> Closing | None:
    """Record one batch's closing and move its cases on. Returns None when another sweep got there first.

    The claim is one conditional UPDATE: of two sweeps running at once (two gunicorn workers), exactly one
    sees its row count as 1; the other's UPDATE waits for the first to commit (row lock on PostgreSQL, the
    write lock on SQLite) and then matches nothing.
    """
    claimed = session.execute(
        update(NoticeBatch)
        .where(NoticeBatch.id == batch_id, NoticeBatch.closing_recorded_at.is_(None),
               NoticeBatch.withdrawn_at.is_(None), NoticeBatch.closes_at <= at)
        .values(closing_recorded_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return None
    batch = session.get(NoticeBatch, batch_id, populate_existing=True)
    result = Closing(batch.public_id)
    for entry in batch.entries:
        if entry.withdrawn_at is not None:
            continue
        moved = workflow.notice_closed(session, entry.case, batch.level, batch.public_id)
        (result.moved if moved else result.held).append(entry.case.number)
    audit.record(session, None, "notice_batch_closed", "notice_batch", batch.public_id, region_id=batch.region_id,
                 details={"moved": result.moved, "held": result.held})
    return result


def released_entry_ids(session: Session) -> list[int]:
    """Entries of closed boards whose case is still in that notice stage (an objection held it) — candidates
    to move on once the objection is decided. Only a case's latest entry counts."""
    latest = select(func.max(NoticeEntry.id)).group_by(NoticeEntry.case_id)
    stmt = (
        select(NoticeEntry.id, NoticeBatch.level, Case.stage)
        .join(NoticeEntry.batch)
        .join(Case, NoticeEntry.case_id == Case.id)
        .where(NoticeBatch.closing_recorded_at.is_not(None), NoticeEntry.withdrawn_at.is_(None),
               Case.stage.in_(list(workflow.IN_NOTICE.values())), NoticeEntry.id.in_(latest))
    )
    return [row.id for row in session.execute(stmt) if row.stage == workflow.IN_NOTICE[row.level]]


def release_entry(session: Session, entry_id: int) -> bool:
    """The sweep's step for one held case: lock the case row, then :func:`release_case`."""
    entry = session.get(NoticeEntry, entry_id)
    case = session.scalar(select(Case).where(Case.id == entry.case_id).with_for_update(of=Case))
    return release_case(session, case)


def release_case(session: Session, case: Case, at: datetime | None = None) -> bool:
    """Move on a case that an objection held past its notice window, once nothing holds it any more (the
    objection was decided and not upheld). The one place this happens: the sweep and the decision both call
    it. True if the case moved."""
    at = at or clock.now()
    entry = session.scalar(select(NoticeEntry).where(NoticeEntry.case_id == case.id)
                           .order_by(NoticeEntry.id.desc()).limit(1))
    if entry is None or entry_status(entry, at) != Status.closed:
        return False
    return workflow.notice_closed(session, case, entry.batch.level, entry.batch.public_id)


def open_counts(session: Session, at: datetime | None = None) -> list[tuple[Region, int, datetime]]:
    """Per community: how many entries are open now and when its soonest open batch closes — one GROUP BY, for
    the home page (issue 13: at province scale it must not load every open entry)."""
    at = at or clock.now()
    stmt = (_live(select(NoticeEntry.region_id, func.count(NoticeEntry.id), func.min(NoticeBatch.closes_at)), None, at)
            .where(NoticeBatch.opens_at <= at).group_by(NoticeEntry.region_id).order_by(None))
    rows = session.execute(stmt).all()
    regions = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_([row[0] for row in rows]))
                                                .options(joinedload(Region.parent)))}
    return [(regions[region_id], count, closes) for region_id, count, closes in rows]
