"""节假日安排: a county admin enters the year's holidays and make-up working days (dibao.workdays)."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from admin import bp
from admin.forms.calendar import CalendarYearForm
from dibao import clock, db, workdays
from dibao.web import render, submit


@bp.get("/calendar/", endpoint="calendar")
@login_required
def calendar_index():
    county = workdays.own_county(current_user)
    return render("admin/calendar/index.html", county=county,
                  years=workdays.overview(db.session(), county, clock.today()))


@bp.route("/calendar/<int:region_id>/<int:year>", methods=["GET", "POST"])
@login_required
def calendar_year(region_id: int, year: int):
    sess = db.session()
    county = workdays.get_county(sess, current_user, region_id)
    current = workdays.year_calendar(sess, county, year)
    form = CalendarYearForm()
    if request.method == "GET":
        form.holidays.data = current.lines(current.holidays)
        form.makeup_days.data = current.lines(current.makeup_days)
    done = submit(form, lambda sess: workdays.save_year(sess, current_user, county, year,
                                                        holidays=form.holidays.data or "",
                                                        makeup_days=form.makeup_days.data or ""))
    if done.ok:
        flash(_("%(year)d 年的节假日安排已保存，办理期限从现在起按它计算。", year=year), "success")
        return redirect(url_for("admin.calendar"))
    return render("admin/calendar/year.html", form=form, county=county, current=current, status=done.status)
