"""The household's life after approval (issue 10, items 6–10): assets and the verification (核对), member changes
and transfers, written notices to the family (文书, ``Document``) and their delivery, the standing review panel
(民主评议小组) and the questions raised at its meetings (质询).

Every record keeps the name of who made it (谁调查、谁负责), as the rest of the archive does.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.case import Case, Money
from dibao.models.enumtype import enum_column
from dibao.models.records import ReviewMeeting
from dibao.models.region import Region

Area = Numeric(10, 2)


# --- assets and the verification (核对) -----------------------------------------------------------------

class AssetKind(enum.StrEnum):
    housing = "housing"  # 住房：套数和面积
    vehicle = "vehicle"  # 机动车辆
    deposit = "deposit"  # 存款
    securities = "securities"  # 有价证券
    business = "business"  # 工商登记（经营实体）


class Asset(Base):
    """One asset of the household, as found by the investigation or the verification."""

    __tablename__ = "household_asset"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AssetKind] = enum_column(AssetKind)
    description: Mapped[str] = mapped_column(String(200), default="")
    units: Mapped[int] = mapped_column(Integer, default=1)  # housing units, vehicles, registered businesses
    area: Mapped[Decimal | None] = mapped_column(Area)  # m², housing only
    value: Mapped[Decimal | None] = mapped_column(Money)  # yuan, deposits and securities
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AssetLimits(Base):
    """A county's asset limits for 低保: beyond any of them the household is flagged for a written decision."""

    __tablename__ = "asset_limits"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), unique=True)  # the county
    housing_units: Mapped[int] = mapped_column(Integer)  # at most this many housing units
    housing_area_per_person: Mapped[Decimal] = mapped_column(Area)  # m² per person
    vehicles: Mapped[int] = mapped_column(Integer)  # at most this many vehicles (usually 0)
    deposits_per_person: Mapped[Decimal] = mapped_column(Money)  # deposits and securities, yuan per person
    business_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_by_name: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped[Region] = relationship()


class VerificationResult(enum.StrEnum):
    consistent = "consistent"  # 核对结果与申报一致
    discrepancy = "discrepancy"  # 核对发现不一致


class Verification(Base):
    """家庭经济状况核对: a request to the agencies (车管、不动产、银行、市场监管、社保、税务…) and its result."""

    __tablename__ = "verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    requested_on: Mapped[date] = mapped_column(Date)
    # the day the family's members signed the written authorisation (授权书) the check needs (A 14, B 11); NULL on
    # requests recorded before it was asked for
    authorised_on: Mapped[date | None] = mapped_column(Date)
    agencies: Mapped[str] = mapped_column(Text)  # one agency a line
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    requested_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[VerificationResult | None] = enum_column(VerificationResult, nullable=True)
    result_on: Mapped[date | None] = mapped_column(Date)
    findings: Mapped[str] = mapped_column(Text, default="")
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("case_attachment.id", ondelete="SET NULL"))
    result_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    result_by_name: Mapped[str | None] = mapped_column(String(100))

    @property
    def agency_list(self) -> list[str]:
        return [line.strip() for line in self.agencies.splitlines() if line.strip()]


class AssetDiscretion(Base):
    """酌情决定: the county's written decision on a household whose assets exceed a limit while its income is
    below the standard (the 返贫 case). The code flags it; people decide, in writing."""

    __tablename__ = "asset_discretion"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- member changes and transfers ------------------------------------------------------------------------

class MemberChangeKind(enum.StrEnum):
    birth = "birth"  # 出生
    marriage_in = "marriage_in"  # 婚入
    moved_in = "moved_in"  # 迁入
    death = "death"  # 死亡
    marriage_out = "marriage_out"  # 婚出
    moved_out = "moved_out"  # 迁出


