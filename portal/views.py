from __future__ import annotations

from flask import redirect, request, session, url_for

from dibao import db, notices
from dibao.config import LOCALES
from dibao.web import render, safe_next
from portal import bp


@bp.get("/")
def home():
    """Open notices by town and community, with the time left of the soonest-closing batch (from the public
    cache when the visitor is not staff: issue 13)."""
    from dibao import clock
    from dibao.disclosure import Channel
    from portal.notices import _locale, board_meta, cacheable, served, time_tag

    store = cacheable()
    if store is not None:
        return served(store, "home", None, (_locale(),), clock.now(), meta=board_meta("home", Channel.web),
                      tag=time_tag, produce=lambda region, at: (_home_page(at).encode(), "text/html; charset=utf-8"))
    return _home_page(None)


def _home_page(at) -> str:
    from dibao import clock

    at = at or clock.now()
    towns: dict[int, dict] = {}
    total = 0
    for community, count, closes in notices.open_counts(db.session(), at):  # one GROUP BY, not every entry
        town_region = community.parent or community
        town = towns.setdefault(town_region.id, {"region": town_region, "count": 0, "communities": []})
        town["count"] += count
        town["communities"].append({"region": community, "count": count, "closes": closes,
                                    "time_left": notices.time_left(closes, at)})
        total += count
    ordered = []
    for town in sorted(towns.values(), key=lambda t: t["region"].code):
        ordered.append({**town, "communities": sorted(town["communities"], key=lambda c: c["region"].code)})
    return render("portal/home.html", towns=ordered, open_count=total)[0]


@bp.get("/lang/<code>")
def set_language(code: str):
    # The target is checked first: a link made to mislead is refused without changing the visitor's language.
    target = safe_next(request.args.get("next"), url_for("portal.home"))
    if code in LOCALES:
        session["lang"] = code
    return redirect(target)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico by themselves (a JSON answer, a PDF): the icon, not a 404 (portal/favicon.py)."""
    from flask import current_app

    response = current_app.send_static_file("favicon.ico")
    response.cache_control.no_cache = None
    response.cache_control.public = True
    response.cache_control.max_age = 86400  # asked for on every visit: one day is short enough for a new icon
    return response
