"""Demo step of issue 4: open notice boards at all three levels, some closing within the hour, and a history
of closed ones (whose county round put households on the standing roster). Safe to run twice.

Households waiting for a notice are taken from the case demo when it made some; otherwise demo households
are created here directly in the "awaiting notice" stages, each with its signed opinions (arranged data, as
in tests/factories.py — the case workflow itself is exercised by the case demo and the tests).
"""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta
from decimal import Decimal

from faker import Faker
from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import clock, entitlement, notices, workflow
from dibao.demo import people
from dibao.models import (
    AmountChange,
    Case,
    Decision,
    Level,
    Member,
    MemberIncome,
    NoticeBatch,
    Opinion,
    Region,
    User,
    WorkCapacity,
)

DEMO_STANDARD = Decimal("780.00")  # yuan per person per month, used only to give demo households an amount
OPINIONS = {
    Level.community: "经入户调查和民主评议，家庭人均收入低于当地低保标准，同意纳入低保，报乡镇审核。",
    Level.town: "经复查，申报情况属实，乡镇会议研究同意，报县民政局审批。",
    Level.county: "经审核，符合城市居民最低生活保障条件，批准纳入低保。",
}
AUTHORS = {Level.community: "社区评议小组", Level.town: "乡镇审核组", Level.county: "县民政局"}




def _photo(rng: random.Random) -> str | None:
    if not has_app_context():
        return None
    from PIL import Image, ImageDraw

    from dibao import media

    img = Image.new("RGB", (240, 320), (rng.randint(170, 230), rng.randint(170, 230), rng.randint(170, 230)))
    draw = ImageDraw.Draw(img)
    draw.ellipse((70, 50, 170, 150), fill=(90, 90, 90))
    draw.rectangle((45, 170, 195, 320), fill=(90, 90, 90))
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    return media.store_image(buf.getvalue(), current_app.config["MEDIA_DIR"]).key


def _household(session: Session, fake: Faker, rng: random.Random, community: Region, level: Level,
               number: str, at: datetime) -> Case:
    size = rng.choice([1, 2, 2, 3, 3, 4])
    income = Decimal(rng.choice([0, 0, 300, 450, 600, 800, 1000]))
    amount = max(Decimal("0"), (DEMO_STANDARD - income / size) * size).quantize(Decimal("0.01"))
    street, no, building = fake.street_name(), rng.randint(1, 120), rng.randint(1, 12)
    consent = rng.random() < 0.3
    head = fake.name()
    case = Case(
        number=number, region=community, stage=workflow.AWAITING_NOTICE[level], stage_changed_at=at,
        head_name=head, head_id_number=people.id_number(fake.random, fake.date_of_birth(minimum_age=20, maximum_age=85)), head_phone=people.mobile(fake.random),
        address=f"{community.name}{street}{no}号{building}栋{rng.randint(1, 4)}单元{rng.randint(1, 6)}0{rng.randint(1, 4)}室",
        public_address=f"{community.name}{street}{no}号{building}栋", category=rng.randint(1, 4),
        photo_key=_photo(rng) if consent else None, photo_consent=consent, photo_consent_at=at if consent else None,
        household_income=income, computed_amount=amount, monthly_amount=amount,
        accepted_at=at - timedelta(days=20), created_at=at - timedelta(days=20), updated_at=at,
    )
    session.add(case)
    relations = ["本人", "配偶", "子女", "父母"]
    for i in range(size):
        member = Member(case=case, position=i, name=head if i == 0 else fake.name(), relation=relations[i],
                        age=rng.randint(8, 80), id_number=case.head_id_number if i == 0 else None,
                        health="", work_capacity=rng.choice(list(WorkCapacity)), monthly_deduction=Decimal("0"),
                        deduction_note="")
        session.add(member)
        if i == 0 and income:
            session.add(MemberIncome(member=member, source="wage", monthly_amount=income, note=""))
    for lv in (Level.community, Level.town, Level.county)[: list(Level).index(level) + 1]:
        session.add(Opinion(case=case, level=lv, decision=Decision.approve, text=OPINIONS[lv],
                            author_name=AUTHORS[lv], created_at=at - timedelta(days=1)))
    session.flush()
    if level == Level.county:
        # Approved by the county the day before, as workflow.record_county_decision leaves a household: its payment
        # start, review date and first amount period, so once its notice closes it is paid, reviewed and raised
        # like any other (without them the demo's roster, payment runs and 提标 disagreed on who is in payment).
        approved = at - timedelta(days=1)
        day = clock.to_local(approved).date()
        case.approved_at = approved
        case.payment_start = entitlement.next_month(day)
        case.next_review_due = workflow.add_months(day, workflow.REVIEW_MONTHS.get(case.category, 12))
        entitlement.start_period(session, None, case, amount=amount, starts_on=case.payment_start,
                                 change=AmountChange.approved, reason=OPINIONS[Level.county])
    return case


