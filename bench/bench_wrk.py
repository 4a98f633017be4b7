"""Issue 13: wrk at 64 connections against ONE gunicorn (2 sync workers) serving the app and, in the same
process, a minimal Flask endpoint (bench/wsgi.py) — every figure a ratio to that endpoint in the same run.

Measured: the community board with 40 open entries, its 304, the kiosk's 304 poll, a full kiosk slide, the
region API; p99 of the board vs the minimal endpoint's p99; the workers' peak RSS under the load.

    python bench/bench_wrk.py                       # this tree
    BENCH_BEFORE=<git rev> python bench/bench_wrk.py   # also the code of <rev> (e.g. main), same data, same run
    BENCH_SECONDS=10 (default 8)
    BENCH_SEQUENTIAL=1   # the old way: the minimal endpoint once, then each target for BENCH_SECONDS

How the ratios are taken: the machine is shared, and its load swings by 2–3× within seconds, so a target and the
minimal endpoint measured one after the other compare two different machines. Each target is therefore measured
in BENCH_SLICES (default 4) pairs of slices of BENCH_SECONDS/BENCH_SLICES seconds, alternating with the minimal
endpoint in the order M T, T M, M T, T M: its ratio is its requests over the minimal's requests in the slices
interleaved with it (equal time each), its p99 ratio the median over its slices of its p99 over the minimal's p99
in the adjacent slice. The "minimal" line sums every minimal slice of the run.

wrk is the Debian package; it is installed with apt-get when missing.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(HERE), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

from common import BIN, MINIMAL_PATH, free_port, prepared_sqlite  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS") or 8)
SLICES = int(os.environ.get("BENCH_SLICES") or 4)
SEQUENTIAL = os.environ.get("BENCH_SEQUENTIAL") == "1"
CONNECTIONS = 64


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False)
    if not shutil.which("wrk"):
        subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True)
    return shutil.which("wrk") or "wrk"


def wrk(url: str, headers: dict | None = None, seconds: int = SECONDS) -> dict:
    cmd = [ensure_wrk(), "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx3xx": int(bad.group(1)) if bad else 0,
            "errors": errors.group(0) if errors else ""}


def interleaved(url: str, headers: dict | None, minimal_url: str) -> tuple[dict, list[dict]]:
    """``url`` and the minimal endpoint in alternating slices (M T, T M, …); the target's figures with
    ``ratio`` and ``p99_ratio`` against the minimal slices beside it, and those minimal slices."""
    seconds = max(1, SECONDS // SLICES)
    mine, base = [], []
    for i in range(SLICES):
        if i % 2 == 0:
            base.append(wrk(minimal_url, seconds=seconds))
            mine.append(wrk(url, headers, seconds=seconds))
        else:
            mine.append(wrk(url, headers, seconds=seconds))
            base.append(wrk(minimal_url, seconds=seconds))
    out = {"rps": statistics.fmean(r["rps"] for r in mine),
           "p50": statistics.median(r["p50"] for r in mine), "p99": statistics.median(r["p99"] for r in mine),
           "non2xx3xx": sum(r["non2xx3xx"] for r in mine),
           "errors": "; ".join(r["errors"] for r in mine if r["errors"]),
           "ratio": sum(r["rps"] for r in mine) / sum(r["rps"] for r in base),
           "p99_ratio": statistics.median(m["p99"] / b["p99"] for m, b in zip(mine, base, strict=True)),
           "slices": [round(m["rps"] / b["rps"], 3) for m, b in zip(mine, base, strict=True)]}
    return out, base


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Server:
    """gunicorn, 2 sync workers, bench/wsgi.py with ``code`` first on the path; samples its workers' RSS."""

    def __init__(self, env: dict, code: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--worker-class", "sync",
               "--log-level", "warning", "--chdir", str(HERE), "wsgi:application"]
        # cwd=code: gunicorn puts its starting directory first on sys.path, ahead of PYTHONPATH — started from
        # this tree, the "before" server would import this tree's code (as it did before this was set)
        self.proc = subprocess.Popen(cmd, cwd=str(code), env={**os.environ, "DIBAO_SWEEP_INTERVAL": "0",
                                                              "PYTHONPATH": f"{code}:{HERE}", **env})
        self.peak_rss = 0.0
        self._stop = threading.Event()
        for _ in range(300):
            try:
                with urllib.request.urlopen(self.base + MINIMAL_PATH, timeout=1) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("gunicorn did not start")
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self):
        while not self._stop.is_set():
            for pid in _children(self.proc.pid):
                self.peak_rss = max(self.peak_rss, _rss_mb(pid))
            time.sleep(0.5)

    def stop(self):
        self._stop.set()
        self.proc.terminate()
        self.proc.wait(10)


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    with urllib.request.urlopen(req) as res:  # noqa: S310
        return res.status, dict(res.headers), res.read()


