"""The monthly statistics summary (issue 13): what ``dibao.stats.overview`` reads instead of every amount period.

``stats_month`` holds, per community × month × category, the households paid, their persons and money — the rows
``stats._paid_by_month`` gives — and ``stats_month_done`` marks the (community, month) pairs it holds. A
pair is read from the summary only when marked; every other pair is computed live as before and added up the
same way, so a figure never depends on a refresh having run (:func:`figures`).

What can change a month's figure (``stats._paid_by_month``, ``entitlement.in_force_intervals``): the amount
periods starting in or before that month (insert, update, delete), the household's present members (persons:
every month), its category and its community (old and new) — and nothing else; not the clock (a month's figure
is the same whichever later month is asked, and no "now" is read), so any month may be summarised, the current
and the next one too. Every such change removes the community's marks (all months, or from the period's month
on) **in the same transaction**:

* ORM writes: one ``after_flush`` hook on every session looks at the flushed Case, Member and AmountPeriod
  objects (no domain function can forget);
* Core writes (``dibao.imports``' executemany) call :func:`invalidate_regions` themselves. ``dibao seed-scale``
  (COPY) fills an empty database, which has no marks, then refreshes every region itself.

A refresh must never mark a pair with figures a concurrent change could not yet see. On PostgreSQL a change
takes a shared advisory lock per community (held to its commit) before removing marks; a refresh takes the
same locks exclusively, without waiting (a community being changed is left for the next pass), and only then
reads the live figures (READ COMMITTED: its next statement sees every change that committed before it got the
lock; a change that comes later waits for the refresh's commit, then removes its marks). On SQLite writers are
serialised by the database lock (the sweep and the CLI refresh in ``BEGIN IMMEDIATE`` transactions).

Refreshing (``dibao stats refresh``, and a bounded number of communities on every sweep) and checking
(``dibao stats verify``) are maintenance of derived data: like the public cache's version counters they write
no audit event (the figures they store are the ones the audited changes already determine).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    Date,
    and_,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.util import identity_key

from dibao import clock, entitlement, scope
from dibao.db import IN_CHUNK, chunks
from dibao.models import AmountPeriod, Case, Member, Region
from dibao.models.stats_month import StatsMonth, StatsMonthDone

log = logging.getLogger("dibao.stats_summary")

_rows = StatsMonth.__table__
_done = StatsMonthDone.__table__

EVERY_MONTH = date.min  # "from" of a change that affects every month (members, category, community)
MONTHS_BACK = 24  # a refresh summarises these months before the current one, the current and the next
BATCH = 40  # communities refreshed (and locked) in one transaction
SWEEP_REGIONS = 120  # communities a sweep refreshes at most (the rest at the next tick)
_LOCK_CLASS = 0x5354  # the advisory locks' first key ("ST"); the second is the region's id
_REMOVED = "dibao.stats_removed"  # session.info: region id → from which month this transaction removed marks


def summary_months(today: date | None = None, back: int = MONTHS_BACK) -> list[date]:
    """The months a refresh summarises: ``back`` months before ``today``'s, that month and the next (so a new
    month's first figures are there before it begins)."""
    from dibao.stats import month_list

    return month_list(entitlement.next_month(today or clock.today()), back + 2)


# --- invalidation ---------------------------------------------------------------------------------------------

def invalidate_regions(session: Session, changes: dict[int, date] | Iterable[int], since: date = EVERY_MONTH) -> None:
    """Remove the summary's marks of these communities (region id → from which month; or ids, all from
    ``since``), in the session's transaction. Every write that bypasses the ORM and changes a period, a member,
    or a household's category or community must call this."""
    if not isinstance(changes, dict):
        changes = dict.fromkeys(changes, since)
    # What this transaction already removed needs no second statement (a 提标 flushes once a household).
    removed = session.info.setdefault(_REMOVED, {})
    changes = {region_id: month for region_id, month in changes.items()
               if region_id is not None and removed.get(region_id, date.max) > month}
    if not changes:
        return
    conn = session.connection()
    ids = sorted(changes)
    hold(session, ids)
    by_month: dict[date, list[int]] = defaultdict(list)
    for region_id in ids:
        by_month[changes[region_id]].append(region_id)
    for month, region_ids in by_month.items():
        for chunk in chunks(region_ids):
            condition = _done.c.region_id.in_(chunk)
            if month > EVERY_MONTH:
                condition = and_(condition, _done.c.month >= entitlement.month_start(month))
            conn.execute(delete(_done).where(condition))
    for region_id, month in changes.items():
        removed[region_id] = min(removed.get(region_id, date.max), month)


