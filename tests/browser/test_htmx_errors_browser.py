"""A failed htmx action is shown, never silent (static/js/htmx-errors.js): htmx 2 swaps no 4xx/5xx answer, so
without it a refused search or field check did nothing at all. The message goes into the page's alert region
and the field the user typed into keeps the text. Real refusals where the app has one (a role taken away, the
rate limit, an expired form); otherwise the app's own error answer, served by route interception."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from werkzeug.exceptions import Forbidden, InternalServerError, TooManyRequests

from dibao import accounts
from dibao.errors import Conflict
from dibao.models import Region, Role, User
from tests.browser.helpers import htmx_idle, login, on_notice

pytestmark = pytest.mark.browser

NETWORK = "网络连接失败，请稍后再试。您填写的内容还在。"


def _app_answer(live_app, path: str, error: Exception) -> dict:
    """What the app itself answers an htmx request to ``path`` that fails with ``error`` (its own error
    handlers and fragment), for ``route.fulfill``."""
    with live_app.test_request_context(path, headers={"HX-Request": "true"}):
        response = live_app.make_response(live_app.handle_user_exception(error))
        return {"status": response.status_code, "content_type": response.content_type, "body": response.get_data()}


def _serve(answer: dict):
    def handler(route):
        if route.request.headers.get("hx-request") != "true":
            route.continue_()
            return
        route.fulfill(status=answer["status"], content_type=answer["content_type"], body=answer["body"])
    return handler


def _alert(page):
    alert = page.locator("[data-htmx-alert]")
    expect(alert).to_have_attribute("role", "alert")
    return alert


def test_staff_search_failures_are_shown_and_the_search_text_kept(page, live_server, live_app, world,
                                                                 screenshot_dir):
    login(page, live_server, "staff_a1", world.password)
    page.goto(f"{live_server.url}/admin/cases/")
    htmx_idle(page)
    alert = _alert(page)
    expect(alert).to_be_hidden()  # nothing to say yet
    search = page.get_by_label("搜索")
    results = page.locator("#case-results")
    shown = results.inner_text()
    live_search = re.compile(r"/admin/cases/\?")

    cases = [
        ("陈素芬", Conflict("任务的状态刚刚变化了，请刷新页面后再试。"), "任务的状态刚刚变化了，请刷新页面后再试。"),
        ("建设路 12 号", TooManyRequests(), "操作太频繁，请稍等一会儿再试。"),
        ("13955556666", InternalServerError(), "系统暂时出错"),
    ]
    for typed, error, words in cases:
        answer = _app_answer(live_app, "/admin/cases/", error)
        page.route(live_search, _serve(answer))
        search.fill(typed)
        expect(alert).to_contain_text(words)
        expect(alert).to_be_in_viewport()
        assert search.input_value() == typed
        assert results.inner_text() == shown  # the error did not land in the results either
        expect(search).to_be_focused()  # the user can go on typing
        page.unroute(live_search)
    page.screenshot(path=str(screenshot_dir / "htmx-error-staff-500.png"), full_page=True)

    page.route(live_search, lambda route: route.abort("connectionrefused"))
    search.fill("王")
    expect(alert).to_have_text(NETWORK)
    assert search.input_value() == "王"
    page.unroute(live_search)

    # The next request that works clears the message.
    search.fill("无此人")
    expect(page.get_by_text("没有符合条件的案件。")).to_be_visible()
    expect(alert).to_be_empty()
    expect(alert).to_be_hidden()


def test_staff_refused_after_the_role_changed(page, live_server, world, session, screenshot_dir):
    login(page, live_server, "county", world.password)
    page.goto(f"{live_server.url}/admin/audit/")
    htmx_idle(page)  # the hash chain, loaded after the page
    alert = _alert(page)
    results = page.locator("#audit-results")

    # A list re-rendered with a 400 (the audit search with a bad date) still lands in its target, no alert.
    page.get_by_label("操作人").fill("无此人")
    page.get_by_role("button", name="查询").click()
    expect(results).to_contain_text("没有符合条件的记录。")
    page.evaluate("() => htmx.ajax('GET', '/admin/audit/?since=not-a-date', {target: '#audit-results'})")
    expect(results).not_to_contain_text("没有符合条件的记录。")
    expect(results.get_by_role("alert")).to_contain_text("查询条件有误")  # told why, not shown the whole log
    htmx_idle(page)
    expect(alert).to_be_empty()

    # While the page is open the administrator moves the account to a town: the county's log is refused.
    admin = session.get(User, world.users["admin"])
    county = session.get(User, world.users["county"])
    accounts.update_user(session, admin, county, display_name=county.display_name, role=Role.town_reviewer,
                         region=session.get(Region, world.regions["town_a"]), active=True)
    session.commit()
    page.get_by_label("操作人").fill("甲一专干")
    shown = results.inner_text()
    page.get_by_role("button", name="查询").click()
    expect(alert).to_contain_text("没有权限")
    expect(alert).to_contain_text("审计日志只有县民政局和系统管理员可以查看。")
    assert page.get_by_label("操作人").input_value() == "甲一专干"
    assert results.inner_text() == shown
    page.screenshot(path=str(screenshot_dir / "htmx-error-staff-403.png"), full_page=True)

    # "关闭提示" empties it by hand.
    page.get_by_role("button", name="关闭提示").click()
    expect(alert).to_be_hidden()
    expect(page.locator("main")).to_be_focused()


def _objection_form(page, live_server, session, world):
    page.goto(f"{live_server.url}/objections/new?entry={on_notice(session, world)}")
    page.get_by_label("隐瞒收入").check()
    page.get_by_label("具体情况").fill("他家在镇上开了一家超市，收入不少。")
    page.get_by_label("您的姓名").fill("钱七")


def _check_phone(page, typed: str) -> None:
    """Type a phone number and leave the field: htmx checks it (hx-trigger="change")."""
    htmx_idle(page)
    page.get_by_label("联系电话").fill(typed)
    page.get_by_label("具体情况").focus()


def test_portal_field_check_failures_are_shown_and_the_form_kept(page, live_server, live_app, session, world,
                                                                 screenshot_dir):
    page.set_viewport_size({"width": 360, "height": 740})
    _objection_form(page, live_server, session, world)
    alert = _alert(page)
    expect(alert).to_be_empty()
    phone_field = page.locator("#field-phone")
    cases = [
        ("13912345678", Forbidden(), "您没有权限打开这个页面。"),
        ("13912345679", Conflict("该条公示已经撤回。"), "该条公示已经撤回。"),
        ("13912345670", InternalServerError(), "系统暂时出错"),
    ]
    for typed, error, words in cases:
        answer = _app_answer(live_app, "/objections/validate", error)
        page.route("**/objections/validate", _serve(answer))
        _check_phone(page, typed)
        expect(alert).to_contain_text(words)
        expect(alert).to_be_in_viewport()  # the form is long: the message is seen where the user is
        assert page.get_by_label("联系电话").input_value() == typed
        assert page.get_by_label("具体情况").input_value() == "他家在镇上开了一家超市，收入不少。"
        expect(phone_field.locator(".error-fragment")).to_have_count(0)  # the field was not replaced
        page.unroute("**/objections/validate")
    page.screenshot(path=str(screenshot_dir / "htmx-error-portal-500.png"), full_page=False)

    page.route("**/objections/validate", lambda route: route.abort("connectionrefused"))
    _check_phone(page, "13912345671")
    expect(alert).to_have_text(NETWORK)
    assert page.get_by_label("联系电话").input_value() == "13912345671"
    page.screenshot(path=str(screenshot_dir / "htmx-error-portal-network.png"), full_page=False)
    page.unroute("**/objections/validate")

    # The field check answering normally swaps the field with its message and clears the alert.
    _check_phone(page, "12345")
    expect(phone_field.locator(".error")).to_contain_text("请填写正确的手机号码")
    expect(alert).to_be_empty()

    # Too many checks from this address (Flask-Limiter's real 429): said, and the typing kept.
    token = page.locator("input[name=csrf_token]").input_value()
    for _ in range(130):
        if page.request.post(f"{live_server.url}/objections/validate",
                             form={"csrf_token": token, "description": "多次检查"},
                             headers={"HX-Request": "true", "HX-Trigger-Name": "description"}).status == 429:
            break
    else:
        pytest.fail("the field check was never limited")
    _check_phone(page, "13800001111")
    expect(alert).to_contain_text("操作太频繁，请稍等一会儿再试。")
    assert page.get_by_label("联系电话").input_value() == "13800001111"
    page.screenshot(path=str(screenshot_dir / "htmx-error-portal-429.png"), full_page=False)


def test_portal_expired_form_is_shown_without_replacing_the_field(page, live_server, session, world, screenshot_dir):
    _objection_form(page, live_server, session, world)
    alert = _alert(page)
    page.context.clear_cookies()  # the session (and with it the form's CSRF token) is gone
    _check_phone(page, "13912345678")
    expect(alert).to_contain_text("页面已过期")
    assert page.get_by_label("联系电话").input_value() == "13912345678"
    expect(page.locator("#field-phone .error-fragment")).to_have_count(0)
