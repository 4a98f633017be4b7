"""The public statistics (/stats/, /api/v1/stats: households in force) and the public funds (/funds/,
/api/v1/funds: households the bank paid) of a region and month hide the same cells and the same totals, at every
level: the paid figures are mostly the figures in force, so a cell one side hides and the other shows would be
read off the other (tests/suppression_helpers.read_across) and undo the first side's suppression. Two ways it
did, each with the smallest data that shows it; then a small tree of regions with a month paid in full, a month
with failed lines and a month without a run, every table compared month by month, and the kiosk's funds slide
with the community's page; a town whose own joint table cannot publish its total though neither side alone
would pin a cell (each row's stats.RowFacts are read from both sides), and a search over small random trees."""

from __future__ import annotations

import os
import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from dibao import entitlement, payments, stats
from dibao.models import Level, Region, Stage
from dibao.models.payment import LineStatus, PaymentLine, PaymentRun, RunStatus
from tests.case_helpers import valid_id
from tests.factories import make_case
from tests.suppression_helpers import hidden_codes, pinned, read_across, subtracted, tables

MARCH = "2026-03"


def _households(session, layout: dict[str, tuple[int, ...]], runs: dict[date, int]) -> None:
    """``layout``: community code → (households in force since January 2026, then how many of them the bank
    paid in each month of ``runs`` — month → the position of that month's count in the tuple); every household
    of 2 persons at 500 yuan, a line not paid failed."""
    made: dict[str, list] = {}
    for code, (in_force, *_paid) in layout.items():
        region = session.scalar(select(Region).where(Region.code == code))
        made[code] = []
        for _ in range(in_force):
            case = make_case(session, region, stage=Stage.active, id_number=valid_id(), amount=Decimal("500.00"),
                             members=2)
            entitlement.start_period(session, None, case, amount=Decimal("500.00"), starts_on=date(2026, 1, 1),
                                     change=entitlement.AmountChange.approved)
            made[code].append((region, case))
    for month, position in runs.items():
        by_county: dict[str, PaymentRun] = {}
        for code, counts in layout.items():
            county = code[:3]
            if county not in by_county:
                run = PaymentRun(county_id=session.scalar(select(Region.id).where(Region.code == county)),
                                 month=month, status=RunStatus.returned, generated_by_name="测试",
                                 generated_at=datetime(month.year, month.month, 5, 2, tzinfo=UTC))
                session.add(run)
                session.flush()
                by_county[county] = run
            for i, (region, case) in enumerate(made[code]):
                session.add(PaymentLine(
                    run_id=by_county[county].id, case_id=case.id, town_id=region.parent_id, region_id=region.id,
                    category=case.category, persons=2, amount=Decimal("500.00"), arrears=Decimal("0.00"),
                    total=Decimal("500.00"), status=LineStatus.paid if i < counts[position] else LineStatus.failed))
    session.commit()


def _same(layout: dict[str, tuple[int, ...]], position: int) -> set[str]:
    """The regions ("*": every county) whose households paid in the month at ``position`` of ``layout`` are all
    those in force: their figures are the same on both sides (the visitor who takes one side's number for the
    other's is right there)."""
    out = {"*"} | {region for code in layout for region in (code[:3], code[:6], code)}
    for code, counts in layout.items():
        if counts[position] != counts[0]:
            out -= {"*", code[:3], code[:6], code}
    return out


def _both(client, codes, month=MARCH):
    return tables(client, "/api/v1/funds", codes, month), tables(client, "/api/v1/stats", codes, month)


def _hidden(published: dict[str | None, dict]) -> dict:
    """Per table: the rows hidden, and whether its total is."""
    return {code: ({r["region"]["code"] for r in t["rows"] if r["suppressed"]}, t["total"]["suppressed"])
            for code, t in published.items()}


