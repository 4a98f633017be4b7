"""The staff menu offers each user only the pages they may open: every link in it answers 200 for every role."""

from __future__ import annotations

import re

from dibao.models import Region, Role
from tests.conftest import Auth


def _menu(html: str) -> list[str]:
    nav = re.search(r'<nav class="admin-nav".*?</nav>', html, re.S)
    assert nav, "no staff menu on the page"
    return re.findall(r'href="([^"]+)"', nav.group())


def test_every_menu_link_opens_for_every_role(app, world, session, make_user):
    make_user("jiandu", Role.supervisor, session.get(Region, world.regions["comm_a1"]), display_name="甲一监督组")
    menus = {}
    for username in (*world.users, "jiandu"):
        client = app.test_client()  # a browser of its own for each user
        assert Auth(client).login(username).status_code == 302
        page = client.get("/admin/", follow_redirects=True)
        links = _menu(page.get_data(as_text=True))
        for href in links:
            res = client.get(href, follow_redirects=True)
            html = res.get_data(as_text=True)
            assert res.status_code == 200 and "没有权限" not in html, (username, href, res.status_code)
            assert res.request.path.startswith("/admin/") and res.request.path != "/admin/login", (username, href)
        menus[username] = links
    # Each entry is shown to those who may open it, not hidden from everyone.
    assert "/admin/audit/" in menus["county"] and "/admin/audit/" in menus["admin"]
    assert "/admin/calendar/" in menus["admin"]
    for username in ("staff_a1", "town_a"):
        assert "/admin/audit/" not in menus[username] and "/admin/calendar/" not in menus[username]
        assert "/admin/cases/" in menus[username]
    assert "/admin/calendar/" not in menus["county"]
    assert "/admin/payments/" in menus["jiandu"] and "/admin/cases/" not in menus["jiandu"]


def test_the_menu_and_the_views_use_the_same_rules():
    """A role list in the menu would drift from the views: the menu asks the views' own permission functions."""
    from admin import views
    from dibao import audit_log, workdays

    assert views.NAV_MAY_OPEN["admin.audit_viewer"] is audit_log.may_view
    assert views.NAV_MAY_OPEN["admin.calendar"] is workdays.is_county_admin
    assert set(views.NAV_MAY_OPEN) <= {endpoint for endpoint, _label in views.NAV}
