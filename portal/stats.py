"""Public statistics (/stats/, ★): households, persons and monthly money per region and month, with small cells
suppressed (fewer than 3 households shows "<3") so no household can be singled out; the same table in the
open-data API (/api/v1/stats)."""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from dibao import cache, charts, clock, db, disclosure, payments, stats
from dibao.disclosure import Channel
from dibao.errors import Invalid
from dibao.models import Region
from dibao.web import render
from portal import bp
from portal.api import api_view
from portal.notices import _locale, conditional, etag_of, policy, region_or_404


def _table(code: str | None, channel: Channel, *, strict: bool = False) -> stats.PublicTable:
    """The table of a region up to a month, as ``channel`` may publish it (persons and money only where the
    county's disclosure shows each household's size and amount). The page forgives a bad ``month`` (it is a
    filter); the API, whose document promises YYYY-MM, refuses one with a 400."""
    region = region_or_404(code)
    text = request.args.get("month")
    month = stats.parse_month(text, clock.today())
    if strict and text is not None and stats.month_label(month) != text.strip():
        raise Invalid(_l("月份应写成“年-月”，例如 2026-03。"), field="month")
    # Up to this month at most: a later month would publish what is decided but not yet in force (an exit, a
    # cut from next month) before it happens. The answer's months say which were given.
    month = min(month, stats.parse_month(None, clock.today()))
    tables = stats.public_tables(db.session(), region, month, figure_sets=figure_sets(db.session(), month))
    return tables[payments.STATISTICS].withheld(*disclosure.totals_shown(policy(region), channel))


def figure_sets(sess, month, n: int = stats.MONTHS) -> list:
    """What the public tables up to ``month`` are suppressed with in this request (dibao.payments.public_figures:
    the statistics' figures and the funds', stats.public_tables' ``figure_sets``): from the public cache when it
    is on (12 months up to ``month`` whatever ``n``: /stats/ and the funds page of that month share them), else
    counted. /funds/ takes it too (dibao.payments.public_funds): both hide the same cells."""
    store = cache.store(current_app)
    if store is None:
        return payments.public_figures(sess, month, n)
    return payments.figure_sets(lambda root: _cached_grids(sess, store, root, month),
                                lambda counties: _cached_totals(sess, store, counties, month))


# The public figures in the public cache, under their county's version (every change to a figure bumps it:
# amount periods, members, households, regions — and every payment table bumps every county's, dibao.cache): at
# 1,000,000 households a county's figures take 0.05–3 s to count, and a changed county is counted again alone.
# One value holds both sets — the statistics' and the funds' (the paid lines), payments.STATISTICS and FUNDS —
# for what each row's own table tells of it (stats.RowFacts) is read from both at once: the keys before
# ("stats-grid/2", "funds-grid/1" and their totals) held each set's own facts.
_GRIDS, _TOTALS = "public-grids/1", "public-totals/1"


def _cached_grids(sess, store: cache.Store, root: Region, month) -> list[stats.Grid]:
    key = (_GRIDS, root.code, month.isoformat(), stats.MONTHS, cache.version(sess, cache.county_code(root.path)))
    return store.fetch(key, lambda: payments.public_grids(sess, root, month, stats.MONTHS))


def _cached_totals(sess, store: cache.Store, counties: list[Region], month) -> dict[int, list[stats.Totals]]:
    """Each county's totals in both sets: from the cache; a county missing alone from its own figures (the
    county page's too); several at once (a cold cache, a province-wide change) from one count of every county —
    one pass over the periods, where a count per county would make as many (41 s against 11 s for a province
    with nothing summarised)."""
    keys = {county.id: (_TOTALS, county.code, month.isoformat(), stats.MONTHS,
                        cache.version(sess, county.code)) for county in counties}  # versions first, then figures
    out = {county_id: store.get(key) for county_id, key in keys.items()}
    missing = [county for county in counties if out[county.id] is None]
    if len(missing) == 1:
        county = missing[0]
        out[county.id] = stats.totals_of_grids(_cached_grids(sess, store, county, month), stats.month_list(month))
        store.set(keys[county.id], out[county.id])
    elif missing:
        with store.single_flight((_TOTALS, month.isoformat())):  # one province-wide count at a time
            late = {county.id: store.get(keys[county.id]) for county in missing}  # counted while this waited
            if any(value is None for value in late.values()):
                late = payments.per_county(payments.public_county_totals(sess, month, stats.MONTHS), missing)
                for county in missing:
                    store.set(keys[county.id], late[county.id])
            out.update(late)
    return out


def _signature(table: stats.PublicTable, *extra) -> str:
    """The table's figures and marks (a suppressed cell's reason is what it shows, the totals too); the page adds
    the language."""
    cells = [f"{m}:{rid}:{c.households}:{c.persons}:{c.money}:{c.reason}"
             for m, col in table.cells.items() for rid, c in [*col.items(), ("total", table.totals[m])]]
    return etag_of("stats", table.region.code if table.region else "*", *extra, *cells)


def _drawn(cell: stats.PublicCell) -> int | charts.Hidden:
    """A cell's households as a chart draws them: the number, or — suppressed — the table's mark ("<3", "*")."""
    if not cell.suppressed:
        return cell.households or 0
    if cell.reason == "small":
        return charts.Hidden(cell.display("households"), _("少于%(n)d户", n=stats.SMALL))
    return charts.Hidden(cell.display("households"), _("不公布（以免推算出少于%(n)d户的数字）", n=stats.SMALL))


@bp.get("/stats/")
@bp.get("/stats/<code>")
def public_stats(code: str | None = None):
    table = _table(code, Channel.web)
    last = table.months[-1]
    labels = [stats.month_label(m) for m in table.months]
    households = _("户数")
    # A suppressed cell is drawn as what it is: no bar and no point (a gap in the line), the mark of its table cell.
    chart = charts.line_chart(labels, [(households, [_drawn(table.totals[m]) for m in table.months])],
                              title=_("近 %(n)d 个月在保户数", n=len(labels)), whole=True)
    latest = [(r, table.cells[last][r.id]) for r in table.regions]
    bars = charts.bar_chart([r.name for r, _c in latest], [(households, [_drawn(c) for _r, c in latest])],
                            title=_("%(month)s 各地区在保户数", month=stats.month_label(last)), whole=True)

    def produce():
        from flask_babel import get_locale

        return render("portal/stats.html", table=table, last=last, latest=latest, month_label=stats.month_label,
                      chart=chart, bars=bars, small=stats.SMALL, locale=str(get_locale()))[0]

    return conditional(_signature(table, "page", request.args.get("month", ""), _locale()), produce)


@bp.get("/api/v1/stats")
@api_view
def api_stats():
    table = _table(request.args.get("region"), Channel.api, strict=True)

    def number(cell: stats.PublicCell) -> dict:
        return {"households": cell.households, "persons": cell.persons,
                "amount": f"{cell.money:.2f}" if cell.money is not None else None, "suppressed": cell.suppressed,
                "suppressed_because": cell.reason}

    def produce():
        return jsonify({
            "region": {"code": table.region.code, "name": table.region.full_name} if table.region else None,
            "small_cell_threshold": stats.SMALL,
            "months": [stats.month_label(m) for m in table.months],
            "rows": [{"region": {"code": r.code, "name": r.name}, "month": stats.month_label(m),
                      **number(table.cells[m][r.id])} for m in table.months for r in table.regions],
            "totals": [{"month": stats.month_label(m), **number(table.totals[m])} for m in table.months],
        })

    return conditional(_signature(table, "api", request.args.get("month", "")), produce)
