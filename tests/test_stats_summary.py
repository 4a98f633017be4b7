"""Issue 13: the monthly statistics summary (dibao.stats_summary). The overview reads summarised (community, month)
pairs from it and computes the rest live; every change to a figure removes the community's marks in its own
transaction, so the very next overview equals the live computation without a refresh."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dibao import entitlement, imports, stats, stats_summary, sweep
from dibao.models import AmountChange, AmountPeriod, Member, Region
from dibao.models.stats_month import StatsMonth
from tests.case_helpers import standard, user
from tests.roster_files import clean_rows, write
from tests.stats_helpers import (
    _case,
    _fresh,
    _member_added,
    _member_moved,
    _member_removed,
    _paid,
    _region,
    _transferred,
)

MARCH = date(2026, 3, 1)  # the clock's month (tests.conftest.T0)


def _roots(session, world) -> list[Region | None]:
    return [None, *(_region(session, world, name) for name in ("county", "town_a", "town_b", "comm_a1"))]


def _same_as_live(session, world, month: date = MARCH) -> stats.Overview:
    """The overview (summary + live) equals the all-live one for every root; returns the county's."""
    _fresh(session)
    for root in _roots(session, world):
        got = stats.overview(session, root, month)
        live = stats.overview(session, root, month, summary=False)
        assert got.grid == live.grid, root
        assert got.by_category == live.by_category, root
    return stats.overview(session, _region(session, world, "county"), month)


def _figures(data: stats.Overview) -> tuple:
    return (data.grid, data.by_category)


@pytest.fixture
def households(session, world):
    """a1: 3 households (one category 2), a2: 2 at 300 (one category 3), b1: 1 — paid since January 2026."""
    standard(session, world)
    made = (_paid(session, world, "comm_a1", 3) + _paid(session, world, "comm_a2", 2, amount="300.00")
            + _paid(session, world, "comm_b1", 1, since=date(2025, 6, 1)))
    made[1].category = 2
    made[4].category = 3
    session.commit()
    return [c.id for c in made]


def _refreshed(session, world) -> None:
    done = stats_summary.refresh(session)
    assert done.regions >= 6 and not done.busy
    _fresh(session)
    assert stats_summary.stale(session, None, stats.month_list(MARCH)) == {}


def test_after_a_refresh_the_overview_is_read_from_the_summary_and_equals_the_live_figures(session, world,
                                                                                           households):
    before = _same_as_live(session, world)  # nothing summarised yet: all live
    assert before.total(MARCH).households == 6 and before.total(MARCH).persons == 12
    assert before.category_total(2).households == 1 and before.category_total(3).households == 1
    _refreshed(session, world)
    after = _same_as_live(session, world)
    assert _figures(after) == _figures(before)
    # It is the summary that answers: a tampered row shows (and `verify` finds it, below).
    session.execute(update(StatsMonth).where(StatsMonth.region_id == world.regions["comm_b1"],
                                             StatsMonth.month == MARCH).values(households=StatsMonth.households + 5))
    session.commit()
    tampered = stats.overview(session, _region(session, world, "county"), MARCH)
    assert tampered.cell(world.regions["town_b"], MARCH).households == 6
    differences, checked = stats_summary.verify(session)
    assert checked > 0
    assert [(d.region, d.month, d.summary[0], d.live[0]) for d in differences] == [("100002001", MARCH, 6, 1)]


def _new_period(session, world, ids, tmp_path):
    entitlement.start_period(session, None, _case(session, ids, 0), amount=Decimal("650.00"),
                             starts_on=date(2026, 2, 1), change=AmountChange.adjusted)


def _ended_period(session, world, ids, tmp_path):
    entitlement.start_period(session, None, _case(session, ids, 3), amount=Decimal("0"), starts_on=MARCH,
                             change=AmountChange.exited)


def _new_household(session, world, ids, tmp_path):
    _paid(session, world, "comm_b1", 2, since=date(2025, 11, 1))


def _amount_edited(session, world, ids, tmp_path):
    period = session.scalar(select(AmountPeriod).where(AmountPeriod.case_id == ids[5]))
    period.amount = Decimal("999.00")


def _period_deleted(session, world, ids, tmp_path):
    period = session.scalar(select(AmountPeriod).where(AmountPeriod.case_id == ids[1]))
    session.expire(period)  # deleted while expired: the hook still finds its household
    session.delete(period)


