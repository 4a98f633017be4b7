"""网上申请: an application filed on the portal, without an account, by the applicant or by a relative on their
behalf. Community staff accept it (it becomes an ``applied`` Case with everything typed) or return it once with
the full list of what is missing (一次性告知, A 10)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from dibao.crypto import EncryptedString, blind_index
from dibao.db import Base, UTCDateTime
from dibao.models.case import Case, WorkCapacity
from dibao.models.enumtype import enum_column
from dibao.models.region import Region
from dibao.models.user import User


class ApplicationStatus(enum.StrEnum):
    submitted = "submitted"  # 已提交，等待社区受理
    returned = "returned"  # 退回，一次性告知需补齐的材料
    accepted = "accepted"  # 已受理，转为低保案件


class DocumentKind(enum.StrEnum):
    material = "material"  # 申请材料（户口簿、身份证、收入证明……的照片）
    authorisation = "authorisation"  # 委托书（代为申请时）


class Application(Base):
    __tablename__ = "application"

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # the community applied to
    status: Mapped[ApplicationStatus] = enum_column(ApplicationStatus, index=True)

    # The applicant: the head of household (户主), named like the Case columns they become. ID number and
    # phone are staff-only; the ID number is encrypted at rest and found by its keyed hash.
    head_name: Mapped[str] = mapped_column(String(50))
    # Null only once erased (``erased_at``).
    head_id_number: Mapped[str | None] = mapped_column(EncryptedString(), info={"blind_index": "head_id_hash"})
    head_id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    head_phone: Mapped[str | None] = mapped_column(String(20))
    head_work_capacity: Mapped[WorkCapacity] = enum_column(WorkCapacity)
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)  # 申请理由, in the applicant's words
    # The family authorises the check of its income and assets (授权核对, B 11 / A 14).
    check_consent: Mapped[bool] = mapped_column(Boolean, default=False)

    # Filed by someone else on the applicant's behalf (代为申请), with a written authorisation (委托书, A 6).
    by_proxy: Mapped[bool] = mapped_column(Boolean, default=False)
    proxy_name: Mapped[str | None] = mapped_column(String(50))
    proxy_relation: Mapped[str | None] = mapped_column(String(20))
    proxy_phone: Mapped[str | None] = mapped_column(String(20))

    deadline: Mapped[date] = mapped_column(Date)  # 受理 or return, in working days
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 一次性告知: every missing item, one a line, and a note; shown on the tracking page.
    return_items: Mapped[str | None] = mapped_column(Text)
    return_note: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("dibao_case.id"), index=True)
    # A returned application's ID numbers, phones, e-mail and photos, erased once their purpose ended (PIPL
    # Art. 47, dibao.retention); region, status, dates and the reason stay for statistics.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    region: Mapped[Region] = relationship(lazy="joined")
    handled_by: Mapped[User | None] = relationship()
    case: Mapped[Case | None] = relationship()
    members: Mapped[list[ApplicationMember]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationMember.position")
    documents: Mapped[list[ApplicationDocument]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationDocument.position")

    kind = "application"

    @validates("head_id_number")
    def _index_head_id(self, _key: str, value: str | None) -> str | None:
        self.head_id_hash = blind_index(value)
        return value

    @property
    def missing_items(self) -> list[str]:
        return [line for line in (self.return_items or "").splitlines() if line.strip()]


class ApplicationMember(Base):
    """A household member other than the applicant, as typed (staff check them at the home visit)."""

    __tablename__ = "application_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(50))
    relation: Mapped[str] = mapped_column(String(20))
    age: Mapped[int] = mapped_column(Integer)
    # No blind index: nothing looks an applicant's member up by number (the case's Member has one).
    id_number: Mapped[str | None] = mapped_column(EncryptedString())
    work_capacity: Mapped[WorkCapacity] = enum_column(WorkCapacity)

    application: Mapped[Application] = relationship(back_populates="members")


class ApplicationDocument(Base):
    """A photo of a document, cleaned by dibao.media (re-encoded, no metadata); staff only."""

    __tablename__ = "application_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[DocumentKind] = enum_column(DocumentKind)
    media_key: Mapped[str] = mapped_column(String(80))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    application: Mapped[Application] = relationship(back_populates="documents")
