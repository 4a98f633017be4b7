"""Helpers shared by the browser tests (a test module never imports another)."""

from __future__ import annotations


def login(page, live_server, username, password):
    """Sign in through the real login form, as a clerk does."""
    page.goto(f"{live_server.url}/admin/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/admin/")


def htmx_idle(page, timeout: float = 15_000) -> None:
    """Wait until htmx has no request in flight and nothing swapping or settling: a field replaced by a swap is
    bound to its triggers only when htmx has processed it, and a person does not type into it in the same
    millisecond (the test would, and its change would go unheard under a loaded machine)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')",
        timeout=timeout)


def on_notice(session, world, community: str = "comm_a1") -> str:
    """One household put on a community notice in ``community``; the public id of its entry."""
    from dibao import notices
    from dibao.models import Level, Region
    from tests.factories import case_awaiting_notice

    region = session.get(Region, world.regions[community])
    case = case_awaiting_notice(session, region, Level.community)
    batch = notices.publish_batch(session, None, level=Level.community, region=region, cases=[case], title="公示")
    entry_id = batch.entries[0].public_id  # read before the commit: the session then holds no old snapshot
    session.commit()
    return entry_id
