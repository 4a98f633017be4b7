"""Load check: 500 objections from 25 concurrent clients against gunicorn, on SQLite and on PostgreSQL.

Each client is a resident's browser: GET the form (session cookie, CSRF token, per-form submission id), POST
it, follow the redirect to the receipt and read the tracking code. Afterwards the database must hold every
accepted submission, each with its own code, and no request may have failed (a "database is locked" error
would surface as a 500). The per-client rate limit is raised for the run (DIBAO_FEEDBACK_RATE_LIMIT): all
clients come from 127.0.0.1.

PostgreSQL: BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres) names a server on which a
scratch database ``dibao_bench_objections`` is created and dropped; skipped if the server is unreachable.
"""

from __future__ import annotations

import http.client
import os
import re
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

from common import BIN, prepared_sqlite, serve

TOTAL = int(os.environ.get("BENCH_OBJECTIONS", 500))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 25))
ENTRIES = 40
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "dibao_bench_objections"

TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
KEY_RE = re.compile(r'name="submission_id" type="hidden" value="([^"]+)"')
CODE_RE = re.compile(r'data-tracking-code="([A-Z0-9]+)"')


def arrange(database_url: str) -> list[str]:
    """A county, a town, a community and one open community notice with ENTRIES households."""
    from common import app_context
    from sqlalchemy import select

    from dibao import db, notices, regions
    from dibao.models import Level, Region, Stage
    from tests.factories import make_case

    with app_context(database_url):
        sess = db.session()
        if sess.scalar(select(Region).where(Region.code == "990")) is None:
            county = regions.create_region(sess, None, code="990", name="压测县", parent=None)
            town = regions.create_region(sess, None, code="990001", name="压测镇", parent=county)
            community = regions.create_region(sess, None, code="990001001", name="压测社区", parent=town)
            cases = [make_case(sess, community, stage=Stage.awaiting_community_notice, head_name=f"压测{i:02d}",
                               opinion_levels=(Level.community,)) for i in range(ENTRIES)]
            notices.publish_batch(sess, None, level=Level.community, region=community, cases=cases,
                                  title="压测公示")
            sess.commit()
        from dibao.models import NoticeEntry

        return list(sess.scalars(select(NoticeEntry.public_id).order_by(NoticeEntry.id)))


class Resident:
    def __init__(self, base: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            hdrs = dict(headers or {})
            if self.cookies:
                hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request(method, path, body=body, headers=hdrs)
            res = conn.getresponse()
            text = res.read().decode("utf-8", "replace")
            for header in res.msg.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                if value:
                    self.cookies[name.strip()] = value
                else:
                    self.cookies.pop(name.strip(), None)
            return res.status, res.getheader("Location"), text
        finally:
            conn.close()

    def object(self, entry: str, n: int) -> dict:
        status, _, html = self.request("GET", f"/objections/new?entry={entry}")
        if status != 200:
            return {"form": status}
        form = {"csrf_token": TOKEN_RE.search(html).group(1), "submission_id": KEY_RE.search(html).group(1),
                "entry": entry, "category": "income_hidden", "description": f"压测异议第 {n} 份：收入情况与公示不符。",
                "name": "", "phone": "", "website": ""}
        started = time.perf_counter()
        status, location, body = self.request(
            "POST", f"/objections/new?entry={entry}", urlencode(form),
            {"Content-Type": "application/x-www-form-urlencoded"})
        latency = time.perf_counter() - started
        result = {"post": status, "latency": latency, "locked": "locked" in body.lower()}
        if status == 303 and location == "/receipt":
            status, _, html = self.request("GET", "/receipt")
            match = CODE_RE.search(html)
            result["code"] = match.group(1) if match else None
        return result


def run(label: str, database_url: str) -> None:
    entries = arrange(database_url)
    env = {"DIBAO_DATABASE_URL": database_url, "DIBAO_FEEDBACK_RATE_LIMIT": "1000000 per minute",
           "DIBAO_SECRET_KEY": "bench-objections", "DIBAO_MEDIA_DIR": tempfile.mkdtemp(prefix="dibao-bench-media-")}
    per_client = TOTAL // CLIENTS
    with serve(env, workers=2, threads=4) as base:
        def client(i: int) -> list[dict]:
            resident = Resident(base)
            return [resident.object(entries[(i * per_client + k) % len(entries)], i * per_client + k)
                    for k in range(per_client)]

        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = [r for batch in pool.map(client, range(CLIENTS)) for r in batch]
        wall = time.perf_counter() - started

    accepted = [r for r in results if r.get("post") == 303]
    codes = [r.get("code") for r in accepted]
    statuses: dict = {}
    for r in results:
        key = r.get("post", f"form {r.get('form')}")
        statuses[key] = statuses.get(key, 0) + 1
    from common import app_context
    from sqlalchemy import func, select

    from dibao import db
    from dibao.models import Objection

    with app_context(database_url):
        sess = db.session()
        in_db = sess.scalar(select(func.count()).select_from(Objection))
        stored = set(sess.scalars(select(Objection.tracking_code)))
    latencies = sorted(r["latency"] for r in results if "latency" in r)
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan")
    ok = (len(accepted) == len(results) == TOTAL and in_db == TOTAL and len(set(codes)) == TOTAL
          and None not in codes and set(codes) == stored and not any(r.get("locked") for r in results))
    print(f"{label:<11} {TOTAL} objections, {CLIENTS} clients: {len(accepted)} accepted, statuses {statuses}; "
          f"in DB {in_db}, distinct codes {len(set(codes))}, locked errors {sum(bool(r.get('locked')) for r in results)}")
    print(f"{'':<11} {wall:.1f} s wall, {TOTAL / wall:.1f} objections/s (each also GETs the form and the receipt); "
          f"POST latency median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms   "
          f"{'OK' if ok else 'FAILED'}", flush=True)
    if not ok:
        raise SystemExit(1)


def postgres_url() -> str | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        admin = create_engine(make_url(PG_SERVER).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
        admin.dispose()
    except Exception as err:  # noqa: BLE001 - no server: say so and skip
        print(f"postgresql  skipped ({type(err).__name__}: {err})")
        return None
    url = make_url(PG_SERVER).set(database=PG_DB).render_as_string(hide_password=False)
    subprocess.run([str(BIN / "dibao"), "db", "upgrade"], env={**os.environ, "DIBAO_DATABASE_URL": url},
                   check=True, capture_output=True)
    return url


def drop_postgres() -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(PG_SERVER).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
    admin.dispose()


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.factories for arranging
    run("sqlite", prepared_sqlite())
    pg = postgres_url()
    if pg:
        try:
            run("postgresql", pg)
        finally:
            drop_postgres()
