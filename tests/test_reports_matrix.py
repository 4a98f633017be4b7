"""Issue 9 item 5: reports about staff never reach the people they name — the role × region matrix for reports.

A report about a household stays with its community (its town decides). A report about staff conduct goes to
the level above the office reported, never to the staff member named, and the reporter's name and phone are
shown only to the deciding level, each look audited.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from dibao import db, feedback, migrate
from dibao.models import AuditEvent, Region, Report, Role, Stage, User
from tests.conftest import csrf_token
from tests.factories import make_case
from tests.feedback_helpers import form_fields

USERS = ["staff_a1", "staff_a2", "staff_b1", "town_a", "town_b", "county", "admin"]
PHONE = "13900007777"

# scenario → (subject, region chosen, about, who sees it, who decides, region it is handled in, office, named)
SCENARIOS = {
    "household": ("recipient", "100001001", None, {"staff_a1", "town_a", "county", "admin"},
                  {"town_a", "county", "admin"}, "100001001", None, None),
    "community_staff": ("staff", "100001001", "甲一专干收了好处才给办", {"town_a", "county", "admin"},
                        {"town_a", "county", "admin"}, "100001", "100001001", "staff_a1"),
    # the resident chose the community but names the town's reviewer: the town's office, handled by the county
    "town_staff": ("staff", "100001001", "甲镇审核压着材料不办", {"county", "admin"}, {"county", "admin"},
                   "100", "100001", "town_a"),
    # the county office has no level above it here: the county's system admins handle it, not its other staff
    "county_staff": ("staff", "100", "县审批态度恶劣", {"admin"}, {"admin"}, "100", "100", "county"),
}


def _file(session, world, scenario) -> Report:
    subject, region_code, about, *_ = SCENARIOS[scenario]
    case_number = None
    if subject == "recipient":
        region = session.scalar(select(Region).where(Region.code == region_code))
        case_number = make_case(session, region, stage=Stage.active, head_name="赵大海").number
    sub = feedback.Submission(category="favouritism", description="具体情况如下，请核查。", name="李举报",
                              phone=PHONE)
    report = feedback.submit_report(session, sub, subject=subject, region_code=region_code, case_number=case_number,
                                    about=about, media_dir="").item
    session.commit()
    return report


def _snapshot(session, report_id):
    session.rollback()
    report = session.get(Report, report_id)
    return (report.status, report.assigned_to_id, report.check_notes, report.outcome, report.public_answer,
            session.scalar(select(func.count(AuditEvent.id))))


def _code(session, world, code):
    return session.scalar(select(Region.id).where(Region.code == code))


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_report_matrix(client, auth, session, world, make_user, scenario, who):
    _, _, _, sees, decides, handled_in, office, named = SCENARIOS[scenario]
    make_user("supervisor_a1", Role.supervisor, session.get(Region, world.regions["comm_a1"]))
    supervisor = session.scalar(select(User.id).where(User.username == "supervisor_a1"))
    report = _file(session, world, scenario)
    assert report.region_id == _code(session, world, handled_in)
    assert report.reported_region_id == (_code(session, world, office) if office else None)
    assert report.reported_user_id == (world.users[named] if named else None)
    url = f"/admin/feedback/report/{report.id}"
    auth.login(who)
    token = csrf_token(client, "/admin/")

    inbox = client.get("/admin/feedback/?state=all").get_data(as_text=True)
    assert (report.tracking_code in inbox) == (who in sees), "the inbox lists it exactly for those who handle it"
    detail = client.get(url)
    assert detail.status_code == (200 if who in sees else 404)
    assert PHONE not in detail.get_data(as_text=True), "the phone is never on the page without a look"
    if who in sees:
        offered = 'action="' + url + '/contact"' in detail.get_data(as_text=True)
        assert offered == (who in decides)

    refused = 404 if who not in sees else 403
    # The reporter's contact: only the deciding level, each look audited.
    before = _snapshot(session, report.id)
    res = client.post(url + "/contact", data={"csrf_token": token})
    if who in decides:
        html = res.get_data(as_text=True)
        assert res.status_code == 200 and PHONE in html and "李举报" in html
        session.rollback()
        looks = session.scalars(select(AuditEvent).where(AuditEvent.action == "report_contact_viewed")).all()
        assert [(e.actor_id, e.object_id) for e in looks] == [(world.users[who], report.tracking_code)]
    else:
        assert res.status_code == refused and PHONE not in res.get_data(as_text=True)
        assert _snapshot(session, report.id) == before

    # Nobody can give it to a community's supervision group, whose account cannot open it (tests/
    # test_feedback_assignee.py): refused, or not found for those who do not see it; nothing changes.
    before = _snapshot(session, report.id)
    res = client.post(url + "/decide", data={"csrf_token": token, "outcome": "check", "assignee": str(supervisor)})
    assert res.status_code == (400 if who in sees else 404)
    assert _snapshot(session, report.id) == before

    # Assign (to oneself), record the check: anyone who sees it; decide: the deciding level.
    steps = [
        ("/decide", {"outcome": "check", "assignee": str(world.users[who])}, sees),
        ("/decide", {"outcome": "check", "notes": "已调取窗口登记记录核实。"}, sees),
        ("/decide", {"outcome": "upheld", "public_answer": "经核查情况属实，已严肃处理。"}, decides),
    ]
    for path, data, allowed in steps:
        before = _snapshot(session, report.id)
        res = client.post(url + path, data={"csrf_token": token, **data})
        after = _snapshot(session, report.id)
        if who in allowed:
            assert res.status_code == 303, (path, res.status_code)
            assert after != before
        else:
            assert res.status_code == (404 if who not in sees else 403), (path, res.status_code)
            assert after == before, "a refused request changes nothing"


def test_the_named_staff_member_is_never_an_assignee(client, auth, session, world):
    report = _file(session, world, "community_staff")
    auth.login("town_a")
    url = f"/admin/feedback/report/{report.id}"
    html = client.get(url).get_data(as_text=True)
    options = re.findall(r'<option[^>]*value="(\d+)"[^>]*>([^<]*)</option>', html)
    assert "甲一专干" not in {label.split("（")[0] for _, label in options}
    before = _snapshot(session, report.id)
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "check",
                                             "assignee": str(world.users["staff_a1"])})
    assert res.status_code == 400 and "请选择能够办理这件的工作人员" in res.get_data(as_text=True)
    assert _snapshot(session, report.id) == before


def test_a_resident_reports_a_clerk_through_the_form(client, auth, session, world):
    data = {**form_fields(client, "/reports/new"), "subject": "staff", "region": "100001001",
            "about": "甲一社区的甲一专干", "category": "favouritism", "description": "要我送礼才给办低保。",
            "name": "王五", "phone": "13900008888", "website": ""}
    assert client.post("/reports/new", data=data).status_code == 303
    report = session.scalar(select(Report))
    assert report.region_id == world.regions["town_a"] and report.reported_user_id == world.users["staff_a1"]
    submitted = session.scalar(select(AuditEvent).where(AuditEvent.action == "report_submitted"))
    assert submitted.region_id == world.regions["town_a"]  # the audit trail is filed where it is handled
    auth.login("staff_a1")
    assert report.tracking_code not in client.get("/admin/feedback/?state=all").get_data(as_text=True)
    assert client.get(f"/admin/feedback/report/{report.id}").status_code == 404


def test_an_office_without_a_recognised_name_goes_to_the_level_above(session, world):
    sub = feedback.Submission(category="other", description="窗口让我跑了三趟。")
    report = feedback.submit_report(session, sub, subject="staff", region_code="100002001",
                                    about="社区服务窗口", media_dir="").item
    assert report.reported_region_id == world.regions["comm_b1"] and report.reported_user_id is None
    assert report.region_id == world.regions["town_b"]
    staff_b1 = session.get(User, world.users["staff_b1"])
    town_b = session.get(User, world.users["town_b"])
    assert not feedback.can_see(staff_b1, report) and feedback.can_decide(town_b, report)


def test_the_reporter_is_told_by_the_deciding_level_only(client, auth, session, world):
    report = _file(session, world, "household")
    town = session.get(User, world.users["town_a"])
    feedback.decide(session, town, session.get(Report, report.id), "not_upheld", "经核查，该户情况属实。")
    session.commit()
    url = f"/admin/feedback/report/{report.id}"
    auth.login("staff_a1")  # sees the household's report, but not who reported it
    assert "记录已告知" not in client.get(url).get_data(as_text=True)
    res = client.post(url + "/notified", data={"csrf_token": csrf_token(client, url), "how": "电话告知"})
    assert res.status_code == 403


def test_staff_reports_filed_before_move_to_the_level_above(database_url):
    engine = db.make_engine(database_url)
    migrate.downgrade(engine, "0200_settings_county")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO region (id, code, name, level, path) VALUES (1, '100', '县', 'county', '/100/')"))
        conn.execute(text("INSERT INTO region (id, code, name, level, parent_id, path) "
                          "VALUES (2, '100001', '镇', 'town', 1, '/100/100001/')"))
        conn.execute(text("INSERT INTO region (id, code, name, level, parent_id, path) "
                          "VALUES (3, '100001001', '社区', 'community', 2, '/100/100001/100001001/')"))
        for n, (subject, region) in enumerate([("staff", 3), ("recipient", 3), ("staff", 1)]):
            conn.execute(text(
                "INSERT INTO report (tracking_code, region_id, subject, category, description, real_name, status, "
                "deadline, created_at) VALUES (:code, :region, :subject, 'other', '情况', false, 'received', "
                "'2026-03-30', '2026-03-18 02:00:00')"), {"code": f"CODE{n}", "region": region, "subject": subject})
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT tracking_code, region_id, reported_region_id FROM report "
                                 "ORDER BY tracking_code")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("CODE0", 2, 3), ("CODE1", 3, None), ("CODE2", 1, 1)]