def _category_changed(session, world, ids, tmp_path):
    _case(session, ids, 0).category = 4


def _moved_by_relationship(session, world, ids, tmp_path):
    # From a1 (3 → 2): a2's household moving to b1 would change only figures that stay hidden (town A's total is
    # hidden, as town B's neighbour in the county's table).
    _case(session, ids, 2).region = _region(session, world, "comm_b1")


def _case_deleted(session, world, ids, tmp_path):
    case = _case(session, ids, 5)
    session.execute(AmountPeriod.__table__.delete().where(AmountPeriod.case_id == case.id))  # Core, then the case:
    session.delete(case)  # the case's own deletion is what tells the summary


def _imported(session, world, ids, tmp_path):
    rows = clean_rows(3, ["100001001", "100002001"])  # approved 2025-06-15: paid from July 2025
    imports.import_roster(session, user(session, world, "county"), write(tmp_path / "roster.xlsx", rows),
                          "roster.xlsx")


CHANGES = {
    "new period (amount change)": _new_period,
    "ended period": _ended_period,
    "new household": _new_household,
    "period amount edited": _amount_edited,
    "period deleted": _period_deleted,
    "member added": _member_added,
    "member removed": _member_removed,
    "member moved to another household": _member_moved,
    "category changed": _category_changed,
    "household moved to another community": _transferred,
    "household moved (relationship)": _moved_by_relationship,
    "household deleted": _case_deleted,
    "import (Core writes)": _imported,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_kind_of_change_shows_in_the_very_next_overview_without_a_refresh(session, world, households,
                                                                                tmp_path, change):
    _refreshed(session, world)
    before = _same_as_live(session, world)
    change(session, world, households, tmp_path)
    session.commit()
    after = _same_as_live(session, world)
    assert _figures(after) != _figures(before)  # the change did move a figure the summary held


def test_a_change_is_seen_inside_its_own_transaction_too(session, world, households):
    _refreshed(session, world)
    _category_changed(session, world, households, None)
    session.flush()
    county = _region(session, world, "county")
    assert _figures(stats.overview(session, county, MARCH)) == _figures(
        stats.overview(session, county, MARCH, summary=False))
    assert stats.overview(session, county, MARCH).category_total(4).households == 1


def test_time_alone_changes_no_summarised_month(session, world, households, clock):
    _refreshed(session, world)
    clock.set(clock.t0.replace(year=2027, month=2))  # months the refresh did not summarise come in
    _same_as_live(session, world, date(2027, 2, 1))
    _same_as_live(session, world, date(2026, 9, 1))
    assert stats_summary.verify(session)[0] == []
    assert stats_summary.refresh(session).regions >= 6  # the new months
    _same_as_live(session, world, date(2027, 2, 1))


def _published(client, region: str | None) -> list[tuple]:
    """What the open-data API answers (through the public cache, which tests keep on): every row and total."""
    query = f"region={region}&month=2026-03" if region else "month=2026-03"
    data = client.get(f"/api/v1/stats?{query}").get_json()
    return ([(row["region"]["code"], row["month"], row["households"], row["persons"], row["amount"])
             for row in data["rows"]]
            + [("total", row["month"], row["households"], row["persons"], row["amount"]) for row in data["totals"]])


_public_grid = stats.public_grid  # (not the counting stand-in a test below puts in its place)


def _live(session, region: Region | None) -> list[tuple]:
    """The same table computed now, without any cache or summary."""
    _fresh(session)
    table = stats.public_table(
        session, region, MARCH, grid_of=lambda root: _public_grid(session, root, MARCH, summary=False),
        totals_of=lambda counties: {county.id: stats.totals_of_grid(_public_grid(
            session, county, MARCH, summary=False), stats.month_list(MARCH)) for county in counties})

    def amount(cell):
        return f"{cell.money:.2f}" if cell.money is not None else None

    return ([(r.code, stats.month_label(m), table.cells[m][r.id].households, table.cells[m][r.id].persons,
              amount(table.cells[m][r.id])) for m in table.months for r in table.regions]
            + [("total", stats.month_label(m), table.totals[m].households, table.totals[m].persons,
                amount(table.totals[m])) for m in table.months])


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_the_cached_public_statistics_show_every_kind_of_change_on_the_next_request(client, session, world,
                                                                                    households, tmp_path, change):
    """/stats/ and /api/v1/stats keep a county's figures in the public cache under its version: every change
    that moves a figure bumps it in its own transaction (an amount period, a member, a household …)."""
    _refreshed(session, world)
    page_before = client.get("/stats/100?month=2026-03").get_data(as_text=True)
    before = {region: _published(client, region) for region in ("100", "100001", None)}
    assert before["100"] == _live(session, _region(session, world, "county"))
    change(session, world, households, tmp_path)
    session.commit()
    after = {}
    for region, root in (("100", "county"), ("100001", "town_a"), (None, None)):
        after[region] = _published(client, region)
        assert after[region] == _live(session, _region(session, world, root) if root else None), region
    if change is not _category_changed:  # categories are not published: the only change the tables cannot show
        assert after != before  # (a member moved between towns shows in town A's table only: town B's is "<3")
    if after["100"] != before["100"]:
        assert client.get("/stats/100?month=2026-03").get_data(as_text=True) != page_before


def test_every_countys_table_counts_all_counties_once_then_a_changed_county_alone(
        client, session, world, households, make_region, monkeypatch):
    make_region("200", "邻县")
    make_region("200001", "丙镇", parent="200")
    make_region("200001001", "丙一社区", parent="200001")
    world.regions["comm_c1"] = session.scalar(select(Region.id).where(Region.code == "200001001"))
    _paid(session, world, "comm_c1", 4, amount="410.00")
    session.commit()
    # The two ways to a county's totals give the same table: one count of every county, and its own figures.
    months = stats.month_list(MARCH)
    at_once = stats.public_table(session, None, MARCH)
    one_by_one = stats.public_table(session, None, MARCH, totals_of=lambda counties: {
        county.id: stats.totals_of_grid(stats.public_grid(session, county, MARCH), months) for county in counties})
    assert [r.code for r in at_once.regions] == ["100", "200"]
    assert (at_once.cells, at_once.totals) == (one_by_one.cells, one_by_one.totals)
    assert at_once.totals[MARCH].households == 10 and at_once.totals[MARCH].money == Decimal("4240.00")

    grids, everything = [], []
    real_grid, real_totals = stats.public_grid, stats.county_totals
    monkeypatch.setattr(stats, "public_grid", lambda s, root, *a: grids.append(root.code) or real_grid(s, root, *a))
    monkeypatch.setattr(stats, "county_totals", lambda *a: everything.append(1) or real_totals(*a))
    assert _published(client, None) == _live(session, None)
    assert (grids, everything) == ([], [1])  # the cache empty: every county in one count
    assert _published(client, None) == _live(session, None)
    assert (grids, everything) == ([], [1])  # nothing changed: both counties from the cache
    _new_period(session, world, households, None)  # county 100 only
    session.commit()
    assert _published(client, None) == _live(session, None)
    assert (grids, everything) == (["100"], [1])  # county 100 from its own figures, 200 from the cache
    assert _published(client, "100") == _live(session, _region(session, world, "county"))
    assert grids == ["100"]  # the county's page reads the figures its total was made of


def test_visitors_arriving_during_a_province_count_wait_for_it_instead_of_counting_again(
        app, session, world, households, make_region, monkeypatch):
    """After a province-wide change the every-county table takes seconds to count (19 s at 1,000,000
    households): a second visitor meanwhile gets the same figures from that one count."""
    import threading

    make_region("200", "邻县")
    make_region("200001", "丙镇", parent="200")
    session.commit()
    calls, started, release = [], threading.Event(), threading.Event()
    real_totals = stats.county_totals

    def slow_totals(*args):
        calls.append(1)
        if len(calls) == 1:
            started.set()
            release.wait(30)
        return real_totals(*args)

    monkeypatch.setattr(stats, "county_totals", slow_totals)
    answers = {}

    def visit(name):
        answers[name] = _published(app.test_client(), None)

    first = threading.Thread(target=visit, args=("first",))
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=visit, args=("second",))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first visitor's count, not counting again
    release.set()
    first.join(30)
    second.join(30)
    assert calls == [1]
    assert answers["first"] == answers["second"] == _live(session, None)


