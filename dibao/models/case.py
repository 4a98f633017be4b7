from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    ScalarSelect,
    String,
    Text,
    false,
    func,
    select,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from dibao.crypto import EncryptedString, blind_index
from dibao.db import Base, UTCDateTime
from dibao.models.enumtype import enum_column
from dibao.models.region import Level, Region
from dibao.models.user import User

if TYPE_CHECKING:
    from dibao.models.payment import PaymentAccount

Money = Numeric(12, 2)


class Stage(enum.StrEnum):
    """Where a case stands in the seed's nine steps (DESIGN.md "The workflow")."""

    applied = "applied"  # 个人申报，已受理
    investigating = "investigating"  # 入户调查
    community_review = "community_review"  # 民主评议 / 社区初审
    awaiting_community_notice = "awaiting_community_notice"  # 待社区公示
    community_notice = "community_notice"  # 社区公示中
    town_review = "town_review"  # 乡镇审核（复查）
    town_decision = "town_decision"  # 乡镇党委会议讨论
    awaiting_town_notice = "awaiting_town_notice"  # 待乡镇公示
    town_notice = "town_notice"  # 乡镇公示中
    county_approval = "county_approval"  # 县民政局审批
    awaiting_county_notice = "awaiting_county_notice"  # 待县级公示
    county_notice = "county_notice"  # 县级公示中
    active = "active"  # 在保
    rejected = "rejected"  # 不予批准
    exited = "exited"  # 退保


# The stages of workflow.UNDECIDED_STAGES, as the predicate of the partial indexes of the undecided cases: a query
# asking for those stages (stage IN …) is answered from them (tests/test_scale_queries.py keeps the two the same).
UNDECIDED_INDEXED = text("stage IN ('applied', 'investigating', 'community_review', 'awaiting_community_notice', "
                         "'community_notice', 'town_review', 'town_decision', 'awaiting_town_notice', "
                         "'town_notice', 'county_approval')")


class WorkCapacity(enum.StrEnum):
    full = "full"  # 有劳动能力
    partial = "partial"  # 部分丧失
    none = "none"  # 无劳动能力


class Case(Base):
    """低保申请 / 低保家庭: an application and, once approved, the household's ongoing record (一户一档)."""

    __tablename__ = "dibao_case"
    # Staff search (cases.search: LIKE '%…%' on name, number, address, phone) by trigram on PostgreSQL (issue 13,
    # docs/performance.md); none on SQLite, where a B-tree cannot serve it (migration 0706).
    # Scoped counts and lists by stage and category (a scope is a set of communities): migrations 0701, 0704;
    # reviews whose date has come: migration 0702. The undecided cases (the dashboard's deadline counts, the open
    # cases' worklist), a few per cent of a province, have two partial indexes of their own (0704): by community,
    # covering what the deadline counts read, and in the worklist's order.
    __table_args__ = (*(
        Index(f"ix_dibao_case_{col}_trgm", col, postgresql_using="gin", postgresql_ops={col: "gin_trgm_ops"},
              info={"dialects": ("postgresql",)}).ddl_if(dialect="postgresql")
        for col in ("head_name", "number", "address", "head_phone")),
        Index("ix_dibao_case_region_id_stage_category", "region_id", "stage", "category"),
        Index("ix_dibao_case_stage_next_review_due", "stage", "next_review_due"),
        Index("ix_dibao_case_undecided_region_id", "region_id", postgresql_where=UNDECIDED_INDEXED,
              sqlite_where=UNDECIDED_INDEXED,
              postgresql_include=["stage", "accepted_at", "stage_changed_at", "special_case"]),
        Index("ix_dibao_case_undecided_updated_at", "updated_at", "id", postgresql_where=UNDECIDED_INDEXED,
              sqlite_where=UNDECIDED_INDEXED))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)  # 案卷号, e.g. 341399001001-2026-0007
    # Both indexed as the first column of a composite index (below): a single-column index beside it would be
    # one more to write on every stage change, for nothing.
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))  # the household's community
    stage: Mapped[Stage] = enum_column(Stage)
    stage_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Head of household (户主). ID number and phone are for staff only: never public, masked in lists. The ID
    # number is encrypted at rest; ``head_id_hash`` (a keyed hash, set with it) finds it by equality.
    head_name: Mapped[str] = mapped_column(String(50))
    head_id_number: Mapped[str] = mapped_column(EncryptedString(), info={"blind_index": "head_id_hash"})
    head_id_hash: Mapped[str] = mapped_column(String(64), index=True)
    head_phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    # The part of the address the public web may show (community / building level), kept by staff.
    public_address: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[int] = mapped_column(Integer, default=1)  # 分类管理 1–4
    close_relative_of_staff: Mapped[bool] = mapped_column(Boolean, default=False)  # 近亲属备案
    # 特殊情况: the whole case may take 45 working days instead of 30 (A 22).
    special_case: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    no_income_no_capacity_no_supporter: Mapped[bool] = mapped_column(Boolean, default=False)  # 三无
    # Household photo: a content-addressed media key, shown only where consent is recorded (PIPL Art. 25).
    photo_key: Mapped[str | None] = mapped_column(String(80))
    photo_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    photo_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Amount (保障金额), yuan per month. ``monthly_amount`` is what applies: the computed figure, or the
    # override when staff gave one with a written reason.
    computed_amount: Mapped[Decimal | None] = mapped_column(Money)
    override_amount: Mapped[Decimal | None] = mapped_column(Money)
    override_reason: Mapped[str | None] = mapped_column(Text)
    monthly_amount: Mapped[Decimal | None] = mapped_column(Money)
    # 分档: the tier staff chose (by name: it resolves against whichever standard is in force, also after a 提标),
    # with their written reason; None under a 差额 standard or while none is chosen.
    tier_name: Mapped[str | None] = mapped_column(String(20))
    tier_reason: Mapped[str | None] = mapped_column(Text)
    household_income: Mapped[Decimal | None] = mapped_column(Money)  # counted monthly income of the household
    marginal: Mapped[bool] = mapped_column(Boolean, default=False)  # 低保边缘

    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # 受理: deadlines count from here
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_start: Mapped[date | None] = mapped_column(Date)  # first day of the month after approval
    exit_reason: Mapped[str | None] = mapped_column(Text)
    grace_until: Mapped[date | None] = mapped_column(Date)  # 渐退期 end, at most 6 months
    next_review_due: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped[Region] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()
    members: Mapped[list[Member]] = relationship(back_populates="case", cascade="all, delete-orphan",
                                                 order_by="Member.position")
    opinions: Mapped[list[Opinion]] = relationship(back_populates="case", order_by="Opinion.id")
    payment_account: Mapped[PaymentAccount | None] = relationship(back_populates="case", cascade="all, delete-orphan")

    @hybrid_property
    def household_size(self) -> int:
        return len(self.members)

    @household_size.inplace.expression
    @classmethod
    def _household_size_sql(cls) -> ScalarSelect[int]:
        # The same in SQL, one indexed count per case: a list that only shows the size does not load (and
        # decrypt) every member.
        return (select(func.count()).select_from(Member).where(Member.case_id == cls.id).correlate(cls)
                .scalar_subquery())

    @validates("head_id_number")
    def _index_head_id(self, _key: str, value: str) -> str:
        self.head_id_hash = blind_index(value)
        return value

    def __repr__(self) -> str:
        return f"<Case {self.number} {self.stage}>"