def hold(session: Session, region_ids: list[int]) -> None:
    """Take these communities' shared advisory locks to the end of the transaction (PostgreSQL; elsewhere
    nothing): a change holds them before removing a summary's marks (this one's or ``dibao.roster_summary``'s),
    so a refresh skips the communities instead of marking figures the change is missing. Shared: changes never
    wait for each other, only for a refresh holding the community (see above)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT count(pg_advisory_xact_lock_shared(CAST(:k AS integer), r)) "
                          "FROM unnest(CAST(:ids AS integer[])) AS r"), {"k": _LOCK_CLASS, "ids": sorted(region_ids)})


def _forget_removed(session: Session, transaction) -> None:
    # Any end (a savepoint's too, whose rollback brings marks back): forget, and remove again if need be.
    session.info.pop(_REMOVED, None)


def _with_cases(session: Session, regions: dict[int, date], cases: dict[int, date]) -> dict[int, date]:
    """``regions`` with the communities of these households (as they are now in the transaction) added."""
    regions = dict(regions)
    asked = {}
    for case_id, month in cases.items():  # a household this session holds needs no query
        case = session.identity_map.get(identity_key(Case, case_id))
        region_id = case.__dict__.get("region_id") if case is not None else None
        if region_id is None:
            asked[case_id] = month
        else:
            regions[region_id] = min(regions.get(region_id, date.max), month)
    cases = asked
    for chunk in chunks(sorted(cases)):
        for case_id, region_id in session.connection().execute(select(Case.id, Case.region_id)
                                                               .where(Case.id.in_(chunk))):
            regions[region_id] = min(regions.get(region_id, date.max), cases[case_id])
    return regions


def values_in_flush(obj, *attributes: str) -> set:
    """Every value the attributes had in this flush (before and after), without loading anything; a
    relationship gives its object's id (an orphan removed from ``case.members`` has lost its ``case_id``, not
    the history of its ``case``)."""
    state = inspect(obj)
    out = set()
    for attribute in attributes:
        history = state.attrs[attribute].history  # never loads: no SQL inside the flush
        values = [*history.added, *history.unchanged, *history.deleted, state.dict.get(attribute)]
        out |= {getattr(v, "id", v) for v in values if v is not None}
    return out


def changed_in_flush(obj, *attributes: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[a].history.has_changes() for a in attributes)


class _Unknown(Exception):
    """A flushed object whose household or community cannot be read without SQL (deleted while expired)."""


class FlushNotes:
    """The households and communities a flush changed, each with the first month it changes (a summary's
    ``after_flush`` hook notes them; :func:`flushed_regions` turns them into communities). A key set that is empty
    — an object whose household or community cannot be read without SQL — makes every community count."""

    def __init__(self) -> None:
        self.cases: dict[int, date] = {}
        self.regions: dict[int, date] = {}

    def case(self, keys: set, month: date = EVERY_MONTH) -> None:
        self._note(self.cases, keys, month)

    def region(self, keys: set, month: date = EVERY_MONTH) -> None:
        self._note(self.regions, keys, month)

    @staticmethod
    def _note(target: dict[int, date], keys: set, month: date) -> None:
        if not keys:
            raise _Unknown
        for key in keys:
            target[key] = min(target.get(key, date.max), month)


def flushed_regions(session: Session, collect: Callable[[FlushNotes], None]) -> dict[int, date]:
    """Community id → first month changed, of what ``collect`` notes of this flush; every community (from any
    month) when it meets an object it cannot place (never guess). Shared by both summaries' hooks."""
    notes = FlushNotes()
    try:
        collect(notes)
    except _Unknown:
        return dict.fromkeys(session.connection().execute(select(Region.id)).scalars(), EVERY_MONTH)
    if not (notes.cases or notes.regions):
        return {}
    return _with_cases(session, notes.regions, notes.cases)


