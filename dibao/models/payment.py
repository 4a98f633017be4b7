"""The household's payment account (发放账户): where the monthly 低保金 is paid."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from dibao.crypto import EncryptedString, blind_index
from dibao.db import Base, UTCDateTime
from dibao.models.case import Case
from dibao.models.enumtype import enum_column


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
    number: Mapped[str] = mapped_column(EncryptedString())
    number_hash: Mapped[str] = mapped_column(String(64), index=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_by_name: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="payment_account")

    @validates("number")
    def _index(self, _key: str, value: str) -> str:
        self.number_hash = blind_index(value)
        return value
