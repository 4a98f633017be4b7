"""Generating a county's monthly payment run (dibao.payments.generate: the lines, arrears, carried failures, the
towns to check, the totals, one audit event) for N households on PostgreSQL, as a ratio to a bare
``INSERT … SELECT`` of the same rows (the same select of the amounts in force) into payment_line, measured in the
same run on the same database. Target: ≤ 3×. Also shown: the same insert into a table without keys or indexes
(payment_line's two foreign keys, to the run and to the household, cost about as much as the select itself).

N is 100,000 (``BENCH_PAYMENTS_N`` to change it); the server is ``BENCH_PG_URL`` (default: the local
PostgreSQL as postgres). A scratch database is created and dropped."""

import os
import secrets
import statistics
import sys
import time
from datetime import UTC, date, datetime

from common import ROOT

sys.path.insert(0, str(ROOT))

N = int(os.environ.get("BENCH_PAYMENTS_N", "100000"))
PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TOWNS, COMMUNITIES_PER_TOWN = 10, 10
MONTHS = [date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)]
RECONCILE: list[float] = []  # payments.reconcile of each run (the run page and the dashboard panel use it)


def scratch_database() -> tuple[str, object]:
    from sqlalchemy import create_engine, make_url, text

    admin_url = make_url(PG).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"dibao_bench_payments_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    from dibao import migrate  # this checkout's migrations (ROOT is first on sys.path)

    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url, admin


def arrange(url: str) -> None:
    """N households approved in 2026 (sizes 1–4, four categories), their members and amount periods, written in
    bulk (the workflow would take hours for 100,000); a tenth of them with a later adjustment."""
    from sqlalchemy import text

    from dibao import db, regions
    from dibao.crypto import blind_index, encrypt
    from dibao.models import AmountChange, Stage, WorkCapacity

    with app_context_for(url):
        sess = db.session()
        county = regions.create_region(sess, None, code="990", name="基准县", parent=None)
        communities = []
        for t in range(1, TOWNS + 1):
            town = regions.create_region(sess, None, code=f"990{t:03d}", name=f"基准{t}镇", parent=county)
            for c in range(1, COMMUNITIES_PER_TOWN + 1):
                communities.append(regions.create_region(sess, None, code=f"990{t:03d}{c:03d}", name=f"{t}-{c}社区",
                                                         parent=town))
        sess.commit()
        # the rows themselves, by generate_series (one ciphertext of a made-up ID number for every head)
        cipher = encrypt("110101195003071234")
        id_hash = blind_index("110101195003071234")
        conn = sess.connection()
        params = {"n": N, "cipher": cipher, "hash": id_hash, "ids": [c.id for c in communities], "nc": len(communities),
                  "stage": Stage.active.value, "wc": WorkCapacity.none.value, "approved": AmountChange.approved.value,
                  "adjusted": AmountChange.adjusted.value}
        conn.execute(text("""
            INSERT INTO dibao_case (id, number, region_id, stage, stage_changed_at, head_name, head_id_number,
                head_id_hash, address, public_address, category, close_relative_of_staff, special_case,
                no_income_no_capacity_no_supporter, photo_consent, marginal, accepted_at, approved_at, payment_start,
                created_at, updated_at, monthly_amount)
            SELECT i, 'B-' || lpad(i::text, 7, '0'), (CAST(:ids AS integer[]))[1 + i % :nc], :stage, '2026-06-01', '基准户', :cipher, :hash,
                '基准路 1 号', '基准路', 1 + i % 4, false, false, false, false, false, '2026-06-01', '2026-06-01',
                '2026-07-01', '2026-06-01', '2026-06-01', 780.00 * (1 + i % 4)
            FROM generate_series(1, :n) AS i"""), params)
        conn.execute(text("""
            INSERT INTO case_member (case_id, position, name, relation, age, health, work_capacity, monthly_deduction,
                deduction_note)
            SELECT i, p, '成员', CASE WHEN p = 0 THEN '本人' ELSE '子女' END, 40, '', :wc, 0, ''
            FROM generate_series(1, :n) AS i, generate_series(0, 3) AS p WHERE p <= i % 4"""), params)
        conn.execute(text("""
            INSERT INTO amount_period (case_id, starts_on, amount, change, reason, created_by_name, created_at)
            SELECT i, DATE '2026-07-01', 780.00 * (1 + i % 4), :approved, '', '基准', TIMESTAMP '2026-06-01' FROM generate_series(1, :n) AS i
            UNION ALL
            SELECT i, DATE '2026-10-01', 500.00, :adjusted, '调整', '基准', TIMESTAMP '2026-06-01'
            FROM generate_series(10, :n, 10) AS i"""), params)
        sess.commit()
        sess.connection().exec_driver_sql("ANALYZE")
        sess.commit()


