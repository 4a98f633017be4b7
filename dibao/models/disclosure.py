"""Disclosure policy rows (per channel, per field) and the 四公开 content pages: settings of a county, each row
carrying its county (a county admin changes them; everyone in the county reads them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dibao.db import Base, UTCDateTime


class DisclosureRule(Base):
    """One cell of the disclosure grid: what ``channel`` shows of ``field`` (a mode of dibao.disclosure).

    A missing row means the default of DESIGN.md; the county admin's choices override it.
    """

    __tablename__ = "disclosure_rule"
    __table_args__ = (UniqueConstraint("region_id", "channel", "field", name="uq_disclosure_rule_region_channel_field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # the county
    channel: Mapped[str] = mapped_column(String(16))
    field: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContentPage(Base):
    """A 四公开 page of the portal (policy, procedure, …): plain text, escaped when shown."""

    __tablename__ = "content_page"
    __table_args__ = (UniqueConstraint("region_id", "slug", name="uq_content_page_region_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # the county
    slug: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
