"""A staff session that has ended, met by an htmx request (the case search typing, a list polling): the whole
page goes to the login page and comes back afterwards, instead of the login page being swapped into a list."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

HTMX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/admin/cases/?q=%E5%BC%A0&stage=active"}


def _next(location: str) -> str:
    parts = urlsplit(location)
    assert parts.path == "/admin/login"
    return parse_qs(parts.query)["next"][0]


def test_an_htmx_request_without_a_session_reloads_the_page_at_the_login(client, world):
    res = client.get("/admin/cases/?q=%E5%BC%A0", headers=HTMX)
    assert res.status_code == 401
    assert res.get_data(as_text=True) == ""  # nothing for htmx to swap in
    assert _next(res.headers["HX-Redirect"]) == "/admin/cases/?q=%E5%BC%A0&stage=active"  # the page, not the fragment


def test_a_page_without_a_session_still_redirects(client, world):
    res = client.get("/admin/cases/?q=1")
    assert res.status_code == 302 and "HX-Redirect" not in res.headers
    assert _next(res.headers["Location"]) == "/admin/cases/?q=1"


def test_an_idle_session_met_by_htmx_goes_to_the_login_with_its_message(client, auth, world, clock):
    auth.login("staff_a1")
    assert client.get("/admin/cases/", headers=HTMX).status_code == 200
    clock.advance(minutes=31)
    res = client.get("/admin/cases/", headers=HTMX)
    assert res.status_code == 401 and res.get_data(as_text=True) == ""
    login_page = client.get(res.headers["HX-Redirect"]).get_data(as_text=True)
    assert "您已长时间未操作" in login_page


def test_the_page_named_by_htmx_must_be_the_backends(client, world):
    elsewhere = {"HX-Request": "true", "HX-Current-URL": "http://evil.example//evil.example/x"}
    res = client.get("/admin/cases/", headers=elsewhere)
    assert res.status_code == 401 and _next(res.headers["HX-Redirect"]) == "/admin/"
