"""Statistics (统计): households, persons and monthly money by region × category × month; new approvals,
rejections and exits with their reasons; objections and reports by outcome and answered on time; deadline
compliance per step — for staff within their scope, and the public counts per region and month with small
cells suppressed.

The monthly figures are read from the amount in force (dibao.entitlement.in_force): a household counts in a month
when it is paid something that month, with the amount it is paid. Persons and category are the household's
present ones (the history of members is not kept month by month).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, and_, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from dibao import cases, clock, entitlement, feedback, scope, workdays, workflow
from dibao.models import (
    AmountPeriod,
    Case,
    Decision,
    FeedbackStatus,
    Level,
    Member,
    Objection,
    Opinion,
    Outcome,
    Region,
    Report,
    Stage,
    User,
)

SMALL = 3  # fewer households than this in a public cell are shown as "<3"
MONTHS = 12
ZERO = Decimal("0.00")


@dataclass
class Cell:
    households: int = 0
    persons: int = 0
    money: Decimal = ZERO

    def add(self, other: Cell) -> None:
        self.households += other.households
        self.persons += other.persons
        self.money += other.money


def month_list(last: date, n: int = MONTHS) -> list[date]:
    """The first days of the ``n`` months ending with ``last``'s month, oldest first."""
    months = [entitlement.month_start(last)]
    while len(months) < n:
        first = months[0]
        months.insert(0, date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1))
    return months


