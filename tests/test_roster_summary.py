"""Issue 13: the roster summary (dibao.roster_summary). The roster's totals read the regions it holds from it and
count the rest live; every change to a region's roster figures deletes its row in its own transaction, so the very
next roster_totals equals the live computation without a refresh."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dibao import imports, notices, roster_summary, stats, stats_summary, sweep, workflow
from dibao.models import AmountPeriod, Level, Member, NoticeBatch, Region, Stage
from dibao.models.roster_summary import RosterSummary
from tests.case_helpers import standard, user
from tests.factories import case_awaiting_notice, make_case
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
    return [None, *(_region(session, world, name) for name in ("county", "town_a", "town_b", "comm_a1", "comm_b1"))]


def _same_as_live(session, world) -> list[notices.RosterTotals]:
    """roster_totals (summary + live) equals the all-live count for every root; returns them, the whole
    roster's first."""
    _fresh(session)
    out = []
    for root in _roots(session, world):
        out.append(notices.roster_totals(session, root))
        assert out[-1] == notices.roster_totals(session, root, summary=False), root
    return out


def _rows(session) -> dict[int, tuple[int, int, Decimal]]:
    return {r.region_id: (r.households, r.persons, r.money) for r in session.scalars(select(RosterSummary))}


@pytest.fixture
def households(session, world):
    """a1: 3 active (500), a2: 2 active (300), b1: 1 active; two of a1 awaiting the county's approval."""
    standard(session, world)
    made = (_paid(session, world, "comm_a1", 3) + _paid(session, world, "comm_a2", 2, amount="300.00")
            + _paid(session, world, "comm_b1", 1, since=date(2025, 6, 1))
            + _paid(session, world, "comm_a1", 2, stage=Stage.county_approval))
    session.commit()
    return [c.id for c in made]


def _refreshed(session, world) -> None:
    done = roster_summary.refresh(session)
    assert done.regions >= 6 and not done.busy
    _fresh(session)
    assert roster_summary.stale(session, None) == []


def test_after_a_refresh_the_totals_are_read_from_the_summary_and_equal_the_live_figures(session, world,
                                                                                        households):
    before = _same_as_live(session, world)[0]  # nothing summarised yet: all live
    assert (before.households, before.persons, before.amount) == (6, 12, Decimal("2600.00"))
    _refreshed(session, world)
    assert _rows(session)[world.regions["comm_a1"]] == (3, 6, Decimal("1500.00"))
    assert _rows(session)[world.regions["town_a"]] == (0, 0, Decimal("0"))  # every level has its row
    after = _same_as_live(session, world)[0]
    assert after == before
    assert after.communities == (("/100/100001/100001001/", 3), ("/100/100001/100001002/", 2),
                                 ("/100/100002/100002001/", 1))
    # It is the summary that answers: a tampered row shows (and `verify` finds it, below).
    session.execute(update(RosterSummary).where(RosterSummary.region_id == world.regions["comm_b1"])
                    .values(households=4, money=Decimal("1.00")))
    session.commit()
    tampered = notices.roster_totals(session, _region(session, world, "town_b"))
    assert (tampered.households, tampered.amount) == (4, Decimal("1.00"))
    differences, checked = roster_summary.verify(session)
    assert checked == 6
    assert [(d.region, d.summary[0], d.live[0]) for d in differences] == [("100002001", 4, 1)]


def _new_household(session, world, ids, tmp_path):
    _paid(session, world, "comm_b1", 2)


def _county_board_closes(session, world, ids, tmp_path):
    """公示 at the county, the window closes, the sweep moves the households into payment (ORM, one by one)."""
    cases = [case_awaiting_notice(session, _region(session, world, "comm_a2"), Level.county) for _ in range(2)]
    notices.publish(session, user(session, world, "county"), case_ids=[c.id for c in cases], title="县级审批公示")
    session.commit()
    at = session.scalar(select(func.max(NoticeBatch.closes_at))) + timedelta(minutes=1)
    for batch_id in notices.due_batch_ids(session, at):
        closing = notices.close_batch(session, batch_id, at)
        assert len(closing.moved) == 2
    assert {c.stage for c in cases} == {Stage.active}


def _approved_many(session, world, ids, tmp_path):
    """A Core UPDATE of many households' stage (workflow._step_many), straight into payment."""
    workflow._step_many(session, [_case(session, ids, 6), _case(session, ids, 7)], Stage.active,
                        action="county_approved")


