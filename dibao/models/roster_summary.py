"""The roster summary (issue 13): per region, the standing roster's figures — its active households, their
persons and monthly money, exactly what ``dibao.notices.roster_totals`` counts live. Derived data:
``dibao.roster_summary`` writes it and deletes a region's row in the transaction of any change to its figures;
a region without a row is computed live."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from dibao.db import Base, UTCDateTime
from dibao.models.case import Money


class RosterSummary(Base):
    """One region's roster figures; the row is its own mark (present: the figures are the live ones). Every
    region of a refreshed scope has one, with zeros where no household is in payment."""

    __tablename__ = "roster_summary"

    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"), primary_key=True)
    households: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)
    money: Mapped[Decimal] = mapped_column(Money)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime)
