"""Issue 3: working days by the Chinese holiday calendar (holidays off, make-up days 调休 on).

The dates below were checked against chinese_calendar itself (the State Council notice for 2026):
Spring Festival holiday 2026-02-15 (Sun) … 2026-02-23 (Mon); make-up working Saturdays 2026-02-14 and
2026-02-28. The first test pins those facts so that every other test here stands on them.
"""

from datetime import date

import chinese_calendar
import pytest

from dibao import workdays


def test_the_calendar_facts_these_tests_rely_on():
    for day in range(15, 24):
        assert not chinese_calendar.is_workday(date(2026, 2, day)), day
    assert chinese_calendar.is_workday(date(2026, 2, 14))  # Saturday, make-up day
    assert chinese_calendar.is_workday(date(2026, 2, 28))  # Saturday, make-up day
    assert date(2026, 2, 14).weekday() == 5 and date(2026, 2, 28).weekday() == 5
    assert chinese_calendar.is_workday(date(2026, 2, 24))


def test_make_up_saturday_counts_and_holiday_week_does_not():
    assert workdays.is_workday(date(2026, 2, 14))
    assert not workdays.is_workday(date(2026, 2, 16))  # a Monday inside the holiday
    # Accepted Thursday 12 Feb: Fri 13, Sat 14 (make-up), then nothing until Tue 24 Feb.
    assert workdays.add_workdays(date(2026, 2, 12), 1) == date(2026, 2, 13)
    assert workdays.add_workdays(date(2026, 2, 12), 2) == date(2026, 2, 14)
    assert workdays.add_workdays(date(2026, 2, 12), 3) == date(2026, 2, 24)


def test_ten_working_days_across_the_spring_festival():
    # From Wed 11 Feb: 12, 13, 14(Sat make-up), 24, 25, 26, 27, 28(Sat make-up), 2 Mar, 3 Mar.
    assert workdays.add_workdays(date(2026, 2, 11), 10) == date(2026, 3, 3)
    # weekday() < 5 would have said 25 Feb: the holiday calendar matters.
    assert workdays.workdays_between(date(2026, 2, 11), date(2026, 3, 3)) == 10


def test_ordinary_week_and_weekend():
    # Wed 18 Mar 2026: Thu 19, Fri 20, Mon 23.
    assert workdays.add_workdays(date(2026, 3, 18), 3) == date(2026, 3, 23)
    assert not workdays.is_workday(date(2026, 3, 21))


def test_thirty_working_days_over_national_day_2026():
    assert workdays.add_workdays(date(2026, 9, 21), 30) == _count_by_hand(date(2026, 9, 21), 30)


def _count_by_hand(start, n):
    from datetime import timedelta

    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return day


def test_year_outside_the_calendar_falls_back_to_weekdays():
    assert not workdays.is_known(date(2030, 1, 7))
    assert workdays.is_workday(date(2030, 1, 7))  # a Monday
    assert not workdays.is_workday(date(2030, 1, 5))  # a Saturday


def test_latest_overdue_start_matches_add_workdays():
    today = date(2026, 2, 25)
    start = workdays.latest_overdue_start(today, 3)
    assert workdays.add_workdays(start, 3) < today
    from datetime import timedelta

    assert workdays.add_workdays(start + timedelta(days=1), 3) >= today


def test_n_must_be_positive():
    with pytest.raises(ValueError):
        workdays.add_workdays(date(2026, 3, 2), 0)
