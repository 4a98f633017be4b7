"""Statistics (统计): households, persons and monthly money by region × category × month; new approvals,
rejections and exits with their reasons; objections and reports by outcome and answered on time; deadline
compliance per step — for staff within their scope, and the public counts per region and month with small
cells suppressed.

The monthly figures are read from the amount in force (dibao.entitlement.in_force): a household counts in a month
when it is paid something that month, with the amount it is paid. Persons and category are the household's
present ones (the history of members is not kept month by month).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
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

    regions = _display_regions(session, root)
    find = _row_of(regions)
    months = month_list(month, n)

    def add_up(rows) -> tuple[dict, dict]:
        grid: dict[tuple[int, date], Cell] = defaultdict(Cell)
        by_category: dict[tuple[int, int], Cell] = defaultdict(Cell)
        for m, _community, path, category, households, persons, money in rows:
            region_id = find(path)
            if region_id is None:
                continue
            m = as_date(m)
            cell = Cell(int(households), int(persons), entitlement.summed_money(money))
            grid[(region_id, m)].add(cell)
            if m == months[-1]:
                by_category[(region_id, category)].add(cell)
        return dict(grid), dict(by_category)

    grid, by_category = _read_figures(session, root, months, summary, add_up, display=regions)
    return Overview(root=root, regions=regions, months=months, month=months[-1], grid=grid,
                    by_category=by_category)


def _read_figures(session: Session, root: Region | None, months: list[date], summary: bool, consume,
                  display: list[Region] | None = None):
    """``consume(rows)`` of the figures per community (``dibao.stats_summary.figures``: from the summary where it
    holds them, live elsewhere; ``summary=False`` all live), read again if the summary moved under the read, the
    third time all live. Streamed (a server-side cursor on PostgreSQL): a province's months × communities ×
    categories are ~100,000 rows, which held at once raised a web worker's memory by ~30 MB (issue 13)."""
    from dibao import stats_summary

    for attempt in range(3):
        rows = (stats_summary.figures(session, root, months, display) if summary and attempt < 2
                else session.execute(_paid_by_month(months, root), execution_options={"yield_per": 2000}))
        try:
            return consume(rows)
        except stats_summary.Changed:
            continue
    raise AssertionError("unreachable: the third reading is live")  # pragma: no cover


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
#
# What a visitor can work out decides what each table hides. A visitor reads every public table (every county;
# a county's towns; a town's communities; a community alone), in both the statistics and the funds, and knows
# these rules. Of a hidden cell they know bounds: "<3" is 1 or 2 households (0 to 2 where zeros are hidden
# too), "*" is 3 or more and — the rules taking the smallest cell shown as the complement — no more than the
# smallest cell still shown; a hidden row's own table adds what it shows of that row (its shown rows, and its
# hidden rows' bounds). A published total bounds the sum of the hidden cells beside it. A column is *pinned*
# when those bounds leave one hidden cell a single value — two "<3" beside a total that leaves 2 are 1 and 1;
# "<3" and "*" beside a total that leaves 4 are 1 and 3 — and a table hides more until none is.

INFINITE = math.inf  # no upper bound


@dataclass(frozen=True)
class RowFacts:
    """What a row's own table tells a visitor about the row, for the table one level up (read one level further
    down, from the row's own rows): ``forced`` — that table cannot keep its small cells from being pinned while
    the row's total is published, so the row must be hidden here too; ``low``/``high`` — the households a visitor
    finds the row has, from its own table, when it is hidden here (its shown rows plus its hidden rows' bounds);
    ``opened``: the same when that table is asked to leave it open above (``_column``'s ``open_``). Where
    several sets of figures are suppressed together, read from the row's own joint table (:func:`_row_facts`,
    :func:`joint_grids`): its cells may be pinned beside its total though neither set alone would pin them."""
    forced: bool
    low: float
    high: float
    opened: tuple[float, float]


