"""Issue 9 item 7: no page rendered anywhere in the suite carries an attribute printed as ``="None"``.

Like the public-leak recorder (tests/test_public_leaks.py), this plugin records through tests/plugins/responses.py,
so every HTML response of every app the suite creates — test clients and the browser tests' live server — is
looked at; ``tests/test_forms_render.py::test_no_page_renders_a_none_attribute`` runs last and reads the record.
"""

from __future__ import annotations

import re

import pytest
from flask import has_request_context, request

from tests.plugins import responses

NONE_ATTRIBUTE = re.compile(r'[\w:-]+="None"')
FOUND: dict[str, set[str]] = {}  # attribute text -> paths that rendered it
HTML_RESPONSES = {"count": 0}
LAST = "test_no_page_renders_a_none_attribute"


def _record(response) -> None:
    if not has_request_context() or response.mimetype != "text/html":
        return
    if response.direct_passthrough or response.is_streamed:
        return
    HTML_RESPONSES["count"] += 1
    for match in NONE_ATTRIBUTE.finditer(response.get_data(as_text=True)):
        FOUND.setdefault(match.group(), set()).add(request.full_path)


responses.on_response(_record)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """After every other ordering hook: the check runs once everything else has rendered its pages."""
    late = [item for item in items if item.name.split("[")[0] == LAST]
    items[:] = [item for item in items if item not in late] + late
