"""Importing 10,000 households (dibao.imports, the confirm step: read, check, write, one audit event each) as a
ratio to reading the same file with the same reader (python-calamine) plus a bare ``executemany`` of the same
rows into a table of the same columns, measured in the same run on the same SQLite database. Target: ≤ 3×.

The file (tests.roster_files.clean_rows) gives each household its own phone and address, as a real roster does:
the import checks each distinct phone once, so a file of one repeated phone would hide that check's cost.
BENCH_IMPORT_RUNS=n repeats the pair (a fresh database each time) and prints the median.

Then the same pair on PostgreSQL, the engine of real deployments (DESIGN.md), when the server ``BENCH_PG_URL``
(default: the local one as postgres) answers: a scratch database per run, created and dropped. There the baseline's
bare ``executemany`` is psycopg's (pipelined), and the import writes with ``COPY`` (dibao.db.insert_rows) while the
server's own work runs in its own process.

Then what the import cannot do without, each measured alone (``floor``, ``inserts``, ``read_alone``): the file's
read, the checks and keys the rules require, one chained audit event per household, and the database's inserts
of the rows the import wrote (into a twin database with the same indexes). Their sum is the least an import can
take on one core, whatever its own code costs."""

import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, app_context, prepared_sqlite

sys.path.insert(0, str(ROOT))

from tests.roster_files import clean_rows, write  # noqa: E402 - this checkout's, after the path above

HOUSEHOLDS = 10_000
PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
COMMUNITIES = [f"990001{i:03d}" for i in range(1, 11)]


def arrange(url: str) -> None:
    from datetime import date
    from decimal import Decimal

    from dibao import accounts, db, entitlement, regions
    from dibao.models import Role

    with app_context(url):
        sess = db.session()
        county = regions.create_region(sess, None, code="990", name="基准县", parent=None)
        town = regions.create_region(sess, None, code="990001", name="基准镇", parent=county)
        for code in COMMUNITIES:
            regions.create_region(sess, None, code=code, name=f"基准{code[-3:]}社区", parent=town)
        password = secrets.token_urlsafe(16)
        admin = accounts.create_user(sess, None, username="benchadmin", display_name="基准管理员",
                                     password=password, role=Role.admin, region=county)
        accounts.create_user(sess, None, username="benchcounty", display_name="基准审批", password=password,
                             role=Role.county_approver, region=county)
        entitlement.set_standard(sess, admin, region=county, amount=Decimal("780"), effective_from=date(2020, 1, 1))
        sess.commit()


def baseline(url: str, path: Path) -> float:
    """The same reader, then the rows as they are into a scratch table with one executemany (the driver's own:
    sqlite3's, or psycopg's on PostgreSQL)."""
    from sqlalchemy import create_engine

    from dibao.imports import read_table

    engine = create_engine(url)
    started = time.perf_counter()
    table = read_table(path, path.name)
    width = len(table[0])
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        create = f"CREATE TABLE IF NOT EXISTS scratch ({', '.join(f'c{i} TEXT' for i in range(width))})"
        if engine.dialect.name == "postgresql":
            with raw.cursor() as cursor:
                cursor.execute(create)
                cursor.executemany(f"INSERT INTO scratch VALUES ({', '.join(['%s'] * width)})", table[1:])  # noqa: S608
        else:
            raw.execute(create)
            raw.executemany(f"INSERT INTO scratch VALUES ({', '.join('?' * width)})", table[1:])  # noqa: S608
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def read_alone(path: Path) -> float:
    from dibao.imports import read_table

    started = time.perf_counter()
    read_table(path, path.name)
    return time.perf_counter() - started


def import_file(url: str, path: Path) -> tuple[float, int]:
    from sqlalchemy import select

    from dibao import db, imports
    from dibao.models import User

    with app_context(url, JOBS_DIR=str(path.parent)):
        sess = db.session()
        actor = sess.scalar(select(User).where(User.username == "benchcounty"))
        started = time.perf_counter()
        report = imports.import_roster(sess, actor, path, path.name)
        sess.commit()
        return time.perf_counter() - started, report.imported


IMPORTED_TABLES = ("dibao_case", "case_member", "member_income", "payment_account", "amount_period")


def inserts(source: str, target: str) -> float:
    """The database's own work of the import's writes, alone: the rows one import wrote (already encrypted and
    converted, read back from ``source``) inserted with one bare ``executemany`` a table into ``target`` — a twin
    database arranged alike, so the same indexes and foreign keys — and rolled back. The audit events are left
    out: :func:`floor` times their append, insert included."""
    import sqlite3

    def path(url: str) -> str:
        return url.removeprefix("sqlite:///")

    src = sqlite3.connect(path(source))
    batches = []
    for table in IMPORTED_TABLES:
        cur = src.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - the bench's own table names
        width = len(cur.description)
        batches.append((f'INSERT INTO "{table}" VALUES ({", ".join("?" * width)})', cur.fetchall()))  # noqa: S608
    src.close()
    dst = sqlite3.connect(path(target), isolation_level=None)
    dst.execute("PRAGMA foreign_keys=ON")
    dst.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    dst.execute("BEGIN IMMEDIATE")
    for statement, values in batches:
        dst.executemany(statement, values)
    elapsed = time.perf_counter() - started
    dst.execute("ROLLBACK")
    dst.close()
    return elapsed


