"""`make bench`: run every bench/bench_*.py (each prints its figures as ratios to the minimal endpoint)."""

from __future__ import annotations

import runpy
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run only when named (`make bench BENCH=scale`): builds a 200,000-household province on PostgreSQL (minutes).
ONLY_WHEN_NAMED = {"scale"}


def main() -> int:
    sys.path.insert(0, str(HERE))
    only = sys.argv[1:]
    scripts = sorted(p for p in HERE.glob("bench_*.py")
                     if p.stem.removeprefix("bench_") in only
                     or (not only and p.stem.removeprefix("bench_") not in ONLY_WHEN_NAMED))
    for script in scripts:
        print(f"== {script.stem} ==", flush=True)
        started = time.monotonic()
        runpy.run_path(str(script), run_name="__main__")
        print(f"   ({time.monotonic() - started:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