def _after_flush(session: Session, flush_context) -> None:
    """Remove the marks of every community whose figures this flush changed (see the module's docstring)."""

    def first_month(obj) -> date:
        months = values_in_flush(obj, "starts_on")
        return entitlement.month_start(min(months)) if months else EVERY_MONTH

    def collect(noted: FlushNotes) -> None:
        for obj in session.new:
            if isinstance(obj, AmountPeriod):
                noted.case(values_in_flush(obj, "case_id", "case"), first_month(obj))
            elif isinstance(obj, Member):
                noted.case(values_in_flush(obj, "case_id", "case"))
        for obj in session.deleted:
            if isinstance(obj, AmountPeriod):
                noted.case(values_in_flush(obj, "case_id", "case"), first_month(obj))
            elif isinstance(obj, Member):
                noted.case(values_in_flush(obj, "case_id", "case"))
            elif isinstance(obj, Case):
                noted.region(values_in_flush(obj, "region_id", "region"))
        for obj in session.dirty:
            if isinstance(obj, AmountPeriod) and changed_in_flush(obj, "starts_on", "amount", "case_id", "case"):
                noted.case(values_in_flush(obj, "case_id", "case"), first_month(obj))
            elif isinstance(obj, Member) and changed_in_flush(obj, "case_id", "case"):
                noted.case(values_in_flush(obj, "case_id", "case"))
            elif isinstance(obj, Case) and changed_in_flush(obj, "category", "region_id", "region"):
                noted.region(values_in_flush(obj, "region_id", "region"))

    changes = flushed_regions(session, collect)
    if changes:
        invalidate_regions(session, changes)


def install_listeners() -> None:
    """Watch every ORM session (requests, jobs, the sweep, the CLI, tests), once per process."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_transaction_end", _forget_removed)



# --- reading ----------------------------------------------------------------------------------------------------

def _in_scope(root: Region | None):
    return scope.subtree_condition(root) if root is not None else true()


def stale(session: Session, root: Region | None, months: list[date]) -> dict[int, set[date]]:
    """Region id → the months of ``months`` not summarised, for the regions under ``root`` (every level: a town
    holds no households, but it is marked too, so only a changed community is looked at)."""
    counted = func.count(_done.c.month)
    partial = list(session.scalars(
        select(Region.id).outerjoin(_done, and_(_done.c.region_id == Region.id, _done.c.month.in_(months)))
        .where(_in_scope(root)).group_by(Region.id).having(counted < len(set(months)))))
    out: dict[int, set[date]] = {region_id: set(months) for region_id in partial}
    for chunk in chunks(partial):
        for region_id, month in session.execute(select(_done.c.region_id, _done.c.month)
                                                .where(_done.c.region_id.in_(chunk), _done.c.month.in_(months))):
            out[region_id].discard(month)
    return out


class Changed(Exception):  # noqa: N818 - a signal, not an error
    """The summary's marks moved between the look at which pairs are stale and the read: read again."""


