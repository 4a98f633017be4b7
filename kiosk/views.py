"""The kiosk display: ``/kiosk/<token>`` (the full screen), its slides (polled by htmx), photos, the worker.

A token opens the display of its kiosk and nothing else: no login, no session use, no admin. An unknown or
revoked token gets the neutral "not registered" screen (404) and nothing more.

Rotation: the slide element polls ``/kiosk/<token>/slide/<next>`` every rotation interval and swaps itself
out. On an error or a network loss nothing is swapped (static/js/kiosk.js) and the same element retries on its
next tick.

Caching: the shell, the slides and the household photos carry names, addresses and amounts, so they are
``Cache-Control: no-store`` — the browser's own HTTP cache (on disk, beyond the reach of any script) never keeps
them, and nothing of a household outlives its notice on a public device. The only copies are the kiosk service
worker's (static/kiosk-sw.js, Cache Storage), which it cuts when a notice closes or is withdrawn. The worker also
does the revalidation the HTTP cache used to do: each slide and photo carries an ETag of what it shows, the
worker keeps it with its copy and sends it as If-None-Match, the server answers 304 without rendering (the public
cache's fast path, dibao.cache.FastPath, even without the request stack), and the worker hands htmx its kept
copy as a 200 — so paging goes on although the content is unchanged. Before the worker controls the page (its
very first load) the polls are answered in full.
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import UTC, timedelta
from pathlib import Path

from flask import abort, current_app, make_response, render_template, request, send_file
from markupsafe import Markup

from dibao import cache, clock, db, kiosks, media, notices, qr, workflow
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


NO_STORE = "no-store"  # household data: never in the browser's HTTP cache (the module's docstring)


def _no_store_headers(response):
    response.headers["Cache-Control"] = NO_STORE
    response.headers["X-Kiosk-Status"] = NOT_REGISTERED
    return response


def _not_registered(fragment: bool = False):
    template = "kiosk/_not_registered.html" if fragment else "kiosk/not_registered.html"
    return _no_store_headers(make_response(render_template(template), 404))


def _common_headers(response):
    response.headers["Cache-Control"] = NO_STORE
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["X-Server-Time"] = str(int(clock.now().timestamp() * 1000))
    return response


def _poll(token: str) -> kiosks.Kiosk | None:
    """Record the poll (at most once a minute: _note_poll) and load the kiosk; None when not registered."""
    _note_poll(token, clock.now())
    try:
        return kiosks.by_token(db.session(), token)
    except NotFound:
        return None


HEALTH_EVERY = timedelta(seconds=kiosks.HEALTH_WRITE_SECONDS)


def _note_poll(token: str, at, app=None, ip: str | None = None) -> None:
    """Kiosk health (issue 13): the poll is written at most once a minute per kiosk — this process remembers
    when it last wrote and counts the polls in between, and the UPDATE itself skips a kiosk another worker or
    server recorded within the minute. Its own short transaction, beside the request's read."""
    from flask import has_request_context

    app = app or current_app._get_current_object()
    if ip is None and has_request_context():
        ip = request.remote_addr
    memo = app.extensions.setdefault("dibao.kiosk_polls", {})
    seen = memo.get(token)
    if seen is not None and at - seen[0] < HEALTH_EVERY and seen[0] <= at:
        seen[1] += 1
        return
    pending = (seen[1] if seen is not None else 0) + 1
    with app.extensions["dibao.write_sessions"]() as session:
        kiosks.record_poll(session, token, ip=ip, at=at, polls=pending,
                           unless_seen_within=HEALTH_EVERY)
        session.commit()
    if len(memo) > 10000:
        memo.clear()
    memo[token] = [at, 0]


