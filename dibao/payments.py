"""按时足额发放: the monthly payment run of a county (issue 11).

A run pays, for one county and one month, every household with an approval in force that month (an amount
period above 0, the case approved and still active, in a grace period, or exited from the next month on), plus

* arrears (补发): months since the county's first run that were owed more than earlier runs paid — a household
  approved after its first month's run was generated, an adjustment reaching back, a month without a run;
* failed lines of earlier runs (the bank could not pay), carried over once each.

The regular lines are written by one ``INSERT … SELECT`` over :func:`dibao.entitlement.in_force`; only the few
households that can owe arrears are looked at one by one. Towns check their part, the county approves; from then
on the run is locked: nothing in it changes but the bank's answer (paid / failed with the bank's reason), and
corrections go into the next month's run. Overpayments are never deducted automatically (追回 is its own
procedure): only a positive difference is paid as arrears.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from dibao import audit, clock, db, entitlement, jobs, scope, sheets
from dibao.crypto import blind_index
from dibao.db import chunks
from dibao.errors import Conflict, Forbidden, Invalid, NotFound
from dibao.identity import mask_account
from dibao.models import AmountPeriod, Case, Level, Member, Region, Role, Stage, User
from dibao.models.payment import (
    BankLayout,
    FundsQuestion,
    LineStatus,
    PaymentAccount,
    PaymentArrear,
    PaymentLine,
    PaymentRun,
    PaymentTownCheck,
    RunStatus,
)
from dibao.text import normalise_name

ZERO = Decimal("0.00")

STATUS_LABELS = {
    None: _l("未生成"),
    RunStatus.generated: _l("已生成，待乡镇核对"),
    RunStatus.checked: _l("乡镇已核对，待县级审批"),
    RunStatus.approved: _l("已审批，待导出银行文件"),
    RunStatus.sent: _l("已送银行，待回盘"),
    RunStatus.returned: _l("银行已回盘"),
}
LINE_STATUS_LABELS = {
    LineStatus.pending: _l("待发放"),
    LineStatus.paid: _l("已发放"),
    LineStatus.failed: _l("发放失败"),
}
LOCKED = _l("该月发放名册已审批，不能再修改；更正请在下月名册中以补发或调整处理。")
# PaymentRun.locked as a condition: approved, and from then on only the bank's answer changes.
LOCKED_STATUSES = (RunStatus.approved, RunStatus.sent, RunStatus.returned)
NOT_COUNTY = _l("只有县民政局审批人员可以生成、审批发放名册和处理银行文件。")


# --- months -----------------------------------------------------------------------------------------------

def parse_month(text: str | date | None, *, field_name: str = "month") -> date:
    """``2026-12`` (or a date) → the first day of that month."""
    if isinstance(text, date):
        return entitlement.month_start(text)
    try:
        year, month = (int(part) for part in str(text or "").strip().split("-")[:2])
        return date(year, month, 1)
    except (ValueError, TypeError):
        raise Invalid(_l("月份格式应为 2026-12。"), field=field_name) from None


def month_label(month: date) -> str:
    return f"{month.year}-{month.month:02d}"


def months_between(first: date, stop: date) -> list[date]:
    """Every first-of-month from ``first`` up to, not including, ``stop``."""
    out, m = [], entitlement.month_start(first)
    while m < stop:
        out.append(m)
        m = entitlement.next_month(m)
    return out


# --- who may do what ----------------------------------------------------------------------------------------

def get_run(session: Session, actor: User | None, run_id: int | None) -> PaymentRun:
    """A run is seen by every staff member of its county (a town sees its part of the lines, a community its
    own); another county's run does not exist for them (404)."""
    run = db.get_record(session, PaymentRun, run_id)
    if run is None or (actor is not None and not actor.region.path.startswith(run.county.path)):
        raise NotFound(_l("没有找到该发放名册。"))
    return run


def _require_county(actor: User | None, county: Region) -> None:
    if actor is None:
        return  # the command line
    if not actor.region.path.startswith(county.path):
        raise NotFound(_l("没有找到该发放名册。"))
    if actor.role not in (Role.county_approver, Role.admin) or actor.region_id != county.id:
        raise Forbidden(NOT_COUNTY)


def can_manage(actor: User, run: PaymentRun | None = None, county: Region | None = None) -> bool:
    county = county or (run.county if run else None)
    return (county is not None and actor.role in (Role.county_approver, Role.admin)
            and actor.region_id == county.id)


def _require_unlocked(run: PaymentRun) -> None:
    if run.locked:
        raise Conflict(LOCKED)


def _lines_in_scope(actor: User | None):
    """A condition on PaymentLine: the lines of the actor's subtree (a community sees its own households)."""
    if actor is None:
        return literal(True)
    return _lines_in(actor.region)


def _lines_in(region: Region):
    """A condition on PaymentLine: the lines of households in ``region``'s subtree."""
    return PaymentLine.region_id.in_(select(Region.id).where(Region.path.startswith(region.path, autoescape=True)))


# --- generating a run ---------------------------------------------------------------------------------------

def due_rows(county: Region, month: date, run_id: int):
    """A select of the regular lines of ``county`` (or of a town's or community's part of it) for ``month``:
    (run, case, town, community, category, persons, amount, arrears, total, status). A household is due only with an approval in force that month, from the first
    month this system pays it (``payment_start``: an imported household's earlier months were the old system's)."""
    inf = entitlement.in_force(month).subquery()
    community = aliased(Region)
    persons = (select(Member.case_id, func.count(Member.id).label("n")).group_by(Member.case_id).subquery())
    return (
        select(literal(run_id).label("run_id"), Case.id.label("case_id"), community.parent_id.label("town_id"),
               Case.region_id.label("region_id"), Case.category.label("category"),
               func.coalesce(persons.c.n, 0).label("persons"), inf.c.amount.label("amount"),
               literal(ZERO).label("arrears"), inf.c.amount.label("total"),
               literal(LineStatus.pending.value).label("status"))
        .select_from(Case)
        .join(inf, inf.c.case_id == Case.id)
        .join(community, community.id == Case.region_id)
        .outerjoin(persons, persons.c.case_id == Case.id)
        .where(community.path.startswith(county.path, autoescape=True),
               inf.c.amount > 0,
               Case.approved_at.is_not(None),
               Case.stage.in_((Stage.active, Stage.exited)),
               or_(Case.payment_start.is_(None), Case.payment_start <= month),
               or_(Case.grace_until.is_(None), Case.grace_until >= month))
    )


LINE_COLUMNS = ("run_id", "case_id", "town_id", "region_id", "category", "persons", "amount", "arrears", "total",
                "status")


