"""axe-core for the accessibility scans: installed from the npm registry into a git-ignored folder by the test
set-up itself (``npm ci`` on tests/browser/axe/package-lock.json, pinned with its integrity hash; never a CDN),
and injected into pages by Playwright."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FOLDER = Path(__file__).resolve().parent / "axe"
SCRIPT = FOLDER / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def ensure_axe() -> Path:
    """The path of axe.min.js, installing it with npm on first use (``make axe`` does the same)."""
    if SCRIPT.exists():
        return SCRIPT
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (apt-get install npm), so axe-core cannot be installed")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(FOLDER)], check=True, timeout=600,
                   capture_output=True)
    return SCRIPT


def scan(page) -> list[dict]:
    """Run axe on the page as it is now; the violations (each with its impact and nodes)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(ensure_axe()))
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
            nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 8)}));
    }""")


def counts(violations: list[dict]) -> dict[str, int]:
    """Findings per impact, counted by affected element (as the axe browser extension counts "issues")."""
    out = {"critical": 0, "serious": 0, "moderate": 0, "minor": 0}
    for v in violations:
        out[v["impact"] or "minor"] += v["count"]
    return out
