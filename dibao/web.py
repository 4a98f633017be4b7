"""The few helpers every blueprint shares (the only request-aware code under dibao/).

``render`` is the one place that decides between a full page and an htmx fragment; ``perform`` the one place
a request commits, and where a domain error becomes the form's message or the error page's status.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import unquote, urlsplit

from flask import current_app, g, render_template, request
from sqlalchemy.orm import Session

from dibao import db
from dibao.errors import DomainError


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


# --- the one commit point ------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """What :func:`perform` did: the domain function's result, or the status of its refusal."""

    value: T | None = None
    status: int | None = None  # None: done and committed

    @property
    def ok(self) -> bool:
        return self.status is None


def attach_error(form: Any, err: DomainError) -> None:
    """Show a domain error beside its field, or above the form."""
    attach_message(form, err.field, str(err.message))


def attach_message(form: Any, field_name: str | None, message: str) -> None:
    """A message beside the named field, or above the form (also for a field the page does not show)."""
    field = getattr(form, field_name, None) if field_name else None
    if field is not None and hasattr(field, "errors") and field.type not in ("HiddenField", "CSRFTokenField"):
        field.errors = [*(field.errors or []), message]
    else:
        form.form_errors.append(message)


def perform(change: Callable[[Session], T], form: Any | None = None) -> Outcome[T]:
    """Run one domain change and commit it: the request's one commit (domain functions only flush).

    On a domain error nothing is kept: the transaction rolls back. With a ``form`` the message is shown on it
    and the refusal's status returned, so the view renders the form again; refusals of scope and permission
    (404, 403) and any error without a form go to the app's error page, which answers with their status.
    """
    session = db.session()
    try:
        value = change(session)
        session.commit()
    except DomainError as err:
        session.rollback()
        if form is None or err.status in (403, 404):
            raise
        attach_error(form, err)
        return Outcome(status=err.status)
    except BaseException:
        session.rollback()
        raise
    return Outcome(value=value)


def submit(form: Any, change: Callable[[Session], T]) -> Outcome[T]:
    """A form view's whole decision: not submitted → status 200 (show the form); invalid → 400; otherwise
    :func:`perform` the change with the form catching its errors. ``ok`` only when committed."""
    if not form.is_submitted():
        return Outcome(status=200)
    if not form.validate():
        return Outcome(status=400)
    return perform(change, form)


def int_arg(name: str) -> int | None:
    """A positive whole number from the query string, or None (also for one no database key can reach)."""
    value = request.args.get(name, "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    number = int(value)
    return number if number > 0 else None


# --- where to go next ----------------------------------------------------------------------------------

def _local_path(value: str) -> bool:
    """A path on this site and nothing a browser could read as another host: no scheme or host, no "//" or
    "/\\" at the start, no backslash, whitespace or control character anywhere (browsers drop tabs and line
    breaks and read "\\" as "/", so "/%09/evil.example" would become "//evil.example")."""
    if not value.startswith("/") or value[1:2] in ("/", "\\"):
        return False
    if any(ch <= " " or ch in "\\\x7f" for ch in value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str, *, prefix: str = "/") -> str:
    """``target`` (a ``next=`` parameter) if it is a local path under ``prefix``, else ``default``.

    Checked as given and again after percent-decoding (twice), so an encoded "//", "\\" or line break cannot
    slip through a later decoding step. Only ASCII: anything else is refused rather than normalised.
    """
    if not target or len(target) > 2000 or not target.isascii():
        return default
    value = target
    for _ in range(3):
        if not _local_path(value):
            return default
        decoded = unquote(value)
        if decoded == value:
            break
        value = decoded
    else:
        return default
    base = prefix.rstrip("/")
    if base and not (target == base or target.startswith((base + "/", base + "?", base + "#"))):
        return default
    return target


def client_key() -> str:
    """A keyed hash of the client's address (as the trusted proxies report it): what counts per client without
    the address itself being stored."""
    secret = str(current_app.secret_key).encode()
    return hmac.new(secret, (request.remote_addr or "").encode(), "sha256").hexdigest()
