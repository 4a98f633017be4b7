"""The few helpers every blueprint shares (the only request-aware code under dibao/).

``render`` is the one place that decides between a full page and an htmx fragment; ``perform`` the one place
a request commits, and where a domain error becomes the form's message or the error page's status.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import ipaddress
import mimetypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import unquote, urlsplit

from flask import current_app, g, make_response, render_template, request, send_file
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import safe_join

from dibao import db
from dibao.errors import Conflict, DomainError, parse_record_id


def is_htmx() -> bool:
    """An htmx request that wants a fragment. A boosted request, or htmx restoring a page from its history
    (back button after a cache miss), wants the whole page."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


PRIVATE = "private, no-store"


def no_store(response):
    """The response (or what a view returned), never kept by a browser or a shared cache: one person's
    answer (a receipt's code, a form's token, a household's photo, a file of ID numbers)."""
    response = make_response(response)
    response.headers["Cache-Control"] = PRIVATE
    return response


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
    """Show every problem of a domain error beside its field, or above the form."""
    for field_name, message in err.field_problems:
        attach_message(form, field_name, str(message))


def _form_field(form: Any, field_name: str) -> Any:
    """The form's field by name, or a row's field by its id ("members-2-age" in a FieldList)."""
    field = getattr(form, field_name, None)
    if field is not None and hasattr(field, "errors"):
        return field
    for top in form:
        if top.type == "FieldList":
            for row in top:
                for sub in getattr(row, "form", [row]):
                    if sub.id == field_name:
                        return sub
    return None


def attach_message(form: Any, field_name: str | None, message: str) -> None:
    """A message beside the named field, or above the form (also for a field the page does not show)."""
    field = _form_field(form, field_name) if field_name else None
    if field is not None and field.type not in ("HiddenField", "CSRFTokenField"):
        if message not in (field.errors or []):  # (the form's own check and the domain's may say the same)
            field.errors = [*(field.errors or []), message]
        return
    if message not in form.form_errors:
        form.form_errors.append(message)
    named = getattr(form, "named_errors", None)
    if field_name and field is None and named is not None:  # an input the page draws itself: it places it too
        named.setdefault(field_name, []).append(message)


def perform(change: Callable[[Session], T], form: Any | None = None) -> Outcome[T]:
    """Run one domain change and commit it: the request's one commit (domain functions only flush).

    On a domain error nothing is kept: the transaction rolls back. With a ``form`` the message is shown on it
    and the refusal's status returned, so the view renders the form again; refusals of scope and permission
    (404, 403) and any error without a form go to the app's error page, which answers with their status.
    """
    session = db.session()
    try:
        try:
            value = change(session)
            session.commit()
        except IntegrityError as err:
            if not _lost_a_race(err):
                raise
            # A twin committed between the domain's own check and this write (a double click, two clerks at
            # once) and the database's unique constraint refused this one: a conflict to show, not a fault.
            session.rollback()
            raise Conflict(SAVED_BY_SOMEONE_ELSE) from err
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


SAVED_BY_SOMEONE_ELSE = _l("同样的内容刚刚已由另一次提交保存（可能是重复点击或他人同时操作），本次未保存。请刷新页面查看。")


def _lost_a_race(err: IntegrityError) -> bool:
    """Whether the database refused a row for a unique constraint (SQLite's message; PostgreSQL's SQLSTATE
    23505) — what a concurrent twin causes; any other integrity error is a fault and stays one."""
    orig = err.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


def submit(form: Any, change: Callable[[Session], T]) -> Outcome[T]:
    """A form view's whole decision: not submitted → status 200 (show the form); invalid → 400; otherwise
    :func:`perform` the change with the form catching its errors. ``ok`` only when committed."""
    if not form.is_submitted():
        return Outcome(status=200)
    if not form.validate():
        return Outcome(status=400)
    return perform(change, form)


def int_arg(name: str) -> int | None:
    """A record id (or a page or category number) from the query string, read as every record id is
    (:func:`dibao.errors.parse_record_id`): None when absent or no possible key, and the list shows as if nothing
    was chosen, as for any other value it cannot read."""
    return parse_record_id(request.args.get(name))


# --- bad input: answered with a 4xx and a Chinese message, never a 500 -----------------------------------

API_ERROR_CODES = {400: "invalid", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 409: "conflict",
                   410: "gone", 413: "too_large", 429: "too_many_requests"}


def is_api() -> bool:
    """A request to the open-data API, whose every answer (errors too) is JSON."""
    return request.path.startswith("/api/")


def problem_list(problems: list[tuple[str | None, Any]]) -> list[dict[str, str | None]]:
    """A refusal's problems (a domain error's ``field_problems``) as JSON:
    ``[{"field": name or None, "message": 中文说明}, …]``."""
    return [{"field": field, "message": str(message)} for field, message in problems]


def json_error(status: int, message: str, **extra: Any):
    """The API's error body: ``{"error": code, "message": 中文说明, …}`` with ``status`` (a refusal with several
    problems adds ``"problems": [{"field", "message"}, …]``)."""
    from flask import jsonify

    response = jsonify({"error": API_ERROR_CODES.get(status, "error"), "message": str(message), **extra})
    response.status_code = status
    return response


