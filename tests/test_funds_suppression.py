"""The public funds tables (/funds/, /api/v1/funds) suppress as the public statistics do: no total minus the
rows shown beside it — in one table, between a county's, its towns' and their communities' tables, or with the
statistics' tables of the same month — gives back a cell of 1 or 2 households (the audit's subtraction: county
total − the towns shown = the hidden town, whose other communities show 0). And the pages' ETags carry the
language, so a visitor who switches to English is not told their Chinese copy is still good."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from dibao import entitlement, payments
from dibao.models import Region, Stage
from dibao.models.payment import LineStatus, PaymentLine, PaymentRun, RunStatus
from tests.case_helpers import valid_id
from tests.factories import make_case
from tests.suppression_helpers import pinned
from tests.suppression_helpers import tables as api_tables

MONTH = "2026-03"
# Town → community → the monthly amounts of its households (each of 2 persons), as the audit's county had them:
# three towns of 4, 4 and 3 households and a fourth of 1 (南山村), whose other community has nobody paid; 甲镇's
# two communities of 2 each are small too. (Its total 4 beside two "<3" says each is 2, so 甲镇 is hidden in the
# county's table — which also keeps 12 − 4 − 4 from leaving 4 for 丁镇 "<3" beside 丙镇 "*", 3 or more: 1 and 3.)
LAYOUT = {
    ("100001", "甲镇"): {("100001001", "甲一社区"): ["1110.00"] * 2, ("100001002", "甲二社区"): ["1110.00"] * 2},
    ("100002", "乙街道"): {("100002001", "乙一社区"): ["1375.00"] * 4},
    ("100003", "丙镇"): {("100003001", "丙一村"): ["1450.00", "1460.00", "1460.00"]},
    ("100004", "丁镇"): {("100004001", "南山村"): ["1560.00"], ("100004002", "北山村"): []},
}
SECRET = (1, 2, "1560.00")  # 南山村's (and so 丁镇's) one household: never to be known


@pytest.fixture
def audit_county(session, world, make_region):
    """The county above, its households in payment since January (the statistics' figures) and the bank's
    confirmation of March's run (the funds' figures: the same households, persons and yuan); a second household
    of 南山村 on the roster without an amount in force, its line failed — as the audit found it."""
    for (town, name), communities in LAYOUT.items():
        if session.scalar(select(Region).where(Region.code == town)) is None:
            make_region(town, name, parent="100")
        for code, cname in communities:
            if session.scalar(select(Region).where(Region.code == code)) is None:
                make_region(code, cname, parent=town)
    county = session.scalar(select(Region).where(Region.code == "100"))
    run = PaymentRun(county_id=county.id, month=date(2026, 3, 1), status=RunStatus.returned,
                     generated_by_name="测试", generated_at=datetime(2026, 3, 5, 2, tzinfo=UTC))
    session.add(run)
    session.flush()
    for (_town, _name), communities in LAYOUT.items():
        for (code, _cname), amounts in communities.items():
            region = session.scalar(select(Region).where(Region.code == code))
            for amount in amounts:
                case = make_case(session, region, stage=Stage.active, id_number=valid_id(), amount=Decimal(amount),
                                 members=2)
                entitlement.start_period(session, None, case, amount=Decimal(amount), starts_on=date(2026, 1, 1),
                                         change=entitlement.AmountChange.approved)
                session.add(_line(run, case, region, amount, LineStatus.paid))
    nanshan = session.scalar(select(Region).where(Region.code == "100004001"))
    unpaid = make_case(session, nanshan, stage=Stage.active, id_number=valid_id(), amount=Decimal("900.00"), members=2)
    session.add(_line(run, unpaid, nanshan, "900.00", LineStatus.failed))
    session.commit()


def _line(run, case, region, amount, status) -> PaymentLine:
    return PaymentLine(run_id=run.id, case_id=case.id, town_id=region.parent_id, region_id=region.id,
                       category=case.category, persons=2, amount=Decimal(amount), arrears=Decimal("0.00"),
                       total=Decimal(amount), status=status)


CODES = [None, "100", "100001", "100002", "100003", "100004", "100001001", "100001002", "100002001", "100003001",
         "100004001", "100004002"]


def _tables(client, api: str) -> dict[str | None, dict]:
    """Every table of the county (and of every county) for March, as the open-data API gives it."""
    out = {}
    for code in CODES:
        query = f"month={MONTH}" + (f"&region={code}" if code else "")
        body = client.get(f"{api}?{query}").get_json()
        rows = body["rows"] if api.endswith("funds") else [r for r in body["rows"] if r["month"] == MONTH]
        total = body["total"] if api.endswith("funds") else [t for t in body["totals"] if t["month"] == MONTH][0]
        out[code] = {"rows": rows, "total": total}
    return out


def _figures(cell) -> tuple | None:
    return None if cell["suppressed"] else (cell["households"], cell["persons"], Decimal(cell["amount"]))


def _known(*sources: dict[str | None, dict]) -> dict[str, tuple]:
    """Every region's figures a visitor can know: each shown row and total, then — until nothing new comes — a
    total minus all of its parts but one gives that one, and parts that are all known add up to their total. The
    parts of a region: its towns or communities (what a visitor knows of the county's map), and the rows of its
    table."""
    known: dict[str, tuple] = {}
    partitions: list[tuple[str | None, list[str]]] = [("100", [town for town, _n in LAYOUT])]
    partitions += [(town, [code for code, _n in communities]) for (town, _n), communities in LAYOUT.items()]
    partitions += [("100", [code for communities in LAYOUT.values() for code, _n in communities])]
    for tables in sources:
        for code, table in tables.items():
            partitions.append((code, [r["region"]["code"] for r in table["rows"]]))
            for row in table["rows"]:
                if (figures := _figures(row)) is not None:
                    known[row["region"]["code"]] = figures
            if code is not None and (figures := _figures(table["total"])) is not None:
                known[code] = figures
    totals = {code: _figures(t["total"]) for tables in sources for code, t in tables.items()
              if code is None and _figures(t["total"]) is not None}
    known.update({"*": totals[None]} if None in totals else {})
    changed = True
    while changed:
        changed = False
        for parent, rows in partitions:
            key = "*" if parent is None else parent
            rows = [r for r in rows if r != parent]  # a community's own table lists itself
            if not rows:
                continue
            unknown = [r for r in rows if r not in known]
            if key in known and len(unknown) == 1:
                total = known[key]
                left = tuple(a - sum(known[r][i] for r in rows if r in known) for i, a in enumerate(total))
                known[unknown[0]] = left
                changed = True
            elif key not in known and not unknown:
                known[key] = tuple(sum(known[r][i] for r in rows) for i in range(3))
                changed = True
    return known


def _secret_found(known: dict[str, tuple]) -> list[str]:
    secret = (SECRET[0], SECRET[1], Decimal(SECRET[2]))
    return [code for code, figures in known.items() if figures == secret or figures[0] in (1, 2)]


def test_no_subtraction_of_funds_tables_gives_the_one_paid_household_away(client, audit_county):
    funds = _tables(client, "/api/v1/funds")
    known = _known(funds)
    assert _secret_found(known) == []
    assert "100004" not in known and "100004001" not in known and "100001" not in known
    assert pinned(funds) == {}  # nor by bounds: "<3" is 1 or 2, "*" 3 or more
    county = {r["region"]["code"]: r for r in funds["100"]["rows"]}
    assert funds["100"]["total"]["households"] == 12 and funds["100"]["total"]["amount"] == "15870.00"
    assert county["100004"]["suppressed_because"] == "small"
    assert county["100001"]["suppressed_because"] == "complement"  # 12 − 4 − 3 leaves 5: 丁镇 1 or 2, 甲镇 3 or 4
    assert county["100002"]["households"] == 4 and county["100003"]["households"] == 3
    for code in ("100001", "100004"):  # hidden in the county's table: hidden on their own pages too
        assert funds[code]["total"]["suppressed"] and funds[code]["total"]["amount"] is None, code


def test_funds_and_statistics_hide_the_same_cells_and_cannot_be_combined(client, audit_county):
    """Where the paid figures are the statistics' figures (here every household in force was paid), each funds
    table hides the very cells the statistics' table of that region hides, for the same reasons: putting both
    sides' shown numbers together gives nothing either hides."""
    funds = _tables(client, "/api/v1/funds")
    public = _tables(client, "/api/v1/stats")
    assert _secret_found(_known(public)) == []  # the statistics alone are safe
    known = _known(funds, public)
    assert _secret_found(known) == []
    assert "100004" not in known and "100001" not in known
    assert pinned(funds, public) == {}
    for code in CODES:
        mine = {r["region"]["code"]: (r["suppressed"], r["suppressed_because"]) for r in funds[code]["rows"]}
        theirs = {r["region"]["code"]: (r["suppressed"], r["suppressed_because"]) for r in public[code]["rows"]}
        assert mine == theirs, code
        assert funds[code]["total"]["suppressed"] == public[code]["total"]["suppressed"], code


def _cells(page: str, name: str) -> tuple[str, str, str]:
    found = re.search(name + r"(?:</a>)?</th>\s*<td class=\"num\"[^>]*>([^<]*)</td><td class=\"num\"[^>]*>([^<]*)</td>"
                      r"<td class=\"num\"[^>]*>([^<]*)</td>", page)
    assert found, name
    return found.groups()


def test_the_funds_pages_show_the_marks_where_the_statistics_do(client, audit_county):
    county = client.get(f"/funds/100?month={MONTH}").get_data(as_text=True)
    assert _cells(county, "丁镇") == ("&lt;3", "—", "—")
    assert _cells(county, "甲镇") == ("*", "—", "—")
    assert _cells(county, "丙镇") == ("3", "6", "4370.00") and _cells(county, "乙街道") == ("4", "8", "5500.00")
    assert _cells(county, "合计") == ("12", "24", "15870.00")
    assert "*：这一格本身不少于 3 户" in county
    town = client.get(f"/funds/100004?month={MONTH}").get_data(as_text=True)
    assert _cells(town, "南山村") == ("&lt;3", "—", "—") and _cells(town, "北山村") == ("0", "0", "0.00")
    assert _cells(town, "合计")[1:] == ("—", "—")  # hidden in the county's table: its total stays hidden
    other = client.get(f"/funds/100001?month={MONTH}").get_data(as_text=True)
    assert _cells(other, "合计") == ("*", "—", "—") and _cells(other, "甲一社区") == ("&lt;3", "—", "—")
    stats_county = client.get(f"/stats/100?month={MONTH}").get_data(as_text=True)
    assert _cells(stats_county, "丁镇") == ("&lt;3", "—", "—") and _cells(stats_county, "甲镇") == ("*", "—", "—")
    for code in CODES:
        query = f"?month={MONTH}"
        for url in (f"/funds/{code or ''}{query}", f"/api/v1/funds{query}" + (f"&region={code}" if code else "")):
            text = client.get(url).get_data(as_text=True)
            assert "1560.00" not in text and "4440.00" not in text, url  # 丁镇's one household; 甲镇 (12 − 7 − 丁)


def test_the_kiosk_does_not_publish_a_communitys_total_its_page_hides(client, session, audit_county):
    """A community's kiosk shows what its own /funds/ page shows of the month, nothing its page hides."""
    def totals(code):
        return payments.funds_totals(session, session.scalar(select(Region).where(Region.code == code)))

    assert totals("100004001") == [] and totals("100001001") == []  # 1 household; 2
    assert totals("100002001") == [{"month": date(2026, 3, 1), "households": 4, "persons": 8,
                                     "amount": Decimal("5500.00")}]
    for code in [c for c in CODES if c and len(c) == 9]:
        shown = client.get(f"/api/v1/funds?region={code}&month={MONTH}").get_json()["total"]
        expected = [] if shown["suppressed"] or not shown["households"] else [
            {"month": date(2026, 3, 1), "households": shown["households"], "persons": shown["persons"],
             "amount": Decimal(shown["amount"])}]
        assert totals(code) == expected, code


@pytest.mark.parametrize("path", ["/stats/", "/stats/100", "/funds/", "/funds/100"])
def test_an_etag_of_one_language_is_not_good_for_the_other(client, audit_county, path):
    chinese = client.get(path, headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 200 and '<html lang="zh' in chinese.get_data(as_text=True)
    etag = chinese.headers["ETag"]
    assert client.get(path, headers={"Accept-Language": "zh-CN", "If-None-Match": etag}).status_code == 304
    client.get("/lang/en")
    english = client.get(path, headers={"Accept-Language": "zh-CN", "If-None-Match": etag})
    assert english.status_code == 200 and '<html lang="en' in english.get_data(as_text=True)
    assert english.headers["ETag"] != etag
    assert client.get(path, headers={"If-None-Match": english.headers["ETag"]}).status_code == 304


# 甲镇's four communities: households in force in March, and how many of them the bank paid (the others' lines
# failed). The statistics, of their own, would hide 甲一 (2) and the next smallest, 甲二 (4); the funds 甲一 and
# 甲四 (3 paid, their smallest) — and show 甲二's 4, which the statistics' 17 − 5 − 6 − 4 turns into 甲一's 2
# (and its persons and yuan, the same way). Suppressed together, both hide all three: 甲三 alone shows.
DIFFERING = {"100001001": (2, 2), "100001002": (4, 4), "100001003": (5, 5), "100001004": (6, 3)}


@pytest.fixture
def differing(session, world, make_region):
    make_region("100001003", "甲三社区", parent="100001")
    make_region("100001004", "甲四社区", parent="100001")
    county = session.scalar(select(Region).where(Region.code == "100"))
    run = PaymentRun(county_id=county.id, month=date(2026, 3, 1), status=RunStatus.returned,
                     generated_by_name="测试", generated_at=datetime(2026, 3, 5, 2, tzinfo=UTC))
    session.add(run)
    session.flush()
    for code, (in_force, paid) in DIFFERING.items():
        region = session.scalar(select(Region).where(Region.code == code))
        for i in range(in_force):
            case = make_case(session, region, stage=Stage.active, id_number=valid_id(), amount=Decimal("500.00"),
                             members=2)
            entitlement.start_period(session, None, case, amount=Decimal("500.00"), starts_on=date(2026, 1, 1),
                                     change=entitlement.AmountChange.approved)
            session.add(_line(run, case, region, "500.00", LineStatus.paid if i < paid else LineStatus.failed))
    session.commit()


def test_funds_hide_every_cell_the_statistics_hide_when_the_paid_figures_differ(client, differing):
    codes = [None, "100", "100001", "100002", *DIFFERING]
    public = api_tables(client, "/api/v1/stats", codes, MONTH)
    funds = api_tables(client, "/api/v1/funds", codes, MONTH)
    theirs = {r["region"]["code"]: r for r in public["100001"]["rows"]}
    mine = {r["region"]["code"]: r for r in funds["100001"]["rows"]}
    assert {code for code, r in theirs.items() if r["suppressed"]} == {"100001001", "100001002", "100001004"}
    assert {code for code, r in mine.items() if r["suppressed"]} == {"100001001", "100001002", "100001004"}
    assert public["100001"]["total"]["households"] == 17 and funds["100001"]["total"]["households"] == 14
    assert mine["100001002"]["suppressed"] and mine["100001002"]["amount"] is None  # the statistics' complement
    assert theirs["100001004"]["suppressed_because"] == "complement"  # the funds' complement (6 in force, 3 paid)
    assert mine["100001003"]["households"] == 5 and theirs["100001003"]["households"] == 5
    # The visitor's subtraction, taking a paid figure for the same as the one in force: the statistics' total
    # minus what they show, minus what the funds show of the cells they hide — nothing of those is shown.
    assert not [code for code, r in theirs.items() if r["suppressed"] and not mine[code]["suppressed"]]
    assert pinned(public) == {} and pinned(funds) == {}
    page = client.get(f"/funds/100001?month={MONTH}").get_data(as_text=True)
    assert _cells(page, "甲二社区") == ("*", "—", "—") and _cells(page, "甲三社区") == ("5", "10", "2500.00")
    assert "2000.00" not in page  # 甲二's 4 × 500
