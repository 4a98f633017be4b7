"""The few helpers every blueprint shares (the only request-aware code under dibao/).

``render`` is the one place that decides between a full page and an htmx fragment.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request


def is_htmx() -> bool:
    # A boosted request wants the whole page; a plain htmx request wants the fragment.
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def render(template: str, fragment: str | None = None, status: int = 200, **context: Any):
    """Render ``template``, or ``fragment`` (a partial, named ``_*.html``) for an htmx request."""
    name = fragment if fragment is not None and is_htmx() else template
    return render_template(name, **context), status