def _exited(session, world, ids, tmp_path):
    workflow.exit_case(session, user(session, world, "county"), _case(session, ids, 0), "家庭收入已超过低保标准")


def _sent_back(session, world, ids, tmp_path):
    _case(session, ids, 3).stage = Stage.investigating  # out of payment by the ORM alone


def _amount_adjusted(session, world, ids, tmp_path):
    workflow.adjust_amount(session, user(session, world, "county"), _case(session, ids, 5), amount=Decimal("123.00"),
                           reason="家庭成员收入减少，调整保障金额")


def _amount_edited(session, world, ids, tmp_path):
    _case(session, ids, 4).monthly_amount = Decimal("301.00")


def _to_another_county(session, world, ids, tmp_path):
    from dibao import regions

    county = regions.create_region(session, None, code="200", name="邻县", parent=None)
    town = regions.create_region(session, None, code="200001", name="丙镇", parent=county)
    community = regions.create_region(session, None, code="200001001", name="丙一社区", parent=town)
    session.flush()
    _case(session, ids, 3).region_id = community.id


def _case_deleted(session, world, ids, tmp_path):
    case = _case(session, ids, 5)
    session.execute(AmountPeriod.__table__.delete().where(AmountPeriod.case_id == case.id))
    session.delete(case)


def _imported(session, world, ids, tmp_path):
    rows = clean_rows(3, ["100001001", "100002001"])
    imports.import_roster(session, user(session, world, "county"), write(tmp_path / "roster.xlsx", rows),
                          "roster.xlsx")