def app_context_for(url: str):
    from common import app_context

    return app_context(url)


def baseline(url: str, month: date) -> tuple[float, float]:
    """The same rows (dibao.payments.due_rows: the same select of the amounts in force) by one bare
    ``INSERT … SELECT``: into payment_line itself (its keys and indexes, under a scratch run, removed afterwards),
    and into a scratch table of the same columns without keys or indexes."""
    from sqlalchemy import column, delete, insert, select, table

    from dibao import db, payments
    from dibao.models import Region
    from dibao.models.payment import PaymentLine, PaymentRun, RunStatus

    with app_context_for(url):
        sess = db.session()
        county = sess.scalar(select(Region).where(Region.code == "990"))
        scratch_run = PaymentRun(county_id=county.id, month=date(2099, month.month, 1), status=RunStatus.generated,
                                 generated_by_name="bench", generated_at=datetime.now(UTC))
        sess.add(scratch_run)
        sess.commit()
        started = time.perf_counter()
        sess.execute(insert(PaymentLine).from_select(payments.LINE_COLUMNS,
                                                     payments.due_rows(county, month, scratch_run.id)))
        sess.commit()
        same_table = time.perf_counter() - started
        sess.execute(delete(PaymentLine).where(PaymentLine.run_id == scratch_run.id))
        sess.delete(scratch_run)
        conn = sess.connection()
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_lines")
        conn.exec_driver_sql("CREATE TABLE bench_lines (run_id integer, case_id integer, town_id integer, "
                             "region_id integer, category integer, persons integer, amount numeric(12,2), "
                             "arrears numeric(12,2), total numeric(12,2), status varchar(32))")
        sess.commit()
        scratch = table("bench_lines", *[column(c) for c in payments.LINE_COLUMNS])
        started = time.perf_counter()
        sess.execute(insert(scratch).from_select(payments.LINE_COLUMNS, payments.due_rows(county, month, 0)))
        sess.commit()
        return same_table, time.perf_counter() - started


def generate(url: str, month: date) -> tuple[float, object]:
    from sqlalchemy import select

    from dibao import db, payments
    from dibao.models import Region
    from dibao.models.payment import RunStatus

    with app_context_for(url):
        sess = db.session()
        county = sess.scalar(select(Region).where(Region.code == "990"))
        started = time.perf_counter()
        run = payments.generate(sess, None, county, month)
        sess.commit()
        took = time.perf_counter() - started
        started = time.perf_counter()
        ok = payments.reconcile(sess, run).ok
        RECONCILE.append(time.perf_counter() - started)
        result = (run.households, run.total, ok)
        # Runs go in month order: the next month's run waits for this one's approval (not timed).
        run.status = RunStatus.approved
        sess.commit()
        return took, result


if __name__ == "__main__":
    from sqlalchemy import text

    url, admin = scratch_database()
    try:
        started = time.perf_counter()
        arrange(url)
        print(f"arranged {N} households on PostgreSQL in {time.perf_counter() - started:.0f} s")
        bases, bares, runs = [], [], []
        for month in MONTHS:  # alternate, so both see the same cache state
            same_table, bare = baseline(url, month)
            bases.append(same_table)
            bares.append(bare)
            took, (households, total, ok) = generate(url, month)
            assert households == N and ok, (households, ok)
            runs.append(took)
        base, bare, run = statistics.median(bases), statistics.median(bares), statistics.median(runs)
        print(f"bare INSERT … SELECT of the {N} lines into payment_line        {base:7.2f} s   1.00 ×")
        print(f"  (the same into a table without keys or indexes                {bare:7.2f} s   {bare / base:4.2f} ×)")
        print(f"payments.generate for {N} households (median of {len(runs)})    {run:7.2f} s   {run / base:4.2f} ×"
              f"   (target ≤ 3 ×; runs {', '.join(f'{r:.2f}' for r in runs)} s; {run / bare:4.2f} × the keyless insert)")
        print(f"payments.reconcile of a run (median)                          {statistics.median(RECONCILE):7.2f} s")
    finally:
        name = url.rsplit("/", 1)[1]
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
