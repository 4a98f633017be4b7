"""Demo step for issue 5: a few objections and reports in every state, filed and handled through the domain.

Safe to run twice: every demo submission carries a fixed idempotency key, so a second run finds them.
"""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import feedback, notices
from dibao.models import Objection, Region, Report, Stage, User
from dibao.models.case import Case
from dibao.models.region import Level

KEY = "demo-feedback-{n:02d}-sunshine"

OBJECTIONS = [
    # (category, description, name, phone, what staff do: None | "check" | "not_upheld")
    ("income_hidden", "他家儿子在县城开出租车，每月收入不少，公示的家庭收入偏低。", "", "", None),
    ("property", "这户在镇上还有一套门面房出租，没有申报。", "李桂兰", "13905551234", "check"),
    ("favouritism", "听说户主是村干部的亲戚，担心是关系保。", "", "", "not_upheld"),
]
REPORTS = [
    ("staff", "other", "社区窗口工作人员让我跑了三趟才受理，材料一次没有说清楚。", "社区服务窗口", "", "", "decide"),
    ("recipient", "household", "这户的女儿已经出嫁多年，户口还在，实际不在家住。", None, "王建华", "13600004321", None),
]


def _staff_for(session: Session, region: Region) -> User | None:
    """The account at ``region`` or the nearest level above it."""
    while region is not None:
        user = session.scalar(select(User).where(User.region_id == region.id, User.active.is_(True))
                              .order_by(User.id).limit(1))
        if user is not None:
            return user
        region = region.parent
    return None


def seed_feedback(session: Session, county: Region, seed: int = 2026) -> int:
    """Returns the number of records created (0 on a second run)."""
    if session.scalar(select(Objection.id).where(Objection.idempotency_key.like("demo-feedback-%")).limit(1)) or \
            session.scalar(select(Report.id).where(Report.idempotency_key.like("demo-feedback-%")).limit(1)):
        return 0
    rng = random.Random(seed + 5)
    created = 0
    entries = notices.open_entries(session, county)
    rng.shuffle(entries)
    picked, seen = [], set()
    for entry in entries:  # different households, preferably different communities
        if entry.region_id not in seen and entry.case.stage != Stage.investigating:
            picked.append(entry)
            seen.add(entry.region_id)
    for n, (entry, (category, text, name, phone, action)) in enumerate(zip(picked, OBJECTIONS, strict=False)):
        sub = feedback.Submission(category=category, description=text, name=name, phone=phone,
                                  idempotency_key=KEY.format(n=n))
        objection = feedback.submit_objection(session, entry.public_id, sub, media_dir="").item
        created += 1
        staff = _staff_for(session, entry.batch.region)
        if action and staff is not None:
            feedback.record_check(session, staff, objection, "已与户主及邻居核实，查看了不动产登记信息。")
            if action == "not_upheld":
                feedback.decide(session, staff, objection, "not_upheld",
                                "经入户核查和走访邻居，该户与村干部无亲属关系，评议程序符合规定，异议不成立。")
    towns = [r for r in county.children if r.level == Level.town]
    communities = [c for t in towns for c in t.children]
    if not communities:
        return created
    active = session.scalar(select(Case).where(Case.stage == Stage.active).order_by(Case.id).limit(1))
    for n, (subject, category, text, about, name, phone, action) in enumerate(REPORTS, start=10):
        community = active.region if (subject == "recipient" and active is not None) else rng.choice(communities)
        sub = feedback.Submission(category=category, description=text, name=name, phone=phone,
                                  idempotency_key=KEY.format(n=n))
        report = feedback.submit_report(
            session, sub, subject=subject, region_code=community.code,
            case_number=active.number if (subject == "recipient" and active is not None) else None,
            about=about or (None if active is not None else "名单上的一户（姓名不详）"), media_dir="").item
        created += 1
        town_user = _staff_for(session, community.parent) if community.parent else None
        if action == "decide" and town_user is not None:
            feedback.decide(session, town_user, report, "upheld",
                            "情况属实。已对该工作人员进行批评教育，并在窗口公示一次性告知清单。")
    session.flush()
    return created
