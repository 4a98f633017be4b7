"""Issue 3: a community staff member registers an application and records a home visit through the UI,
then sees both on the case page (the household archive)."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.case_helpers import standard, valid_id

pytestmark = pytest.mark.browser


def test_register_and_record_home_visit(page, live_server, world, session, screenshot_dir):
    standard(session, world)
    session.commit()
    id_number = valid_id("19560708")
    page.goto(f"{live_server.url}/admin/login")
    page.get_by_label("用户名").fill("staff_a1")
    page.get_by_label("密码").fill(world.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    page.get_by_role("navigation").get_by_role("link", name="低保案件").click()
    page.get_by_role("link", name="登记新申请").click()
    page.get_by_label("户主姓名").fill("陈素芬")
    page.get_by_label("户主身份证号码").fill(id_number)
    page.get_by_label("户主年龄").fill("69")
    page.get_by_label("户主健康状况").fill("风湿性关节炎")
    page.get_by_label("户主劳动能力").select_option("none")
    page.get_by_label("联系电话").fill("13955556666")
    page.get_by_label("家庭住址（完整）").fill("甲一社区 建设路 12 号 3 单元 502 室")
    page.get_by_label("公示地址（到小区或楼栋）").fill("建设路 12 号")
    page.get_by_role("button", name="登记受理").click()
    page.wait_for_url(f"{live_server.url}/admin/cases/*")
    assert "已登记受理" in page.get_by_role("status").first.inner_text()
    assert page.get_by_role("heading", level=1).inner_text().startswith("陈素芬")
    case_url = page.url

    # Income: the head's pension, then the computation on the page.
    page.locator("#members details.add-income summary").first.click()
    page.locator("#members details.add-income").first.get_by_label("收入类型").select_option("pension")
    page.locator("#members details.add-income").first.get_by_label("月收入（元）").fill("450")
    page.locator("#members details.add-income").first.get_by_role("button", name="保存收入").click()
    page.wait_for_url(f"{case_url}#members")
    assert "330.00" in page.locator(".computation").inner_text()  # 780 − 450 for one person

    page.get_by_role("link", name="记录入户调查").click()
    page.get_by_label("调查人员（每行一人，至少 2 人）").fill("甲一专干\n社区网格员 刘敏")
    page.get_by_label("一看：住房条件、家庭生活用品和消费情况").fill("老旧单元房一间，家电陈旧，无汽车")
    page.get_by_label("二问：家庭成员就业、收入、健康状况").fill("独居，退休金每月 450 元，长期服药")
    for i, (name, where) in enumerate([("王大妈", "对门 501"), ("李师傅", "楼下 402"), ("赵阿姨", "同单元 602")]):
        page.locator(f"[name='neighbours-{i}-name']").fill(name)
        page.locator(f"[name='neighbours-{i}-relation']").fill(where)
        page.locator(f"[name='neighbours-{i}-statement']").fill("老人独居，生活困难，情况属实")
    page.get_by_label("调查人员和申请家庭已在调查记录上签字").check()
    page.get_by_role("button", name="保存调查记录").click()
    page.wait_for_url(case_url)

    assert "入户调查记录已保存" in page.get_by_role("status").first.inner_text()
    assert page.locator(".stage-now").inner_text().endswith("入户调查")
    visits = page.locator("#visits").inner_text()
    assert "甲一专干、社区网格员刘敏" in visits
    assert "王大妈（对门 501）" in visits and "赵阿姨" in visits
    assert "记录入户调查 · 甲一专干" in page.locator("#timeline").inner_text()
    page.screenshot(path=str(screenshot_dir / "case-archive-after-visit.png"), full_page=True)

    # In the list the ID number and phone are masked.
    page.get_by_role("navigation").get_by_role("link", name="低保案件").click()
    # The table is there as soon as it is parsed; the search box listens once htmx has started (by the load
    # event): typing before that, as a loaded machine lets the test do, would go unheard.
    page.wait_for_url(lambda url: urlsplit(url).path == "/admin/cases/", wait_until="load")
    row = page.locator("table.case-table tbody tr").first
    assert id_number[:2] + "*" * 13 + id_number[-3:] in row.inner_text()
    assert "139****6666" in row.inner_text() and id_number not in page.content()
    # Live search: typing (no button) swaps the table in place and pushes the URL.
    page.get_by_label("搜索").fill("无此人")
    expect(page.get_by_text("没有符合条件的案件。")).to_be_visible()
    page.get_by_label("搜索").fill("陈素")
    expect(page.locator("table.case-table tbody tr")).to_have_count(1)
    assert "q=%E9%99%88%E7%B4%A0" in page.url
    page.screenshot(path=str(screenshot_dir / "case-list.png"), full_page=True)
