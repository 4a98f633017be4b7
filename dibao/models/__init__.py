"""Typed SQLAlchemy models. Import every model module here so Alembic and the mappers see them all."""

from dibao.db import Base
from dibao.models import disclosure, job, kiosk, limits, payment, records  # noqa: F401  (their classes register on Base)
from dibao.models.audit import AuditEvent
from dibao.models.calendar import CalendarDay, HolidayCalendar
from dibao.models.case import (
    AmountChange,
    AmountPeriod,
    Case,
    Decision,
    Member,
    MemberIncome,
    Opinion,
    Stage,
    WorkCapacity,
)
from dibao.models.feedback import FeedbackStatus, Objection, Outcome, ReasonCategory, Report, ReportSubject
from dibao.models.notice import NoticeBatch, NoticeEntry
from dibao.models.region import Level, Region
from dibao.models.user import LoginThrottle, Role, StaffSession, User

__all__ = [
    "AmountChange", "AmountPeriod", "AuditEvent", "Base", "Case", "Decision", "FeedbackStatus", "Level", "Member",
    "MemberIncome", "NoticeBatch", "NoticeEntry", "Objection", "Opinion", "Outcome", "ReasonCategory", "Region",
    "Report", "ReportSubject", "Role", "Stage", "User", "WorkCapacity",
    "CalendarDay", "HolidayCalendar", "LoginThrottle", "StaffSession",
]

# The residents' side (issue 14): online applications, notifications, announcements and documents.
# Dynamic management (issue 10): assets and 核对, member changes and transfers, 文书, the review panel (household);
# proposals, campaigns, contacts, 提标 (management).
# Performance (issue 13): the version counters behind the public cache.
from dibao.models import (  # noqa: E402,F401  # noqa: E402,F401
    announcement,
    application,
    display,
    household,
    management,
    notification,
    public_version,  # noqa: E402,F401
    roster_summary,  # the roster's figures per region (issue 13)
    stats_month,  # the monthly statistics summary (issue 13)
)
