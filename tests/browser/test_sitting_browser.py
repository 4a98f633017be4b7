"""Issue 10 item 11 in a real browser: the town meeting decides two households in one sitting (select-all), and
an objection is answered through its one decision form."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dibao.models import Case, Stage
from dibao.models.records import TownMeetingResult
from tests.browser.test_management_browser import _login
from tests.case_helpers import register, standard, to_stage, user

pytestmark = pytest.mark.browser


def test_town_meeting_decides_two_households(page, live_server, world, session, clock, screenshot_dir):
    standard(session, world)
    staff = user(session, world, "staff_a1")
    cases = [to_stage(session, world, register(session, staff), Stage.town_decision) for _ in range(2)]
    session.commit()
    _login(page, live_server, "town_a", world.password)
    page.goto(f"{live_server.url}/admin/sittings/town")
    page.get_by_label("会议名称").fill("镇党委会议 2026年第4次")
    page.get_by_label("参会人员（每行一人）").fill("书记\n镇长\n委员")
    page.locator('[data-select-all="include"]').check()
    for c in cases:
        assert page.locator(f"#inc-{c.id}").is_checked()
        page.locator(f'[name="opinion-{c.id}"]').fill("经镇党委会议研究，同意。")
    page.screenshot(path=str(screenshot_dir / "town-sitting.png"), full_page=True)
    page.get_by_role("button", name="记录研究结果").click()
    page.wait_for_url("**/admin/sittings/town")
    assert "共 2 户" in page.locator(".flashes").inner_text()
    session.rollback()
    session.expire_all()
    results = session.scalars(select(TownMeetingResult)).all()
    ours = [r for r in results if r.case_id in {c.id for c in cases}]
    assert len(ours) == 2 and len({r.meeting_id for r in ours}) == 1
    assert all(session.get(Case, c.id).stage != Stage.town_decision for c in cases)
