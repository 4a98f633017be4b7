"""Issue 13 at province scale: the public roster (公布) and the API's listings come a page at a time.

The roster's totals (households, persons, monthly money of the whole region) are SQL aggregates, the lines are one
page in a stable order (community, head's name, id), and the ETag of each page moves when a line of that page or
the totals move — with the public cache on (its meta is rebuilt when the county's version moves) and off.
"""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from dibao import notices
from dibao.models import Case, Level, Region, Stage
from portal.notices import page_numbers
from tests.api_helpers import conforms, response_schema
from tests.factories import case_awaiting_notice, make_case
from tests.notice_helpers import _region, _user, publish_town_batch

ID_NUMBER, PHONE = "110101195003071234", "13812345678"  # make_case's: never on a public answer
ROW = re.compile(r"<tr><td data-label=\"社区（村）\">([^<]+)</td>.*?<td data-label=\"住址\">([^<]+)</td>"
                 r".*?<td data-label=\"家庭人口\">(\d+) 人</td>.*?<td data-label=\"保障金额（元/月）\">([^<]+)</td>",
                 re.S)
PAGE_HOSTILE = [str(2**63), str(2**64 + 1), "9" * 40, "9" * 5000, "-1", "-9223372036854775809", "0", "1_000",
                "1e308", "NaN", "inf", "１２３４５", "٣", "　", "\x00", "' OR '1'='1' --", "1; DROP TABLE dibao_case;--",
                "<script>alert(1)</script>", "{{7*7}}", "1.0", "0x10", "", " ", "+1"]
NAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"


def households(session, n: int, code: str = "100001001", **kwargs) -> list[Case]:
    """``n`` active households with different names, sizes (1–3) and amounts, committed."""
    region = _region(session, code)
    made = [make_case(session, region, stage=Stage.active, head_name=f"{NAMES[i % len(NAMES)]}{i // len(NAMES)}山",
                      members=1 + i % 3, income=Decimal("0"), amount=Decimal(1000 + i), **kwargs)
            for i in range(n)]
    session.commit()
    return made


def rows(html: str) -> list[tuple[str, str, int, str]]:
    """The roster table's lines as the page shows them: community, address, persons, amount."""
    return [(c, a, int(p), m) for c, a, p, m in ROW.findall(html)]


def summary(html: str) -> tuple[int, int, str]:
    households_, persons, money = re.search(r"共 (\d+) 户 (\d+) 人，每月保障金合计 ([\d.]+) 元", html).groups()
    return int(households_), int(persons), money


def expected_order(session, code: str) -> list[str]:
    """Public addresses of the region's roster in the order the roster promises (community, head's name, id)."""
    region = _region(session, code)
    stmt = (select(Case.public_address).join(Case.region).where(Case.stage == Stage.active,
                                                                Region.path.startswith(region.path))
            .order_by(Region.path, Case.head_name, Case.id))
    return list(session.scalars(stmt))


@pytest.fixture(params=["cached", "uncached"])
def cache_mode(request, app):
    """Every roster test runs with the public cache on (the default) and off."""
    app.config["PUBLIC_CACHE"] = request.param == "cached"
    return request.param


# --- the page ------------------------------------------------------------------------------------------------

