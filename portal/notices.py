"""Public notice boards (张榜公示), the standing roster (公布), the 四公开 pages, entry photos, robots.txt.

Every page here is public and shows only what ``dibao.disclosure`` hands it for the channel. Boards answer
conditional requests with 304 (the ETag is computed from what is visible before anything is rendered).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal

from flask import Response, current_app, g, make_response, request, send_file, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dibao import cache, clock, content, db, disclosure, media, notices, qr, scope, workflow
from dibao.disclosure import Channel
from dibao.errors import Invalid, NotFound
from dibao.models import Region
from dibao.web import is_htmx, no_store, render
from portal import bp

# --- shared helpers (also used by portal.api and portal.views) --------------------------------------------

def policy(region: Region | None) -> disclosure.Policy:
    """The disclosure policy of the county ``region`` lies in (None: every county's strictest), once a request."""
    cache = g.setdefault("disclosure_policies", {})
    key = scope.county_of(region).id if region is not None else None
    if key not in cache:
        cache[key] = disclosure.load_policy(db.session(), region)
    return cache[key]


def etag_of(*parts) -> str:
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def conditional(etag: str, produce) -> Response:
    """Answer 304 when the client has ``etag``; otherwise produce the response and tag it.

    ``no-cache``: caches keep the copy but must ask each time, so a closing or withdrawal shows at once.
    """
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = make_response(produce())
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


def cacheable():
    """The public cache, when this request may use it: not for staff, not with a flash message waiting."""
    store = cache.store(current_app)
    if store is None or "_user_id" in session or "_flashes" in session:
        return None
    return store


def served(store: cache.Store | None, view: str, code: str | None, args: tuple, at, *, meta, tag, produce,
           cache_control: str = "no-cache", pass_meta: bool = False) -> Response:
    """Answer from the cache (issue 13, dibao.cache): one query for the version of the county of ``code``,
    the answer's meta (rebuilt only when the version moved or its next boundary passed), its ETag from the
    meta and the time in buckets — a 304 without rendering or formatting — else the body rendered once per
    ETag and version.

    ``meta(region, at) -> cache.Meta`` reads what is visible; ``tag(meta, at) -> tuple`` the ETag's parts;
    ``produce(region, at) -> (bytes, mimetype)`` renders (``produce(region, at, meta)`` with ``pass_meta``: what
    the meta already holds, such as a roster's totals, is not read again). Without a store (the cache switched
    off) the same meta and ETag are computed for every request and nothing is kept.
    """
    if store is None:
        region = region_or_404(code)
        info = meta(region, at)

        def uncached():
            body, content_type = produce(region, at, info) if pass_meta else produce(region, at)
            return Response(body, content_type=content_type)

        response = conditional(etag_of(view, code or "*", *args, *tag(info, at)), uncached)
        response.headers["Cache-Control"] = cache_control
        return response
    sess = db.session()
    region = None
    county = None
    if code is not None:
        county = store.counties.get(code)
        if county is None:  # first sight of this code (404 when unknown)
            region = region_or_404(code)
            county = store.counties[code] = cache.county_code(region.path)
    version = cache.version(sess, county)
    mkey = ("meta", view, code or "*", *args, version)
    info = store.get(mkey)
    if info is None or not info.fresh(at) or info.county != county:
        if code is not None and region is None:
            region = region_or_404(code)
        info = meta(region, at)
        store.set(mkey, info)
    etag = etag_of(view, code or "*", *args, *tag(info, at))
    if "dibao.fast" in request.environ:  # no cookie: the fast path may answer the next 304 (dibao.cache.FastPath)
        request.environ["dibao.fast"] = cache.FastSpec(
            ("meta", view, code or "*", *args), county,
            lambda meta, when: etag_of(view, code or "*", *args, *tag(meta, when)))
    if request.if_none_match.contains(etag):
        store.stats["hits"] += 1
        response = Response(status=304)
    else:
        bkey = ("body", etag, version)
        body = store.get(bkey)
        if body is None:
            if code is not None and region is None:
                region = region_or_404(code)
            body = produce(region, at, info) if pass_meta else produce(region, at)
            store.set(bkey, body)
            store.stats["renders"] += 1
        else:
            store.stats["hits"] += 1
        response = Response(body[0], content_type=body[1])  # as given: mimetype= would add a second charset
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache_control
    return response


def board_meta(view: str, channel: Channel):
    """The meta of a board-like answer (the board, the API listing, the home page) from its light signature."""

    def build(region: Region | None, at) -> cache.Meta:
        signature = notices.board_signature(db.session(), region, at)
        digest = etag_of(view, channel.value, disclosure.policy_version(policy(region)), *signature.parts)
        return cache.Meta(digest, tuple(signature.closes), signature.next_boundary,
                          cache.county_code(region.path) if region is not None else None)

    return build


def time_tag(meta: cache.Meta, at) -> tuple:
    """What the page says about time, in buckets: the time left of each open batch and the local date."""
    return (meta.digest, *(cache.left_bucket(c, at) for c in meta.closes), clock.to_local(at).date().isoformat())


def is_staff_for(region: Region | None) -> bool:
    return bool(current_user.is_authenticated and region is not None and scope.can_see(current_user, region))


def region_or_404(code: str | None) -> Region | None:
    if not code:
        return None
    return notices.region_by_code(db.session(), code)


def present_board(board: notices.Board, channel: Channel) -> list[dict]:
    return disclosure.present_board(board, channel, policy(board.region))


def signature_etag(signature: notices.Signature, channel: Channel, view: str, at, region: Region | None) -> str:
    """The ETag of a board: what is visible, the next window boundary, the time left shown, the policy — and
    whether the body is the page or its htmx fragment (one URL serves both: they must never share a tag)."""
    times = [notices.time_left(closes, at) for closes in signature.closes]
    body = "fragment" if is_htmx() else "page"
    return etag_of(view, body, channel.value, _locale(), disclosure.policy_version(policy(region)), *signature.parts,
                   *times)


def _locale() -> str:
    """The request's language code, straight from the app's selector (no Babel Locale parsed: issue 13)."""
    from dibao import _select_locale

    return _select_locale()


def _subregions(region: Region | None) -> list[Region]:
    if region is None:
        return list(db.session().scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.code)))
    return list(region.children)


