"""The few helpers every blueprint shares (the only request-aware code under dibao/).

``render`` is the one place that decides between a full page and an htmx fragment; ``perform`` the one place
a request commits, and where a domain error becomes the form's message or the error page's status.
"""

from __future__ import annotations

import gzip
import mimetypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from flask import current_app, g, render_template, request, send_file
from sqlalchemy.orm import Session
from werkzeug.security import safe_join

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


# --- static files, compressed (issue 14: the kiosk's first load) ------------------------------------------------

COMPRESSIBLE = {".css", ".js", ".svg", ".json", ".txt", ".map"}  # fonts (WOFF2) and images are compressed already


def _gzip_copy(source: Path, target: Path) -> None:
    """Write (atomically) a gzip copy of ``source`` carrying its modification time."""
    stat = source.stat()
    if target.exists() and target.stat().st_mtime == stat.st_mtime:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(gzip.compress(source.read_bytes(), compresslevel=9, mtime=0))
    os.utime(tmp, (stat.st_mtime, stat.st_mtime))
    os.replace(tmp, target)


def compressed_static():
    """Before the static view: a CSS, JS or SVG file goes out gzip-compressed to a browser that accepts it (a
    copy made once per file version under the instance folder, with its own ETag, so 304s still work)."""
    if request.endpoint != "static" or not request.view_args:
        return None
    filename = request.view_args.get("filename", "")
    source = safe_join(current_app.static_folder or "", filename)
    if source is None or Path(source).suffix not in COMPRESSIBLE or not os.path.isfile(source):
        return None
    if not request.accept_encodings["gzip"]:
        return None
    target = Path(current_app.config.get("STATIC_GZIP_DIR") or Path(current_app.instance_path) / "static-gzip")
    target = target / (filename + ".gz")
    _gzip_copy(Path(source), target)
    response = send_file(target, mimetype=mimetypes.guess_type(filename)[0] or "application/octet-stream",
                         conditional=True, etag=True, max_age=current_app.get_send_file_max_age(filename))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


def vary_static(response):
    """After the static view: the uncompressed copy of a compressible file also says it depends on the
    browser's Accept-Encoding (a shared cache must not hand it to the wrong browser)."""
    if request.endpoint == "static" and Path(request.path).suffix in COMPRESSIBLE:
        response.vary.add("Accept-Encoding")
    return response