def parse_month(text: str | None, default: date) -> date:
    """"2026-03" → 2026-03-01; anything else → the default month (never an error: it is a view's filter)."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return date(year, month, 1)
    except ValueError:
        pass
    return entitlement.month_start(default)


def _display_regions(session: Session, root: Region | None) -> list[Region]:
    """The rows of a table: the children of ``root`` (towns of a county, communities of a town); a community
    is its own only row; without a root, the counties."""
    if root is None:
        return list(session.scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.code)))
    return list(root.children) or [root]


def _row_of(regions: list[Region]):
    """Which display region a community belongs to (by path prefix)."""
    paths = [(r.path, r.id) for r in regions]

    def find(path: str) -> int | None:
        for prefix, region_id in paths:
            if path.startswith(prefix):
                return region_id
        return None

    return find


def _paid_by_month(months: list[date], root: Region | None, region_ids: list[int] | None = None):
    """(month, community id, community path, category, households, persons, money) of the households paid in
    each of ``months``, in one statement: each amount period of a household in scope (under ``root``, and in
    ``region_ids`` when given) is counted in the months of its interval (``entitlement.in_force_intervals``, the
    same rule as ``entitlement.in_force``). One pass over the periods instead of one window over every household
    per month, and the region filter applies before the window.

    A month's figures depend on the periods starting in or before it, the households' present members, category
    and community — never on the clock, nor on which later months are asked with it (a later period only ends an
    interval after that month): so ``dibao.stats_summary`` can keep them month by month."""
    periods = (
        entitlement.in_force_intervals(months[-1])
        .add_columns(Case.category, Case.region_id, Region.path)
        .join(Case, Case.id == AmountPeriod.case_id)
        .join(Region, Case.region_id == Region.id)
    )
    # The members of the households in scope only (counting every member of a province took half the time).
    size = select(Member.case_id, func.count(Member.id).label("n")).group_by(Member.case_id)
    if root is not None or region_ids is not None:
        size = size.join(Case, Case.id == Member.case_id)
    if root is not None:
        periods = periods.where(scope.subtree_condition(root))
        size = size.join(Region, Case.region_id == Region.id).where(scope.subtree_condition(root))
    if region_ids is not None:
        periods = periods.where(Case.region_id.in_(region_ids))
        size = size.where(Case.region_id.in_(region_ids))
    periods, size = periods.subquery(), size.subquery()
    month_rows = union_all(*(select(literal(m, Date).label("m")) for m in months)).subquery()
    return (
        select(month_rows.c.m, periods.c.region_id, periods.c.path, periods.c.category, func.count(periods.c.case_id),
               func.coalesce(func.sum(size.c.n), 0), func.coalesce(func.sum(periods.c.amount), 0))
        .select_from(month_rows)
        .join(periods, and_(periods.c.starts_on <= month_rows.c.m,
                            or_(periods.c.until.is_(None), month_rows.c.m < periods.c.until)))
        .outerjoin(size, size.c.case_id == periods.c.case_id)
        .where(periods.c.amount > 0)
        .group_by(month_rows.c.m, periods.c.region_id, periods.c.path, periods.c.category)
    )


def as_date(value) -> date:
    """A month as the database hands it back (SQLite gives a literal date back as text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


@dataclass
class Overview:
    root: Region | None
    regions: list[Region]
    months: list[date]
    month: date
    grid: dict[tuple[int, date], Cell]  # (display region id, month) → cell
    by_category: dict[tuple[int, int], Cell]  # (display region id, category) → cell in ``month``
    categories: list[int] = field(default_factory=lambda: sorted(workflow.REVIEW_MONTHS))

    def cell(self, region_id: int, month: date) -> Cell:
        return self.grid.get((region_id, month), Cell())

    def total(self, month: date) -> Cell:
        out = Cell()
        for region in self.regions:
            out.add(self.cell(region.id, month))
        return out

    def category_total(self, category: int) -> Cell:
        out = Cell()
        for region in self.regions:
            out.add(self.by_category.get((region.id, category), Cell()))
        return out


def overview(session: Session, root: Region | None, month: date, n: int = MONTHS, *,
             summary: bool = True) -> Overview:
    """Households, persons and money paid per display region and month (``n`` months up to ``month``), and per
    category in ``month``. ``root`` None: every county (the public overview).

    The (community, month) pairs the summary holds come from it, the others are computed live
    (``dibao.stats_summary``); ``summary=False`` computes every pair live (what ``dibao stats verify`` and the
    tests compare with)."""
    from dibao import stats_summary

    regions = _display_regions(session, root)
    find = _row_of(regions)
    months = month_list(month, n)
    for attempt in range(3):
        grid: dict[tuple[int, date], Cell] = defaultdict(Cell)
        by_category: dict[tuple[int, int], Cell] = defaultdict(Cell)
        # Streamed (a server-side cursor on PostgreSQL): a province's months × communities × categories are
        # ~100,000 rows, which held at once raised a web worker's memory by ~30 MB (issue 13); summed as they come.
        rows = stats_summary.figures(session, root, months, regions) if summary and attempt < 2 else session.execute(
            _paid_by_month(months, root), execution_options={"yield_per": 2000})
        try:
            for m, _community, path, category, households, persons, money in rows:
                region_id = find(path)
                if region_id is None:
                    continue
                m = as_date(m)
                cell = Cell(int(households), int(persons), entitlement.summed_money(money))
                grid[(region_id, m)].add(cell)
                if m == months[-1]:
                    by_category[(region_id, category)].add(cell)
            break
        except stats_summary.Changed:  # the summary moved under the read: again (the third time all live)
            continue
    return Overview(root=root, regions=regions, months=months, month=months[-1], grid=dict(grid),
                    by_category=dict(by_category))


# --- flows: approvals, rejections, exits -----------------------------------------------------------------

@dataclass
class Flows:
    months: list[date]
    approved: Counter  # month → households approved
    rejected: dict[Level, Counter]  # level → month → households rejected at that level
    exited: Counter
    rejection_reasons: list[tuple[str, int]]
    exit_reasons: list[tuple[str, int]]


def _month_of(instant: datetime | None) -> date | None:
    return entitlement.month_start(clock.to_local(instant).date()) if instant else None


def flows(session: Session, user: User, months: list[date]) -> Flows:
    in_scope = Case.region_id.in_(scope.region_ids_in_scope(user))
    start = clock.local_midnight(months[0])
    approved: Counter = Counter()
    for (at,) in session.execute(select(Case.approved_at).where(in_scope, Case.approved_at >= start)):
        approved[_month_of(at)] += 1
    rejected: dict[Level, Counter] = {level: Counter() for level in Level}
    reasons: Counter = Counter()
    stmt = (select(Opinion.level, Opinion.created_at, Opinion.text).join(Case, Opinion.case_id == Case.id)
            .where(in_scope, Case.stage == Stage.rejected, Opinion.decision == Decision.reject,
                   Opinion.superseded.is_(False), Opinion.created_at >= start))
    for level, at, text in session.execute(stmt):
        rejected[level][_month_of(at)] += 1
        reasons[text.strip()[:60]] += 1
    exited: Counter = Counter()
    exit_reasons: Counter = Counter()
    for at, reason in session.execute(select(Case.stage_changed_at, Case.exit_reason).where(
            in_scope, Case.stage == Stage.exited, Case.stage_changed_at >= start)):
        exited[_month_of(at)] += 1
        exit_reasons[(reason or "").strip()[:60]] += 1
    return Flows(months=months, approved=approved, rejected=rejected, exited=exited,
                 rejection_reasons=reasons.most_common(10), exit_reasons=exit_reasons.most_common(10))


# --- objections and reports --------------------------------------------------------------------------------

@dataclass
class FeedbackFigures:
    outcomes: dict[str, Counter]  # kind → outcome (or "open") → count
    on_time: Counter  # kind → decided by the deadline
    late: Counter  # kind → decided after the deadline
    overdue: Counter  # kind → not decided and past the deadline


def feedback_figures(session: Session, user: User, since: date) -> FeedbackFigures:
    today = clock.today()
    start = clock.local_midnight(since)
    out = FeedbackFigures(outcomes={}, on_time=Counter(), late=Counter(), overdue=Counter())
    for kind, model in (("objection", Objection), ("report", Report)):
        counts: Counter = Counter()
        stmt = select(model.status, model.outcome, model.deadline, model.decided_at).where(
            model.region_id.in_(scope.region_ids_in_scope(user)), model.created_at >= start)
        for status, outcome, deadline, decided_at in session.execute(stmt):
            if status == FeedbackStatus.decided and outcome is not None:
                counts[outcome.value] += 1
                if clock.to_local(decided_at).date() <= deadline:
                    out.on_time[kind] += 1
                else:
                    out.late[kind] += 1
            else:
                counts["open"] += 1
                if deadline < today:
                    out.overdue[kind] += 1
        out.outcomes[kind] = counts
    return out


OUTCOME_ORDER = [Outcome.upheld.value, Outcome.partly_upheld.value, Outcome.not_upheld.value, "open"]


def outcome_label(kind: str, outcome: str) -> str:
    if outcome == "open":
        return str(_l("未办结"))
    labels = feedback.OUTCOME_LABELS if kind == "objection" else feedback.REPORT_OUTCOME_LABELS
    return str(labels[Outcome(outcome)])


# --- deadlines ---------------------------------------------------------------------------------------------

@dataclass
class StepFigures:
    key: str
    label: str
    on_time: int = 0
    late: int = 0
    open_overdue: int = 0
    open_in_time: int = 0

    @property
    def rate(self) -> int | None:
        done = self.on_time + self.late
        return round(self.on_time * 100 / done) if done else None


def deadline_figures(session: Session, user: User, since: date) -> list[StepFigures]:
    """Per step, for cases accepted since ``since``: met, missed, and still open (overdue or not)."""
    from dibao.models.records import HomeVisit

    in_scope = Case.region_id.in_(scope.region_ids_in_scope(user))
    rows = list(session.scalars(select(Case).where(in_scope, Case.accepted_at >= clock.local_midnight(since))))
    first_visit = dict(session.execute(
        select(HomeVisit.case_id, func.min(HomeVisit.visited_on)).join(Case, HomeVisit.case_id == Case.id)
        .where(in_scope).group_by(HomeVisit.case_id)).all())
    calendar = workdays.calendar(session, user.region)  # the county's working days
    steps = {"home_visit": StepFigures("home_visit", str(_l("入户调查（3 个工作日内）"))),
             "whole": StepFigures("whole", str(_l("全部办结（30 / 45 个工作日内）"))),
             "county": StepFigures("county", str(_l("县级审批（10 个工作日内，办理中）"))),
             "refusal": StepFigures("refusal", str(_l("书面告知不予批准的理由（3 个工作日内）")))}
    refused = cases.refusal_notices(session, [case.id for case in rows if case.stage == Stage.rejected])
    for case in rows:
        visit = first_visit.get(case.id)
        visits = [_Visit(visit)] if visit else []
        for deadline in cases.deadlines(case, visits, calendar, refusal_notices=refused):  # type: ignore[arg-type]
            step = steps[deadline.key]
            if deadline.done_on is None:
                if deadline.overdue:
                    step.open_overdue += 1
                else:
                    step.open_in_time += 1
            elif deadline.late:
                step.late += 1
            else:
                step.on_time += 1
    return list(steps.values())


@dataclass
class _Visit:
    visited_on: date


# --- the public figures: small cells suppressed ----------------------------------------------------------

@dataclass(frozen=True)
class PublicCell:
    households: int | None  # None: suppressed
    persons: int | None
    money: Decimal | None
    # Why a cell is not shown: "small" (1 or 2 households), or "complement" (hidden so that a total cannot give a
    # small neighbour away; it is not small itself, so it does not say "<3").
    reason: str | None = None

    @property
    def suppressed(self) -> bool:
        return self.households is None

    def display(self, what: str) -> str:
        if self.households is None:
            return f"<{SMALL}" if what == "households" and self.reason == "small" else "*" if what == "households" else "—"
        value = getattr(self, what)
        return f"{value:.2f}" if isinstance(value, Decimal) else str(value)


def suppress(cells: dict[int, Cell], *, total_hidden: bool = False) -> dict[int, PublicCell]:
    """A column of one month: a cell with 1 or 2 households is suppressed (households "<3", persons and money
    not shown) so no household can be singled out; when exactly one cell of the column is suppressed, the next
    smallest is too, or the total would give it away. With ``total_hidden`` (the column's total is not
    published) one suppressed cell is enough, but not none: the cells would add up to the hidden total."""
    small = {rid for rid, c in cells.items() if 0 < c.households < SMALL}
    complement = set()
    if len(small) == 1 and not total_hidden or not small and total_hidden:
        others = sorted((c.households, rid) for rid, c in cells.items() if rid not in small and c.households > 0)
        if others:
            complement.add(others[0][1])
    return {rid: PublicCell(None, None, None, "small") if rid in small
            else PublicCell(None, None, None, "complement") if rid in complement
            else PublicCell(c.households, c.persons, c.money) for rid, c in cells.items()}


@dataclass
class PublicTable:
    region: Region | None
    regions: list[Region]
    months: list[date]
    cells: dict[date, dict[int, PublicCell]]  # month → region id → cell
    totals: dict[date, PublicCell]

    def rows(self) -> Iterable[tuple[Region, list[PublicCell]]]:
        for region in self.regions:
            yield region, [self.cells[m][region.id] for m in self.months]


Grid = dict[tuple[int, date], Cell]  # (display region id, month) → cell: an overview's figures, plain data
Totals = dict[date, Cell]  # month → a region's total


def public_grid(session: Session, root: Region, month: date, n: int = MONTHS) -> Grid:
    """The figures behind a county's (or a town's) public table: plain data, so a cache may keep them
    (``portal.stats`` keeps them under the county's public version)."""
    return overview(session, root, month, n).grid


def totals_of_grid(grid: Grid, months: list[date]) -> Totals:
    """A region's monthly totals from its :func:`public_grid` (the sum of its rows)."""
    out = {m: Cell() for m in months}
    for (_row, m), cell in grid.items():
        if m in out:
            out[m].add(cell)
    return out


def county_totals(session: Session, month: date, n: int = MONTHS) -> dict[int, Totals]:
    """Every county's monthly totals, from one overview of every county (one pass over the amount periods:
    cheaper than one per county when many are asked at once)."""
    data = overview(session, None, month, n)
    return {county.id: {m: data.cell(county.id, m) for m in data.months} for county in data.regions}


def public_table(session: Session, region: Region | None, month: date, n: int = MONTHS, *,
                 grid_of: Callable[[Region], Grid] | None = None,
                 totals_of: Callable[[list[Region]], dict[int, Totals]] | None = None) -> PublicTable:
    """Per sub-region (towns of a county, or the counties) and month: what /stats/ and the API publish.

    A cache may pass how it gets the figures: ``grid_of(region)`` (:func:`public_grid` of a county or town) and
    ``totals_of(counties)`` (each county's :class:`Totals`, for the table of every county). By default they are
    computed."""
    regions = _display_regions(session, region)
    months = month_list(month, n)
    if region is not None:
        grid = grid_of(region) if grid_of else public_grid(session, region, month, n)
    else:
        totals = totals_of(regions) if totals_of else county_totals(session, month, n)
        grid = {(county.id, m): cell for county in regions for m, cell in totals.get(county.id, {}).items()}
    data = Overview(root=region, regions=regions, months=months, month=months[-1], grid=grid, by_category={})
    # A region's total is its row in the table one level up: hidden there, it stays hidden here, or a visitor
    # would subtract it from that table and find the cell it was hidden to protect.
    above = _hidden_above(session, region, month, n, grid_of=grid_of, totals_of=totals_of)
    cells: dict[date, dict[int, PublicCell]] = {}
    totals: dict[date, PublicCell] = {}
    for m in data.months:
        column = {r.id: data.cell(r.id, m) for r in data.regions}
        total = data.total(m)
        hidden = above.get(m)
        cells[m] = suppress(column, total_hidden=hidden is not None)
        # A total of 1 or 2 households would single them out as much as a cell would.
        totals[m] = (PublicCell(None, None, None, "small") if 0 < total.households < SMALL
                     else PublicCell(None, None, None, hidden) if hidden is not None
                     else PublicCell(total.households, total.persons, total.money))
    return PublicTable(region=region, regions=regions, months=months, cells=cells, totals=totals)


def _hidden_above(session: Session, region: Region | None, month: date, n: int, *,
                  grid_of: Callable[[Region], Grid] | None,
                  totals_of: Callable[[list[Region]], dict[int, Totals]] | None) -> dict[date, str]:
    """The months in which ``region``'s row is suppressed in its parent's table (every county's, for a county),
    with the reason; that table is itself made by these rules, up to every county's."""
    if region is None:
        return {}
    parent = public_table(session, region.parent, month, n, grid_of=grid_of, totals_of=totals_of)
    return {m: cell.reason for m in parent.months
            if (cell := parent.cells[m].get(region.id)) is not None and cell.suppressed}


def month_label(month: date) -> str:
    return month.isoformat()[:7]



# --- the staff page's figures: each one a chart and its table, and a sheet of the xlsx ---------------------

@dataclass
class Figure:
    key: str
    title: str
    headers: list[str]
    rows: list[list]  # the table, row by row (the first cell names the row)
    chart: str = "bar"  # bar | stacked | line | none
    labels: list[str] = field(default_factory=list)  # the chart's x axis
    series: list[tuple[str, list[float]]] = field(default_factory=list)
    note: str = ""


def staff_figures(session: Session, user: User, month: date) -> list[Figure]:
    data = overview(session, user.region, month)
    m = data.month
    names = [r.name for r in data.regions]
    figures = [Figure(
        "regions", str(_l("%(month)s 在保户数、人数和保障金（按地区）", month=month_label(m))),
        [str(_l("地区")), str(_l("户数")), str(_l("人数")), str(_l("保障金（元）"))],
        [[r.name, c.households, c.persons, c.money] for r in data.regions for c in [data.cell(r.id, m)]]
        + [[str(_l("合计")), data.total(m).households, data.total(m).persons, data.total(m).money]],
        "bar", names, [(str(_l("户数")), [data.cell(r.id, m).households for r in data.regions]),
                       (str(_l("人数")), [data.cell(r.id, m).persons for r in data.regions])])]
    cats = data.categories
    figures.append(Figure(
        "categories", str(_l("%(month)s 按地区和分类的在保户数", month=month_label(m))),
        [str(_l("地区")), *[str(workflow.CATEGORY_LABELS[c]) for c in cats], str(_l("合计"))],
        [[r.name, *[data.by_category.get((r.id, c), Cell()).households for c in cats], data.cell(r.id, m).households]
         for r in data.regions]
        + [[str(_l("合计")), *[data.category_total(c).households for c in cats], data.total(m).households]],
        "stacked", names, [(str(workflow.CATEGORY_LABELS[c]).split("（")[0],
                            [data.by_category.get((r.id, c), Cell()).households for r in data.regions])
                           for c in cats]))
    months = [month_label(x) for x in data.months]
    totals = [data.total(x) for x in data.months]
    figures.append(Figure(
        "months", str(_l("近 %(n)d 个月在保户数、人数和保障金", n=len(months))),
        [str(_l("月份")), str(_l("户数")), str(_l("人数")), str(_l("保障金（元）"))],
        [[label, t.households, t.persons, t.money] for label, t in zip(months, totals, strict=True)],
        "line", months, [(str(_l("保障金（元）")), [float(t.money) for t in totals])]))
    flow = flows(session, user, data.months)
    levels = list(Level)
    figures.append(Figure(
        "flows", str(_l("近 %(n)d 个月新增、不予批准和退保（户）", n=len(months))),
        [str(_l("月份")), str(_l("审批同意")),
         *[str(_l("%(level)s不予批准", level=workflow.REVIEWER_LABELS[lv])) for lv in levels], str(_l("退保"))],
        [[label, flow.approved[x], *[flow.rejected[lv][x] for lv in levels], flow.exited[x]]
         for label, x in zip(months, data.months, strict=True)],
        "bar", months, [(str(_l("审批同意")), [flow.approved[x] for x in data.months]),
                        (str(_l("不予批准")), [sum(flow.rejected[lv][x] for lv in levels) for x in data.months]),
                        (str(_l("退保")), [flow.exited[x] for x in data.months])]))
    figures.append(Figure("rejection_reasons", str(_l("不予批准的理由（最常见的 10 条）")),
                          [str(_l("理由")), str(_l("户数"))], [[text, n] for text, n in flow.rejection_reasons],
                          "none"))
    figures.append(Figure("exit_reasons", str(_l("退保的理由（最常见的 10 条）")),
                          [str(_l("理由")), str(_l("户数"))], [[text, n] for text, n in flow.exit_reasons], "none"))
    fb = feedback_figures(session, user, data.months[0])
    kinds = [("objection", str(_l("异议"))), ("report", str(_l("举报")))]
    figures.append(Figure(
        "feedback", str(_l("近 %(n)d 个月的异议和举报：结论和按期答复", n=len(months))),
        [str(_l("类型")), str(_l("成立 / 属实")), str(_l("部分成立")), str(_l("不成立")), str(_l("未办结")),
         str(_l("按期办结")), str(_l("超期办结")), str(_l("超期未办结"))],
        [[label, *[fb.outcomes[kind][o] for o in OUTCOME_ORDER], fb.on_time[kind], fb.late[kind], fb.overdue[kind]]
         for kind, label in kinds],
        "bar", [label for _k, label in kinds],
        [(str(_l("按期办结")), [fb.on_time[k] for k, _l2 in kinds]), (str(_l("超期办结")), [fb.late[k] for k, _l2 in kinds]),
         (str(_l("超期未办结")), [fb.overdue[k] for k, _l2 in kinds])]))
    steps = deadline_figures(session, user, data.months[0])
    figures.append(Figure(
        "deadlines", str(_l("办理时限（近 %(n)d 个月受理的案件）", n=len(months))),
        [str(_l("环节")), str(_l("按期")), str(_l("超期完成")), str(_l("办理中已超期")), str(_l("办理中未超期")),
         str(_l("按期率"))],
        [[s.label, s.on_time, s.late, s.open_overdue, s.open_in_time, f"{s.rate}%" if s.rate is not None else "—"]
         for s in steps],
        "stacked", [s.label.split("（")[0] for s in steps],
        [(str(_l("按期")), [s.on_time for s in steps]), (str(_l("超期完成")), [s.late for s in steps]),
         (str(_l("办理中已超期")), [s.open_overdue for s in steps])]))
    return figures