def test_the_sweep_refreshes_a_bounded_number_of_communities_per_run(app, session, world, households):
    months = stats.month_list(MARCH)
    assert len(stats_summary.stale(session, None, months)) >= 6
    first = stats_summary.run_pass(app, limit=2)
    assert first.regions == 2 and first.left >= 4
    sweep.run_sweep(app, media_gc=False)
    _fresh(session)
    assert stats_summary.stale(session, None, months) == {}
    _same_as_live(session, world)


def test_the_command_line_refreshes_and_verify_fails_on_a_tampered_row(runner, session, world, households):
    res = runner.invoke(args=["stats", "verify"])
    assert res.exit_code == 0 and "0 region-months checked" in res.output
    res = runner.invoke(args=["stats", "refresh", "--county", "100001"])
    assert res.exit_code == 0, res.output
    assert "3 regions refreshed" in res.output  # town A and its two communities, nothing else
    res = runner.invoke(args=["stats", "refresh"])
    assert res.exit_code == 0 and "regions refreshed" in res.output
    assert runner.invoke(args=["stats", "verify"]).exit_code == 0
    session.execute(update(StatsMonth).where(StatsMonth.region_id == world.regions["comm_a2"],
                                             StatsMonth.month == date(2026, 2, 1)).values(money=Decimal("1.00")))
    session.commit()
    res = runner.invoke(args=["stats", "verify"])
    assert res.exit_code == 1
    assert "DIFFERENT 100001002 2026-02" in res.output
    assert runner.invoke(args=["stats", "refresh"]).output.startswith("statistics summary: 0 regions")
    assert runner.invoke(args=["stats", "refresh", "--all"]).exit_code == 0
    assert runner.invoke(args=["stats", "verify"]).exit_code == 0
    assert runner.invoke(args=["stats", "refresh", "--county", "nowhere"]).exit_code != 0


