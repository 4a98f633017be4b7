"""Issue 9 item 7 in a real browser: the typed password is masked, a household photo and a case document go up
through the real file inputs, and a notice batch is scheduled with the date-time picker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import select

from dibao.models import Case, Level, NoticeBatch, Region
from dibao.models.records import Attachment
from tests.browser.helpers import login as _login
from tests.case_helpers import register, standard, user
from tests.factories import case_awaiting_notice, tiny_pdf

pytestmark = pytest.mark.browser


def test_the_typed_password_is_masked(page, live_server, world, screenshot_dir):
    page.goto(f"{live_server.url}/admin/login")
    password = page.get_by_label("密码")
    assert password.get_attribute("type") == "password"
    page.get_by_label("用户名").fill("staff_a1")
    password.fill(world.password)
    assert password.evaluate("el => el.type") == "password"
    assert page.locator(f"text={world.password}").count() == 0  # the characters are not on the screen
    page.screenshot(path=str(screenshot_dir / "login-masked.png"))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/admin/")


def test_staff_upload_a_household_photo_and_a_case_document(page, live_server, world, session, tmp_path,
                                                            screenshot_dir):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    session.commit()
    photo = tmp_path / "household.jpg"
    Image.new("RGB", (320, 240), (30, 120, 200)).save(photo, format="JPEG")
    pdf = tmp_path / "application.pdf"
    pdf.write_bytes(tiny_pdf())

    _login(page, live_server, "staff_a1", world.password)
    page.goto(f"{live_server.url}/admin/cases/{case.id}")
    photo_input = page.locator("#photo input[type=file]")
    assert photo_input.get_attribute("type") == "file"
    photo_input.set_input_files(str(photo))
    page.locator("#photo").get_by_label("户主已书面同意", exact=False).check()
    page.get_by_role("button", name="保存户照片").click()
    page.wait_for_load_state()
    assert page.locator("img.household-photo").is_visible()

    documents = page.locator("section.card:has(input[name=file])")
    documents.get_by_label("材料名称", exact=False).fill("低保申请书")
    documents.locator("input[type=file]").set_input_files(str(pdf))
    documents.get_by_role("button", name="上传").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="低保申请书").is_visible()
    page.screenshot(path=str(screenshot_dir / "case-uploads.png"), full_page=True)
    session.rollback()
    session.expire_all()  # the case was built in this session: read what the browser's requests stored
    assert session.get(Case, case.id).photo_key
    assert session.scalar(select(Attachment.title).where(Attachment.case_id == case.id)) == "低保申请书"


def test_town_reviewer_schedules_a_batch_with_the_picker(page, live_server, world, session, screenshot_dir):
    region = session.scalar(select(Region).where(Region.code == "100001001"))
    case = case_awaiting_notice(session, region, Level.town, head_name="周建国")
    session.commit()
    _login(page, live_server, "town_a", world.password)
    page.goto(f"{live_server.url}/admin/notices/new")
    page.get_by_label(case.number).check()
    page.get_by_label("公示标题").fill("甲镇定时公示")
    picker = page.get_by_label("定时发布（不填则立即发布）")
    assert picker.get_attribute("type") == "datetime-local"
    assert picker.evaluate("el => typeof el.showPicker === 'function' && el.validity.valid")
    # What a person picks arrives as the input's value; the order of the parts a person types in follows the
    # browser's own locale, so the choice is made with fill(), which the datetime-local input checks.
    picker.fill("2026-03-20T09:30")
    assert picker.input_value() == "2026-03-20T09:30"
    page.screenshot(path=str(screenshot_dir / "notice-schedule-picker.png"), full_page=True)
    page.get_by_role("button", name="预览").click()
    page.get_by_role("button", name="确认定时发布").click()
    page.wait_for_url(f"{live_server.url}/admin/notices/*")
    assert "公示已排定" in page.locator(".flashes").inner_text()
    session.rollback()
    batch = session.scalar(select(NoticeBatch))
    assert batch.opens_at == datetime(2026, 3, 20, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
