"""Public supervision of funds (issue 11 item 5): /funds/, /api/v1/funds, the kiosk's totals — no per-person data."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import update

from dibao import cases, disclosure, kiosks, payments
from dibao.identity import with_luhn_digit
from dibao.models import Region, Stage
from dibao.models.payment import AccountKind, LineStatus, PaymentLine
from tests.case_helpers import register, standard, to_stage, user
from tests.suppression_helpers import pinned


@pytest.fixture
def paid(session, world, clock):
    """Three households of 甲一社区, one of 甲二社区 and one of 乙一社区, April paid by the bank."""
    standard(session, world)
    staff = user(session, world, "staff_a1")
    made = []
    for i in range(5):
        case = register(session, staff, head_name=f"户主{i}", income="0.00", members=1 + (i == 0))
        to_stage(session, world, case, Stage.active, levels=())
        cases.set_payment_account(session, staff, case, kind=AccountKind.bank_card, bank_name="农商银行",
                                  holder_name=case.head_name, number=with_luhn_digit(f"62220202001122334{i}"))
        made.append(case)
    made[3].region_id = world.regions["comm_a2"]  # (moved: one household in 甲二社区, one in 乙一社区)
    made[4].region_id = world.regions["comm_b1"]
    session.commit()
    clock.set(datetime(2026, 4, 5, 2, 0, tzinfo=UTC))
    run = payments.generate(session, None, session.get(Region, world.regions["county"]), "2026-04")
    session.execute(update(PaymentLine).where(PaymentLine.run_id == run.id).values(status=LineStatus.paid))
    session.commit()
    return made


def test_funds_page_shows_communities_not_people(client, session, world, paid):
    """As /stats/: every county, a county's towns, a town's communities — down to each community's figures."""
    page = client.get("/funds/100001").get_data(as_text=True)  # town 甲: its communities
    assert "2026-04" in page and "甲一社区" in page
    assert "3</td>" in page and "4</td>" in page  # 3 households, 4 persons
    assert "3120.00" in page  # 780 × 2 (1560) + 780 + 780
    assert page.count("&lt;3") == 1  # 甲二社区's one household is not singled out
    county = client.get("/funds/100").get_data(as_text=True)
    assert "甲镇" in county and "乙街道" in county
    assert county.count("&lt;3") == 1 and "3900.00" not in county  # 乙街道's one; 甲镇 hidden beside it
    # Nor the county's total: 甲镇's page shows 甲一's 3 beside 甲二 "<3", so 甲镇 is 4 or 5, and 5 would
    # leave 乙街道 exactly 1.
    assert "4680.00" not in county
    assert "测试县" in client.get("/funds/").get_data(as_text=True)
    for text in (page, county, client.get("/funds/").get_data(as_text=True)):
        for case in paid:
            assert case.head_name not in text and case.head_id_number not in text
            assert case.payment_account.number not in text and case.payment_account.number[-4:] not in text
    region_page = client.get("/funds/100001001").get_data(as_text=True)
    assert "甲一社区" in region_page and "甲二社区" not in region_page and "3120.00" in region_page
    assert client.get("/funds/nowhere").status_code == 404
    assert client.get("/funds/?month=2026-05").status_code == 200


def test_funds_api(client, session, world, paid):
    res = client.get("/api/v1/funds?region=100001&month=2026-04")
    assert res.status_code == 200 and res.headers["Access-Control-Allow-Origin"] == "*"
    body = res.get_json()
    assert body["month"] == "2026-04" and body["months"] == ["2026-04"]
    rows = {row["region"]["code"]: row for row in body["rows"]}
    assert rows["100001001"] == {"region": {"code": "100001001", "name": "甲一社区"}, "month": "2026-04",
                                 "households": 3, "persons": 4, "amount": "3120.00", "suppressed": False,
                                 "suppressed_because": None}
    assert rows["100001002"]["suppressed"] is True and rows["100001002"]["amount"] is None
    assert rows["100001002"]["suppressed_because"] == "small"
    text = res.get_data(as_text=True)
    for case in paid:
        assert case.head_name not in text and case.payment_account.number not in text
    assert client.get("/api/v1/funds?month=2026-4x").status_code == 400
    assert client.get("/api/v1/funds?region=nowhere").status_code == 404
    etag = res.headers["ETag"]
    assert client.get("/api/v1/funds?region=100001&month=2026-04",
                      headers={"If-None-Match": etag}).status_code == 304


def test_the_kiosk_gets_its_communitys_totals(session, world, paid):
    community = session.get(Region, world.regions["comm_a1"])
    assert payments.funds_totals(session, community) == [
        {"month": datetime(2026, 4, 1).date(), "households": 3, "persons": 4, "amount": Decimal("3120.00")}]
    assert kiosks.funds_slides(session, community, disclosure.DEFAULT) == [
        ("funds", {"rows": [{"month": "2026-04-01", "households": 3, "persons": 4, "amount": "3120.00"}]})]
    assert payments.funds_totals(session, session.get(Region, world.regions["comm_a2"])) == []  # one household


