"""The records of a household's archive (一户一档): home visits, review meetings, checks, attachments,
and the regional standard (低保标准) the amount is computed from.

Every record carries the name of who made it (谁调查、谁负责), kept even if the account goes later.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.case import Case, Decision, Money
from dibao.models.enumtype import enum_column
from dibao.models.region import Region
from dibao.models.user import User


class HomeVisit(Base):
    """入户调查 (一看二问三走访): look at housing and consumption, ask about jobs, income and health,
    visit at least three neighbours; at least two investigators; notes (笔录) signed by the family."""

    __tablename__ = "home_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    visited_on: Mapped[date] = mapped_column(Date)
    housing: Mapped[str] = mapped_column(Text)  # 一看: housing, furnishings, consumption
    inquiry: Mapped[str] = mapped_column(Text)  # 二问: jobs, income, health
    notes: Mapped[str] = mapped_column(Text, default="")  # 笔录
    family_signed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the family did not sign the record (refused, could not): required when ``family_signed`` is False
    # (A 15–16; NULL on visits recorded before it was asked).
    unsigned_reason: Mapped[str | None] = mapped_column(Text)
    # Recorded by county staff: the county home visit that close-relative (近亲属) cases need.
    county_level: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
    investigators: Mapped[list[VisitInvestigator]] = relationship(
        back_populates="visit", cascade="all, delete-orphan", order_by="VisitInvestigator.position")
    neighbours: Mapped[list[NeighbourVisit]] = relationship(
        back_populates="visit", cascade="all, delete-orphan", order_by="NeighbourVisit.position")


class VisitInvestigator(Base):
    __tablename__ = "visit_investigator"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("home_visit.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(50))

    visit: Mapped[HomeVisit] = relationship(back_populates="investigators")


class NeighbourVisit(Base):
    """三走访: one neighbour (or villager, landlord, employer) asked about the household."""

    __tablename__ = "neighbour_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("home_visit.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(50))
    relation: Mapped[str] = mapped_column(String(100), default="")  # 关系或住址, e.g. 对门邻居 3栋201
    statement: Mapped[str] = mapped_column(Text)

    visit: Mapped[HomeVisit] = relationship(back_populates="neighbours")


class PersonKind(enum.StrEnum):
    panel = "panel"  # 评议小组成员
    attendee = "attendee"  # 列席人员


class ReviewMeeting(Base):
    """民主评议: the community review panel's meeting; it may discuss several households."""

    __tablename__ = "review_meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # the community
    held_on: Mapped[date] = mapped_column(Date)
    location: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped[Region] = relationship()
    people: Mapped[list[MeetingPerson]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="MeetingPerson.position")
    results: Mapped[list[ReviewResult]] = relationship(back_populates="meeting", order_by="ReviewResult.id")

    @property
    def panel(self) -> list[str]:
        return [p.name for p in self.people if p.kind == PersonKind.panel]

    @property
    def attendees(self) -> list[str]:
        return [p.name for p in self.people if p.kind == PersonKind.attendee]


class MeetingPerson(Base):
    __tablename__ = "meeting_person"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("review_meeting.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[PersonKind] = enum_column(PersonKind)
    name: Mapped[str] = mapped_column(String(50))

    meeting: Mapped[ReviewMeeting] = relationship(back_populates="people")


class ReviewResult(Base):
    """One household's result at a review meeting: the panel's opinion and the vote counts."""

    __tablename__ = "review_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("review_meeting.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    decision: Mapped[Decision] = enum_column(Decision)
    opinion: Mapped[str] = mapped_column(Text)
    votes_for: Mapped[int] = mapped_column(Integer)
    votes_against: Mapped[int] = mapped_column(Integer)
    votes_abstain: Mapped[int] = mapped_column(Integer, default=0)

    meeting: Mapped[ReviewMeeting] = relationship(back_populates="results")
    case: Mapped[Case] = relationship()


class TownMeeting(Base):
    """乡镇党委（办公）会议: the town meeting that studies the households and fixes the town opinion."""

    __tablename__ = "town_meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # the town
    held_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))  # e.g. 镇党委会议 2026年第5次
    participants: Mapped[str] = mapped_column(Text)  # one name a line
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped[Region] = relationship()
    results: Mapped[list[TownMeetingResult]] = relationship(back_populates="meeting",
                                                            order_by="TownMeetingResult.id")

    @property
    def participant_list(self) -> list[str]:
        return [line.strip() for line in self.participants.splitlines() if line.strip()]


