"""Four rules an audit found the workflow let pass, each checked where the clerk meets it:

- A 19: an objection is decided (upheld or not) only with its check written down — who checked, how;
- A 20: a case with an objection or a report during its application gets a county home visit, recorded after the
  objection or report was filed, before the county approves it;
- A 15–16: the family signs the home-visit record, or the record says why it did not;
- A 33: the grace periods (渐退期) of one approval add up to at most 6 months.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dibao import feedback, migrate, notices, reviews, workflow
from dibao.errors import Conflict, Invalid
from dibao.models import AuditEvent, Case, FeedbackStatus, Level, Objection, Outcome, Stage
from dibao.models.records import CaseRecord, HomeVisit, RecordKind
from tests.case_helpers import fresh, register, standard, to_stage, town_decision, user, verify, visit
from tests.conftest import csrf_token
from tests.feedback_form_helpers import _objection
from tests.feedback_helpers import open_entry
from tests.review_helpers import active
from tests.test_all_errors import field_error as error_beside

CHECK = "乡镇干部王五、李六入户核实，走访三户邻居，查看了车辆登记。"



def decided_events(session) -> int:
    return session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "objection_decided"))


# --- A 19: an objection's decision needs its check ------------------------------------------------------------

@pytest.mark.parametrize("outcome", ["not_upheld", "upheld"])
def test_an_objection_is_decided_either_way_only_with_its_check_written_down(client, auth, session, world, outcome):
    entry = open_entry(session, world, level=Level.town)
    objection = _objection(session, entry)
    auth.login("town_a")
    url = f"/admin/feedback/objection/{objection.id}"
    answer = "经核查，该户情况与公示一致，异议不成立。" if outcome == "not_upheld" else "经核查，该户有车辆未申报，异议成立。"
    for notes in ("", "已核查。"):  # nothing, or too little to say who checked and how
        res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": outcome,
                                                 "notes": notes, "public_answer": answer})
        assert res.status_code == 400
        assert "对异议作出结论前，须记录核查情况" in error_beside(res.get_data(as_text=True), "notes")
        fresh(session)
        refused = session.get(Objection, objection.id)
        assert refused.status == FeedbackStatus.received and refused.outcome is None and refused.check_notes is None
        assert refused.case.stage == Stage.town_notice and decided_events(session) == 0

    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": outcome,
                                             "notes": CHECK, "public_answer": answer})
    assert res.status_code == 303
    fresh(session)
    done = session.get(Objection, objection.id)
    assert done.status == FeedbackStatus.decided and done.outcome == Outcome(outcome)
    assert CHECK in done.check_notes
    # upheld still sends the case back to investigation; not upheld leaves it in its (still open) notice
    assert done.case.stage == (Stage.investigating if outcome == "upheld" else Stage.town_notice)
    second = _objection(session, open_entry(session, world, level=Level.town))
    page = client.get(f"/admin/feedback/objection/{second.id}").get_data(as_text=True)
    assert "对异议作出结论（成立或不成立）前须有核查记录" in page  # the form says so before it is sent


def test_a_check_recorded_earlier_counts_and_the_domain_refuses_without_one(app, client, auth, session, world):
    entry = open_entry(session, world, level=Level.town)
    objection = _objection(session, entry)
    town = user(session, world, "town_a")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        feedback.decide(session, town, objection, "not_upheld", "经核查，异议不成立。")
    assert [field for field, _m in caught.value.field_problems] == ["notes"]
    fresh(session)
    assert session.get(Objection, objection.id).status == FeedbackStatus.received

    auth.login("staff_a1")  # the community records the check ("继续核查"); the town decides on it
    url = f"/admin/feedback/objection/{objection.id}"
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "check",
                                             "notes": CHECK})
    assert res.status_code == 303
    auth.logout()
    auth.login("town_a")
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "not_upheld",
                                             "public_answer": "经核查，该户情况与公示一致，异议不成立。"})
    assert res.status_code == 303
    fresh(session)
    assert session.get(Objection, objection.id).outcome == Outcome.not_upheld


def test_a_report_is_still_decided_without_check_notes(session, world):
    standard(session, world)
    case = active(session, world)
    report = feedback.submit_report(session, feedback.Submission(category="income_hidden",
                                                                 description="他家开了小卖部，收入不低。"),
                                    subject="recipient", region_code="100001001", case_number=case.number,
                                    media_dir="").item
    feedback.decide(session, user(session, world, "town_a"), report, "not_upheld", "经核查，小卖部已于去年关闭。")
    assert report.status == FeedbackStatus.decided


def test_objections_decided_together_each_get_the_check(client, auth, session, world):
    entry = open_entry(session, world, level=Level.town)
    first = _objection(session, entry)
    second = _objection(session, entry, "同一户，重复反映：家里有车。")
    auth.login("town_a")
    url = f"/admin/feedback/entries/{entry.id}/decide"
    data = {"csrf_token": csrf_token(client, url), "objection_ids": [first.id, second.id], "outcome": "not_upheld",
            "public_answer": "经核查，该户情况与公示一致，异议不成立。"}
    res = client.post(url, data=data)
    assert res.status_code == 400
    assert "对异议作出结论前，须记录核查情况" in error_beside(res.get_data(as_text=True), "notes")
    fresh(session)
    assert [session.get(Objection, i).status for i in (first.id, second.id)] == [FeedbackStatus.received] * 2
    res = client.post(url, data={**data, "notes": CHECK})
    assert res.status_code == 303
    fresh(session)
    for item in (session.get(Objection, first.id), session.get(Objection, second.id)):
        assert item.status == FeedbackStatus.decided and CHECK in item.check_notes
    third = _objection(session, open_entry(session, world, level=Level.town))
    page = client.get(f"/admin/feedback/entries/{third.entry_id}/decide").get_data(as_text=True)
    assert 'name="notes"' in page and "核查情况（仅工作人员可见）" in page


# --- A 20: a complaint or report means a county home visit ------------------------------------------------------

def _in_town_notice(session, world, *, county_visit_first=False):
    """A case whose town opinion is on its notice (the town's round only), and the board residents read;
    ``county_visit_first``: the county visited it before the town's decision."""
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    to_stage(session, world, case, Stage.town_decision)
    if county_visit_first:
        visit(session, user(session, world, "county"), case, investigators=("县民政局 赵", "县民政局 钱"))
    town = user(session, world, "town_a")
    town_decision(session, town, case, levels=(Level.town,))
    verify(session, town, case)
    batch = notices.publish_batch(session, town, level=Level.town, region=case.region.parent, cases=[case],
                                  title="低保审核公示", window_days=7)
    session.commit()
    return case, batch


def _report_from(session, entry_public_id):
    return feedback.submit_report(session, feedback.Submission(category="income_hidden",
                                                               description="他家儿子开出租车，收入不低。"),
                                  subject="recipient", region_code=None, entry_public_id=entry_public_id,
                                  media_dir="").item


def test_a_report_during_the_application_needs_a_county_visit_after_it(session, world, clock):
    case, batch = _in_town_notice(session, world)
    county = user(session, world, "county")
    clock.advance(days=1)
    report = _report_from(session, batch.entries[0].public_id)
    assert report.case_id == case.id
    clock.advance(days=7)
    assert workflow.notice_closed(session, case, Level.town, batch.public_id)  # a report holds nothing
    assert case.stage == Stage.county_approval
    session.commit()
    with pytest.raises(Conflict, match="有群众异议或举报.*须由县级工作人员在此之后入户调查"):
        workflow.record_county_decision(session, county, case, decision="approve", opinion="同意。")
    fresh(session)
    assert session.get(Case, case.id).stage == Stage.county_approval and case.approved_at is None
    clock.advance(days=1)
    visit(session, county, case, investigators=("县民政局 赵", "县民政局 钱"))
    workflow.record_county_decision(session, county, case, decision="approve", opinion="同意。")
    assert case.stage == Stage.awaiting_county_notice and case.approved_at is not None


def test_a_county_visit_before_the_report_does_not_count(session, world, clock):
    case, batch = _in_town_notice(session, world, county_visit_first=True)  # the county came early
    county = user(session, world, "county")
    clock.advance(days=1)
    _report_from(session, batch.entries[0].public_id)  # a report after it: the county must go again
    clock.advance(days=7)
    workflow.notice_closed(session, case, Level.town, batch.public_id)
    session.commit()
    assert workflow.has_county_visit(session, case)
    with pytest.raises(Conflict, match="有群众异议或举报"):
        workflow.record_county_decision(session, county, case, decision="approve", opinion="同意。")
    fresh(session)
    assert session.get(Case, case.id).stage == Stage.county_approval


def test_an_objection_not_upheld_still_needs_the_county_visit_said_on_the_page(client, auth, session, world, clock):
    case, batch = _in_town_notice(session, world)
    objection = _objection(session, batch.entries[0])
    town = user(session, world, "town_a")
    feedback.record_check(session, town, objection, CHECK)
    clock.advance(days=8)
    feedback.decide(session, town, objection, "not_upheld", "经核查，该户情况与公示一致，异议不成立。")
    assert case.stage == Stage.county_approval  # released as the sweep would have
    session.commit()
    auth.login("county")
    url = f"/admin/cases/{case.id}/county-decision"
    page = client.get(url).get_data(as_text=True)  # said before the approver tries
    assert "本次申请期间有群众异议或举报" in page and "须先由县级工作人员入户调查" in page
    res = client.post(url, data={"csrf_token": csrf_token(client, url), "decision": "approve", "opinion": "同意。"})
    assert res.status_code == 409
    assert "须由县级工作人员在此之后入户调查" in res.get_data(as_text=True)
    fresh(session)
    assert session.get(Case, case.id).stage == Stage.county_approval
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "county_approved")) == 0
    clock.advance(minutes=1)
    visit(session, user(session, world, "county"), session.get(Case, case.id),
          investigators=("县民政局 赵", "县民政局 钱"))
    session.commit()
    assert "此后已有县级入户调查记录" in client.get(url).get_data(as_text=True)
    res = client.post(url, data={"csrf_token": csrf_token(client, url), "decision": "approve", "opinion": "同意。"})
    assert res.status_code in (302, 303)
    fresh(session)
    assert session.get(Case, case.id).stage == Stage.awaiting_county_notice  # approved; the county's notice next


