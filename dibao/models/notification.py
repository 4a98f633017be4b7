"""The delivery log of notifications (告知): an SMS or an e-mail to a resident or a staff member, with every
attempt's outcome. A row is written in the same transaction as the decision that calls for it and sent
afterwards by dibao.notify (the sweep or ``dibao notify send``), with retries."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.enumtype import enum_column
from dibao.models.region import Region


class NotifyChannel(enum.StrEnum):
    sms = "sms"  # 短信, through the configured HTTP gateway
    email = "email"  # 电子邮件, through SMTP


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # waiting for its (next) attempt
    sent = "sent"  # the gateway or the mail server took it
    failed = "failed"  # every attempt failed; staff see it and may send it again


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[NotifyChannel] = enum_column(NotifyChannel)
    # A mobile number or an e-mail address. Staff only, like the item it belongs to; never on a public page.
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    # A path on the public site the message points to (the tracking page); the public URL is put in front
    # when it is sent, so a message queued before a change of address still points to the right place.
    link: Mapped[str | None] = mapped_column(String(200))
    # What it is about: ("objection" | "report" | "application", tracking code) or ("kiosk", id).
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    status: Mapped[DeliveryStatus] = enum_column(DeliveryStatus, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped[Region | None] = relationship()