class TownMeetingResult(Base):
    __tablename__ = "town_meeting_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("town_meeting.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    decision: Mapped[Decision] = enum_column(Decision)
    conclusion: Mapped[str] = mapped_column(Text)

    meeting: Mapped[TownMeeting] = relationship(back_populates="results")
    case: Mapped[Case] = relationship()


class RecordKind(enum.StrEnum):
    """What a written record in a household's archive is about (more kinds come with dynamic management)."""

    town_check = "town_check"  # 乡镇审核（复查）
    periodic_review = "periodic_review"  # 分类管理定期复核
    grace = "grace"  # 渐退期
    adjustment = "adjustment"  # 调整保障金额
    # dynamic management (issue 10, items 1–5)
    campaign_check = "campaign_check"  # 全面入户核查
    standard_raise = "standard_raise"  # 提标
    death = "death"  # 户主或成员死亡
    grace_end = "grace_end"  # 渐退期满，建议退保
    proposal_decided = "proposal_decided"  # 县级对建议的决定


class CaseRecord(Base):
    """A written record in the household's archive (一户一档): the town's re-check, a periodic review, the start of
    a grace period, an adjustment of the amount — what was found, what changed, and who wrote it."""

    __tablename__ = "case_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RecordKind] = enum_column(RecordKind)
    findings: Mapped[str] = mapped_column(Text)
    category_before: Mapped[int | None] = mapped_column(Integer)
    category_after: Mapped[int | None] = mapped_column(Integer)
    amount_before: Mapped[Decimal | None] = mapped_column(Money)
    amount_after: Mapped[Decimal | None] = mapped_column(Money)
    # A grace period's months as granted (the grants of one approval add up to at most 6, A 33).
    months: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    author_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StandardMethod(enum.StrEnum):
    """How a standard becomes a household's amount: the county's choice (REGULATIONS "Amount", A 23)."""

    gap = "gap"  # 差额: (standard − income per person) × household size
    tiered = "tiered"  # 分档: standard × the share of the household's tier × household size


class Standard(Base):
    """低保标准: yuan per person per month for a region (and its subtree) from an effective date, with the way the
    amount is calculated from it (差额 by default; 分档 with its tiers)."""

    __tablename__ = "dibao_standard"
    __table_args__ = (UniqueConstraint("region_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    monthly_amount: Mapped[Decimal] = mapped_column(Money)
    effective_from: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")  # e.g. the document that set it
    method: Mapped[StandardMethod] = enum_column(StandardMethod, default=StandardMethod.gap, server_default="gap")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped[Region] = relationship()
    created_by: Mapped[User | None] = relationship()
    tiers: Mapped[list[StandardTier]] = relationship(back_populates="standard", order_by="StandardTier.position",
                                                     cascade="all, delete-orphan")

    @property
    def tier_shares(self) -> list[tuple[str, int]]:
        """Each tier as (name, share %), in order (none under 差额)."""
        return [(tier.name, tier.share_percent) for tier in self.tiers]


class StandardTier(Base):
    """分档: one tier of a tiered standard — a name (一档, 二档…) and the share of the standard each person of a
    household in it gets. A household's tier is kept by name, so it still resolves under the next standard."""

    __tablename__ = "dibao_standard_tier"
    __table_args__ = (UniqueConstraint("standard_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("dibao_standard.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(20))
    share_percent: Mapped[int] = mapped_column(Integer)  # 1–100: % of the standard per person

    standard: Mapped[Standard] = relationship(back_populates="tiers")


class Attachment(Base):
    """材料: a file attached to a case (application form, ID copies, certificates, signed records): image or PDF.
    (A written notice to the family, 文书, is a ``Document`` in the glossary's sense, not this.)"""

    __tablename__ = "case_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    media_key: Mapped[str] = mapped_column(String(80))
    content_type: Mapped[str] = mapped_column(String(50))
    original_name: Mapped[str] = mapped_column(String(200), default="")
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