# --- boards -----------------------------------------------------------------------------------------------

@bp.get("/notices/")
@bp.get("/notices/<code>")
def notice_board(code: str | None = None):
    store = cacheable()
    if store is not None:
        at = clock.now()
        body = "fragment" if is_htmx() else "page"

        def produce_cached(region, at):
            g.noindex = True
            board = notices.board(db.session(), region, at)
            html = render("portal/notices.html", fragment="portal/_board.html", region=region,
                          groups=present_board(board, Channel.web), board=board, subregions=_subregions(region),
                          noindex=True)[0]
            return html.encode(), "text/html; charset=utf-8"

        response = served(store, "board", code, (body, _locale()), at, meta=board_meta("board", Channel.web),
                          tag=time_tag, produce=produce_cached)
        g.noindex = True
        g.vary_on_htmx = True
        return response
    region = region_or_404(code)
    sess = db.session()
    signature = notices.board_signature(sess, region)

    def produce():
        g.noindex = True
        board = notices.board(sess, region, at)
        return render("portal/notices.html", fragment="portal/_board.html", region=region,
                      groups=present_board(board, Channel.web), board=board, subregions=_subregions(region),
                      noindex=True)[0]

    at = clock.now()
    response = conditional(signature_etag(signature, Channel.web, "board", at, region), produce)
    g.noindex = True
    g.vary_on_htmx = True  # also on a 304: caches key the page and the fragment apart
    return response


@bp.get("/notices/e/<public_id>")
def notice_entry(public_id: str):
    """One household's notice. Like the board it is tagged and ``no-cache``: a browser or proxy that kept a copy
    must ask again each time, and is answered 410 from the closing second on — without the header a cache was
    free to go on showing the household's notice, heuristically, after it ended."""
    entry = notices.public_entry(db.session(), public_id)
    g.noindex = True
    batch = entry.batch
    pol = policy(entry.region)
    at = clock.now()
    left = notices.time_left(batch.closes_at, at)

    def produce():
        return render("portal/entry.html", entry=entry, batch=batch, noindex=True,
                      shown=disclosure.present(entry, Channel.web, pol),
                      level_label=workflow.REVIEWER_LABELS[batch.level], time_left=left)[0]

    return conditional(etag_of("entry", entry.public_id, batch.fingerprint, _locale(), disclosure.policy_version(pol),
                               notices.shown_photo_key(entry), left, clock.to_local(at).date().isoformat()), produce)


