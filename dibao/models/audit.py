from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dibao.db import Base, UTCDateTime


class AuditEvent(Base):
    """Append-only audit log. ``hash`` covers this row's content and the previous row's hash."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # Kept as text too: the name of who did it survives a renamed or removed account (谁调查、谁负责).
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # 1: SHA-256 (events before the audit key existed); 2: HMAC-SHA256 with the audit key (dibao.audit).
    hash_scheme: Mapped[int] = mapped_column(SmallInteger, server_default="1")