# --- A 15–16: the family signs the record, or it says why not ---------------------------------------------------

def _visit_form(token, **over):
    data = {"csrf_token": token, "visited_on": "2026-03-18", "investigators": "甲一专干\n社区 刘干事",
            "housing": "两居室旧房，无汽车", "inquiry": "户主患病无业", "notes": ""}
    for i in range(3):
        data |= {f"neighbours-{i}-name": f"邻居{i}", f"neighbours-{i}-relation": f"{i + 1}01 室",
                 f"neighbours-{i}-statement": "情况属实"}
    return data | over


def test_a_home_visit_the_family_did_not_sign_says_why(client, auth, session, world):
    case = register(session, user(session, world, "staff_a1"))
    session.commit()
    auth.login("staff_a1")
    url = f"/admin/cases/{case.id}/visit"
    for reason in ("", "  拒签 "):  # not signed, and no reason (or too short a one)
        res = client.post(url, data=_visit_form(csrf_token(client, url), unsigned_reason=reason))
        assert res.status_code == 400
        assert "家庭未签字的，请写明原因" in error_beside(res.get_data(as_text=True), "unsigned_reason")
        fresh(session)
        assert session.scalar(select(func.count(HomeVisit.id))) == 0
        assert session.get(Case, case.id).stage == Stage.applied
    reason = "户主卧病在床无法签字，其子外出务工，约定返回后补签。"
    res = client.post(url, data=_visit_form(csrf_token(client, url), unsigned_reason=reason))
    assert res.status_code == 302
    fresh(session)
    saved = session.scalar(select(HomeVisit))
    assert (saved.family_signed, saved.unsigned_reason) == (False, reason)
    assert session.get(Case, case.id).stage == Stage.investigating
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "home_visit_recorded"))
    assert json.loads(event.details)["unsigned_reason"] == reason
    assert reason in client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    other = register(session, user(session, world, "staff_a1"), head_name="王秀英")
    session.commit()
    page = client.get(f"/admin/cases/{other.id}/visit").get_data(as_text=True)
    assert 'name="unsigned_reason"' in page and "家庭未签字的原因" in page  # the form asks for it