class Member(Base):
    """家庭成员 (the head of household is member 0, relation 本人)."""

    __tablename__ = "case_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(50))
    relation: Mapped[str] = mapped_column(String(20))  # 本人、配偶、子女、父母…
    age: Mapped[int] = mapped_column(Integer)
    # Encrypted at rest, like the head's; info names the blind index column for `dibao keys rotate-data`.
    id_number: Mapped[str | None] = mapped_column(EncryptedString(), info={"blind_index": "id_number_hash"})
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    health: Mapped[str] = mapped_column(String(200), default="")  # staff only, never published
    work_capacity: Mapped[WorkCapacity] = enum_column(WorkCapacity)
    # Costs that may be deducted from income (illness, disability: REGULATIONS "Amount", A 13).
    monthly_deduction: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    deduction_note: Mapped[str] = mapped_column(String(200), default="")

    case: Mapped[Case] = relationship(back_populates="members")
    incomes: Mapped[list[MemberIncome]] = relationship(back_populates="member", cascade="all, delete-orphan",
                                                       order_by="MemberIncome.id")

    @validates("id_number")
    def _index_id(self, _key: str, value: str | None) -> str | None:
        self.id_number_hash = blind_index(value)
        return value


class MemberIncome(Base):
    """A member's monthly income from one source; ``source`` decides whether it counts (entitlement)."""

    __tablename__ = "member_income"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("case_member.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(32))  # wage, pension, business, farming, support, award, …
    monthly_amount: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str] = mapped_column(String(200), default="")

    member: Mapped[Member] = relationship(back_populates="incomes")


class Decision(enum.StrEnum):
    approve = "approve"  # 同意
    reject = "reject"  # 不同意


class Opinion(Base):
    """初审意见 / 审核意见 / 审批结果: one level's signed opinion on a case (together the 三公布)."""

    __tablename__ = "case_opinion"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id"), index=True)
    level: Mapped[Level] = enum_column(Level)
    decision: Mapped[Decision] = enum_column(Decision)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    author_name: Mapped[str] = mapped_column(String(100))  # 谁调查、谁负责: kept even if the account goes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # An opinion is superseded when an upheld objection sends the case back; the new one replaces it.
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    # "同意" although the computed amount is 0: only with this written reason, published with the opinion.
    override_reason: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="opinions")
    author: Mapped[User | None] = relationship()


class AmountChange(enum.StrEnum):
    """Why the amount in force changed (each change starts a new :class:`AmountPeriod`)."""

    approved = "approved"  # 审批同意: payment starts the month after approval
    adjusted = "adjusted"  # 调整保障金额 (A 32), with a written reason
    standard_raised = "standard_raised"  # 提标: a new standard took effect
    reviewed = "reviewed"  # 复核后重新核定
    household_changed = "household_changed"  # 家庭成员变化
    transferred = "transferred"  # 迁移: the new community's standard
    suspended = "suspended"  # 暂停发放
    resumed = "resumed"  # 恢复发放
    exited = "exited"  # 退保: nothing is paid from this month on


class AmountPeriod(Base):
    """保障金额的变动: the amount in force for a household from the first day of a month on.

    The amount in force in a month is the one of the latest period starting on or before that month (the
    newest row wins when two start together); 0 pays nothing (an exit or a suspension); no period at all means
    the household was never approved for that month. Payment runs read only this table, so every decision that
    changes what a household is paid writes a period (dibao.entitlement.start_period), never the amount alone.
    """

    __tablename__ = "amount_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date, index=True)  # always the first day of a month
    amount: Mapped[Decimal] = mapped_column(Money)
    change: Mapped[AmountChange] = enum_column(AmountChange)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_name: Mapped[str] = mapped_column(String(100))  # 谁调查、谁负责
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
