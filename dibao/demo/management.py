"""Demo step for dynamic management (issue 10): households due for review (one overdue), a household in its grace
period and one whose grace ended (an exit proposal), a death waiting for its re-check, contact logs of this month and
the last, a town's re-check campaign half done, and a pending 提标 (a standard that took effect this month).

Safe to run twice: it does nothing when the county already has a campaign."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import clock, entitlement, raises, reviews, scope, workflow
from dibao.models import Case, Level, Region, Role, Stage, User
from dibao.models.management import Campaign
from dibao.models.records import Standard

CONTACT_NOTES = ["电话询问近况，家庭情况无变化", "入户走访，户主身体状况稳定", "来社区咨询医疗救助政策", "入户了解子女上学情况"]


def _staff(session: Session, region: Region, role: Role) -> User | None:
    return session.scalar(select(User).where(User.region_id == region.id, User.role == role).order_by(User.id))


def seed_management(session: Session, county: Region) -> int:
    towns = [t for t in county.children if t.level == Level.town]
    if not towns:
        return 0
    region_ids = select(Region.id).where(scope.subtree_condition(county))
    if session.scalar(select(Campaign.id).where(Campaign.region_id.in_(region_ids)).limit(1)):
        return 0
    households = list(session.scalars(select(Case).where(Case.region_id.in_(region_ids), Case.stage == Stage.active)
                                      .order_by(Case.id)))
    county_user = _staff(session, county, Role.county_approver)
    admin = session.scalar(select(User).where(User.role == Role.admin, User.region_id == county.id))
    if len(households) < 5 or county_user is None or admin is None:
        return 0
    now = clock.now()
    created = 0

    def staff_of(case: Case) -> User | None:
        return _staff(session, case.region, Role.community_staff)

    # Reviews: two households reviewed as category 4 some weeks ago — one is overdue, one due now.
    for case, days in ((households[0], 40), (households[1], 31)):
        staff = staff_of(case)
        if staff is None:
            continue
        with clock.travel(now - timedelta(days=days)):
            reviews.review(session, staff, case, checked=["members", "income", "housing"], category=4,
                           findings="入户复核：家庭人口和收入无变化，户主长期患病，改为四类每月复核。")
        created += 1
    # A grace period running, and one that ended (the sweep's exit proposal waits for the county).
    workflow.start_grace(session, county_user, households[2], months=3, reason="户主已在社区公益岗位就业，月收入约 1500 元")
    with clock.travel(now - timedelta(days=70)):
        workflow.start_grace(session, county_user, households[3], months=2, reason="长子外出务工，收入稳定")
    created += len(reviews.grace_pass(session)) + 1
    # A death: the household is due for the re-check the rules require.
    death_case = households[4]
    staff = staff_of(death_case)
    if staff is not None and death_case.members:
        member = death_case.members[-1]
        reviews.record_death(session, staff, death_case, member_id=member.id,
                             died_on=clock.today() - timedelta(days=3), note="已收到医院死亡证明复印件")
        created += 1
    # Monthly contacts: every household last month, all but the last one this month.
    last_month = entitlement.month_start(clock.today()) - timedelta(days=10)
    for index, case in enumerate(households):
        staff = staff_of(case)
        if staff is None:
            continue
        ways = ["phone", "visit", "came_in"]
        with clock.travel(now - timedelta(days=(clock.today() - last_month).days)):
            reviews.log_contact(session, staff, case, contacted_on=clock.today(), way=ways[index % 3],
                                note=CONTACT_NOTES[index % len(CONTACT_NOTES)])
        if index < len(households) - 1 and case.stage == Stage.active:
            reviews.log_contact(session, staff, case, contacted_on=clock.today(), way=ways[(index + 1) % 3],
                                note=CONTACT_NOTES[(index + 1) % len(CONTACT_NOTES)])
            created += 1
        created += 1
    # A campaign of the first town, partly done.
    town = towns[0]
    town_user = _staff(session, town, Role.town_reviewer)
    if town_user is not None:
        campaign = reviews.open_campaign(session, town_user, title=f"{clock.today().year}年度全面入户核查",
                                         due_on=clock.today() + timedelta(days=30))
        created += 1
        view = reviews.progress(session, town_user, campaign)
        for item in view.households[: max(1, len(view.households) // 2)]:
            staff = staff_of(item.case)
            if staff is not None:
                reviews.record_check(session, staff, campaign, item.case_id,
                                     findings="入户核查：家庭成员、收入、住房与档案一致，继续保障。")
                created += 1
    # A pending 提标: a county standard that took effect on the first of this month.
    start = entitlement.month_start(clock.today())
    if session.scalar(select(Standard.id).where(Standard.region_id == county.id, Standard.effective_from == start)) \
            is None:
        entitlement.set_standard(session, admin, region=county, amount=Decimal("800.00"), effective_from=start,
                                 note="阳光县民政局〔2026〕31号（提标）")
        created += 1
    created += len(raises.detect(session))
    session.flush()
    return created