def floor(url: str, rows: list[dict]) -> tuple[float, float]:
    """What the rules require per row, alone: the ID check (stdnum) of every person, the phone check
    (phonenumbers), encryption (dibao.crypto) and the keyed hash of every ID number and account, and one hash-chained audit
    event per household (dibao.audit.append_many, 500 at a time, as the import) — rolled back."""
    from sqlalchemy import select

    from dibao import audit, db
    from dibao.crypto import blind_index, encrypt
    from dibao.identity import normalise_id_number, normalise_phone
    from dibao.models import User

    with app_context(url):
        sess = db.session()
        actor = sess.scalar(select(User).where(User.username == "benchcounty"))
        started = time.perf_counter()
        for row in rows:
            number = normalise_id_number(row["id_number"], required=False)
            encrypt(number)
            blind_index(number)
            if row["relation"] == "本人":
                encrypt(number)  # the head's number is on the case too
                normalise_phone(row["phone"])
                encrypt(row["account_number"])
                blind_index(row["account_number"])
        checks = time.perf_counter() - started
        started = time.perf_counter()
        entries = [audit.Entry("case_imported", "case", n, None, {"row": n}) for n in range(HOUSEHOLDS)]
        for start in range(0, HOUSEHOLDS, 500):  # as the import appends them
            audit.append_many(sess, actor, entries[start:start + 500])
        events = time.perf_counter() - started
        sess.rollback()
        return checks, events


def postgres_pairs(rows: list[dict], runs: int) -> list[tuple[float, float]] | None:
    """The baseline and the import on PostgreSQL, ``runs`` times, each in a scratch database of its own (an import
    refuses ID numbers already on file); None when no server answers."""
    from sqlalchemy import create_engine, make_url, text

    from dibao import migrate

    admin_url = make_url(PG).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    pairs = []
    try:
        for _ in range(runs):
            name = f"dibao_bench_import_{secrets.token_hex(4)}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = admin_url.set(database=name).render_as_string(hide_password=False)
            try:
                engine = create_engine(url)
                migrate.upgrade(engine)
                engine.dispose()
                arrange(url)
                workdir = Path(tempfile.mkdtemp(prefix="dibao-bench-import-pg-"))
                path = write(workdir / "roster.xlsx", rows)
                base = baseline(url, path)
                took, imported = import_file(url, path)
                assert imported == HOUSEHOLDS, imported
                pairs.append((base, took))
                print(f"  run (PostgreSQL): read + bare {base:.2f} s, import {took:.2f} s, {took / base:.2f} ×",
                      flush=True)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception as err:  # noqa: BLE001 - a bench without a server says so and goes on
        if not pairs:
            print(f"PostgreSQL skipped ({type(err).__name__}: {err})")
            return None
        raise
    finally:
        admin.dispose()
    return pairs


if __name__ == "__main__":
    import statistics

    rows = clean_rows(HOUSEHOLDS, COMMUNITIES)
    twin = prepared_sqlite(tempfile.mkdtemp(prefix="dibao-bench-import-twin-"))
    arrange(twin)
    pairs, writes = [], []
    for _ in range(int(os.environ.get("BENCH_IMPORT_RUNS") or 1)):
        workdir = Path(tempfile.mkdtemp(prefix="dibao-bench-import-"))
        url = prepared_sqlite(str(workdir))
        arrange(url)
        path = write(workdir / "roster.xlsx", rows)
        base = baseline(url, path)
        took, imported = import_file(url, path)
        assert imported == HOUSEHOLDS, imported
        pairs.append((base, took))
        writes.append(inserts(url, twin))
        print(f"  run: read + bare {base:.2f} s, import {took:.2f} s, {took / base:.2f} ×", flush=True)
    base = statistics.median(b for b, _ in pairs)
    took = statistics.median(t for _, t in pairs)
    checks, events = floor(url, rows)
    written = statistics.median(writes)
    print(f"file: {HOUSEHOLDS} households, {len(rows)} rows, {path.stat().st_size // 1024} KiB xlsx")
    print(f"read (calamine) + bare executemany of the rows   {base:7.2f} s   1.00 ×")
    print(f"import of {HOUSEHOLDS} households (check + write)  {took:7.2f} s   {took / base:4.2f} ×   (target ≤ 3 ×)")
    print(f"  median ratio of the runs   {statistics.median(t / b for b, t in pairs):4.2f} ×")
    print(f"  the ID and phone checks, encryption and keyed hashes alone   {checks:7.2f} s   {checks / base:4.2f} ×")
    print(f"  one audit event per household alone (dibao.audit.append_many)   {events:7.2f} s   {events / base:4.2f} ×")
    print(f"  the database's inserts of the import's rows alone (bare executemany)   {written:7.2f} s   {written / base:4.2f} ×")
    # What the import cannot do without, each measured alone: the file's read (the baseline's own, with its
    # executemany left out), the checks and keys, the events' chain, the inserts.
    read = min(read_alone(path) for _ in range(3))
    print(f"  reading the file alone (calamine)   {read:7.2f} s   {read / base:4.2f} ×")
    least = read + checks + events + written
    print(f"  the sum of those four, on one core   {least:7.2f} s   {least / base:4.2f} ×")
    pg = postgres_pairs(rows, int(os.environ.get("BENCH_IMPORT_RUNS") or 1))
    if pg:
        base = statistics.median(b for b, _ in pg)
        took = statistics.median(t for _, t in pg)
        print("PostgreSQL (the engine of real deployments; the import writes with COPY):")
        print(f"read (calamine) + bare executemany (psycopg) of the rows   {base:7.2f} s   1.00 ×")
        print(f"import of {HOUSEHOLDS} households (check + write)  {took:7.2f} s   {took / base:4.2f} ×   (target ≤ 3 ×)")
        print(f"  median ratio of the runs   {statistics.median(t / b for b, t in pg):4.2f} ×")