@bp.get("/notices/<code>/print")
def notice_print(code: str):
    """The printable board. Staff of the region get the print channel (the board posted in the community);
    anyone else gets the public web disclosure, so the open web never shows more than the web policy."""
    sess = db.session()
    region = notices.region_by_code(sess, code)
    signature = notices.board_signature(sess, region)
    at = clock.now()
    channel = Channel.print if is_staff_for(region) else Channel.web
    paper = "a3" if request.args.get("size") == "a3" else "a4"
    public_url = current_app.config["PUBLIC_URL"]

    def produce():
        board = notices.board(sess, region, at)
        groups = present_board(board, channel)
        for group in groups:
            for item in group["entries"]:
                item["qr"] = qr.svg(qr.entry_target(public_url, item["public_id"]))
                item["qr_target"] = qr.entry_target(public_url, item["public_id"])
        board_url = qr.board_target(public_url, region.code)
        return render("portal/print.html", region=region, groups=groups, board=board, channel=channel,
                      paper=paper, board_qr=qr.svg(board_url, border=2), board_url=board_url, noindex=True,
                      printed_at=board.at)[0]

    response = conditional(signature_etag(signature, channel, f"print-{paper}", at, region), produce)
    if channel == Channel.print:  # the staff's board shows full names: never kept by a browser or proxy
        response = no_store(response)
    g.noindex = True
    return response


# --- paging (the roster and the API's listings) -------------------------------------------------------------

PAGE_DIGITS = 9  # no list has a billion pages; a longer number is refused before int() or SQL's OFFSET sees it


def page_arg() -> int:
    """``?page=``: 1 when absent; anything but a whole number from 1 is a 400 with a message."""
    raw = request.args.get("page")
    if raw is None:
        return 1
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > PAGE_DIGITS or int(raw) < 1:
        raise Invalid(_("页码应为从 1 开始的整数。"), field="page")
    return int(raw)


def per_page_arg(default: int, maximum: int) -> int:
    """``?per_page=``: ``default`` when absent; 1 to ``maximum``, else a 400 with a message."""
    raw = request.args.get("per_page")
    if raw is None:
        return default
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > PAGE_DIGITS or not 1 <= int(raw) <= maximum:
        raise Invalid(_("每页条数应为 1 到 %(max)d 之间的整数。", max=maximum), field="per_page")
    return int(raw)


def page_numbers(page: int, pages: int) -> list[int | None]:
    """The page numbers a pager links to: the first, the last, two either side of ``page``; None for a gap."""
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and n > out[-1] + 1:
            out.append(None)
        out.append(n)
    return out


def beyond_last(page: int, pages: int) -> NotFound:
    return NotFound(_("没有第 %(page)d 页：共 %(pages)d 页，请从第 1 页起翻看。", page=page, pages=pages), field="page")


# --- roster (公布) ----------------------------------------------------------------------------------------

def roster_line(line: notices.RosterLine, channel: Channel, pol: disclosure.Policy) -> dict:
    """One household of the roster as a channel shows it, with its community (page, API and ETag alike)."""
    return {"community": {"code": line.region.code, "name": line.region.name},
            **disclosure.present_roster(line, channel, pol)}


def roster_totals_shown(totals: notices.RosterTotals, channel: Channel, pol: disclosure.Policy) -> dict:
    """The whole roster's figures as the channel may show them: persons and money only where the policy shows
    each household's size and amount (a community of one household would otherwise give them away)."""
    persons, money = disclosure.totals_shown(pol, channel)
    return {"households": totals.households, "persons": totals.persons if persons else None,
            "amount": f"{totals.amount:.2f}" if money else None}


def roster_totals(region: Region | None) -> notices.RosterTotals:
    """The roster's totals; every county's (no region) as the sum of each county's, each kept in the public cache
    under that county's version — a change in one county recounts that county, not the province (at 1,000,000
    households a county's count takes ~0.3 s, the province's ~1.5 s)."""
    sess = db.session()
    store = cache.store(current_app)  # public figures: shared by staff and visitors alike
    if region is not None or store is None:
        return notices.roster_totals(sess, region)
    total = notices.RosterTotals(0, 0, Decimal(0))
    # in path order, as the roster is: one county's communities follow the one before's
    for county in sess.scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.path)):
        total += store.fetch(("roster-totals", county.code, cache.version(sess, county.code)),
                             lambda county=county: notices.roster_totals(sess, county))
    return total


