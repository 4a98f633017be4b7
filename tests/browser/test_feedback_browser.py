"""Issue 5 in a real browser: scan a QR code off a screenshot, object, read back the tracking code."""

from __future__ import annotations

import re

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from dibao import notices
from dibao.models import Level, Objection, Region
from tests.browser.helpers import htmx_idle, on_notice
from tests.factories import case_awaiting_notice

pytestmark = pytest.mark.browser


def _decode(path) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(path))]


def test_scan_object_and_track_in_the_browser(page, live_server, live_app, session, world, screenshot_dir):
    live_app.config["PUBLIC_URL"] = live_server.url  # the codes must point at this server
    region = session.get(Region, world.regions["comm_a1"])
    case = case_awaiting_notice(session, region, Level.community, head_name="周建国")
    batch = notices.publish_batch(session, None, level=Level.community, region=region, cases=[case],
                                  title="甲一社区低保对象公示")
    entry_id = batch.entries[0].public_id  # read before the commit: the session then holds no old snapshot
    session.commit()

    # 1. The printed board (issue 4) carries a QR code per entry; photograph it and decode the entry's code.
    page.set_viewport_size({"width": 1000, "height": 1400})
    page.goto(f"{live_server.url}/notices/100001001/print")
    shot = screenshot_dir / "feedback-print-board.png"
    page.screenshot(path=str(shot), full_page=True)
    texts = _decode(shot)
    entry_urls = [t for t in texts if t.upper().endswith(f"/Q/E{entry_id.upper()}")]
    assert entry_urls, texts
    assert entry_urls[0] == f"{live_server.url}/Q/E{entry_id}".upper()

    # 2. Open what the camera read: it lands on the entry's objection form.
    page.goto(entry_urls[0])
    assert page.url == f"{live_server.url}/objections/new?entry={entry_id}"
    assert page.get_by_role("heading", level=1).inner_text() == "对公示提出异议"
    assert "周*国" in page.locator(".entry-card").inner_text()

    # 3. Inline validation (htmx): a bad phone number is flagged as soon as the field is left.
    page.get_by_label("隐瞒收入").check()
    page.get_by_label("具体情况").fill("他家在镇上开了一家超市，收入不少。")
    page.get_by_label("您的姓名").fill("钱七")
    page.get_by_label("联系电话").fill("12345")
    page.get_by_label("具体情况").focus()
    error = page.locator("#field-phone .error")
    error.wait_for()
    assert "请填写正确的手机号码" in error.inner_text()
    htmx_idle(page)
    page.get_by_label("联系电话").fill("13912345678")
    page.get_by_label("具体情况").focus()
    error.wait_for(state="detached")
    page.screenshot(path=str(screenshot_dir / "feedback-objection-form.png"), full_page=True)

    # 4. Submit; the receipt shows the code and a QR code of the tracking page.
    page.get_by_role("button", name="提交异议").click()
    page.wait_for_url(f"{live_server.url}/receipt")
    code = page.locator("[data-tracking-code]").get_attribute("data-tracking-code")
    shown = page.locator(".receipt .code").inner_text()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}", shown) and shown.replace("-", "") == code
    receipt_shot = screenshot_dir / "feedback-receipt.png"
    page.screenshot(path=str(receipt_shot), full_page=True)
    assert _decode(receipt_shot) == [f"{live_server.url}/Q/T{code}".upper()]

    stored = session.scalar(select(Objection).where(Objection.tracking_code == code))
    assert stored is not None and stored.submitter_phone == "13912345678" and stored.real_name

    # 5. Tracking by the code typed in by hand (lower case, with the dash).
    page.goto(f"{live_server.url}/track")
    page.get_by_label("查询码").fill(shown.lower())
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(f"{live_server.url}/track/{code}")
    assert "已受理，等待核查" in page.locator("main").inner_text()
    assert "钱七" not in page.content() and "13912345678" not in page.content()
    page.screenshot(path=str(screenshot_dir / "feedback-track.png"), full_page=True)