def measure_tree(label: str, code: Path, url: str, token: str, community: str) -> dict:
    server = Server({"DIBAO_DATABASE_URL": url}, code)
    base = server.base
    try:
        board = f"{base}/notices/{community}"
        status, headers, body = get(board)
        assert status == 200 and body.decode().count('id="e-') == 40, "the board should show 40 entries"
        board_etag = headers["ETag"]
        slide = f"{base}/kiosk/{token}/slide/1"
        _, sh, _ = get(slide, {"HX-Request": "true"})
        slide_etag = sh["ETag"]
        api = f"{base}/api/v1/notices?region={community}"
        get(api)
        targets = {
            "board (40 open entries)": (board, None),
            "board 304": (board, {"If-None-Match": board_etag}),
            "kiosk 304 poll": (slide, {"If-None-Match": slide_etag, "HX-Request": "true"}),
            "kiosk full slide": (slide, {"HX-Request": "true"}),
            "region API": (api, None),
        }
        minimal = base + MINIMAL_PATH
        if SEQUENTIAL:
            results = {"minimal": wrk(minimal)}
            results |= {name: wrk(u, h) for name, (u, h) in targets.items()}
            for r in results.values():
                r["ratio"], r["p99_ratio"] = r["rps"] / results["minimal"]["rps"], r["p99"] / results["minimal"]["p99"]
        else:
            results, minimal_slices = {}, []
            for name, (u, h) in targets.items():
                results[name], slices = interleaved(u, h, minimal)
                minimal_slices += slices
            results = {"minimal": {"rps": statistics.fmean(r["rps"] for r in minimal_slices),
                                   "p50": statistics.median(r["p50"] for r in minimal_slices),
                                   "p99": statistics.median(r["p99"] for r in minimal_slices),
                                   "non2xx3xx": 0, "errors": "", "ratio": 1.0, "p99_ratio": 1.0}, **results}
    finally:
        server.stop()
    how = ("sequential" if SEQUENTIAL else
           f"interleaved with the minimal endpoint, {SLICES} × {max(1, SECONDS // SLICES)} s each")
    print(f"-- {label} (wrk -c{CONNECTIONS}, {how}; gunicorn 2 sync workers; peak worker RSS "
          f"{server.peak_rss:.0f} MB; load average {os.getloadavg()[0]:.1f})")
    for name, r in results.items():
        print(f"   {name:<26} {r['rps']:>8.1f} req/s  {r['ratio']:6.3f} × minimal   "
              f"p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms ({r['p99_ratio']:5.2f} × minimal's)"
              + (f"  slices {r['slices']}" if "slices" in r else "")
              + (f"  non-2xx/3xx {r['non2xx3xx']}" if r["non2xx3xx"] else "") + (f"  {r['errors']}" if r["errors"]
                                                                                  else ""))
    return {"results": results, "rss": server.peak_rss}


def arrange(url: str) -> tuple[str, str]:
    import bench_kiosk
    import bench_notices

    bench_notices.arrange(url)
    token = bench_kiosk.arrange(url)
    return token, bench_notices.COMMUNITY


def main() -> int:
    ensure_wrk()
    os.environ["PYTHONPATH"] = str(ROOT)  # `dibao db upgrade` migrates with this tree's migrations
    url = prepared_sqlite()
    token, community = arrange(url)
    before = os.environ.get("BENCH_BEFORE")
    if before:
        tmp = Path(tempfile.mkdtemp(prefix="dibao-before-"))
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", before], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        measure_tree(f"before: {before}", tmp, url, token, community)
    measure_tree("this tree", ROOT, url, token, community)
    print("   (the machine is shared: other processes load the same 2 cores; compare ratios, not req/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
