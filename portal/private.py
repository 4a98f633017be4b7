"""Public forms' answers are for one visitor only: no browser or shared cache keeps them (dibao.web.no_store)."""

from __future__ import annotations

from functools import wraps

from dibao.web import no_store


def private_page(view):
    """A public form's answer is for one visitor: it carries their session's CSRF token and a one-off
    submission id, and (objections) the household on notice. ``private, no-store``: no shared cache keeps it,
    and a browser going back fetches a fresh form (a kept copy would send the old submission id again, and the
    second objection would come back as the first one's receipt)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        return no_store(view(*args, **kwargs))

    return wrapped
