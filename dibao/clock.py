"""The one clock of the application.

Everything that needs the current time calls :func:`now`. Tests move time with :func:`set_now` /
:func:`advance` (through the ``clock`` fixture) instead of sleeping. Times are aware and in UTC; the
deployment's local zone (``DIBAO_TIMEZONE``) is only used for display and for calendar dates.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_lock = threading.Lock()
_frozen: datetime | None = None
_local_zone = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current instant, aware, in UTC."""
    frozen = _frozen
    return frozen if frozen is not None else datetime.now(UTC)


def set_now(instant: datetime | None) -> None:
    """Freeze the clock at ``instant`` (aware); ``None`` lets it run again."""
    global _frozen
    if instant is not None and instant.tzinfo is None:
        raise ValueError("the clock only takes aware datetimes")
    with _lock:
        _frozen = instant.astimezone(UTC) if instant is not None else None


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward (or freeze it now and move it)."""
    set_now(now() + delta)
    return now()


def set_local_zone(name: str) -> None:
    global _local_zone
    _local_zone = ZoneInfo(name)


def local_zone() -> ZoneInfo:
    return _local_zone


def to_local(instant: datetime) -> datetime:
    return instant.astimezone(_local_zone)


def today() -> date:
    """Today's calendar date in the deployment's zone (deadlines are counted in local days)."""
    return to_local(now()).date()


def local_midnight(day: date) -> datetime:
    """The UTC instant at which ``day`` starts locally."""
    return datetime(day.year, day.month, day.day, tzinfo=_local_zone).astimezone(UTC)


@contextlib.contextmanager
def travel(instant: datetime) -> Iterator[None]:
    """Run a block as of ``instant``, then give the clock back (the demo builds its history this way)."""
    previous = _frozen
    set_now(instant)
    try:
        yield
    finally:
        set_now(previous)
