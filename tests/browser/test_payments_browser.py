"""Issue 11 in the browser: the county generates April's run, the town checks it, the county approves it, exports
the bank file, a wrong return file is refused with its problems, the right one marks the lines — and the public
/funds/ page shows the community's month (screenshots looked at)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dibao import cases
from dibao.models import Stage
from dibao.models.payment import AccountKind
from tests.browser.helpers import login
from tests.case_helpers import register, standard, to_stage, user
from tests.payment_helpers import answer, luhn, read

pytestmark = pytest.mark.browser


def logout(page):
    page.get_by_role("button", name="退出").click()


def test_generate_check_approve_export_return_and_the_public_page(page, live_server, world, session, clock, worker,
                                                                 tmp_path, screenshot_dir):
    standard(session, world)
    staff = user(session, world, "staff_a1")
    for i in range(4):
        case = register(session, staff, head_name=f"户主{i}", income="0.00", members=1 + (i == 0))
        to_stage(session, world, case, Stage.active, levels=())
        cases.set_payment_account(session, staff, case, kind=AccountKind.bank_card, bank_name="农商银行",
                                  holder_name=case.head_name, number=luhn(f"62220202001122334{i}"))
    session.commit()
    clock.set(datetime(2026, 4, 5, 2, 0, tzinfo=UTC))

    login(page, live_server, "county", world.password)
    page.get_by_role("navigation").get_by_role("link", name="资金发放").click()
    page.get_by_label("发放月份").fill("2026-04")
    page.get_by_role("button", name="生成").click()
    # a background job: its page polls until the worker is done, then leads on to the run
    expect(page.locator("#job")).to_contain_text("已完成", timeout=15_000)
    expect(page.locator("#job .job-result")).to_contain_text("3900.00")
    page.screenshot(path=str(screenshot_dir / "payments-job-done.png"), full_page=True)
    page.get_by_role("link", name="查看发放名册").click()
    expect(page.locator(".run-status")).to_contain_text("已生成，待乡镇核对")
    expect(page.locator(".run-status")).to_contain_text("4 户，5 人，合计 3900.00 元")
    expect(page.locator("ul.town-checks")).to_contain_text("甲镇：待核对")
    expect(page.locator("table.payment-lines")).to_contain_text("6222 **** ****")
    run_url = page.url
    page.screenshot(path=str(screenshot_dir / "payments-generated.png"), full_page=True)
    logout(page)

    login(page, live_server, "town_a", world.password)
    page.goto(run_url)
    page.get_by_label("核对意见（可不填）").fill("已逐户核对")
    page.get_by_role("button", name="核对无误，确认本乡镇名册").click()
    expect(page.locator("ul.town-checks")).to_contain_text("甲镇：已核对")
    logout(page)

    login(page, live_server, "county", world.password)
    page.goto(run_url)
    page.get_by_role("button", name="审批发放名册（审批后锁定）").click()
    expect(page.locator(".run-status")).to_contain_text("已审批")
    expect(page.get_by_text("本名册已审批锁定")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="导出银行代发文件（Excel）").click()
    exported = Path(download.value.path()).read_bytes()
    rows = read(exported)
    assert rows[0][:2] == ["发放月份", "2026-04"] and len(rows) == 6
    page.goto(run_url)
    expect(page.locator(".run-status")).to_contain_text("已送银行，待回盘")

    wrong = tmp_path / "回盘-错月份.xlsx"
    wrong.write_bytes(answer(exported, month="2026-03"))
    page.get_by_label("银行回盘文件（Excel .xlsx）").set_input_files(str(wrong))
    page.get_by_role("button", name="导入回盘文件").click()
    expect(page.locator("ul.problems")).to_contain_text("文件的发放月份为“2026-03”，本名册为 2026-04。")
    page.screenshot(path=str(screenshot_dir / "payments-return-refused.png"), full_page=True)

    failed_line = int(rows[3][0])
    right = tmp_path / "回盘.xlsx"
    right.write_bytes(answer(exported, {failed_line: ("失败", "账户已冻结")}))
    page.get_by_label("银行回盘文件（Excel .xlsx）").set_input_files(str(right))
    page.get_by_role("button", name="导入回盘文件").click()
    expect(page.get_by_text("回盘已导入：成功 3 行，失败 1 行")).to_be_visible()
    expect(page.locator(f"tr[data-line='{failed_line}']")).to_contain_text("发放失败：账户已冻结")
    expect(page.locator(".reconciliation")).to_contain_text("已发放 3 + 失败 1 + 待发放 0 = 4 行")
    page.screenshot(path=str(screenshot_dir / "payments-returned.png"), full_page=True)
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator(".payment-panel")).to_contain_text("银行已回盘")
    logout(page)

    page.goto(f"{live_server.url}/funds/")  # every county; a county's towns; a town's communities (as /stats/)
    page.locator("table.funds-table").get_by_role("link", name="测试县").click()
    page.locator("table.funds-table").get_by_role("link", name="甲镇").click()
    table = page.locator("table.funds-table")
    row = table.locator("tr", has_text="甲一社区")
    expect(row).to_contain_text("3")
    expect(row).to_contain_text("3120.00")  # 1560 + 780 + 780: the failed 780 is not counted as paid
    expect(page.locator("body")).not_to_contain_text("户主")
    expect(page.locator("body")).not_to_contain_text("6222")
    page.screenshot(path=str(screenshot_dir / "funds-public.png"), full_page=True)