def _small_found(published, across, small: dict[str, tuple]) -> dict[str, tuple]:
    """The cells of ``small`` (code → the true (households, persons, yuan) of a cell of 1 or 2 households that
    ``published`` hides) that a visitor finds exactly, reading ``published`` across the other side (``across``):
    by subtraction, or by bounds ("<3" is 1 or 2, "*" 3 or more)."""
    found = subtracted(across)
    by_bounds = pinned(across)
    hidden = {code for code, (rows, _total) in _hidden(published).items() for code in rows}
    return {code: truth for code, truth in small.items() if code in hidden
            and (found.get(code) == truth or by_bounds.get(code) == truth[0])}


# 1. A complement the funds hide, the statistics show. 甲镇: 甲一 2 households in force (1 paid: a line
# failed), 甲二 1, 甲三 1, 甲四 3 (all paid); 乙街道 4. The statistics hide 甲镇's three "<3" (2, 1, 1: 7 − 3
# leaves 4, which they share in three ways) and show its 7. The funds' three "<3" are 1, 1, 1 whatever 甲镇's
# table hides (6 − 3), so the funds hide 甲镇's total, in the county's table too, with 乙街道 as its complement
# — which the statistics showed as 4: taken for the funds' 4, 10 − 4 = 6 for 甲镇, 6 − 3 = 3 for three "<3".

FUNDS_COMPLEMENT = {"100001001": (2, 1), "100001002": (1, 1), "100001003": (1, 1), "100001004": (3, 3),
                    "100002001": (4, 4)}


@pytest.fixture
def funds_complement(session, world, make_region):
    make_region("100001003", "甲三社区", parent="100001")
    make_region("100001004", "甲四社区", parent="100001")
    _households(session, FUNDS_COMPLEMENT, {date(2026, 3, 1): 1})


def test_a_complement_only_the_funds_needed_is_hidden_in_the_statistics_too(client, funds_complement):
    codes = [None, "100", "100001", "100002", "100001001", "100001002", "100001003", "100001004", "100002001"]
    funds, public = _both(client, codes)
    paid_small = {"100001001": (1, 2, Decimal("500.00")), "100001002": (1, 2, Decimal("500.00")),
                  "100001003": (1, 2, Decimal("500.00"))}
    same = _same(FUNDS_COMPLEMENT, 1)
    assert _small_found(funds, read_across(funds, public, same), paid_small) == {}
    in_force_small = {"100001001": (2, 4, Decimal("1000.00")), "100001002": (1, 2, Decimal("500.00")),
                      "100001003": (1, 2, Decimal("500.00"))}
    assert _small_found(public, read_across(public, funds, same), in_force_small) == {}
    county_stats = {r["region"]["code"]: r for r in public["100"]["rows"]}
    assert county_stats["100002"]["suppressed_because"] == "complement"  # the funds' complement: hidden here too
    assert county_stats["100001"]["suppressed"] and public["100001"]["total"]["suppressed"]
    assert _hidden(funds) == _hidden(public)
    assert public["100"]["total"]["households"] == 11 and funds["100"]["total"]["households"] == 10


# 2. A cell small in the funds alone. 甲镇: 甲一 3 households in force, 2 paid; 甲二 4 and 甲三 5, all paid. The
# statistics hid nothing; the funds hide 甲一 "<3" and 甲二 (their smallest), which the statistics showed as 4:
# 11 − 5 − 4 = 2, 甲一's paid households (and its persons and yuan the same way).

SMALL_IN_FUNDS = {"100001001": (3, 2), "100001002": (4, 4), "100001003": (5, 5), "100002001": (4, 4)}


@pytest.fixture
def small_in_funds(session, world, make_region):
    make_region("100001003", "甲三社区", parent="100001")
    _households(session, SMALL_IN_FUNDS, {date(2026, 3, 1): 1})


