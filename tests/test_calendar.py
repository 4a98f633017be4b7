"""Issue 9, item 14: working days past the package's calendar.

chinese-calendar knows the years up to 2026. A county admin enters a later year's holidays and make-up days;
deadlines use that table first, are marked "按周一至周五估算" while a year is unknown, and the dashboard asks
for next year's calendar from 1 December.

2027 as entered here (the test's own data): 元旦 Fri 1 – Sun 3 January; make-up Saturday 9 January.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from dibao import cases, workdays
from dibao.models import CalendarDay, Case, HolidayCalendar, Objection, Region, Role
from tests.conftest import Auth, csrf_token
from tests.factories import make_case

HOLIDAYS_2027 = "元旦 2027-01-01 至 2027-01-03\n春节 2027年2月6日～2027年2月12日"
MAKEUP_2027 = "元旦 2027-01-09"


def _at(day: date, hour_utc: int = 2) -> datetime:
    return datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC)


def _save(client, county_id, year=2027, holidays=HOLIDAYS_2027, makeup=MAKEUP_2027):
    path = f"/admin/calendar/{county_id}/{year}"
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/"), "holidays": holidays,
                                   "makeup_days": makeup})


def _entered(session) -> int:
    session.rollback()
    return session.scalar(select(func.count(HolidayCalendar.id))) or 0


def test_without_a_county_calendar_2027_is_counted_monday_to_friday():
    """The fact this item is about: the package ends with 2026, so 元旦 2027 counts as a working day."""
    assert max(workdays.PACKAGE_YEARS) == 2026
    assert workdays.PACKAGE.is_workday(date(2027, 1, 1)) and not workdays.PACKAGE.is_known(date(2027, 1, 1))


def test_a_deadline_into_2027_is_marked_until_the_county_enters_the_year(app, client, auth, world, session, clock):
    clock.set(_at(date(2026, 12, 30)))  # Wednesday; the home visit is due within 3 working days
    case = make_case(session, session.get(Region, world.regions["comm_a1"]))
    session.commit()
    auth.login("admin")
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "按周一至周五估算" in page
    visit = cases.archive(session, case).deadlines[0]
    assert visit.due == date(2027, 1, 4) and visit.estimated  # Thu 31, Fri 1 (counted!), Mon 4

    assert _save(client, world.regions["county"]).status_code == 302
    session.rollback()
    visit = cases.archive(session, session.get(Case, case.id)).deadlines[0]
    assert visit.due == date(2027, 1, 5) and not visit.estimated  # Thu 31, Mon 4, Tue 5
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "按周一至周五估算" not in page


def test_the_county_table_drives_list_marks_and_overdue_filters(app, client, auth, world, session, clock):
    clock.set(_at(date(2026, 12, 30)))
    case = make_case(session, session.get(Region, world.regions["comm_a1"]))
    session.commit()
    auth.login("admin")
    assert _save(client, world.regions["county"]).status_code == 302

    def overdue_list():  # a fresh sign-in: days have passed
        fresh = app.test_client()
        Auth(fresh).login("admin")
        res = fresh.get("/admin/cases/?overdue=home_visit")
        assert res.status_code == 200
        return res.get_data(as_text=True)

    clock.set(_at(date(2027, 1, 5)))  # due today by the county's calendar: not overdue yet
    assert case.number not in overdue_list()
    session.rollback()
    assert cases.overdue_keys(session.get(Case, case.id)) == []
    clock.set(_at(date(2027, 1, 6)))
    assert case.number in overdue_list()
    session.rollback()
    assert cases.overdue_keys(session.get(Case, case.id)) == ["home_visit"]


def test_saved_days_are_what_workdays_answers(app, client, auth, world, session):
    auth.login("admin")
    assert _save(client, world.regions["county"]).status_code == 302
    county = session.get(Region, world.regions["county"])
    cal = workdays.calendar(session, session.get(Region, world.regions["comm_b1"]))  # any region of the county
    assert not cal.is_workday(date(2027, 1, 1)) and not cal.is_workday(date(2027, 2, 8))
    assert cal.is_workday(date(2027, 1, 9))  # the make-up Saturday
    assert cal.is_known(date(2027, 6, 1)) and cal.is_workday(date(2026, 2, 14))  # 2026 still from the package
    stored = session.scalars(select(CalendarDay).order_by(CalendarDay.day)).all()
    assert [(d.day, d.working, d.name) for d in stored][:2] == [(date(2027, 1, 1), False, "元旦"),
                                                               (date(2027, 1, 2), False, "元旦")]
    assert workdays.year_calendar(session, county, 2027).source == "county"


def test_another_county_keeps_its_own_calendar(app, client, auth, world, session, make_region):
    other = make_region("200", "邻县")
    auth.login("admin")
    assert _save(client, world.regions["county"]).status_code == 302
    assert not workdays.calendar(session, other).is_known(date(2027, 1, 1))
    assert workdays.calendar(session, other).is_workday(date(2027, 1, 1))


def test_a_year_the_package_knows_is_offered_as_the_seed_and_can_be_corrected(app, client, auth, world, session):
    auth.login("admin")
    page = client.get(f"/admin/calendar/{world.regions['county']}/2026").get_data(as_text=True)
    assert "春节 2026-02-15 至 2026-02-23" in page and "软件内置" in page
    county = session.get(Region, world.regions["county"])
    seed = workdays.year_calendar(session, county, 2026)
    # The county corrects it: 18 March becomes a local holiday.
    res = _save(client, county.id, 2026, seed.lines(seed.holidays) + "\n地方假日 2026-03-18",
                seed.lines(seed.makeup_days))
    assert res.status_code == 302
    session.rollback()
    cal = workdays.calendar(session, county)
    assert not cal.is_workday(date(2026, 3, 18)) and not cal.is_workday(date(2026, 2, 16))
    assert cal.is_workday(date(2026, 2, 14))


@pytest.mark.parametrize("holidays, makeup, message", [
    ("元旦", "", "第 1 行看不懂"),
    ("元旦 2027-02-30", "", "不是有效的日期"),
    ("元旦 2026-12-31", "", "不在 2027 年内"),
    ("春节 2027-02-12 至 2027-02-06", "", "结束日期早于开始日期"),
    ("长假 2027-01-01 至 2027-03-01", "", "最长 15 天"),
    (HOLIDAYS_2027, "2027-01-06", "调休上班日只会是周六或周日"),
    (HOLIDAYS_2027, "2027-01-02", "既是假日又是调休上班日"),
    ("", MAKEUP_2027, "请填写这一年的节假日"),
])
def test_bad_input_is_refused_beside_its_field_and_nothing_is_saved(app, client, auth, world, session,
                                                                     holidays, makeup, message):
    auth.login("admin")
    res = _save(client, world.regions["county"], holidays=holidays, makeup=makeup)
    assert res.status_code == 400 and message in res.get_data(as_text=True)
    assert _entered(session) == 0


def test_saving_is_audited(app, client, auth, world, session):
    from dibao.models import AuditEvent

    auth.login("admin")
    assert _save(client, world.regions["county"]).status_code == 302
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "holiday_calendar_saved"))
    assert event.object_id == "100/2027" and event.region_id == world.regions["county"]


# --- who may keep the calendar: only a county admin, of that county ---------------------------------------

@pytest.fixture
def town_admin(world, session, make_user):
    return make_user("town_admin", Role.admin, session.get(Region, world.regions["town_a"]))


@pytest.fixture
def other_county_admin(world, make_region, make_user):
    return make_user("other_admin", Role.admin, make_region("200", "邻县"))


@pytest.mark.parametrize("who, status", [
    ("admin", 302),            # the county's admin
    ("county", 403),           # in the county, wrong role
    ("town_a", 404),           # the county is outside a town's scope
    ("staff_a1", 404),
    ("town_admin", 404),       # an admin, but of a town
    ("other_admin", 404),      # an admin of another county
])
def test_role_by_region(app, client, auth, world, session, town_admin, other_county_admin, who, status):
    auth.login(who)
    assert _save(client, world.regions["county"]).status_code == status
    assert _entered(session) == (1 if status == 302 else 0)
    if status != 302:
        assert client.get(f"/admin/calendar/{world.regions['county']}/2027").status_code == status


def test_only_a_county_admin_opens_the_screen(app, client, auth, world, town_admin):
    auth.login("admin")
    page = client.get("/admin/calendar/")
    assert page.status_code == 200 and "2027" in page.get_data(as_text=True)
    assert "尚未录入" in page.get_data(as_text=True)
    for who in ("county", "staff_a1", "town_admin"):
        auth.logout()
        auth.login(who)
        assert client.get("/admin/calendar/").status_code == 403


def test_a_town_id_is_not_a_calendar(app, client, auth, world):
    auth.login("admin")
    assert client.get(f"/admin/calendar/{world.regions['town_a']}/2027").status_code == 404
    assert client.get(f"/admin/calendar/{world.regions['county']}/1999").status_code == 404


# --- the dashboard asks for next year's calendar from 1 December ------------------------------------------

def _dashboard(app, who: str) -> str:
    """The dashboard for a fresh sign-in (the clock moved by days: an old session would have expired)."""
    client = app.test_client()
    Auth(client).login(who)
    res = client.get("/admin/")
    assert res.status_code == 200
    return res.get_data(as_text=True)


def test_dashboard_warns_from_the_first_of_december(app, world, clock):
    clock.set(_at(date(2026, 11, 30)))
    assert "节假日安排还没有录入" not in _dashboard(app, "admin")
    clock.set(_at(date(2026, 12, 1)))
    page = _dashboard(app, "admin")
    assert "2027 年的节假日安排还没有录入" in page and f"/admin/calendar/{world.regions['county']}/2027" in page
    client = app.test_client()
    Auth(client).login("admin")
    assert _save(client, world.regions["county"]).status_code == 302
    assert "节假日安排还没有录入" not in _dashboard(app, "admin")


def test_staff_see_the_warning_and_whom_to_ask(app, world, clock):
    clock.set(_at(date(2026, 12, 15)))
    page = _dashboard(app, "staff_a1")
    assert "2027 年的节假日安排还没有录入" in page and "请县级系统管理员录入" in page
    assert "/admin/calendar/" not in page.split("节假日安排还没有录入")[1].split("</p>")[0]


def test_in_an_unknown_year_the_dashboard_warns_about_this_year(app, world, clock):
    clock.set(_at(date(2027, 3, 10)))
    assert "2027 年的节假日安排还没有录入" in _dashboard(app, "county")


# --- objections and reports: their answer deadline too ------------------------------------------------------

def test_an_objection_deadline_uses_the_county_calendar_and_is_marked_when_estimated(app, client, auth, world,
                                                                                      session, clock):
    from tests.feedback_helpers import objection_data, open_entry

    clock.set(_at(date(2026, 12, 29)))  # Tuesday
    entry = open_entry(session, world)
    assert client.post(f"/objections/new?entry={entry.public_id}",
                       data=objection_data(client, entry.public_id)).status_code in (200, 302, 303)
    first = session.scalar(select(Objection))
    assert first is not None
    auth.login("admin")
    inbox = client.get("/admin/feedback/").get_data(as_text=True)
    assert "按周一至周五估算" in inbox
    estimated = first.deadline

    assert _save(client, world.regions["county"]).status_code == 302
    session.rollback()
    entry2 = open_entry(session, world, community="comm_a2")
    auth.logout()
    client.post(f"/objections/new?entry={entry2.public_id}", data=objection_data(client, entry2.public_id))
    session.rollback()
    second = session.scalar(select(Objection).where(Objection.id != first.id))
    # The same number of working days ends later once 元旦 2027 is a holiday — for the one received before the
    # year was entered too (counted again when it was saved).
    assert second.deadline > estimated
    assert session.get(Objection, first.id).deadline == second.deadline
    assert workdays.calendar(session, second.region).covers(date(2026, 12, 29), second.deadline)


def test_entering_the_year_counts_the_open_answers_deadlines_again(app, client, auth, world, session, clock):
    """An objection received before the county entered 2027 was given a Monday–Friday deadline; entering the
    year moves it to the same number of working days by the county's calendar (元旦 off), audited — a decided
    one keeps its deadline."""
    from dibao.models import AuditEvent, FeedbackStatus
    from tests.feedback_helpers import objection_data, open_entry

    clock.set(_at(date(2026, 12, 29)))  # Tuesday
    for community in ("comm_a1", "comm_a2"):
        entry = open_entry(session, world, community=community)
        client.post(f"/objections/new?entry={entry.public_id}", data=objection_data(client, entry.public_id))
    session.rollback()
    open_one, decided = session.scalars(select(Objection).order_by(Objection.id)).all()
    estimated = open_one.deadline
    assert workdays.PACKAGE.workdays_between(date(2026, 12, 29), estimated) >= 3  # crosses 元旦 2027
    decided.status = FeedbackStatus.decided
    session.commit()

    auth.login("admin")
    assert _save(client, world.regions["county"]).status_code == 302
    session.rollback()
    session.expire_all()
    moved, kept = session.get(Objection, open_one.id), session.get(Objection, decided.id)
    cal = workdays.calendar(session, moved.region)
    n = workdays.PACKAGE.workdays_between(date(2026, 12, 29), estimated)
    assert moved.deadline == cal.add_workdays(date(2026, 12, 29), n) > estimated  # 元旦 no longer counted
    assert kept.deadline == estimated
    assert "按周一至周五估算" not in client.get("/admin/feedback/").get_data(as_text=True)
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "objection_deadline_recounted")).all()
    assert [e.object_id for e in events] == [moved.tracking_code]
    # Saving the same days again moves nothing more.
    assert _save(client, world.regions["county"]).status_code == 302
    session.rollback()
    assert session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "objection_deadline_recounted")) == 1


def test_an_entered_year_can_be_corrected_and_saved_again(app, client, auth, world, session):
    """Saving a year a second time with days it already had (a correction) replaced them; it answered 500."""
    auth.login("admin")
    assert _save(client, world.regions["county"]).status_code == 302
    corrected = HOLIDAYS_2027 + "\n地方假日 2027-03-18"
    assert _save(client, world.regions["county"], holidays=corrected).status_code == 302
    session.rollback()
    county = session.get(Region, world.regions["county"])
    cal = workdays.calendar(session, county)
    assert not cal.is_workday(date(2027, 3, 18)) and not cal.is_workday(date(2027, 1, 1))
    assert session.scalar(select(func.count(CalendarDay.id)).where(CalendarDay.working.is_(False))) == 3 + 7 + 1
