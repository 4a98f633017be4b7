"""The kiosk display: ``/kiosk/<token>`` (the full screen), its slides (polled by htmx), photos, the worker.

A token opens the display of its kiosk and nothing else: no login, no session use, no admin. An unknown or
revoked token gets the neutral "not registered" screen (404) and nothing more.

Rotation: the slide element polls ``/kiosk/<token>/slide/<next>`` every rotation interval and swaps itself
out. Each slide carries an ETag of what it shows and ``Cache-Control: no-cache``: the browser revalidates
with If-None-Match, the server answers 304 without rendering, and the browser hands htmx the cached copy as
a 200 — so paging goes on although the content is unchanged. On an error or network loss nothing is swapped
(static/js/kiosk.js) and the same element retries on its next tick.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from flask import abort, current_app, make_response, render_template, request, send_file

from dibao import clock, db, kiosks, media, notices, qr, workflow
from dibao import display as display_log
from dibao.disclosure import Channel, present
from dibao.errors import DomainError, NotFound
from dibao.extensions import csrf, limiter
from dibao.models import Level
from dibao.web import perform
from kiosk import bp

ROOT = Path(__file__).resolve().parent.parent
SLIDE_TEMPLATES = ("kiosk/_slide.html", "kiosk/_entry.html", "kiosk/_info.html", "kiosk/display.html")
NOT_REGISTERED = "not-registered"


@functools.lru_cache(maxsize=512)
def qr_svg(data: str) -> str:
    """Inline SVG of a QR code (cached: the same few targets are drawn on every poll)."""
    return qr.svg(data).replace(' id="qr-path"', "")


@functools.lru_cache(maxsize=1)
def _markup_version() -> str:
    """Part of every ETag: a new release with changed slide markup invalidates the kiosks' cached slides."""
    digest = hashlib.sha256()
    for name in SLIDE_TEMPLATES:
        digest.update((ROOT / "templates" / name).read_bytes())
    return digest.hexdigest()[:12]


def _etag(slide: kiosks.Slide) -> str:
    return f"{slide.etag}-{_markup_version()}"


def _no_store_headers(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Kiosk-Status"] = NOT_REGISTERED
    return response


def _not_registered(fragment: bool = False):
    template = "kiosk/_not_registered.html" if fragment else "kiosk/not_registered.html"
    return _no_store_headers(make_response(render_template(template), 404))


def _common_headers(response):
    response.headers["Cache-Control"] = "no-cache, private"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["X-Server-Time"] = str(int(clock.now().timestamp() * 1000))
    return response


def _poll(token: str) -> kiosks.Kiosk | None:
    """Record the poll (one UPDATE, committed at once) and load the kiosk; None when not registered."""
    if not perform(lambda session: kiosks.record_poll(session, token, ip=request.remote_addr)).value:
        return None
    return kiosks.by_token(db.session(), token)


def _context(kiosk: kiosks.Kiosk, slide: kiosks.Slide) -> dict:
    public_url = current_app.config["PUBLIC_URL"]
    return {
        "kiosk": kiosk, "slide": slide, "qr": qr_svg,
        "board_target": qr.board_target(public_url, kiosk.region.code),
        "procedure_steps": kiosks.procedure_steps(_levels()),
    }


def _levels() -> tuple[Level, ...]:
    return workflow.notice_levels(current_app.config["NOTICE_LEVELS"])


@bp.get("/")
def index():
    # A kiosk is opened by its own token URL (/kiosk/<token>); the bare path shows the neutral screen.
    return _not_registered()


@bp.get("/sw.js")
def service_worker():
    """The kiosk's service worker, served under /kiosk/ so that its scope covers every /kiosk/<token>."""
    response = send_file(ROOT / "static" / "kiosk-sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/kiosk/"
    return response


@bp.get("/<token>")
def display(token: str):
    kiosk = _poll(token)
    if kiosk is None:
        return _not_registered()
    index = request.args.get("p", default=0, type=int) or 0
    slide = kiosks.slide(db.session(), kiosk, max(index, 0), public_url=current_app.config["PUBLIC_URL"],
                         levels=_levels())
    now = clock.now()
    response = make_response(render_template("kiosk/display.html", now=now, **_context(kiosk, slide)))
    return _common_headers(response)


@bp.get("/<token>/slide/<int:index>")
def slide(token: str, index: int):
    kiosk = _poll(token)
    if kiosk is None:
        return _not_registered(fragment=True)
    s = kiosks.slide(db.session(), kiosk, index, public_url=current_app.config["PUBLIC_URL"],
                         levels=_levels())
    etag = _etag(s)
    if request.if_none_match.contains(etag):
        response = make_response("", 304)
    else:
        response = make_response(render_template("kiosk/_slide.html", **_context(kiosk, s)))
    response.set_etag(etag)
    return _common_headers(response)


@bp.get("/<token>/photo/<entry_id>")
def photo(token: str, entry_id: str):
    """The household photo of an entry open now on this kiosk, where disclosure allows it; 410 (the closing
    date and the hotline, nothing of the household) once the entry closed or was withdrawn."""
    session = db.session()
    try:
        kiosk = kiosks.by_token(session, token)
    except NotFound:
        abort(404)
    notices.public_entry(session, entry_id)  # closed or withdrawn: Gone, like every public URL of an entry
    try:
        entry = kiosks.open_entry(session, kiosk, entry_id)
    except NotFound:
        abort(404)
    key = present(entry, Channel.kiosk, kiosks.policy(session, kiosk.region)).get("photo_key")
    if not key:
        abort(404)
    path = media.media_path(current_app.config["MEDIA_DIR"], key, "display")
    if not path.exists():
        path = media.media_path(current_app.config["MEDIA_DIR"], key)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=media.content_type(key), max_age=0, conditional=True, etag=True)
    response.headers["Cache-Control"] = "no-cache, private"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- issue 14: announcement pictures, and the kiosk's report of what it showed (proof of display) ----------------

@bp.get("/<token>/announcement/<public_id>/picture")
def announcement_picture(token: str, public_id: str):
    """The picture of an announcement shown today on this kiosk."""
    session = db.session()
    try:
        item = kiosks.current_announcement(session, kiosks.by_token(session, token), public_id)
    except NotFound:
        abort(404)
    if not item.picture_key:
        abort(404)
    response = send_file(media.media_path(current_app.config["MEDIA_DIR"], item.picture_key, "display"),
                         mimetype="image/jpeg", max_age=0, conditional=True, etag=True)
    response.headers["Cache-Control"] = "no-cache, private"
    return response


@bp.post("/<token>/shown")
@csrf.exempt  # no session and no form: the token is the kiosk's credential, as for its display
@limiter.limit("20 per minute", key_func=lambda: request.view_args.get("token", ""))  # per kiosk, not per IP
def report_display(token: str):
    """What the kiosk had on screen (JSON, see dibao.display); 204, or the neutral 404 for an unknown token."""
    session = db.session()
    try:
        kiosk = kiosks.by_token(session, token)
    except NotFound:
        return _not_registered(fragment=True)
    payload = request.get_json(silent=True) if request.content_length and request.content_length < 256 * 1024 else None
    try:
        key, shown = display_log.parse(payload)
    except DomainError as err:
        return {"error": "invalid", "message": str(err.message)}, 400
    perform(lambda sess: display_log.record(sess, kiosk, key, shown))
    return "", 204