class Grid(dict):
    """(display region id, month) → :class:`Cell`: the figures of a table's rows, plain data (a cache keeps them).
    ``rows``: the table's rows (zeros too), ``root``: its region's id; ``facts``: (row id, month) →
    :class:`RowFacts` of the rows that have rows of their own. A plain dict is taken too (no facts: each hidden
    row is bounded by its mark alone). ``subtree``: the regions under the root and the households of each, as
    read (:class:`Subtree`), until :func:`joint_grids` reads the facts of several sets at once — the grids it
    gives, which a cache keeps, hold none."""

    def __init__(self, *args, rows: list[int] | None = None, root: int | None = None,
                 facts: dict | None = None, subtree: Subtree | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows, self.root, self.facts, self.subtree = rows, root, facts or {}, subtree


class Totals(dict):
    """month → a region's total :class:`Cell` (the sum of its table's rows); ``facts``: month → its
    :class:`RowFacts` for the table one level up (every county's); ``subtree`` as :class:`Grid`'s, the region's
    own the same (every county's read at once: theirs)."""

    def __init__(self, *args, facts: dict | None = None, subtree: Subtree | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.facts, self.subtree = facts or {}, subtree


@dataclass(frozen=True)
class Subtree:
    """The regions under a table's root (``kids``: region id → its rows' ids, None → the counties) and the
    households of each in each month of one set of figures (``households``: (region id, month) → households)."""
    kids: dict
    households: dict


@dataclass(frozen=True)
class PublicCell:
    households: int | None  # None: suppressed
    persons: int | None
    money: Decimal | None
    # Why a cell is not shown: "small" (fewer than 3 households: 1 or 2 — or 0, where a column's zeros are hidden
    # beside them so that a total cannot tell how many are not zero), or "complement" (3 or more, hidden so that
    # a total cannot give a small neighbour away; it does not say "<3").
    reason: str | None = None

    @property
    def suppressed(self) -> bool:
        return self.households is None

    def display(self, what: str) -> str:
        if self.households is None:
            return f"<{SMALL}" if what == "households" and self.reason == "small" else "*" if what == "households" else "—"
        value = getattr(self, what)
        if value is None:  # not published where the county's disclosure hides sizes or amounts (withheld)
            return "—"
        return f"{value:.2f}" if isinstance(value, Decimal) else str(value)

    def withheld(self, persons: bool, money: bool) -> PublicCell:
        """The cell with its persons and money kept only where shown (``disclosure.totals_shown``)."""
        if persons and money:
            return self
        return replace(self, persons=self.persons if persons else None, money=self.money if money else None)


def _pinned(bounds: list[tuple[float, float]], low: float, high: float) -> bool:
    """Whether a visitor who knows that each hidden cell lies within its bounds, and their sum within
    [low, high], can tell one of them exactly."""
    least_sum = sum(lo for lo, _hi in bounds)
    finite = [hi for _lo, hi in bounds if hi != INFINITE]
    unbounded = len(bounds) - len(finite)
    most_sum = sum(finite)
    for lo, hi in bounds:
        others_most = INFINITE if unbounded - (hi == INFINITE) else most_sum - (0 if hi == INFINITE else hi)
        least = max(lo, low - others_most)
        most = min(hi, high - (least_sum - lo))
        if least >= most:
            return True
    return False


@dataclass
class _Column:
    hidden: dict[int, str]  # row id → reason
    bounds: dict[int, tuple[float, float]]  # row id → what a visitor can tell of a hidden row's households
    hide_total: bool = False  # the column stays pinned whatever it hides: its total must be hidden too
    opened: set[int] = field(default_factory=set)  # hidden rows whose own tables must leave them open above
    largest: set[int] = field(default_factory=set)  # complements taken from the top (below a hidden total)


def _column(values: dict[int, int], *, total: tuple[float, float] | None,
            facts: dict[int, RowFacts | None] | None = None, also: Iterable[int] = (),
            blanket: bool = False, open_: bool = False, top: Iterable[int] = ()) -> _Column:
    """The rows of one column to hide, from their households. ``total``: None when the column's total is
    published, else the bounds a visitor knows it within (it is hidden: a row hidden one level up, or a total
    under 3); ``facts``: the rows' own tables (:class:`RowFacts`); ``also``: rows hidden whatever they hold (what
    the other tables of the same region and month hide, :func:`public_tables`); ``top``: of those, the rows an
    earlier round took from the top (their bounds stay "at least the largest shown"); ``blanket``: every row "<3"
    (the column's total is under 3 and more than one row is not zero, so no count of rows that are not zero may
    show).

    With a published total: the small rows, the rows whose own tables force it and ``also``; then, while the
    column is pinned, the smallest row still shown (>0); none left, a hidden row's own table is asked to leave
    it open above (``opened``); then the zeros too ("<3", so which rows are empty is unknown — that always
    unpins); no zeros either: ``hide_total``. With a hidden total the hidden cells must not be none (the shown
    ones would add up to it): then the largest row, which no shown row bounds from above; ``open_`` (asked from
    above) the same until one hidden row is unbounded above. What the column tells of its hidden total is its
    row's :class:`RowFacts` in the table above, which sees to it that that pins nothing."""
    facts = facts or {}
    if blanket:
        return _Column({rid: "small" for rid in values}, {rid: (0, SMALL - 1) for rid in values})
    hidden = {rid: "small" for rid, v in values.items() if 0 < v < SMALL}
    for rid, v in values.items():
        if rid not in hidden and (rid in also or (v >= SMALL and (f := facts.get(rid)) is not None and f.forced)):
            hidden[rid] = "complement" if v >= SMALL else "small"
    zeros = any(values[rid] == 0 for rid in hidden)
    largest = {rid for rid in top if hidden.get(rid) == "complement"}  # complements taken from the top
    opened: set[int] = set()

    def shown() -> list[tuple[int, int]]:
        return sorted((v, rid) for rid, v in values.items() if rid not in hidden and v > 0)

    def bounds() -> dict[int, tuple[float, float]]:
        rest = shown()
        # The smallest cell still shown bounds every "*" a visitor may take for a complement chosen from the
        # bottom; it holds for those that are no larger (others are hidden for another reason, and the visitor
        # cannot tell which). One chosen from the top is at least the largest shown.
        least, most = (rest[0][0], rest[-1][0]) if rest else (INFINITE, 0)
        out = {}
        for rid, reason in hidden.items():
            if reason == "small":
                out[rid] = (0 if zeros else 1, SMALL - 1)
                continue
            f = facts.get(rid)
            lo, hi = (f.opened if rid in opened else (f.low, f.high)) if f is not None else (SMALL, INFINITE)
            lo = max(lo, SMALL)
            if rid in largest:
                out[rid] = (max(lo, most), hi)
            else:
                out[rid] = (lo, min(hi, least) if total is None and values[rid] <= least else hi)
        return out

    if total is not None:
        while (rest := shown()) and (not any(values[rid] for rid in hidden)
                                     or open_ and all(hi != INFINITE for _lo, hi in bounds().values())):
            hidden[rest[-1][1]] = "complement"
            largest.add(rest[-1][1])
        return _Column(hidden, bounds(), largest=largest)
    left = sum(values[rid] for rid in hidden)  # what the published total leaves for the hidden cells
    while hidden and _pinned(list(bounds().values()), left, left):
        rest = shown()
        closed = [rid for rid in hidden if rid not in opened and (f := facts.get(rid)) is not None
                  and f.opened != (f.low, f.high)]
        if rest:
            hidden[rest[0][1]] = "complement"
            left += rest[0][0]
        elif closed:
            opened.add(closed[0])
        elif not zeros and any(v == 0 for v in values.values()):
            hidden.update({rid: "small" for rid, v in values.items() if v == 0})
            zeros = True
        else:
            return _Column(hidden, bounds(), hide_total=True, opened=opened, largest=largest)
    return _Column(hidden, bounds(), opened=opened, largest=largest)


def _row_facts(values: list[dict[int, int]], facts: list[dict[int, RowFacts | None]]) -> list[RowFacts | None]:
    """A row's :class:`RowFacts` in each set of figures, from its own table's column in each (``values[k]``: its
    rows' households in set k, ``facts[k]`` theirs), that table being suppressed jointly as
    :func:`public_tables` does (:func:`_joint_column`): ``forced`` when any set's column, hiding what every set
    hides, stays pinned beside a published total (the same in every set: the tables above are joint too);
    low/high from each set's column of the joint table with the total hidden, ``opened`` the same with that
    set's column asked to leave it open. None for a set in which the row has under 3 households (hidden as
    small, its own table shows no more than "<3" does). One set alone: that set's own suppression."""
    sets = range(len(values))
    sums = [sum(v.values()) for v in values]
    if all(total < SMALL for total in sums):
        return [None for _k in sets]
    published, _hide = _joint_column(values, sums, [None for _k in sets], facts, every_county=False)
    forced = any(column.hide_total for column in published)

    def intervals(open_: int | None) -> list[tuple[float, float]]:
        # Hidden one level up: "<3" in a set under 3 (1 or 2: its narrowest, so the bounds found are the
        # narrowest its table may give — what the table above takes for them is then never more than a
        # visitor can tell), "*" in the others.
        marks = [_Mark("small", 1, SMALL - 1) if sums[k] < SMALL else _Mark("complement", SMALL, INFINITE, open_ == k)
                 for k in sets]
        pages, _hide = _joint_column(values, sums, marks, facts, every_county=False)
        out = []
        for page, column in zip(pages, values, strict=True):
            shown = sum(v for rid, v in column.items() if rid not in page.hidden)
            out.append((shown + sum(lo for lo, _hi in page.bounds.values()),
                        shown + sum(hi for _lo, hi in page.bounds.values())))
        return out

    closed = intervals(None)
    return [RowFacts(forced, *closed[k], opened=intervals(k)[k]) if sums[k] >= SMALL else None for k in sets]


class _Facts:
    """The :class:`RowFacts` of every region of a tree in each set of figures, read jointly (:func:`_row_facts`)
    from the households of each region's rows, and theirs: ``kids`` region id → its rows' ids, ``households[k]``
    (region id, month) → households in set k."""

    def __init__(self, kids: dict, households: list[dict]):
        self.kids, self.households = kids, households
        self._memo: dict[tuple[int, date], list[RowFacts | None]] = {}

    def of(self, region_id: int, m: date) -> list[RowFacts | None]:
        key = (region_id, m)
        if key not in self._memo:
            kids = self.kids.get(region_id)
            if not kids:
                self._memo[key] = [None for _set in self.households]
            else:
                below = {kid: self.of(kid, m) for kid in kids}
                self._memo[key] = _row_facts(
                    [{kid: households.get((kid, m), 0) for kid in kids} for households in self.households],
                    [{kid: below[kid][k] for kid in kids} for k in range(len(self.households))])
        return self._memo[key]


def suppress(cells: dict[int, Cell], *, total_hidden: bool = False) -> dict[int, PublicCell]:
    """A column of one month: a cell with 1 or 2 households is suppressed (households "<3", persons and money
    not shown) so no household can be singled out; while the published total would pin a suppressed cell (one
    alone, two "<3" that it leaves 2 for …) the next smallest is too. With ``total_hidden`` (the column's total
    is not published) one suppressed cell is enough, but not none: the cells would add up to the hidden total."""
    column = _column({rid: c.households for rid, c in cells.items()},
                     total=(SMALL, INFINITE) if total_hidden else None)
    return {rid: PublicCell(None, None, None, column.hidden[rid]) if rid in column.hidden
            else PublicCell(c.households, c.persons, c.money) for rid, c in cells.items()}


@dataclass
class PublicTable:
    region: Region | None
    regions: list[Region]
    months: list[date]
    cells: dict[date, dict[int, PublicCell]]  # month → region id → cell
    totals: dict[date, PublicCell]
    # month → region id → (low, high): what a visitor can tell of a hidden row (its own table starts from it)
    bounds: dict[date, dict[int, tuple[float, float]]] = field(default_factory=dict)
    opened: dict[date, set[int]] = field(default_factory=dict)  # month → rows whose tables leave them open above

    def rows(self) -> Iterable[tuple[Region, list[PublicCell]]]:
        for region in self.regions:
            yield region, [self.cells[m][region.id] for m in self.months]

    def withheld(self, persons: bool, money: bool) -> PublicTable:
        """The table as a channel may publish it (:meth:`PublicCell.withheld` of every cell and total)."""
        if persons and money:
            return self
        return replace(self, cells={m: {rid: c.withheld(persons, money) for rid, c in col.items()}
                                    for m, col in self.cells.items()},
                       totals={m: c.withheld(persons, money) for m, c in self.totals.items()})


class _Tree:
    """The regions under a root (every region without one) and the households of each in each month, from
    community figures: the rows of the root's table with their figures, and the :class:`RowFacts` of those rows
    (read from their own rows, and theirs)."""

    def __init__(self, session: Session, root: Region | None):
        stmt = select(Region.id, Region.parent_id, Region.path).order_by(Region.code)
        if root is not None:
            stmt = stmt.where(scope.subtree_condition(root))
        self.kids: dict[int | None, list[int]] = defaultdict(list)
        self.id_of: dict[str, int] = {}
        for region_id, parent_id, path in session.execute(stmt):
            self.kids[parent_id].append(region_id)
            self.id_of[path] = region_id
        self.root = root
        depth = root.path.count("/") - 1 if root is not None else 0
        self.rows = (self.kids.get(root.id) or [root.id]) if root is not None else self.kids.get(None, [])
        self.row_depth = depth + 1 if root is None or self.kids.get(root.id) else depth
        self.households: dict[tuple[int, date], int] = defaultdict(int)

    def grid(self, figures: Iterable[tuple[str, date, Cell]], months: list[date]) -> Grid:
        """``figures``: (community path, month, cell), a community any number of times (one per category)."""
        grid: dict[tuple[int, date], Cell] = defaultdict(Cell)
        chains: dict[str, tuple[list[int], int | None]] = {}
        for path, m, cell in figures:
            if path not in chains:  # the regions a community is in (under the root), and its row of the table
                parts = path.strip("/").split("/")
                found = [(depth, self.id_of.get("/" + "/".join(parts[:depth]) + "/"))
                         for depth in range(1, len(parts) + 1)]
                chains[path] = ([rid for _d, rid in found if rid is not None],
                                next((rid for d, rid in found if d == self.row_depth and rid is not None), None))
            regions, row = chains[path]
            for region_id in regions:
                self.households[(region_id, m)] += cell.households
            if row is not None:
                grid[(row, m)].add(cell)
        subtree = Subtree(self.kids, self.households)
        found = _Facts(subtree.kids, [subtree.households])
        facts = {(row, m): f for row in self.rows for m in months if (f := found.of(row, m)[0]) is not None}
        return Grid(grid, rows=list(self.rows), root=self.root.id if self.root else None, facts=facts,
                    subtree=subtree)


def grid_of_figures(session: Session, root: Region | None, months: list[date],
                    figures: Iterable[tuple[str, date, Cell]]) -> Grid:
    """The :class:`Grid` of ``root``'s table (every county's without one) from figures per community —
    (path, month, cell) — the statistics' or the funds' (``dibao.payments``)."""
    return _Tree(session, root).grid(figures, months)


def totals_of_grid(grid: Grid | dict, months: list[date]) -> Totals:
    """A region's monthly totals from its :func:`public_grid` (the sum of its rows), with the region's
    :class:`RowFacts` when the grid has its rows' (a plain dict: none)."""
    return totals_of_grids([grid], months)[0]


def totals_of_grids(grids: list[Grid | dict], months: list[date]) -> list[Totals]:
    """:func:`totals_of_grid` of a region's grid in each set of figures, its :class:`RowFacts` read jointly
    (the grids' rows' facts being joint too: :func:`joint_grids`)."""
    out = [Totals({m: Cell() for m in months}) for _grid in grids]
    for totals, grid in zip(out, grids, strict=True):
        for (_row, m), cell in grid.items():
            if m in totals:
                totals[m].add(cell)
    rows = getattr(grids[0], "rows", None)
    if rows is not None and rows != [grids[0].root] and all(getattr(g, "rows", None) == rows for g in grids):
        # (a region without rows of its own is its own one row)
        for m in months:
            found = _row_facts([{r: grid.get((r, m), Cell()).households for r in rows} for grid in grids],
                               [{r: grid.facts.get((r, m)) for r in rows} for grid in grids])
            for totals, f in zip(out, found, strict=True):
                if f is not None:
                    totals.facts[m] = f
    return out


def joint_grids(grids: list[Grid], months: list[date]) -> list[Grid]:
    """The grids of one table in each set of figures (:func:`grid_of_figures` of the same root and months), each
    with its rows' :class:`RowFacts` read jointly from every set's households (:func:`_row_facts`): what the
    joint tables of :func:`public_tables` take. Plain data, without the subtrees (a cache keeps them). A grid
    without its subtree (a plain dict) keeps the facts it has."""
    if len(grids) < 2 or any(getattr(grid, "subtree", None) is None for grid in grids):
        return grids
    found = _Facts(grids[0].subtree.kids, [grid.subtree.households for grid in grids])
    return [Grid(grid, rows=grid.rows, root=grid.root,
                 facts={(row, m): f for row in grid.rows for m in months if (f := found.of(row, m)[k]) is not None})
            for k, grid in enumerate(grids)]


def joint_totals(totals: list[dict[int, Totals]], months: list[date]) -> list[dict[int, Totals]]:
    """Every county's :class:`Totals` in each set of figures (:func:`county_totals` and the like, read at once:
    the counties' subtrees kept), each county's :class:`RowFacts` read jointly from every set's households —
    what every county's joint table takes. Without the subtrees (a cache keeps them)."""
    if len(totals) < 2:
        return totals
    counties = sorted({county for per_set in totals for county in per_set})
    out: list[dict[int, Totals]] = [{} for _set in totals]
    subtrees = [next((t.subtree for t in per_set.values() if getattr(t, "subtree", None) is not None), None)
                for per_set in totals]
    found = (_Facts(subtrees[0].kids, [subtree.households for subtree in subtrees])
             if all(subtree is not None for subtree in subtrees) else None)
    for county in counties:
        for k, per_set in enumerate(totals):
            mine = per_set.get(county, Totals())
            facts = ({m: f for m in months if (f := found.of(county, m)[k]) is not None} if found is not None
                     else mine.facts)
            out[k][county] = Totals({m: mine.get(m, Cell()) for m in months}, facts=facts)
    return out


def _statistics(session: Session, root: Region | None, months: list[date], summary: bool) -> Grid:
    """The statistics' :class:`Grid` of ``root``'s table, from the figures per community (:func:`_read_figures`)."""
    return _read_figures(session, root, months, summary, lambda rows: grid_of_figures(session, root, months, (
        (path, as_date(m), Cell(int(households), int(persons), entitlement.summed_money(money)))
        for m, _community, path, _category, households, persons, money in rows)))


def public_grid(session: Session, root: Region, month: date, n: int = MONTHS, *, summary: bool = True) -> Grid:
    """The figures behind a county's (or a town's) public table: plain data, so a cache may keep them
    (``portal.stats`` keeps them under the county's public version). Read per community (a county's: a few
    thousand rows), for the rows' :class:`RowFacts`."""
    return _statistics(session, root, month_list(month, n), summary)


def county_totals(session: Session, month: date, n: int = MONTHS, *, summary: bool = True) -> dict[int, Totals]:
    """Every county's monthly totals and :class:`RowFacts`, from one reading of every community (one pass over
    the amount periods: cheaper than one per county when many are asked at once)."""
    months = month_list(month, n)
    return totals_of_counties(_statistics(session, None, months, summary), months)


def totals_of_counties(grid: Grid, months: list[date]) -> dict[int, Totals]:
    """Every county's :class:`Totals` from the :class:`Grid` of every county's table."""
    return {county: Totals({m: grid.get((county, m), Cell()) for m in months},
                           facts={m: f for m in months if (f := grid.facts.get((county, m))) is not None},
                           subtree=getattr(grid, "subtree", None))
            for county in grid.rows}


@dataclass(frozen=True)
class _Mark:
    """How a region's row is hidden in its parent's table: the reason, what a visitor can tell of it, and
    whether its own table must leave it open above."""
    reason: str
    low: float
    high: float
    open: bool = False


FigureSet = tuple  # (grid_of, totals_of) of public_tables: how one kind of figures is read


def public_table(session: Session, region: Region | None, month: date, n: int = MONTHS, *,
                 grid_of: Callable[[Region], Grid] | None = None,
                 totals_of: Callable[[list[Region]], dict[int, Totals]] | None = None,
                 memo: dict | None = None) -> PublicTable:
    """One kind of figures alone, suppressed by its own cells (:func:`public_tables` of one set). What the public
    sees is suppressed together with the funds (``dibao.payments.public_figures``)."""
    return public_tables(session, region, month, n, figure_sets=[(grid_of, totals_of)], memo=memo)[0]


def public_tables(session: Session, region: Region | None, month: date, n: int = MONTHS, *,
                  figure_sets: list[FigureSet], memo: dict | None = None) -> list[PublicTable]:
    """Per sub-region (towns of a county, or the counties) and month: what /stats/ and the API publish, and
    /funds/ — one table per set of figures (the statistics', the funds'), all hiding the same cells and the same
    totals, at every level: where the figures of one kind are mostly those of another (the households paid are
    mostly those in force), a cell one table hides and another shows would be read off the other.

    Each set is ``(grid_of, totals_of)``: ``grid_of(region)`` (:func:`public_grid` of a county or town) and
    ``totals_of(counties)`` (each county's :class:`Totals`, for the table of every county); None computes the
    statistics (a cache passes its own; with several sets the grids' :class:`RowFacts` are read from them all:
    :func:`joint_grids`, :func:`joint_totals`). A month's column of each table is suppressed with what the
    others hide forced hidden too (``_column``'s ``also``), again until none grows (:func:`_joint_column`);
    columns are per month, so a month's tables are the same whichever months are asked with it. ``memo`` keeps
    the tables above (each is needed once per request; one memo per list of sets)."""
    memo = {} if memo is None else memo
    key = region.id if region is not None else None
    if key in memo:
        return memo[key]
    regions = _display_regions(session, region)
    months = month_list(month, n)
    figures = [_table_figures(session, region, regions, month, n, grid_of, totals_of)
               for grid_of, totals_of in figure_sets]
    # A region's total is its row in the table one level up: hidden there, it stays hidden here, or a visitor
    # would subtract it from that table and find the cell it was hidden to protect.
    above = _hidden_above(session, region, month, n, figure_sets=figure_sets, memo=memo)
    tables = [PublicTable(region=region, regions=regions, months=months, cells={}, totals={}) for _ in figures]
    for m in months:
        columns = [{r.id: grid.get((r.id, m), Cell()) for r in regions} for grid, _facts in figures]
        sums = []
        for column in columns:
            total = Cell()
            for cell in column.values():
                total.add(cell)
            sums.append(total)
        marks = [marked.get(m) for marked in above]
        hidden, hide_total = _joint_column([{rid: c.households for rid, c in column.items()} for column in columns],
                                           [total.households for total in sums], marks,
                                           [{rid: facts.get((rid, m)) for rid in column}
                                            for column, (_grid, facts) in zip(columns, figures, strict=True)],
                                           every_county=region is None)
        for table, column, total, mark, done in zip(tables, columns, sums, marks, hidden, strict=True):
            table.cells[m] = {rid: PublicCell(None, None, None, done.hidden[rid]) if rid in done.hidden
                              else PublicCell(c.households, c.persons, c.money) for rid, c in column.items()}
            table.bounds[m], table.opened[m] = done.bounds, done.opened
            # A total of 1 or 2 households would single them out as much as a cell would. Below every county's
            # table a total the column cannot do without is hidden by the table above (RowFacts.forced).
            if mark is not None:
                table.totals[m] = PublicCell(None, None, None, mark.reason)
            elif hide_total:
                table.totals[m] = PublicCell(None, None, None, "small" if total.households < SMALL else "complement")
            else:
                table.totals[m] = PublicCell(total.households, total.persons, total.money)
    memo[key] = tables
    return tables


def _table_figures(session: Session, region: Region | None, regions: list[Region], month: date, n: int,
                   grid_of: Callable[[Region], Grid] | None,
                   totals_of: Callable[[list[Region]], dict[int, Totals]] | None) -> tuple[dict, dict]:
    """One set's figures of ``region``'s table: (row id, month) → :class:`Cell`, and → the row's :class:`RowFacts`."""
    if region is not None:
        grid = grid_of(region) if grid_of else public_grid(session, region, month, n)
        return grid, getattr(grid, "facts", {})
    totals = totals_of(regions) if totals_of else county_totals(session, month, n)
    return ({(county.id, m): cell for county in regions for m, cell in totals.get(county.id, {}).items()},
            {(county.id, m): f for county in regions for m, f in getattr(totals.get(county.id), "facts", {}).items()})


def _joint_column(values: list[dict[int, int]], totals: list[int], marks: list[_Mark | None],
                  facts: list[dict[int, RowFacts | None]], *, every_county: bool) -> tuple[list[_Column], bool]:
    """One month's column of each set of figures (``values``: row id → households, ``totals`` their sums,
    ``marks`` the region's row hidden one level up — the same rows in every set, the tables above being joint),
    all hiding the same rows: each set's column (``_column``) with the rows any other hides forced hidden too,
    round after round until none grows (they only grow: it ends). A set with nothing in the month (no paid
    lines) adds nothing: its rows hidden are the others' ("<3": they are 0). Also whether the total is hidden
    though no mark says so: under 3 in a set, or — every county's — a column that stays pinned."""
    sets = range(len(values))
    active = [k for k in sets if totals[k]] or list(sets)
    hidden_total = any(mark is not None for mark in marks) or any(0 < totals[k] < SMALL for k in active)

    def bounds_of(k: int) -> tuple[float, float] | None:
        if (mark := marks[k]) is not None:
            return mark.low, mark.high
        if 0 < totals[k] < SMALL:
            return 1, SMALL - 1
        return (SMALL, INFINITE) if hidden_total else None  # hidden for another set's sake: 3 or more

    union: set[int] = set()
    top: dict[int, set[int]] = {k: set() for k in active}
    done: dict[int, _Column] = {}
    while True:
        for k in active:
            bounds = bounds_of(k)
            # Under a total known to be 1 or 2, two rows not zero would each be 1: every row "<3", zeros too; so
            # below a row hidden that way (its low bound 0), where any row shown would tell it from a zero.
            blanket = bounds is not None and (bounds[0] == 0 or (
                bounds[1] < SMALL and sum(1 for v in values[k].values() if v > 0) > 1))
            done[k] = _column(values[k], total=bounds, facts=facts[k], also=union, blanket=blanket,
                              open_=marks[k] is not None and marks[k].open, top=top[k])
            top[k] |= done[k].largest
        grown = set(union).union(*(done[k].hidden for k in active))
        finished = grown == union or len(active) == 1
        union = grown
        if finished:
            break
    for k in sets:
        if k not in done:  # nothing in the month: every row 0
            done[k] = _Column({rid: "small" for rid in union}, {rid: (0, SMALL - 1) for rid in union})
    hide_total = hidden_total and all(mark is None for mark in marks) or every_county and any(
        done[k].hide_total for k in active)
    return [done[k] for k in sets], hide_total


def _hidden_above(session: Session, region: Region | None, month: date, n: int, *,
                  figure_sets: list[FigureSet], memo: dict | None = None) -> list[dict[date, _Mark]]:
    """For each set of figures, the months in which ``region``'s row is suppressed in its parent's table (every
    county's, for a county), with the reason and its bounds there; those tables are themselves made by these
    rules, up to every county's."""
    if region is None:
        return [{} for _ in figure_sets]
    parents = public_tables(session, region.parent, month, n, figure_sets=figure_sets, memo=memo)
    return [{m: _Mark(cell.reason or "complement", *parent.bounds[m][region.id], region.id in parent.opened[m])
             for m in parent.months if (cell := parent.cells[m].get(region.id)) is not None and cell.suppressed}
            for parent in parents]


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
