"""Arrange data directly (bypassing the workflow) for tests that are about something else.

Tests of the workflow itself go through dibao.workflow; these factories only build a starting point.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from sqlalchemy.orm import Session

from dibao import cases, clock
from dibao.models import Case, Decision, Level, Member, MemberIncome, Opinion, Region, Stage, WorkCapacity

_seq = itertools.count(1)
_LEVEL_NAMES = {Level.community: "经民主评议，社区", Level.town: "经复查，乡镇", Level.county: "经审核，县民政局"}


def make_case(
    session: Session,
    region: Region,
    *,
    stage: Stage = Stage.applied,
    head_name: str = "王小明",
    id_number: str = "110101195003071234",
    phone: str = "13812345678",
    address: str | None = None,
    members: int = 3,
    income: Decimal = Decimal("300.00"),
    amount: Decimal | None = Decimal("1290.00"),
    opinion_levels: tuple[Level, ...] = (),
    photo_key: str | None = None,
    photo_consent: bool = False,
) -> Case:
    """A case in ``stage`` with ``members`` members and a signed approving opinion at each given level."""
    n = next(_seq)
    now = clock.now()
    case = Case(
        number=cases._next_number(session, region), region=region, stage=stage, stage_changed_at=now,
        head_name=head_name, head_id_number=id_number, head_phone=phone,
        address=address or f"{region.name}幸福路{n}号{n % 5 + 1}单元{n % 7 + 1}01室",
        public_address=f"{region.name}幸福路{n}号", category=1, photo_key=photo_key, photo_consent=photo_consent,
        household_income=income, computed_amount=amount, monthly_amount=amount,
        accepted_at=now, created_at=now, updated_at=now,
    )
    session.add(case)
    for i in range(members):
        member = Member(case=case, position=i, name=head_name if i == 0 else f"{head_name[0]}家{i}",
                        relation="本人" if i == 0 else "家属", age=40 + i, id_number=None if i else id_number,
                        health="", work_capacity=WorkCapacity.partial, monthly_deduction=Decimal("0"))
        session.add(member)
        if i == 0 and income:
            session.add(MemberIncome(member=member, source="wage", monthly_amount=income))
    for level in opinion_levels:
        session.add(Opinion(case=case, level=level, decision=Decision.approve, text=f"{_LEVEL_NAMES[level]}同意纳入低保。",
                            author_name="测试签名人", created_at=now))
    session.flush()
    return case


AWAITING = {Level.community: Stage.awaiting_community_notice, Level.town: Stage.awaiting_town_notice,
            Level.county: Stage.awaiting_county_notice}


def case_awaiting_notice(session: Session, region: Region, level: Level = Level.town, **kwargs) -> Case:
    levels = tuple(lv for lv in (Level.community, Level.town, Level.county)
                   if list(Level).index(lv) <= list(Level).index(level))
    return make_case(session, region, stage=AWAITING[level], opinion_levels=levels, **kwargs)


def tiny_pdf(text: str = "证明") -> bytes:
    """A real one-page PDF (uploads are re-written by pikepdf, so a made-up header no longer passes)."""
    import io

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Title"] = text
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()
