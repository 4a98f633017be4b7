"""Demo step of issue 10 (items 6–10): asset limits for the county, assets and a completed verification (核对) on
the approved households, a transferred household, a standing review panel in every community with a meeting and a
question (质询), and the written notices (文书) of the decisions with their delivery. Safe to run twice.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import assets, clock, documents, household, panel
from dibao.models import Case, Level, Region, Role, Stage, User
from dibao.models.household import (
    AssetKind,
    DeliveryWay,
    DocumentKind,
    MemberChangeKind,
    PanelMember,
    PanelRole,
    TransferKind,
    VerificationResult,
)

AGENCIES = ["不动产登记中心", "公安局交警大队（车辆）", "人民银行（存款）", "市场监管局（工商登记）", "人社局（社保）"]


def verify(session: Session, actor: User, case: Case) -> None:
    """The verification every approved demo household had before the county approved it."""
    verification = assets.request_verification(session, actor, case, requested_on=clock.today(),
                                               authorised_on=clock.today(), agencies=AGENCIES)
    assets.record_result(session, actor, case, verification.id, result=VerificationResult.consistent,
                         result_on=clock.today(), findings="经县级核对机构核对，未发现住房、车辆、存款、工商登记等方面与申报不一致的情况。")


def seed_household(session: Session, county: Region, seed: int) -> int:
    """Issue 10's demo: limits, assets, a 返贫 flag, a transferred household, a birth, a panel per community with a
    meeting and a question, 文书 with their delivery. Returns the number of records made (0 on a second run)."""
    communities = [c for t in county.children if t.level == Level.town for c in t.children]
    if not communities or session.scalar(select(PanelMember.id).where(
            PanelMember.region_id.in_([c.id for c in communities])).limit(1)):
        return 0
    admin = session.scalar(select(User).where(User.role == Role.admin, User.region_id == county.id))
    county_user = session.scalar(select(User).where(User.role == Role.county_approver, User.region_id == county.id))
    if admin is None or county_user is None:
        return 0
    fake = Faker("zh_CN")
    fake.seed_instance(seed + 10)
    rng = random.Random(seed + 10)
    created = 0
    assets.set_limits(session, admin, county, housing_units=1, housing_area_per_person=Decimal("40.00"), vehicles=0,
                      deposits_per_person=Decimal("9360.00"), business_allowed=False)
    created += 1
    all_cases = list(session.scalars(select(Case).where(Case.region_id.in_([c.id for c in communities]))
                                     .order_by(Case.id)))

    # Assets on every approved household: the flat they live in and a small deposit.
    for case in all_cases:
        if case.stage not in (Stage.active, Stage.awaiting_county_notice, Stage.county_notice):
            continue
        staff = _staff(session, case.region, Role.community_staff)
        assets.add_asset(session, staff, case, kind=AssetKind.housing, description="自有住房（唯一住所）", units=1,
                         area=Decimal(rng.choice([38, 45, 52, 60])))
        assets.add_asset(session, staff, case, kind=AssetKind.deposit, description="银行活期存款",
                         value=Decimal(rng.choice([800, 1500, 3200, 5000])))
        created += 2

    # The seed's 返贫 case: waiting for the county, a car and income below the standard — flagged, not refused.
    waiting = [c for c in all_cases if c.stage == Stage.county_approval and not c.close_relative_of_staff]
    if waiting:
        case = waiting[0]
        town = _staff(session, case.region.parent, Role.town_reviewer)
        assets.add_asset(session, _staff(session, case.region, Role.community_staff), case, kind=AssetKind.vehicle,
                         description="二手面包车（2009 年注册，户主残疾后用于出行）", units=1)
        verify(session, town, case)
        created += 3

    active = [c for c in all_cases if c.stage == Stage.active]
    # 文书: the approval notices of the active households, delivered; a refusal and an exit notice.
    for case in active:
        document = documents.issue(session, county_user, case, DocumentKind.approval)
        staff = _staff(session, case.region, Role.community_staff)
        documents.record_delivery(session, staff, document, delivered_on=clock.today(), way=DeliveryWay.in_person,
                                  recipient=case.head_name, delivered_by=staff.display_name)
        created += 2
    for stage, kind in ((Stage.rejected, DocumentKind.rejection), (Stage.exited, DocumentKind.exit)):
        case = next((c for c in all_cases if c.stage == stage), None)
        if case is not None:
            documents.issue(session, county_user, case, kind)
            created += 1

    # A birth in one household, and a household moved to another town's community (拆迁安置).
    if len(active) >= 2:
        birth = active[0]
        household.member_joins(session, _staff(session, birth.region, Role.community_staff), birth,
                               kind=MemberChangeKind.birth, happened_on=clock.today(), reason="出生医学证明已核验",
                               name=fake.name(), relation="孙子女", age=0)
        moved = active[1]
        target = next(c for c in communities if c.parent_id != moved.region.parent_id)
        household.transfer(session, county_user, moved, to_region_id=target.id, kind=TransferKind.demolition,
                           moved_on=clock.today(), reason=f"{moved.region.name}旧城改造拆迁，安置到{target.name}",
                           address=f"{target.name}安置小区{rng.randint(1, 9)}栋{rng.randint(1, 6)}0{rng.randint(1, 4)}室",
                           public_address=f"{target.name}安置小区")
        created += 2

    # A standing panel in every community, one meeting convened from it, and a question on one household.
    roles = [PanelRole.npc_deputy, PanelRole.cppcc_member, PanelRole.resident, PanelRole.resident,
             PanelRole.recipient, PanelRole.staff]
    start = date(clock.today().year, 1, 1)
    for community in communities:
        staff = _staff(session, community, Role.community_staff)
        members = []
        for role in roles:
            name = staff.display_name if role == PanelRole.staff else fake.name()
            if any(m.name == name for m in members):
                continue
            members.append(panel.add_member(session, staff, community, name=name, role=role, term_start=start,
                                            term_end=date(start.year + 2, 12, 31)))
        meeting = panel.convene(session, staff, community, held_on=clock.today(), location=f"{community.name}党群服务中心",
                                member_ids=[m.id for m in members[2:]], attendee_ids=[m.id for m in members[:2]],
                                other_attendees=[f"{community.parent.name}民政办 {fake.name()}"])
        created += len(members) + 1
        case = next((c for c in all_cases if c.region_id == community.id and c.stage != Stage.applied), None)
        if case is not None:
            panel.add_question(session, staff, case, meeting_id=meeting.id, asked_by=members[0].name,
                               question="申请人子女在外务工，收入是否已如实计入家庭收入？",
                               answer="已按务工单位出具的收入证明每月计入，入户调查时邻居也予以证实。",
                               answered_by=staff.display_name)
            created += 1
    session.flush()
    return created


def _staff(session: Session, region: Region, role: Role) -> User | None:
    return session.scalar(select(User).where(User.region_id == region.id, User.role == role).order_by(User.id))
