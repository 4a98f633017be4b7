"""The suite-wide checks (tests/plugins/responses.py) see the whole run when it is split over pytest-xdist workers,
as `make test` runs it: a leak or a ="None" attribute answered on any worker fails the run."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ["-p", "tests.plugins.responses", "-p", "tests.plugins.public_leaks", "-p", "tests.plugins.none_attributes"]

PROBES = '''
from flask import Flask

def _answer(body):
    probe = Flask("probe")
    probe.add_url_rule("/p", "p", lambda: body)
    probe.test_client().get("/p")

def test_a_quiet_page():
    _answer("<p>公示</p>")

def test_a_second_quiet_page():
    _answer("<p>低保</p>")
'''
BAD = '''
def test_a_page_with_a_none_attribute():
    _answer('<input value="None">')

def test_a_page_with_a_phone_number():
    _answer("<p>电话 138 1234 5678</p>")
'''


def _run(pytester, monkeypatch, source):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_probe=source)
    return pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", *PLUGINS)


def test_a_problem_seen_by_any_worker_fails_the_run(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, PROBES + BAD)
    assert result.ret == 1  # every test passed: only the check fails the run
    result.stdout.fnmatch_lines(["*4 passed*"])
    result.stdout.fnmatch_lines(["*FAILED suite-wide checks*"])
    result.stdout.fnmatch_lines(['*value="None" rendered by*/p?*'])
    result.stdout.fnmatch_lines(["*13812345678 answered publicly by*/p?*"])


def test_a_clean_run_passes(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, PROBES)
    assert result.ret == 0
    assert "suite-wide" not in result.stdout.str()
