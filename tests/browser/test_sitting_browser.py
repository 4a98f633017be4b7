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
    page.locator(f'[name="opinion-{cases[0].id}"]').fill("经镇党委会议研究，同意。")
    page.get_by_role("button", name="记录研究结果").click()  # the second household's opinion forgotten
    # Its problem is listed above the table and shown in its own row, which the first household's is not.
    problem = page.locator(f"#hh-{cases[1].id}-err")
    assert problem.is_visible() and "请填写" in problem.inner_text() and cases[1].number in problem.inner_text()
    assert page.locator(f"#hh-{cases[0].id}-err").count() == 0
    assert page.locator(f'[name="opinion-{cases[0].id}"]').input_value() == "经镇党委会议研究，同意。"
    page.screenshot(path=str(screenshot_dir / "town-sitting-row-problem.png"), full_page=True)
    page.locator(f'[name="opinion-{cases[1].id}"]').fill("经镇党委会议研究，同意。")
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


def test_objection_answered_through_its_one_form(page, live_server, world, session, screenshot_dir):
    from dibao.models import FeedbackStatus, Objection, Outcome
    from tests.feedback_form_helpers import _objection
    from tests.feedback_helpers import open_entry

    entry = open_entry(session, world)
    objection = _objection(session, entry)
    _login(page, live_server, "staff_a1", world.password)
    page.goto(f"{live_server.url}/admin/feedback/objection/{objection.id}")
    page.get_by_label("不成立").check()
    page.get_by_role("button", name="保存办理结果").click()
    assert "作出结论时，请填写向群众公开的答复" in page.locator("main").inner_text()
    page.get_by_label("核查情况（仅工作人员可见）").fill("入户核查，车辆已于去年出售。")
    page.get_by_label("公开答复（反映人凭查询码可以看到，请勿写入个人信息）").fill("经核查，该户车辆已出售，异议不成立。")
    page.screenshot(path=str(screenshot_dir / "feedback-one-form.png"), full_page=True)
    page.get_by_role("button", name="保存办理结果").click()
    assert "已办结，答复已公开" in page.locator(".flashes").inner_text()
    session.rollback()
    done = session.get(Objection, objection.id)
    assert done.status == FeedbackStatus.decided and done.outcome == Outcome.not_upheld
    assert "车辆已于去年出售" in done.check_notes
