"""Issue 2: a staff member logs in through a real browser."""

import pytest

pytestmark = pytest.mark.browser


def test_staff_login_in_the_browser(page, live_server, world, screenshot_dir):
    page.goto(f"{live_server.url}/admin/login")
    assert page.title().startswith("工作人员登录")
    page.get_by_label("用户名").fill("staff_a1")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text().strip() == "用户名或密码不正确，或者尝试太频繁。请核对后稍等片刻再试。"

    page.get_by_label("密码").fill(world.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    assert "甲一专干" in page.locator("main").inner_text()
    page.screenshot(path=str(screenshot_dir / "admin-dashboard.png"), full_page=True)

    page.get_by_role("button", name="退出").click()
    page.wait_for_url(f"{live_server.url}/admin/login")
    assert "您已安全退出" in page.content()


def test_portal_home_renders_chinese(page, live_server, screenshot_dir):
    page.goto(live_server.url + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "阳光低保公示平台"
    page.get_by_role("button", name="大字模式").click()
    assert page.evaluate("document.documentElement.classList.contains('large-text')")
    page.screenshot(path=str(screenshot_dir / "portal-home.png"), full_page=True)
