"""Issue 13: key queries at province scale vs 10,000 households, same machine, same run (PostgreSQL).

    BENCH_SCALE=200000 python bench/bench_scale.py      (default 200,000; the issue asks for 1,000,000)

For each size: a fresh database, `dibao db upgrade`, `dibao seed-scale` (timed) — an existing dibao_scale_N is
measured as it is, BENCH_REBUILD=1 drops and builds it again — then each query's median of 5 (BENCH_RUNS) runs
after one warm-up, both sizes in turn: community board, region API (a town's listing), admin case search (name, ID number,
filters), review worklist, dashboard counts, statistics, roster (totals and a page). The statistics and roster
summaries are refreshed first (BENCH_SKIP_STATS=1, BENCH_ROSTER_LIVE=1: computed live instead). Prints the ratio
big/10k (target ≤ 2). Set BENCH_EXPLAIN=1 to print the plans of the roster and API pages (docs/performance.md);
BENCH_ONLY="roster,region API" measures only the lines whose names contain one of the words.
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

    url = f"{PG}/{name}"
    with psycopg.connect(PG.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not os.environ.get("BENCH_REBUILD"):  # others measure on it: never dropped by accident
            print(f"{name} exists: measured as it is, migrated to the head (BENCH_REBUILD=1 drops and builds it "
                  "again)", flush=True)
            _run(["db", "upgrade"], {**os.environ, "DIBAO_DATABASE_URL": url, "PYTHONPATH": str(ROOT)})
            # Autovacuum is off on this machine: what others wrote since the build sits in the trigram indexes'
            # pending lists, which every name search reads through (3-character name 2.0–2.9× before this, 1.2×
            # after), and in dead rows. A production server's autovacuum does this on its own.
            started = time.monotonic()
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as db:
                db.execute("VACUUM (ANALYZE)")
            print(f"{name}: VACUUM (ANALYZE) in {time.monotonic() - started:.1f} s", flush=True)
            return url, float("nan")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DIBAO_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    _run(["db", "upgrade"], env)
    started = time.monotonic()
    _run(["seed-scale", "--households", str(households)], env)
    return url, time.monotonic() - started


ONLY = [w.strip() for w in (os.environ.get("BENCH_ONLY") or "").split(",") if w.strip()]


RUNS = int(os.environ.get("BENCH_RUNS") or 5)


def once(app, fn) -> float:
    with app.app_context():
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started


def alternately(small, big) -> tuple[dict[str, float], dict[str, float]]:
    """Each line's median on both databases, measured in turn (small, big, small, big …) after a warm-up of each:
    on a shared machine the load swings within seconds, and both sizes should meet the same swings."""
    small_app, small_calls = small
    big_app, big_calls = big
    out_small, out_big = {}, {}
    for name, (fn, runs) in small_calls.items():
        big_fn = big_calls[name][0]
        once(small_app, fn), once(big_app, big_fn)
        times_small, times_big = [], []
        for _ in range(runs):
            times_small.append(once(small_app, fn))
            times_big.append(once(big_app, big_fn))
        out_small[name] = statistics.median(times_small) * 1000
        out_big[name] = statistics.median(times_big) * 1000
    return out_small, out_big


def explain(sess, calls) -> None:
    """EXPLAIN ANALYZE of every statement each call sends, exactly as sent (captured at the cursor)."""
    from sqlalchemy import event

    for label, call in calls.items():
        sent = []

        def capture(conn, cursor, statement, parameters, context, executemany, sent=sent):
            sent.append((statement, parameters))

        engine = sess.get_bind()
        event.listen(engine, "before_cursor_execute", capture)
        try:
            call()
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        for statement, parameters in sent:
            print(f"--- {label}")
            for (line,) in sess.connection().exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters):
                print("   ", line)
        sess.rollback()


def queries(url: str):
    """The app on ``url`` and what to measure on it: name → (call, runs)."""
    from sqlalchemy import func, select

    from dibao import cases, create_app, notices, stats
    from dibao.models import Case, NoticeBatch, Region, Role, User

    app = create_app({"DATABASE_URL": url, "SWEEP_INTERVAL": 0})
    out = {}
    with app.app_context():
        sess = app.extensions["dibao.sessions"]()  # not the context's (closed with it): measured after it ends
        now = __import__("dibao.clock", fromlist=["now"]).now()
        community = sess.scalar(select(Region).join(NoticeBatch, NoticeBatch.region_id == Region.id)
                                .where(NoticeBatch.closes_at > now).order_by(Region.id).limit(1))
        town, county = community.parent, community.parent.parent
        user = User(id=0, username="bench", display_name="bench", role=Role.county_approver, region=county,
                    region_id=county.id)
        # The community's first household by id: without an order the row (and so the name searched for, a 2- or
        # 3-character one) depended on the index the planner happened to read.
        some = sess.scalar(select(Case.head_name).where(Case.region_id == community.id).order_by(Case.id).limit(1))

        def measure(name, fn, runs=RUNS):
            if not ONLY or any(word in name for word in ONLY):
                out[name] = (fn, runs)

        def id_search():  # the number is read (and decrypted) only when this line is measured
            number = sess.scalar(select(Case.head_id_number).where(Case.region_id == community.id)
                                 .order_by(Case.id).limit(1))
            return lambda: cases.search(sess, user, q=number)

        measure("community board", lambda: notices.board(sess, community))
        # The API's first page: the count and next boundary, then one page of entries (issue 13: paged).
        measure("region API (town)", lambda: notices.board_page(sess, town, page=1))
        measure("case search: name", lambda: cases.search(sess, user, q=some))
        three = sess.scalar(select(Case.head_name).where(func.length(Case.head_name) == 3).order_by(Case.id).limit(1))
        measure("case search: 3-character name", lambda: cases.search(sess, user, q=three))
        if not ONLY or any(word in "case search: ID number" for word in ONLY):
            measure("case search: ID number", id_search())
        measure("case search: filters", lambda: cases.search(sess, user, stage="active", community_id=community.id,
                                                             category=2))
        measure("review worklist", lambda: cases.search(sess, user, stage="open"))
        measure("dashboard counts", lambda: cases.deadline_summary(sess, user))
        month = __import__("dibao.clock", fromlist=["today"]).today().replace(day=1)
        if not os.environ.get("BENCH_SKIP_STATS"):  # read from the monthly summary (dibao.stats_summary)
            from dibao import stats_summary

            fresh = stats_summary.refresh(sess, county)  # what `dibao stats refresh` / the sweep keep up
            print(f"statistics summary refreshed for county {county.code} ({fresh.regions} regions were stale)")
            measure("statistics (county, 12 months)", lambda: stats.overview(sess, county, month))
        # /api/v1/stats as the public asks it, through the public cache (a county's figures under its version):
        # the warm-up fills it, the runs read it. The first answer's time is printed once.
        client = app.test_client()

        def public_stats(label, query):
            first = []

            def get():
                started = time.perf_counter()
                answer = client.get(f"/api/v1/stats{query}")
                assert answer.status_code == 200, answer.status_code
                if not first:
                    first.append(time.perf_counter() - started)
                    print(f"{label}: first answer (cache empty) {first[0] * 1000:.0f} ms", flush=True)
            return get

        for label, query in (("public statistics API (county)", f"?region={county.code}"),
                             ("public statistics API (every county)", "")):
            measure(label, public_stats(f"{label} on {url.rsplit('/', 1)[-1]}", query))
        # What /roster/<code> reads: the totals (per community, from the roster summary — dibao.roster_summary —
        # or by SQL aggregates where it holds nothing), then the first page of lines, which starts at its
        # community (the totals say which). BENCH_ROSTER_LIVE=1: the totals all live (as before the summary).
        per_page = notices.ROSTER_PER_PAGE
        live = bool(os.environ.get("BENCH_ROSTER_LIVE"))
        if not live:
            from dibao import roster_summary

            started = time.monotonic()
            fresh = roster_summary.refresh(sess)  # the whole province: what `dibao stats refresh` / the sweep keep up
            print(f"roster summary refreshed ({fresh.regions} regions were stale) in {time.monotonic() - started:.1f} s")

        def roster_totals(region):
            return notices.roster_totals(sess, region, summary=not live)

        def roster_first_page(region):
            totals = roster_totals(region)
            return notices.roster(sess, region, per_page=per_page, start=totals.start(1, per_page))

        measure("roster (community)", lambda: roster_first_page(community))
        measure("roster totals (community)", lambda: roster_totals(community))
        measure("roster (county)", lambda: roster_first_page(county))
        measure("roster totals (county)", lambda: roster_totals(county))
        measure("roster totals (province)", lambda: roster_totals(None))
        if not ONLY or any(word in "roster page (province)" for word in ONLY):
            province = roster_totals(None)  # all live: ~1.5 s at 1,000,000 (the app keeps it per county)
            last = province.pages(per_page)
            measure("roster page 1 (province)", lambda: notices.roster(
                sess, None, per_page=per_page, start=province.start(1, per_page)))
            measure("roster last page (province)", lambda: notices.roster(
                sess, None, per_page=per_page, start=province.start(last, per_page)))
        if os.environ.get("BENCH_EXPLAIN"):
            explain(sess, {
                "roster (community)": lambda: roster_first_page(community),
                "region API page 1 (town)": lambda: notices.board_page(sess, town, page=1),
            })
    return app, out


if __name__ == "__main__":
    if os.environ.get("BENCH_URLS"):  # measure again on databases built before: "small_url big_url"
        small_url, big_url = os.environ["BENCH_URLS"].split()
        small_build = big_build = float("nan")
        digits = big_url.rsplit("_", 1)[-1]
        BIG = int(digits) if digits.isdigit() else BIG
    else:
        small_url, small_build = build(10_000)
        big_url, big_build = build(BIG)
    print(f"databases: {small_url} {big_url}", flush=True)
    small, big = alternately(queries(small_url), queries(big_url))
    print(f"seed-scale: 10,000 households in {small_build:.0f} s; {BIG:,} in {big_build:.0f} s (COPY, one transaction)")
    print(f"{'query':<34} {'10k ms':>9} {BIG // 1000}k ms   ratio (target ≤ 2)")
    for name in small:
        print(f"{name:<34} {small[name]:9.1f} {big[name]:9.1f}   {big[name] / small[name]:5.2f}×")
    print("(shared 2-core machine: other agents were loading it)")
