"""Issue 4 in a real browser: a town reviewer publishes a board through the UI and the portal shows it; the
printed board's QR codes decode to the right URLs."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from dibao import qr
from dibao.models import Level, NoticeBatch, Region
from tests.factories import case_awaiting_notice

pytestmark = pytest.mark.browser


def _arrange(session, n=3):
    region = session.scalar(select(Region).where(Region.code == "100001001"))
    names = ["周建国", "吴秀兰", "郑志强", "王桂英", "冯海燕"]
    cases = [case_awaiting_notice(session, region, Level.town, head_name=names[i]) for i in range(n)]
    session.commit()
    return cases


def test_town_reviewer_publishes_a_board_and_it_appears_on_the_portal(page, live_server, world, session,
                                                                      screenshot_dir):
    cases = _arrange(session, 3)
    page.goto(f"{live_server.url}/admin/login")
    page.get_by_label("用户名").fill("town_a")
    page.get_by_label("密码").fill(world.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    page.get_by_role("link", name="公示", exact=True).click()
    page.get_by_role("link", name="新建公示").click()
    assert page.get_by_role("heading", level=1).inner_text() == "新建乡镇（街道）公示"
    for case in cases[:2]:
        page.get_by_label(case.number).check()
    page.get_by_label("公示标题").fill("甲镇2026年第一批低保审核公示")
    page.get_by_role("button", name="预览").click()
    assert page.get_by_role("heading", name="公众网站").is_visible()
    assert page.get_by_role("heading", name="社区公示终端").is_visible()
    web = page.locator("#ch-web").locator("xpath=..")
    assert "周*国" in web.inner_text() and "周建国" not in web.inner_text()
    page.screenshot(path=str(screenshot_dir / "notice-preview.png"), full_page=True)
    page.get_by_role("button", name="确认立即发布").click()
    page.wait_for_url(f"{live_server.url}/admin/notices/*")
    assert "公示已发布，共 2 户" in page.locator(".flashes").inner_text()
    session.rollback()
    batch = session.scalar(select(NoticeBatch))
    assert batch.fingerprint in page.content()

    portal = page.context.new_page()
    portal.goto(f"{live_server.url}/notices/100001001")
    board = portal.locator("#board")
    assert "甲镇2026年第一批低保审核公示" in board.inner_text()
    assert "周*国" in board.inner_text() and "吴*兰" in board.inner_text() and "郑*强" not in board.inner_text()
    assert "还剩 7 天 0 小时" in board.inner_text()
    portal.set_viewport_size({"width": 390, "height": 844})  # a phone
    portal.screenshot(path=str(screenshot_dir / "portal-board-phone.png"), full_page=True)
    portal.get_by_role("link", name="我有异议").first.click()
    assert "/objections/new?entry=" in portal.url


def test_print_board_qr_codes_decode_to_the_right_urls(browser, live_server, world, session, screenshot_dir):
    from dibao import notices
    from dibao.models import User

    cases = _arrange(session, 4)
    actor = session.scalar(select(User).where(User.username == "town_a"))
    batch = notices.publish(session, actor, case_ids=[c.id for c in cases], title="甲镇低保审核公示（打印）")
    session.commit()
    context = browser.new_context(device_scale_factor=2, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.goto(f"{live_server.url}/notices/100001001/print")
    assert page.get_by_role("heading", level=1).inner_text().endswith("低保公示栏")
    path = screenshot_dir / "print-board-a4.png"
    png = page.screenshot(path=str(path), full_page=True)
    found = {r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))}
    public = live_server.app.config["PUBLIC_URL"]
    expected = {qr.entry_target(public, e.public_id) for e in batch.entries} | {qr.board_target(public, "100001001")}
    assert found == expected
    # printing: A4 media, the toolbar is not printed
    page.emulate_media(media="print")
    assert not page.locator(".toolbar").is_visible()
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    context.close()
