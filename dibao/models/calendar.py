"""A county's working-day calendar (节假日安排): holidays and make-up working days (调休), year by year.

The State Council publishes next year's arrangement in late autumn; the ``chinese_calendar`` package only knows
the years up to its release. A county's admin enters the years it does not know (or corrects one it does);
``dibao.workdays`` uses this table first, then the package, then Monday–Friday (and says so).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime


class HolidayCalendar(Base):
    """One county's arrangement for one year, as its admin entered it."""

    __tablename__ = "holiday_calendar"
    __table_args__ = (UniqueConstraint("region_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # the county
    year: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_by_name: Mapped[str] = mapped_column(String(100))

    days: Mapped[list[CalendarDay]] = relationship(back_populates="calendar", cascade="all, delete-orphan",
                                                   order_by="CalendarDay.day")


class CalendarDay(Base):
    """A day that is not what Monday–Friday says: a holiday (``working`` false) or a make-up working day."""

    __tablename__ = "calendar_day"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("holiday_calendar.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(40), default="")  # 春节, 国庆节 …

    calendar: Mapped[HolidayCalendar] = relationship(back_populates="days")
