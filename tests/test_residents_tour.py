"""The residents' side tried as a new user and as a hostile one: what was still wrong, each fix's proof.

- a household's notice page is tagged and ``no-cache`` (a cache must ask again, and gets 410 once it closed);
- the public forms are ``private, no-store`` and answer HEAD as they answer GET (not as a failed submission);
- the limits count an IPv6 client by its /64, so changing address inside it does not get past them;
- an objection (or a report from a notice) sent after the notice closed keeps what the resident wrote.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dibao.models import FeedbackStatus, Objection, Report
from dibao.web import client_network
from tests.feedback_helpers import form_fields, objection_data, open_entry

# --- the notice page of one household: never kept past its closing --------------------------------------------


def test_a_households_notice_page_must_be_revalidated_and_is_gone_after_closing(client, session, world, clock):
    entry = open_entry(session, world)
    url = f"/notices/e/{entry.public_id}"
    first = client.get(url)
    assert first.status_code == 200 and "王*明" in first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "no-cache"  # kept copies are asked about every time
    etag = first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    clock.advance(minutes=61)  # the time left it shows moved: a new page
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200
    etag = client.get(url).headers["ETag"]
    clock.set(entry.batch.closes_at)  # the closing second: a cache asking with its copy's tag gets 410
    gone = client.get(url, headers={"If-None-Match": etag})
    assert gone.status_code == 410 and "王*明" not in gone.get_data(as_text=True)


# --- the public forms -------------------------------------------------------------------------------------------


def test_the_public_forms_are_kept_by_no_cache(client, session, world):
    entry = open_entry(session, world)
    for url in (f"/objections/new?entry={entry.public_id}", "/objections/new", "/objections/new?region=100001001",
                "/reports/new", f"/reports/new?entry={entry.public_id}", "/reports/roster?region=100001001", "/apply"):
        res = client.get(url)
        assert res.status_code == 200, url
        control = res.headers.get("Cache-Control", "")
        assert "no-store" in control and "private" in control, (url, control)


def test_head_is_answered_like_get_on_the_public_forms(client, session, world):
    """A phone's preview of a scanned link or a link checker asks HEAD: the form is there (200), not a 400 as
    if an empty form had been sent, and nothing is written."""
    entry = open_entry(session, world)
    for url in (f"/objections/new?entry={entry.public_id}", "/objections/new", "/reports/new",
                f"/reports/new?entry={entry.public_id}", "/apply"):
        head = client.head(url)
        get = client.get(url)
        assert head.status_code == get.status_code == 200, (url, head.status_code)
        assert head.data == b""
    assert client.head(f"/objections/new?entry={entry.public_id.upper()}").status_code == 302  # as GET: normalised
    assert session.scalar(select(func.count()).select_from(Objection)) == 0
    assert session.scalar(select(func.count()).select_from(Report)) == 0


# --- IPv6: one client is its /64 -------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "counted"), [
    ("10.0.0.5", "10.0.0.5"),
    ("2408:8207:1850:6f0:1c2d:3e4f:5a6b:7c8d", "2408:8207:1850:6f0::/64"),
    ("2408:8207:1850:6f0::1", "2408:8207:1850:6f0::/64"),
    ("2408:8207:1850:6f1::1", "2408:8207:1850:6f1::/64"),
    ("::ffff:10.0.0.5", "10.0.0.5"),  # IPv4 carried in IPv6
    ("fe80::1%eth0", "fe80::/64"),
    ("unknown", "unknown"),
    (None, ""),
])
def test_a_client_is_its_ipv4_address_or_its_ipv6_64(address, counted):
    assert client_network(address) == counted


def _v6(n: int, net: str = "2408:8207:1850:6f0") -> str:
    return f"{net}:{n:x}:{n * 7 % 65536:x}:{n * 13 % 65536:x}:{n * 17 % 65536:x}"


def test_new_ipv6_addresses_in_one_64_do_not_get_past_the_hold_cap(app, client, session, world):
    """One phone holds at most five entries with open objections — also when every objection comes from
    another address of its /64 (they change by themselves, and anyone can pick any of 2**64)."""
    app.config["FEEDBACK_RATE_LIMIT"] = "100 per minute"
    entries = [open_entry(session, world, head_name=f"王{n}明") for n in range(6)]

    def send(entry, address):
        return client.post(f"/objections/new?entry={entry.public_id}", data=objection_data(client, entry.public_id),
                           environ_base={"REMOTE_ADDR": address})

    for n, entry in enumerate(entries[:5]):
        assert send(entry, _v6(n + 1)).status_code == 303
    assert send(entries[5], _v6(99)).status_code == 303  # received (feedback.check_hold), but holds nothing
    assert session.scalars(select(Objection.status).order_by(Objection.id)).all() == [
        FeedbackStatus.received] * 5 + [FeedbackStatus.over_cap]
    assert send(entries[5], _v6(99, net="2408:8207:1850:6f1")).status_code == 303  # another line: its own count
    session.rollback()
    assert session.scalar(select(func.count()).where(Objection.status == FeedbackStatus.received)) == 6


def test_new_ipv6_addresses_in_one_64_share_one_rate_limit(client, world):
    codes = [client.get("/track", environ_base={"REMOTE_ADDR": _v6(n + 1)}).status_code for n in range(31)]
    assert codes == [200] * 30 + [429]  # 30 a minute, whichever address of the /64 asks
    assert client.get("/track", environ_base={"REMOTE_ADDR": _v6(1, net="2408:8207:1850:6f1")}).status_code == 200


# --- written while the notice was open, sent after it closed ------------------------------------------------------


def test_an_objection_sent_after_the_closing_keeps_what_was_written_as_a_report(client, session, world, clock):
    entry = open_entry(session, world)
    data = objection_data(client, entry.public_id, description="他家儿子在城里开了一家饭店，收入不低，还买了车。",
                          name="李四", phone="0551-6543 2100")
    clock.set(entry.batch.closes_at)  # the closing second
    res = client.post(f"/objections/new?entry={entry.public_id}", data=data)
    page = res.get_data(as_text=True)
    assert res.status_code == 410
    assert "公示期已于" in page and "您写的内容还在下面" in page
    assert "他家儿子在城里开了一家饭店，收入不低，还买了车。" in page and 'value="李四"' in page
    assert 'action="/reports/new"' in page  # the report form, which may be sent at any time
    assert "王*明" not in page and "王小明" not in page and entry.public_id not in page  # nothing of the household
    assert session.scalar(select(func.count()).select_from(Objection)) == 0

    # The resident names the household and sends it as a report.
    fields = dict(re.findall(r'name="(csrf_token|submission_id)" type="hidden" value="([^"]+)"', page))
    report = {**fields, "entry": "", "subject": "recipient", "region": "100001001", "case": "",
              "about": "甲一社区的王家", "category": data["category"], "description": data["description"],
              "name": "李四", "phone": data["phone"], "website": ""}
    res = client.post("/reports/new", data=report)
    assert res.status_code == 303, res.get_data(as_text=True)
    session.rollback()  # a new snapshot (SQLite WAL keeps the old one while a transaction is open)
    saved = session.scalar(select(Report))
    assert saved.description == data["description"] and saved.real_name and saved.entry_id is None


def test_a_report_from_a_notice_sent_after_the_closing_comes_back_without_the_notice(client, session, world, clock):
    entry = open_entry(session, world)
    data = {**form_fields(client, f"/reports/new?entry={entry.public_id}"), "entry": entry.public_id,
            "subject": "recipient", "category": "household", "description": "家里实际住着五口人，不是三口。",
            "name": "", "phone": "", "website": ""}
    clock.set(entry.batch.closes_at)
    res = client.post("/reports/new", data=data)
    page = res.get_data(as_text=True)
    assert res.status_code == 410 and "家里实际住着五口人，不是三口。" in page and "您写的内容还在下面" in page
    assert "王*明" not in page and entry.public_id not in page
    assert session.scalar(select(func.count()).select_from(Report)) == 0
    assert client.get(f"/reports/new?entry={entry.public_id}").status_code == 410  # a GET is still the 410 page