def test_a_cell_small_only_in_the_funds_is_hidden_in_the_statistics_too(client, small_in_funds):
    codes = [None, "100", "100001", "100002", "100001001", "100001002", "100001003", "100002001"]
    funds, public = _both(client, codes)
    same = _same(SMALL_IN_FUNDS, 1)
    assert _small_found(funds, read_across(funds, public, same), {"100001001": (2, 4, Decimal("1000.00"))}) == {}
    town_funds = {r["region"]["code"]: r for r in funds["100001"]["rows"]}
    town_stats = {r["region"]["code"]: r for r in public["100001"]["rows"]}
    assert town_funds["100001001"]["suppressed_because"] == "small"  # 2 paid: "<3"
    assert town_stats["100001001"]["suppressed_because"] == "complement"  # 3 in force: "*", not "<3"
    assert town_stats["100001002"]["suppressed"] and town_stats["100001003"]["households"] == 5
    assert _hidden(funds) == _hidden(public)
    assert pinned(public) == {} and pinned(funds) == {}


# 3. A tree of two counties: January in force but no run (the funds nothing), February paid in full, March with
# failed lines — both patterns above, in 甲镇 and in 丙镇.
TREE = {  # community → (in force, paid in February, paid in March)
    "100001001": (2, 2, 1), "100001002": (1, 1, 1), "100001003": (1, 1, 1), "100001004": (3, 3, 3),
    "100002001": (4, 4, 4),
    "200001001": (3, 3, 2), "200001002": (4, 4, 4), "200001003": (5, 5, 5),
    "200002001": (6, 6, 6),
}
TREE_CODES = [None, "100", "100001", "100002", "200", "200001", "200002", *TREE]
MONTHS = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]


@pytest.fixture
def tree(session, world, make_region):
    make_region("100001003", "甲三社区", parent="100001")
    make_region("100001004", "甲四社区", parent="100001")
    make_region("200", "邻县")
    make_region("200001", "丙镇", parent="200")
    make_region("200002", "丁镇", parent="200")
    for code, name in (("200001001", "丙一村"), ("200001002", "丙二村"), ("200001003", "丙三村")):
        make_region(code, name, parent="200001")
    make_region("200002001", "丁一村", parent="200002")
    _households(session, TREE, {date(2026, 2, 1): 1, date(2026, 3, 1): 2})


def test_every_table_of_every_month_hides_the_same_cells_on_both_sides(client, session, tree):
    """/api/v1/stats of March (12 months) against /api/v1/funds of each month, every region: the same rows and
    totals hidden; nothing either side hides read off the other, nor by bounds."""
    public12 = {code: client.get("/api/v1/stats?month=2026-03" + (f"&region={code}" if code else "")).get_json()
                for code in TREE_CODES}
    for m in MONTHS:
        label = stats.month_label(m)
        public = {code: {"rows": [r for r in body["rows"] if r["month"] == label],
                         "total": next(t for t in body["totals"] if t["month"] == label)}
                  for code, body in public12.items()}
        if m == MONTHS[0]:  # no run: the funds add nothing to what the statistics hide, and the funds page of
            # that month shows the latest paid instead of a table of zeros
            assert _hidden(public) == _hidden(tables(client, "/api/v1/stats", TREE_CODES, label))
            assert client.get(f"/api/v1/funds?month={label}").get_json()["month"] == MARCH
            continue
        funds = tables(client, "/api/v1/funds", TREE_CODES, label)
        assert _hidden(funds) == _hidden(public), label
        same = _same(TREE, MONTHS.index(m))
        assert pinned(read_across(funds, public, same)) == {} and pinned(read_across(public, funds, same)) == {}
        assert pinned(funds) == {} and pinned(public) == {}
        for mine, theirs in ((funds, public), (public, funds)):
            small = {code for code, t in mine.items() for r in t["rows"] if r["suppressed_because"] == "small"
                     for code in [r["region"]["code"]]}
            found = subtracted(read_across(mine, theirs, same))
            assert not {code for code in small if code in found and found[code][0] < stats.SMALL}, label
    # March hides more than the statistics alone would: 甲镇 and 乙街道 (the funds' total that could not stay,
    # and its complement), 丙一 and 丙二 (small in the funds alone, and its complement).
    march = _hidden(tables(client, "/api/v1/stats", TREE_CODES, MARCH))
    assert march["100"] == ({"100001", "100002"}, False)
    assert march["100001"] == ({"100001001", "100001002", "100001003"}, True)
    assert march["200001"] == ({"200001001", "200001002"}, False)


