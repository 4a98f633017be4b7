"""Issue 10 item 8: the county issues a 审批通知书 through the pages; the printed notice is one A4 sheet (print media,
A4 PDF of one page) and is looked at as a screenshot; the whole archive prints as one document."""

import re

import pytest

from dibao.models import Stage
from tests.browser.helpers import login as _login
from tests.case_helpers import register, standard, to_stage, user

pytestmark = pytest.mark.browser


def test_issue_and_print_an_approval_notice(page, live_server, world, session, screenshot_dir):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"), head_name="陈素芬")
    to_stage(session, world, case, Stage.active)
    session.commit()
    _login(page, live_server, "county", world.password)
    page.goto(f"{live_server.url}/admin/cases/{case.id}")
    page.get_by_role("link", name="文书和送达").click()
    page.get_by_role("button", name="出具审批通知书").click()
    page.wait_for_url(f"{live_server.url}/admin/documents/*")
    assert page.get_by_role("heading", level=1).inner_text() == "最低生活保障审批通知书"
    assert "测试县低保审〔2026〕1号" in page.locator(".doc-number").inner_text()
    page.evaluate("document.fonts.ready")
    page.set_viewport_size({"width": 900, "height": 1200})
    page.screenshot(path=str(screenshot_dir / "household-notice-screen.png"), full_page=True)
    _print_button_prints(page)

    page.emulate_media(media="print")
    assert not page.locator(".print-toolbar").is_visible()  # the toolbar is not printed
    body = page.locator(".doc-body").inner_text()
    assert "陈素芬（户主）" in body and "960.00 元" in body and "2026年4月" in body
    page.screenshot(path=str(screenshot_dir / "household-notice-print.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    (screenshot_dir / "household-notice.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1, "the notice fits on one A4 sheet"

    page.emulate_media(media="screen")
    page.goto(f"{live_server.url}/admin/cases/{case.id}/archive/print")
    assert "一、基本情况" in page.locator("main").inner_text()
    page.screenshot(path=str(screenshot_dir / "household-archive-print.png"), full_page=False)
    _print_button_prints(page)


def _print_button_prints(page):
    """The page's 打印 button opens the print dialog (an inline onclick was refused by the CSP and did nothing)."""
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.get_by_role("button", name="打印").click()
    assert page.evaluate("window.__printed") == 1


def test_printed_refusal_tells_the_rights(page, live_server, world, session, screenshot_dir):
    from dibao import documents, workflow
    from dibao.models.household import DocumentKind

    standard(session, world)
    case = register(session, user(session, world, "staff_a1"), head_name="周建国")
    to_stage(session, world, case, Stage.town_review)
    workflow.reject(session, user(session, world, "town_a"), case, "经核对，家庭有登记在册的个体工商户，经营性收入未申报，人均收入超过当地低保标准。")
    doc = documents.issue(session, user(session, world, "town_a"), case, DocumentKind.rejection)
    session.commit()
    _login(page, live_server, "staff_a1", world.password)
    page.goto(f"{live_server.url}/admin/documents/{doc.id}")
    page.emulate_media(media="print")
    page.evaluate("document.fonts.ready")
    text = page.locator(".doc-body").inner_text()
    assert "60 日内" in text and "行政复议" in text and "6 个月内" in text and "行政诉讼" in text
    page.set_viewport_size({"width": 900, "height": 1200})
    page.screenshot(path=str(screenshot_dir / "household-refusal-print.png"), full_page=True)


def test_flagged_household_on_the_county_decision_page(page, live_server, world, session, screenshot_dir):
    from decimal import Decimal

    from dibao import assets
    from dibao.models.household import AssetKind
    from tests.case_helpers import region

    standard(session, world)
    assets.set_limits(session, user(session, world, "admin"), region(session, world, "county"), housing_units=1,
                      housing_area_per_person=Decimal("40"), vehicles=0, deposits_per_person=Decimal("9360"),
                      business_allowed=False)
    case = register(session, user(session, world, "staff_a1"), head_name="吴德华", income="300.00")
    assets.add_asset(session, user(session, world, "staff_a1"), case, kind=AssetKind.vehicle,
                     description="二手面包车（2009 年注册）")
    to_stage(session, world, case, Stage.county_approval)
    session.commit()
    _login(page, live_server, "county", world.password)
    page.goto(f"{live_server.url}/admin/cases/{case.id}/county-decision")
    check = page.locator(".asset-check")
    assert "返贫情形" in check.inner_text() and "超过标准" in check.inner_text() and "与申报一致" in check.inner_text()
    page.set_viewport_size({"width": 1280, "height": 900})
    check.screenshot(path=str(screenshot_dir / "household-asset-flag.png"))
    page.get_by_label("审批意见（不同意时写明理由）").fill("同意纳入低保。")
    page.get_by_role("button", name="提交").click()
    assert "酌情决定" in page.locator(".notice-error").first.inner_text()  # flagged, not refused: it asks why
    check.get_by_role("link", name="资产超标酌情决定").click()
    page.get_by_label("县级酌情决定和理由").fill("面包车为户主残疾后唯一的出行工具，车龄 17 年，酌情不计入，同意纳入。")
    page.get_by_role("button", name="记入档案").click()
    page.goto(f"{live_server.url}/admin/cases/{case.id}/county-decision")
    page.get_by_label("审批意见（不同意时写明理由）").fill("同意纳入低保。")
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(f"{live_server.url}/admin/cases/{case.id}")
    assert "审批结果已记录" in page.get_by_role("status").first.inner_text()
