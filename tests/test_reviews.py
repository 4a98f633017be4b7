"""Issue 10 items 1–4: reviews on the category's schedule, the worklist and the dashboard's count, the county's
decisions, grace periods ending by themselves, deaths, monthly contacts and re-check campaigns."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import reviews, workflow
from dibao.clock import today
from dibao.errors import Conflict, Forbidden, Invalid, NotFound
from dibao.models import AmountPeriod, Stage
from dibao.models.management import CampaignHousehold, ProposalKind, ProposalSource, ProposalStatus
from dibao.models.records import CaseRecord, RecordKind
from dibao.sweep import run_sweep
from tests.case_helpers import register, standard, to_stage, user
from tests.conftest import csrf_token
from tests.review_helpers import active


@pytest.mark.parametrize(("category", "months"), [(1, 12), (2, 6), (3, 3), (4, 1)])
def test_schedule_per_category_from_approval_and_from_the_last_review(session, world, clock, category, months):
    standard(session, world)
    case = active(session, world, category=category)
    approved = clock.now().date()
    assert case.next_review_due == workflow.add_months(approved, months)
    staff = user(session, world, "staff_a1")
    assert reviews.worklist(session, staff).items == []  # not due yet
    # the day before: due within 30 days (for every category but the monthly one it is not yet in the list)
    clock.set(clock.now() + timedelta(days=(case.next_review_due - approved).days))
    work = reviews.worklist(session, staff)
    assert [i.case.id for i in work.items] == [case.id]
    assert work.by_category[category] == 1
    # reviewed today: the next date is counted from the review, by the new category
    reviews.review(session, staff, case, checked=["income", "members"], findings="收入无变化，继续保障。", category=1)
    assert case.next_review_due == workflow.add_months(today(), 12)
    assert reviews.worklist(session, staff).items == []


def test_buckets_overdue_and_soon(session, world, clock):
    standard(session, world)
    monthly = active(session, world, category=4)
    yearly = active(session, world, category=1)
    staff = user(session, world, "staff_a1")
    clock.set(clock.now() + timedelta(days=20))  # monthly due in ~11 days
    assert [i.case.id for i in reviews.worklist(session, staff, bucket="soon").items] == [monthly.id]
    clock.set(clock.now() + timedelta(days=30))  # monthly past due
    work = reviews.worklist(session, staff, bucket="overdue")
    assert [i.case.id for i in work.items] == [monthly.id] and work.items[0].overdue
    assert [i.case.id for i in reviews.worklist(session, staff, category=4).items] == [monthly.id]
    assert reviews.worklist(session, staff, category=1).items == []
    assert yearly.id not in [i.case.id for i in reviews.worklist(session, staff).items]


def test_dashboard_link_lists_exactly_the_due_households(client, auth, session, world, clock):
    standard(session, world)
    due = active(session, world, category=4)
    active(session, world, category=1)  # active, not due
    other = active(session, world, category=4, staff="staff_b1")  # due, but another town
    session.commit()
    clock.set(clock.now() + timedelta(days=40))
    auth.login("staff_a1")
    page = client.get("/admin/").get_data(as_text=True)
    assert "/admin/reviews/?bucket=due" in page
    assert "到期待复核 <strong>1</strong>" in page
    listing = client.get("/admin/reviews/?bucket=due").get_data(as_text=True)
    assert due.number in listing and other.number not in listing
    assert listing.count("/admin/cases/") - listing.count("/review\"") >= 1
    rows = listing.split('id="review-worklist"')[1].count("<tr") - 1
    assert rows == 1


def test_review_proposes_amount_and_exit_for_the_county(session, world, clock):
    standard(session, world)
    case = active(session, world)
    staff, county = user(session, world, "staff_a1"), user(session, world, "county")
    with pytest.raises(Invalid) as err:
        reviews.review(session, staff, case, checked=[], findings="情况无变化。", category=2)
    assert err.value.field == "checked"
    with pytest.raises(Invalid) as err:
        reviews.review(session, staff, case, checked=["income"], findings="户主收入增加。", category=2,
                       outcome="amount", amount=Decimal("500.00"))
    assert err.value.field == "reason"
    reviews.review(session, staff, case, checked=["income"], findings="户主收入增加。", category=2, outcome="amount",
                   amount=Decimal("500.00"), reason="户主工资增加到 1060 元")
    assert case.monthly_amount == Decimal("960.00")  # nothing changes before the county decides
    [proposal] = reviews.open_proposals(session, case)
    assert proposal.kind == ProposalKind.amount and proposal.amount == Decimal("500.00")
    # due again until decided, although the review moved the date
    assert case.id in [i.case.id for i in reviews.worklist(session, staff).items]
    with pytest.raises(Forbidden):
        reviews.decide(session, staff, proposal, confirm=True, reason="同意调整金额")
    reviews.decide(session, county, proposal, confirm=True, reason="同意调整为 500 元")
    assert case.monthly_amount == Decimal("500.00") and proposal.status == ProposalStatus.confirmed
    assert case.id not in [i.case.id for i in reviews.worklist(session, staff).items]
    reviews.review(session, staff, case, checked=["work"], findings="户主稳定就业。", category=2, outcome="exit",
                   reason="家庭收入超过标准")
    [exit_proposal] = reviews.open_proposals(session, case)
    reviews.decide(session, county, exit_proposal, confirm=True, reason="家庭人均收入超过低保标准")
    assert case.stage == Stage.exited and case.exit_reason == "家庭人均收入超过低保标准"


def test_grace_period_ends_by_itself_with_an_exit_proposal(app, session, world, clock):
    standard(session, world)
    case = active(session, world, category=1)
    county, staff = user(session, world, "county"), user(session, world, "staff_a1")
    workflow.start_grace(session, county, case, months=3, reason="户主已就业")
    session.commit()
    run_sweep(app, media_gc=False)
    session.rollback()
    assert reviews.open_proposals(session, case) == []  # not before its end
    session.rollback()
    clock.set(clock.now() + timedelta(days=95))
    run_sweep(app, media_gc=False)
    run_sweep(app, media_gc=False)  # twice: still one proposal
    session.rollback()
    [proposal] = reviews.open_proposals(session, case)
    assert (proposal.kind, proposal.source) == (ProposalKind.exit, ProposalSource.grace_end)
    assert case.id in [i.case.id for i in reviews.worklist(session, staff).items]
    assert session.scalar(select(func.count(CaseRecord.id)).where(CaseRecord.kind == RecordKind.grace_end)) == 1
    assert case.stage == Stage.active  # only proposed: staff confirm with the reason
    with pytest.raises(Invalid):
        reviews.decide(session, county, proposal, confirm=True, reason="")
    reviews.decide(session, county, proposal, confirm=True, reason="渐退期满，家庭收入超过标准")
    assert case.stage == Stage.exited
    last = session.scalars(select(AmountPeriod).where(AmountPeriod.case_id == case.id)
                           .order_by(AmountPeriod.id.desc())).first()
    assert last.amount == 0


def test_declined_grace_exit_keeps_the_household(app, session, world, clock):
    standard(session, world)
    case = active(session, world)
    county = user(session, world, "county")
    workflow.start_grace(session, county, case, months=1, reason="户主已就业")
    clock.set(clock.now() + timedelta(days=40))
    reviews.grace_pass(session)
    [proposal] = reviews.open_proposals(session, case)
    reviews.decide(session, county, proposal, confirm=False, reason="户主又失业，继续保障")
    assert case.stage == Stage.active and case.grace_until is None
    assert reviews.grace_pass(session) == []


def test_death_starts_the_recheck(session, world, clock):
    standard(session, world)
    case = active(session, world, category=1)
    staff = user(session, world, "staff_a1")
    assert case.id not in [i.case.id for i in reviews.worklist(session, staff).items]
    with pytest.raises(Invalid):
        reviews.record_death(session, staff, case, member_id=case.members[1].id, died_on=today() + timedelta(1))
    reviews.record_death(session, staff, case, member_id=case.members[1].id, died_on=today())
    assert case.next_review_due == today()
    [item] = reviews.worklist(session, staff).items
    assert item.case.id == case.id and item.proposals[0].kind == ProposalKind.recheck
    with pytest.raises(Forbidden):
        reviews.record_death(session, user(session, world, "county"), case, member_id=case.members[0].id,
                             died_on=today())
    reviews.review(session, staff, case, checked=["members", "income"], findings="成员去世，人口减少。", category=1)
    assert reviews.open_proposals(session, case) == []  # the review settled the re-check
    assert reviews.worklist(session, staff).items == []


def test_monthly_contacts_and_completeness(session, world, clock):
    standard(session, world)
    monthly = active(session, world, category=4)
    other = active(session, world, category=4)
    yearly = active(session, world, category=1)
    staff = user(session, world, "staff_a1")
    view = reviews.completeness(session, staff)
    assert {c.id for c in view.missing} == {monthly.id, other.id}
    reviews.log_contact(session, staff, monthly, contacted_on=today(), way="phone", note="电话询问，无变化")
    reviews.log_contact(session, staff, yearly, contacted_on=today(), way="visit")
    view = reviews.completeness(session, staff)
    assert [c.id for c in view.missing] == [other.id]
    [row] = view.communities
    assert (row.active, row.contacted, row.category4, row.category4_missing) == (3, 2, 2, 1)
    # next month nobody was contacted yet
    assert len(reviews.completeness(session, staff, date(2026, 4, 1)).missing) == 2
    with pytest.raises(Invalid):
        reviews.log_contact(session, staff, other, contacted_on=today(), way="letter")
    with pytest.raises(Forbidden):
        reviews.log_contact(session, user(session, world, "town_a"), other, contacted_on=today(), way="phone")
    with pytest.raises(NotFound):
        reviews.log_contact(session, user(session, world, "staff_b1"), other, contacted_on=today(), way="phone")
    assert [c.note for c in reviews.contacts_for(session, monthly)] == ["电话询问，无变化"]


def test_campaign_over_every_active_household_with_progress(session, world, clock):
    standard(session, world)
    a1 = active(session, world)
    a2 = active(session, world, staff="staff_a2")
    b1 = active(session, world, staff="staff_b1")
    register(session, user(session, world, "staff_a1"))  # not active: not in the campaign
    town = user(session, world, "town_a")
    campaign = reviews.open_campaign(session, town, title="2026年全面入户核查")
    assert {h.case_id for h in session.scalars(select(CampaignHousehold))} == {a1.id, a2.id}  # the town's only
    with pytest.raises(Conflict):
        reviews.open_campaign(session, town, title="又一次")
    with pytest.raises(Forbidden):
        reviews.open_campaign(session, user(session, world, "staff_a1"), title="社区核查")
    staff = user(session, world, "staff_a1")
    assert reviews.get_campaign(session, staff, campaign.id) == campaign  # the community sees its town's
    with pytest.raises(NotFound):
        reviews.get_campaign(session, user(session, world, "staff_b1"), campaign.id)
    view = reviews.progress(session, town, campaign)
    assert [(c.region.name, c.total, c.done) for c in view.communities] == [("甲一社区", 1, 0), ("甲二社区", 1, 0)]
    record = reviews.record_check(session, staff, campaign, a1.id, findings="入户核查，情况属实。")
    assert record.kind == RecordKind.campaign_check and record.case_id == a1.id
    with pytest.raises(Conflict):
        reviews.record_check(session, staff, campaign, a1.id, findings="再查一次。")
    with pytest.raises(NotFound):
        reviews.record_check(session, staff, campaign, a2.id, findings="不是本社区的。")
    with pytest.raises(NotFound):
        reviews.record_check(session, staff, campaign, b1.id, findings="不在核查里。")
    view = reviews.progress(session, town, campaign)
    assert [(c.total, c.done) for c in view.communities] == [(1, 1), (1, 0)]
    assert [c.region.name for c in reviews.progress(session, staff, campaign).communities] == ["甲一社区"]
    reviews.close_campaign(session, town, campaign)
    with pytest.raises(Conflict):
        reviews.record_check(session, user(session, world, "staff_a2"), campaign, a2.id, findings="结束后不能记。")


def test_case_page_shows_the_management_panel(client, auth, session, world, clock):
    standard(session, world)
    case = active(session, world, category=4)
    session.commit()
    auth.login("staff_a1")
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "动态管理" in page and f"/admin/cases/{case.id}/review\"" in page and "contact-form" in page
    token = csrf_token(client, "/admin/")
    res = client.post(f"/admin/cases/{case.id}/contacts", data={"csrf_token": token, "contacted_on": "2026-03-18",
                                                                 "way": "came_in", "note": "来社区反映情况"})
    assert res.status_code == 302
    assert "来社区反映情况" in client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert case.head_name not in client.get("/admin/contacts/").get_data(as_text=True).split("contacts-missing")[-1]


def test_clerks_flow_next_step_select_all_and_the_week(client, auth, session, world, clock):
    from dibao.models import Level

    standard(session, world)
    waiting = register(session, user(session, world, "staff_a1"))
    to_stage(session, world, waiting, Stage.awaiting_community_notice, levels=(Level.community,))
    monthly = active(session, world, category=4)
    session.commit()
    auth.login("staff_a1")
    page = client.get(f"/admin/cases/{waiting.id}").get_data(as_text=True)
    link = f"/admin/notices/new?case_ids={waiting.id}"
    assert "next-step" in page and link in page
    compose = client.get(link).get_data(as_text=True)
    assert f'value="{waiting.id}" id="case-{waiting.id}" checked' in compose
    assert 'data-select-all="case_id"' in compose and "select-all.js" in compose
    auth.logout()
    auth.login("town_a")  # not the publisher of a community notice: told whose turn it is
    page = client.get(f"/admin/cases/{waiting.id}").get_data(as_text=True)
    assert "等待社区发布公示" in page and link not in page
    auth.logout()
    auth.login("staff_a1")
    week = client.get("/admin/").get_data(as_text=True).split('id="week-ahead"')[1]
    assert "复核 0 户" in week
    clock.set(clock.now() + timedelta(days=26))  # the monthly review falls within the week
    auth.login("staff_a1")  # (the idle session ended with the jump in time)
    week = client.get("/admin/").get_data(as_text=True).split('id="week-ahead"')[1]
    assert "复核 1 户" in week and f"/admin/cases/{monthly.id}" in week
    listing = client.get("/admin/reviews/?bucket=week").get_data(as_text=True)
    assert monthly.number in listing


def test_objection_and_report_inbox_search_and_filters(client, auth, session, world, app):
    from dibao import feedback

    def report(text, category, code="100001001"):
        return feedback.submit_report(session, feedback.Submission(category=category, description=text),
                                      subject="recipient", region_code=code, about="某某",
                                      media_dir=app.config["MEDIA_DIR"]).item

    car = report("该户家里有一辆小汽车，经常开。", "property")
    job = report("户主在工地打工，收入不低。", "income_hidden")
    other = report("另一个社区的户家里有车。", "property", code="100001002")
    session.commit()
    auth.login("town_a")

    def listed(query):
        page = client.get("/admin/feedback/?state=all" + query).get_data(as_text=True)
        return {r.tracking_code for r in (car, job, other) if r.tracking_code in page}

    assert listed("") == {car.tracking_code, job.tracking_code, other.tracking_code}
    assert listed("&q=小汽车") == {car.tracking_code}
    assert listed("&q=" + job.tracking_code.lower()) == {job.tracking_code}
    assert listed("&category=property") == {car.tracking_code, other.tracking_code}
    assert listed(f"&category=property&community={world.regions['comm_a2']}") == {other.tracking_code}
    assert listed("&category=nonsense") == {car.tracking_code, job.tracking_code, other.tracking_code}
    assert listed("&q=%25") == set()  # a LIKE wildcard is searched for, not obeyed


def _sitting(token, cases, **overrides):
    data = {"csrf_token": token, "held_on": "2026-03-18", "location": "社区会议室", "panel": "甲\n乙\n丙\n丁\n戊",
            "include": [str(c.id) for c in cases]}
    for c in cases:
        data.update({f"decision-{c.id}": "approve", f"for-{c.id}": "5", f"against-{c.id}": "0",
                     f"abstain-{c.id}": "0", f"opinion-{c.id}": "经评议，同意上报。"})
    data.update(overrides)
    return data


def test_one_sitting_decides_several_households_all_or_nothing(client, auth, session, world, clock):
    from dibao.models.records import ReviewResult

    standard(session, world)
    staff = user(session, world, "staff_a1")
    first, second = (to_stage(session, world, register(session, staff), Stage.community_review) for _ in range(2))
    session.commit()
    for who, status in (("town_a", 403), ("staff_b1", 404)):
        auth.login(who)
        res = client.post("/admin/sittings/community", data=_sitting(csrf_token(client, "/admin/"), [first]))
        assert res.status_code == status, (who, res.status_code)
        auth.logout()
    auth.login("staff_a1")
    page = client.get("/admin/sittings/community").get_data(as_text=True)
    assert first.number in page and second.number in page and 'data-select-all="include"' in page
    token = csrf_token(client, "/admin/")
    res = client.post("/admin/sittings/community", data=_sitting(token, [first, second],
                                                                  **{f"for-{second.id}": "9"}))
    assert res.status_code == 400 and second.head_name in res.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(func.count(ReviewResult.id))) == 0  # nothing of the first household either
    for typed in ("³", "①"):  # digits to str.isdigit() that int() refuses: a vote count not given, said
        res = client.post("/admin/sittings/community", data=_sitting(token, [first], **{f"for-{first.id}": typed}))
        assert res.status_code == 400 and first.head_name in res.get_data(as_text=True), typed
    session.rollback()
    assert session.scalar(select(func.count(ReviewResult.id))) == 0
    res = client.post("/admin/sittings/community", data=_sitting(token, [first, second]))
    assert res.status_code == 302
    session.rollback()
    session.expire_all()
    results = session.scalars(select(ReviewResult)).all()
    assert {r.case_id for r in results} == {first.id, second.id} and len({r.meeting_id for r in results}) == 1
    assert {session.get(type(first), c.id).stage for c in (first, second)} == {Stage.awaiting_community_notice}


def test_a_sitting_says_every_households_problem_at_once(client, auth, session, world, clock):
    from dibao.models.records import ReviewResult

    standard(session, world)
    staff = user(session, world, "staff_a1")
    first, second, third = (to_stage(session, world, register(session, staff, head_name=name), Stage.community_review)
                            for name in ("赵一", "钱二", "孙三"))
    session.commit()
    auth.login("staff_a1")
    token = csrf_token(client, "/admin/")
    res = client.post("/admin/sittings/community", data=_sitting(token, [first, second, third], **{
        f"decision-{first.id}": "", f"for-{third.id}": "9"}))
    page = res.get_data(as_text=True)
    assert res.status_code == 400
    assert f"赵一（{first.number}）：请选择评议结果" in page and f"孙三（{third.number}）" in page
    assert f"钱二（{second.number}）：" not in page
    # Each problem is also placed in its household's row, whose checkbox points at it; the good row is unmarked.
    rows = {c.id: re.search(rf'<tr[^>]*>\s*<td><input type="checkbox" name="include" value="{c.id}".*?</tr>', page,
                            re.S).group(0) for c in (first, second, third)}
    assert 'class="row-invalid"' in rows[first.id] and "请选择评议结果" in rows[first.id]
    assert f'aria-describedby="hh-{first.id}-err"' in rows[first.id] and f'id="hh-{first.id}-err"' in rows[first.id]
    assert 'class="row-invalid"' in rows[third.id] and f"孙三（{third.number}）" in rows[third.id]
    assert "row-invalid" not in rows[second.id] and "aria-invalid" not in rows[second.id]
    session.rollback()
    assert session.scalar(select(func.count(ReviewResult.id))) == 0