@dataclass
class Arrears:
    case_id: int
    months: dict[date, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum(self.months.values(), ZERO)


def _arrears(session: Session, county: Region, run: PaymentRun) -> list[Arrears]:
    """Households owed more for an earlier month (since the county's first run) than earlier runs paid."""
    month = run.month
    other_runs = list(session.execute(select(PaymentRun.month, PaymentRun.generated_at).where(
        PaymentRun.county_id == county.id, PaymentRun.id != run.id, PaymentRun.month < month)))
    if not other_runs:
        return []  # the county's first run: what came before was paid outside this system
    first = min(r.month for r in other_runs)
    run_months = {r.month for r in other_runs}
    gaps = [m for m in months_between(first, month) if m not in run_months]
    in_county = select(Case.id).join(Region, Region.id == Case.region_id).where(
        Region.path.startswith(county.path, autoescape=True), Case.approved_at.is_not(None))
    # a period decided after every run that could have paid it (an adjustment reaching back, a late approval)
    settled = exists().where(PaymentRun.county_id == county.id, PaymentRun.id != run.id,
                             PaymentRun.month >= AmountPeriod.starts_on, PaymentRun.month < month,
                             PaymentRun.generated_at >= AmountPeriod.created_at)
    candidates = set(session.scalars(select(AmountPeriod.case_id).where(
        AmountPeriod.case_id.in_(in_county), AmountPeriod.starts_on < month,
        AmountPeriod.starts_on >= first, ~settled).distinct()))
    for gap in gaps:  # a month no run paid: everyone with an approval in force then
        inf = entitlement.in_force(gap).subquery()
        candidates |= set(session.scalars(select(inf.c.case_id).where(inf.c.amount > 0,
                                                                         inf.c.case_id.in_(in_county))))
    if not candidates:
        return []
    ids = sorted(candidates)
    periods: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    paid: dict[tuple[int, date], Decimal] = defaultdict(lambda: ZERO)
    starts: dict[int, date] = {}  # the first month this system pays (an imported household: see imports)
    for chunk in chunks(ids):
        starts.update((row.id, row.payment_start) for row in session.execute(
            select(Case.id, Case.payment_start).where(Case.id.in_(chunk), Case.payment_start.is_not(None))))
        for row in session.execute(select(AmountPeriod.case_id, AmountPeriod.starts_on, AmountPeriod.amount)
                                   .where(AmountPeriod.case_id.in_(chunk))
                                   .order_by(AmountPeriod.case_id, AmountPeriod.starts_on, AmountPeriod.id)):
            periods[row.case_id].append((row.starts_on, Decimal(row.amount)))
        for row in session.execute(
                select(PaymentLine.case_id, PaymentRun.month, func.sum(PaymentLine.amount))
                .join(PaymentRun, PaymentRun.id == PaymentLine.run_id)
                .where(PaymentLine.case_id.in_(chunk), PaymentRun.county_id == county.id, PaymentRun.id != run.id)
                .group_by(PaymentLine.case_id, PaymentRun.month)):
            paid[(row[0], row[1])] += Decimal(row[2])
        for row in session.execute(
                select(PaymentArrear.case_id, PaymentArrear.month, func.sum(PaymentArrear.amount))
                .join(PaymentLine, PaymentLine.id == PaymentArrear.line_id)
                .where(PaymentArrear.case_id.in_(chunk), PaymentLine.run_id != run.id)
                .group_by(PaymentArrear.case_id, PaymentArrear.month)):
            paid[(row[0], row[1])] += Decimal(row[2])
    owed = []
    for case_id in ids:
        rows = periods.get(case_id, [])
        if not rows:
            continue
        item = Arrears(case_id)
        for m in months_between(max(first, rows[0][0], starts.get(case_id, first)), month):
            amount = ZERO
            for starts_on, value in rows:  # the latest period starting on or before m (newest among equals)
                if starts_on <= m:
                    amount = value
            diff = amount - paid[(case_id, m)]
            if diff > 0:  # an overpayment is never deducted here (追回 is its own procedure)
                item.months[m] = diff
        if item.months:
            owed.append(item)
    return owed


GENERATE_STEPS = 5


def _require_run_county(actor: User | None, county: Region) -> None:
    _require_county(actor, county)
    if county.level != Level.county:
        raise Invalid(_l("发放名册按县（区）生成，请选择县级行政区划。"), field="county")


def _require_month(session: Session, actor: User | None, county: Region, month: date,
                   existing: PaymentRun | None) -> None:
    """Runs go in month order. A new run is for a month after every run the county has: a month skipped is paid
    as arrears by the next run (see _arrears), so a run made for it afterwards would pay it twice. Staff prepare
    at most next month's run: a run for a month not yet come would pay every month before it as arrears in
    advance (a slip: 2062 for 2026), and it would then stand in the way of every real month.

    A run is generated only when every earlier run of the county is approved (locked): _arrears counts an
    earlier run's lines as paid, which holds only once nothing in that run can change any more. An unapproved
    earlier run could still be generated again under the later run's feet, or never be approved at all (its
    households then never paid that month); counting it as unpaid instead would pay it twice once approved.
    So at most one run of a county is unlocked at a time, the latest."""
    if actor is not None and month > entitlement.next_month(entitlement.month_start(clock.today())):
        raise Invalid(_l("发放月份最晚为下个月（%(month)s）。",
                         month=month_label(entitlement.next_month(clock.today()))), field="month")
    if existing is not None and existing.locked:
        return  # refused by the caller as locked (LOCKED says what to do instead)
    later = session.scalar(select(func.max(PaymentRun.month)).where(PaymentRun.county_id == county.id,
                                                                    PaymentRun.month > month))
    if later is not None and existing is None:
        raise Conflict(_l("已有 %(later)s 的发放名册，不能再生成更早的 %(month)s 的名册：未发的月份已在其后的名册中补发。",
                          later=month_label(later), month=month_label(month)), field="month")
    if later is not None:
        # Not reachable under the rule below (the later run was made only once this one was approved): a guard
        # for runs made before the rule, since generating this one again would change what the later one counted
        # as paid.
        raise Conflict(_l("已有 %(later)s 的发放名册，不能再重新生成 %(month)s 的名册；请审批该名册，更正请在以后的名册中以补发或调整处理。",
                          later=month_label(later), month=month_label(month)), field="month")
    unapproved = session.scalar(select(func.min(PaymentRun.month)).where(
        PaymentRun.county_id == county.id, PaymentRun.month < month,
        PaymentRun.status.not_in(LOCKED_STATUSES)))
    if unapproved is not None:
        raise Conflict(_l("请先审批 %(earlier)s 的发放名册，再生成 %(month)s 的名册。",
                          earlier=month_label(unapproved), month=month_label(month)), field="month")


def generate(session: Session, actor: User | None, county: Region, month: date | str,
             progress: Callable[..., None] = jobs.no_progress) -> PaymentRun:
    """生成发放名册 for ``county`` and ``month`` (again, while not yet approved: the lines are rebuilt).
    ``progress(done, total, message)`` hears each of its steps (the job's bar; it may raise to cancel)."""
    _require_run_county(actor, county)
    month = parse_month(month)
    # The county's row is locked for this transaction (PostgreSQL): two months generated at the same moment take
    # turns, so the later one sees the earlier one's run and _require_month keeps them in order.
    county = db.locked(session, county)
    now = clock.now()
    name = actor.display_name if actor else audit.SYSTEM_ACTOR
    # Locked for this transaction (PostgreSQL): of two generations of one run at once (two workers, the command
    # line beside a job) the second waits for the first and then rebuilds the lines, instead of deleting only what
    # its own snapshot held and adding its lines beside the first's.
    run = session.scalar(select(PaymentRun).where(PaymentRun.county_id == county.id, PaymentRun.month == month)
                         .with_for_update(of=PaymentRun))
    _require_month(session, actor, county, month, run)
    if run is not None:
        _require_unlocked(run)
        session.execute(delete(PaymentArrear).where(PaymentArrear.line_id.in_(
            select(PaymentLine.id).where(PaymentLine.run_id == run.id))))
        session.execute(update(PaymentLine).where(PaymentLine.run_id == run.id).values(carried_from_id=None))
        session.execute(delete(PaymentLine).where(PaymentLine.run_id == run.id))
        session.execute(delete(PaymentTownCheck).where(PaymentTownCheck.run_id == run.id))
        run.status, run.generated_at, run.generated_by_name = RunStatus.generated, now, name
    else:
        run = PaymentRun(county_id=county.id, month=month, status=RunStatus.generated, generated_by_name=name,
                         generated_at=now)
        session.add(run)
    session.flush()
    # 1. the month's amount in force, household by household: one statement
    progress(0, GENERATE_STEPS, str(_l("正在计算本月应发金额")))
    session.execute(insert(PaymentLine).from_select(LINE_COLUMNS, due_rows(county, month, run.id)))
    # 2. arrears, for the few who can owe them
    progress(1, GENERATE_STEPS, str(_l("正在核算补发金额")))
    owed = _arrears(session, county, run)
    if owed:
        lines = dict(session.execute(select(PaymentLine.case_id, PaymentLine.id).where(
            PaymentLine.run_id == run.id, PaymentLine.carried_from_id.is_(None))).all())
        missing = [o.case_id for o in owed if o.case_id not in lines]
        if missing:  # owed for earlier months only (exited since, say): a line with no amount of its own
            session.execute(insert(PaymentLine).from_select(LINE_COLUMNS, _case_rows(run.id, missing)))
            lines = dict(session.execute(select(PaymentLine.case_id, PaymentLine.id).where(
                PaymentLine.run_id == run.id, PaymentLine.carried_from_id.is_(None))).all())
        session.execute(insert(PaymentArrear), [
            {"line_id": lines[o.case_id], "case_id": o.case_id, "month": m, "amount": v}
            for o in owed for m, v in sorted(o.months.items())])
        session.execute(update(PaymentLine), [
            {"id": lines[o.case_id], "arrears": o.total} for o in owed])
        session.execute(update(PaymentLine).where(PaymentLine.run_id == run.id)
                        .values(total=PaymentLine.amount + PaymentLine.arrears))
    # 3. failed lines of earlier runs, each carried once
    progress(2, GENERATE_STEPS, str(_l("正在转入以往发放失败的款项")))
    failed = aliased(PaymentLine)
    carried = aliased(PaymentLine)
    earlier = select(PaymentRun.id).where(PaymentRun.county_id == county.id, PaymentRun.month < month)
    session.execute(insert(PaymentLine).from_select(
        (*LINE_COLUMNS, "carried_from_id"),
        select(literal(run.id), failed.case_id, failed.town_id, failed.region_id, failed.category, failed.persons,
               literal(ZERO), failed.total, failed.total, literal(LineStatus.pending.value), failed.id)
        .where(failed.run_id.in_(earlier), failed.status == LineStatus.failed,
               ~exists().where(carried.carried_from_id == failed.id))))
    # 4. the towns that check, and the totals
    progress(3, GENERATE_STEPS, str(_l("正在汇总各乡镇（街道）")))
    towns = session.scalars(select(PaymentLine.town_id).where(PaymentLine.run_id == run.id).distinct()).all()
    session.execute(insert(PaymentTownCheck), [{"run_id": run.id, "town_id": t, "note": ""} for t in towns]
                    ) if towns else None
    if not towns:  # nobody due: no town has anything to check, the county approves it as it is (unapproved, it
        run.status = RunStatus.checked  # would stand in the way of every later month: see _require_month)
    _totals(session, run)
    session.flush()
    audit.record(session, actor, "payment_run_generated", "payment_run", run.id, region_id=county.id,
                 details={"month": month_label(month), "households": run.households, "total": str(run.total),
                          "arrears": len(owed)})
    progress(GENERATE_STEPS - 1, GENERATE_STEPS, str(_l("正在保存发放名册")))
    return run


def _case_rows(run_id: int, case_ids: list[int]):
    community = aliased(Region)
    persons = select(func.count(Member.id)).where(Member.case_id == Case.id).scalar_subquery()
    return (select(literal(run_id), Case.id, community.parent_id, Case.region_id, Case.category, persons,
                   literal(ZERO), literal(ZERO), literal(ZERO), literal(LineStatus.pending.value))
            .join(community, community.id == Case.region_id).where(Case.id.in_(case_ids)))


def _counted():
    """Households, persons and money of a set of lines, counted one way everywhere (the run's totals, its
    tables by town, community and category, a user's part): a household once even with a carried line beside its
    regular one, and its persons from the regular line only (a carried line repeats them)."""
    regular_persons = case((PaymentLine.carried_from_id.is_(None), PaymentLine.persons), else_=0)
    return (func.count(func.distinct(PaymentLine.case_id)), func.coalesce(func.sum(regular_persons), 0),
            func.coalesce(func.sum(PaymentLine.total), 0))


def _totals(session: Session, run: PaymentRun) -> None:
    households, persons, total = session.execute(select(*_counted()).where(PaymentLine.run_id == run.id)).one()
    run.households, run.total, run.persons = households, entitlement.summed_money(total), persons or 0


@jobs.kind("payment_run", _l("生成发放名册"))
def _generate_job(session, actor, params, progress):
    county = session.get(Region, params["county"])
    if county is None:
        raise NotFound(_l("没有找到该县（区）。"))
    run = generate(session, actor, county, params["month"], progress)
    return {"run": run.id, "month": month_label(run.month), "households": run.households,
            "persons": run.persons, "total": str(run.total)}


def start_generate(session: Session, actor: User, county: Region, month: date | str):
    """Generation as a background job (a county of 100,000 households takes a few seconds), with its
    progress on the job's page."""
    _require_run_county(actor, county)
    month = parse_month(month)
    existing = session.scalar(select(PaymentRun).where(PaymentRun.county_id == county.id,
                                                       PaymentRun.month == month))
    _require_month(session, actor, county, month, existing)
    if existing is not None:
        _require_unlocked(existing)
    params = {"county": county.id, "month": month_label(month)}
    if jobs.in_progress(session, "payment_run", params):
        raise Conflict(_l("该月发放名册正在生成，请稍候查看。"))
    return jobs.start(session, actor, "payment_run", params,
                      title=f"{county.name} {month_label(month)} {_l('发放名册')}")


# --- checking, approving ------------------------------------------------------------------------------------

def check_town(session: Session, actor: User, run: PaymentRun, *, note: str = "") -> PaymentTownCheck:
    """乡镇核对: a town reviewer confirms the town's part of the run."""
    run = get_run(session, actor, run.id)
    if actor.role != Role.town_reviewer or actor.region.level != Level.town:
        raise Forbidden(_l("只有乡镇（街道）审核人员可以核对本乡镇的发放名册。"))
    _require_unlocked(run)
    check = session.scalar(select(PaymentTownCheck).where(PaymentTownCheck.run_id == run.id,
                                                          PaymentTownCheck.town_id == actor.region_id))
    if check is None:
        raise Conflict(_l("本乡镇在该月发放名册中没有发放对象，无需核对。"))
    if check.checked_at is not None:
        raise Conflict(_l("本乡镇已核对过该月发放名册。"))
    check.checked_by_id, check.checked_by_name, check.checked_at = actor.id, actor.display_name, clock.now()
    check.note = (note or "").strip()[:500]
    session.flush()
    if not session.scalar(select(func.count(PaymentTownCheck.id)).where(
            PaymentTownCheck.run_id == run.id, PaymentTownCheck.checked_at.is_(None))):
        run.status = RunStatus.checked
    audit.record(session, actor, "payment_town_checked", "payment_run", run.id, region_id=actor.region_id,
                 details={"month": month_label(run.month), "note": check.note})
    return check


def approve(session: Session, actor: User, run: PaymentRun) -> PaymentRun:
    """县级审批: from now on the run is locked."""
    run = get_run(session, actor, run.id)
    _require_county(actor, run.county)
    if actor.role != Role.county_approver:
        raise Forbidden(_l("只有县民政局审批人员可以审批发放名册。"))
    _require_unlocked(run)
    if run.status != RunStatus.checked:
        raise Conflict(_l("还有乡镇没有核对本月发放名册，不能审批。"))
    run.status, run.approved_by_id, run.approved_by_name, run.approved_at = (
        RunStatus.approved, actor.id, actor.display_name, clock.now())
    session.flush()
    audit.record(session, actor, "payment_run_approved", "payment_run", run.id, region_id=run.county_id,
                 details={"month": month_label(run.month), "households": run.households, "total": str(run.total)})
    return run


def refuse_line_edit(session: Session, actor: User, line: PaymentLine, **_changes) -> None:
    """Lines are never edited by hand: before approval the run is regenerated, after it the correction goes
    into the next run. The refusal of an edit of a locked run is audited."""
    run = get_run(session, actor, line.run_id)
    if run.locked:
        audit.record(session, actor, "payment_edit_refused", "payment_run", run.id, region_id=run.county_id,
                     details={"line": line.id})
    raise Conflict(LOCKED if run.locked else _l("发放名册不能逐行修改；请更正家庭信息后重新生成。"))


# --- reading ------------------------------------------------------------------------------------------------

def runs(session: Session, actor: User) -> list[PaymentRun]:
    county = scope.county_of(actor.region)
    return list(session.scalars(select(PaymentRun).where(PaymentRun.county_id == county.id)
                                .order_by(PaymentRun.month.desc())))


def line_conditions(actor: User | None, run: PaymentRun, *, region_id: int | None = None,
                    status: LineStatus | None = None) -> list:
    """The lines of ``run`` a page (or its export) lists: the actor's part, a community, a status."""
    conditions = [PaymentLine.run_id == run.id, _lines_in_scope(actor)]
    if region_id:
        conditions.append(PaymentLine.region_id == region_id)
    if status:
        conditions.append(PaymentLine.status == status)
    return conditions


def lines(session: Session, actor: User, run: PaymentRun, *, region_id: int | None = None,
          status: LineStatus | None = None, limit: int | None = 500) -> list[PaymentLine]:
    run = get_run(session, actor, run.id)
    stmt = (select(PaymentLine).where(*line_conditions(actor, run, region_id=region_id, status=status))
            .order_by(PaymentLine.region_id, PaymentLine.id))
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def masked_accounts(session: Session, case_ids: list[int]) -> dict[int, str]:
    return {a.case_id: mask_account(a.number) for a in session.scalars(
        select(PaymentAccount).where(PaymentAccount.case_id.in_(case_ids)))}


@dataclass
class Total:
    key: int | str
    name: str
    households: int
    persons: int
    total: Decimal


def totals(session: Session, actor: User | None, run: PaymentRun, by: str) -> list[Total]:
    """Totals of the lines in the actor's scope by ``town``, ``community`` or ``category``."""
    if by == "category":
        stmt = (select(PaymentLine.category, *_counted())
                .where(PaymentLine.run_id == run.id, _lines_in_scope(actor))
                .group_by(PaymentLine.category).order_by(PaymentLine.category))
        return [Total(k, str(_l("%(n)s类", n=k)), n, p or 0, Decimal(t)) for k, n, p, t in session.execute(stmt)]
    column = PaymentLine.town_id if by == "town" else PaymentLine.region_id
    stmt = (select(Region.id, Region.name, *_counted())
            .join(Region, Region.id == column)
            .where(PaymentLine.run_id == run.id, _lines_in_scope(actor))
            .group_by(Region.id, Region.name, Region.code).order_by(Region.code))
    return [Total(k, name, n, p or 0, Decimal(t)) for k, name, n, p, t in session.execute(stmt)]


@dataclass
class Share:
    """The part of a run in a user's own town or community, shown beside the county's whole: a town's reviewer
    checks their town's part, and a community clerk asked "how many of ours are paid this month" must not read
    the county's figures as their own."""
    region: Region
    households: int
    persons: int
    total: Decimal
    paid: int
    failed: int
    pending: int


def shares(session: Session, actor: User, runs: list[PaymentRun]) -> dict[int, Share]:
    """Run id → the actor's part of it, for a user below the county; {} for the county's own users, whose part
    is the whole run. A run with no line in the actor's region has a part of nothing."""
    if not runs or actor.region.parent is None:
        return {}
    statuses = (LineStatus.paid, LineStatus.failed, LineStatus.pending)
    counted = {run_id: figures for run_id, *figures in session.execute(  # one pass over the actor's lines
        select(PaymentLine.run_id, *_counted(),
               *(func.count(case((PaymentLine.status == status, PaymentLine.id))) for status in statuses))
        .where(PaymentLine.run_id.in_([run.id for run in runs]), _lines_in_scope(actor))
        .group_by(PaymentLine.run_id))}
    parts = {}
    for run in runs:
        households, persons, total, paid, failed, pending = counted.get(run.id, (0, 0, 0, 0, 0, 0))
        parts[run.id] = Share(actor.region, households, persons or 0, entitlement.summed_money(total),
                              paid=paid, failed=failed, pending=pending)
    return parts


def town_checks(session: Session, run: PaymentRun, actor: User | None = None) -> list:
    """Each town's check of the run. A supervision group's member (residents of one community,
    ``scope.watches_payments_only``) reads its own town's state alone, without the note: the town staff's free
    text may name households of other communities."""
    checks = list(session.scalars(select(PaymentTownCheck).where(PaymentTownCheck.run_id == run.id)
                                  .order_by(PaymentTownCheck.town_id)))
    if actor is None or not scope.watches_payments_only(actor):
        return checks
    return [SimpleNamespace(town_id=c.town_id, town=c.town, checked_at=c.checked_at,
                            checked_by_name=c.checked_by_name, note=None)
            for c in checks if c.town_id == actor.region.parent_id]


# --- reconciliation (对账) -----------------------------------------------------------------------------------

@dataclass
class Reconciliation:
    lines: int
    paid: int
    failed: int
    pending: int
    total: Decimal
    in_force: Decimal  # the sum of the amounts in force of the households on regular lines
    amounts: Decimal  # the sum of the lines' own amounts
    arrears: Decimal
    carried: Decimal
    region: Region | None = None  # a town's or community's part; None for the whole run

    @property
    def counts_match(self) -> bool:
        return self.paid + self.failed + self.pending == self.lines

    @property
    def sums_match(self) -> bool:
        return self.amounts == self.in_force and self.total == self.amounts + self.arrears + self.carried

    @property
    def ok(self) -> bool:
        return self.counts_match and self.sums_match


def reconcile(session: Session, run: PaymentRun, region: Region | None = None) -> Reconciliation:
    """The sum of the run equals the sum of the amounts in force (+ arrears + carried); paid + failed + pending
    equals the number of lines. With ``region`` (a town or community of the run's county), the same checks on
    that region's part alone: a town reviewer confirms their town's part, so it is their part that must add up,
    and a town whose part is off sees it even when another town's error happens to cancel it out county-wide."""
    if region is not None and (region.parent is None or region.id == run.county_id):
        region = None
    where = (PaymentLine.run_id == run.id,) + ((_lines_in(region),) if region is not None else ())
    counts = dict(session.execute(select(PaymentLine.status, func.count(PaymentLine.id))
                                  .where(*where).group_by(PaymentLine.status)).all())
    regular = and_(*where, PaymentLine.carried_from_id.is_(None))
    amounts, arrears = session.execute(select(func.coalesce(func.sum(PaymentLine.amount), 0),
                                              func.coalesce(func.sum(PaymentLine.arrears), 0)).where(regular)).one()
    carried = session.scalar(select(func.coalesce(func.sum(PaymentLine.total), 0)).where(
        *where, PaymentLine.carried_from_id.is_not(None)))
    # what is due this month as the amount periods stand now, by the select the lines were written from (a change
    # reaching back since then shows here, and is paid as arrears by the next run)
    due = due_rows(region or run.county, run.month, run.id).subquery()
    in_force = session.scalar(select(func.coalesce(func.sum(due.c.amount), 0)))
    total = session.scalar(select(func.coalesce(func.sum(PaymentLine.total), 0)).where(*where))
    q = Decimal("0.01")
    n = {s: counts.get(s, 0) for s in LineStatus}
    return Reconciliation(lines=sum(counts.values()), paid=n[LineStatus.paid], failed=n[LineStatus.failed],
                          pending=n[LineStatus.pending], total=Decimal(total).quantize(q),
                          in_force=Decimal(in_force).quantize(q), amounts=Decimal(amounts).quantize(q),
                          arrears=Decimal(arrears).quantize(q), carried=Decimal(carried).quantize(q),
                          region=region)


def current_state(session: Session, actor: User) -> tuple[date, PaymentRun | None, object]:
    """The dashboard panel: this month's run of the actor's county and its state's label."""
    month = entitlement.month_start(clock.today())
    county = scope.county_of(actor.region)
    run = session.scalar(select(PaymentRun).where(PaymentRun.county_id == county.id, PaymentRun.month == month))
    return month, run, STATUS_LABELS[run.status if run else None]


# --- supervision (群众监督) -----------------------------------------------------------------------------------

def ask(session: Session, actor: User, run: PaymentRun, text: str) -> FundsQuestion:
    """A supervision group records a question on its community's lines of the month."""
    run = get_run(session, actor, run.id)
    if actor.role != Role.supervisor:
        raise Forbidden(_l("只有群众监督组可以提出监督问题。"))
    text = (text or "").strip()
    if len(text) < 4:
        raise Invalid(_l("请写明问题（至少 4 个字）。"), field="text")
    question = FundsQuestion(run_id=run.id, region_id=actor.region_id, text=text[:2000], asked_by_id=actor.id,
                             asked_by_name=actor.display_name, asked_at=clock.now())
    session.add(question)
    session.flush()
    audit.record(session, actor, "funds_question_asked", "funds_question", question.id, region_id=actor.region_id,
                 details={"run": run.id, "month": month_label(run.month)})
    return question


def get_question(session: Session, actor: User, question_id: int) -> FundsQuestion:
    question = db.get_record(session, FundsQuestion, question_id)
    if question is None or not question.region.path.startswith(actor.region.path):
        raise NotFound(_l("没有找到该问题。"))
    return question


def answer(session: Session, actor: User, question: FundsQuestion, text: str) -> FundsQuestion:
    """The community's staff answer the supervision group's question."""
    question = get_question(session, actor, question.id)
    if actor.role != Role.community_staff:
        raise Forbidden(_l("只有本社区低保专干可以答复监督问题。"))
    if question.answered_at is not None:
        raise Conflict(_l("该问题已经答复。"))
    text = (text or "").strip()
    if len(text) < 4:
        raise Invalid(_l("请写明答复（至少 4 个字）。"), field="text")
    question.answer, question.answered_by_name, question.answered_at = text[:2000], actor.display_name, clock.now()
    session.flush()
    audit.record(session, actor, "funds_question_answered", "funds_question", question.id,
                 region_id=question.region_id, details={"run": question.run_id})
    return question


def questions(session: Session, actor: User, run: PaymentRun) -> list[FundsQuestion]:
    return list(session.scalars(select(FundsQuestion).join(Region, Region.id == FundsQuestion.region_id).where(
        FundsQuestion.run_id == run.id, Region.path.startswith(actor.region.path, autoescape=True))
        .order_by(FundsQuestion.id)))


# --- bank files (银行代发文件 and 回盘) ------------------------------------------------------------------------

BANK_COLUMNS = {
    "line": _l("流水号"),
    "case": _l("案卷号"),
    "town": _l("乡镇（街道）"),
    "community": _l("社区（村）"),
    "holder": _l("户名"),
    "account": _l("账号"),
    "bank": _l("开户银行"),
    "kind": _l("账户类型"),
    "category": _l("分类"),
    "persons": _l("人数"),
    "amount": _l("金额（元）"),
    "month": _l("发放月份"),
}
DEFAULT_LAYOUT = ("line", "holder", "account", "bank", "amount", "community")
REQUIRED_COLUMNS = ("line", "account", "amount")  # what a return file is matched on
RESULT_HEADER, REASON_HEADER = _l("发放结果"), _l("失败原因")
PAID_WORDS = {"成功", "已发放", "paid", "ok", "success"}
FAILED_WORDS = {"失败", "未发放", "failed", "fail"}
ACCOUNT_KIND_LABELS = {"bank_card": _l("银行卡"), "social_security_card": _l("社会保障卡"), "benefit_card": _l("一卡通")}


def layout(session: Session, county: Region) -> list[str]:
    row = session.scalar(select(BankLayout).where(BankLayout.county_id == county.id))
    return row.columns.split(",") if row else list(DEFAULT_LAYOUT)


def set_layout(session: Session, actor: User, county: Region, columns: str | list[str]) -> BankLayout:
    """A county's bank asks for its own columns: any of BANK_COLUMNS, in its order; the line number, the account
    and the amount are always needed (the return file is matched on them)."""
    _require_county(actor, county)
    keys = [c.strip() for c in (columns.split(",") if isinstance(columns, str) else columns) if c.strip()]
    unknown = [k for k in keys if k not in BANK_COLUMNS]
    if unknown:
        raise Invalid(_l("没有这些列：%(cols)s。可用的列：%(all)s。", cols="、".join(unknown),
                         all=", ".join(BANK_COLUMNS)), field="columns")
    missing = [k for k in REQUIRED_COLUMNS if k not in keys]
    if missing or len(set(keys)) != len(keys):
        raise Invalid(_l("银行文件必须包含流水号、账号和金额三列，且每列只出现一次。"), field="columns")
    row = session.scalar(select(BankLayout).where(BankLayout.county_id == county.id)) or BankLayout(county_id=county.id)
    row.columns, row.updated_by_name, row.updated_at = ",".join(keys), actor.display_name, clock.now()
    session.add(row)
    session.flush()
    audit.record(session, actor, "bank_layout_set", "bank_layout", row.id, region_id=county.id,
                 details={"columns": keys})
    return row


def _bank_rows(session: Session, run: PaymentRun, keys: list[str]):
    town, community = aliased(Region), aliased(Region)
    stmt = (select(PaymentLine, Case.number, Case.head_name, town.name, community.name, PaymentAccount)
            .join(Case, Case.id == PaymentLine.case_id)
            .join(town, town.id == PaymentLine.town_id).join(community, community.id == PaymentLine.region_id)
            .outerjoin(PaymentAccount, PaymentAccount.case_id == PaymentLine.case_id)
            .where(PaymentLine.run_id == run.id).order_by(PaymentLine.id)
            .execution_options(yield_per=1000))
    month = month_label(run.month)
    for line, number, head, town_name, community_name, account in session.execute(stmt):
        holder = account.holder_name if account else head
        # A name stored before names were cleaned (张　三, 李\u202e四) would not match the bank's record of it.
        holder = normalise_name(holder) or holder
        values = {"line": line.id, "case": number, "town": town_name, "community": community_name,
                  "holder": holder, "account": account.number if account else "",
                  "bank": account.bank_name if account else "", "category": line.category, "persons": line.persons,
                  "kind": str(ACCOUNT_KIND_LABELS.get(account.kind.value, "")) if account else "",
                  "amount": float(line.total), "month": month}
        yield [values[k] for k in keys]


def export_bank_file(session: Session, actor: User | None, run: PaymentRun) -> bytes:
    """The run in the bank's layout (xlsx). Only an approved run leaves the county; it is then "sent". Account
    numbers appear here in full (the bank needs them) and nowhere else but the staff's own screens."""
    import xlsxwriter

    run = get_run(session, actor, run.id)
    _require_county(actor, run.county)
    if not run.locked:
        raise Conflict(_l("发放名册审批后才能导出银行文件。"))
    if run.status == RunStatus.returned:
        raise Conflict(_l("银行已回盘，不能再导出。"))
    keys = layout(session, run.county)
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    ws = book.add_worksheet(month_label(run.month))
    text, money = book.add_format({"num_format": "@"}), book.add_format({"num_format": "0.00"})
    ws.write_row(0, 0, [str(BANK_COLUMNS["month"]), month_label(run.month), str(_l("县（区）")), run.county.code,
                        str(_l("户数")), run.households, str(_l("合计（元）")), float(run.total)])
    for i, key in enumerate(keys):
        ws.set_column(i, i, 22 if key in ("account", "bank", "community", "case") else 12,
                      money if key == "amount" else text if key in ("account", "case") else None)
    ws.write_row(1, 0, [str(BANK_COLUMNS[k]) for k in keys] + [str(RESULT_HEADER), str(REASON_HEADER)])
    for n, row in enumerate(_bank_rows(session, run, keys), start=2):
        ws.write_row(n, 0, row)
    book.close()
    if run.status == RunStatus.approved:
        run.status, run.sent_at = RunStatus.sent, clock.now()
    audit.record(session, actor, "payment_bank_file_exported", "payment_run", run.id, region_id=run.county_id,
                 details={"month": month_label(run.month), "lines": run.households, "total": str(run.total),
                          "columns": keys})
    return out.getvalue()


RETURN_MAX_ROWS = 200_000  # lines of one run: a county of 200,000 households, several times the largest county's
RETURN_MAX_COLUMNS = 40  # the bank layout's 12 columns, the bank's result and reason, and the bank's own additions
RETURN_PROBLEMS_SHOWN = 200  # the first problems listed; the rest are counted
RETURN_CELL_SHOWN = 40  # characters of a cell echoed in a problem


class ReturnProblems(list):
    """The problems of a return file: the first RETURN_PROBLEMS_SHOWN of them; ``total`` counts them all."""

    total = 0

    def add(self, message: str) -> None:
        self.total += 1
        if len(self) < RETURN_PROBLEMS_SHOWN:
            self.append(message)

    def listed(self) -> ReturnProblems:
        """The list as shown: with a last line counting those left out."""
        if self.total > len(self):
            self.append(str(_l("还有 %(n)d 处问题未列出。", n=self.total - len(self))))
        return self


class ReturnRefused(Invalid):
    """The bank's return file does not match the run: nothing was changed; ``problems`` lists why."""

    def __init__(self, problems: list[str]):
        total = getattr(problems, "total", len(problems))
        super().__init__(_l("回盘文件与发放名册不符（%(n)d 处），未做任何更改。", n=total), field="file")
        self.problems = problems


def _shown(text: str) -> str:
    """A cell of the bank's file as a problem echoes it: its first RETURN_CELL_SHOWN characters."""
    return text if len(text) <= RETURN_CELL_SHOWN else text[:RETURN_CELL_SHOWN] + "…"


@dataclass
class ReturnRow:
    line_id: int
    paid: bool
    reason: str


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def check_return(session: Session, actor: User | None, run: PaymentRun, data: bytes) -> tuple[list[ReturnRow], list[str]]:
    """Read the bank's return file and match it against the run: (rows, problems). Problems: a file that is not
    the bank's sheet, another month, unknown lines or accounts, amounts or totals that differ, lines missing."""
    from python_calamine import CalamineError, CalamineWorkbook

    run = get_run(session, actor, run.id)
    _require_county(actor, run.county)
    problems = ReturnProblems()
    try:  # before calamine: a sheet too large aborts the process (dibao.sheets)
        sheets.check_xlsx(data, max_rows=RETURN_MAX_ROWS + 2, max_columns=RETURN_MAX_COLUMNS)
    except sheets.Unreadable:
        return [], [str(_l("无法读取该文件，请上传银行返回的 Excel（.xlsx）回盘文件。"))]
    except Invalid as err:  # too large
        return [], [str(err.message)]
    try:
        rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    except (CalamineError, ValueError, TypeError, OSError, IndexError, Exception):  # noqa: B014 (any unreadable file)
        return [], [str(_l("无法读取该文件，请上传银行返回的 Excel（.xlsx）回盘文件。"))]
    if len(rows) < 2:
        return [], [str(_l("文件中没有数据。"))]
    head = [_cell(v) for v in rows[0]]
    file_month = head[1] if len(head) > 1 else ""
    if file_month != month_label(run.month):
        problems.add(str(_l("文件的发放月份为“%(got)s”，本名册为 %(want)s。", got=_shown(file_month) or "?",
                            want=month_label(run.month))))
    headers = [_cell(v) for v in rows[1]]
    wanted = {"line": str(BANK_COLUMNS["line"]), "account": str(BANK_COLUMNS["account"]),
              "amount": str(BANK_COLUMNS["amount"]), "result": str(RESULT_HEADER), "reason": str(REASON_HEADER)}
    cols = {k: headers.index(h) for k, h in wanted.items() if h in headers}
    missing = [wanted[k] for k in wanted if k not in cols and k != "reason"]
    if missing:
        problems.add(str(_l("文件缺少这些列：%(cols)s。", cols="、".join(missing))))
        return [], problems.listed()
    lines_by_id = {line.id: line for line in session.scalars(select(PaymentLine).where(PaymentLine.run_id == run.id))}
    accounts = {a.case_id: a.number_hash for a in session.scalars(
        select(PaymentAccount).where(PaymentAccount.case_id.in_({line.case_id for line in lines_by_id.values()})))}
    seen: set[int] = set()
    parsed: list[ReturnRow] = []
    file_total = ZERO

    def get(row, key):
        i = cols.get(key)
        return _cell(row[i]) if i is not None and i < len(row) else ""

    for n, row in enumerate(rows[2:], start=3):
        if not any(_cell(v) for v in row):
            continue
        where = str(_l("第 %(n)d 行", n=n))
        try:
            line_id = int(get(row, "line"))
        except ValueError:
            problems.add(f"{where}：{_l('流水号不对')}（{_shown(get(row, 'line')) or '?'}）")
            continue
        line = lines_by_id.get(line_id)
        if line is None:
            problems.add(f"{where}：{_l('流水号 %(id)s 不在本名册中', id=_shown(str(line_id)))}")
            continue
        if line_id in seen:
            problems.add(f"{where}：{_l('流水号 %(id)s 重复', id=line_id)}")
            continue
        seen.add(line_id)
        account = get(row, "account").replace(" ", "")
        if (blind_index(account) if account else None) != accounts.get(line.case_id):
            problems.add(f"{where}：{_l('账号与名册不符（未知账号）')}")
        try:
            amount = Decimal(get(row, "amount") or "x").quantize(Decimal("0.01"))
        except InvalidOperation:
            problems.add(f"{where}：{_l('金额不对')}")
            continue
        file_total += amount
        if amount != line.total:
            problems.add(f"{where}：{_l('金额 %(got)s 与名册的 %(want)s 不符', got=amount, want=line.total)}")
        result = get(row, "result").lower()
        if result in PAID_WORDS:
            parsed.append(ReturnRow(line_id, True, ""))
        elif result in FAILED_WORDS:
            parsed.append(ReturnRow(line_id, False, get(row, "reason")[:200] or str(_l("银行未注明原因"))))
        else:
            problems.add(f"{where}：{_l('发放结果应为“成功”或“失败”')}（{_shown(result) or _l('空')}）")
    absent = [i for i in lines_by_id if i not in seen]
    if absent:
        problems.add(str(_l("名册中有 %(n)d 行不在文件中（流水号 %(ids)s）。", n=len(absent),
                               ids="、".join(str(i) for i in absent[:20]) + ("…" if len(absent) > 20 else ""))))
    if file_total != run.total:
        problems.add(str(_l("文件金额合计 %(got)s 元，与名册合计 %(want)s 元不符。", got=file_total, want=run.total)))
    return parsed, problems.listed()


def import_return(session: Session, actor: User | None, run: PaymentRun, data: bytes) -> dict:
    """The bank's answer: each line paid, or failed with the bank's reason (it is carried into the next run).
    A file that does not match is refused whole (ReturnRefused with the list) and nothing changes."""
    run = get_run(session, actor, run.id)
    _require_county(actor, run.county)
    if run.status != RunStatus.sent:
        raise Conflict(_l("只有已导出银行文件、尚未回盘的名册可以导入回盘文件。"))
    parsed, problems = check_return(session, actor, run, data)
    if problems:
        raise ReturnRefused(problems)
    paid = [r.line_id for r in parsed if r.paid]
    if paid:
        session.execute(update(PaymentLine).where(PaymentLine.id.in_(paid)).values(status=LineStatus.paid,
                                                                                   bank_reason=None))
    failed = [r for r in parsed if not r.paid]
    if failed:
        session.execute(update(PaymentLine), [{"id": r.line_id, "status": LineStatus.failed, "bank_reason": r.reason}
                                              for r in failed])
    run.status, run.returned_at = RunStatus.returned, clock.now()
    session.flush()
    result = {"paid": len(paid), "failed": len(failed)}
    audit.record(session, actor, "payment_return_imported", "payment_run", run.id, region_id=run.county_id,
                 details={"month": month_label(run.month), **result})
    return result


# --- public supervision of funds (/funds/, the kiosk, /api/v1/funds) -----------------------------------------

@dataclass
class FundsTable:
    """What the public sees of a month's payments: per sub-region of ``region`` (the counties; a county's towns;
    a town's communities; a community alone), households, persons and the total paid (lines the bank confirmed)
    — no per-person data. Suppressed together with the public statistics (:func:`dibao.stats.public_tables`):
    cells of 1 or 2 households, the complements a total would give them away through, and a total hidden one
    level up — the same cells and totals in the funds' table as in the statistics' of the same region and month."""

    region: Region | None
    month: date | None
    months: list[date]  # the months with paid lines, newest first
    regions: list[Region]  # the rows
    cells: dict[int, object]  # row region id → dibao.stats.PublicCell
    total: object  # dibao.stats.PublicCell

    def withheld(self, persons: bool, money: bool) -> FundsTable:
        """The table as a channel may publish it (``disclosure.totals_shown``: persons and money only where the
        county shows each household's size and amount)."""
        return replace(self, cells={rid: c.withheld(persons, money) for rid, c in self.cells.items()},
                       total=self.total.withheld(persons, money))


def _paid_rows(session: Session, region: Region | None, months: list[date] | None = None):
    """(community id, community path, month, stats.Cell) over the paid lines: a household counted once a month."""
    from dibao import stats

    per_case = (select(PaymentLine.region_id.label("region_id"), PaymentRun.month.label("month"),
                       PaymentLine.case_id, func.max(PaymentLine.persons).label("persons"),
                       func.sum(PaymentLine.total).label("paid"))
                .join(PaymentRun, PaymentRun.id == PaymentLine.run_id)
                .where(PaymentLine.status == LineStatus.paid)
                .group_by(PaymentLine.region_id, PaymentRun.month, PaymentLine.case_id))
    if region is not None:
        per_case = per_case.where(PaymentLine.region_id.in_(
            select(Region.id).where(Region.path.startswith(region.path, autoescape=True))))
    if months is not None:
        per_case = per_case.where(PaymentRun.month.in_(months))
    sub = per_case.subquery()
    rows = session.execute(
        select(sub.c.region_id, Region.path, sub.c.month, func.count(sub.c.case_id), func.sum(sub.c.persons),
               func.sum(sub.c.paid))
        .join(Region, Region.id == sub.c.region_id).group_by(sub.c.region_id, Region.path, sub.c.month))
    return [(rid, path, stats.as_date(m), stats.Cell(n, int(p or 0), entitlement.summed_money(t)))
            for rid, path, m, n, p, t in rows]


def paid_grid(session: Session, root: Region | None, month: date, n: int = 12):
    """:func:`_paid_rows` of the ``n`` months up to ``month`` as the rows of ``root``'s table (every county's
    without one), with what each row's own table tells of it in the funds alone (``dibao.stats.Grid``); the
    public tables take it with the statistics' (:func:`public_grids`), which ``portal.stats`` keeps in the public
    cache under the county's version (every payment change bumps every county's, ``dibao.cache``)."""
    from dibao import stats

    months = stats.month_list(month, n)
    rows = _paid_rows(session, root, months)
    return stats.grid_of_figures(session, root, months, ((path, m, cell) for _rid, path, m, cell in rows))


def paid_county_totals(session: Session, month: date, n: int = 12) -> dict:
    """Every county's paid monthly totals and ``dibao.stats.RowFacts`` (``dibao.stats.Totals``), from one reading."""
    from dibao import stats

    return stats.totals_of_counties(paid_grid(session, None, month, n), stats.month_list(month, n))


STATISTICS, FUNDS = 0, 1  # the tables of dibao.stats.public_tables with public_figures' sets


def public_grids(session: Session, root: Region, month: date, n: int = 12) -> list:
    """The ``dibao.stats.Grid`` of ``root``'s table in the statistics (``STATISTICS``: ``stats.public_grid``)
    and in the funds (``FUNDS``: :func:`paid_grid`), each row's ``stats.RowFacts`` read jointly from both
    (``stats.joint_grids``): a row whose own joint table cannot keep its cells from being pinned beside its
    total — where neither table alone would be (3 and 3 in force, 3 and 2 paid: the funds hide both, the
    statistics' total of 6 then says each is 3) — is hidden one level up. Plain data, which ``portal.stats``
    keeps in the public cache under the county's version."""
    from dibao import stats

    return stats.joint_grids([stats.public_grid(session, root, month, n), paid_grid(session, root, month, n)],
                             stats.month_list(month, n))


def public_county_totals(session: Session, month: date, n: int = 12) -> list:
    """Every county's ``dibao.stats.Totals`` in the statistics and in the funds (as :func:`public_grids`), each
    county's ``RowFacts`` read jointly, from one reading of each."""
    from dibao import stats

    return stats.joint_totals([stats.county_totals(session, month, n), paid_county_totals(session, month, n)],
                              stats.month_list(month, n))


def public_figures(session: Session, month: date, n: int) -> list:
    """What every public table of the ``n`` months up to ``month`` is suppressed with, as
    ``dibao.stats.public_tables`` takes it: the statistics' figures (amounts in force, ``STATISTICS``) and the
    funds' (the paid lines, ``FUNDS``), both counted (:func:`public_grids`, :func:`public_county_totals`, each
    once per root). The two tables hide the same cells and totals: the paid figures are mostly the figures in
    force, so a cell hidden in one and shown in the other would be read off the other and undo the first's
    suppression (a complement the funds hide for a small paid cell, a cell small only in the funds — 3 in
    force, 2 paid). ``portal.stats`` passes the same from its cache."""
    return figure_sets(lambda root: public_grids(session, root, month, n),
                       lambda counties: per_county(public_county_totals(session, month, n), counties))


def per_county(every: list[dict], counties: list[Region]) -> dict:
    """County id → its ``dibao.stats.Totals`` in each set, from each set's every-county totals."""
    from dibao import stats

    return {county.id: [per_set.get(county.id, stats.Totals()) for per_set in every] for county in counties}


def figure_sets(grids_of: Callable[[Region], list], totals_of: Callable[[list[Region]], dict]) -> list:
    """``dibao.stats.public_tables``' ``figure_sets`` from readings of both sets at once: ``grids_of(root)``
    (the two grids, :func:`public_grids`) and ``totals_of(counties)`` (county id → the two ``Totals``), each
    read once per root, or list of counties, in a request — counted (:func:`public_figures`) or from the public
    cache (``portal.stats``)."""
    grids: dict = {}
    totals: dict = {}

    def grids_at(root: Region) -> list:
        if root.id not in grids:
            grids[root.id] = grids_of(root)
        return grids[root.id]

    def totals_at(counties: list[Region]) -> dict:
        key = tuple(county.id for county in counties)
        if key not in totals:
            totals[key] = totals_of(counties)
        return totals[key]

    return [(lambda root, k=k: grids_at(root)[k],
             lambda counties, k=k: {county_id: pair[k] for county_id, pair in totals_at(counties).items()})
            for k in (STATISTICS, FUNDS)]


def paid_months(session: Session, region: Region | None) -> list[date]:
    stmt = (select(PaymentRun.month).join(PaymentLine, PaymentLine.run_id == PaymentRun.id)
            .where(PaymentLine.status == LineStatus.paid).distinct().order_by(PaymentRun.month.desc()))
    if region is not None:
        stmt = stmt.where(PaymentRun.county_id == scope.county_of(region).id)
    return list(session.scalars(stmt))


def public_funds(session: Session, region: Region | None, month: date | None = None, *,
                 figures=None) -> FundsTable:
    """/funds/ and /api/v1/funds: ``month`` (default: the latest with paid lines) per sub-region of ``region``.

    Suppressed together with the public statistics of that region and month (``dibao.stats.public_tables``):
    a cell of 1 or 2 households; while the hidden cells beside a published total could be told exactly, the
    next smallest too; a region hidden in its parent's table keeps its total (and enough of its rows) hidden on
    its own page; and whatever either table hides, both hide. ``figures(month, n)``: the sets of figures
    (:func:`public_figures`; ``portal.stats`` passes its cache's); by default they are counted."""
    from dibao import stats

    months = paid_months(session, region)
    if month not in months:  # none asked, or a month nothing was paid in (to come, or before the first run)
        month = months[0] if months else None
    if month is None:  # nothing paid yet: every row 0
        rows = stats._display_regions(session, region)
        return FundsTable(region=region, month=None, months=months, regions=rows,
                          cells={r.id: stats.PublicCell(0, 0, ZERO) for r in rows}, total=stats.PublicCell(0, 0, ZERO))
    table = stats.public_tables(session, region, month, 1,
                                figure_sets=(figures or public_figures)(session, month, 1))[FUNDS]
    return FundsTable(region=region, month=month, months=months, regions=table.regions, cells=table.cells[month],
                      total=table.totals[month])


def funds_totals(session: Session, region: Region) -> list[dict]:
    """The kiosk's contract (dibao.kiosks.funds_totals): the community's paid monthly totals of the last 12 months
    with paid lines, newest first — only those its own /funds/ page publishes (the same joint suppression, month
    by month): a month of fewer than 3 households, or in which the community is hidden in its town's table (to
    protect a neighbour, in the funds or in the statistics), is left out."""
    from dibao import stats

    latest = paid_months(session, region)
    if not latest:
        return []
    table = stats.public_tables(session, region, latest[0], stats.MONTHS,
                                figure_sets=public_figures(session, latest[0], stats.MONTHS))[FUNDS]
    out = [{"month": m, "households": c.households, "persons": c.persons, "amount": c.money}
           for m in table.months if not (c := table.totals[m]).suppressed and c.households]
    return sorted(out, key=lambda row: row["month"], reverse=True)


# --- the command line: ``dibao payments run --month 2026-12 [--county CODE]`` ----------------------------------

import sys  # noqa: E402

import click  # noqa: E402
from flask.cli import with_appcontext  # noqa: E402


@click.group("payments", help="Monthly payment runs (发放名册).")
def payments_group() -> None:
    pass


@payments_group.command("run")
@click.option("--month", required=True, help="the month paid, e.g. 2026-12")
@click.option("--county", "code", default=None, help="the county's region code (default: every county)")
@with_appcontext
def run_command(month: str, code: str | None) -> None:
    """Generate (or regenerate, while not yet approved) the run of every county, or of one."""
    from dibao import db
    from dibao.errors import DomainError

    session = db.session()
    stmt = select(Region).where(Region.level == Level.county).order_by(Region.code)
    if code:
        stmt = stmt.where(Region.code == code)
    counties = list(session.scalars(stmt))
    if not counties:
        raise click.ClickException(f"no county {code}" if code else "no county")
    refused = []  # each county is its own transaction: one refused does not hold back the others
    for county in counties:
        try:
            with click.progressbar(length=GENERATE_STEPS, label=f"{county.code} {county.name}",
                                   file=sys.stderr) as bar:
                def step(done: int, total: int | None = None, message: str = "", bar=bar, code=county.code) -> None:
                    bar.label = f"{code} {message}"
                    bar.update(done - bar.pos)

                run = generate(session, None, county, month, step)
                session.commit()
                bar.update(GENERATE_STEPS - bar.pos)
        except DomainError as err:
            session.rollback()
            refused.append(f"{county.code}: {err.message}")
            continue
        click.echo(f"{county.code} {county.name} {month_label(run.month)}: {run.households} households, "
                   f"{run.persons} persons, {run.total} yuan")
    if refused:
        raise click.ClickException("\n".join(refused))