def figures(session: Session, root: Region | None, months: list[date],
            display: list[Region] | None = None) -> Iterator[tuple]:
    """The rows of ``stats._paid_by_month(months, root)`` — (month, region id, path, category, households,
    persons, money) — from the summary for the marked pairs, live for the others. With ``display`` (the
    overview's rows: sibling regions) the summary's rows come added up per display region (its id and path): a
    few hundred rows for a county instead of its communities' thousands.

    One statement, so one snapshot: a pair counts from the summary when marked in it, live when not — never
    both, never neither, whatever commits meanwhile. The live part is narrowed to the communities found stale
    just before (a few, usually); should a pair of another community lose its mark in between, a sentinel row
    raises :class:`Changed` and the caller reads again."""
    from dibao.stats import _paid_by_month

    missing = stale(session, root, months)
    marked = (select(_rows.c.month, _rows.c.region_id, Region.path, _rows.c.category, _rows.c.households,
                     _rows.c.persons, _rows.c.money)
              .join(_done, and_(_done.c.region_id == _rows.c.region_id, _done.c.month == _rows.c.month))
              .join(Region, Region.id == _rows.c.region_id)
              .where(_in_scope(root), _rows.c.month.in_(months)))
    if display is not None:
        rows = marked.subquery()
        above = aliased(Region)
        # Under a display region: its path is a prefix of the community's (substr, not LIKE: no wildcards).
        marked = (select(rows.c.month, above.id, above.path, rows.c.category, func.sum(rows.c.households),
                         func.sum(rows.c.persons), func.sum(rows.c.money))
                  .join(above, func.substr(rows.c.path, 1, func.length(above.path)) == above.path)
                  .where(above.id.in_([r.id for r in display]))
                  .group_by(rows.c.month, above.id, above.path, rows.c.category))
    parts = [marked]
    # A few communities: only theirs, every month; many (a fresh database, a county-wide import): the scope.
    ids = sorted(missing) if len(missing) <= IN_CHUNK else None
    if ids is None or ids:
        live = _paid_by_month(months, root, ids).subquery()
        parts.append(select(live).where(~_marked(live.c.region_id, live.c.m)))
    if ids is not None:
        others = select(Region.id).where(_in_scope(root), Region.id.not_in(ids), _count_marked(months) < len(months))
        parts.append(select(literal(None, Date), literal(-1), literal(""), literal(0), literal(0), literal(0),
                            literal(0)).where(others.exists()))
    result = session.execute(union_all(*parts), execution_options={"yield_per": 2000})
    try:
        for row in result:
            if row[1] == -1:
                raise Changed
            yield row
    finally:
        result.close()


def _marked(region_id, month):
    return select(_done.c.region_id).where(_done.c.region_id == region_id, _done.c.month == month).exists()


def _count_marked(months: list[date]):
    return (select(func.count()).select_from(_done)
            .where(_done.c.region_id == Region.id, _done.c.month.in_(months)).scalar_subquery())


# --- refreshing and checking ------------------------------------------------------------------------------------

def lock(session: Session, region_ids: list[int]) -> list[int]:
    """Of these regions, those this transaction now holds exclusively (PostgreSQL: without waiting — a region a
    change holds is left out; elsewhere: all)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return sorted(region_ids)
    return sorted(conn.execute(text("SELECT r FROM unnest(CAST(:ids AS integer[])) AS r "
                                    "WHERE pg_try_advisory_xact_lock(CAST(:k AS integer), r)"),
                               {"k": _LOCK_CLASS, "ids": sorted(region_ids)}).scalars())


def refresh_regions(session: Session, region_ids: list[int], months: list[date]) -> list[int]:
    """Store the live figures of ``months`` for these regions and mark them, in the session's transaction (the
    caller commits at once: the locks are held until then). Returns the regions done."""
    from dibao.stats import _paid_by_month, as_date

    ids = lock(session, region_ids)
    if not ids:
        return []
    session.info.pop(_REMOVED, None)  # marks come back in this transaction: a change after them removes again
    months = sorted(set(months))
    rows = [{"region_id": region_id, "month": as_date(m), "category": category, "households": int(households),
             "persons": int(persons), "money": entitlement.summed_money(money)}
            for m, region_id, _path, category, households, persons, money
            in session.execute(_paid_by_month(months, None, ids))]
    conn = session.connection()
    for chunk in chunks(ids):
        conn.execute(delete(_rows).where(_rows.c.region_id.in_(chunk), _rows.c.month.in_(months)))
        conn.execute(delete(_done).where(_done.c.region_id.in_(chunk), _done.c.month.in_(months)))
    if rows:
        conn.execute(insert(_rows), rows)
    now = clock.now()
    conn.execute(insert(_done), [{"region_id": r, "month": m, "refreshed_at": now} for r in ids for m in months])
    return ids


@dataclass
class Refreshed:
    regions: int = 0  # regions (re)summarised
    pairs: int = 0  # (region, month) pairs marked
    busy: list[int] = field(default_factory=list)  # regions a change held: left for the next pass
    left: int = 0  # stale regions beyond the limit


def refresh(session: Session, root: Region | None = None, *, months: list[date] | None = None,
            limit: int | None = None, everything: bool = False) -> Refreshed:
    """Summarise the regions under ``root`` that have a month of ``months`` (default :func:`summary_months`)
    not summarised (``everything``: all of them, marked or not) — at most ``limit`` regions —
    :data:`BATCH` regions a transaction, each committed."""
    months = months or summary_months()
    if everything:
        todo = list(session.scalars(select(Region.id).where(_in_scope(root)).order_by(Region.id)))
    else:
        todo = sorted(stale(session, root, months))
    session.rollback()  # nothing held while the batches run
    out = Refreshed()
    if limit is not None and len(todo) > limit:
        out.left = len(todo) - limit
        todo = todo[:limit]
    for batch in chunks(todo, BATCH):
        done = refresh_regions(session, batch, months)
        session.commit()
        out.regions += len(done)
        out.pairs += len(done) * len(set(months))
        out.busy += sorted(set(batch) - set(done))
    return out


def run_pass(app, limit: int = SWEEP_REGIONS) -> Refreshed:
    """The sweep's share: up to ``limit`` stale regions, on a write session of their own."""
    with app.extensions["dibao.write_sessions"]() as session:
        done = refresh(session, limit=limit)
    if done.regions:
        log.info("statistics summary: %d regions refreshed, %d left", done.regions, done.left + len(done.busy))
    return done


