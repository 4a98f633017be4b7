"""One reading of a record id a user sent (dibao.errors.parse_record_id), with one bound: a database key,
1 … 2^31−1 (every id is an INTEGER column). The query string's numbers (dibao.web.int_arg), the staff forms' selects
(admin.forms.record_id), the notice's chosen households and the sitting's ticked households all read it, so a
number no key can reach is "not chosen" or "not found" alike, with a Chinese message and a 4xx — never a 500,
on either engine."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from admin.forms import record_id
from dibao.errors import MAX_RECORD_ID, parse_record_id
from dibao.models import AuditEvent, Level, NoticeBatch, Region
from dibao.models.records import ReviewResult
from dibao.web import int_arg
from tests.case_helpers import register, standard, user
from tests.conftest import csrf_token
from tests.factories import case_awaiting_notice
from tests.test_all_errors_staff import beside

PAST_EVERY_KEY = [str(2**31), "9" * 19, str(2**63), "9" * 5000]


def test_the_bound_is_postgresqls_integer():
    assert MAX_RECORD_ID == 2**31 - 1


@pytest.mark.parametrize(("value", "expected"), [
    ("1", 1),
    (" 12 ", 12),  # spaces around it, as a pasted or hand-edited value has them
    ("\t7\n", 7),
    ("0012", 12),
    (str(2**31 - 1), 2**31 - 1),  # the largest key
    (1, 1),  # a value already read
    (2**31 - 1, 2**31 - 1),
])
def test_a_possible_key_is_read(value, expected):
    assert parse_record_id(value) == expected


@pytest.mark.parametrize("value", [
    "0", "-1", "+1", "-0", 0, -1,
    str(2**31), 2**31,  # one past the largest key
    "9" * 10,  # ten digits, but past the bound
    "9" * 11, "0" * 11 + "1",  # more digits than any key has
    "9" * 19, "9" * 5000,  # (int() of 5000 digits would raise, a 500)
    "１２",  # full-width digits: int() reads them
    "٣",  # an Arabic-Indic digit: int() reads it too
    "1e3", "1.0", "1_000", "0x1f", "1 2", "12\x00", "NaN",
    "", " ", "\u3000", None,
    True, False, 1.0, b"12", [1],
])
def test_anything_else_names_no_record(value):
    assert parse_record_id(value) is None


@pytest.mark.parametrize(("query", "expected"), [
    ("community=12", 12), ("community=%2012%20", 12), (f"community={2**31 - 1}", 2**31 - 1),
    (f"community={2**31}", None), ("community=" + "9" * 19, None), ("community=%EF%BC%91%EF%BC%92", None),
    ("community=0", None), ("community=-3", None), ("community=", None), ("other=12", None),
])
def test_the_query_string_reads_it_the_same_way(app, query, expected):
    with app.test_request_context(f"/admin/cases/?{query}"):
        assert int_arg("community") == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("12", 12), (" 12 ", 12), (12, 12), (str(2**31 - 1), 2**31 - 1),
    ("0", 0), (0, 0),  # the "none of them" choice some lists offer (未指定承办人, 新的评议会议)
    (str(2**31), -1), ("9" * 19, -1), ("１２", -1), ("٣", -1), ("-1", -1), ("1e3", -1), ("", -1), ("x", -1),
])
def test_a_forms_select_reads_it_the_same_way(value, expected):
    """-1, which no record has: the domain says so beside the field, with the form's other problems."""
    assert record_id(value) == expected


def test_a_select_with_nothing_yet_stays_empty():
    with pytest.raises(TypeError):  # WTForms leaves the field's data None
        record_id(None)


# --- end to end: a query string, a form's checkboxes, its hidden list ---------------------------------------

