"""The public statistics leave no hidden cell to a visitor's arithmetic with bounds, not only with exact
subtraction: "<3" is 1 or 2 and "*" is 3 or more, so a published total that leaves 2 for two "<3" cells says
each is 1 (and 4 for two, each is 2; 4 for "<3" and "*", 1 and 3). A column so pinned hides the next smallest
cell too; with none left, its zeros ("<3", so which rows are empty is unknown); with none of those either, its
total — and so its row in the table one level up, which then checks its own column again. Every level is read
at once (tests/suppression_helpers.py), in the open-data API and on the pages."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from dibao import stats
from tests.stats_helpers import _paid
from tests.suppression_helpers import pinned, subtracted, tables

MARCH = "2026-03"
CODES = [None, "100", "100001", "100002", "100001001", "100001002", "100001003", "100002001"]


@pytest.fixture
def third(session, world, make_region):
    """A third community of 甲镇 (100001003), for columns of three."""
    region = make_region("100001003", "甲三社区", parent="100001")
    world.regions["comm_a3"] = region.id
    return region


def _households(session, world, **counts):
    for community, n in counts.items():
        if n:
            _paid(session, world, community, n)
    session.commit()


def _public(client):
    return tables(client, "/api/v1/stats", CODES, MARCH)


def _rows(published, code):
    return {r["region"]["code"]: r for r in published[code]["rows"]}


def test_a_column_of_two_one_household_cells_and_a_total_is_not_pinned():
    """The function itself: two cells of 1 beside a published total of 6 with a 4 shown would be 1 and 1; of 2
    and 2 beside a 5, 2 and 2; a "<3" and a "*" of 3 beside a total that leaves 4, 1 and 3 — each hides more."""
    ones = stats.suppress({1: stats.Cell(1, 2, Decimal("500")), 2: stats.Cell(1, 1, Decimal("400")),
                           3: stats.Cell(4, 8, Decimal("2000"))})
    assert [c.reason for c in ones.values()] == ["small", "small", "complement"]
    twos = stats.suppress({1: stats.Cell(2), 2: stats.Cell(2), 3: stats.Cell(5), 4: stats.Cell(6)})
    assert [c.reason for c in twos.values()] == ["small", "small", "complement", None]
    one_three = stats.suppress({1: stats.Cell(1), 2: stats.Cell(3), 3: stats.Cell(4), 4: stats.Cell(9)})
    assert [c.reason for c in one_three.values()] == ["small", "complement", "complement", None]
    # 1 and 2 beside a total that leaves 3: either could be the 2 — nothing more to hide.
    mixed = stats.suppress({1: stats.Cell(1), 2: stats.Cell(2), 3: stats.Cell(5)})
    assert [c.reason for c in mixed.values()] == ["small", "small", None]


def test_two_one_household_communities_beside_a_published_total_are_not_pinned(client, session, world, third):
    """甲镇: 1, 1 and 4 households, its total 6 public (the county shows it beside 乙街道's 3). 6 − 4 told both
    "<3" were 1; now the 4 is hidden too, and no table — nor all of them together — tells a hidden cell."""
    _households(session, world, comm_a1=1, comm_a2=1, comm_a3=4, comm_b1=3)
    published = _public(client)
    town = _rows(published, "100001")
    assert [town[c]["suppressed_because"] for c in ("100001001", "100001002", "100001003")] == \
        ["small", "small", "complement"]
    assert published["100001"]["total"]["households"] == 6 and published["100"]["total"]["households"] == 9
    assert pinned(published) == {}
    assert not {"100001001", "100001002"} & set(subtracted(published))
    page = client.get(f"/stats/100001?month={MARCH}").get_data(as_text=True)
    table = page[page.index("2026-03 各地区"):]
    third_row = re.search(r"甲三社区</th>\s*<td class=\"num\"[^>]*>([^<]*)</td><td class=\"num\"[^>]*>([^<]*)</td>",
                          table)
    assert third_row.groups() == ("*", "—")


def test_with_nothing_left_to_hide_the_total_goes_and_its_row_one_level_up(client, session, world, third):
    """甲镇: three communities of 1 household each — its total 3 says each is 1, whatever its table hides. So
    its total is hidden on its own page and in the county's table (and 乙街道 beside it, or 11 − 乙 gives it
    back); the county's total stays public."""
    _households(session, world, comm_a1=1, comm_a2=1, comm_a3=1, comm_b1=8)
    published = _public(client)
    assert published["100001"]["total"]["suppressed"] and published["100001"]["total"]["households"] is None
    county = _rows(published, "100")
    assert county["100001"]["suppressed_because"] == "complement"
    assert county["100002"]["suppressed_because"] == "complement"
    assert published["100"]["total"]["households"] == 11
    assert pinned(published) == {}
    assert "100001" not in subtracted(published)


def test_a_total_under_three_hides_which_rows_are_empty(client, session, world, third):
    """甲镇: 1, 1 and nobody — shown "<3" in the county's table. Its own table showed the empty community as 0,
    so the two others were 1 each; now every row of it is "<3" (so on the empty community's own page too)."""
    _households(session, world, comm_a1=1, comm_a2=1, comm_b1=5)
    published = _public(client)
    assert _rows(published, "100")["100001"]["suppressed_because"] == "small"
    town = _rows(published, "100001")
    assert all(town[c]["suppressed_because"] == "small" for c in ("100001001", "100001002", "100001003"))
    empty = published["100001003"]
    assert empty["rows"][0]["suppressed"] and empty["total"]["suppressed_because"] == "small"
    assert pinned(published) == {}
    page = client.get(f"/stats/100001?month={MARCH}").get_data(as_text=True)
    table = page[page.index("2026-03 各地区"):]
    assert re.search(r"甲三社区</th>\s*<td class=\"num\"[^>]*>&lt;3</td>", table)


@pytest.mark.parametrize("layout", [
    {"comm_a1": 1, "comm_a2": 1, "comm_a3": 4, "comm_b1": 3},
    {"comm_a1": 2, "comm_a2": 2, "comm_a3": 0, "comm_b1": 6},
    {"comm_a1": 3, "comm_a2": 1, "comm_a3": 0, "comm_b1": 1},
    {"comm_a1": 1, "comm_a2": 3, "comm_a3": 3, "comm_b1": 4},
    {"comm_a1": 2, "comm_a2": 2, "comm_a3": 2, "comm_b1": 1},
    {"comm_a1": 4, "comm_a2": 5, "comm_a3": 0, "comm_b1": 1},
    {"comm_a1": 1, "comm_a2": 0, "comm_a3": 0, "comm_b1": 3},
], ids=lambda layout: "-".join(str(n) for n in layout.values()))
def test_no_layout_leaves_a_hidden_cell_to_arithmetic(client, session, world, third, layout):
    _households(session, world, **layout)
    published = _public(client)
    assert pinned(published) == {}
    small = {code for table in published.values() for row in table["rows"] if row["suppressed"]
             for code in [row["region"]["code"]]}
    assert not small & {code for code, figures in subtracted(published).items() if figures[0] < stats.SMALL}