def test_the_same_tables_whichever_months_are_asked_and_with_no_cache(session, tree):
    """The domain itself, nothing cached: a month's tables of 12 months (the statistics' page) and of that month
    alone (the funds' page) are the same."""
    regions = [None, *(session.scalar(select(Region).where(Region.code == c)) for c in TREE_CODES if c)]
    for m in MONTHS:
        for region in regions:
            twelve = stats.public_tables(session, region, MONTHS[-1],
                                         figure_sets=payments.public_figures(session, MONTHS[-1], stats.MONTHS))
            alone = stats.public_tables(session, region, m, 1, figure_sets=payments.public_figures(session, m, 1))
            for k in (payments.STATISTICS, payments.FUNDS):
                assert twelve[k].cells[m] == alone[k].cells[m] and twelve[k].totals[m] == alone[k].totals[m], (
                    m, region and region.code, k)
            funds = payments.public_funds(session, region, m)
            if m == MONTHS[0]:  # nothing paid in January: the funds' page shows the latest paid month
                assert funds.month == MONTHS[-1]
            else:
                assert funds.cells == alone[payments.FUNDS].cells[m] and funds.total == alone[payments.FUNDS].totals[m]
            hidden = [{rid for rid, c in t.cells[m].items() if c.suppressed} for t in alone]
            assert hidden[0] == hidden[1] and alone[0].totals[m].suppressed == alone[1].totals[m].suppressed


def test_the_kiosk_funds_slide_agrees_with_the_communitys_page_month_by_month(client, session, tree):
    for code in TREE:
        region = session.scalar(select(Region).where(Region.code == code))
        expected = []
        for m in reversed(MONTHS[1:]):  # the months with paid lines, newest first
            shown = client.get(f"/api/v1/funds?region={code}&month={stats.month_label(m)}").get_json()["total"]
            if not shown["suppressed"] and shown["households"]:
                expected.append({"month": m, "households": shown["households"], "persons": shown["persons"],
                                 "amount": Decimal(shown["amount"])})
        assert payments.funds_totals(session, region) == expected, code
    # 丙二村: 4 paid in March, but its town's tables hide it (the complement of 丙一's 2 paid): not on its kiosk.
    assert [row["month"] for row in payments.funds_totals(
        session, session.scalar(select(Region).where(Region.code == "200001002")))] == [date(2026, 2, 1)]


def test_a_failed_line_moves_the_cached_statistics_too(client, session, world, make_region):
    """The funds' figures sit in the public cache beside the statistics', under the county's version, which
    every payment change bumps: a line the bank sends back failed hides, on the next request, the cells the
    statistics' table must now hide with the funds' — in force nothing changed."""
    make_region("100001003", "甲三社区", parent="100001")
    _households(session, {**SMALL_IN_FUNDS, "100001001": (3, 3)}, {date(2026, 3, 1): 1})
    codes = [None, "100", "100001"]
    before = _both(client, codes)
    assert _hidden(before[1])["100001"] == (set(), False) and _hidden(before[0]) == _hidden(before[1])
    line = session.scalar(select(PaymentLine).join(Region, Region.id == PaymentLine.region_id)
                          .where(Region.code == "100001001").order_by(PaymentLine.id))
    line.status = LineStatus.failed
    session.commit()
    funds, public = _both(client, codes)
    assert _hidden(public)["100001"] == ({"100001001", "100001002"}, False)
    assert _hidden(funds) == _hidden(public)
    assert public["100001"]["total"]["households"] == 12 and funds["100001"]["total"]["households"] == 11