def test_a_list_filter_no_key_can_reach_is_not_chosen(client, auth, session, world):
    """The case list's filters (query string): a community or page past every key is read as not chosen — the
    list as without it, 200 — where it used to filter down to nothing, or (a huge page) overflow the database's
    OFFSET into its 400."""
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    session.commit()
    auth.login("town_a")
    res = client.get(f"/admin/cases/?community={MAX_RECORD_ID}")  # a possible key, no such community: nothing
    assert res.status_code == 200 and case.number not in res.get_data(as_text=True)
    for value in [*PAST_EVERY_KEY, "１２", "٣"]:
        for query in (f"community={value}", f"category={value}", f"page={value}", f"community={value}&page={value}"):
            res = client.get(f"/admin/cases/?{query}")
            assert res.status_code == 200, (query[:60], res.status_code)
            assert case.number in res.get_data(as_text=True), query[:60]
    res = client.get("/admin/cases/?page=" + "9" * 18)  # 18 digits used to pass, and overflow the OFFSET
    assert res.status_code == 200 and case.number in res.get_data(as_text=True)


@pytest.mark.parametrize("huge", [str(2**31), "9" * 19])
def test_a_notices_household_no_key_can_reach_is_refused_beside_the_field(client, auth, session, world, huge):
    """The notice's households (checkboxes, and the hidden list carried from the preview to the publish): a number
    no key can reach is "所选案件无效" beside the households, 400, with the form's other problems — it used to be
    asked of the database and answered by the error page alone (404, or 19 digits the database's overflow 400)."""
    case = case_awaiting_notice(session, session.get(Region, world.regions["comm_a1"]), Level.town)
    session.commit()
    auth.login("town_a")
    token = csrf_token(client, "/admin/notices/new")
    base = {"csrf_token": token, "title": "", "window_days": "7"}
    res = client.post("/admin/notices/preview", data={**base, "case_id": [str(case.id), huge]})
    html = res.get_data(as_text=True)
    assert res.status_code == 400 and "所选案件无效" in beside(html, "case_id")
    assert "请填写公示标题" in beside(html, "title")  # said together, on the same page
    res = client.post("/admin/notices/publish", data={**base, "title": "公示", "case_ids": f"{case.id},{huge}"})
    assert res.status_code == 400 and "所选案件无效" in beside(res.get_data(as_text=True), "case_id")
    assert session.scalar(select(func.count(NoticeBatch.id))) == 0


@pytest.mark.parametrize("huge", [str(2**31), "9" * 19, "٣"])
def test_a_sittings_household_no_key_can_reach_is_not_chosen(client, auth, session, world, huge):
    """One sitting's ticked households (checkboxes): a number no key can reach is not a household chosen
    ("请至少选择一户", 400, beside the list) — 2^31 used to be asked of the database (404), and "٣", which
    ``int()`` reads as 3, the household with id 3."""
    auth.login("staff_a1")
    token = csrf_token(client, "/admin/sittings/community")
    before = session.scalar(select(func.count(AuditEvent.id)))
    res = client.post("/admin/sittings/community", data={
        "csrf_token": token, "held_on": "2026-03-18", "location": "社区会议室", "panel": "甲\n乙\n丙\n丁\n戊",
        "include": [huge], f"decision-{huge}": "approve", f"for-{huge}": "5", f"against-{huge}": "0",
        f"abstain-{huge}": "0", f"opinion-{huge}": "经评议，同意上报。"})
    assert res.status_code == 400 and "请至少选择一户" in res.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(func.count(ReviewResult.id))) == 0
    assert session.scalar(select(func.count(AuditEvent.id))) == before


def test_a_record_is_looked_up_by_the_same_reading(session, world):
    """db.get_record: the domain's lookups of an id a user sent (a job, a payment run, a meeting…) read it as every
    id is read, and a number no key can reach names nothing without reaching the database."""
    from dibao import db

    county = world.regions["county"]
    assert db.get_record(session, Region, county).id == county
    assert db.get_record(session, Region, str(county)).id == county
    for value in (*PAST_EVERY_KEY, 0, -1, None, "", "x", True, 2**31):
        assert db.get_record(session, Region, value) is None, value


@pytest.mark.parametrize("path", ["/admin/cases/{n}", "/admin/payments/{n}", "/admin/jobs/{n}"])
def test_a_path_id_past_every_key_is_not_found(client, auth, world, path):
    """The URL's <int:…> stops at the same bound: 2^31 is a 404 page in Chinese, as an id with no record is."""
    auth.login("county")
    for n in (MAX_RECORD_ID, MAX_RECORD_ID + 1, 2**63):
        res = client.get(path.format(n=n))
        assert res.status_code == 404 and "系统出错" not in res.get_data(as_text=True), (path, n)
