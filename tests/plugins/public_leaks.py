"""Issue 4: the public-leak recorder (a pytest plugin, loaded by tests/conftest.py before any test runs).

It registers ``_record`` with tests/plugins/responses.py, so every response of every app the suite creates — test
clients and the live server of the browser tests — passes by it. For each public (non-/admin) text response it
keeps the long digit runs (the only place an ID or phone number can hide). tests/test_public_leaks.py reads the
record; its two checks run last (``pytest_collection_modifyitems`` below).
"""

from __future__ import annotations

import re
from collections import defaultdict

from flask import has_request_context, request

from tests.plugins import responses

TEXT_TYPES = {"text/html", "application/json", "text/plain", "text/csv", "application/xml", "image/svg+xml"}
RUN = re.compile(r"[0-9Xx](?:[0-9Xx]|[ -](?=[0-9]))+[0-9Xx]")
# Values a test household of tests/factories.py carries by default.
FACTORY_SECRETS = {"110101195003071234", "13812345678"}
# … and the applicant of tests/test_applications.py (issue 14), whose numbers pass the check digits.
FACTORY_SECRETS |= {"110101195003071235", "110101200901011238", "13900001111"}

RECORDED: dict[str, set[str]] = defaultdict(set)  # digit run -> paths that answered it
DEMO_SECRETS: set[str] = set()
PUBLIC_RESPONSES = {"count": 0}


def _record(response) -> None:
    if not has_request_context() or request.path.startswith("/admin"):
        return
    if response.mimetype not in TEXT_TYPES or response.direct_passthrough or response.is_streamed:
        return
    PUBLIC_RESPONSES["count"] += 1
    text = response.get_data(as_text=True)
    for match in RUN.finditer(text):
        run = re.sub(r"[ -]", "", match.group())
        if len(run) >= 11:
            RECORDED[run].add(request.full_path)


def find_leaks(recorded: dict[str, set[str]], secrets: set[str]) -> dict[str, list[str]]:
    """secret -> (some of) the public paths whose answer carried it."""
    return {secret: sorted(paths)[:5] for run, paths in recorded.items() for secret in secrets
            if paths and secret in run}


def _export() -> dict:
    return {"recorded": {run: sorted(paths)[:5] for run, paths in RECORDED.items() if paths},
            "demo_secrets": sorted(DEMO_SECRETS), "count": PUBLIC_RESPONSES["count"]}


def _merge(part: dict) -> None:
    for run, paths in part["recorded"].items():
        RECORDED[run].update(paths)
    DEMO_SECRETS.update(part["demo_secrets"])
    PUBLIC_RESPONSES["count"] += part["count"]


def problems() -> list[str]:
    found = [f"{secret} answered publicly by {paths}"
             for secret, paths in find_leaks(RECORDED, DEMO_SECRETS | FACTORY_SECRETS).items()]
    # The demo crawl ran (a whole-suite run): the record must have seen enough to mean something.
    if DEMO_SECRETS and PUBLIC_RESPONSES["count"] <= 100:
        found.append(f"the recorder saw only {PUBLIC_RESPONSES['count']} public responses")
    return found


responses.on_response(_record)
responses.suite_check("no ID, phone or account number on a public answer",
                      responses.SuiteCheck(export=_export, merge=_merge, check=problems))