def _slide_etag(info: cache.Meta, at) -> str:
    parts = [info.digest, clock.to_local(at).date().isoformat()]
    parts += [repr(kiosks.time_left_bucket(c, at)) for c in info.closes]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _cached_slide(store: cache.Store, token: str, index: int):
    """A slide from the public cache: one version query, its meta, the ETag from the meta and the time in
    buckets (days and hours left, the date) — 304 without rendering; else rendered once per ETag."""
    at = clock.now()
    sess = db.session()
    kiosk = None
    known = ("kiosk", token)
    county = store.counties.get(known)
    if county is None:
        kiosk = _poll(token)
        if kiosk is None:
            return _not_registered(fragment=True)
        county = store.counties[known] = cache.county_code(kiosk.region.path)
    else:
        _note_poll(token, at)
    version = cache.version(sess, county)
    mkey = ("kmeta", token, index, version)
    info = store.get(mkey)
    if info is None or not info.fresh(at):
        if kiosk is None:
            try:
                kiosk = kiosks.by_token(sess, token)
            except NotFound:  # revoked or rotated since (the version moved)
                store.counties.pop(known, None)
                return _not_registered(fragment=True)
        s = kiosks.slide(sess, kiosk, index, public_url=current_app.config["PUBLIC_URL"], levels=_levels(), at=at)
        boundary = notices.board_signature(sess, kiosk.region, at).next_boundary
        info = cache.Meta(_etag(s), tuple(e.batch.closes_at for e in s.raw), boundary, county)
        store.set(mkey, info)
    etag = _slide_etag(info, at)
    if "dibao.fast" in request.environ:  # no cookie: the fast path may answer the next 304 (dibao.cache.FastPath)
        app = current_app._get_current_object()
        request.environ["dibao.fast"] = cache.FastSpec(
            ("kmeta", token, index), county, _slide_etag,
            on_hit=lambda when, environ: _note_poll(token, when, app, environ.get("REMOTE_ADDR")), server_time=True,
            body="kbody")
    if request.if_none_match.contains(etag):
        response = make_response("", 304)
    else:
        bkey = ("kbody", etag, version)
        body = store.get(bkey)
        if body is None:
            if kiosk is None:
                try:
                    kiosk = kiosks.by_token(sess, token)
                except NotFound:
                    store.counties.pop(known, None)
                    return _not_registered(fragment=True)
            s = kiosks.slide(sess, kiosk, index, public_url=current_app.config["PUBLIC_URL"], levels=_levels(),
                             at=at)
            body = render_template("kiosk/_slide.html", **_context(kiosk, s)).encode()
            store.set(bkey, body)
        response = make_response(body)
    response.set_etag(etag)
    return _common_headers(response)


NUMBER = re.compile(r"(\d+)")


def emphasise_numbers(text: str) -> Markup:
    """"还剩 6 天 23 小时" with its numbers in <strong>: the figures an elderly reader looks for, larger."""
    return Markup("").join(Markup("<strong>{}</strong>").format(part) if NUMBER.fullmatch(part) else part
                           for part in NUMBER.split(text) if part)


def _context(kiosk: kiosks.Kiosk, slide: kiosks.Slide) -> dict:
    public_url = current_app.config["PUBLIC_URL"]
    return {
        "kiosk": kiosk, "slide": slide, "qr": qr_svg, "emphasise": emphasise_numbers,
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
    response = make_response(render_template("kiosk/display.html", now=now, countdown=kiosks.countdown_words(now),
                                             **_context(kiosk, slide)))
    return _common_headers(response)


@bp.get("/<token>/slide/<int:index>")
def slide(token: str, index: int):
    store = cache.store(current_app)
    if store is not None:
        return _cached_slide(store, token, index)
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
    response.headers["Cache-Control"] = NO_STORE  # the worker revalidates its kept copy with the ETag
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    # When the entry closes: the kiosk's service worker drops its kept copy of the photo then, even offline
    # (static/kiosk-sw.js); a closed or withdrawn entry's photo answers 410 and is dropped at once.
    response.headers["X-Kiosk-Closes"] = entry.batch.closes_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
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
