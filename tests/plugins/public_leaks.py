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


responses.on_response(_record)

LAST = ("test_seed_demo_and_crawl_every_public_page", "test_no_public_response_leaks_id_or_phone_numbers")


def pytest_collection_modifyitems(session, config, items):
    """Run the two checks of tests/test_public_leaks.py after everything else."""
    late = [item for item in items if item.name.split("[")[0] in LAST]
    late.sort(key=lambda item: LAST.index(item.name.split("[")[0]))
    items[:] = [item for item in items if item not in late] + late
