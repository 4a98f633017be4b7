"""Issue 3: every transition of the case workflow and every guard, through the real domain functions."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import cases, clock, notices, workflow
from dibao.errors import Conflict, Forbidden, Invalid
from dibao.models import (
    AuditEvent,
    Decision,
    FeedbackStatus,
    Level,
    NoticeEntry,
    Objection,
    Opinion,
    ReasonCategory,
    Stage,
)
from dibao.models.records import HomeVisit, ReviewMeeting, ReviewResult, TownMeeting
from tests import factories
from tests.case_helpers import (
    community_review,
    region,
    register,
    standard,
    to_stage,
    town_decision,
    user,
    valid_id,
    verify,
    visit,
)

ALL3 = (Level.community, Level.town, Level.county)


@pytest.fixture
def w(session, world):
    standard(session, world)
    session.commit()

    class W:
        staff = user(session, world, "staff_a1")
        staff2 = user(session, world, "staff_a2")
        town = user(session, world, "town_a")
        town_b = user(session, world, "town_b")
        county = user(session, world, "county")
        admin = user(session, world, "admin")
        comm_a1 = region(session, world, "comm_a1")
        town_a = region(session, world, "town_a")
        county_region = region(session, world, "county")

    W.world = world
    return W


def events(session, case):
    return [e.action for e in session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "case", AuditEvent.object_id == str(case.id)).order_by(AuditEvent.id))]


def publish_and_close(session, w, case, level, publisher):
    batch = notices.publish_batch(session, publisher, level=level, region=w.town_a if level != Level.county
                                  else w.county_region, cases=[case], title="公示", window_days=7)
    assert case.stage == workflow.IN_NOTICE[level]
    assert workflow.notice_closed(session, case, level, batch.public_id)
    return batch


def test_the_whole_path_with_three_notice_rounds(session, w, clock):
    case = register(session, w.staff, income="600.00", members=2)  # 2 people, 600 income
    assert case.stage == Stage.applied and case.number.startswith("100001001-2026-")
    visit(session, w.staff, case)
    assert case.stage == Stage.investigating
    workflow.submit_for_review(session, w.staff, case)
    assert case.stage == Stage.community_review
    community_review(session, w.staff, case, levels=ALL3)
    assert case.stage == Stage.awaiting_community_notice
    publish_and_close(session, w, case, Level.community, w.town)
    assert case.stage == Stage.town_review
    workflow.record_town_check(session, w.town, case, "复查材料齐全，情况属实。")
    assert case.stage == Stage.town_decision
    town_decision(session, w.town, case, levels=ALL3)
    assert case.stage == Stage.awaiting_town_notice
    publish_and_close(session, w, case, Level.town, w.town)
    assert case.stage == Stage.county_approval
    verify(session, w.town, case)  # issue 10: the 核对 the county approval requires
    workflow.record_county_decision(session, w.county, case, decision=Decision.approve, opinion="同意。",
                                    levels=ALL3)
    assert case.stage == Stage.awaiting_county_notice
    assert case.monthly_amount == Decimal("960.00")  # (780 − 300) × 2
    assert case.approved_at == clock.now()
    assert case.payment_start == date(2026, 4, 1)  # the month after approval (18 March)
    assert case.next_review_due == date(2026, 9, 18)  # category 2: six months
    publish_and_close(session, w, case, Level.county, w.county)
    assert case.stage == Stage.active
    session.commit()
    opinions = {o.level: o for o in case.opinions if not o.superseded}
    assert {lv: o.author_name for lv, o in opinions.items()} == {
        Level.community: "甲一专干", Level.town: "甲镇审核", Level.county: "县审批"}
    assert events(session, case) == [
        "case_registered", "income_added", "member_added", "home_visit_recorded", "submitted_for_review",
        "community_review_recorded", "notice_published", "notice_closed", "town_check_recorded",
        "town_decision_recorded", "notice_published", "notice_closed", "verification_requested",
        "verification_result", "county_approved", "notice_published", "notice_closed"]


def test_notice_levels_are_configuration(session, w):
    """The 2021 national rules keep only the town notice."""
    case = register(session, w.staff)
    to_stage(session, w.world, case, Stage.community_review)
    community_review(session, w.staff, case, levels=(Level.town,))
    assert case.stage == Stage.town_review  # no community notice round
    workflow.record_town_check(session, w.town, case, "复查属实无误。")
    town_decision(session, w.town, case, levels=(Level.town,))
    assert case.stage == Stage.awaiting_town_notice
    publish_and_close(session, w, case, Level.town, w.town)
    verify(session, w.town, case)
    workflow.record_county_decision(session, w.county, case, decision=Decision.approve, opinion="同意。",
                                    levels=(Level.town,))
    assert case.stage == Stage.active  # no county notice round


def test_notice_levels_are_passed_in_and_default_to_the_seeds_three(app, session, w):
    app.config["NOTICE_LEVELS"] = ("county",)  # the domain never reads the app's config
    case = register(session, w.staff)
    to_stage(session, w.world, case, Stage.community_review)
    with app.app_context():
        community_review(session, w.staff, case)
    assert case.stage == Stage.awaiting_community_notice
    other = register(session, w.staff, head_id_number=valid_id())
    to_stage(session, w.world, other, Stage.community_review)
    community_review(session, w.staff, other, levels=workflow.notice_levels(("county",)))
    assert other.stage == Stage.town_review


# --- home visit guards -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,field", [
    ({"investigators": ("张调查",)}, "investigators"),
    ({"investigators": ("张调查", "张调查")}, "investigators"),  # the same person twice is one person
    ({"neighbours": 2}, "neighbours"),
    ({"housing": " "}, "housing"),
    ({"visited_on": date(2026, 3, 19)}, "visited_on"),  # tomorrow
])
def test_home_visit_guards(session, w, kwargs, field):
    case = register(session, w.staff)
    session.commit()
    with pytest.raises(Invalid) as err:
        visit(session, w.staff, case, **kwargs)
    assert err.value.field == field
    session.rollback()
    assert case.stage == Stage.applied
    assert session.scalar(select(func.count(HomeVisit.id))) == 0


def test_neighbour_without_statement_is_refused(session, w):
    case = register(session, w.staff)
    with pytest.raises(Invalid, match="姓名和了解到的情况"):
        workflow.record_home_visit(
            session, w.staff, case, visited_on=clock.today(), housing="旧房", inquiry="打零工",
            investigators=["甲", "乙"], neighbours=[workflow.Neighbour("邻一", "", "属实"),
                                                  workflow.Neighbour("邻二", "", "属实"),
                                                  workflow.Neighbour("邻三", "", "")])


def test_submit_needs_a_visit_of_this_round(session, w, clock):
    case = register(session, w.staff)
    to_stage(session, w.world, case, Stage.town_review)
    clock.advance(hours=1)
    workflow.send_back(session, w.town, case, "邻居反映有经营收入，需重新调查")
    assert case.stage == Stage.investigating
    assert all(o.superseded for o in case.opinions)
    with pytest.raises(Conflict, match="本轮调查"):
        workflow.submit_for_review(session, w.staff, case)
    clock.advance(hours=1)
    visit(session, w.staff, case)
    assert case.stage == Stage.investigating  # a second visit does not move the case
    workflow.submit_for_review(session, w.staff, case)
    assert case.stage == Stage.community_review


# --- opinions ---------------------------------------------------------------------------------------

def test_no_town_step_without_the_community_opinion(session, w):
    case = factories.make_case(session, w.comm_a1, stage=Stage.town_review)
    with pytest.raises(Conflict, match="社区的同意意见"):
        workflow.record_town_check(session, w.town, case, "复查属实无误。")
    case.stage = Stage.town_decision
    with pytest.raises(Conflict, match="社区的同意意见"):
        town_decision(session, w.town, case)


def test_no_county_decision_without_the_town_opinion(session, w):
    case = factories.make_case(session, w.comm_a1, stage=Stage.county_approval, opinion_levels=(Level.community,))
    with pytest.raises(Conflict, match="乡镇（街道）的同意意见"):
        workflow.record_county_decision(session, w.county, case, decision=Decision.approve, opinion="同意。")


def test_no_notice_without_the_levels_opinion(session, w):
    case = factories.make_case(session, w.comm_a1, stage=Stage.awaiting_town_notice,
                               opinion_levels=(Level.community,))
    with pytest.raises(Conflict, match="本级意见"):
        notices.publish_batch(session, w.town, level=Level.town, region=w.town_a, cases=[case], title="公示")


def test_review_meeting_records_panel_attendees_and_votes(session, w):
    case = register(session, w.staff)
    to_stage(session, w.world, case, Stage.community_review)
    community_review(session, w.staff, case, votes_for=4, votes_against=1, levels=ALL3)
    meeting = session.scalars(select(ReviewMeeting)).one()
    assert meeting.panel == ["评一", "评二", "评三", "评四", "评五"]
    assert meeting.attendees == ["镇民政办刘干事"]  # typed names are cleaned as names (no inner space)
    result = session.scalars(select(ReviewResult)).one()
    assert (result.votes_for, result.votes_against, result.votes_abstain) == (4, 1, 0)
    # A second household can be reviewed at the same meeting.
    other = register(session, w.staff, head_id_number=valid_id())
    to_stage(session, w.world, other, Stage.community_review)
    community_review(session, w.staff, other, meeting_id=meeting.id, held_on=None, panel=[], levels=ALL3)
    assert session.scalar(select(func.count(ReviewMeeting.id))) == 1
    assert len(meeting.results) == 2


@pytest.mark.parametrize("kwargs,message", [
    ({"votes_for": 2, "votes_against": 3}, "未过半数"),
    ({"votes_for": 6}, "超过了评议小组人数"),
    ({"panel": ["评一", "评二"]}, "至少需要 3 名"),
    ({"votes_for": 0}, "请填写表决票数"),
    ({"opinion": ""}, "评议意见"),
])
def test_review_guards(session, w, kwargs, message):
    case = register(session, w.staff)
    to_stage(session, w.world, case, Stage.community_review)
    session.commit()
    with pytest.raises(Invalid, match=message):
        community_review(session, w.staff, case, **kwargs)
    session.rollback()
    assert case.stage == Stage.community_review
    assert session.scalar(select(func.count(Opinion.id))) == 0


# --- rejection --------------------------------------------------------------------------------------

@pytest.mark.parametrize("stage,actor,level", [
    (Stage.applied, "staff", Level.community),
    (Stage.investigating, "staff", Level.community),
    (Stage.community_review, "staff", Level.community),
    (Stage.town_review, "town", Level.town),
    (Stage.town_decision, "town", Level.town),
    (Stage.county_approval, "county", Level.county),
])
def test_rejection_at_every_review_step_needs_a_reason(session, w, stage, actor, level):
    case = register(session, w.staff)
    to_stage(session, w.world, case, stage)
    session.commit()
    with pytest.raises(Invalid, match="写明理由"):
        workflow.reject(session, getattr(w, actor), case, "不行")
    session.rollback()
    assert case.stage == stage
    workflow.reject(session, getattr(w, actor), case, "家庭人均收入超过当地低保标准")
    assert case.stage == Stage.rejected
    opinion = workflow.current_opinion(case, level)
    assert opinion.decision == Decision.reject and opinion.text == "家庭人均收入超过当地低保标准"
    assert opinion.author_name == getattr(w, actor).display_name
    with pytest.raises(Conflict):  # closed: nothing more can happen
        workflow.reject(session, getattr(w, actor), case, "家庭人均收入超过当地低保标准")


def test_community_panel_can_reject(session, w):
    case = register(session, w.staff)
    to_stage(session, w.world, case, Stage.community_review)
    community_review(session, w.staff, case, decision=Decision.reject, votes_for=1, votes_against=4)
    assert case.stage == Stage.rejected
    assert workflow.current_opinion(case, Level.community).text == "家庭收入超过标准，不同意。"


def test_town_meeting_can_reject(session, w):
    case = register(session, w.staff)
    to_stage(session, w.world, case, Stage.town_decision)
    town_decision(session, w.town, case, decision=Decision.reject)
    assert case.stage == Stage.rejected
    assert session.scalars(select(TownMeeting)).one().participant_list == ["书记", "镇长", "委员"]


def test_county_rejection(session, w):
    case = register(session, w.staff)
    to_stage(session, w.world, case, Stage.county_approval)
    with pytest.raises(Invalid):
        workflow.record_county_decision(session, w.county, case, decision=Decision.reject, opinion="")
    workflow.record_county_decision(session, w.county, case, decision=Decision.reject, opinion="有机动车辆，不符合条件")
    assert case.stage == Stage.rejected and case.approved_at is None


# --- the objection hold -----------------------------------------------------------------------------

@pytest.fixture
def objection_on(session, w):
    published = factories.case_awaiting_notice(session, w.comm_a1, Level.town)
    batch = notices.publish_batch(session, w.town, level=Level.town, region=w.town_a, cases=[published],
                                  title="公示")
    entry = session.scalar(select(NoticeEntry).where(NoticeEntry.batch_id == batch.id))
    assert entry is not None

    def add(case, status=FeedbackStatus.received):
        objection = Objection(tracking_code=f"T{case.id:06d}", entry_id=entry.id, case_id=case.id,
                              region_id=case.region_id, category=ReasonCategory.income_hidden,
                              description="有经营收入", real_name=False, status=status,
                              deadline=date(2026, 4, 1), created_at=clock.now())
        session.add(objection)
        session.flush()
        return objection

    return add


HELD_STEPS = [
    (Stage.applied, lambda s, w, c: visit(s, w.staff, c)),
    (Stage.investigating, lambda s, w, c: workflow.submit_for_review(s, w.staff, c)),
    (Stage.community_review, lambda s, w, c: community_review(s, w.staff, c)),
    (Stage.town_review, lambda s, w, c: workflow.record_town_check(s, w.town, c, "复查属实无误。")),
    (Stage.town_decision, lambda s, w, c: town_decision(s, w.town, c)),
    # (a case with an objection gets the county's home visit before its approval, A 20)
    (Stage.county_approval, lambda s, w, c: (visit(s, w.county, c), workflow.record_county_decision(
        s, w.county, c, decision=Decision.approve, opinion="同意。"))),
    (Stage.county_approval, lambda s, w, c: workflow.reject(s, w.county, c, "收入超过标准，不予批准")),
    (Stage.town_review, lambda s, w, c: workflow.send_back(s, w.town, c, "需要重新入户调查核实")),
]


@pytest.mark.parametrize("stage,step", HELD_STEPS)
def test_an_open_objection_holds_every_advance(session, w, objection_on, stage, step):
    case = register(session, w.staff)
    to_stage(session, w.world, case, stage)
    objection = objection_on(case)
    session.commit()
    with pytest.raises(Conflict, match="异议"):
        step(session, w, case)
    session.rollback()
    assert case.stage == stage
    objection.status = FeedbackStatus.decided  # decided, not upheld: the case may go on
    session.commit()
    step(session, w, case)
    assert case.stage != stage or stage == Stage.investigating


def test_held_case_stays_in_notice_when_window_closes(session, w, objection_on):
    case = factories.case_awaiting_notice(session, w.comm_a1, Level.community)
    batch = notices.publish_batch(session, w.town, level=Level.community, region=w.town_a, cases=[case],
                                  title="公示")
    objection_on(case)
    assert not workflow.notice_closed(session, case, Level.community, batch.public_id)
    assert case.stage == Stage.community_notice


def test_upheld_objection_sends_back_and_the_case_is_noticed_again(session, w):
    case = factories.case_awaiting_notice(session, w.comm_a1, Level.community)
    notices.publish_batch(session, w.town, level=Level.community, region=w.town_a, cases=[case], title="公示")
    workflow.objection_upheld(session, w.town, case, "T123")
    assert case.stage == Stage.investigating
    assert workflow.current_opinion(case, Level.community) is None


# --- close relatives of staff -----------------------------------------------------------------------

def test_close_relative_needs_a_county_home_visit(session, w):
    case = register(session, w.staff, close_relative_of_staff=True)
    to_stage(session, w.world, case, Stage.county_approval)
    session.commit()
    with pytest.raises(Conflict, match="近亲属"):
        workflow.record_county_decision(session, w.county, case, decision=Decision.approve, opinion="同意。")
    session.rollback()
    # The town's re-check visit is not a county visit either.
    visit(session, w.county, case, investigators=("县民政局 赵", "县民政局 钱"))
    assert case.stage == Stage.county_approval
    assert workflow.has_county_visit(session, case)
    workflow.record_county_decision(session, w.county, case, decision=Decision.approve, opinion="同意。")
    assert case.stage == Stage.awaiting_county_notice


def test_community_visit_does_not_count_as_county_visit(session, w):
    case = register(session, w.staff, close_relative_of_staff=True)
    to_stage(session, w.world, case, Stage.investigating)
    assert not workflow.has_county_visit(session, case)


# --- county approval ---------------------------------------------------------------------------------

@pytest.mark.parametrize("category,months,due", [(1, 12, date(2027, 3, 18)), (2, 6, date(2026, 9, 18)),
                                                 (3, 3, date(2026, 6, 18)), (4, 1, date(2026, 4, 18))])
def test_next_review_from_category(session, w, category, months, due):
    case = register(session, w.staff, category=category)
    to_stage(session, w.world, case, Stage.active)
    assert case.next_review_due == due
    assert workflow.REVIEW_MONTHS[category] == months


def test_payment_starts_the_month_after_approval_across_the_year_end(session, w, clock):
    clock.set(datetime(2026, 12, 31, 15, 30, tzinfo=UTC))  # 23:30 on 31 Dec in Shanghai
    case = register(session, w.staff)
    to_stage(session, w.world, case, Stage.active)
    assert case.payment_start == date(2027, 1, 1)
    clock.set(datetime(2026, 12, 31, 16, 30, tzinfo=UTC))  # 00:30 on 1 Jan local
    other = register(session, w.staff, head_id_number=valid_id())
    to_stage(session, w.world, other, Stage.active)
    assert other.payment_start == date(2027, 2, 1)


def test_zero_amount_cannot_be_approved_without_an_override(session, w):
    case = register(session, w.staff, income="2000.00", members=2)  # 1000 a head > 780
    to_stage(session, w.world, case, Stage.county_approval,
             override_reason="户主患重病，医疗支出大，评议小组一致同意上报")  # community and town (issue 9.3)
    session.commit()
    with pytest.raises(Conflict, match="为 0"):
        workflow.record_county_decision(session, w.county, case, decision=Decision.approve, opinion="同意。")
    session.rollback()
    assert case.marginal  # 1000 < 1170: a marginal household
    with pytest.raises(Invalid, match="理由"):
        workflow.record_county_decision(session, w.county, case, decision=Decision.approve, opinion="同意。",
                                        override_amount=Decimal("200.00"), override_reason="")
    session.rollback()
    workflow.record_county_decision(session, w.county, case, decision=Decision.approve, opinion="同意。",
                                    override_amount=Decimal("200.00"),
                                    override_reason="户主患重病，医疗支出大，县民政局研究决定按 200 元保障")
    assert case.monthly_amount == Decimal("200.00") and case.computed_amount == Decimal("0.00")


def test_no_standard_no_approval(session, world):
    from tests.case_helpers import user as u

    staff = u(session, world, "staff_a1")
    case = register(session, staff)
    to_stage(session, world, case, Stage.county_approval)
    with pytest.raises(Conflict, match="低保标准"):
        workflow.record_county_decision(session, u(session, world, "county"), case, decision=Decision.approve,
                                        opinion="同意。")


# --- active households ------------------------------------------------------------------------------

def test_periodic_review_grace_and_exit(session, w, clock):
    case = register(session, w.staff, category=2)
    to_stage(session, w.world, case, Stage.active)
    clock.advance(days=180)
    workflow.periodic_review(session, w.staff, case, findings="家庭情况无变化，继续保障。", category=3)
    assert case.category == 3 and case.next_review_due == date(2026, 12, 14)
    with pytest.raises(Invalid, match="1 至 6"):
        workflow.start_grace(session, w.county, case, months=7, reason="户主已在工业园区就业")
    workflow.start_grace(session, w.county, case, months=6, reason="户主已在工业园区就业")
    assert case.grace_until == date(2027, 3, 14)
    with pytest.raises(Conflict):
        workflow.start_grace(session, w.county, case, months=3, reason="户主已在工业园区就业")
    with pytest.raises(Invalid):
        workflow.exit_case(session, w.county, case, "")
    workflow.exit_case(session, w.county, case, "渐退期满，家庭收入稳定超过标准")
    assert case.stage == Stage.exited and case.exit_reason == "渐退期满，家庭收入稳定超过标准"


def test_adjust_amount_of_an_active_household(session, w):
    case = register(session, w.staff, income="600.00", members=2)
    to_stage(session, w.world, case, Stage.active)
    assert case.monthly_amount == Decimal("960.00")
    cases.add_income(session, w.staff, case, case.members[1].id, source="wage", amount=Decimal("400.00"))
    assert case.monthly_amount == Decimal("960.00")  # edits never change what is paid by themselves
    assert case.computed_amount == Decimal("560.00")
    workflow.adjust_amount(session, w.county, case, amount=None, reason="复核发现子女已有兼职收入")
    assert case.monthly_amount == Decimal("560.00")


# --- the table itself -------------------------------------------------------------------------------

def test_move_refuses_transitions_outside_the_table(session, w):
    case = register(session, w.staff)
    with pytest.raises(Conflict):
        workflow._move(session, w.staff, case, Stage.active, action="cheat")
    assert case.stage == Stage.applied


def test_every_stage_has_a_label_and_a_row():
    assert set(workflow.STAGE_LABELS) == set(Stage) == set(workflow.TRANSITIONS)


def test_wrong_role_is_forbidden_and_wrong_stage_conflicts(session, w):
    case = register(session, w.staff)
    with pytest.raises(Forbidden):
        workflow.record_town_check(session, w.staff, case, "复查属实无误。")
    with pytest.raises(Conflict):
        workflow.submit_for_review(session, w.staff, case)


def test_step_after_a_decided_stage_is_refused(session, w):
    case = register(session, w.staff)
    to_stage(session, w.world, case, Stage.active)
    for step in (lambda: visit(session, w.staff, case), lambda: workflow.submit_for_review(session, w.staff, case)):
        with pytest.raises(Conflict):
            step()
    assert case.stage == Stage.active
