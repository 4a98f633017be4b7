"""Rate limits shared by every worker and server: a ``limits`` storage kept in the application's database.

``make run`` serves with two gunicorn workers and a deployment may run several servers; Flask-Limiter's memory
storage counts in each process separately, so every documented limit held only per worker. Without
``DIBAO_REDIS_URL`` the limiter uses this storage (``dibao+db://``): one row per counter, incremented with one
atomic upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING``, SQLite ≥ 3.35 and PostgreSQL), on the engine of
the app serving the request, outside the request's own transaction.
"""

from __future__ import annotations

import secrets
import time

from flask import current_app
from limits.storage import Storage
from sqlalchemy import case, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from dibao.models.limits import RateLimitCounter

SCHEME = "dibao+db"
_counters = RateLimitCounter.__table__


class DatabaseStorage(Storage):
    """The fixed-window strategy's storage (``incr``, ``get``, ``get_expiry``), counters in ``rate_limit``."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    @staticmethod
    def _engine() -> Engine:
        # The app serving the request: each app (and each test's app) counts in its own database.
        return current_app.extensions["dibao.engine"]

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        engine = self._engine()
        insert = (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(_counters)
        expired = _counters.c.expires_at <= now
        stmt = insert.values(key=key, count=amount, expires_at=now + expiry).on_conflict_do_update(
            index_elements=[_counters.c.key],
            set_={"count": case((expired, amount), else_=_counters.c.count + amount),
                  "expires_at": case((expired, now + expiry), else_=_counters.c.expires_at)},
        ).returning(_counters.c.count)
        with engine.begin() as conn:
            count = conn.execute(stmt).scalar_one()
            if secrets.randbelow(200) == 0:  # now and then, forget counters long past their window
                conn.execute(delete(_counters).where(_counters.c.expires_at < now - 3600))
        return count

    def get(self, key: str) -> int:
        with self._engine().connect() as conn:
            count = conn.execute(select(_counters.c.count).where(_counters.c.key == key,
                                                                _counters.c.expires_at > time.time())).scalar()
        return count or 0

    def get_expiry(self, key: str) -> float:
        with self._engine().connect() as conn:
            expires = conn.execute(select(_counters.c.expires_at).where(_counters.c.key == key)).scalar()
        return expires if expires is not None else time.time()

    def check(self) -> bool:
        try:
            with self._engine().connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self._engine().begin() as conn:
            count = conn.execute(select(func.count()).select_from(_counters)).scalar_one()
            conn.execute(delete(_counters))
        return count

    def clear(self, key: str) -> None:
        with self._engine().begin() as conn:
            conn.execute(delete(_counters).where(_counters.c.key == key))