def test_objection_form_works_without_javascript(browser, live_server, session, world, screenshot_dir):
    region = session.get(Region, world.regions["comm_a1"])
    case = case_awaiting_notice(session, region, Level.community)
    batch = notices.publish_batch(session, None, level=Level.community, region=region, cases=[case], title="公示")
    session.commit()
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/objections/new?entry={batch.entries[0].public_id}")
    page.get_by_label("具体情况").fill("没有选类别就提交。")
    page.get_by_role("button", name="提交异议").click()
    assert "请选择反映的问题类型" in page.locator("main").inner_text()
    assert page.get_by_label("具体情况").input_value() == "没有选类别就提交。"
    page.get_by_label("人情保、关系保").check()
    page.get_by_role("button", name="提交异议").click()
    page.wait_for_url(f"{live_server.url}/receipt")
    assert page.locator("[data-tracking-code]").count() == 1
    page.screenshot(path=str(screenshot_dir / "feedback-receipt-nojs.png"), full_page=True)
    # On a shared computer: the receipt's own button forgets the code; going back shows it no more.
    page.get_by_role("button", name="我已记下，清除本页").click()
    assert "查询码已从这个浏览器清除" in page.locator("main").inner_text()
    page.screenshot(path=str(screenshot_dir / "feedback-receipt-forgotten.png"), full_page=True)
    page.go_back()
    page.reload()
    assert page.locator("[data-tracking-code]").count() == 0 and "没有可显示的回执" in page.locator("main").inner_text()
    context.close()


def test_the_phone_is_typed_again_when_the_form_comes_back(page, live_server, session, world, screenshot_dir):
    """A phone number never comes back in a page (portal.forms.forget_numbers): leaving the box keeps what is in it
    (its check answers without the number), but a form sent back with a problem has it empty, and says so beside
    it; the rest of what was typed is still there."""
    page.goto(f"{live_server.url}/objections/new?entry={on_notice(session, world)}")
    page.get_by_label("具体情况").fill("他家在镇上开了一家超市，收入不少。")
    page.get_by_label("您的姓名").fill("钱七")
    page.get_by_label("联系电话").fill("139 1234 5678")
    with page.expect_response(lambda r: r.url.endswith("/objections/validate")) as checked:
        page.get_by_label("具体情况").focus()  # leaving the box: its check (htmx) swaps the field
    assert "5678" not in checked.value.text()  # the check's answer has the box empty …
    htmx_idle(page)
    page.locator("#field-phone:not(.htmx-settling)").wait_for()
    assert page.get_by_label("联系电话").input_value() == "139 1234 5678"  # … and the browser kept what was typed

    page.get_by_role("button", name="提交异议").click()  # no category chosen
    page.wait_for_load_state()
    assert "请选择反映的问题类型" in page.locator("#field-category").inner_text()
    assert page.get_by_label("您的姓名").input_value() == "钱七"
    assert page.get_by_label("具体情况").input_value() == "他家在镇上开了一家超市，收入不少。"
    assert page.get_by_label("联系电话").input_value() == ""
    note = page.locator("#field-phone .notice")
    assert note.is_visible() and note.inner_text() == "为保护您的信息，这个号码没有保留在页面上，请重新填写。"
    assert "1234 5678" not in page.content() and "12345678" not in page.content()
    page.locator("#field-phone").screenshot(path=str(screenshot_dir / "feedback-phone-typed-again.png"))

    page.get_by_label("隐瞒收入").check()
    page.get_by_label("联系电话").fill("13912345678")
    page.get_by_role("button", name="提交异议").click()
    page.wait_for_url(f"{live_server.url}/receipt")
    code = page.locator("[data-tracking-code]").get_attribute("data-tracking-code")
    session.rollback()
    stored = session.scalar(select(Objection).where(Objection.tracking_code == code))
    assert stored.submitter_phone == "13912345678" and stored.submitter_name == "钱七"
