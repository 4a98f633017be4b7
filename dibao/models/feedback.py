from __future__ import annotations

import enum
from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.case import Case
from dibao.models.enumtype import enum_column
from dibao.models.notice import NoticeEntry
from dibao.models.region import Region
from dibao.models.user import User


class ReasonCategory(enum.StrEnum):
    income_hidden = "income_hidden"  # 隐瞒收入
    property = "property"  # 财产（住房、车辆等）
    household = "household"  # 家庭成员情况不实
    favouritism = "favouritism"  # 人情保、关系保
    other = "other"


class FeedbackStatus(enum.StrEnum):
    received = "received"  # 已受理
    over_cap = "over_cap"  # 已受理, over its network's hold cap: holds no case until checked (feedback.check_hold)
    checking = "checking"  # 核查中
    decided = "decided"  # 已办结


class Outcome(enum.StrEnum):
    upheld = "upheld"  # 异议成立
    partly_upheld = "partly_upheld"  # 部分成立
    not_upheld = "not_upheld"  # 不成立


class FeedbackItem:
    """What an objection and a report share: the tracking code, the household's community, what the resident
    wrote, who may be told the result, and how staff handled it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    category: Mapped[ReasonCategory] = enum_column(ReasonCategory)
    description: Mapped[str] = mapped_column(Text)
    # Private to staff; never public. A real-name submitter must be told the result (A 37).
    submitter_name: Mapped[str | None] = mapped_column(String(50))
    submitter_phone: Mapped[str | None] = mapped_column(String(20))
    real_name: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[FeedbackStatus] = enum_column(FeedbackStatus, index=True)
    outcome: Mapped[Outcome | None] = enum_column(Outcome, nullable=True)
    check_notes: Mapped[str | None] = mapped_column(Text)  # staff only
    public_answer: Mapped[str | None] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The hidden per-form token: a double submit of one form finds the first row instead of adding one.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When staff recorded having told a real-name submitter the result (A 37).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the name, phone and evidence photos were erased once their purpose ended (PIPL Art. 47,
    # dibao.retention); the description, check notes and answer stay as the case's archive.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    kind: ClassVar[str]

    @declared_attr
    def region(cls) -> Mapped[Region]:
        return relationship(foreign_keys=f"{cls.__name__}.region_id")

    @declared_attr
    def assigned_to(cls) -> Mapped[User | None]:
        return relationship(foreign_keys=f"{cls.__name__}.assigned_to_id")

    @declared_attr
    def decided_by(cls) -> Mapped[User | None]:
        return relationship(foreign_keys=f"{cls.__name__}.decided_by_id")

    @declared_attr
    def evidence(cls) -> Mapped[list[Evidence]]:
        return relationship(primaryjoin=f"Evidence.{cls.__tablename__}_id == {cls.__name__}.id",
                            order_by="Evidence.position", viewonly=True)


class Objection(FeedbackItem, Base):
    """异议: against one notice entry, filed while its window is open. An open objection holds the case (one
    received over its network's cap only once staff check it: dibao.feedback.check_hold)."""

    __tablename__ = "objection"

    entry_id: Mapped[int] = mapped_column(ForeignKey("notice_entry.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id"), index=True)
    # A keyed hash of the submitting client's address (never the address): how many entries one client holds
    # with open objections is capped (dibao.feedback.check_hold).
    client_key: Mapped[str | None] = mapped_column(String(64), index=True)

    # The statuses in which an objection holds its case (workflow.is_held).
    HOLDING: ClassVar[tuple[FeedbackStatus, ...]] = (FeedbackStatus.received, FeedbackStatus.checking)

    entry: Mapped[NoticeEntry] = relationship()
    case: Mapped[Case] = relationship()

    kind = "objection"


class ReportSubject(enum.StrEnum):
    recipient = "recipient"  # 保障对象
    staff = "staff"  # 工作人员作风


class Report(FeedbackItem, Base):
    """举报: any time, about a recipient on the roster or about staff conduct."""

    __tablename__ = "report"

    subject: Mapped[ReportSubject] = enum_column(ReportSubject)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("dibao_case.id"), index=True)
    # When filed from a (possibly closed) notice entry: which one.
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("notice_entry.id"), index=True)
    # Who or what is reported, in the resident's words (a staff member, an office, a household).
    about: Mapped[str | None] = mapped_column(String(200))
    # A report about staff conduct: the office (region) whose staff it is about, and the account it names, if
    # one could be recognised. ``region_id`` is then the level above, which handles it (dibao.feedback).
    reported_region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    reported_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    case: Mapped[Case | None] = relationship()
    entry: Mapped[NoticeEntry | None] = relationship()
    reported_region: Mapped[Region | None] = relationship(foreign_keys=[reported_region_id])
    reported_user: Mapped[User | None] = relationship(foreign_keys=[reported_user_id])

    kind = "report"


class Evidence(Base):
    """An evidence photo of an objection or a report (cleaned by dibao.media; staff only, never public)."""

    __tablename__ = "feedback_evidence"
    __table_args__ = (
        CheckConstraint("(objection_id IS NULL) <> (report_id IS NULL)", name="one_parent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    objection_id: Mapped[int | None] = mapped_column(ForeignKey("objection.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    media_key: Mapped[str] = mapped_column(String(80))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