def error_page(status: int, title: str, message: str, headers: dict[str, str] | None = None,
               problems: list[tuple[str | None, Any]] | None = None):
    """Every error the app answers, in Chinese: JSON for the API, a small fragment for an htmx request (it lands
    inside the page that asked), else a whole page in the layout of the part of the site it came from.
    ``problems``: a refusal's several problems as (field, message), each shown on its own line (``message`` is
    their summary)."""
    if is_api():  # the API answers JSON, errors too
        extra = {"problems": problem_list(problems)} if problems else {}
        response = json_error(status, message, **extra)
        response.headers.update(headers or {})
        return response
    g.vary_on_htmx = True  # one URL, a page or a fragment: caches must key on the htmx headers
    if is_htmx():
        template = "_error.html"
    else:
        # (an address the router refused has no blueprint: its path says which side it belongs to)
        staff = request.blueprint == "admin" or (request.blueprint is None and request.path.startswith("/admin/"))
        template = "admin/error.html" if staff else "portal/error.html"
    return (render_template(template, status=status, title=title, message=message, problems=problems or []),
            status, headers or {})


_CONTROL = {chr(c) for c in range(32)} | {"\x7f", "\x85", "\u2028", "\u2029"}


def refuse_nul() -> None:
    """A NUL character has no place in anything a person types, and PostgreSQL text cannot hold one: refuse the
    request before any view reads it (a before-request hook of the app)."""
    values = [request.path, *request.args.values(), *request.form.values(),
              *(f.filename or "" for f in request.files.values())]
    if any("\x00" in v for v in values):
        from flask_babel import lazy_gettext as _l

        from dibao.errors import Invalid

        raise Invalid(_l("提交的内容含有无效字符（空字符），请检查后重新提交。"))


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
    slip through a later decoding step. Only ASCII: anything else is refused rather than normalised. A control
    character (CR, LF, tab, NUL …) anywhere is refused with a 400.
    """
    if not target:
        return default
    if any(ch in _CONTROL for ch in unquote(unquote(target))):
        # A line break could split the Location header, a tab is dropped by browsers ("/<tab>/evil.example"):
        # such a link was made to mislead, so say so instead of quietly going elsewhere.
        from flask_babel import lazy_gettext as _l

        from dibao.errors import Invalid

        raise Invalid(_l("跳转地址含有无效字符，请从页面上的链接重新进入。"), field="next")
    if len(target) > 2000 or not target.isascii():
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


IPV6_CLIENT_PREFIX = 64  # an IPv6 client is its /64: what one home line or phone is given (RFC 6177, RFC 7084)


def client_network(address: str | None) -> str:
    """The client as the limits count it: an IPv4 address as it is; an IPv6 address as its /64 network. A home
    line or a phone is given a whole /64 and may take any address in it at will (privacy addresses change by
    themselves), so counting single IPv6 addresses let one person send each objection from a new one, past the
    rate limits and the cap on entries held (issue: objection flooding). An IPv4 address carried in IPv6
    (::ffff:1.2.3.4) is that IPv4 address; anything unreadable is kept as given."""
    text = (address or "").strip()
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # (a zone index, fe80::1%eth0, names no other host)
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


def client_address() -> str:
    """The request's client for rate limits (Flask-Limiter's key): :func:`client_network` of its address as the
    trusted proxies report it."""
    return client_network(request.remote_addr)


def client_key() -> str:
    """A keyed hash of the client (:func:`client_address`, as the trusted proxies report it): what counts per
    client without the address itself being stored."""
    secret = str(current_app.secret_key).encode()
    return hmac.new(secret, client_address().encode(), "sha256").hexdigest()


def safe_download_name(name: str) -> str:
    """A file name for Content-Disposition: line breaks and other control characters (a title typed with a
    line break) become spaces, so the header stays one line and the file can always be downloaded."""
    cleaned = "".join(" " if ch in _CONTROL else ch for ch in name)
    return " ".join(cleaned.split()) or "file"
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


# --- static files, fingerprinted ------------------------------------------------------------------------------

FINGERPRINTED = {".css", ".js"}  # what a page loads by URL; fonts are named by the CSS, relatively, and kept as named
_fingerprints: dict[tuple[str, int, int], str] = {}


def static_fingerprint(endpoint: str, values: dict[str, Any]) -> None:
    """``url_for("static", filename=…)`` of a script or stylesheet carries ``?v=`` and a hash of the file's content.
    A deploy then changes the URL of every file it changed, so no browser runs yesterday's script under today's
    page — nor a kiosk, whose service worker answers static files from its own copy first (static/kiosk-sw.js)."""
    if endpoint != "static" or "v" in values:
        return
    filename = values.get("filename")
    if not isinstance(filename, str) or Path(filename).suffix not in FINGERPRINTED:
        return
    path = safe_join(current_app.static_folder or "", filename)
    if path is None:
        return
    try:
        stat = os.stat(path)
    except OSError:
        return
    key = (path, stat.st_mtime_ns, stat.st_size)
    found = _fingerprints.get(key)
    if found is None:
        found = _fingerprints[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    values["v"] = found
