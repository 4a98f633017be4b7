"""Open data API (read-only JSON, /api/v1): open notices and the standing roster, under the API channel's
disclosure. Documented by static/openapi/openapi.json, served at /api/v1/openapi.json.

Errors are JSON too ({"error": ..., "message": ...}); a closed or withdrawn entry answers 410.
"""

from __future__ import annotations

from functools import wraps
from pathlib import Path

from flask import current_app, jsonify, request, send_file

from dibao import clock, db, disclosure, notices
from dibao.disclosure import Channel
from dibao.errors import DomainError
from dibao.web import json_error
from portal import bp
from portal.notices import board_meta, cacheable, conditional, etag_of, policy, region_or_404, served

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
            response = json_error(err.status, str(err.message), **extra)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    return wrapped


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


def _notices_json(region, board, pol) -> dict:
    return {
        "region": {"code": region.code, "name": region.full_name} if region else None,
        "generated_at": _iso(board.at),
        "next_change_at": _iso(board.next_boundary) if board.next_boundary else None,
        "batches": [{**_batch_json(g.batch, board.at), "entries": [_entry_json(e, pol) for e in g.entries]}
                    for g in board.groups],
    }


@bp.get("/api/v1/notices")
@api_view
def api_notices():
    store = cacheable()
    if store is not None:
        def produce_cached(region, at):
            board = notices.board(db.session(), region, at)
            pol = policy(region)
            return jsonify(_notices_json(region, board, pol)).get_data(), "application/json"

        # seconds_left changes every second, so the tag uses the minute (as below)
        return served(store, "api-notices", request.args.get("region") or None, (), clock.now(),
                      meta=board_meta("api-notices", Channel.api),
                      tag=lambda meta, at: (meta.digest, at.replace(second=0, microsecond=0).isoformat()),
                      produce=produce_cached)
    region = region_or_404(request.args.get("region"))
    sess = db.session()
    signature = notices.board_signature(sess, region)
    at = clock.now()
    pol = policy(region)

    def produce():
        return jsonify(_notices_json(region, notices.board(sess, region, at), pol))

    # seconds_left changes every second, so the tag uses the minute (the content otherwise changes only at
    # the boundaries, which are part of the signature).
    minute = at.replace(second=0, microsecond=0).isoformat()
    return conditional(etag_of("api-notices", minute, disclosure.policy_version(pol), *signature.parts), produce)


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
    region = region_or_404(request.args.get("region"))
    cases = notices.roster(db.session(), region)
    pol = policy(region)

    def produce():
        return jsonify({
            "region": {"code": region.code, "name": region.full_name} if region else None,
            "households": len(cases),
            "recipients": [{"community": {"code": c.region.code, "name": c.region.name},
                            **disclosure.present_roster(c, Channel.api, pol)} for c in cases],
        })

    parts = [f"{c.id}:{c.updated_at.isoformat()}:{c.monthly_amount}:{c.household_size}" for c in cases]
    return conditional(etag_of("api-roster", region.code if region else "*", disclosure.policy_version(pol),
                               *parts), produce)


@bp.get("/api/v1/openapi.json")
@api_view
def api_openapi():
    response = send_file(OPENAPI, mimetype="application/json", conditional=True, etag=True, max_age=0)
    return response
