"""The monthly contact form (月联系) in a real browser: a refused contact comes back on the page it was typed on,
with what the clerk typed and the problem beside its field; corrected, it is recorded. The forms are plain posts:
they work the same with JavaScript switched off."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dibao.models.management import Contact
from tests.browser.helpers import login as _login
from tests.case_helpers import standard
from tests.review_helpers import active

pytestmark = pytest.mark.browser

NOTE = "入户走访：户主在外打工，老人身体尚可"


def _contacts(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Contact))


def test_case_page_keeps_what_was_typed_and_says_the_problem_beside_the_date(browser, live_server, world, session,
                                                                            screenshot_dir):
    from tests.browser.axe import SERIOUS, ensure_axe, scan

    ensure_axe()
    standard(session, world)
    case = active(session, world, category=4, head_name="周建国")
    session.commit()
    context = browser.new_context(bypass_csp=True, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, live_server, "staff_a1", world.password)
    page.goto(f"{live_server.url}/admin/cases/{case.id}")
    form = page.locator("#contact-form")
    form.get_by_label("联系日期").fill("2099-01-01")  # a date picked in the future
    form.get_by_label("联系方式").select_option(label="电话联系")
    form.get_by_label("情况").press_sequentially(NOTE)
    form.get_by_role("button", name="记录联系").click()
    page.wait_for_load_state()

    form = page.locator("#contact-form")
    date = form.get_by_label("联系日期")
    assert date.input_value() == "2099-01-01" and form.get_by_label("情况").input_value() == NOTE
    assert form.get_by_label("联系方式").input_value() == "phone"
    error = form.locator("#contacted_on-err")
    assert error.inner_text() == "联系日期不能晚于今天。" and error.is_visible()
    assert date.get_attribute("aria-describedby") == "contacted_on-err"
    assert date.evaluate("el => el === document.activeElement")  # the clerk is taken back to the field
    assert page.locator(".flashes").count() == 0
    form.screenshot(path=str(screenshot_dir / "contact-case-refused.png"))
    page.screenshot(path=str(screenshot_dir / "contact-case-refused-page.png"), full_page=True)
    assert [v for v in scan(page) if v["impact"] in SERIOUS] == []
    assert _contacts(session) == 0

    date.fill("2026-03-17")
    form.get_by_role("button", name="记录联系").click()
    page.wait_for_url(f"{live_server.url}/admin/cases/{case.id}#manage")
    assert "已记录本次联系" in page.locator(".flashes").inner_text()
    assert NOTE in page.locator("#manage").inner_text()
    assert _contacts(session) == 1
    context.close()


def test_contacts_worklist_without_javascript(browser, live_server, world, session, screenshot_dir):
    standard(session, world)
    first = active(session, world, category=4, head_name="周建国")
    second = active(session, world, category=4, head_name="吴秀兰")
    session.commit()
    context = browser.new_context(java_script_enabled=False, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, live_server, "staff_a1", world.password)
    page.goto(f"{live_server.url}/admin/contacts/")
    row = page.locator("#contacts-missing tr", has_text=second.number)
    row.get_by_label("联系日期").fill("2025-11-01")  # more than three months ago
    row.get_by_label("情况").press_sequentially(NOTE)
    row.get_by_role("button", name="记录").click()
    page.wait_for_load_state()

    row = page.locator("#contacts-missing tr", has_text=second.number)
    assert row.locator("#contacted_on-err").inner_text() == "只能补记三个月内的联系。"
    assert row.get_by_label("情况").input_value() == NOTE
    assert row.get_by_label("联系日期").input_value() == "2025-11-01"
    other = page.locator("#contacts-missing tr", has_text=first.number)
    assert other.locator(".error").count() == 0 and other.get_by_label("情况").input_value() == ""
    page.screenshot(path=str(screenshot_dir / "contact-worklist-refused.png"), full_page=True)
    assert _contacts(session) == 0

    row.get_by_label("联系日期").fill("2026-03-16")
    row.get_by_role("button", name="记录").click()
    page.wait_for_url(f"{live_server.url}/admin/contacts/?month=2026-03")
    assert "已记录本次联系" in page.locator(".flashes").inner_text()
    assert second.number not in page.locator("#contacts-missing").inner_text()
    assert _contacts(session) == 1
    context.close()