# 4. A town's own joint table forces its total hidden where neither side alone would. 甲镇: 甲一 3 households in
# force, 3 paid; 甲二 3 in force, 2 paid. The funds hide 甲二 "<3" and 甲一 with it (5 − 3 would leave 2); the
# statistics then hide both as "*" — 3 or more each — and a published 6 says each is 3. Neither side alone
# forces 甲镇's total hidden (the statistics alone hide nothing), so before the rows' facts were read from both
# sides 甲镇 stayed in the county's table and its page published 6. Now 甲镇 is hidden there (乙街道 beside it),
# and its page, its total hidden, needs no more than 甲二.

BOTH_FORCE = {"100001001": (3, 3), "100001002": (3, 2), "100002001": (4, 4)}


def test_a_towns_total_its_joint_table_cannot_publish_is_hidden_in_the_countys(client, session, world):
    _households(session, BOTH_FORCE, {date(2026, 3, 1): 1})
    codes = [None, "100", "100001", "100002", *BOTH_FORCE]
    funds, public = _both(client, codes)
    assert _hidden(public)["100001"] == ({"100001002"}, True)  # its total hidden, 甲二 alone is enough
    assert _hidden(public)["100"] == ({"100001", "100002"}, False)  # 乙街道 its complement
    assert _hidden(funds) == _hidden(public)
    assert pinned(public) == {} and pinned(funds) == {}
    same = _same(BOTH_FORCE, 1)
    assert pinned(read_across(public, funds, same)) == {} and pinned(read_across(funds, public, same)) == {}


# 5. A search over small trees of regions: one or two counties of one to three towns of one to four communities,
# each community with a few households in force and as many paid or fewer (failed lines). Every table of both
# sides, from the domain directly (the figures given per community, as the caches hold them): no hidden cell is
# told by bounds or by subtraction, on either side, nor reading one side across the other.

SEARCH_MONTH = date(2026, 3, 1)


def _random_tree(rng) -> dict[str, tuple[int, int]]:
    """community code → (households in force, households paid); towns and counties are the codes' prefixes."""
    out = {}
    for county in range(rng.randint(1, 2)):
        for town in range(rng.randint(1, 3)):
            for community in range(rng.randint(1, 4)):
                in_force = rng.choice((0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 8))
                paid = in_force if rng.random() < 0.6 else rng.randint(0, in_force)
                out[f"{county + 7}00{town + 1:03d}{community + 1:03d}"] = (in_force, paid)
    return out


