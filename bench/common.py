"""Shared bench harness: serve the app with gunicorn and measure requests per second.

The baseline is a minimal Flask endpoint mounted at /_minimal/ in the SAME gunicorn process as the app
(bench/wsgi.py), so every figure is reported as a ratio measured in the same run on the same machine.
The load generator runs in separate processes (keep-alive http.client) so it is not held by one GIL.
"""

from __future__ import annotations

import contextlib
import http.client
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MINIMAL_PATH = "/_minimal/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepared_sqlite(tmpdir: str | None = None) -> str:
    """A fresh migrated SQLite database; returns its URL."""
    tmpdir = tmpdir or tempfile.mkdtemp(prefix="dibao-bench-")
    url = f"sqlite:///{Path(tmpdir) / 'bench.sqlite3'}"
    env = {**os.environ, "DIBAO_DATABASE_URL": url}
    subprocess.run([str(BIN / "dibao"), "db", "upgrade"], env=env, check=True, capture_output=True)
    return url


@contextlib.contextmanager
def app_context(database_url: str, **extra_config) -> Iterator:
    """An app context on ``database_url`` for arranging bench data with the domain functions."""
    from dibao import create_app

    app = create_app({"DATABASE_URL": database_url, **extra_config})
    with app.app_context():
        yield app
    app.extensions["dibao.engine"].dispose()


@contextlib.contextmanager
def serve(env: dict[str, str], *, workers: int = 2, threads: int = 1, port: int | None = None) -> Iterator[str]:
    """Run gunicorn on bench/wsgi.py with ``env``; yields the base URL and stops it afterwards."""
    port = port or free_port()
    cmd = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--threads", str(threads), "--log-level", "warning", "--chdir", str(ROOT / "bench"), "wsgi:application"]
    proc = subprocess.Popen(cmd, env={**os.environ, "DIBAO_SWEEP_INTERVAL": "0", **env})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(base + MINIMAL_PATH, timeout=1) as r:  # noqa: S310 - loopback only
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("gunicorn did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def _worker(args) -> Counter:
    host, port, path, seconds, headers = args
    codes: Counter = Counter()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn.request("GET", path, headers=headers or {})
            res = conn.getresponse()
            res.read()
            codes[res.status] += 1
        except (OSError, http.client.HTTPException):
            codes["error"] += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.close()
    return codes


def measure(url: str, seconds: float = 5.0, concurrency: int = 8, headers: dict | None = None) -> dict:
    """Requests per second of GET ``url`` from ``concurrency`` keep-alive clients for ``seconds``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    args = [(parts.hostname, parts.port, path, seconds, headers)] * concurrency
    ctx = mp.get_context("spawn")
    start = time.monotonic()
    with ctx.Pool(concurrency) as pool:
        results = pool.map(_worker, args)
    elapsed = time.monotonic() - start
    codes: Counter = sum(results, Counter())
    total = sum(v for k, v in codes.items() if k != "error")
    return {"rps": total / seconds, "requests": total, "codes": dict(codes), "wall": round(elapsed, 2)}


def ratio_line(name: str, result: dict, baseline: dict) -> str:
    ratio = result["rps"] / baseline["rps"] if baseline["rps"] else float("nan")
    return (f"{name:<44} {result['rps']:>9.1f} req/s   {ratio:6.3f} × minimal   codes {result['codes']}")
