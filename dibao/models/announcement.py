"""宣传 and 制度: announcements (公告, 宣传板面, 滚动字幕) shown between dates, and standing documents (the county's
实施方案, 制度, application forms to download). Both belong to a region and are seen in its whole subtree."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.enumtype import enum_column
from dibao.models.region import Region
from dibao.models.user import User


class AnnouncementKind(enum.StrEnum):
    announcement = "announcement"  # 公告 / 宣传: has an end date, shown on the kiosk
    document = "document"  # 制度文件: standing, until its end date (if any) or withdrawal


class DocumentCategory(enum.StrEnum):
    plan = "plan"  # 实施方案
    rule = "rule"  # 制度
    form = "form"  # 表格下载
    other = "other"  # 其他文件


class Announcement(Base):
    __tablename__ = "announcement"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[AnnouncementKind] = enum_column(AnnouncementKind, index=True)
    category: Mapped[DocumentCategory | None] = enum_column(DocumentCategory, nullable=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # plain text: paragraphs separated by blank lines, escaped on output
    ticker: Mapped[str | None] = mapped_column(String(120))  # 滚动字幕: one line for the kiosk's ticker
    picture_key: Mapped[str | None] = mapped_column(String(80))  # a cleaned image (dibao.media)
    # Shown from the start of ``starts_on`` to the end of ``ends_on``, local calendar days, decided at read time.
    starts_on: Mapped[date] = mapped_column(Date, index=True)
    ends_on: Mapped[date | None] = mapped_column(Date, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)

    region: Mapped[Region] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    files: Mapped[list[AnnouncementFile]] = relationship(
        back_populates="announcement", cascade="all, delete-orphan", order_by="AnnouncementFile.position")


class AnnouncementFile(Base):
    """An attachment to download (a PDF of the 实施方案, a photo of a form), cleaned by dibao.media."""

    __tablename__ = "announcement_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    media_key: Mapped[str] = mapped_column(String(80))
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    announcement: Mapped[Announcement] = relationship(back_populates="files")