def test_nothing_is_public_before_the_bank_confirms(client, session, world, paid):
    session.execute(update(PaymentLine).values(status=LineStatus.pending))
    session.commit()
    assert "还没有经银行确认的发放记录" in client.get("/funds/").get_data(as_text=True)
    assert client.get("/api/v1/funds").get_json()["month"] is None


def test_no_funds_table_can_be_subtracted_from_another_to_single_a_household_out(client, session, world, paid):
    """A town's table beside the county's (suppressed as /stats/ is, dibao.stats.public_table): a region is
    shown or hidden alike in every table it is in, and a table with exactly one hidden row does not publish its
    total (town 甲 is hidden in the county's table beside 乙街道's one household, so 甲's own page keeps its total
    hidden, or the county's total minus it would give 乙's household away). tests/test_funds_suppression.py
    tries every subtraction."""
    tables = {}
    for code in (None, "100", "100001", "100002", "100001001", "100001002"):
        query = f"region={code}&month=2026-04" if code else "month=2026-04"
        tables[code] = client.get(f"/api/v1/funds?{query}").get_json()
    seen = {}
    for code, body in tables.items():
        hidden = [row for row in body["rows"] if row["suppressed"]]
        for row in body["rows"]:
            figures = (row["households"], row["persons"], row["amount"], row["suppressed"])
            assert seen.setdefault(row["region"]["code"], figures) == figures, (code, row)
        if len(hidden) == 1:
            assert body["total"]["suppressed"] and body["total"]["amount"] is None, code
    town = tables["100001"]
    assert town["total"]["suppressed"]
    assert [row["households"] for row in town["rows"]] == [3, None]  # 甲一 as in the county's table, 甲二 "<3"
    # Two towns hidden, and still the county's total 5 would pin 乙街道: 甲镇 is 甲一's 3 (shown on its page)
    # and 甲二's "<3", at least 4. So it is hidden, and (the only county) every county's total with it.
    assert tables["100"]["total"]["suppressed"] and tables[None]["total"]["suppressed"]
    assert pinned({code: {"rows": body["rows"], "total": body["total"]} for code, body in tables.items()}) == {}
    assert [row["suppressed_because"] for row in tables["100"]["rows"]] == ["complement", "small"]
    page = client.get("/funds/100001").get_data(as_text=True)
    assert "3900.00" not in page and "3120.00" in page


def _hide_sizes_and_amounts(session, world, channels) -> None:
    """The county's disclosure hides each household's size and amount on ``channels`` (the rest as by default)."""
    from dibao.disclosure import Channel, Field

    rules = {ch: dict(disclosure.DEFAULT_POLICY[ch]) for ch in Channel}
    for ch in channels:
        rules[ch][Field.household_size] = rules[ch][Field.amount] = "hidden"
    disclosure.save_policy(session, user(session, world, "admin"), session.get(Region, world.regions["county"]),
                           rules)
    session.commit()


def test_where_the_county_hides_sizes_and_amounts_no_public_figure_shows_persons_or_money(
        client, session, world, paid):
    """A total of persons or money over a few households, or the difference of two months' totals, gives a
    household's size and amount away: where the county's disclosure hides those on a channel, the statistics,
    the funds and the kiosk's slides of that channel show households alone (the roster's totals already did)."""
    from dibao.disclosure import Channel

    _hide_sizes_and_amounts(session, world, [Channel.web, Channel.api])
    stats_api = client.get("/api/v1/stats?region=100001").get_json()
    assert any(row["households"] for row in stats_api["rows"])  # the counts stay
    assert all(row["persons"] is None and row["amount"] is None for row in [*stats_api["rows"], *stats_api["totals"]])
    funds_api = client.get("/api/v1/funds?region=100001").get_json()
    assert funds_api["month"] == "2026-04" and [r["households"] for r in funds_api["rows"]][0] == 3
    assert all(r["persons"] is None and r["amount"] is None for r in [*funds_api["rows"], funds_api["total"]])
    for page in (client.get("/stats/100001").get_data(as_text=True), client.get("/funds/100001").get_data(as_text=True)):
        assert "3120.00" not in page and "None" not in page and "—" in page
    # The kiosk's channel still shows them (the policy hides them on the web and the API only) …
    community = session.get(Region, world.regions["comm_a1"])
    pol = disclosure.load_policy(session, community)
    [(_kind, funds)] = kiosks.funds_slides(session, community, pol)
    assert funds["rows"][0]["persons"] == 4 and funds["rows"][0]["amount"] == "3120.00"
    # … until the county hides them there too: then its slides show households alone.
    _hide_sizes_and_amounts(session, world, list(Channel))
    pol = disclosure.load_policy(session, community)
    [(_kind, funds)] = kiosks.funds_slides(session, community, pol)
    assert funds["rows"] == [{"month": "2026-04-01", "households": 3, "persons": None, "amount": None}]
    [(_kind, roster)] = kiosks.roster_slides(session, community, pol)
    assert roster["households"] == 3 and roster["persons"] is None


def test_a_month_nothing_was_paid_in_shows_the_latest_paid(client, session, world, paid):
    """Not a table of zeros beside the statistics' marks: the month asked for had no payment at all."""
    answer = client.get("/api/v1/funds?region=100001&month=2025-01").get_json()
    assert answer["month"] == "2026-04" and [r["households"] for r in answer["rows"]][0] == 3
