"""The household's payment account (发放账户): where the monthly 低保金 is paid."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from dibao.crypto import EncryptedString, blind_index
from dibao.db import Base, UTCDateTime
from dibao.models.case import Case, Money
from dibao.models.enumtype import enum_column
from dibao.models.region import Region


class AccountKind(enum.StrEnum):
    bank_card = "bank_card"  # 银行卡 (Luhn check digit)
    social_security_card = "social_security_card"  # 社会保障卡
    benefit_card = "benefit_card"  # 惠民惠农财政补贴资金"一卡通"


class PaymentAccount(Base):
    """One account per household, staff only: the number is encrypted at rest (``number_hash`` finds it by
    equality) and masked in every list; no public channel ever shows it."""

    __tablename__ = "payment_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[AccountKind] = enum_column(AccountKind)
    bank_name: Mapped[str] = mapped_column(String(100))
    holder_name: Mapped[str] = mapped_column(String(50))
    number: Mapped[str] = mapped_column(EncryptedString(), info={"blind_index": "number_hash"})
    number_hash: Mapped[str] = mapped_column(String(64), index=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_by_name: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="payment_account")

    @validates("number")
    def _index(self, _key: str, value: str) -> str:
        self.number_hash = blind_index(value)
        return value


# --- the monthly payment run (按时足额发放, issue 11) ---------------------------------------------------------

class RunStatus(enum.StrEnum):
    generated = "generated"  # 已生成: towns check their part
    checked = "checked"  # 乡镇已核对 (every town)
    approved = "approved"  # 县级已审批: locked, nothing in it changes but the bank's answer
    sent = "sent"  # 已导出银行文件
    returned = "returned"  # 银行已回盘


class LineStatus(enum.StrEnum):
    pending = "pending"  # 待发放
    paid = "paid"  # 已发放
    failed = "failed"  # 发放失败 (carried into the next run)


class PaymentRun(Base):
    """发放批次: one county's payment of one month. Approved, it is immutable (dibao.payments refuses every edit);
    corrections go into the next month's run as arrears or adjustment lines."""

    __tablename__ = "payment_run"
    __table_args__ = (UniqueConstraint("county_id", "month", name="uq_payment_run_county_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    month: Mapped[date] = mapped_column(Date, index=True)  # the first day of the month paid
    status: Mapped[RunStatus] = enum_column(RunStatus)
    households: Mapped[int] = mapped_column(Integer, default=0)
    persons: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))  # amounts + arrears + carried
    generated_by_name: Mapped[str] = mapped_column(String(100))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_by_name: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    county: Mapped[Region] = relationship(lazy="joined")

    @property
    def region(self) -> Region:  # dibao.scope.get
        return self.county

    @property
    def locked(self) -> bool:
        return self.status in (RunStatus.approved, RunStatus.sent, RunStatus.returned)


class PaymentTownCheck(Base):
    """A town's check of its part of a run (乡镇核对)."""

    __tablename__ = "payment_town_check"
    __table_args__ = (UniqueConstraint("run_id", "town_id", name="uq_payment_town_check_run_town"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payment_run.id", ondelete="CASCADE"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    checked_by_name: Mapped[str | None] = mapped_column(String(100))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")

    town: Mapped[Region] = relationship(lazy="joined")


class PaymentLine(Base):
    """One household in one run: the month's amount in force, arrears (补发) for earlier months, or a failed line
    of an earlier run carried over (``carried_from_id``, then ``amount`` is 0 and ``arrears`` the sum re-sent)."""

    __tablename__ = "payment_line"
    __table_args__ = (Index("ix_payment_line_run_region", "run_id", "region_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payment_run.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id"), index=True)
    # Where the household lived when paid (a snapshot: a later transfer does not move a paid line). Plain
    # integers, no foreign keys: a key check per line would triple a county's generation (bench_payments.py),
    # and regions are never deleted while households live in them.
    town_id: Mapped[int] = mapped_column(Integer)
    region_id: Mapped[int] = mapped_column(Integer)  # the household's community
    category: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)  # in force this month (0 on a carried line)
    arrears: Mapped[Decimal] = mapped_column(Money)  # 补发 / 调整 for earlier months, or the carried sum
    total: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[LineStatus] = enum_column(LineStatus)
    bank_reason: Mapped[str | None] = mapped_column(String(200))
    carried_from_id: Mapped[int | None] = mapped_column(ForeignKey("payment_line.id"), index=True)

    case: Mapped[Case] = relationship()
    region: Mapped[Region] = relationship(primaryjoin="Region.id == foreign(PaymentLine.region_id)", lazy="joined",
                                          viewonly=True)


class PaymentArrear(Base):
    """The months an arrears sum on a line pays (one row per household and earlier month): with each run's own
    month they make the ledger "what was already paid for month m"."""

    __tablename__ = "payment_arrear"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("payment_line.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id"), index=True)
    month: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)  # may be negative: an adjustment down (扣减)


class BankLayout(Base):
    """A county's bank-file column list (comma-separated keys of dibao.payments.BANK_COLUMNS); none: the default."""

    __tablename__ = "bank_layout"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("region.id"), unique=True)
    columns: Mapped[str] = mapped_column(String(400))
    updated_by_name: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FundsQuestion(Base):
    """群众监督: a supervision group's question on its community's lines of a month, answered by the community."""

    __tablename__ = "funds_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payment_run.id", ondelete="CASCADE"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # the community
    text: Mapped[str] = mapped_column(Text)
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    asked_by_name: Mapped[str] = mapped_column(String(100))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_name: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    region: Mapped[Region] = relationship(lazy="joined")
