"""提标: a new standard reaches every active household — previewed, confirmed by the county, applied by a job.

* When a standard's effective date arrives, the sweep (or ``dibao standards apply``) records a
  :class:`StandardRaise` for it: pending when some household's amount would change. Nothing is paid differently
  yet: amounts never change silently.
* The county sees the :func:`preview` (every active household the standard governs: old and new amount, totals)
  and :func:`confirm`\\ s it; the ``standard_raise`` job then gives each household its new amount from the
  standard's month on (a new ``AmountPeriod``, one audit event, a "提标" record in its archive).
* A standard entered for the future changes nothing before its date: it is not detected, and confirming it is
  refused.

A household with an amount fixed by staff (an override with its written reason) keeps it; the preview shows it.
Under 分档 the preview shows the tier each household is computed under, marked when it was chosen under an earlier
standard and carried over by name (revived, when 分档 returns after a 差额 period), and lists apart the households
given no tier — none chosen, or one the standard lacks: they keep their amount until staff choose one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from dibao import audit, clock, db, entitlement, jobs, scope, workflow
from dibao.errors import Conflict, Forbidden, NotFound
from dibao.models import AmountChange, Case, Member, Region, Role, User
from dibao.models.job import Job, JobStatus
from dibao.models.management import RaiseStatus, StandardRaise
from dibao.models.records import CaseRecord, RecordKind, Standard, StandardMethod

STATUS_LABELS = {RaiseStatus.pending: _l("待确认"), RaiseStatus.applied: _l("已调整"),
                 RaiseStatus.unchanged: _l("无需调整")}


@dataclass
class Line:
    case_id: int
    number: str
    head_name: str
    community: str
    size: int
    old: Decimal
    new: Decimal
    fixed: bool = False  # an override by staff: kept
    no_tier: bool = False  # 分档 without a tier chosen: no computed amount, the current one kept
    # 分档: the tier the new amount is computed under (by name). ``tier_carried``: it was chosen under an earlier
    # standard and carried over by name (the standard before this one had it, or was not 分档); ``tier_revived``:
    # that earlier standard was 差额 — the tier was kept, dormant, through the 差额 period and applies again
    tier: str | None = None
    tier_carried: bool = False
    tier_revived: bool = False
    lacking_tier: str | None = None  # the household's tier (by name) that this standard lacks: no_tier too

    @property
    def changed(self) -> bool:
        return self.new != self.old

    @property
    def difference(self) -> Decimal:
        return self.new - self.old


@dataclass
class Preview:
    standard: Standard
    previous: Decimal | None  # the standard it replaces in its region, if any
    lines: list[Line] = field(default_factory=list)

    @property
    def changed(self) -> list[Line]:
        return [line for line in self.lines if line.changed]

    @property
    def without_tier(self) -> list[Line]:
        """The households 分档 gives no new amount for want of a tier — none chosen, or one this standard lacks:
        they keep their amount, to be fixed (a tier chosen under this standard) before the county confirms."""
        return [line for line in self.lines if line.no_tier]

    @property
    def total_before(self) -> Decimal:
        return sum((line.old for line in self.lines), Decimal("0.00"))

    @property
    def total_after(self) -> Decimal:
        return sum((line.new for line in self.lines), Decimal("0.00"))

    @property
    def starts_on(self) -> date:
        return entitlement.month_start(self.standard.effective_from)


def _governed(session: Session, standard: Standard) -> list[Case]:
    """The approved households whose standard on its date is this one (a lower region's own standard wins): those
    in payment, and those whose county notice is still to come or running — they become active with the amount
    of their approval, so a raise passing them by would leave them on the old standard for good (a raise is
    detected once)."""
    cases = session.scalars(select(Case).join(Region, Case.region_id == Region.id)
                            .where(scope.subtree_condition(standard.region),
                                   Case.stage.in_(workflow.APPROVED_STAGES))
                            .options(selectinload(Case.members).selectinload(Member.incomes))
                            .order_by(Region.path, Case.id))
    governs: dict[int, bool] = {}  # region id → whether this standard is its standard on the date (once a region)
    governed = []
    for case in cases:
        if case.region_id not in governs:
            found = entitlement.find_standard(session, case.region, standard.effective_from)
            governs[case.region_id] = found is not None and found.id == standard.id
        if governs[case.region_id]:
            governed.append(case)
    return governed


def compute(session: Session, standard: Standard) -> Preview:
    """Every governed household's amount now and under ``standard`` (no permission check: the sweep's too)."""
    result = Preview(standard=standard, previous=_previous(session, standard))
    before: dict[int, Standard | None] = {}  # region id → the standard this one follows there
    for case in _governed(session, standard):
        old = Decimal(case.monthly_amount or 0)
        line = Line(case.id, case.number, case.head_name, case.region.name, case.household_size, old, old)
        if case.override_amount is not None:
            line.new, line.fixed = Decimal(case.override_amount), True
        else:
            # through compute(): the standard's method, and under 分档 the household's tier by name
            computed = entitlement.compute_under(case, standard)
            line.no_tier = computed.tier_missing
            line.new = old if line.no_tier else computed.computed or Decimal("0.00")
            if line.no_tier and case.tier_name:
                line.lacking_tier = case.tier_name
            elif computed.tier_share is not None:
                line.tier = computed.tier_name
                if case.region_id not in before:
                    before[case.region_id] = entitlement.find_standard(session, case.region, standard.effective_from,
                                                                       excluding=standard.id)
                earlier = before[case.region_id]
                line.tier_revived = earlier is not None and earlier.method != StandardMethod.tiered
                # a name the standard before lacks was chosen under this one (since its date), not carried over
                line.tier_carried = (line.tier_revived or earlier is None
                                     or line.tier in {name for name, _share in earlier.tier_shares})
        result.lines.append(line)
    return result


def _previous(session: Session, standard: Standard) -> Decimal | None:
    earlier = session.scalar(select(Standard.monthly_amount).where(
        Standard.region_id == standard.region_id, Standard.effective_from < standard.effective_from)
        .order_by(Standard.effective_from.desc()).limit(1))
    return Decimal(earlier) if earlier is not None else None


def _require_county(actor: User | None, standard: Standard) -> None:
    if actor is None:  # the command line
        return
    if not scope.can_see(actor, standard.region) and not standard.region.path.startswith(actor.region.path):
        raise NotFound(_l("没有找到该标准。"))
    if actor.role != Role.county_approver:
        raise Forbidden(_l("提标由县民政局确认。"))


def get_raise(session: Session, actor: User, raise_id: int) -> StandardRaise:
    item = db.get_record(session, StandardRaise, raise_id)
    if item is None or not scope.can_see(actor, item.standard.region):
        raise NotFound(_l("没有找到该提标。"))
    return item


def preview(session: Session, actor: User | None, *, standard_id: int) -> Preview:
    standard = db.get_record(session, Standard, standard_id)
    if standard is None or (actor is not None and not scope.can_see(actor, standard.region)):
        raise NotFound(_l("没有找到该标准。"))
    _require_county(actor, standard)
    return compute(session, standard)


def listing(session: Session, actor: User) -> list[StandardRaise]:
    return list(session.scalars(select(StandardRaise).join(Standard).join(Region, Standard.region_id == Region.id)
                                .where(scope.subtree_condition(actor.region))
                                .order_by(Standard.effective_from.desc(), StandardRaise.id.desc())))


def pending_count(session: Session, actor: User) -> int:
    return session.scalar(select(func.count(StandardRaise.id)).join(Standard)
                          .join(Region, Standard.region_id == Region.id)
                          .where(scope.subtree_condition(actor.region),
                                 StandardRaise.status == RaiseStatus.pending)) or 0


def detect(session: Session, today: date | None = None) -> list[StandardRaise]:
    """The sweep: each standard whose date has come gets its StandardRaise once (pending when amounts change)."""
    today = today or clock.today()
    seen = select(StandardRaise.standard_id)
    due = list(session.scalars(select(Standard).where(Standard.effective_from <= today, Standard.id.not_in(seen))
                               .order_by(Standard.effective_from, Standard.id)))
    found = []
    for standard in due:
        result = compute(session, standard)
        status = RaiseStatus.pending if result.changed else RaiseStatus.unchanged
        item = StandardRaise(standard_id=standard.id, status=status, detected_at=clock.now(),
                             households=len(result.changed), total_before=result.total_before,
                             total_after=result.total_after)
        session.add(item)
        session.flush()
        audit.record(session, None, "standard_raise_detected", "standard", standard.id, region_id=standard.region_id,
                     details={"raise": item.id, "status": status.value, "households": len(result.changed)})
        found.append(item)
    return found


def confirm(session: Session, actor: User | None, item: StandardRaise) -> Job:
    """The county confirms the preview: the apply job starts (when the caller commits)."""
    standard = item.standard
    _require_county(actor, standard)
    # Of two confirmations at the same moment the second waits for the first, then finds the raise started.
    item = db.locked(session, item)
    if standard.effective_from > clock.today():
        raise Conflict(_l("该标准 %(day)s 才生效，生效前不能调整金额。", day=standard.effective_from.isoformat()))
    if item.status != RaiseStatus.pending:
        raise Conflict(_l("该提标已经办理。"))
    if item.job_id is not None:
        job = session.get(Job, item.job_id)
        if job is not None and job.status in (JobStatus.queued, JobStatus.running):
            raise Conflict(_l("该提标正在调整中，请稍候。"))
    job = jobs.start(session, actor, "standard_raise", {"raise": item.id},
                     title=str(_l("提标：%(region)s %(amount)s 元", region=standard.region.name,
                                  amount=standard.monthly_amount)))
    item.job_id = job.id
    audit.record(session, actor, "standard_raise_confirmed", "standard", standard.id, region_id=standard.region_id,
                 details={"raise": item.id, "job": job.id})
    return job


APPLY_CHUNK = 500  # households given their new amount per flush (and per look at the audit log's head)


def apply_lines(session: Session, actor: User | None, standard: Standard, lines: list[Line]) -> int:
    """The households' new amounts from the standard's month on (or from a household's latest change, if later):
    for each, a new amount period, a "提标" record in its archive and one audit event — written together, with one
    flush (a county's 提标 reaches tens of thousands of households). Returns how many changed."""
    reason = str(_l("提标：低保标准自 %(day)s 起调整为每人每月 %(amount)s 元。",
                    day=standard.effective_from.isoformat(), amount=standard.monthly_amount))
    month = entitlement.month_start(standard.effective_from)
    wanted = [line for line in lines if line.changed]
    cases = {case.id: case for case in session.scalars(select(Case).where(Case.id.in_([li.case_id for li in wanted])))}
    latest = entitlement.latest_starts(session, list(cases))
    now = clock.now()
    author = actor.display_name if actor else audit.SYSTEM_ACTOR
    starts, entries = [], []
    for line in wanted:
        case = cases.get(line.case_id)
        if case is None or case.stage not in workflow.APPROVED_STAGES:
            continue
        before = case.monthly_amount
        if not line.fixed:
            case.computed_amount = line.new
        case.monthly_amount = line.new
        case.updated_at = now
        starts_on = max(month, latest.get(case.id, month))
        starts.append((case, line.new, starts_on))
        session.add(CaseRecord(case_id=case.id, kind=RecordKind.standard_raise, findings=reason, amount_before=before,
                               amount_after=line.new, author_id=actor.id if actor else None, author_name=author,
                               created_at=now))
        entries.append(audit.Entry("standard_raised", "case", case.id, case.region_id,
                                   {"standard": standard.id, "before": str(before), "after": str(line.new),
                                    "from": starts_on.isoformat()}))
    if starts:
        entitlement.start_periods(session, actor, starts, change=AmountChange.standard_raised, reason=reason)
        audit.append_many(session, actor, entries)
    return len(starts)


def apply(session: Session, actor: User | None, item: StandardRaise, progress=None) -> dict:
    """Every changed household gets its new amount; the raise is marked applied (the job's body)."""
    item = db.locked(session, item)  # two apply jobs at once: the second finds it applied
    if item.status != RaiseStatus.pending:
        raise Conflict(_l("该提标已经办理。"))
    result = preview(session, actor, standard_id=item.standard_id)
    if item.standard.effective_from > clock.today():
        raise Conflict(_l("该标准 %(day)s 才生效，生效前不能调整金额。", day=item.standard.effective_from.isoformat()))
    changed = result.changed
    for start in range(0, len(changed), APPLY_CHUNK):
        apply_lines(session, actor, item.standard, changed[start:start + APPLY_CHUNK])
        if progress is not None:
            progress(min(start + APPLY_CHUNK, len(changed)), len(changed), str(_l("正在调整")))
    item.status = RaiseStatus.applied
    item.applied_at = clock.now()
    item.applied_by_name = actor.display_name if actor else audit.SYSTEM_ACTOR
    item.households = len(changed)
    item.total_before = result.total_before
    item.total_after = result.total_after
    session.flush()
    return {"households": len(changed), "total_before": str(result.total_before),
            "total_after": str(result.total_after)}


@jobs.kind("standard_raise", _l("提标"))
def _apply_raise(session: Session, actor: User | None, params: dict, progress) -> dict:
    item = session.get(StandardRaise, int(params["raise"]))
    if item is None:
        raise NotFound(_l("没有找到该提标。"))
    return apply(session, actor, item, progress)


# --- CLI: dibao standards apply --------------------------------------------------------------------------------

import click  # noqa: E402
from flask.cli import with_appcontext  # noqa: E402


@click.group("standards", help="低保标准 and 提标.")
def standards_group() -> None:
    pass


@standards_group.command("apply")
@click.option("--confirm", "confirmed", is_flag=True,
              help="apply every pending 提标 now (otherwise only detect and preview; the county confirms on /admin/raises/)")
@with_appcontext
def apply_command(confirmed: bool) -> None:
    """Detect the standards whose date has come, print each pending 提标's preview, and with --confirm apply it."""
    from dibao import db

    session = db.session()
    detect(session)
    session.commit()
    pending = list(session.scalars(select(StandardRaise).where(StandardRaise.status == RaiseStatus.pending)
                                   .order_by(StandardRaise.id)))
    if not pending:
        click.echo("no pending 提标")
        return
    for item in pending:
        result = compute(session, item.standard)
        click.echo(f"提标 #{item.id}: {item.standard.region.name} {item.standard.monthly_amount} yuan from "
                   f"{item.standard.effective_from}: {len(result.lines)} households, {len(result.changed)} change, "
                   f"monthly total {result.total_before} -> {result.total_after}")
        if confirmed:
            with click.progressbar(length=max(len(result.changed), 1), label="applying") as bar:
                def progress(done, total, _label=""):
                    bar.update(1)
                report = apply(session, None, item, progress)
            session.commit()
            click.echo(f"applied: {report['households']} households")
    if not confirmed:
        click.echo("preview only: confirm on /admin/raises/ or run again with --confirm")