def test_the_roster_comes_in_pages_that_follow_one_another(client, world, session, cache_mode):
    households(session, 53)
    make_case(session, _region(session, "100001002"), stage=Stage.active, head_name="甲二户", members=2)
    make_case(session, _region(session, "100001001"), stage=Stage.town_review, head_name="审核中")
    make_case(session, _region(session, "100002001"), stage=Stage.active, head_name="乙一户")  # another town
    session.commit()
    first = client.get("/roster/100001")
    html1 = first.get_data(as_text=True)
    assert first.status_code == 200
    page1 = rows(html1)
    second = client.get("/roster/100001?page=2")
    html2 = second.get_data(as_text=True)
    page2 = rows(html2)
    assert (len(page1), len(page2)) == (50, 4)
    # Page 2 holds the next lines: no overlap, no gap, in the promised order.
    assert [a for _, a, _, _ in page1 + page2] == expected_order(session, "100001")
    assert page1[0][0] == "甲一社区" and page2[-1][0] == "甲二社区"
    # The totals are the whole town's, the same on both pages, and the sum of every line of every page.
    assert summary(html1) == summary(html2) == (54, sum(p for _, _, p, _ in page1 + page2),
                                                f"{sum(Decimal(m) for _, _, _, m in page1 + page2):.2f}")
    assert "审核中" not in html1 + html2 and "乙一" not in "".join(a for _, a, _, _ in page1 + page2)
    # The pager: plain links, the current page marked, 上一页 only from page 2, 下一页 only before the last.
    assert "第 1 页，共 2 页" in html1 and 'href="/roster/100001?page=2" rel="next">下一页' in html1
    assert "上一页" not in html1 and 'aria-current="page"' in html1
    assert "第 2 页，共 2 页" in html2 and 'href="/roster/100001" rel="prev">上一页' in html2 and "下一页" not in html2
    assert "本页列出第 51 至 54 户" in html2
    assert client.get("/roster/100001?page=1").get_data(as_text=True) == html1
    for text in (html1, html2):
        assert ID_NUMBER not in text and PHONE not in text


def test_a_short_roster_has_no_pager(client, world, session, cache_mode):
    households(session, 3)
    html = client.get("/roster/100001001").get_data(as_text=True)
    assert len(rows(html)) == 3 and 'class="pager"' not in html and "本页列出" not in html
    assert summary(html)[0] == 3


def test_a_page_past_the_last_is_404_and_a_bad_page_400(client, world, session, cache_mode):
    households(session, 51)
    assert client.get("/roster/100001001?page=2").status_code == 200
    res = client.get("/roster/100001001?page=3")
    assert res.status_code == 404 and "没有第 3 页：共 2 页" in res.get_data(as_text=True)
    assert client.get("/roster/?page=3").status_code == 404
    assert client.get("/roster/100002001?page=2").status_code == 404  # an empty roster has one page
    assert client.get("/roster/100002001?page=1").status_code == 200
    for bad in ("0", "-1", "abc", "1.5", "１", "", "2e3", str(2**63), "9" * 5000, "1 OR 1=1"):
        res = client.get("/roster/100001001", query_string={"page": bad})
        assert res.status_code == 400 and "页码应为从 1 开始的整数" in res.get_data(as_text=True), bad
    assert client.get("/roster/nowhere?page=2").status_code == 404


def test_the_etag_of_a_page_moves_with_its_lines_and_with_the_totals(client, world, session, cache_mode):
    made = households(session, 53)
    order = expected_order(session, "100001001")
    on_page_2 = next(c for c in made if c.public_address == order[51])
    tags = {p: client.get(f"/roster/100001001?page={p}").headers["ETag"] for p in (1, 2)}

    def status(page: int) -> int:
        return client.get(f"/roster/100001001?page={page}", headers={"If-None-Match": tags[page]}).status_code

    assert status(1) == status(2) == 304
    # A line of page 2 changes (what it shows, not the totals): page 2 answers anew, page 1 is still the same.
    on_page_2.public_address = "甲一社区新村9号"
    session.commit()
    assert status(2) == 200 and status(1) == 304
    assert "甲一社区新村9号" in client.get("/roster/100001001?page=2").get_data(as_text=True)
    tags[2] = client.get("/roster/100001001?page=2").headers["ETag"]
    assert status(2) == 304
    # A household leaves the roster: the totals move, so both pages answer anew.
    leaving = session.get(Case, on_page_2.id)
    leaving.stage = Stage.exited
    session.commit()
    assert status(1) == 200 and status(2) == 200
    html = client.get("/roster/100001001?page=2").get_data(as_text=True)
    assert "甲一社区新村9号" not in html and summary(html)[0] == 52 and len(rows(html)) == 2
    # A new household whose line lands on page 1 pushes the lines after it on: page 2 changes too.
    tags = {p: client.get(f"/roster/100001001?page={p}").headers["ETag"] for p in (1, 2)}
    make_case(session, _region(session, "100001001"), stage=Stage.active, head_name="丁一山", members=1)
    session.commit()
    assert status(1) == 200 and status(2) == 200