def test_a_signed_home_visit_needs_no_reason(app, session, world):
    case = register(session, user(session, world, "staff_a1"))
    signed = visit(session, user(session, world, "staff_a1"), case, unsigned_reason="多余的说明")
    assert signed.family_signed and signed.unsigned_reason is None
    other = register(session, user(session, world, "staff_a1"), head_name="王秀英")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        workflow.record_home_visit(session, user(session, world, "staff_a1"), other, visited_on=None, housing="",
                                   inquiry="打零工", investigators=["张三", "李四"], neighbours=[])
    fields = [field for field, _m in caught.value.field_problems]
    assert "unsigned_reason" in fields and "visited_on" in fields  # with every other problem, at once


# --- A 33: at most 6 months of grace per approval --------------------------------------------------------------

def _grace_ends_and_the_exit_is_declined(session, county, case, clock, months):
    clock.set(clock.now() + timedelta(days=31 * months + 1))
    reviews.grace_pass(session)
    [proposal] = reviews.open_proposals(session, case)
    reviews.decide(session, county, proposal, confirm=False, reason="户主又失业，继续保障")
    assert case.grace_until is None


def test_grace_periods_of_one_approval_add_up_to_at_most_six_months(app, session, world, clock):
    standard(session, world)
    case = active(session, world)
    county = user(session, world, "county")
    workflow.start_grace(session, county, case, months=4, reason="户主已就业")
    _grace_ends_and_the_exit_is_declined(session, county, case, clock, 4)
    session.commit()
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        workflow.start_grace(session, county, case, months=3, reason="户主再次就业")
    [(field, message)] = caught.value.field_problems
    assert field == "months" and "已享受 4 个月" in str(message) and "最多还可设置 2 个月" in str(message)
    fresh(session)
    assert session.get(Case, case.id).grace_until is None
    workflow.start_grace(session, county, case, months=2, reason="户主再次就业")
    _grace_ends_and_the_exit_is_declined(session, county, case, clock, 2)
    session.commit()
    with pytest.raises(Conflict, match="已享受渐退期 6 个月，已达 6 个月的上限"):
        workflow.start_grace(session, county, case, months=1, reason="户主第三次就业")
    fresh(session)
    grants = session.scalars(select(CaseRecord.months).where(CaseRecord.case_id == case.id,
                                                             CaseRecord.kind == RecordKind.grace)).all()
    assert sorted(grants) == [2, 4]
    assert workflow.grace_months_used(session, session.get(Case, case.id)) == 6


