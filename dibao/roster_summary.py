"""The roster summary (issue 13): what ``dibao.notices.roster_totals`` reads instead of every household in payment.

``roster_summary`` holds per region the standing roster's figures — its active households (``Case.stage ==
Stage.active``), their persons (members) and monthly money — and a region's row is its mark. A region is read
from the summary only when it has a row; every other region is counted live as before, in the same statement
(:func:`totals_rows`), so a figure never depends on a refresh having run. It follows ``dibao.stats_summary``
(read that module's docstring first) and shares its advisory locks: one lock per community for both summaries.

What moves a region's roster figures: a household created or deleted, its stage changing to or from ``active``,
its ``monthly_amount`` changing while active, its community changing (old and new), a member added, removed or
moved to another household. Nothing else — not the clock. Every such change deletes the region's row **in the
same transaction**:

* ORM writes: an ``after_flush`` hook of its own (a stage or amount change moves no statistics figure, so it
  leaves the statistics' marks alone). It does not trust a stage read earlier in the transaction (another may
  have moved the household since): any stage, amount or community change of an existing household deletes the
  row; only a household inserted by the flush itself, not in payment (a new application), and its members
  leave the rows alone;
* Core writes call :func:`invalidate_regions` themselves: ``dibao.imports`` (the roster import's bulk inserts)
  and ``dibao.workflow._step_many`` (a board's many stage changes, when one side is ``active``).
  ``dibao seed-scale`` (COPY into an empty database) writes no row and then refreshes everything itself.

Refresh (``dibao stats refresh`` and a bounded number of regions on every sweep) and check (``dibao stats
verify``) hold the same exclusive advisory locks as the statistics summary's, without waiting: a region an
uncommitted change holds is left for the next pass. Derived data: no audit event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import delete, event, func, insert, select, text, true, union_all
from sqlalchemy.orm import Session

from dibao import clock, entitlement, stats_summary
from dibao.db import chunks
from dibao.models import Case, Member, Region, Stage
from dibao.models.roster_summary import RosterSummary
from dibao.stats_summary import FlushNotes, changed_in_flush, flushed_regions, values_in_flush

log = logging.getLogger("dibao.roster_summary")

_rows = RosterSummary.__table__
BATCH = 100  # regions refreshed (and locked) in one transaction: ~30,000 households at 1,000,000
ANALYZE_AFTER = 500  # a refresh of this many regions or more analyses the table (see refresh)
_REMOVED = "dibao.roster_removed"  # session.info: region ids whose rows this transaction deleted


# --- invalidation ---------------------------------------------------------------------------------------------

def invalidate_regions(session: Session, region_ids: Iterable[int]) -> None:
    """Delete these regions' rows (their marks), in the session's transaction. Every write that bypasses the
    ORM and moves a household into or out of the roster, or changes an active household's amount, members or
    community, must call this."""
    removed = session.info.setdefault(_REMOVED, set())
    ids = sorted({region_id for region_id in region_ids if region_id is not None} - removed)
    if not ids:
        return
    stats_summary.hold(session, ids)
    conn = session.connection()
    for chunk in chunks(ids):
        conn.execute(delete(_rows).where(_rows.c.region_id.in_(chunk)))
    removed.update(ids)


def _forget_removed(session: Session, transaction) -> None:
    session.info.pop(_REMOVED, None)  # any end, a savepoint's too (its rollback brings the rows back)


def _not_active(obj) -> bool:
    """A household this flush inserts with a stage other than ``active``: no roster figure (nor its members')."""
    return Stage.active not in values_in_flush(obj, "stage") and bool(values_in_flush(obj, "stage"))


def _after_flush(session: Session, flush_context) -> None:
    """Delete the rows of every region whose roster figures this flush may have changed (see the module's
    docstring: a region without a row only costs a live count of its own households until the sweep)."""
    applications = {obj.id for obj in session.new if isinstance(obj, Case) and _not_active(obj)}

    def collect(noted: FlushNotes) -> None:
        for obj in session.new:
            if isinstance(obj, Member):
                households = values_in_flush(obj, "case_id", "case")
                if not households or households - applications:
                    noted.case(households)
            elif isinstance(obj, Case) and obj.id not in applications:
                noted.region(values_in_flush(obj, "region_id", "region"))
        for obj in session.deleted:
            if isinstance(obj, Member):
                noted.case(values_in_flush(obj, "case_id", "case"))
            elif isinstance(obj, Case):
                noted.region(values_in_flush(obj, "region_id", "region"))
        for obj in session.dirty:
            if isinstance(obj, Member) and changed_in_flush(obj, "case_id", "case"):
                noted.case(values_in_flush(obj, "case_id", "case"))
            elif isinstance(obj, Case) and changed_in_flush(obj, "stage", "monthly_amount", "region_id", "region"):
                noted.region(values_in_flush(obj, "region_id", "region"))

    changes = flushed_regions(session, collect)  # the months do not matter here: a region's row is all or nothing
    if changes:
        invalidate_regions(session, changes)


def install_listeners() -> None:
    """Watch every ORM session, once per process (``dibao.create_app``, beside the statistics summary's)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_transaction_end", _forget_removed)


# --- reading ----------------------------------------------------------------------------------------------------

def _in_scope(root: Region | None):
    # The roster's own scope (dibao.notices._roster_select): the region's path is a prefix.
    return Region.path.startswith(root.path, autoescape=True) if root is not None else true()


def _marked(region_id):
    return select(_rows.c.region_id).where(_rows.c.region_id == region_id).exists()


def stale(session: Session, root: Region | None) -> list[int]:
    """The regions under ``root`` (every level) without a row."""
    return list(session.scalars(select(Region.id).where(_in_scope(root), ~_marked(Region.id)).order_by(Region.id)))


def _live(root: Region | None):
    """The roster's figures per community path, counted over its households (what the summary spares)."""
    from dibao.notices import _roster_select

    return _roster_select(select(Region.path, func.count(Case.id), func.coalesce(func.sum(Case.household_size), 0),
                                 func.coalesce(func.sum(Case.monthly_amount), 0)), root).group_by(Region.path)


def totals_rows(session: Session, root: Region | None, *, summary: bool = True) -> list[tuple]:
    """(path, households, persons, money) per region of ``root``'s roster with a household in it, in path order
    (the roster's): from the summary for the regions with a row, live for the others — or all live.

    One statement, so one snapshot: a region counts from its row or, having none, live — never both, never
    neither, whatever commits meanwhile. The live part starts from the scope's regions without a row (none or a
    few, usually) and reaches their households by the index on ``(region_id, stage, …)``."""
    live = _live(root)
    if not summary:
        return [tuple(row) for row in session.execute(live.order_by(Region.path))]
    marked = (select(Region.path, _rows.c.households, _rows.c.persons, _rows.c.money)
              .join(Region, Region.id == _rows.c.region_id).where(_in_scope(root), _rows.c.households > 0))
    both = union_all(marked, live.where(~_marked(Region.id))).subquery()
    return [tuple(row) for row in session.execute(select(both).order_by(both.c.path))]


# --- refreshing and checking ------------------------------------------------------------------------------------

def _figures(session: Session, region_ids: list[int]) -> dict[int, tuple[int, int, Decimal]]:
    """Region id → (households, persons, money) of these regions' own households in payment, live; every id."""
    out = dict.fromkeys(region_ids, (0, 0, Decimal("0.00")))
    for chunk in chunks(region_ids):
        stmt = (select(Case.region_id, func.count(Case.id), func.coalesce(func.sum(Case.household_size), 0),
                       func.coalesce(func.sum(Case.monthly_amount), 0))
                .where(Case.stage == Stage.active, Case.region_id.in_(chunk)).group_by(Case.region_id))
        for region_id, households, persons, money in session.execute(stmt):
            out[region_id] = (int(households), int(persons), entitlement.summed_money(money))
    return out


def refresh_regions(session: Session, region_ids: list[int]) -> list[int]:
    """Store the live figures of these regions, in the session's transaction (the caller commits at once: the
    locks are held until then). Returns the regions done (those no change held)."""
    ids = stats_summary.lock(session, region_ids)
    if not ids:
        return []
    session.info.pop(_REMOVED, None)  # rows come back in this transaction: a change after them deletes again
    figures = _figures(session, ids)  # after the locks: sees every change that committed before them
    conn = session.connection()
    for chunk in chunks(ids):
        conn.execute(delete(_rows).where(_rows.c.region_id.in_(chunk)))
    now = clock.now()
    conn.execute(insert(_rows), [{"region_id": r, "households": h, "persons": p, "money": m, "refreshed_at": now}
                                 for r, (h, p, m) in figures.items()])
    return ids


@dataclass
class Refreshed:
    regions: int = 0  # regions (re)summarised
    busy: list[int] = field(default_factory=list)  # regions a change held: left for the next pass
    left: int = 0  # stale regions beyond the limit


def refresh(session: Session, root: Region | None = None, *, limit: int | None = None,
            everything: bool = False) -> Refreshed:
    """Summarise the regions under ``root`` without a row (``everything``: all of them) — at most ``limit`` —
    :data:`BATCH` regions a transaction, each committed."""
    if everything:
        todo = list(session.scalars(select(Region.id).where(_in_scope(root)).order_by(Region.id)))
    else:
        todo = stale(session, root)
    session.rollback()  # nothing held while the batches run
    out = Refreshed()
    if limit is not None and len(todo) > limit:
        out.left = len(todo) - limit
        todo = todo[:limit]
    for batch in chunks(todo, BATCH):
        done = refresh_regions(session, batch)
        session.commit()
        out.regions += len(done)
        out.busy += sorted(set(batch) - set(done))
    if out.regions >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # A table just filled looks empty to the planner until analysed (autovacuum may be off): a province's
        # totals were then costed as if every region were counted live, past jit_above_cost (+13 ms of JIT).
        session.execute(text("ANALYZE roster_summary"))
        session.commit()
    return out


def run_pass(app, limit: int = stats_summary.SWEEP_REGIONS) -> Refreshed:
    """The sweep's share: up to ``limit`` stale regions, on a write session of their own."""
    with app.extensions["dibao.write_sessions"]() as session:
        done = refresh(session, limit=limit)
    if done.regions:
        log.info("roster summary: %d regions refreshed, %d left", done.regions, done.left + len(done.busy))
    return done


@dataclass(frozen=True)
class Difference:
    region: str  # the region's code
    summary: tuple[int, int, Decimal]  # households, persons, money
    live: tuple[int, int, Decimal]


def verify(session: Session, root: Region | None = None) -> tuple[list[Difference], int]:
    """Recompute every summarised region under ``root`` live and compare; returns the differences and the number
    of regions checked. Each batch holds its regions (so no change is half seen) and is rolled back."""
    marked = list(session.scalars(select(_rows.c.region_id).join(Region, Region.id == _rows.c.region_id)
                                  .where(_in_scope(root)).order_by(_rows.c.region_id)))
    session.rollback()
    differences: list[Difference] = []
    checked = 0
    for batch in chunks(marked, BATCH):
        ids = stats_summary.lock(session, batch)
        if ids:
            stored = {r: (h, p, entitlement.summed_money(m)) for r, h, p, m in session.execute(
                select(_rows.c.region_id, _rows.c.households, _rows.c.persons, _rows.c.money)
                .where(_rows.c.region_id.in_(ids)))}  # a change since the first read deleted some: not compared
            live = _figures(session, sorted(stored))
            codes = dict(session.execute(select(Region.id, Region.code).where(Region.id.in_(ids))).all())
            checked += len(stored)
            differences += [Difference(codes[r], stored[r], live[r]) for r in sorted(stored) if stored[r] != live[r]]
        session.rollback()
    return differences, checked
