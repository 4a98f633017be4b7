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
from dibao.models import announcement, application, display, notification  # noqa: E402,F401

# isort: split
# Dynamic management (issue 10, items 1–5): proposals, campaigns, contacts, 提标.
from dibao.models import management  # noqa: E402,F401
