"""Statistics for staff (/admin/stats/): every figure a chart and its data table, in the user's scope; the same
figures as xlsx (the export "stats")."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from admin import bp
from dibao import charts, clock, db, stats
from dibao.web import render


def chart_of(figure: stats.Figure):
    """The SVG of a figure (None for a figure that is only a table)."""
    if figure.chart == "none" or not figure.labels:
        return None
    # Staff see every figure (nothing suppressed); a figure of zeros only says so rather than draw an empty frame.
    if figure.chart == "line":
        return charts.line_chart(figure.labels, figure.series, title=figure.title, empty=_("各项均为 0"))
    return charts.bar_chart(figure.labels, figure.series, title=figure.title, stacked=figure.chart == "stacked",
                            empty=_("各项均为 0"))


@bp.get("/stats/")
@login_required
def stats_page():
    today = clock.today()
    month = stats.parse_month(request.args.get("month"), today)
    figures = stats.staff_figures(db.session(), current_user, month)
    return render("admin/stats/index.html", figures=figures, chart_of=chart_of, month=stats.month_label(month),
                  month_choices=[stats.month_label(m) for m in reversed(stats.month_list(today, 36))])