@dataclass(frozen=True)
class Difference:
    region: str  # the region's code
    month: date
    category: int
    summary: tuple[int, int, Decimal] | None  # households, persons, money (None: no row)
    live: tuple[int, int, Decimal] | None


def verify(session: Session, root: Region | None = None) -> tuple[list[Difference], int]:
    """Recompute every summarised pair under ``root`` live and compare; returns the differences and the number
    of pairs checked. Each batch holds its regions (so no change is half seen) and is rolled back."""
    from dibao.stats import _paid_by_month, as_date

    marked: dict[int, set[date]] = defaultdict(set)
    for region_id, month in session.execute(select(_done.c.region_id, _done.c.month)
                                            .join(Region, Region.id == _done.c.region_id).where(_in_scope(root))):
        marked[region_id].add(month)
    session.rollback()
    differences: list[Difference] = []
    checked = 0
    for batch in chunks(sorted(marked), BATCH):
        ids = lock(session, batch)
        if ids:
            months = sorted(set().union(*(marked[r] for r in ids)))
            pairs = {(r, m) for r in ids for m in marked[r]}
            rows = session.execute(select(_done.c.region_id, _done.c.month)
                                   .where(_done.c.region_id.in_(ids), _done.c.month.in_(months)))
            pairs &= {(r, m) for r, m in rows}  # a change since the first read removed some: not compared
            checked += len(pairs)
            live = {(r, as_date(m), c): (int(h), int(p), entitlement.summed_money(t))
                    for m, r, _path, c, h, p, t in session.execute(_paid_by_month(months, None, ids))}
            stored = {(r, m, c): (h, p, entitlement.summed_money(t)) for r, m, c, h, p, t in session.execute(
                select(_rows.c.region_id, _rows.c.month, _rows.c.category, _rows.c.households, _rows.c.persons,
                       _rows.c.money).where(_rows.c.region_id.in_(ids), _rows.c.month.in_(months)))}
            codes = dict(session.execute(select(Region.id, Region.code).where(Region.id.in_(ids))).all())
            for key in sorted(set(live) | set(stored)):
                r, m, c = key
                if (r, m) in pairs and live.get(key) != stored.get(key):
                    differences.append(Difference(codes[r], m, c, stored.get(key), live.get(key)))
        session.rollback()
    return differences, checked