def roster_meta(view: str, channel: Channel, page: int, per_page: int):
    """The meta of one roster page: a digest of every figure and line it shows (so the ETag moves when a line of
    this page or the totals move, and only then), the totals kept for rendering. Rebuilt when the county's
    version moves: one aggregate and one page of lines, never the whole roster."""

    def build(region: Region | None, at) -> cache.Meta:
        pol = policy(region)
        totals = roster_totals(region)
        start = totals.start(page, per_page)
        lines = roster_page(region, channel, per_page, start) if start is not None else []
        digest = etag_of(view, channel.value, disclosure.policy_version(pol), totals.households, totals.persons,
                         totals.amount, *(json.dumps(line, sort_keys=True, default=str) for line in lines))
        # Kept: the three figures and where this page starts (not the counts of every community: small metas)
        return cache.Meta(digest, county=cache.county_code(region.path) if region is not None else None,
                          extra=(dataclasses.replace(totals, communities=()), start))

    return build


def roster_page(region: Region | None, channel: Channel, per_page: int, start: tuple[str, int]) -> list[dict]:
    return [roster_line(line, channel, policy(region))
            for line in notices.roster(db.session(), region, per_page=per_page, start=start)]


@bp.get("/roster/")
@bp.get("/roster/<code>")
def roster(code: str | None = None):
    page = page_arg()
    per_page = notices.ROSTER_PER_PAGE

    def produce(region, at, info):
        totals, start = info.extra
        pages = totals.pages(per_page)
        if page > pages:
            raise beyond_last(page, pages)
        g.noindex = True
        html = render("portal/roster.html", region=region,
                      lines=roster_page(region, Channel.web, per_page, start) if start is not None else [],
                      totals=roster_totals_shown(totals, Channel.web, policy(region)), page=page, pages=pages,
                      first=(page - 1) * per_page + 1, page_numbers=page_numbers,
                      page_url=lambda n: url_for("portal.roster", code=code, page=n if n > 1 else None),
                      subregions=_subregions(region), noindex=True)[0]
        return html.encode(), "text/html; charset=utf-8"

    response = served(cacheable(), "roster", code, (page, _locale()), clock.now(),
                      meta=roster_meta("roster", Channel.web, page, per_page),
                      tag=lambda meta, at: (meta.digest,), produce=produce, pass_meta=True)
    g.noindex = True
    return response


# --- 四公开 pages ----------------------------------------------------------------------------------------

@bp.get("/policies/")
def policies():
    sess = db.session()
    levels = workflow.notice_levels(current_app.config["NOTICE_LEVELS"])
    return render("portal/policies.html", pages=content.all_pages(sess), steps=content.steps(levels),
                  standards=content.standards(sess), window_days=current_app.config["NOTICE_WINDOW_DAYS"])


@bp.get("/policies/<slug>")
def policy_page(slug: str):
    sess = db.session()
    page = content.get_page(sess, slug)
    levels = workflow.notice_levels(current_app.config["NOTICE_LEVELS"])
    return render("portal/policy_page.html", page=page, pages=content.all_pages(sess),
                  steps=content.steps(levels) if slug == "procedure" else None)


# --- photos --------------------------------------------------------------------------------------------------

@bp.get("/media/entry/<public_id>/photo")
def entry_photo(public_id: str):
    """A household photo, only while its entry is open and only for a channel that shows photos: staff of
    the region (print channel) — the public web shows none by default. 410 once the entry is closed."""
    sess = db.session()
    entry = notices.public_entry(sess, public_id)
    channel = Channel.print if is_staff_for(entry.region) else Channel.web
    allowed = policy(entry.region).mode(channel, disclosure.Field.photo) == "show"
    key = notices.entry_photo_key(sess, public_id, allowed)
    path = media.media_path(current_app.config["MEDIA_DIR"], key, "display")
    if not path.exists():
        raise NotFound(_("照片文件不存在。"))
    g.noindex = True
    response = send_file(path, mimetype="image/jpeg", conditional=False)
    return no_store(response)  # it must disappear with the entry


@bp.get("/robots.txt")
def robots():
    lines = ["User-agent: *", "Allow: /$", "Allow: /policies/", "Disallow: /admin/", "Disallow: /kiosk/",
             "Disallow: /notices/", "Disallow: /roster/", "Disallow: /media/", "Disallow: /api/",
             "Disallow: /objections/", "Disallow: /track", ""]
    response = Response("\n".join(lines), mimetype="text/plain")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def url_for_board(region: Region | None) -> str:
    return url_for("portal.notice_board", code=region.code) if region else url_for("portal.notice_board")
