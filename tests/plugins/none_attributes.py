"""Issue 9 item 7: no page rendered anywhere in the suite carries an attribute printed as ``="None"``.

Like the public-leak recorder (tests/test_public_leaks.py), this plugin records through tests/plugins/responses.py,
so every HTML response of every app the suite creates — test clients and the browser tests' live server — is
looked at; once the run is over, the whole record (every xdist worker's) must be empty.
"""

from __future__ import annotations

import re

from flask import has_request_context, request

from tests.plugins import responses

# Starts only where a name starts: without the look-behind every position inside a long run of letters (a 5,000
# character hostile value echoed back) would be tried again, and one such page took the regex 0.7 s.
NONE_ATTRIBUTE = re.compile(r'(?<![\w:-])[\w:-]+="None"')
FOUND: dict[str, set[str]] = {}  # attribute text -> paths that rendered it
HTML_RESPONSES = {"count": 0}


def _record(response) -> None:
    if not has_request_context() or response.mimetype != "text/html":
        return
    if response.direct_passthrough or response.is_streamed:
        return
    HTML_RESPONSES["count"] += 1
    for match in NONE_ATTRIBUTE.finditer(response.get_data(as_text=True)):
        FOUND.setdefault(match.group(), set()).add(request.full_path)


responses.on_response(_record)


def _export() -> dict:
    return {"found": {attr: sorted(paths)[:5] for attr, paths in FOUND.items() if paths},
            "count": HTML_RESPONSES["count"]}


def _merge(part: dict) -> None:
    for attr, paths in part["found"].items():
        FOUND.setdefault(attr, set()).update(paths)
    HTML_RESPONSES["count"] += part["count"]


def problems() -> list[str]:
    return [f"{attr} rendered by {sorted(paths)[:5]}" for attr, paths in FOUND.items() if paths]


responses.suite_check('no page renders an attribute as ="None"',
                      responses.SuiteCheck(export=_export, merge=_merge, check=problems))
