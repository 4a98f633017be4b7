"""Proof of display (公示留痕) and kiosk health: what each kiosk reported having on screen, photos of the paper
board, and the outages staff were alerted to."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.kiosk import Kiosk
from dibao.models.notice import NoticeBatch, NoticeEntry
from dibao.models.region import Region


class DisplaySpan(Base):
    """A stretch of time during which a kiosk had an entry in its rotation, from the kiosk's own reports.

    Reports of one entry that follow each other within a rotation cycle extend the same span, so a week on
    screen is a few rows, not thousands; ``visible_seconds`` adds up the time the entry was actually on the
    slide being shown."""

    __tablename__ = "display_span"
    __table_args__ = (Index("ix_display_span_kiosk_entry_end", "kiosk_id", "entry_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosk.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("notice_entry.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    visible_seconds: Mapped[int] = mapped_column(Integer, default=0)

    kiosk: Mapped[Kiosk] = relationship()
    entry: Mapped[NoticeEntry] = relationship()


class DisplayReport(Base):
    """The key of each report a kiosk sent: a report sent again (its answer was lost) is counted once."""

    __tablename__ = "display_report"
    __table_args__ = (UniqueConstraint("kiosk_id", "report_key", name="uq_display_report_kiosk_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosk.id", ondelete="CASCADE"))
    report_key: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class BoardPhoto(Base):
    """A photo of the paper board (张贴的公示) taken by staff, kept with the batch as evidence."""

    __tablename__ = "board_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("notice_batch.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # where the board hangs
    media_key: Mapped[str] = mapped_column(String(80))
    taken_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    batch: Mapped[NoticeBatch] = relationship()
    region: Mapped[Region] = relationship()


class KioskOutage(Base):
    """A kiosk seen dark (it missed its polls since ``since``), recorded once, when its staff were alerted."""

    __tablename__ = "kiosk_outage"
    __table_args__ = (UniqueConstraint("kiosk_id", "since", name="uq_kiosk_outage_kiosk_since"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosk.id", ondelete="CASCADE"), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)  # its last poll before going dark
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    alerted: Mapped[int] = mapped_column(Integer, default=0)  # e-mails queued

    kiosk: Mapped[Kiosk] = relationship()