def _published(session, layout: dict[str, tuple[int, int]]) -> tuple[dict, dict]:
    """Every table of both sides (funds, statistics) of ``layout``, as /api/v1/funds and /api/v1/stats give a
    month, each saying whether its column hid a zero (the visitor who knows that reads its "<3" as 0 to 2)."""
    made: dict[str, Region] = {}
    for code in sorted({c[:n] for c in layout for n in (3, 6, 9)}):
        parent = made.get(code[:-3]) if len(code) > 3 else None
        level = {3: Level.county, 6: Level.town, 9: Level.community}[len(code)]
        made[code] = Region(code=code, name=code, level=level, parent=parent,
                            path=(parent.path if parent else "/") + code + "/")
        session.add(made[code])
    session.flush()
    months = [SEARCH_MONTH]
    truth = [{code: sum(layout[c][k] for c in layout if c.startswith(code)) for code in made} for k in (0, 1)]

    figures = [[(made[c].path, SEARCH_MONTH, stats.Cell(v[k], 2 * v[k], Decimal(500 * v[k])))
                for c, v in layout.items() if v[k]] for k in (0, 1)]
    grids: dict = {}

    def grids_of(root):  # as dibao.payments.public_grids reads them, from the figures per community
        if root.id not in grids:
            grids[root.id] = stats.joint_grids([stats.grid_of_figures(session, root, months, f) for f in figures],
                                               months)
        return grids[root.id]

    every = stats.joint_totals([stats.totals_of_counties(stats.grid_of_figures(session, None, months, f), months)
                                for f in figures], months)
    figure_sets = [(lambda root, k=k: grids_of(root)[k],
                    lambda counties, k=k: {county.id: every[k].get(county.id, stats.Totals()) for county in counties})
                   for k in (0, 1)]
    for county in (r for r in made.values() if r.parent is None):  # a county's own figures tell the same
        assert [t.facts for t in stats.totals_of_grids(grids_of(county), months)] == [
            every[k][county.id].facts for k in (0, 1)]
    memo: dict = {}
    sides: list[dict] = [{}, {}]
    for region in [None, *made.values()]:
        both = stats.public_tables(session, region, SEARCH_MONTH, 1, figure_sets=figure_sets, memo=memo)
        for k, table in enumerate(both):
            def number(cell, code):
                return {"households": cell.households, "persons": cell.persons,
                        "amount": f"{cell.money:.2f}" if cell.money is not None else None,
                        "suppressed": cell.suppressed, "suppressed_because": cell.reason,
                        "region": {"code": code}}
            column = table.cells[SEARCH_MONTH]
            sides[k][region.code if region else None] = {
                "rows": [number(column[r.id], r.code) for r in table.regions],
                "total": number(table.totals[SEARCH_MONTH], None),
                "zeros_hidden": any(column[r.id].suppressed and truth[k][r.code] == 0 for r in table.regions)}
    return sides[1], sides[0]


def _leaks(funds: dict, public: dict, same: set[str]) -> list[str]:
    """What a visitor tells of the cells hidden: by bounds or by subtraction, one side alone or read across the
    other. (A region under a published total of 0 is 0, and says so: the funds of a town nobody was paid in
    hide the rows the statistics hide, as "<3", and their rows below — nobody is singled out.)"""
    out = []
    if _hidden(funds) != _hidden(public):
        out.append(f"hidden differ: funds {_hidden(funds)} statistics {_hidden(public)}")
    for name, mine, theirs in (("funds", funds, public), ("statistics", public, funds)):
        empty = tuple(code or "" for code, table in mine.items() if table["total"]["households"] == 0)
        for how, source in (("alone", mine), ("across", read_across(mine, theirs, same))):
            hidden = hidden_codes(mine)
            if found := {code: v for code, v in pinned(source).items() if not (v == 0 and code.startswith(empty))}:
                out.append(f"{name} {how}: pinned {found}")
            if found := {code: v for code, v in subtracted(source).items() if code in hidden}:
                out.append(f"{name} {how}: subtracted {found}")
    return out


def test_no_small_tree_leaves_a_hidden_cell_to_either_side(session):
    """300 trees (a few seconds; SEARCH_SEED and SEARCH_TREES search further). Before the rows' facts were read
    from both sides, 7 of them leaked — the first, 甲镇's 3 and 3 in force, 3 and 2 paid, as in 4."""
    rng = random.Random(int(os.environ.get("SEARCH_SEED", "20261128")))
    trees = int(os.environ.get("SEARCH_TREES", "300"))
    leaking = []
    for _ in range(trees):
        layout = _random_tree(rng)
        funds, public = _published(session, layout)
        same = {"*"} | {code[:n] for code in layout for n in (3, 6, 9)}
        for code, (in_force, paid) in layout.items():
            if in_force != paid:
                same -= {"*", code[:3], code[:6], code}
        if found := _leaks(funds, public, same):
            leaking.append((layout, found))
        session.rollback()
    assert not leaking, f"{len(leaking)} of {trees} trees leak; the first: {leaking[0]}"
