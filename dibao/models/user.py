from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.region import Region


class Role(enum.StrEnum):
    community_staff = "community_staff"  # 社区低保专干
    town_reviewer = "town_reviewer"  # 乡镇(街道)审核
    county_approver = "county_approver"  # 县民政局审批
    admin = "admin"  # 系统管理员
    supervisor = "supervisor"  # 群众监督: a community's supervision group, read-only on its payments (issue 11)


class User(Base):
    """A staff account. Every user is scoped to one region and sees only its subtree."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped when the password changes or the account is disabled, which ends existing sessions.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where the staff member gets alerts (a kiosk of their community gone dark); set by themselves.
    email: Mapped[str | None] = mapped_column(String(200))

    region: Mapped[Region] = relationship(lazy="joined")

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class StaffSession(Base):
    """One staff sign-in, kept on the server: the signed cookie carries only its token, so logging out (or the
    absolute lifetime passing) ends it for every copy of the cookie."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the token in the cookie (a copy of this table does not let anyone sign in).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(16))  # logout | idle | password | disabled


class LoginThrottle(Base):
    """Failed logins per account name and per client address; past a free allowance each further attempt
    waits twice as long as the one before (dibao.accounts.authenticate)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "account:<username>" | "client:<address>"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
