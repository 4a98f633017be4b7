"""A receipt's tracking code, kept in the submitter's own browser (the session, never the URL) for a short while.

The portal is used on shared computers (a library, the community's service hall, a relative's phone): the next
person there could open the receipt page and, with the code, follow someone else's objection or application.
So the code is kept for half an hour — long enough to copy it down or reload the page — and the receipt has a
button that forgets it at once."""

from __future__ import annotations

from flask import g, session

from dibao import clock
from dibao.web import no_store, render
from portal import bp

RECEIPT_SECONDS = 30 * 60
APPLICATION = "application_receipt"
FEEDBACK = "feedback_receipt"


def remember(key: str, code: str, **extra) -> None:
    session[key] = {"code": code, "at": clock.now().timestamp(), **extra}


def recalled(key: str) -> str | None:
    """The code kept under ``key``, or None once it is older than RECEIPT_SECONDS (then it is dropped)."""
    data = session.get(key)
    if not data:
        return None
    if clock.now().timestamp() - data.get("at", 0) > RECEIPT_SECONDS:
        session.pop(key, None)
        return None
    return data.get("code")


@bp.post("/receipt/forget")
def forget_receipt():
    """我已记下: the codes of every receipt leave this browser (CSRF-checked like every form)."""
    g.noindex = True
    for key in (APPLICATION, FEEDBACK):
        session.pop(key, None)
    return no_store(render("portal/receipt_forgotten.html", noindex=True))
