"""One hook on every response of every app the suite creates (test clients and the browser tests' live server):
``Flask.process_response`` is wrapped once, and each recorder registered here sees each response. The suite-wide
checks (no public leak of ID or phone numbers, no ``="None"`` attribute) record through it.

The checks look at the whole run, so they run once it is over, in the process that sees all of it: with
pytest-xdist each worker hands its record to the controller (``workeroutput``), which merges them and checks.
A failed check fails the run (exit status 1) and says what it found at the end of the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask

RECORDERS: list[Callable] = []


def on_response(recorder: Callable) -> None:
    if recorder not in RECORDERS:
        RECORDERS.append(recorder)
    if getattr(Flask.process_response, "_suite_recorders", False):
        return
    original = Flask.process_response

    def process_response(self, response):
        response = original(self, response)
        for record in RECORDERS:
            record(response)
        return response

    process_response._suite_recorders = True  # type: ignore[attr-defined]
    Flask.process_response = process_response  # type: ignore[method-assign]


@dataclass(frozen=True)
class SuiteCheck:
    """A record kept in every process of the run and checked once, over all of it."""

    export: Callable[[], dict]  # this process's record, as plain data a worker can send
    merge: Callable[[dict], None]  # a worker's record, added to this process's
    check: Callable[[], list[str]]  # what is wrong with the whole record (empty: nothing)


CHECKS: dict[str, SuiteCheck] = {}
FAILURES: list[str] = []


def suite_check(name: str, check: SuiteCheck) -> None:
    CHECKS[name] = check


def pytest_sessionfinish(session):
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:  # an xdist worker: the controller checks the whole run
        for name, check in CHECKS.items():
            worker_output[f"suite-check:{name}"] = check.export()
        return
    for name, check in CHECKS.items():
        FAILURES.extend(f"{name}: {problem}" for problem in check.check())
    if FAILURES and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    output = getattr(node, "workeroutput", {})
    for name, check in CHECKS.items():
        if f"suite-check:{name}" in output:
            check.merge(output[f"suite-check:{name}"])


def pytest_terminal_summary(terminalreporter):
    if FAILURES:
        terminalreporter.write_sep("=", "FAILED suite-wide checks", red=True, bold=True)
        for line in FAILURES:
            terminalreporter.write_line(line)
