"""提标 at a county's scale: a new standard applied to every active household of one county (PostgreSQL).

    BENCH_RAISE=5000 python bench/bench_raise.py      (households in the county; default 5,000)

A fresh database each run (`dibao db upgrade`, `dibao seed-scale --counties 1`), the county's standard at 800
from 2020, then 850 from this month: ``raises.detect`` (the sweep's preview) and ``raises.apply`` (the job's body:
for each changed household a new amount period, a "提标" record and an audit event), committed. Prints each
step's time and the apply's time per 1,000 households. No issue names a target; the figure is for the notes
(performance.md), against the code before the bulk apply measured the same way."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG") or "postgresql+psycopg://postgres@127.0.0.1:5432"
HOUSEHOLDS = int(os.environ.get("BENCH_RAISE") or 5000)
NAME = "dibao_bench_raise"


def build() -> str:
    import psycopg

    with psycopg.connect(PG.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{NAME}"')
        conn.execute(f'CREATE DATABASE "{NAME}"')
    url = f"{PG}/{NAME}"
    env = {**os.environ, "DIBAO_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    for args in (["db", "upgrade"], ["seed-scale", "--households", str(HOUSEHOLDS), "--counties", "1"]):
        subprocess.run([sys.executable, "-m", "flask", "--app", "dibao", *args], env=env, check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
    return url


def main() -> None:
    from sqlalchemy import select

    from dibao import accounts, clock, create_app, db, entitlement, raises
    from dibao.models import Region, Role

    url = build()
    app = create_app({"DATABASE_URL": url, "SWEEP_INTERVAL": 0})
    with app.app_context():
        sess = db.session()
        county = sess.scalar(select(Region).where(Region.parent_id.is_(None)))
        admin = accounts.create_user(sess, None, username="benchadmin", display_name="基准管理员",
                                     password=secrets.token_urlsafe(16), role=Role.admin, region=county)
        entitlement.set_standard(sess, admin, region=county, amount=Decimal("800"), effective_from=date(2020, 1, 1))
        sess.commit()
        detected = raises.detect(sess)  # the old standard's own raise, before the new one exists
        sess.commit()
        entitlement.set_standard(sess, admin, region=county, amount=Decimal("850"),
                                 effective_from=clock.today().replace(day=1))
        sess.commit()
        started = time.perf_counter()
        detected = raises.detect(sess)
        sess.commit()
        took_detect = time.perf_counter() - started
        item = next(i for i in detected if i.households)
        started = time.perf_counter()
        report = raises.apply(sess, None, item)
        sess.commit()
        took_apply = time.perf_counter() - started
    app.extensions["dibao.engine"].dispose()
    n = report["households"]
    print(f"county of {HOUSEHOLDS:,} households (seed-scale), {n:,} change")
    print(f"detect (preview of every household)   {took_detect:7.2f} s")
    print(f"apply + commit                       {took_apply:7.2f} s   {took_apply / n * 1000:6.2f} s per 1,000 households")


if __name__ == "__main__":
    main()