def test_a_refresh_never_marks_a_community_a_transaction_is_changing(app, session, world, households):
    """PostgreSQL: the change holds its community (a shared advisory lock) until it commits; the refresh skips it
    instead of storing figures that change cannot be seen in yet."""
    if app.extensions["dibao.engine"].dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    writer = Session(app.extensions["dibao.engine"], expire_on_commit=False)
    try:
        _new_period(writer, world, households, None)
        writer.flush()  # the change is made, not committed
        done = stats_summary.refresh(session)
        assert done.busy == [world.regions["comm_a1"]]
        writer.commit()
    finally:
        writer.close()
    _same_as_live(session, world)
    assert world.regions["comm_a1"] in stats_summary.stale(session, None, stats.month_list(MARCH))
    assert stats_summary.refresh(session).regions == 1
    _same_as_live(session, world)


def test_a_member_added_by_the_orm_alone_counts_at_once(session, world, households):
    """Persons are the households' present members: any new member row, whoever adds it, moves every month."""
    _refreshed(session, world)
    session.add(Member(case_id=households[0], position=9, name="王九", relation="子女", age=9,
                       work_capacity="none", monthly_deduction=Decimal("0")))
    session.commit()
    assert _same_as_live(session, world).total(MARCH).persons == 13


@pytest.mark.parametrize("first_look", ["misses a changed community", "takes every community for stale"])
def test_the_read_is_right_whatever_the_first_look_at_the_marks_saw(session, world, households, monkeypatch,
                                                                    first_look):
    """The overview reads marks and rows in one statement: a community that lost its marks after the first look
    (here: the look misses it) is caught by the statement and read again, never left out; one refreshed after
    it (here: the look takes all for stale) counts once, from the summary, never twice."""
    _refreshed(session, world)
    _category_changed(session, world, households, None)
    session.commit()
    if first_look == "misses a changed community":
        monkeypatch.setattr(stats_summary, "stale", lambda *args: {})
    else:
        stats_summary.refresh(session)
        everything = session.scalars(select(Region.id)).all()
        monkeypatch.setattr(stats_summary, "stale", lambda _s, _r, months: {r: set(months) for r in everything})
    assert _same_as_live(session, world).category_total(4).households == 1


def test_a_change_after_a_rolled_back_savepoint_still_removes_the_marks(session, world, households):
    """A transaction removes a community's marks once (a 提标 flushes a household at a time); a savepoint rolled
    back brings them back, and the next change removes them again."""
    _refreshed(session, world)
    savepoint = session.begin_nested()
    _category_changed(session, world, households, None)
    session.flush()
    savepoint.rollback()
    _new_period(session, world, households, None)  # the same community
    session.commit()
    _same_as_live(session, world)
