"""Issue 13: publishing a 10,000-entry notice batch (notices.publish_batch) against a bare executemany of the same
10,000 notice_entry rows, same database, same run (target ≤ 3×).

    python bench/bench_publish.py                        (SQLite, a fresh migrated file)
    BENCH_PUBLISH_URL=postgresql+psycopg://…/db python bench/bench_publish.py    (an empty migrated database)
    BENCH_PUBLISH_PROFILE=25 python bench/bench_publish.py     (then one more publish under cProfile: its top 25)

Arrange: one community with 10,000 households waiting for the community notice (demo households, one approving
opinion each), committed. Measure, each in its own transaction rolled back afterwards (so both start from the
same state), median of 3:

* bare: ``INSERT INTO notice_entry`` of the 10,000 snapshots with one Core ``executemany`` (plus the batch row);
* publish: ``notices.publish_batch`` with the 10,000 cases already loaded (members and opinions), flushed — it
  also moves each case to the notice stage and appends one audit event for each, as publishing does.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

N = int(os.environ.get("BENCH_PUBLISH_N") or 10_000)
COMMUNITY = "980001001"


def arrange(session):
    from faker import Faker

    from dibao import clock, regions
    from dibao.demo.notices import _household
    from dibao.models import Level

    county = regions.create_region(session, None, code="980", name="发布基准县", parent=None)
    town = regions.create_region(session, None, code="980001", name="发布基准镇", parent=county)
    community = regions.create_region(session, None, code=COMMUNITY, name="发布基准社区", parent=town)
    fake, rng, now = Faker("zh_CN"), random.Random(7), clock.now()
    fake.seed_instance(7)
    for i in range(N):
        _household(session, fake, rng, community, Level.community, f"{COMMUNITY}-P-{i:05d}", now)
        if i % 1000 == 999:
            session.commit()
    session.commit()


def load(session):
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from dibao.models import Case, Region

    community = session.scalar(select(Region).where(Region.code == COMMUNITY))
    cases = list(session.scalars(select(Case).where(Case.region_id == community.id)
                                 .options(selectinload(Case.members), selectinload(Case.opinions),
                                          selectinload(Case.region)).order_by(Case.id)))
    return community, cases


def bare(session, community, cases) -> float:
    from sqlalchemy import insert

    from dibao import clock, notices, workflow
    from dibao.models import Level, NoticeBatch, NoticeEntry

    rows = [{"public_id": notices.new_public_id(), "position": i, "region_id": c.region_id, "case_id": c.id,
             **notices.snapshot(c, workflow.current_opinion(c, Level.community))} for i, c in enumerate(cases)]
    started = time.perf_counter()
    now = clock.now()
    batch = NoticeBatch(public_id=notices.new_public_id(), level=Level.community, region=community, title="bare",
                        opens_at=now, closes_at=now, fingerprint="", created_at=now)
    session.add(batch)
    session.flush()
    for row in rows:
        row["batch_id"] = batch.id
    session.execute(insert(NoticeEntry.__table__), rows)
    elapsed = time.perf_counter() - started
    session.rollback()
    return elapsed


def publish(session, community, cases) -> float:
    from dibao import notices
    from dibao.models import Level

    started = time.perf_counter()
    notices.publish_batch(session, None, level=Level.community, region=community, cases=cases, title="发布基准公示")
    session.flush()
    elapsed = time.perf_counter() - started
    session.rollback()
    return elapsed


if __name__ == "__main__":
    from common import app_context, prepared_sqlite

    from dibao import db

    url = os.environ.get("BENCH_PUBLISH_URL") or prepared_sqlite()
    with app_context(url, SWEEP_INTERVAL=0):
        sess = db.session()
        started = time.monotonic()
        arrange(sess)
        print(f"arranged {N:,} households in {time.monotonic() - started:.0f} s ({url.split('://')[0]})", flush=True)
        times = {"bare": [], "publish": []}
        for _ in range(3):
            for name, fn in (("bare", bare), ("publish", publish)):
                community, cases = load(sess)  # a fresh load each time: the rollback expired them
                times[name].append(fn(sess, community, cases))
        b, p = statistics.median(times["bare"]), statistics.median(times["publish"])
        print(f"bare executemany of {N:,} notice_entry rows   {b * 1000:8.0f} ms")
        print(f"notices.publish_batch of {N:,} cases          {p * 1000:8.0f} ms   {p / b:5.2f}× (target ≤ 3)")
        print("runs (ms): bare " + " ".join(f"{t * 1000:.0f}" for t in times["bare"])
              + " | publish " + " ".join(f"{t * 1000:.0f}" for t in times["publish"]))
        if os.environ.get("BENCH_PUBLISH_PROFILE"):
            import cProfile
            import pstats

            from dibao import notices
            from dibao.models import Level

            community, cases = load(sess)
            profiler = cProfile.Profile()  # the publish and its flush, not the rollback after it
            profiler.runcall(lambda: (notices.publish_batch(sess, None, level=Level.community, region=community,
                                                            cases=cases, title="发布基准公示"), sess.flush()))
            sess.rollback()
            top = int(os.environ["BENCH_PUBLISH_PROFILE"])
            pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
