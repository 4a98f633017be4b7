"""The few helpers every blueprint shares (the only request-aware code under dibao/).

``render`` is the one place that decides between a full page and an htmx fragment.
"""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request


def is_htmx() -> bool:
    """An htmx request that wants a fragment. A boosted request, or htmx restoring a page from its history
    (back button after a cache miss), wants the whole page."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(template: str, fragment: str | None = None, status: int = 200, **context: Any):
    """Render ``template``, or ``fragment`` (a partial, named ``_*.html``) for an htmx request."""
    if fragment is not None:
        g.vary_on_htmx = True  # one URL, two bodies: caches must key on the htmx headers
    name = fragment if fragment is not None and is_htmx() else template
    return render_template(name, **context), status
