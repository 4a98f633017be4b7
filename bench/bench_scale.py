"""Issue 13: key queries at province scale vs 10,000 households, same machine, same run (PostgreSQL).

    BENCH_SCALE=200000 python bench/bench_scale.py      (default 200,000; the issue asks for 1,000,000)

For each size: a fresh database, `dibao db upgrade`, `dibao seed-scale` (timed), then each query's median of 5
runs after one warm-up: community board, region API (a town's listing), admin case search (name, ID number,
filters), review worklist, dashboard counts, statistics, roster. Prints the ratio big/10k (target ≤ 2).
Set BENCH_EXPLAIN=1 to print the plans (docs/performance.md).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG") or "postgresql+psycopg://postgres@127.0.0.1:5432"
BIG = int(os.environ.get("BENCH_SCALE") or 200_000)


def _run(args, env):
    subprocess.run([sys.executable, "-m", "flask", "--app", "dibao", *args], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def build(households: int) -> tuple[str, float]:
    name = f"dibao_scale_{households}"
    import psycopg

    with psycopg.connect(PG.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG}/{name}"
    env = {**os.environ, "DIBAO_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    _run(["db", "upgrade"], env)
    started = time.monotonic()
    _run(["seed-scale", "--households", str(households)], env)
    return url, time.monotonic() - started


def timed(fn, runs: int = 5) -> float:
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def queries(url: str) -> dict[str, float]:
    from sqlalchemy import func, select

    from dibao import cases, create_app, db, notices, stats
    from dibao.models import Case, Level, NoticeBatch, Region, Role, User

    app = create_app({"DATABASE_URL": url, "SWEEP_INTERVAL": 0})
    out = {}
    with app.app_context():
        sess = db.session()
        now = __import__("dibao.clock", fromlist=["now"]).now()
        community = sess.scalar(select(Region).join(NoticeBatch, NoticeBatch.region_id == Region.id)
                                .where(NoticeBatch.closes_at > now).order_by(Region.id).limit(1))
        town, county = community.parent, community.parent.parent
        user = User(id=0, username="bench", display_name="bench", role=Role.county_approver, region=county,
                    region_id=county.id)
        some = sess.scalar(select(Case).where(Case.region_id == community.id).limit(1))
        id_number = some.head_id_number
        out["community board"] = timed(lambda: notices.board(sess, community))
        out["region API (town)"] = timed(lambda: notices.board(sess, town))
        out["case search: name"] = timed(lambda: cases.search(sess, user, q=some.head_name))
        three = sess.scalar(select(Case.head_name).where(func.length(Case.head_name) == 3).limit(1))
        out["case search: 3-character name"] = timed(lambda: cases.search(sess, user, q=three))
        out["case search: ID number"] = timed(lambda: cases.search(sess, user, q=id_number))
        out["case search: filters"] = timed(lambda: cases.search(sess, user, stage="active",
                                                                 community_id=community.id, category=2))
        out["review worklist"] = timed(lambda: cases.search(sess, user, stage="open"))
        out["dashboard counts"] = timed(lambda: cases.deadline_summary(sess, user))
        month = __import__("dibao.clock", fromlist=["today"]).today().replace(day=1)
        if not os.environ.get("BENCH_SKIP_STATS"):  # read from the monthly summary (dibao.stats_summary)
            from dibao import stats_summary

            fresh = stats_summary.refresh(sess, county)  # what `dibao stats refresh` / the sweep keep up
            print(f"statistics summary refreshed for county {county.code} ({fresh.regions} regions were stale)")
            out["statistics (county, 12 months)"] = timed(lambda: stats.overview(sess, county, month))
        out["roster (community)"] = timed(lambda: notices.roster(sess, community))
        sess.rollback()
        if os.environ.get("BENCH_EXPLAIN"):
            from sqlalchemy import text

            for label, sql in (("case search by name", "EXPLAIN ANALYZE SELECT count(*) FROM dibao_case WHERE "  # noqa: S608 - bench data
                                f"region_id IN (SELECT id FROM region WHERE path LIKE '{county.path}%') "
                                f"AND head_name LIKE '%{some.head_name}%'"),):
                print(label)
                for (line,) in sess.execute(text(sql)):
                    print("   ", line)
        del Level
    app.extensions["dibao.engine"].dispose()
    return out


if __name__ == "__main__":
    if os.environ.get("BENCH_URLS"):  # measure again on databases built before: "small_url big_url"
        small_url, big_url = os.environ["BENCH_URLS"].split()
        small_build = big_build = float("nan")
    else:
        small_url, small_build = build(10_000)
        big_url, big_build = build(BIG)
    print(f"databases: {small_url} {big_url}", flush=True)
    small, big = queries(small_url), queries(big_url)
    print(f"seed-scale: 10,000 households in {small_build:.0f} s; {BIG:,} in {big_build:.0f} s (COPY, one transaction)")
    print(f"{'query':<34} {'10k ms':>9} {BIG // 1000}k ms   ratio (target ≤ 2)")
    for name in small:
        print(f"{name:<34} {small[name]:9.1f} {big[name]:9.1f}   {big[name] / small[name]:5.2f}×")
    print("(shared 2-core machine: other agents were loading it)")
