"""The monthly statistics summary (issue 13): per community × month × category, the households paid, their
persons and money — exactly what ``dibao.stats._paid_by_month`` gives — and which (community, month) pairs are
summarised. Derived data: ``dibao.stats_summary`` writes it and removes a community's marks in the transaction
of any change to its figures; a pair without a mark is computed live."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from dibao.db import Base, UTCDateTime
from dibao.models.case import Money


class StatsMonth(Base):
    """One (community, month, category) of the summary; a pair with no row and a mark had nobody paid."""

    __tablename__ = "stats_month"

    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # the first day of the month
    category: Mapped[int] = mapped_column(Integer, primary_key=True)
    households: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)
    money: Mapped[Decimal] = mapped_column(Money)


class StatsMonthDone(Base):
    """A mark: the rows of (``region_id``, ``month``) in ``stats_month`` are the live figures. Only a mark makes
    rows count; a change removes the marks, never relies on the rows being removed."""

    __tablename__ = "stats_month_done"

    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime)
