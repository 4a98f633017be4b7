"""Issue 12 in the browser: upload a roster → the dry-run report → confirm, the progress bar moving while the worker
imports; and the statistics pages, each chart with its table (screenshots looked at)."""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect

from dibao import jobs
from tests.browser.helpers import login
from tests.case_helpers import standard
from tests.roster_files import clean_rows, household, person_id, write

pytestmark = pytest.mark.browser


@pytest.fixture
def halfway(monkeypatch):
    """Holds the import at half way until the test has seen the bar there (no sleeping, no racing)."""
    release = threading.Event()
    real = jobs.Progress.__call__

    def report(self, done, total=None, message=""):
        if message == "正在导入" and total and total // 2 <= done < total and not release.is_set():
            self.queue.report(self.job_id, done, total, message)
            release.wait(20)
        return real(self, done, total, message)

    monkeypatch.setattr(jobs.Progress, "__call__", report)
    return release


def test_upload_dry_run_report_then_confirm_with_the_progress_bar_moving(page, live_server, world, session, worker,
                                                                         halfway, tmp_path, screenshot_dir):
    standard(session, world)
    session.commit()
    login(page, live_server, "county", world.password)
    page.get_by_role("navigation").get_by_role("link", name="导入导出").click()

    # A file with a problem first: the report names the row and the column; nothing can be confirmed.
    bad = write(tmp_path / "有错误的名册.xlsx", household("1", "999999999", person_id(3)))
    page.get_by_label("名册文件（Excel .xlsx 或 CSV）").set_input_files(str(bad))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator("table.import-problems")).to_contain_text("社区代码 999999999 不存在")
    row = page.locator("table.import-problems tbody tr").first
    expect(row.locator("td").nth(0)).to_have_text("2")
    expect(row.locator("td").nth(1)).to_have_text("社区代码")
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "import-report-errors.png"), full_page=True)

    # A clean file: the check passes, with the amount that differs from the formula as a warning.
    rows = clean_rows(60, ["100001001", "100001002", "100002001"])
    rows[0]["monthly_amount"] = "400.00"
    good = write(tmp_path / "原有名册.xlsx", rows)
    page.get_by_role("link", name="重新上传").click()
    page.get_by_label("名册文件（Excel .xlsx 或 CSV）").set_input_files(str(good))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.get_by_text("检查通过。确认后将导入 60 户、120 人")).to_be_visible()
    expect(page.locator("table.import-problems")).to_contain_text("与按标准核算的 330.00 元不一致")
    page.screenshot(path=str(screenshot_dir / "import-report-clean.png"), full_page=True)

    page.get_by_role("button", name="确认导入").click()
    bar = page.locator("progress#job-bar")
    expect(page.locator(".job-progress label")).to_have_text("正在导入")
    expect(bar).to_have_attribute("value", "50")  # the htmx poll brought the half-way figure
    expect(page.locator(".job-count")).to_have_text("50%（30 / 60）")
    page.screenshot(path=str(screenshot_dir / "import-progress.png"), full_page=True)
    halfway.set()
    expect(page.get_by_text("已导入 60 户（120 人）")).to_be_visible(timeout=20_000)
    expect(page.locator("progress#job-bar")).to_have_count(0)  # finished: the poll stopped
    page.screenshot(path=str(screenshot_dir / "import-done.png"), full_page=True)
    page.get_by_role("link", name="查看在保家庭").click()
    expect(page.locator("table.case-table tbody tr")).to_have_count(25)  # one page of the 60 imported
    assert re.search(r"共 60 户", page.content())


def test_statistics_pages_show_each_chart_with_its_table(page, live_server, world, session, screenshot_dir):
    from tests.stats_helpers import _paid

    standard(session, world)
    _paid(session, world, "comm_a1", 4)
    _paid(session, world, "comm_a2", 3, amount="780.00")
    _paid(session, world, "comm_b1", 2)
    session.commit()
    login(page, live_server, "county", world.password)
    page.get_by_role("navigation").get_by_role("link", name="统计").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("统计")
    figures = page.locator("section.figure")
    expect(figures).to_have_count(8)
    for i in range(8):
        expect(figures.nth(i).locator("table")).to_have_count(1)
    regions = page.locator("#fig-regions table")
    expect(regions.locator("tbody tr").first).to_contain_text("甲镇")
    expect(regions.locator("tbody tr").first.locator("td").first).to_have_text("7")
    page.screenshot(path=str(screenshot_dir / "admin-stats.png"), full_page=True)

    page.goto(f"{live_server.url}/stats/100")
    expect(page.get_by_role("heading", level=1)).to_contain_text("测试县低保统计数据")
    latest = page.locator("section.stats-figure").first.locator("table tbody")
    expect(latest).to_contain_text("甲镇")
    expect(latest.locator("tr").nth(1).locator("td").first).to_have_text("<3")  # 乙街道: two households
    page.screenshot(path=str(screenshot_dir / "public-stats.png"), full_page=True)
