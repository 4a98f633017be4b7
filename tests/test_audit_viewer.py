"""Issue 12: the audit viewer for the county — search by who, household, action and when, in the reader's
region, with the hash chain's status on the page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from tests.case_helpers import register, user
from tests.conftest import csrf_token


def _rows(html: str) -> int:
    body = html.split("<tbody>", 1)[1] if "<tbody>" in html else ""
    return body.count("<tr>")


def test_only_the_county_reads_the_audit_log(client, auth, world):
    for name in ("staff_a1", "town_a"):
        auth.login(name)
        assert client.get("/admin/audit/").status_code == 403
        assert client.get("/admin/audit/chain").status_code == 403
        auth.logout()
    for name in ("county", "admin"):
        auth.login(name)
        assert client.get("/admin/audit/").status_code == 200
        auth.logout()


def test_search_by_who_household_action_and_when(client, auth, world, session, clock):
    first = register(session, user(session, world, "staff_a1"), head_name="周一户")
    session.commit()
    clock.advance(days=3)
    second = register(session, user(session, world, "staff_b1"), head_name="吴二户")
    session.commit()
    auth.login("county")
    page = client.get("/admin/audit/?who=乙一专干").get_data(as_text=True)
    assert "吴二户" in page and "周一户" not in page
    page = client.get(f"/admin/audit/?household={first.number}").get_data(as_text=True)
    assert first.number in page and second.number not in page
    assert _rows(page) == 3  # registered, the income, … as the archive lists them
    page = client.get("/admin/audit/?household=吴二").get_data(as_text=True)
    assert second.number in page and first.number not in page
    page = client.get("/admin/audit/?action=case_registered").get_data(as_text=True)
    assert _rows(page) == 2 and "登记受理" in page
    today = clock.now().date().isoformat()
    page = client.get(f"/admin/audit/?since={today}&until={today}&action=case_registered").get_data(as_text=True)
    assert second.number in page and first.number not in page
    earlier = (clock.now() - timedelta(days=3)).date().isoformat()
    page = client.get(f"/admin/audit/?until={earlier}&action=case_registered").get_data(as_text=True)
    assert first.number in page and second.number not in page
    # htmx asks for the results alone.
    fragment = client.get("/admin/audit/?who=甲一专干", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<h1>" not in fragment and "周一户" in fragment
    # A search with a mistake says what is wrong and lists nothing (not the whole log as if it were the answer).
    for headers in ({}, {"HX-Request": "true"}):
        res = client.get("/admin/audit/?since=not-a-date&who=甲一专干", headers=headers)
        body = res.get_data(as_text=True)
        assert res.status_code == 400 and "查询条件有误" in body and "从：" in body
        assert _rows(body) == 0 and "周一户" not in body


def test_a_county_reader_sees_only_their_county(client, auth, world, session, make_region, make_user):
    from dibao.models import Role

    case = register(session, user(session, world, "staff_a1"), head_name="本县户")
    session.commit()
    auth.login(make_user("county2", Role.county_approver, make_region("200", "另一县")))
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert case.number not in page and "甲一专干" not in page
    assert "另一县" in page  # its own county's creation is there


def test_the_chain_status_is_shown_and_a_tampered_event_named(client, auth, world, session):
    register(session, user(session, world, "staff_a1"))
    session.commit()
    auth.login("county")
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert 'hx-get="/admin/audit/chain"' in page
    chain = client.get("/admin/audit/chain", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "哈希链完整" in chain
    # Someone with the database owner's powers gets past the append-only trigger …
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
    else:
        session.execute(text("DROP TRIGGER audit_event_no_update"))
    session.execute(text("UPDATE audit_event SET actor_name = '别人' WHERE action = 'case_registered'"))
    session.commit()
    chain = client.get("/admin/audit/chain", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "哈希链断裂" in chain


def test_a_sign_in_with_an_unknown_name_is_read_by_the_whole_deployments_admin_alone(
        client, auth, world, session, make_region, make_user):
    """Its typed name (perhaps a password typed in the wrong box) and address belong to no county: the admin of
    the deployment's one top region reads it; where counties stand side by side, no county's admin does."""
    from dibao.models import Role

    client.post("/admin/login", data={"username": "MyP@ssw0rd2026", "password": "x",
                                      "csrf_token": csrf_token(client, "/admin/login")})
    auth.login("admin")
    assert "myp@ssw0rd2026" in client.get("/admin/audit/").get_data(as_text=True).lower()
    auth.logout()
    admin2 = make_user("admin2", Role.admin, make_region("200", "另一县"))
    for username in ("admin", admin2):
        auth.login(username)
        assert "myp@ssw0rd" not in client.get("/admin/audit/").get_data(as_text=True).lower()
        auth.logout()
