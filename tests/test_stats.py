"""Issue 12: statistics — staff figures (each chart with its data table) in the user's scope and as xlsx; the
public counts per region and month with small cells suppressed, on /stats/ and in the open-data API."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from dibao import stats
from tests.api_helpers import conforms, response_schema
from tests.export_helpers import export
from tests.stats_helpers import _paid


@pytest.fixture
def paid(session, world):
    """Town A: 3 households in a1 and 2 in a2; town B: 3 in b1 — all paid 500 a month since January 2026."""
    _paid(session, world, "comm_a1", 3)
    _paid(session, world, "comm_a2", 2)
    _paid(session, world, "comm_b1", 3)
    session.commit()


def test_suppression_hides_small_cells_and_the_cell_a_total_would_reveal():
    column = {1: stats.Cell(5, 9, Decimal("2500")), 2: stats.Cell(1, 2, Decimal("500")),
              3: stats.Cell(4, 8, Decimal("2000")), 4: stats.Cell(0, 0, Decimal("0"))}
    shown = stats.suppress(column)
    assert shown[1].display("households") == "5" and shown[1].display("money") == "2500.00"
    assert shown[2].display("households") == "<3" and shown[2].display("persons") == "—"
    assert shown[3].suppressed and shown[3].display("households") == "*"  # 10 − 5 − 4 would give the 1 away
    assert shown[4].display("households") == "0"  # nobody to single out
    two_small = stats.suppress({1: stats.Cell(5), 2: stats.Cell(1), 3: stats.Cell(2)})
    assert [c.suppressed for c in two_small.values()] == [False, True, True]


def test_the_public_page_shows_fewer_than_three_households_as_less_than_three(client, world, paid):
    page = client.get("/stats/100001").get_data(as_text=True)  # town A: a1 has 3, a2 has 2
    table = page[page.index("2026-03 各地区"):]
    a1 = re.search(r"甲一社区</th>\s*<td class=\"num\"[^>]*>([^<]*)</td><td class=\"num\"[^>]*>([^<]*)</td>", table)
    a2 = re.search(r"甲二社区</th>\s*<td class=\"num\"[^>]*>([^<]*)</td><td class=\"num\"[^>]*>([^<]*)</td>", table)
    assert a2.groups() == ("&lt;3", "—")
    assert a1.groups() == ("*", "—")  # with a2 hidden, the total would give a2 away through a1: hidden too
    total = re.search(r"合计</th><td class=\"num\"[^>]*>([^<]*)</td><td class=\"num\"[^>]*>([^<]*)</td><td class=\"num\"[^>]*>([^<]*)",
                      table)
    assert total.groups() == ("5", "10", "2500.00")
    county = client.get("/stats/100").get_data(as_text=True)
    assert "<svg" in county and county.count("<table") == 2
    assert "乙街道" in county


def test_a_total_hidden_one_level_up_stays_hidden_so_no_table_can_be_subtracted_from_another(
        client, session, world):
    """Town B has 1 household: the county's table hides it, and town A beside it so that the county total does
    not give it away. Town A's own page must not then publish town A's total (county − A = B's household), nor
    figures that add up to it; one level down, a community hidden in its town's table keeps its figures hidden
    on its own page too. The same in the open-data API."""
    _paid(session, world, "comm_a1", 4)
    _paid(session, world, "comm_a2", 5)
    _paid(session, world, "comm_b1", 1)
    session.commit()
    march = "2026-03"

    def api(region):
        data = client.get(f"/api/v1/stats?region={region}&month={march}").get_json()
        rows = {r["region"]["code"]: r for r in data["rows"] if r["month"] == march}
        return rows, [t for t in data["totals"] if t["month"] == march][0]

    rows, total = api("100")
    assert rows["100002"]["suppressed_because"] == "small" and rows["100001"]["suppressed_because"] == "complement"
    assert total["households"] == 10  # the county's own total: public
    rows, total = api("100001")  # town A
    assert total["suppressed"] and total["households"] is None and total["amount"] is None
    shown = [r for r in rows.values() if not r["suppressed"]]
    assert len(shown) == 1 and shown[0]["households"] in (4, 5)  # one community hidden: A's total stays unknown
    hidden = [code for code, r in rows.items() if r["suppressed"]][0]
    _rows, own = api(hidden)  # that community's own page
    assert own["suppressed"] and own["households"] is None
    page = client.get(f"/stats/100001?month={march}").get_data(as_text=True)
    table = page[page.index("2026-03 各地区"):]
    totals_row = re.search(r"合计</th><td class=\"num\"[^>]*>([^<]*)</td><td class=\"num\"[^>]*>([^<]*)</td>", table)
    assert totals_row.groups() == ("*", "—")
    assert "9" not in totals_row.group(0)


def test_the_open_data_api_publishes_the_same_suppressed_table(client, world, paid):
    res = client.get("/api/v1/stats?region=100001&month=2026-03")
    assert res.status_code == 200
    data = res.get_json()
    conforms(data, response_schema("/api/v1/stats"))
    march = {r["region"]["code"]: r for r in data["rows"] if r["month"] == "2026-03"}
    assert march["100001002"] == {"region": {"code": "100001002", "name": "甲二社区"}, "month": "2026-03",
                                  "households": None, "persons": None, "amount": None, "suppressed": True,
                                  "suppressed_because": "small"}
    assert data["totals"][-1] == {"month": "2026-03", "households": 5, "persons": 10, "amount": "2500.00",
                                  "suppressed": False, "suppressed_because": None}
    assert march["100001001"]["suppressed_because"] == "complement"
    december = [t for t in data["totals"] if t["month"] == "2025-12"][0]
    assert december["households"] == 0  # paid from January on
    assert client.get("/api/v1/stats?region=nowhere").status_code == 404


def test_the_staff_page_has_a_data_table_beside_every_chart(client, auth, world, paid):
    auth.login("county")
    page = client.get("/admin/stats/?month=2026-03").get_data(as_text=True)
    sections = re.findall(r'<section class="figure card".*?</section>', page, flags=re.S)
    assert len(sections) == 8
    charts = [s for s in sections if "<svg" in s]
    assert len(charts) == 6
    for section in sections:
        assert "<table" in section and "<caption" in section
    regions = sections[0]
    assert re.search(r"甲镇</th><td class=\"num\">5</td><td class=\"num\">10</td><td class=\"num\">2500.00</td>", regions)
    assert re.search(r"乙街道</th><td class=\"num\">3</td>", regions)  # staff see every count
    assert 'role="img"' in charts[0] and "<title" in charts[0]


def test_staff_figures_are_within_the_users_scope_and_the_same_as_xlsx(app, client, auth, world, paid):
    auth.login("staff_a1")
    page = client.get("/admin/stats/?month=2026-03").get_data(as_text=True)
    regions = re.findall(r'<section class="figure card" id="fig-regions".*?</section>', page, flags=re.S)[0]
    assert "甲一社区" in regions and "甲二社区" not in regions and "乙街道" not in regions
    sheets, _job = export(app, client, "stats", month="2026-03")
    first = sheets["2026-03 在保户数、人数和保障金（按地区）"]
    assert first[0] == ["地区", "户数", "人数", "保障金（元）"]
    assert first[1] == ["甲一社区", 3.0, 6.0, 1500.0]


def test_the_public_figures_stop_at_this_month(client, session, world):
    """An exit decided with a later month (the amount 0 from May) is not published before May: asked for June on
    18 March, the table ends with March; the funds page of a month to come shows the latest paid instead."""
    from datetime import date

    from dibao import entitlement

    households = _paid(session, world, "comm_a1", 4, since=date(2025, 10, 1))
    _paid(session, world, "comm_a2", 4, since=date(2025, 10, 1))
    entitlement.start_period(session, None, households[0], amount=Decimal("0"), starts_on=date(2026, 5, 1),
                             change=entitlement.AmountChange.exited)
    session.commit()
    answer = client.get("/api/v1/stats?region=100001&month=2026-06").get_json()
    assert answer["months"][-1] == "2026-03" and len(answer["months"]) == stats.MONTHS
    mine = {row["month"]: row["households"] for row in answer["rows"] if row["region"]["code"] == "100001001"}
    assert max(mine) == "2026-03" and mine["2026-03"] == 4 and mine["2025-10"] == 4
    page = client.get("/stats/100001?month=2026-06").get_data(as_text=True)
    assert "2026-03" in page and "2026-05" not in page and "2026-06" not in page
    assert client.get("/api/v1/funds?region=100001&month=2026-06").get_json()["month"] is None  # nothing paid