def seed_notices(session: Session, county: Region, seed: int = 2026) -> int:
    """Returns the number of records created (0 on a second run)."""
    towns = [r for r in county.children if r.level == Level.town]
    if not towns:
        return 0
    codes = [county.code] + [t.code for t in towns]
    if session.scalar(select(NoticeBatch.id).join(NoticeBatch.region).where(Region.code.in_(
            codes + [c.code for t in towns for c in t.children])).limit(1)) is not None:
        return 0
    fake = Faker("zh_CN")
    fake.seed_instance(seed + 4)
    rng = random.Random(seed + 4)
    users = {u.region_id: u for u in session.scalars(select(User).order_by(User.id))}
    county_user = users.get(county.id)
    now = clock.now()
    created = 0
    serial = 0

    def households(community: Region, level: Level, n: int, at: datetime) -> list[Case]:
        nonlocal serial, created
        waiting = list(session.scalars(select(Case).where(
            Case.region_id == community.id, Case.stage == workflow.AWAITING_NOTICE[level]).limit(n)))
        while len(waiting) < n:
            serial += 1
            waiting.append(_household(session, fake, rng, community, level, f"{community.code}-D4-{serial:04d}", at))
            created += 1
        return waiting

    def publish(actor: User | None, level: Level, region: Region, cases: list[Case], title: str, opens: datetime):
        nonlocal created
        with clock.travel(opens):
            batch = notices.publish_batch(session, actor, level=level, region=region, cases=cases, title=title,
                                          window_days=7)
        created += 1 + len(cases)
        return batch

    def date_text(at: datetime) -> str:
        local = clock.to_local(at)
        return f"{local.year}年{local.month}月{local.day}日"

    # History: closed boards 40 and 20 days ago at each level; the sweep records them and moves cases on.
    closed = []
    for days_ago in (40, 20):
        opens = now - timedelta(days=days_ago)
        town = towns[days_ago // 20 % len(towns)]
        community = town.children[0]
        closed.append(publish(users.get(community.id), Level.community, community,
                              households(community, Level.community, 4, opens),
                              f"{community.name}低保社区初审公示（{date_text(opens)}）", opens))
        closed.append(publish(users.get(town.id), Level.town, town, households(community, Level.town, 3, opens),
                              f"{town.name}低保乡镇审核公示（{date_text(opens)}）", opens))
        mixed = [c for t in towns for c in households(t.children[-1], Level.county, 2, opens)]
        closed.append(publish(county_user, Level.county, county, mixed,
                              f"{county.name}低保审批结果公示（{date_text(opens)}）", opens))
    for batch in closed:
        notices.close_batch(session, batch.id, now)

    # Open boards: community notices in two communities of every town (one town's closes within the hour),
    # a town notice in every town, and one county notice.
    for t_index, town in enumerate(towns):
        for c_index, community in enumerate(town.children[:2]):
            if t_index == 0 and c_index == 0:
                opens = now - timedelta(days=7) + timedelta(minutes=40)  # closes in 40 minutes
            else:
                opens = now - timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 20))
            publish(users.get(community.id), Level.community, community,
                    households(community, Level.community, 5, opens),
                    f"{community.name}低保社区初审公示（{date_text(opens)}）", opens)
        opens = now - timedelta(days=6, hours=23, minutes=20) if t_index == 1 else now - timedelta(days=2 + t_index)
        cases = [c for community in town.children[:3] for c in households(community, Level.town, 2, opens)]
        publish(users.get(town.id), Level.town, town, cases, f"{town.name}低保乡镇审核公示（{date_text(opens)}）", opens)
    opens = now - timedelta(days=3)
    cases = [c for t in towns for c in households(t.children[1], Level.county, 2, opens)]
    publish(county_user, Level.county, county, cases, f"{county.name}低保审批结果公示（{date_text(opens)}）", opens)
    # One board scheduled for tomorrow morning (visible to staff only until then).
    tomorrow = clock.local_midnight(clock.today() + timedelta(days=1)) + timedelta(hours=9)
    community = towns[-1].children[-1]
    cases = households(community, Level.community, 3, now)
    notices.publish_batch(session, users.get(community.id), level=Level.community, region=community, cases=cases,
                          title=f"{community.name}低保社区初审公示（{date_text(tomorrow)}）", window_days=7,
                          opens_at=tomorrow)
    created += 1 + len(cases)
    session.flush()
    return created
