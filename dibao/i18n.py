"""Dates and times as people read them, in the reader's language (Flask-Babel, CLDR patterns): the database
keeps UTC, pages show the deployment's zone. Templates use the ``localdate`` and ``localtime`` filters with a
named style, never a strftime pattern (which would show "2026年03月18日" to English-speaking staff)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from babel import Locale, dates
from flask_babel import get_locale

from dibao import clock

# style → a CLDR pattern name or pattern (format_date / format_datetime), or ("skeleton", S) for a skeleton the
# locale itself spells (yMMMM → "2026年3月" / "March 2026").
DATE_STYLES = {"long": "long", "numeric": "yyyy-MM-dd", "month": ("skeleton", "yMMMM"), "weekday": "EEEE"}
TIME_STYLES = {"minute": "yyyy-MM-dd HH:mm", "second": "yyyy-MM-dd HH:mm:ss", "clock": "HH:mm"}


def _locale() -> Locale:
    return get_locale() or Locale.parse("zh_CN")  # outside a request (CLI, sweep): the source language


def localdate(value: date | datetime | None, style: str = "long") -> str:
    """A calendar date (or the local date of an instant): 2026年3月18日 / March 18, 2026."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = clock.to_local(value).date()
    pattern = DATE_STYLES[style]
    if isinstance(pattern, tuple):
        return dates.format_skeleton(pattern[1], value, locale=_locale())
    return dates.format_date(value, pattern, locale=_locale())


def localtime(instant: datetime | None, style: str = "minute") -> str:
    """An instant in the deployment's zone: 2026-03-18 10:00; ``day`` gives 3月18日 10:00 / Mar 18 10:00."""
    if instant is None:
        return ""
    local = clock.to_local(instant)
    if style in ("day", "long"):  # 3月18日 10:00 / Mar 18 10:00; long: 2026年3月18日 10:00
        day = dates.format_skeleton("MMMd", local, locale=_locale()) if style == "day" else localdate(local)
        return f"{day} {dates.format_time(local, 'HH:mm', tzinfo=clock.local_zone(), locale=_locale())}"
    return dates.format_datetime(local, TIME_STYLES[style], tzinfo=clock.local_zone(), locale=_locale())


def closing(instant: datetime | None, at: datetime | None = None) -> str:
    """When a window closes, said the same way on every page and the kiosk (issue 14): "今天 15:23 截止" on the
    last day, "明天 15:23 截止" the day before, "3月25日 15:23 截止" otherwise."""
    from flask_babel import gettext

    if instant is None:
        return ""
    local = clock.to_local(instant)
    days = (local.date() - clock.to_local(at or clock.now()).date()).days
    time = dates.format_time(local, "HH:mm", tzinfo=clock.local_zone(), locale=_locale())
    if days == 0:
        return gettext("今天 %(time)s 截止", time=time)
    if days == 1:
        return gettext("明天 %(time)s 截止", time=time)
    return gettext("%(day)s %(time)s 截止", day=dates.format_skeleton("MMMd", local, locale=_locale()), time=time)


def duration(delta: timedelta | None) -> str:
    """A length of time as people say it, in the reader's language: 3小时 / 3 hours, 2天 / 2 days."""
    if delta is None:
        return ""
    return dates.format_timedelta(delta, threshold=1.5, locale=_locale())
