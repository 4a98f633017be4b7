"""Dates and times as people read them, in the reader's language (Flask-Babel, CLDR patterns): the database
keeps UTC, pages show the deployment's zone. Templates use the ``localdate`` and ``localtime`` filters with a
named style, never a strftime pattern (which would show "2026年03月18日" to English-speaking staff)."""

from __future__ import annotations

from datetime import date, datetime

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
