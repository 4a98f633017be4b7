from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.case import Case, Decision, Money
from dibao.models.enumtype import enum_column
from dibao.models.region import Level, Region
from dibao.models.user import User


class NoticeBatch(Base):
    """张榜公示: one level's board of entries, open from ``opens_at`` for a window (7 days by default).

    Visibility is decided at read time from the window (dibao.notices), never by a job.
    """

    __tablename__ = "notice_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    level: Mapped[Level] = enum_column(Level)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # where it is posted
    title: Mapped[str] = mapped_column(String(200))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # publish time (future = scheduled)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the published content
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closing_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set by the sweep

    region: Mapped[Region] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    entries: Mapped[list[NoticeEntry]] = relationship(back_populates="batch", order_by="NoticeEntry.position")


class NoticeEntry(Base):
    """One household on a board: an immutable snapshot of what was published. Later case edits never change it."""

    __tablename__ = "notice_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("notice_batch.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # The household's community, for listing a region's subtree without touching the case.
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)

    # --- the snapshot (full values; each channel's disclosure policy decides what is shown) ---
    head_name: Mapped[str] = mapped_column(String(50))
    address: Mapped[str] = mapped_column(String(200))
    public_address: Mapped[str] = mapped_column(String(200))
    household_size: Mapped[int] = mapped_column(Integer)
    household_income: Mapped[Decimal | None] = mapped_column(Money)
    monthly_amount: Mapped[Decimal | None] = mapped_column(Money)
    category: Mapped[int] = mapped_column(Integer)
    photo_key: Mapped[str | None] = mapped_column(String(80))  # only copied when consent was recorded
    opinion_decision: Mapped[Decision] = enum_column(Decision)
    opinion_text: Mapped[str] = mapped_column(Text)
    opinion_author: Mapped[str] = mapped_column(String(100))
    opinion_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opinion_override_reason: Mapped[str | None] = mapped_column(Text)  # approved although the amount is 0

    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    batch: Mapped[NoticeBatch] = relationship(back_populates="entries", lazy="joined")
    case: Mapped[Case] = relationship()
    region: Mapped[Region] = relationship()