def test_a_household_moved_to_another_county_leaves_the_old_countys_roster(client, world, session, make_region):
    """The cache's version of the county a household leaves moves too (dibao.cache: the old region of a moved
    row), or the old county's roster would keep showing it until something else changed there."""
    make_region("200", "邻县")
    make_region("200001", "丙镇", parent="200")
    elsewhere = make_region("200001001", "丙一社区", parent="200001")
    [moving] = households(session, 1)
    assert summary(client.get("/roster/100").get_data(as_text=True))[0] == 1
    assert summary(client.get("/roster/200").get_data(as_text=True))[0] == 0
    case = session.get(Case, moving.id)
    case.region = session.get(Region, elsewhere.id)  # as household.transfer moves it
    session.commit()
    assert summary(client.get("/roster/100").get_data(as_text=True))[0] == 0
    assert summary(client.get("/roster/200").get_data(as_text=True))[0] == 1
    assert summary(client.get("/roster/").get_data(as_text=True))[0] == 1


def test_the_whole_rosters_totals_are_the_sum_of_each_countys(client, world, session, make_region, cache_mode):
    """No region: every county's totals added up (each kept under its own county's version when cached)."""
    make_region("200", "邻县")
    make_region("200001", "丙镇", parent="200")
    make_region("200001001", "丙一社区", parent="200001")
    households(session, 2)
    households(session, 3, code="200001001")
    assert summary(client.get("/roster/").get_data(as_text=True)) == (5, (1 + 2) + (1 + 2 + 3), "5004.00")
    # A change in one county shows at once in the whole roster's totals.
    case = session.scalar(select(Case).join(Case.region).where(Region.code == "200001001").order_by(Case.id).limit(1))
    case.monthly_amount = Decimal("2000.00")  # was 1000
    session.commit()
    assert summary(client.get("/roster/").get_data(as_text=True))[2] == "6004.00"


def test_hidden_sizes_or_amounts_are_not_given_away_by_the_totals(client, world, session, cache_mode):
    from dibao import disclosure
    from dibao.disclosure import Channel, Field

    households(session, 1)
    county = _region(session, "100")
    rules = {ch: {f: disclosure.DEFAULT_POLICY[ch][f] for f in Field} for ch in Channel}
    rules[Channel.web][Field.amount] = "hidden"
    rules[Channel.api][Field.household_size] = "hidden"
    disclosure.save_policy(session, _user(session, "admin"), county, rules)
    session.commit()
    html = client.get("/roster/100001001").get_data(as_text=True)
    assert "共 1 户 1 人。" in html and "1000.00" not in html and "合计" not in html
    data = client.get("/api/v1/roster?region=100001001").get_json()
    assert data["persons"] is None and data["monthly_total"] == "1000.00"
    assert "household_size" not in data["recipients"][0]


def test_page_numbers_show_the_ends_and_two_either_side():
    assert page_numbers(1, 1) == [1]
    assert page_numbers(2, 3) == [1, 2, 3]
    assert page_numbers(6, 120) == [1, None, 4, 5, 6, 7, 8, None, 120]
    assert page_numbers(1, 120) == [1, 2, 3, None, 120]
    assert page_numbers(4, 7) == [1, 2, 3, 4, 5, 6, 7]


# --- the domain ----------------------------------------------------------------------------------------------

