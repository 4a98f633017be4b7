"""Issue 13: several servers on one machine — nginx in front of two gunicorn instances on PostgreSQL and Redis.

Run by bench/multi_server.sh (which installs nginx when missing). What it shows:

* the objection load (residents' full flow: form, POST, receipt) through nginx: every accepted objection is in
  the database with its own code — 0 lost — while instance A is restarted in the middle of the run;
* limits are shared: the kiosk report endpoint allows 20 per minute per kiosk; 30 POSTs through nginx (spread
  over both instances) get exactly 20 past the limit check and 10 refused with 429;
* kiosks never blank: a kiosk polls its slide every 0.2 s through nginx during the whole run, restart included;
  every answer is a 200 or a 304.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(HERE), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

from bench_objections import Resident, arrange  # noqa: E402
from common import BIN, free_port  # noqa: E402

PG = os.environ.get("BENCH_PG") or "postgresql+psycopg://postgres@127.0.0.1:5432"
DB = "dibao_multi_server"
TOTAL = int(os.environ.get("BENCH_OBJECTIONS") or 200)
CLIENTS = int(os.environ.get("BENCH_CLIENTS") or 10)

NGINX_CONF = """
user root;
worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  client_max_body_size 25m;
  upstream dibao {{ server 127.0.0.1:{a} max_fails=1 fail_timeout=2s; server 127.0.0.1:{b} max_fails=1 fail_timeout=2s; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://dibao;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;  # forms carry a submission id: a retried POST finds its first row
      proxy_next_upstream_tries 2;
      proxy_connect_timeout 2s;
    }}
    # A kiosk poll is a GET: an instance that accepted the connection but is still booting its workers (or
    # draining) is given 4 s, then nginx asks the other one — the kiosk keeps its screen either way.
    location /kiosk/ {{
      proxy_pass http://dibao;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;
      proxy_connect_timeout 2s;
      proxy_read_timeout 4s;
    }}
  }}
}}
"""


def wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def database() -> str:
    import psycopg

    with psycopg.connect(PG.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    url = f"{PG}/{DB}"
    subprocess.run([sys.executable, "-m", "flask", "--app", "dibao", "db", "upgrade"], cwd=ROOT, check=True,
                   env={**os.environ, "DIBAO_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    return url


def kiosk_token(url: str) -> str:
    from common import app_context
    from sqlalchemy import select

    from dibao import db, kiosks
    from dibao.models import Region

    with app_context(url):
        sess = db.session()
        community = sess.scalar(select(Region).where(Region.code == "990001001"))
        kiosk = kiosks.register(sess, None, name="多机压测终端", region=community)
        sess.commit()
        return kiosk.token


class Instance:
    def __init__(self, name: str, port: int, env: dict):
        self.name, self.port, self.env = name, port, env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "4",
               "--graceful-timeout", "30", "--log-level", "warning", "dibao.wsgi:app"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env)
        wait_for(f"http://127.0.0.1:{self.port}/healthz")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: requests in flight finish
            self.proc.wait(60)
            self.proc = None


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="dibao-multi-"))
    url = database()
    entries = arrange(url)
    token = kiosk_token(url)
    redis_port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no",
                              "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL)
    media = tmp / "media"  # the shared media store
    media.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DIBAO_DATABASE_URL": url,
           "DIBAO_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "DIBAO_PROXY_COUNT": "1",
           "DIBAO_SECRET_KEY": "multi-server-secret", "DIBAO_MEDIA_DIR": str(media),
           "DIBAO_FEEDBACK_RATE_LIMIT": "1000000 per minute", "DIBAO_OBJECTION_HOLD_CAP": "0",
           "DIBAO_SWEEP_INTERVAL": "60"}  # the sweep on in every worker of both instances
    a, b = Instance("A", free_port(), env), Instance("B", free_port(), env)
    nginx_port = free_port()
    for sub in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
        (tmp / sub).mkdir()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, a=a.port, b=b.port, port=nginx_port))
    nginx = None
    try:
        a.start()
        b.start()
        nginx = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(tmp), "-c",
                                  str(tmp / "nginx.conf"), "-g", "daemon off;"])
        base = f"http://127.0.0.1:{nginx_port}"
        wait_for(base + "/healthz")

        # --- limits shared across instances ---------------------------------------------------------------
        refused = passed = 0
        for _ in range(30):
            req = urllib.request.Request(f"{base}/kiosk/{token}/shown", data=b"{}", method="POST",  # noqa: S310
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req) as res:  # noqa: S310
                    status = res.status
            except urllib.error.HTTPError as err:
                status = err.code
            if status == 429:
                refused += 1
            else:
                passed += 1
        print(f"limits shared: 30 kiosk reports through nginx (limit 20 per minute per kiosk, both instances): "
              f"{passed} passed the limit, {refused} refused with 429 — {'OK' if (passed, refused) == (20, 10) else 'FAILED'}")

        # --- kiosk polls all along ----------------------------------------------------------------------
        polls: dict = {}
        stop = threading.Event()

        def kiosk() -> None:
            etag = ""
            while not stop.is_set():
                req = urllib.request.Request(f"{base}/kiosk/{token}/slide/0",  # noqa: S310
                                             headers={"If-None-Match": etag, "HX-Request": "true"})
                try:
                    with urllib.request.urlopen(req, timeout=10) as res:  # noqa: S310
                        status = res.status
                        etag = res.headers.get("ETag", etag)
                        res.read()
                except urllib.error.HTTPError as err:
                    status = err.code
                except OSError as err:
                    status = type(err).__name__
                polls[status] = polls.get(status, 0) + 1
                time.sleep(0.2)

        poller = threading.Thread(target=kiosk, daemon=True)
        poller.start()

        # --- objection load, instance A restarted in the middle -----------------------------------------
        per_client = TOTAL // CLIENTS

        def client(i: int) -> list[dict]:
            resident = Resident(base)
            return [resident.object(entries[(i * per_client + k) % len(entries)], i * per_client + k)
                    for k in range(per_client)]

        def restart() -> None:
            time.sleep(3)
            started = time.monotonic()
            a.stop()
            a.start()
            print(f"instance A restarted in {time.monotonic() - started:.1f} s during the load", flush=True)

        started = time.monotonic()
        restarter = threading.Thread(target=restart)
        restarter.start()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = [r for batch in pool.map(client, range(CLIENTS)) for r in batch]
        restarter.join()
        wall = time.monotonic() - started
        time.sleep(1)
        stop.set()
        poller.join()

        from common import app_context
        from sqlalchemy import func, select

        from dibao import db
        from dibao.models import Objection

        with app_context(url):
            sess = db.session()
            in_db = sess.scalar(select(func.count()).select_from(Objection))
            stored = set(sess.scalars(select(Objection.tracking_code)))
        accepted = [r for r in results if r.get("post") == 303 and r.get("code")]
        codes = {r["code"] for r in accepted}
        statuses: dict = {}
        for r in results:
            key = r.get("post", f"form {r.get('form')}")
            statuses[key] = statuses.get(key, 0) + 1
        lost = len(codes - stored)
        print(f"objections: {TOTAL} submitted by {CLIENTS} clients through nginx in {wall:.1f} s; statuses {statuses}; "
              f"accepted with a code {len(accepted)}, in the database {in_db}, lost {lost} — "
              f"{'OK' if lost == 0 and len(accepted) == TOTAL == in_db else 'FAILED'}")
        blank = {k: v for k, v in polls.items() if k not in (200, 304)}
        print(f"kiosk polls through nginx during the run: {polls} — "
              f"{'never blank: OK' if not blank else 'BLANK ' + str(blank)}")
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        a.stop()
        b.stop()
        redis.terminate()
        redis.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
