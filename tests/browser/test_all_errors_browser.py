"""A resident makes three mistakes on the report form and sees all three at once: in the error summary at the top
and each beside its field (before, the missing "who" came only after the other two were fixed). Screenshot in
test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from dibao.models import Report
from tests.browser.helpers import htmx_idle

pytestmark = pytest.mark.browser
WAIT = 15_000


def test_report_with_three_mistakes_shows_every_one(page, live_server, session, world, screenshot_dir):
    page.set_viewport_size({"width": 1000, "height": 1400})
    page.goto(f"{live_server.url}/reports/new")
    page.get_by_label("工作人员作风").check()
    page.get_by_label("所在社区（村）").select_option("100001001")
    htmx_idle(page)
    page.get_by_label("其他").check()
    # Forgot who it is about, wrote too little, and mistyped the phone.
    page.get_by_role("textbox", name="具体情况").fill("态度差")
    page.get_by_role("textbox", name="您的姓名").fill("张三")
    page.get_by_role("textbox", name="联系电话").fill("123")
    htmx_idle(page)
    page.get_by_role("button", name="提交举报").click()

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible(timeout=WAIT)
    expect(summary.get_by_role("heading")).to_have_text("有 3 处需要修改，请看下面的说明")
    expect(summary.locator("li")).to_have_count(3)
    expect(summary).to_contain_text("请写明被举报的工作人员或单位")
    expect(summary).to_contain_text("至少 5 个字")
    expect(summary).to_contain_text("请填写正确的手机号码")
    expect(summary).to_be_focused(timeout=WAIT)
    expect(page.locator("#about-err")).to_contain_text("请写明被举报的工作人员或单位")
    expect(page.locator("#description-err")).to_contain_text("至少 5 个字")
    expect(page.locator("#phone-err")).to_contain_text("请填写正确的手机号码")
    expect(page.get_by_role("textbox", name="具体情况")).to_have_value("态度差")  # what was typed stays
    page.screenshot(path=str(screenshot_dir / "all-errors-report.png"), full_page=True)

    # Each summary line leads to its field.
    summary.get_by_role("link", name="被举报的人或单位：请写明被举报的工作人员或单位", exact=False).click()
    expect(page.locator("#about")).to_be_focused(timeout=WAIT)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Report)) == 0
