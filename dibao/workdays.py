"""Chinese working days (工作日): weekends and public holidays off, make-up Saturdays/Sundays (调休) on.

Where a day's answer comes from, in order:

1. the county's own calendar (``HolidayCalendar``), which its admin enters year by year at
   ``/admin/calendar/`` — for a year the package does not know yet, or to correct one;
2. the ``chinese_calendar`` package, which carries the State Council's notices up to its release (this is the
   seed every county starts from: the screen shows the package's days for a year the county has not entered);
3. Monday–Friday, for a year nobody knows — and every deadline counted that way is marked "按周一至周五估算"
   on staff pages (:meth:`Calendar.covers`), and the dashboard warns from 1 December (:func:`missing_years`).

Deadlines are counted in local calendar dates: "within N working days of D" is the N-th working day after
D (D itself does not count), and the work is late from the next day on.

Deadlines are computed for every row of a list, so a county's :class:`Calendar` is built once per process and
database from one query, answers from a dict, and remembers the deadlines it computed. A change made here is
seen at once by this process and within :data:`RELOAD_SECONDS` by the others.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import chinese_calendar
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from dibao import audit, clock, scope
from dibao.errors import Forbidden, Invalid, NotFound, Problems, collect
from dibao.models import CalendarDay, HolidayCalendar, Level, Region, Role, User

RELOAD_SECONDS = 60.0
WARN_FROM = (12, 1)  # from 1 December, next year's calendar is due


class Calendar:
    """One county's working days: explicit days (``True`` working, ``False`` off) over Monday–Friday."""

    def __init__(self, days: Mapping[date, bool], years: frozenset[int]):
        self._days = days
        self.years = years  # the years whose holidays are known
        self._memo: dict[tuple[str, date, int], date] = {}

    def is_known(self, day: date) -> bool:
        """Whether ``day``'s year has a known holiday calendar."""
        return day.year in self.years

    def covers(self, start: date, end: date) -> bool:
        """Whether every year from ``start`` to ``end`` is known: a deadline over them is not an estimate."""
        return all(year in self.years for year in range(start.year, end.year + 1))

    def is_workday(self, day: date) -> bool:
        explicit = self._days.get(day)
        return explicit if explicit is not None else day.weekday() < 5

    def add_workdays(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself not counted); ``n`` ≥ 1."""
        if n < 1:
            raise ValueError("n must be at least 1")
        key = ("add", start, n)
        found = self._memo.get(key)
        if found is None:
            day, counted = start, 0
            while counted < n:
                day += timedelta(days=1)
                if self.is_workday(day):
                    counted += 1
            found = self._memo[key] = day
        return found

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end`` ≤ ``start``)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count

    def latest_overdue_start(self, today: date, n: int) -> date:
        """The latest start date whose ``n``-working-day deadline is already past on ``today``.

        A case that started on or before this date and is still not done is overdue; because deadlines never
        move backwards as the start moves forward, this one date turns "overdue" into a plain SQL comparison.
        """
        key = ("overdue", today, n)
        found = self._memo.get(key)
        if found is None:
            start = today - timedelta(days=1)
            while self.add_workdays(start, n) >= today:
                start -= timedelta(days=1)
            found = self._memo[key] = start
        return found


# The package's names, in the words of the State Council's notices.
PACKAGE_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def _package() -> tuple[dict[date, bool], dict[date, str], frozenset[int]]:
    days = {day: False for day in chinese_calendar.holidays} | {day: True for day in chinese_calendar.workdays}
    names = {day: PACKAGE_NAMES.get(str(name), str(name))
             for day, name in (chinese_calendar.holidays | chinese_calendar.workdays).items()}
    first, last = min(days).year, max(days).year
    return days, names, frozenset(range(first, last + 1))


_PACKAGE_DAYS, _PACKAGE_NAMES, PACKAGE_YEARS = _package()
PACKAGE = Calendar(_PACKAGE_DAYS, PACKAGE_YEARS)

# The package's calendar alone, for code that has no county (staff deadlines use :func:`calendar`).
is_known = PACKAGE.is_known
is_workday = PACKAGE.is_workday
add_workdays = PACKAGE.add_workdays
workdays_between = PACKAGE.workdays_between
latest_overdue_start = PACKAGE.latest_overdue_start


# --- the counties' calendars, cached per database --------------------------------------------------------

_cache: dict[str, tuple[float, dict[str, Calendar]]] = {}
_cache_lock = threading.Lock()


def county_code(region: Region) -> str:
    """The code of the county a region lies in (its path starts with it)."""
    return region.path.strip("/").split("/", 1)[0]


def invalidate() -> None:
    with _cache_lock:
        _cache.clear()


def _load(session: Session) -> dict[str, Calendar]:
    entered: dict[str, dict[int, dict[date, bool]]] = {}
    rows = session.execute(
        select(Region.code, HolidayCalendar.year, CalendarDay.day, CalendarDay.working)
        .join(HolidayCalendar, HolidayCalendar.region_id == Region.id)
        .outerjoin(CalendarDay, CalendarDay.calendar_id == HolidayCalendar.id)
    )
    for code, year, day, working in rows:
        year_days = entered.setdefault(code, {}).setdefault(year, {})
        if day is not None:
            year_days[day] = working
    calendars = {}
    for code, years in entered.items():
        days = {d: w for d, w in _PACKAGE_DAYS.items() if d.year not in years}
        for year_days in years.values():
            days.update(year_days)
        calendars[code] = Calendar(days, PACKAGE_YEARS | frozenset(years))
    return calendars


def calendar(session: Session, region: Region | None) -> Calendar:
    """The working-day calendar of the county ``region`` lies in (the package's when it entered none)."""
    if region is None:
        return PACKAGE
    key = str(session.get_bind().url)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is None or now - cached[0] > RELOAD_SECONDS:
        calendars = _load(session)
        with _cache_lock:
            _cache[key] = cached = (now, calendars)
    return cached[1].get(county_code(region), PACKAGE)


def missing_years(cal: Calendar, today: date) -> list[int]:
    """The years a dashboard should ask for: this one if unknown, and next year's from 1 December."""
    years = [today.year] if not cal.is_known(today) else []
    if (today.month, today.day) >= WARN_FROM and today.year + 1 not in cal.years:
        years.append(today.year + 1)
    return years


# --- the county admin's screen ------------------------------------------------------------------------

COUNTY_ADMIN_ONLY = _l("只有县级系统管理员可以维护本县的节假日安排。")
MAX_LINES = 60
MAX_RANGE_DAYS = 15
DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
SEPARATORS = re.compile(r"[\s至到~～—–\-－,，、:：;；()（）]+")


def is_county_admin(user: User) -> bool:
    return user.role == Role.admin and user.region.level == Level.county


def get_county(session: Session, actor: User, region_id: int) -> Region:
    """The county whose calendar ``actor`` may keep: 404 outside their scope, 403 for anyone but its admin."""
    county = scope.get_region(session, actor, region_id)
    if county.level != Level.county:
        raise NotFound(_l("节假日安排按县（区）维护，请从县一级进入。"))
    if not is_county_admin(actor):
        raise Forbidden(COUNTY_ADMIN_ONLY)
    return county


def own_county(actor: User) -> Region:
    """The county admin's own county (the screen's starting point)."""
    if not is_county_admin(actor):
        raise Forbidden(COUNTY_ADMIN_ONLY)
    return actor.region


@dataclass(frozen=True)
class Period:
    name: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class YearCalendar:
    """A year as the screen shows it: from the county's table, the package, or nowhere yet."""

    year: int
    source: str | None  # "county" | "package" | None
    holidays: list[Period]
    makeup_days: list[Period]
    updated_by_name: str | None = None
    updated_at: datetime | None = None

    @staticmethod
    def lines(periods: list[Period]) -> str:
        return "\n".join(f"{p.name} {p.start.isoformat()}" + (f" 至 {p.end.isoformat()}" if p.end != p.start else "")
                         for p in periods)


def _periods(days: list[tuple[date, str]]) -> list[Period]:
    """Consecutive days of the same name as one period."""
    periods: list[Period] = []
    for day, name in sorted(days):
        last = periods[-1] if periods else None
        if last is not None and last.name == name and last.end + timedelta(days=1) == day:
            periods[-1] = Period(name, last.start, day)
        else:
            periods.append(Period(name, day, day))
    return periods


def _entered(session: Session, county: Region, year: int) -> HolidayCalendar | None:
    return session.scalar(select(HolidayCalendar).where(HolidayCalendar.region_id == county.id,
                                                        HolidayCalendar.year == year))


def _check_year(year: int) -> None:
    if not 2000 <= year <= clock.today().year + 2:
        raise NotFound(_l("只能维护 2000 年到后年的节假日安排。"))


def year_calendar(session: Session, county: Region, year: int) -> YearCalendar:
    _check_year(year)
    row = _entered(session, county, year)
    if row is not None:
        return YearCalendar(year, "county", _periods([(d.day, d.name) for d in row.days if not d.working]),
                            _periods([(d.day, d.name) for d in row.days if d.working]),
                            row.updated_by_name, row.updated_at)
    if year in PACKAGE_YEARS:
        off = [(d, _PACKAGE_NAMES[d]) for d, w in _PACKAGE_DAYS.items() if d.year == year and not w]
        on = [(d, _PACKAGE_NAMES[d]) for d, w in _PACKAGE_DAYS.items() if d.year == year and w]
        return YearCalendar(year, "package", _periods(off), _periods(on))
    return YearCalendar(year, None, [], [])


def overview(session: Session, county: Region, today: date) -> list[YearCalendar]:
    """Last year, this year and next year, with where each comes from."""
    return [year_calendar(session, county, year) for year in range(today.year - 1, today.year + 2)]


def parse_periods(text: str, year: int, field: str) -> list[Period]:
    """Lines like "春节 2027-02-06 至 2027-02-13" or "2027-02-20 春节调休": one date or a range, and a name.
    Every line that cannot be read is reported (its number and why), all at once."""
    with collect() as problems:
        periods = _read_periods(problems, text, year, field)
    return periods


def _read_periods(problems: Problems, text: str, year: int, field: str) -> list[Period]:
    """:func:`parse_periods` into ``problems``: the lines that could be read, and a problem for each other."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) > MAX_LINES:
        problems.add(field, _l("最多 %(n)d 行。", n=MAX_LINES))
        return []
    periods = []
    for number, line in enumerate(lines, start=1):
        period = problems.check(_period, line, number, year, field)
        if period is not None:
            periods.append(period)
    return periods


def _period(line: str, number: int, year: int, field: str) -> Period:
    """One line of :func:`parse_periods`, or its first problem."""
    found = DATE_RE.findall(line)
    if not found or len(found) > 2:
        raise Invalid(_l("第 %(n)d 行看不懂：请写成“春节 %(year)d-02-06 至 %(year)d-02-13”，一个日期或一段日期。",
                         n=number, year=year), field=field)
    dates = []
    for y, m, d in found:
        try:
            dates.append(date(int(y), int(m), int(d)))
        except ValueError:
            raise Invalid(_l("第 %(n)d 行：%(text)s 不是有效的日期。", n=number, text=f"{y}-{m}-{d}"),
                          field=field) from None
    start, end = dates[0], dates[-1]
    if any(d.year != year for d in dates):
        raise Invalid(_l("第 %(n)d 行：日期不在 %(year)d 年内。", n=number, year=year), field=field)
    if end < start:
        raise Invalid(_l("第 %(n)d 行：结束日期早于开始日期。", n=number), field=field)
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise Invalid(_l("第 %(n)d 行：一段假期最长 %(max)d 天。", n=number, max=MAX_RANGE_DAYS), field=field)
    name = SEPARATORS.sub(" ", DATE_RE.sub(" ", line)).strip()
    if len(name) > 20:
        raise Invalid(_l("第 %(n)d 行：名称最多 20 个字。", n=number), field=field)
    return Period(name, start, end)


def _each_day(periods: list[Period]) -> dict[date, str]:
    return {p.start + timedelta(days=i): p.name for p in periods for i in range(p.days)}


def save_year(session: Session, actor: User, county: Region, year: int, *, holidays: str,
              makeup_days: str) -> HolidayCalendar:
    """Enter (or replace) the county's arrangement for ``year``; deadlines use it from the next request on."""
    county = get_county(session, actor, county.id)
    _check_year(year)
    with collect() as problems:  # every problem of both lists at once, before anything is written
        off = _each_day(_read_periods(problems, holidays, year, "holidays"))
        on = _each_day(_read_periods(problems, makeup_days, year, "makeup_days"))  # (each line read is checked)
        if not off and not problems.has("holidays"):
            problems.add("holidays", _l("请填写这一年的节假日（国务院办公厅通知里的放假安排）。"))
        for day in sorted(on):
            if day in off:
                problems.add("makeup_days", _l("%(day)s 既是假日又是调休上班日，请核对。", day=day.isoformat()))
            elif day.weekday() < 5:
                problems.add("makeup_days", _l("%(day)s 是工作日，调休上班日只会是周六或周日，请核对。",
                                               day=day.isoformat()))
    before = _load(session).get(county.code, PACKAGE)  # as stored now, not as this process last cached it
    row = _entered(session, county, year)
    created = row is None
    if row is None:
        row = HolidayCalendar(region_id=county.id, year=year)
        session.add(row)
    row.updated_at = clock.now()
    row.updated_by_id = actor.id
    row.updated_by_name = actor.display_name
    if row.days:
        # The old days go first: the unit of work inserts before it deletes, and a day kept from the last save
        # would break the (calendar, day) unique key — correcting an entered year answered 500.
        row.days.clear()
        session.flush()
    row.days = ([CalendarDay(day=d, working=False, name=name[:40]) for d, name in sorted(off.items())]
                + [CalendarDay(day=d, working=True, name=name[:40]) for d, name in sorted(on.items())])
    session.flush()
    # Stored answer deadlines of open objections and reports are counted again (feedback imports this module).
    from dibao import feedback

    moved = feedback.recount_deadlines(session, actor, county, before, _load(session).get(county.code, PACKAGE))
    audit.record(session, actor, "holiday_calendar_saved", "holiday_calendar", f"{county.code}/{year}",
                 region_id=county.id, details={"year": year, "created": created, "holidays": len(off),
                                               "makeup_days": len(on), "deadlines_moved": moved})
    # Every process reads the table again; this one at once, after the change is committed.
    event.listen(session, "after_commit", lambda _session: invalidate(), once=True)
    return row
