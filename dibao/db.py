"""Database plumbing: the declarative base, engines, and the request-scoped session.

One session per request (or CLI command), committed once by the view after the domain call.
SQLite runs in WAL mode with a busy timeout; writing requests open their transaction with
``BEGIN IMMEDIATE`` so that two concurrent writers queue on the lock instead of failing with
"database is locked" when one of them tries to upgrade a read snapshot.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TypeVar

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event, insert, make_url, select, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from dibao.crypto import EncryptedString
from dibao.errors import parse_record_id

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


T = TypeVar("T")

IN_CHUNK = 500  # values in one ``IN (…)`` list: well under SQLite's limit of bound parameters


def chunks(items: Sequence, size: int = IN_CHUNK) -> Iterator[Sequence]:
    """``items`` in slices of ``size``, for statements that take them in an ``IN`` list."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


_pause = {"works": 0, "was_enabled": True}  # the bulk works pausing the cycle collector (below), and its state before
_pause_lock = threading.Lock()


@contextmanager
def without_cycle_collector() -> Iterator[None]:
    """Pause Python's cycle collector during a bulk work: a roster import builds hundreds of thousands of rows
    and cells, a board's publishing tens of thousands of rows and events beside the session's loaded cases, and
    each full collection walks all of them again (a fifth of an import, a third of a publish) while none of them
    is garbage yet.
    Reference counting still frees everything as usual; cycles wait for the end. Nested or concurrent bulk works
    share the pause: the collector comes back when the last one ends, and only if it was on before."""
    with _pause_lock:
        if _pause["works"] == 0:
            _pause["was_enabled"] = gc.isenabled()
            gc.disable()
        _pause["works"] += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause["works"] -= 1
            if _pause["works"] == 0 and _pause["was_enabled"]:
                gc.enable()


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys, every column the statement needs) with one DB-API
    ``executemany`` (``COPY`` on PostgreSQL) in the session's transaction, each value through its column's
    bind processor (encryption, dates, enums) as Core would — but without Core's per-row parameter building, which
    cost the bulk writers (a roster import, a board of 10,000 entries, their audit events) more than the
    database's own insert. A column whose processor cannot encrypt is processed once per distinct value: a
    batch's rows share their times and codes. Like any Core insert, flush hooks do not see these rows (callers
    note what they wrote)."""
    if not rows:
        return
    keys = list(rows[0])
    connection = session.connection()
    dialect = connection.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
    unknown = set(names) - set(keys)
    if unknown:  # a column with a Python-side default: Core would compute it per row; say it instead
        raise ValueError(f"insert_rows into {table.name}: no value for {sorted(unknown)}")
    # Processed column by column (one pass per column, not a call per value): the rows' values, transposed.
    pick = itemgetter(*names)
    values_of_rows = map(pick, rows) if len(names) > 1 else ((pick(row),) for row in rows)
    columns = []
    for name, values in zip(names, zip(*values_of_rows, strict=True), strict=True):
        column = table.c[name]
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            if isinstance(column.type, EncryptedString):  # never once per value: each gets its own nonce
                values = [None if v is None else process(v) for v in values]
            else:
                values = _processed_once(process, values)
        columns.append(values)
    params: list = list(zip(*columns, strict=True))
    if dialect.name == "postgresql":
        # COPY, in the same transaction: a third of psycopg's pipelined executemany of the same rows.
        quote = dialect.identifier_preparer
        listed = ", ".join(quote.quote(table.c[name].name) for name in names)
        with (connection.connection.driver_connection.cursor() as cursor,
              cursor.copy(f"COPY {quote.format_table(table)} ({listed}) FROM STDIN") as copy):
            for values in params:
                copy.write_row(values)
        return
    if not compiled.positional:
        params = [dict(zip(names, values, strict=True)) for values in params]
    connection.exec_driver_sql(compiled.string, params)


def locked(session: Session, obj: T) -> T:
    """``obj`` re-read from the database and its row locked to the end of the transaction (``FOR UPDATE`` on
    PostgreSQL; SQLite's writing transactions already run one at a time). Of two requests deciding the same thing
    at the same moment (a double click, two clerks, two workers), the second waits for the first to commit and then
    sees what it did, so its own checks refuse it instead of doing the work twice. Pending changes are flushed
    first (autoflush), so nothing this transaction did is lost."""
    model = type(obj)
    key = model.__mapper__.primary_key[0]
    return session.scalars(select(model).where(key == getattr(obj, key.key)).with_for_update(of=model)
                           .execution_options(populate_existing=True)).one()


def get_record(session: Session, model: type[T], ident: Any) -> T | None:
    """The row of ``model`` whose id is ``ident`` as a user sent it (a URL's, a form's, the command line's), or None:
    also for an id no key can be (:func:`dibao.errors.parse_record_id`), which names nothing and is never sent to
    the database to overflow its integer."""
    number = parse_record_id(ident)
    return session.get(model, number) if number is not None else None


def new_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` primary keys for rows about to be inserted with :func:`insert_rows`, so a bulk writer knows its
    rows' ids without reading them back (an insert that returns them runs one statement per row on SQLite).

    PostgreSQL: drawn from the table's sequence, as an INSERT would draw them (unique under any concurrency).
    SQLite: the ones after the highest id, read under the database's write lock — taken first by an empty
    write — so no other writer can take them before this transaction ends (SQLite's own choice for a new row
    is also the highest id plus one)."""
    if count <= 0:
        return []
    connection = session.connection()
    name = table.name
    if connection.dialect.name == "postgresql":
        return list(connection.execute(text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": name, "n": count}).scalars())
    connection.exec_driver_sql(f'DELETE FROM "{name}" WHERE 0')  # noqa: S608 - the write lock, nothing deleted
    highest = connection.exec_driver_sql(f'SELECT coalesce(max(id), 0) FROM "{name}"').scalar()  # noqa: S608
    return list(range(highest + 1, highest + 1 + count))


def _processed_once(process, values: list) -> list:
    """``process`` of each value, computed once per distinct value (None stays None)."""
    try:
        done = {v: process(v) for v in set(values) if v is not None}
    except TypeError:  # unhashable values (a dict for a JSON column)
        return [None if v is None else process(v) for v in values]
    done[None] = None
    return [done[v] for v in values]


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every engine (SQLite keeps no zone, so store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _create_private(path: str | None) -> None:
    """Create a new SQLite file readable by the service user only (SQLite gives its -wal and -shm files the
    database file's mode)."""
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _create_private(make_url(url).database)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            # Let SQLAlchemy emit BEGIN itself (the driver's implicit transactions are deferred).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            mode = "IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # hide_parameters: a database error in a log never carries the row's values (ID numbers, phones, accounts).
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["dibao.engine"] = engine
    app.extensions["dibao.sessions"] = sessionmaker(engine, expire_on_commit=False)
    app.extensions["dibao.write_sessions"] = sessionmaker(
        engine.execution_options(sqlite_immediate=True), expire_on_commit=False
    )
    app.teardown_appcontext(_close_session)


_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def session() -> Session:
    """The session of this request or command (created on first use)."""
    if "db_session" not in g:
        writing = not has_request_context() or request.method in _WRITE_METHODS
        key = "dibao.write_sessions" if writing else "dibao.sessions"
        g.db_session = current_app.extensions[key]()
    return g.db_session


def engine() -> Engine:
    return current_app.extensions["dibao.engine"]


def _close_session(exc: BaseException | None) -> None:
    sess: Session | None = g.pop("db_session", None)
    if sess is not None:
        # Anything not committed by the view is discarded: nothing half-saved.
        sess.rollback()
        sess.close()