def test_roster_pages_and_totals_in_the_domain(world, session):
    households(session, 7)
    households(session, 2, code="100001002")
    town = _region(session, "100001")
    everything = notices.roster(session, town)
    pages = [notices.roster(session, town, page=p, per_page=4) for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [4, 4, 1]
    assert [line.id for p in pages for line in p] == [line.id for line in everything]
    assert notices.roster(session, town, page=4, per_page=4) == []
    totals = notices.roster_totals(session, town)
    assert (totals.households, totals.persons, totals.amount) == (
        9, sum(line.household_size for line in everything), sum(line.monthly_amount for line in everything))
    assert totals.communities == (("/100/100001/100001001/", 7), ("/100/100001/100001002/", 2))
    assert totals.pages(4) == 3 and notices.RosterTotals(0, 0, Decimal(0)).pages(50) == 1
    # With the totals a page starts at its own community: the same lines as counting from the first.
    for per_page in (1, 2, 4, 7, 8, 9, 10):
        for page in range(1, 11):
            start = totals.start(page, per_page)
            expected = notices.roster(session, town, page=page, per_page=per_page)
            assert (notices.roster(session, town, per_page=per_page, start=start) if start else []) == expected, \
                (page, per_page)
            assert (start is None) == (page > totals.pages(per_page)) or totals.households == 0
    assert notices.roster_totals(session, _region(session, "100002")) == notices.RosterTotals(0, 0, Decimal(0))


# --- the API -------------------------------------------------------------------------------------------------

def test_the_roster_api_is_paged(client, world, session, cache_mode):
    households(session, 45)
    res = client.get("/api/v1/roster?region=100001&per_page=20")
    data = res.get_json()
    conforms(data, response_schema("/api/v1/roster"))
    assert (data["total"], data["pages"], data["page"], data["per_page"]) == (45, 3, 1, 20)
    assert data["previous"] is None and data["households"] == 45
    assert urlsplit(data["next"]).path == "/api/v1/roster" and "page=2" in data["next"] and "region=100001" in data["next"]
    seen = list(data["recipients"])
    while data["next"]:
        nxt = urlsplit(data["next"])
        data = client.get(f"{nxt.path}?{nxt.query}").get_json()
        conforms(data, response_schema("/api/v1/roster"))
        seen += data["recipients"]
    assert data["page"] == 3 and len(data["recipients"]) == 5 and "page=2" in data["previous"]
    assert [r["address"] for r in seen] == expected_order(session, "100001")
    assert data["persons"] == sum(r["household_size"] for r in seen)
    assert data["monthly_total"] == f"{sum(Decimal(r['monthly_amount']) for r in seen):.2f}"
    # The default page and the limits.
    assert client.get("/api/v1/roster?region=100001").get_json()["per_page"] == notices.ROSTER_PER_PAGE
    assert client.get("/api/v1/roster?region=100001&per_page=500").get_json()["pages"] == 1
    missing = client.get("/api/v1/roster?region=100001&per_page=20&page=4")
    assert missing.status_code == 404 and "没有第 4 页" in missing.get_json()["message"]
    conforms(missing.get_json(), response_schema("/api/v1/roster", "404"))
    for query in ("per_page=0", "per_page=501", "per_page=abc", "per_page=", "page=0", "page=x", "page=",
                  f"page={2**64}"):
        res = client.get(f"/api/v1/roster?region=100001&{query}")
        assert res.status_code == 400 and res.get_json()["error"] == "invalid", query
    assert "每页条数应为 1 到 500" in client.get("/api/v1/roster?per_page=501").get_json()["message"]
    text = client.get("/api/v1/roster?region=100001&per_page=500").get_data(as_text=True)
    assert ID_NUMBER not in text and PHONE not in text


def test_the_roster_apis_etag_moves_with_its_page(client, world, session, cache_mode):
    made = households(session, 6)
    url = "/api/v1/roster?region=100001001&per_page=3&page=2"
    tag = client.get(url).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    order = expected_order(session, "100001001")
    moved = session.get(Case, next(c.id for c in made if c.public_address == order[4]))
    moved.monthly_amount = Decimal("1.00")
    session.commit()
    res = client.get(url, headers={"If-None-Match": tag})
    assert res.status_code == 200 and "1.00" in [r["monthly_amount"] for r in res.get_json()["recipients"]]


def _community_batch(session, n: int, community: str = "100001001"):
    region = _region(session, community)
    cases = [case_awaiting_notice(session, region, Level.community) for _ in range(n)]
    batch = notices.publish(session, _user(session, "staff_a1"), case_ids=[c.id for c in cases],
                            title="甲一社区初审公示")
    session.commit()
    return batch


def test_the_notices_api_is_paged_in_board_order(client, world, session, clock, cache_mode):
    _community_batch(session, 3)
    clock.advance(__import__("datetime").timedelta(minutes=5))
    publish_town_batch(session, 4)
    board = notices.board(session, _region(session, "100001"))
    in_order = [e.public_id for e in board.entries]  # town board first, then the community's
    assert len(in_order) == 7
    url = "/api/v1/notices?region=100001&per_page=3"
    data = client.get(url).get_json()
    conforms(data, response_schema("/api/v1/notices"))
    assert (data["total"], data["pages"], data["page"], data["per_page"], data["previous"]) == (7, 3, 1, 3, None)
    pages = [data]
    while data["next"]:
        nxt = urlsplit(data["next"])
        data = client.get(f"{nxt.path}?{nxt.query}").get_json()
        conforms(data, response_schema("/api/v1/notices"))
        pages.append(data)
    assert [len([e for b in p["batches"] for e in b["entries"]]) for p in pages] == [3, 3, 1]
    assert [e["id"] for p in pages for b in p["batches"] for e in b["entries"]] == in_order
    # The town batch runs over pages 1 and 2: page 2 shows its header again, then the community's batch.
    assert [b["level"] for b in pages[1]["batches"]] == ["town", "community"]
    assert all(p["next_change_at"] == pages[0]["next_change_at"] for p in pages)
    missing = client.get(url + "&page=4")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    for query in ("per_page=0", "per_page=9999", "page=-1", "page=１"):
        assert client.get(f"/api/v1/notices?{query}").status_code == 400, query
    # Without per_page: the default page holds them all, as before.
    whole = client.get("/api/v1/notices?region=100001").get_json()
    assert whole["pages"] == 1 and [e["id"] for b in whole["batches"] for e in b["entries"]] == in_order


def test_the_notices_apis_page_moves_when_an_entry_of_it_is_withdrawn(client, world, session, clock, cache_mode):
    batch, _ = publish_town_batch(session, 4)
    url = "/api/v1/notices?region=100001&per_page=2&page=2"
    first = client.get(url)
    tag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    third = next(e for e in batch.entries if e.public_id == first.get_json()["batches"][0]["entries"][0]["id"])
    notices.withdraw_entry(session, _user(session, "town_a"), session.merge(third), "重新核查后再公示")
    session.commit()
    res = client.get(url, headers={"If-None-Match": tag})
    assert res.status_code == 200 and res.get_json()["total"] == 3
    assert third.public_id not in res.get_data(as_text=True)


def test_hostile_page_values_are_refused_with_a_400(client, world, session):
    """The sweep of tests/test_hostile_input.py sends its corpus in every parameter at once; here values aimed at a
    page number, one parameter at a time, to each paged listing: each must be a clear 400."""
    households(session, 2)
    for url in ("/roster/", "/roster/100001", "/api/v1/roster", "/api/v1/notices"):
        for name in ("page", "per_page"):
            if name == "per_page" and url.startswith("/roster"):
                continue  # the web page has one page size
            for value in PAGE_HOSTILE:
                res = client.get(url, query_string={name: value})
                assert res.status_code == 400, (url, name, value, res.status_code)


def test_the_notices_apis_page_moves_when_a_photo_on_it_may_no_longer_be_shown(client, world, session, clock,
                                                                               cache_mode):
    """Same total, same boundary: only the page's own entries say that consent was withdrawn (PIPL Art. 15)."""
    from dibao import disclosure
    from dibao.disclosure import Channel, Field

    rules = {ch: {f: disclosure.DEFAULT_POLICY[ch][f] for f in Field} for ch in Channel}
    rules[Channel.api][Field.photo] = "show"
    disclosure.save_policy(session, _user(session, "admin"), _region(session, "100"), rules)
    batch, cases = publish_town_batch(session, 4, photo_key="ab" * 20, photo_consent=True)
    url = "/api/v1/notices?region=100001&per_page=2&page=2"
    first = client.get(url)
    [group] = first.get_json()["batches"]
    assert all("photo_url" in e for e in group["entries"])
    tag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    entry = next(e for e in batch.entries if e.public_id == group["entries"][0]["id"])
    case = session.get(Case, entry.case_id)
    case.photo_consent = False
    session.commit()
    res = client.get(url, headers={"If-None-Match": tag})
    assert res.status_code == 200 and res.get_json()["total"] == 4
    assert "photo_url" not in res.get_json()["batches"][0]["entries"][0]
