"""Demo step of issue 3: about sixty households spread over every stage of the workflow, in every
community, with members, incomes, home visits, review and town meetings, signed opinions, checks and
the county's standard (780 yuan/person/month from 2026-01-01). Safe to run twice (skips when cases exist).

Every step goes through the real domain functions (dibao.cases, dibao.workflow), with the clock set back
so that deadlines and the timeline look lived-in. The one thing arranged directly is the passage of a
notice round: notices are issue 4's demo (it publishes the many cases left here in the three "awaiting
notice" stages), so a case that is further along simply moves to the stage after its round, without
inventing a notice board that never existed.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import cases, clock, entitlement, workflow
from dibao.demo import household as household_demo
from dibao.demo import people
from dibao.models import Case, Decision, Level, Region, Role, Stage, User, WorkCapacity
from dibao.models.records import Standard

STANDARD = Decimal("780.00")

# (target stage, how many) — about sixty households, with plenty waiting for each notice round.
PLAN = [
    (Stage.applied, 5), (Stage.investigating, 4), (Stage.community_review, 4),
    (Stage.awaiting_community_notice, 10), (Stage.town_review, 3), (Stage.town_decision, 3),
    (Stage.awaiting_town_notice, 8), (Stage.county_approval, 4), (Stage.awaiting_county_notice, 8),
    (Stage.active, 6), (Stage.rejected, 3), (Stage.exited, 2),
]
ORDER = [Stage.applied, Stage.investigating, Stage.community_review, Stage.awaiting_community_notice,
         Stage.town_review, Stage.town_decision, Stage.awaiting_town_notice, Stage.county_approval,
         Stage.awaiting_county_notice, Stage.active]
REJECT_REASONS = ["家庭人均收入超过当地低保标准", "家庭拥有机动车辆（非残疾人功能性补偿代步车）", "申请人隐瞒经营性收入，经核实不符合条件"]
HOUSING = ["老旧平房两间，屋顶漏雨，家具陈旧，无大件电器", "单元房一套（约 45 平方米），家电简单，无汽车",
           "租住公租房一间，生活用品简单，消费水平低"]
INQUIRY = ["户主患慢性病，长期服药，无固定工作；配偶打零工", "户主残疾，无劳动能力；子女在读书",
           "夫妻均已退休，退休金较低，一人患重病"]
STATEMENTS = ["家里确实困难，平时很节省", "老两口身体不好，常去医院", "没见他们家有车，也没做生意", "情况属实"]




def _staff(session: Session, region: Region, role: Role) -> User | None:
    return session.scalar(select(User).where(User.region_id == region.id, User.role == role).order_by(User.id))


def seed_cases(session: Session, fake: Faker, rng: random.Random, county: Region) -> int:
    """Returns the number of cases created (0 when the county already has cases)."""
    communities = [c for t in county.children if t.level == Level.town for c in t.children]
    if not communities:
        return 0
    if session.scalar(select(Case.id).where(Case.region_id.in_([c.id for c in communities])).limit(1)):
        return 0
    admin = session.scalar(select(User).where(User.role == Role.admin, User.region_id == county.id))
    county_user = _staff(session, county, Role.county_approver)
    if admin is None or county_user is None:
        return 0
    now = clock.now()
    if session.scalar(select(Standard.id).where(Standard.region_id == county.id).limit(1)) is None:
        with clock.travel(now - timedelta(days=330)):
            entitlement.set_standard(session, admin, region=county, amount=STANDARD,
                                     effective_from=date(2026, 1, 1), note="阳光县民政局〔2025〕58号")
        following = date(clock.today().year + 1, 1, 1)
        entitlement.set_standard(session, admin, region=county, amount=Decimal("810.00"),
                                 effective_from=following, note="阳光县民政局（拟）新标准")

    targets = [stage for stage, n in PLAN for _ in range(n)]
    created = 0
    for index, target in enumerate(targets):
        community = communities[index % len(communities)]
        _one(session, fake, rng, community, target, index, county_user, now)
        created += 1
    session.flush()
    return created


def _one(session, fake, rng, community, target, index, county_user, now) -> Case:
    staff = _staff(session, community, Role.community_staff)
    town = _staff(session, community.parent, Role.town_reviewer)
    # How long ago the application was accepted: recent for early stages, older for later ones.
    depth = ORDER.index(target) if target in ORDER else rng.randint(2, 8)
    if target == Stage.exited:
        depth = 14
    days_ago = 1 + depth * 3 + rng.randint(0, 3)
    if target == Stage.applied and index % 2 == 0:
        days_ago = 9  # two or three applications are late for their home visit
    t = now - timedelta(days=days_ago, hours=rng.randint(0, 5))

    def step(days: float = 1.5) -> datetime:
        nonlocal t
        t = min(t + timedelta(days=days, hours=rng.randint(0, 6)), now - timedelta(minutes=5))
        return t

    birth = date(rng.randint(1940, 1985), rng.randint(1, 12), rng.randint(1, 28))
    head = fake.name()
    size = rng.choice([1, 2, 2, 3, 3, 4])
    street, no = fake.street_name(), rng.randint(1, 120)
    with clock.travel(t):
        case = cases.register_case(
            session, staff, head_name=head, head_id_number=people.id_number(rng, birth), head_phone=people.mobile(fake.random),
            address=f"{community.name}{street}{no}号{rng.randint(1, 12)}栋{rng.randint(1, 6)}0{rng.randint(1, 4)}室",
            public_address=f"{community.name}{street}{no}号", category=rng.choice([1, 1, 2, 2, 3, 4]),
            close_relative_of_staff=index % 17 == 5,
            no_income_no_capacity_no_supporter=size == 1 and index % 3 == 0,
            head_age=clock.today().year - birth.year,
            head_health=rng.choice(["健康", "高血压", "糖尿病", "腿部残疾（三级）", "慢性肾病"]),
            head_work_capacity=rng.choice(list(WorkCapacity)))
        if index % 11 == 7:  # a special case (45 working days) is the county's to decide, with a reason
            cases.update_flags(session, county_user, case, close_relative_of_staff=case.close_relative_of_staff,
                               special_case=True, reason="家庭成员多人患病，收入核实复杂，需延长办理时限。")
        relations = ["配偶", "子女", "父母"]
        for i in range(1, size):
            cases.add_member(session, staff, case, name=fake.name(), relation=relations[(i - 1) % 3],
                             age=rng.randint(6, 85), id_number=None, health="",
                             work_capacity=rng.choice(list(WorkCapacity)),
                             deduction=Decimal("150.00") if i == 1 and index % 5 == 0 else None,
                             deduction_note="慢性病门诊自付医疗费" if i == 1 and index % 5 == 0 else "")
        if not case.no_income_no_capacity_no_supporter:
            wage = Decimal(rng.choice([0, 300, 450, 600] + ([800, 1000, 1200] if size > 1 else [])))
            if target == Stage.rejected and index % 2 == 0:
                wage = Decimal("2600")
            if wage:
                cases.add_income(session, staff, case, case.members[0].id, source=rng.choice(
                    ["wage", "pension", "business"]), amount=wage)
            if index % 4 == 1:
                cases.add_income(session, staff, case, case.members[-1].id, source="award",
                                 amount=Decimal("200.00"), note="学校奖学金（不计入收入）")
    if target == Stage.applied:
        return case

    with clock.travel(step(1)):
        _visit(session, rng, fake, staff, case)
    if target == Stage.rejected and index % 3 == 0:
        with clock.travel(step()):
            workflow.reject(session, staff, case, REJECT_REASONS[index % 3])
        return case
    if target == Stage.investigating:
        return case
    with clock.travel(step()):
        workflow.submit_for_review(session, staff, case)
    if target == Stage.community_review:
        return case
    panel = list(dict.fromkeys(fake.name() for _ in range(7)))
    against = rng.randint(0, 1)
    if target == Stage.rejected and entitlement.compute_for(session, case).amount == 0:
        # Income at or above the standard: the panel cannot approve it (no public "同意" for an amount of 0).
        with clock.travel(step(2)):
            workflow.record_community_review(
                session, staff, case, decision=Decision.reject, opinion="经民主评议，家庭人均收入高于当地低保标准，不同意。",
                votes_for=against, votes_against=len(panel) - against, votes_abstain=0, held_on=clock.today(),
                location=f"{community.name}党群服务中心", panel=panel,
                attendees=[f"{community.parent.name}民政办 {fake.name()}"], levels=workflow.ALL_LEVELS)
        return case
    with clock.travel(step(2)):
        workflow.record_community_review(
            session, staff, case, decision=Decision.approve, opinion="经民主评议，家庭人均收入低于当地低保标准，同意上报乡镇审核。",
            votes_for=len(panel) - against, votes_against=against, votes_abstain=0, held_on=clock.today(),
            location=f"{community.name}党群服务中心", panel=panel,
            attendees=[f"{community.parent.name}民政办 {fake.name()}"], levels=workflow.ALL_LEVELS)
    if target == Stage.awaiting_community_notice:
        return case
    _pass_notice(case, Level.community, step(8))
    if target == Stage.rejected:
        with clock.travel(step()):
            workflow.reject(session, town, case, REJECT_REASONS[index % 3])
        return case
    if target == Stage.town_review:
        return case
    with clock.travel(step()):
        workflow.record_town_check(session, town, case, "复查申请材料和入户调查记录，情况属实，材料齐全。")
    if target == Stage.town_decision:
        return case
    with clock.travel(step(2)):
        workflow.record_town_decision(
            session, town, case, held_on=clock.today(), title=f"{community.parent.name}党委会议",
            participants=[fake.name() for _ in range(5)], decision=Decision.approve,
            opinion="经乡镇党委会议研究，同意纳入低保，报县民政局审批。", levels=workflow.ALL_LEVELS)
    if target == Stage.awaiting_town_notice:
        return case
    _pass_notice(case, Level.town, step(8))
    if case.close_relative_of_staff:
        with clock.travel(step()):
            _visit(session, rng, fake, county_user, case)
    if target == Stage.county_approval:
        if index % 2 == 0:  # one of them has waited longer than the 10 working days
            case.stage_changed_at = now - timedelta(days=18)
        return case
    with clock.travel(step(1)):
        household_demo.verify(session, town, case)  # issue 10: the 核对 the county approval requires
    with clock.travel(step(3)):
        workflow.record_county_decision(session, county_user, case, decision=Decision.approve,
                                        opinion="经审核，符合最低生活保障条件，批准纳入低保。", levels=workflow.ALL_LEVELS)
    if target == Stage.awaiting_county_notice:
        return case
    _pass_notice(case, Level.county, step(8))
    if target == Stage.exited:
        with clock.travel(step(5)):
            workflow.exit_case(session, county_user, case, "家庭成员已稳定就业，家庭人均收入超过低保标准。")
    return case


def _pass_notice(case: Case, level: Level, at: datetime) -> None:
    """The notice round of the demo's history (see the module docstring): the case is where it would be."""
    case.stage = workflow.AFTER_LEVEL[level]
    case.stage_changed_at = at
    case.updated_at = at


def _visit(session, rng, fake, actor, case) -> None:
    county = actor.role == Role.county_approver
    investigators = [actor.display_name, f"{'县民政局' if county else case.region.name} {fake.name()}"]
    workflow.record_home_visit(
        session, actor, case, visited_on=clock.today(), housing=rng.choice(HOUSING), inquiry=rng.choice(INQUIRY),
        notes="调查人员与申请人共同核对家庭收入情况，申请人签字确认。", family_signed=True,
        investigators=investigators,
        neighbours=[workflow.Neighbour(fake.name(), f"邻居（{rng.randint(1, 12)}栋）", rng.choice(STATEMENTS))
                    for _ in range(3)])
