"""Dynamic management after approval (issue 10, items 1–5): proposals waiting for the county (an exit at the end
of a grace period, an amount change or an exit proposed by a review, a re-check after a death), re-check campaigns
(全面入户核查), monthly contacts (月联系) and the 提标 of a new standard."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.case import Case, Money
from dibao.models.enumtype import enum_column
from dibao.models.records import Standard
from dibao.models.region import Region


class ProposalKind(enum.StrEnum):
    exit = "exit"  # 建议退保: the county confirms with the reason
    amount = "amount"  # 建议调整保障金额
    recheck = "recheck"  # 须重新核查 (a death in the household): done by the next review


class ProposalSource(enum.StrEnum):
    review = "review"  # 定期复核
    grace_end = "grace_end"  # 渐退期满
    death = "death"  # 户主或成员死亡
    campaign = "campaign"  # 全面入户核查
    member_change = "member_change"  # 家庭成员变化 of an approved household: the county decides the new amount


class ProposalStatus(enum.StrEnum):
    open = "open"
    confirmed = "confirmed"
    declined = "declined"


class Proposal(Base):
    """Something a review, the sweep or a death put before the staff of a household: open until decided."""

    __tablename__ = "management_proposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ProposalKind] = enum_column(ProposalKind)
    source: Mapped[ProposalSource] = enum_column(ProposalSource)
    status: Mapped[ProposalStatus] = enum_column(ProposalStatus, index=True)
    reason: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Money)  # the proposed amount (kind amount)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_name: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship()

    @property
    def region(self) -> Region:
        return self.case.region


class Campaign(Base):
    """全面入户核查: a county or town re-checks every household that was active in its scope when it opened."""

    __tablename__ = "recheck_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # the county or town
    title: Mapped[str] = mapped_column(String(200))
    opened_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opened_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped[Region] = relationship()


class CampaignHousehold(Base):
    __tablename__ = "recheck_household"
    __table_args__ = (UniqueConstraint("campaign_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("recheck_campaign.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"))  # the check, once done
    checked_on: Mapped[date | None] = mapped_column(Date)

    campaign: Mapped[Campaign] = relationship()
    case: Mapped[Case] = relationship()


class ContactWay(enum.StrEnum):
    visit = "visit"  # 入户走访
    phone = "phone"  # 电话联系
    came_in = "came_in"  # 来社区


class Contact(Base):
    """月联系: a dated contact between the community and a household."""

    __tablename__ = "household_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    contacted_on: Mapped[date] = mapped_column(Date, index=True)
    way: Mapped[ContactWay] = enum_column(ContactWay)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()


class RaiseStatus(enum.StrEnum):
    pending = "pending"  # 待确认: the county has a preview to confirm
    applied = "applied"  # 已调整
    unchanged = "unchanged"  # no household's amount changes


class StandardRaise(Base):
    """提标: a standard that took effect, waiting for the county to confirm every household's new amount."""

    __tablename__ = "standard_raise"

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("dibao_standard.id", ondelete="CASCADE"), unique=True)
    status: Mapped[RaiseStatus] = enum_column(RaiseStatus, index=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    job_id: Mapped[int | None] = mapped_column(Integer)  # the apply job, once confirmed
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_by_name: Mapped[str | None] = mapped_column(String(100))
    households: Mapped[int | None] = mapped_column(Integer)
    total_before: Mapped[Decimal | None] = mapped_column(Money)
    total_after: Mapped[Decimal | None] = mapped_column(Money)

    standard: Mapped[Standard] = relationship()

    @property
    def region(self) -> Region:
        return self.standard.region
