"""Open data API (read-only JSON, /api/v1): open notices and the standing roster, under the API channel's
disclosure. Documented by static/openapi/openapi.json, served at /api/v1/openapi.json.

Errors are JSON too ({"error": ..., "message": ...}); a closed or withdrawn entry answers 410.
"""

from __future__ import annotations

from functools import wraps
from pathlib import Path
from urllib.parse import urlencode

from flask import current_app, jsonify, request, send_file

from dibao import cache, clock, db, disclosure, notices
from dibao.disclosure import Channel
from dibao.errors import DomainError
from dibao.web import is_api, json_error, problem_list
from portal import bp
from portal.notices import (
    beyond_last,
    cacheable,
    conditional,
    etag_of,
    page_arg,
    per_page_arg,
    policy,
    roster_meta,
    roster_page,
    roster_totals_shown,
    served,
)

OPENAPI = Path(__file__).resolve().parent.parent / "static" / "openapi" / "openapi.json"


def api_view(view):
    """JSON errors, open CORS (it is public data), never a session cookie."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        try:
            response = view(*args, **kwargs)
        except DomainError as err:
            db.session().rollback()
            extra = {}
            if err.status == 410:  # a closed or withdrawn entry: its date (in the message), where to turn now
                extra = {"hotline": current_app.config["HOTLINE"],
                         "report_url": f"{current_app.config['PUBLIC_URL']}/reports/new"}
            if len(err.field_problems) > 1:
                extra["problems"] = problem_list(err.field_problems)
            response = json_error(err.status, str(err.message), **extra)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    return wrapped


@bp.after_request
def _api_noindex(response):
    """Every answer of the public API's routes (/api/v1: its listings carry people's masked names and addresses;
    its errors, statistics and schema alike) says ``noindex`` itself, like the public pages of people: robots.txt
    alone only asks crawlers not to fetch, and does not keep an answer found elsewhere out of an index. Set on
    the app's every answer, 200, 304 or error, so the public cache's fast path (dibao.cache.FastPath), which
    replays the headers of the app's own last 304 and 200, carries it too."""
    if is_api():
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _iso(instant):
    return instant.isoformat().replace("+00:00", "Z")


def _batch_json(batch, at) -> dict:
    return {
        "id": batch.public_id, "title": batch.title, "level": batch.level.value,
        "region": {"code": batch.region.code, "name": batch.region.name},
        "opens_at": _iso(batch.opens_at), "closes_at": _iso(batch.closes_at),
        "seconds_left": max(0, int((batch.closes_at - at).total_seconds())),
        "fingerprint": batch.fingerprint,
    }


def _entry_json(entry, pol) -> dict:
    base = current_app.config["PUBLIC_URL"]
    shown = disclosure.present(entry, Channel.api, pol)
    out = {
        "id": entry.public_id,
        "community": {"code": entry.region.code, "name": entry.region.name},
        "url": f"{base}/notices/e/{entry.public_id}",
        "objection_url": f"{base}/objections/new?entry={entry.public_id}",
    }
    if shown.pop("photo_key", None):  # a media key is internal; the API gives the photo's URL
        out["photo_url"] = f"{base}/media/entry/{entry.public_id}/photo"
    return {**out, **shown}


API_MAX_PER_PAGE = 500  # the most lines an API page gives (notices and roster alike)


def _paging(page: int, per_page: int, pages: int, total: int) -> dict:
    """The paging fields of a listing: where this page is and the addresses of the next and previous ones."""

    def url(n: int) -> str | None:
        if not 1 <= n <= pages:
            return None
        query = {"region": request.args.get("region") or None, "page": n, "per_page": per_page}
        return f"{current_app.config['PUBLIC_URL']}{request.path}?{urlencode({k: v for k, v in query.items() if v})}"

    return {"total": total, "page": page, "per_page": per_page, "pages": pages, "next": url(page + 1),
            "previous": url(page - 1)}


def _notices_json(region, board: notices.BoardPage, pol) -> dict:
    return {
        "region": {"code": region.code, "name": region.full_name} if region else None,
        "generated_at": _iso(board.at),
        "next_change_at": _iso(board.next_boundary) if board.next_boundary else None,
        **_paging(board.page, board.per_page, board.pages, board.total),
        "batches": [{**_batch_json(g.batch, board.at), "entries": [_entry_json(e, pol) for e in g.entries]}
                    for g in board.groups],
    }


def _notices_meta(page: int, per_page: int):
    """The meta of one page of the listing: a digest of that page's entries (photos as shown now), the board's
    total and next boundary — one count and one page of entries, never the whole board."""

    def build(region, at) -> cache.Meta:
        board = notices.board_page(db.session(), region, at, page=page, per_page=per_page)
        digest = etag_of("api-notices", Channel.api.value, disclosure.policy_version(policy(region)),
                         *board.etag_parts())
        return cache.Meta(digest, (), board.next_boundary,
                          cache.county_code(region.path) if region is not None else None, extra=board.pages)

    return build


@bp.get("/api/v1/notices")
@api_view
def api_notices():
    page, per_page = page_arg(), per_page_arg(notices.BOARD_PER_PAGE, API_MAX_PER_PAGE)

    def produce(region, at, info):
        if page > info.extra:
            raise beyond_last(page, info.extra)
        board = notices.board_page(db.session(), region, at, page=page, per_page=per_page)
        return jsonify(_notices_json(region, board, policy(region))).get_data(), "application/json"

    # seconds_left changes every second, so the tag uses the minute (the content otherwise changes only at the
    # boundaries, which end the meta's freshness)
    return served(cacheable(), "api-notices", request.args.get("region") or None, (page, per_page), clock.now(),
                  meta=_notices_meta(page, per_page),
                  tag=lambda meta, at: (meta.digest, at.replace(second=0, microsecond=0).isoformat()),
                  produce=produce, pass_meta=True)


@bp.get("/api/v1/notices/<public_id>")
@api_view
def api_notice(public_id: str):
    entry = notices.public_entry(db.session(), public_id)
    pol = policy(entry.region)
    at = clock.now()
    minute = at.replace(second=0, microsecond=0).isoformat()

    def produce():
        return jsonify({**_entry_json(entry, pol), "batch": _batch_json(entry.batch, at)})

    return conditional(etag_of("api-notice", entry.public_id, entry.batch.fingerprint, minute,
                               disclosure.policy_version(pol), notices.shown_photo_key(entry)), produce)


@bp.get("/api/v1/roster")
@api_view
def api_roster():
    page, per_page = page_arg(), per_page_arg(notices.ROSTER_PER_PAGE, API_MAX_PER_PAGE)

    def produce(region, at, info):
        totals, start = info.extra
        pages = totals.pages(per_page)
        if page > pages:
            raise beyond_last(page, pages)
        shown = roster_totals_shown(totals, Channel.api, policy(region))
        return jsonify({
            "region": {"code": region.code, "name": region.full_name} if region else None,
            "households": totals.households,
            "persons": shown["persons"],
            "monthly_total": shown["amount"],
            **_paging(page, per_page, pages, totals.households),
            "recipients": roster_page(region, Channel.api, per_page, start) if start is not None else [],
        }).get_data(), "application/json"

    return served(cacheable(), "api-roster", request.args.get("region") or None, (page, per_page), clock.now(),
                  meta=roster_meta("api-roster", Channel.api, page, per_page), tag=lambda meta, at: (meta.digest,),
                  produce=produce, pass_meta=True)


@bp.get("/api/v1/openapi.json")
@api_view
def api_openapi():
    response = send_file(OPENAPI, mimetype="application/json", conditional=True, etag=True, max_age=0)
    return response
