"""Demo step (issue 14): announcements, the county's standing documents, and online applications (one waiting,
one returned with 一次性告知) — found by their titles and keys before they are created."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import announcements, applications, clock
from dibao.demo import people
from dibao.models import Level, Region, Role, User
from dibao.models.announcement import Announcement, AnnouncementKind
from dibao.models.application import Application

ANNOUNCEMENTS = [
    # (where: "county" | "first", title, body, ticker, days before today it started, days it runs)
    ("county", "关于提高城乡居民最低生活保障标准的通知",
     "经县人民政府研究决定，自下月 1 日起，城乡低保标准由每人每月 800 元提高到每人每月 860 元。\n\n"
     "已享受低保的家庭不需要重新申请，保障金额由民政部门按新标准重新核定，并书面告知。",
     "低保标准下月起提高到每人每月 860 元，在保家庭无需重新申请", 3, 30),
    ("first", "本周六上午入户调查安排",
     "本周六上午 9 点起，社区低保专干和评议小组成员将对新申请家庭入户调查，请申请家庭留人在家，"
     "并准备好户口簿、身份证和收入证明。", "本周六上午入户调查，请申请家庭留人在家", 1, 6),
]
DOCUMENTS = [
    ("plan", "阳光县城乡居民最低生活保障实施方案", "第一章 总则\n\n为规范城乡低保工作，根据《最低生活保障审核确认办法》，结合本县实际，制定本方案。\n\n"
     "第二章 申请和受理\n\n申请低保可以书面或网上提出；材料不齐全的，一次性告知需要补齐的全部材料。"),
    ("rule", "低保经办人员及村（居）委会成员近亲属备案制度",
     "经办人员和村（居）委会成员的近亲属申请低保的，应当如实申报，单独登记备案，并由县民政局入户调查。"),
    ("form", "低保申请书和家庭经济状况核对授权书（样表）",
     "申请人可以到社区（村）领取纸质表格，也可以在网上直接申请。授权书须由全体成年家庭成员签字。"),
]
KEY = "demo-application-{n}"


def seed_residents(session: Session, county: Region, seed: int = 2026) -> int:
    """Returns the number of records created (0 on a second run)."""
    created = 0
    admin = session.scalar(select(User).where(User.role == Role.admin).order_by(User.id))
    first = session.scalar(select(Region).where(Region.level == Level.community,
                                                Region.path.startswith(county.path)).order_by(Region.path))
    if admin is None or first is None:
        return 0
    today = clock.today()
    titles = set(session.scalars(select(Announcement.title)))
    for where, title, body, ticker, ago, days in ANNOUNCEMENTS:
        if title in titles:
            continue
        start = today - timedelta(days=ago)
        announcements.publish(session, admin, kind=AnnouncementKind.announcement,
                              region=county if where == "county" else first,
                              fields=announcements.Fields(title=title, body=body, ticker=ticker, starts_on=start,
                                                          ends_on=start + timedelta(days=days)),
                              media_dir="")
        created += 1
    for category, title, body in DOCUMENTS:
        if title in titles:
            continue
        announcements.publish(session, admin, kind=AnnouncementKind.document, region=county,
                              fields=announcements.Fields(title=title, body=body, starts_on=date(today.year, 1, 1),
                                                          ends_on=None, category=category), media_dir="")
        created += 1
    if session.scalar(select(Application.id).where(Application.idempotency_key.like("demo-application-%"))):
        return created
    rng = random.Random(seed + 14)
    staff = session.scalar(select(User).where(User.region_id == first.id, User.role == Role.community_staff))
    for n, (name, reason, returned) in enumerate([
        ("韩桂兰", "老伴去年去世，我今年七十一岁，一个人生活，只有每月两百多元的养老金，看病花销大。", False),
        ("邵建军", "去年工伤后不能干重活，妻子照顾两个上学的孩子，全家靠打零工，每月收入一千元左右。", True),
    ]):
        birth = date(1955 + 14 * n, 3 + n, 9 + n)
        inp = applications.ApplicationInput(
            region_code=first.code, head_name=name, head_id_number=people.id_number(rng, birth),
            head_phone=people.mobile(rng), address=f"{first.name}幸福路 {18 + n} 号", reason=reason,
            head_work_capacity="partial", check_consent=True, idempotency_key=KEY.format(n=n))
        application = applications.submit(session, inp, media_dir="").application
        created += 1
        if returned and staff is not None:
            applications.return_application(session, staff, application, items=[
                str(applications.COMMON_MISSING[1]), str(applications.COMMON_MISSING[2]), "工伤认定书或病历"],
                note="材料可以拍照后重新在网上申请时上传，也可以送到社区办公室。")
    session.flush()
    return created
