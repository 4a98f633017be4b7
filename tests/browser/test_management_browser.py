"""Issue 10 in a real browser: the review worklist reached from the dashboard, a review recorded from it; the
提标 preview and its confirmation running as a job."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from dibao import entitlement, raises
from dibao.models import Case
from dibao.models.management import StandardRaise
from tests.browser.helpers import login as _login
from tests.case_helpers import region, standard, user
from tests.review_helpers import active

pytestmark = pytest.mark.browser


def test_review_worklist_from_the_dashboard(page, live_server, world, session, clock, screenshot_dir):
    standard(session, world)
    due = active(session, world, category=4, head_name="周建国")
    later = active(session, world, category=1, head_name="吴秀兰")
    session.commit()
    clock.set(clock.now() + timedelta(days=40))  # the monthly household is past its date, the yearly one is not
    _login(page, live_server, "staff_a1", world.password)
    page.get_by_role("link", name="到期待复核 1").click()
    page.wait_for_url("**/admin/reviews/?bucket=due")
    table = page.locator("#review-worklist")
    assert due.number in table.inner_text() and later.number not in table.inner_text()
    assert "已逾期" in table.inner_text()
    page.screenshot(path=str(screenshot_dir / "review-worklist.png"), full_page=True)
    table.get_by_role("link", name="复核").click()
    page.get_by_label("住房和消费").check()
    page.get_by_label("复核情况").fill("入户复核：收入和家庭人口无变化，继续保障。")
    page.get_by_label("复核后分类").select_option("3")
    page.screenshot(path=str(screenshot_dir / "review-form.png"), full_page=True)
    page.get_by_role("button", name="记录复核").click()
    page.wait_for_url(f"**/admin/cases/{due.id}")
    assert "复核情况已记录" in page.locator(".flashes").inner_text()
    assert "定期复核" in page.locator("#opinions").inner_text()
    page.goto(f"{live_server.url}/admin/reviews/?bucket=due")
    assert "没有需要复核的家庭" in page.content()
    session.rollback()
    session.expire_all()
    assert session.get(Case, due.id).category == 3


def test_raise_preview_then_confirm(page, live_server, world, session, clock, worker, screenshot_dir):
    standard(session, world)  # 780
    households = [active(session, world, head_name=name) for name in ("郑志强", "王桂英")]
    new = entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                                   amount=Decimal("850.00"), effective_from=date(2026, 4, 1), note="县政府〔2026〕9号")
    session.commit()
    assert raises.detect(session) and session.scalar(select(StandardRaise).where(
        StandardRaise.standard_id == new.id)) is None  # not before its date
    session.commit()
    clock.set(datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
    raises.detect(session)
    session.commit()
    _login(page, live_server, "county", world.password)
    page.get_by_role("link", name="复核与动态管理").click()
    page.get_by_role("link", name="提标").click()
    row = page.locator("#raises tr", has_text="待确认")
    assert "850.00" in row.inner_text()
    row.get_by_role("link", name="测试县").click()
    totals = page.locator("#raise-totals").inner_text()
    assert "1920.00" in totals and "2200.00" in totals  # 2 × 960 → 2 × 1100
    lines = page.locator("#raise-lines").inner_text()
    assert "960.00" in lines and "1100.00" in lines and "+140.00" in lines
    page.screenshot(path=str(screenshot_dir / "raise-preview.png"), full_page=True)
    page.get_by_role("button", name="确认提标").click()
    page.wait_for_url("**/admin/jobs/*")
    page.get_by_text("已完成").first.wait_for(timeout=15000)
    page.screenshot(path=str(screenshot_dir / "raise-job-done.png"), full_page=True)
    page.goto(f"{live_server.url}/admin/cases/{households[0].id}")
    assert "提标" in page.locator("#opinions").inner_text()
    page.screenshot(path=str(screenshot_dir / "raise-case.png"), full_page=True)
    session.rollback()
    session.expire_all()
    assert [session.get(Case, c.id).monthly_amount for c in households] == [Decimal("1100.00")] * 2


def test_management_pages_have_no_serious_accessibility_findings(browser, live_server, world, session, clock,
                                                                 screenshot_dir):
    from dibao import reviews
    from tests.browser.axe import SERIOUS, ensure_axe, scan

    ensure_axe()
    standard(session, world)
    due = active(session, world, category=4, head_name="周建国")
    staff = user(session, world, "staff_a1")
    reviews.log_contact(session, staff, due, contacted_on=clock.now().date(), way="phone", note="电话联系")
    reviews.review(session, staff, due, checked=["work"], findings="户主已稳定就业。", category=4, outcome="exit",
                   reason="收入超过标准")
    proposal = reviews.open_proposals(session, due)[0]
    campaign = reviews.open_campaign(session, user(session, world, "town_a"), title="甲镇全面入户核查")
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                             amount=Decimal("850.00"), effective_from=date(2026, 3, 1))
    item = [i for i in raises.detect(session) if i.status.value == "pending"][0]
    session.commit()
    context = browser.new_context(bypass_csp=True, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    found = {}
    pages = {
        "staff_a1": ["/admin/", "/admin/reviews/?bucket=due", f"/admin/cases/{due.id}/review", f"/admin/cases/{due.id}",
                     "/admin/contacts/", "/admin/campaigns/", f"/admin/campaigns/{campaign.id}",
                     f"/admin/cases/{due.id}/death"],
        "county": ["/admin/", f"/admin/raises/{item.id}", "/admin/raises/", f"/admin/proposals/{proposal.id}",
                   "/admin/campaigns/"],
    }
    for who, paths in pages.items():
        _login(page, live_server, who, world.password)
        for path in paths:
            assert page.goto(live_server.url + path).status == 200, path
            name = who + path.replace("/", "-").replace("?", "-").replace("=", "-")
            page.screenshot(path=str(screenshot_dir / f"manage{name}.png"), full_page=True)
            serious = [v for v in scan(page) if v["impact"] in SERIOUS]
            if serious:
                found[f"{who} {path}"] = serious
        page.goto(f"{live_server.url}/admin/")
        page.get_by_role("button", name="退出").click()
    page.goto(f"{live_server.url}/admin/login")
    context.close()
    assert found == {}, found