class MemberChange(Base):
    """家庭成员变化: a member joined or left the household, with the date and the reason."""

    __tablename__ = "member_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[MemberChangeKind] = enum_column(MemberChangeKind)
    member_name: Mapped[str] = mapped_column(String(50))
    happened_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    size_after: Mapped[int] = mapped_column(Integer)
    amount_before: Mapped[Decimal | None] = mapped_column(Money)
    amount_after: Mapped[Decimal | None] = mapped_column(Money)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TransferKind(enum.StrEnum):
    separation = "separation"  # 人户分离
    demolition = "demolition"  # 拆迁安置
    moved = "moved"  # 迁居


class Transfer(Base):
    """迁移: the household moved to another community; its one archive went with it."""

    __tablename__ = "case_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    from_region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    to_region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    kind: Mapped[TransferKind] = enum_column(TransferKind)
    moved_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    address_before: Mapped[str] = mapped_column(String(200))
    address_after: Mapped[str] = mapped_column(String(200))
    amount_before: Mapped[Decimal | None] = mapped_column(Money)
    amount_after: Mapped[Decimal | None] = mapped_column(Money)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    from_region: Mapped[Region] = relationship(foreign_keys=[from_region_id])
    to_region: Mapped[Region] = relationship(foreign_keys=[to_region_id])


# --- written notices to the family (文书) -----------------------------------------------------------------

class DocumentKind(enum.StrEnum):
    approval = "approval"  # 审批通知书
    rejection = "rejection"  # 不予批准告知书
    adjustment = "adjustment"  # 调整告知书
    exit = "exit"  # 退保告知书


class Document(Base):
    """文书: a written notice to the family, numbered per county and year, its text fixed when issued from the
    decision's record (``source``)."""

    __tablename__ = "case_document"
    __table_args__ = (UniqueConstraint("county_id", "year", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[DocumentKind] = enum_column(DocumentKind)
    issued_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)  # the text as issued, paragraphs separated by blank lines
    source: Mapped[str] = mapped_column(String(40))  # e.g. "opinion:12", "period:7"
    issuer: Mapped[str] = mapped_column(String(100))  # the issuing body, e.g. 阳光县民政局
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    issued_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="document", cascade="all, delete-orphan",
                                                      order_by="Delivery.id")

    @property
    def region(self) -> Region:  # scope.get: a document is seen where its household is
        return self.case.region

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.split("\n\n") if p.strip()]


class DeliveryWay(enum.StrEnum):
    in_person = "in_person"  # 直接送达
    post = "post"  # 邮寄送达
    left = "left"  # 留置送达
    entrusted = "entrusted"  # 委托送达


class Delivery(Base):
    """送达回证: when, how and by whom a document reached the family."""

    __tablename__ = "document_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("case_document.id", ondelete="CASCADE"), index=True)
    delivered_on: Mapped[date] = mapped_column(Date)
    way: Mapped[DeliveryWay] = enum_column(DeliveryWay)
    recipient: Mapped[str] = mapped_column(String(50))  # who received it (签收人)
    delivered_by: Mapped[str] = mapped_column(String(100))  # who delivered it (送达人)
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    document: Mapped[Document] = relationship(back_populates="deliveries")


# --- the standing review panel (民主评议小组) ----------------------------------------------------------------

class PanelRole(enum.StrEnum):
    npc_deputy = "npc_deputy"  # 人大代表
    cppcc_member = "cppcc_member"  # 政协委员
    resident = "resident"  # 群众代表
    recipient = "recipient"  # 低保对象代表
    staff = "staff"  # 低保专干


class PanelMember(Base):
    """A member of a community's standing review panel, for a term."""

    __tablename__ = "panel_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # the community
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[PanelRole] = enum_column(PanelRole)
    term_start: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped[Region] = relationship()

    def serves_on(self, day: date) -> bool:
        return self.term_start <= day <= self.term_end


class PanelQuestion(Base):
    """质询: a question an attendee of a review meeting raised about one household, and the panel's answer."""

    __tablename__ = "panel_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("review_meeting.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dibao_case.id", ondelete="CASCADE"), index=True)
    asked_by: Mapped[str] = mapped_column(String(50))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    answered_by: Mapped[str] = mapped_column(String(50))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    meeting: Mapped[ReviewMeeting] = relationship()
