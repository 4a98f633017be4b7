"""Chinese working days (工作日): weekends and public holidays off, make-up Saturdays/Sundays (调休) on.

The calendar is the ``chinese_calendar`` package, which carries the State Council's holiday notices year
by year. For a year it does not know yet (the notice for next year comes out in late autumn) we fall back
to Monday–Friday and say so (:func:`is_known`), rather than failing.

Deadlines are counted in local calendar dates: "within N working days of D" is the N-th working day after
D (D itself does not count), and the work is late from the next day on.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar


def is_known(day: date) -> bool:
    """Whether the holiday calendar covers ``day``'s year."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def add_workdays(start: date, n: int) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted); ``n`` ≥ 1."""
    if n < 1:
        raise ValueError("n must be at least 1")
    day = start
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    return day


def workdays_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` ≤ ``start``)."""
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_workday(day):
            count += 1
    return count


def latest_overdue_start(today: date, n: int) -> date:
    """The latest start date whose ``n``-working-day deadline is already past on ``today``.

    A case that started on or before this date and is still not done is overdue; because deadlines never
    move backwards as the start moves forward, this one date turns "overdue" into a plain SQL comparison.
    """
    start = today - timedelta(days=1)
    while add_workdays(start, n) >= today:
        start -= timedelta(days=1)
    return start