def test_the_grace_form_says_how_many_months_remain(client, auth, session, world, clock):
    standard(session, world)
    case = active(session, world)
    county = user(session, world, "county")
    workflow.start_grace(session, county, case, months=5, reason="户主已就业")
    _grace_ends_and_the_exit_is_declined(session, county, case, clock, 5)
    session.commit()
    auth.login("county")
    url = f"/admin/cases/{case.id}/grace"
    assert "已享受渐退期 5 个月，最多还可设置 1 个月" in client.get(url).get_data(as_text=True)
    res = client.post(url, data={"csrf_token": csrf_token(client, url), "months": "3", "reason": "户主再次就业"})
    assert res.status_code == 400
    assert "最多还可设置 1 个月" in error_beside(res.get_data(as_text=True), "months")
    fresh(session)
    assert session.get(Case, case.id).grace_until is None
    res = client.post(url, data={"csrf_token": csrf_token(client, url), "months": "1", "reason": "户主再次就业"})
    assert res.status_code in (302, 303), res.get_data(as_text=True)
    fresh(session)
    assert session.get(Case, case.id).grace_until is not None


def test_the_migration_fills_in_the_months_of_earlier_grants(app, session, world):
    standard(session, world)
    case = active(session, world)
    workflow.start_grace(session, user(session, world, "county"), case, months=4, reason="户主已就业")
    session.commit()
    case_id = case.id
    session.close()
    engine = app.extensions["dibao.engine"]
    migrate.downgrade(engine, "0708_clean_stored_names")
    migrate.upgrade(engine, "heads")
    assert session.scalar(select(CaseRecord.months).where(CaseRecord.case_id == case_id,
                                                          CaseRecord.kind == RecordKind.grace)) == 4
    assert workflow.grace_months_used(session, session.get(Case, case_id)) == 4


# --- A 31: a household with a member able to work, or irregular income, is reviewed at least every 6 months ------

def test_an_able_bodied_household_is_approved_half_yearly_even_if_registered_yearly(session, world, clock):
    from dibao.models import WorkCapacity

    standard(session, world)
    able = register(session, user(session, world, "staff_a1"), category=1, head_age=40,
                    head_work_capacity=WorkCapacity.full)
    frail = register(session, user(session, world, "staff_a1"), category=1, head_age=78,
                     head_work_capacity=WorkCapacity.none)
    for case in (able, frail):
        to_stage(session, world, case, Stage.active)
    today = clock.now().date()
    assert (able.category, able.next_review_due) == (2, workflow.add_months(today, 6))
    assert (frail.category, frail.next_review_due) == (1, workflow.add_months(today, 12))
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "county_approved",
                                                    AuditEvent.object_id == str(able.id)))
    assert json.loads(event.details)["category"] == [1, 2]


def test_a_review_may_not_make_an_able_bodied_or_irregular_income_household_yearly(session, world):
    from dibao import cases
    from dibao.models import WorkCapacity

    standard(session, world)
    staff = user(session, world, "staff_a1")
    case = active(session, world, head_age=70, head_work_capacity=WorkCapacity.none, income="")
    reviews.review(session, staff, case, checked=["income"], findings="家庭情况无变化，收入稳定。", category=1)
    assert case.category == 1  # the old and ill: yearly is allowed
    cases.add_income(session, staff, case, case.members[0].id, source="business", amount="300.00")  # a stall
    with pytest.raises(Invalid) as refused:
        reviews.review(session, staff, case, checked=["income"], findings="摆摊收入，时有时无。", category=1)
    assert refused.value.field == "category" and "至少每半年复核一次" in refused.value.message
    assert workflow.least_category(case.members) == 2
    reviews.review(session, staff, case, checked=["income"], findings="摆摊收入，时有时无。", category=2)
    assert case.category == 2
