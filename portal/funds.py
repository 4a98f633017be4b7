"""Public supervision of funds (/funds/, ★ issue 11): per community and month, households, persons and the total
the bank paid — no per-person data; cells of fewer than 3 households suppressed. The same in /api/v1/funds."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import lazy_gettext as _l

from dibao import db, disclosure, payments, stats
from dibao.disclosure import Channel
from dibao.errors import Invalid
from dibao.web import render
from portal import bp
from portal import stats as public_stats
from portal.api import api_view
from portal.notices import _locale, conditional, etag_of, policy, region_or_404


def _table(code: str | None, channel: Channel, *, strict: bool = False) -> payments.FundsTable:
    region = region_or_404(code)
    text = request.args.get("month")
    month = None
    if text is not None:
        try:
            month = payments.parse_month(text)
            if payments.month_label(month) != text.strip():
                raise Invalid(_l("月份应写成“年-月”，例如 2026-03。"), field="month")
        except Invalid:
            if strict:  # the API's document promises YYYY-MM; the page forgives a bad filter
                raise Invalid(_l("月份应写成“年-月”，例如 2026-03。"), field="month") from None
            month = None
    # Suppressed with the statistics of the month shown, both from the public cache (shared with /stats/); a month
    # nothing was paid in shows the latest paid. Persons and money as the channel's disclosure allows.
    table = payments.public_funds(db.session(), region, month, figures=public_stats.figure_sets)
    return table.withheld(*disclosure.totals_shown(policy(region), channel))


def _signature(table: payments.FundsTable, *extra) -> str:
    """The table's figures and marks (a suppressed cell's reason is what it shows); the page adds the language."""
    cells = [f"{rid}:{c.households}:{c.persons}:{c.money}:{c.reason}"
             for rid, c in [*table.cells.items(), ("total", table.total)]]
    return etag_of("funds", table.region.code if table.region else "*", table.month, *table.months, *extra, *cells)


@bp.get("/funds/")
@bp.get("/funds/<code>")
def public_funds(code: str | None = None):
    table = _table(code, Channel.web)

    def produce():
        return render("portal/funds/index.html", table=table, month_label=payments.month_label, small=stats.SMALL)[0]

    return conditional(_signature(table, "page", _locale()), produce)


@bp.get("/api/v1/funds")
@api_view
def api_funds():
    table = _table(request.args.get("region"), Channel.api, strict=True)

    def number(cell) -> dict:
        return {"households": cell.households, "persons": cell.persons,
                "amount": f"{cell.money:.2f}" if cell.money is not None else None, "suppressed": cell.suppressed,
                "suppressed_because": cell.reason}

    def produce():
        month = payments.month_label(table.month) if table.month else None
        return jsonify({
            "region": {"code": table.region.code, "name": table.region.full_name} if table.region else None,
            "month": month,
            "months": [payments.month_label(m) for m in table.months],
            "small_cell_threshold": stats.SMALL,
            "rows": [{"region": {"code": r.code, "name": r.name}, "month": month, **number(table.cells[r.id])}
                     for r in table.regions],
            "total": number(table.total),
        })

    return conditional(_signature(table, "api"), produce)
