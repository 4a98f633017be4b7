"""Every error the app answers with is in Chinese, in the site's layout (a fragment for htmx, JSON for the API) —
never Werkzeug's English "403 Forbidden" — and /favicon.ico is there."""

from __future__ import annotations

import re

import pytest
from flask import abort

from dibao.models import Region, Role
from tests.conftest import csrf_token

STATUSES = (400, 403, 404, 405, 410, 413, 429, 500)
ENGLISH = re.compile(r"Bad Request|Forbidden|Not Found|Method Not Allowed|Gone|Request Entity Too Large|"
                     r"Content Too Large|Too Many Requests|Internal Server Error|<title>\d{3} ")


@pytest.fixture
def probe_app(app):
    """The app with two routes that answer each status as the real views do (abort, or an exception: 500)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash becomes the 500 page, as in production

    def answer(code: int):
        if code == 500:
            raise RuntimeError("boom")
        abort(code)

    app.add_url_rule("/_probe/<int:code>", "probe", answer)
    app.add_url_rule("/api/_probe/<int:code>", "api_probe", answer)
    return app


def _chinese_page(res, status: int) -> str:
    html = res.get_data(as_text=True)
    assert res.status_code == status, (status, html[:300])
    assert not ENGLISH.search(html), (status, html[:300])
    assert re.search(r"<h1>[\u4e00-\u9fff]+</h1>", html), (status, html[:300])
    return html


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_is_a_chinese_page_a_fragment_and_json(probe_app, status):
    client = probe_app.test_client()
    page = _chinese_page(client.get(f"/_probe/{status}"), status)
    assert "阳光低保公示平台" in page and "返回首页" in page  # the public site's layout

    res = client.get(f"/_probe/{status}", headers={"HX-Request": "true"})
    fragment = res.get_data(as_text=True)
    assert res.status_code == status and "<html" not in fragment and "<h1>" not in fragment
    assert 'role="alert"' in fragment and re.search(r"[\u4e00-\u9fff]{4,}", fragment)
    assert not ENGLISH.search(fragment)
    assert "HX-Request" in res.headers.get("Vary", "")

    res = client.get(f"/api/_probe/{status}")
    assert res.status_code == status and res.is_json
    assert re.search(r"[\u4e00-\u9fff]", res.get_json()["message"])


def test_the_county_opening_the_town_sitting_gets_the_chinese_page(client, auth, world):
    auth.login("county")
    html = _chinese_page(client.get("/admin/sittings/town"), 403)
    assert "没有权限" in html and "乡镇（街道）审核人员" in html
    assert "阳光低保工作台" in html  # the staff layout, with its menu


def test_the_supervision_group_gets_the_chinese_page_outside_the_payments(client, auth, world, session, make_user):
    make_user("jiandu", Role.supervisor, session.get(Region, world.regions["comm_a1"]))
    auth.login("jiandu")
    for url in ("/admin/cases/", "/admin/me/alerts", "/admin/audit/", "/admin/users/"):
        html = _chinese_page(client.get(url), 403)
        assert "只能查看本社区的资金发放情况" in html, url
    fragment = client.get("/admin/cases/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "只能查看本社区的资金发放情况" in fragment
    assert client.get("/admin/payments/").status_code == 200


def test_an_unknown_field_to_validate_is_a_chinese_400(client):
    token = csrf_token(client, "/reports/new")
    res = client.post("/objections/validate", data={"csrf_token": token, "_field": "website"})
    html = _chinese_page(res, 400)
    assert "无法识别要检查的填写项" in html
    res = client.post("/reports/validate", data={"csrf_token": token},
                      headers={"HX-Request": "true", "HX-Trigger-Name": "secret"})
    fragment = res.get_data(as_text=True)
    assert res.status_code == 400 and "<html" not in fragment and "无法识别要检查的填写项" in fragment


def test_the_staff_side_answers_its_errors_in_its_own_layout(client, auth, world):
    auth.login("staff_a1")
    for url, status in (("/admin/cases/999999", 404), ("/admin/audit/", 403), ("/admin/calendar/", 403)):
        html = _chinese_page(client.get(url), status)
        assert "阳光低保工作台" in html and "返回工作台" in html, url
    html = _chinese_page(client.get("/admin/logout"), 405)  # a form's address opened as a page
    assert "阳光低保工作台" in html


def test_favicon_is_served_and_linked(client, auth, world):
    res = client.get("/favicon.ico")
    assert res.status_code == 200 and res.mimetype in ("image/x-icon", "image/vnd.microsoft.icon")
    assert res.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age" in res.headers["Cache-Control"] and "no-cache" not in res.headers["Cache-Control"]
    for url in ("/", "/admin/login"):
        html = client.get(url).get_data(as_text=True)
        link = re.search(r'<link rel="icon" href="([^"]+)"', html)
        assert link, url
        assert client.get(link.group(1)).status_code == 200