CHANGES = {
    "new household in payment": _new_household,
    "county board closes (approval to active)": _county_board_closes,
    "many approved at once (Core UPDATE)": _approved_many,
    "exit": _exited,
    "sent back (stage by the ORM)": _sent_back,
    "amount adjusted": _amount_adjusted,
    "amount edited (ORM)": _amount_edited,
    "member added": _member_added,
    "member removed": _member_removed,
    "member moved to another household": _member_moved,
    "household moved to another community": _transferred,
    "household moved to another county": _to_another_county,
    "household deleted": _case_deleted,
    "import (Core writes)": _imported,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_kind_of_change_shows_in_the_very_next_totals_without_a_refresh(session, world, households,
                                                                              tmp_path, change):
    _refreshed(session, world)
    before = _same_as_live(session, world)
    change(session, world, households, tmp_path)
    session.commit()
    after = _same_as_live(session, world)
    assert after != before  # the change did move a figure the summary held
    assert roster_summary.stale(session, None)  # by deleting a row, not by luck
    # A refresh brings the rows back with the new figures.
    assert roster_summary.refresh(session).regions >= 1
    assert _same_as_live(session, world) == after
    assert roster_summary.verify(session)[0] == []
    assert roster_summary.stale(session, None) == []


def test_changes_that_move_no_roster_figure_keep_the_rows_and_a_stage_change_keeps_the_statistics_marks(
        session, world, households):
    _refreshed(session, world)
    assert stats_summary.refresh(session).regions >= 6
    rows = _rows(session)
    make_case(session, _region(session, world, "comm_a1"), stage=Stage.applied)  # a new application, its members
    session.commit()
    _case(session, households, 0).category = 3  # no roster figure
    _case(session, households, 1).public_address = "甲一社区幸福路"
    session.commit()
    _fresh(session)
    assert _rows(session) == rows
    # An active household's amount and stage move the roster, not the statistics (those read amount periods).
    _amount_edited(session, world, households, None)
    _sent_back(session, world, households, None)
    session.commit()
    _fresh(session)
    assert set(rows) - set(_rows(session)) == {world.regions["comm_a2"]}
    assert stats_summary.stale(session, None, stats.month_list(MARCH)) == {
        world.regions["comm_a1"]: set(stats.month_list(MARCH))}  # the category change: a statistics figure
    _same_as_live(session, world)


def test_a_change_is_seen_inside_its_own_transaction_too(session, world, households):
    _refreshed(session, world)
    _exited(session, world, households, None)
    session.flush()
    a1 = _region(session, world, "comm_a1")
    assert notices.roster_totals(session, a1) == notices.roster_totals(session, a1, summary=False)
    assert notices.roster_totals(session, a1).households == 2


def test_the_public_roster_shows_a_change_on_the_next_request_with_the_cache_on(app, client, session, world,
                                                                              households):
    app.config["PUBLIC_CACHE"] = True
    _refreshed(session, world)

    def shown(url):
        html = client.get(url).get_data(as_text=True)
        return tuple(re.search(r"共 (\d+) 户 (\d+) 人，每月保障金合计 ([\d.]+) 元", html).groups())

    assert shown("/roster/100") == ("6", "12", "2600.00")
    assert shown("/roster/") == ("6", "12", "2600.00")
    assert shown("/roster/100") == ("6", "12", "2600.00")  # served again (cached)
    _amount_edited(session, world, households, None)  # 300 → 301
    session.commit()
    assert shown("/roster/100") == ("6", "12", "2601.00")
    assert shown("/roster/") == ("6", "12", "2601.00")
    _exited(session, world, households, None)
    session.commit()
    assert shown("/roster/100001001") == ("2", "4", "1000.00")
    assert shown("/roster/") == ("5", "10", "2101.00")


def test_the_sweep_refreshes_a_bounded_number_of_regions_per_run(app, session, world, households):
    assert len(roster_summary.stale(session, None)) == 6
    first = roster_summary.run_pass(app, limit=2)
    assert first.regions == 2 and first.left == 4
    sweep.run_sweep(app, media_gc=False)
    _fresh(session)
    assert roster_summary.stale(session, None) == []
    _same_as_live(session, world)


def test_the_command_line_refreshes_both_summaries_and_verify_fails_on_a_tampered_row(runner, session, world,
                                                                                   households):
    res = runner.invoke(args=["stats", "verify"])
    assert res.exit_code == 0 and "0 regions checked" in res.output
    res = runner.invoke(args=["stats", "refresh", "--county", "100001"])
    assert res.exit_code == 0, res.output
    assert "roster summary: 3 regions refreshed" in res.output  # town A and its two communities
    res = runner.invoke(args=["stats", "refresh"])
    assert res.exit_code == 0 and "roster summary: 3 regions refreshed" in res.output  # the rest
    res = runner.invoke(args=["stats", "verify"])
    assert res.exit_code == 0 and "roster summary agrees with the live figures: 6 regions checked" in res.output
    session.execute(update(RosterSummary).where(RosterSummary.region_id == world.regions["comm_a2"])
                    .values(persons=99))
    session.commit()
    res = runner.invoke(args=["stats", "verify"])
    assert res.exit_code == 1
    assert "DIFFERENT roster 100001002" in res.output and "statistics summary agrees" in res.output
    assert "roster summary: 0 regions" in runner.invoke(args=["stats", "refresh"]).output
    assert "roster summary: 6 regions" in runner.invoke(args=["stats", "refresh", "--all"]).output
    assert runner.invoke(args=["stats", "verify"]).exit_code == 0


def test_a_refresh_never_marks_a_community_a_transaction_is_changing(app, session, world, households):
    """PostgreSQL: the change holds its community (the statistics summary's shared advisory lock) until it
    commits; the refresh skips it instead of storing figures that change cannot be seen in yet."""
    if app.extensions["dibao.engine"].dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    writer = Session(app.extensions["dibao.engine"], expire_on_commit=False)
    try:
        _amount_edited(writer, world, households, None)  # comm_a2, an ORM change the statistics ignore
        writer.flush()  # made, not committed
        done = roster_summary.refresh(session)
        assert done.busy == [world.regions["comm_a2"]] and done.regions == 5
        writer.commit()
    finally:
        writer.close()
    assert _same_as_live(session, world)[0].amount == Decimal("2601.00")
    assert roster_summary.stale(session, None) == [world.regions["comm_a2"]]
    assert roster_summary.refresh(session).regions == 1
    _same_as_live(session, world)
    assert roster_summary.verify(session)[0] == []


def test_a_change_after_a_rolled_back_savepoint_still_deletes_the_row(session, world, households):
    _refreshed(session, world)
    savepoint = session.begin_nested()
    _amount_edited(session, world, households, None)
    session.flush()
    savepoint.rollback()
    _case(session, households, 3).monthly_amount = Decimal("1.00")  # the same community
    session.commit()
    assert _same_as_live(session, world)[0].amount == Decimal("2301.00")


def test_a_member_added_by_the_orm_alone_counts_at_once(session, world, households):
    _refreshed(session, world)
    session.add(Member(case_id=households[0], position=9, name="王九", relation="子女", age=9,
                       work_capacity="none", monthly_deduction=Decimal("0")))
    session.commit()
    assert _same_as_live(session, world)[0].persons == 13
