"""PIPL Art. 47: the contact and evidence photos of a closed objection or report, and the ID numbers, phones and
photos of a returned online application, are erased once the retention period has passed (dibao.retention)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from dibao import applications, feedback, media, retention, sweep
from dibao import clock as dibao_clock
from dibao.errors import Conflict
from dibao.models import AuditEvent, Objection, Region, Report, Stage, User
from dibao.models.application import Application, ApplicationDocument, ApplicationMember, ApplicationStatus
from dibao.models.feedback import Evidence
from dibao.models.notification import Notification
from tests.application_helpers import ID, MEMBER_ID, login
from tests.factories import make_case
from tests.feedback_helpers import jpeg, open_entry

PHONE = "13900001111"
NAME = "李举报"


def _user(session, world, username: str) -> User:
    return session.get(User, world.users[username])


def _files(app, key: str) -> list[Path]:
    """The original and the renditions of a stored image."""
    paths = [media.media_path(app.config["MEDIA_DIR"], key)]
    return paths + [media.media_path(app.config["MEDIA_DIR"], key, r) for r in media.RENDITIONS]


def _objection(app, session, world, *, real_name=True, decide=True, notify=True, colour=(200, 30, 30)) -> Objection:
    """An objection with one evidence photo, filed now; decided (not upheld) and its submitter told, as asked."""
    entry = open_entry(session, world)
    staff = _user(session, world, "staff_a1")
    with app.test_request_context():
        sub = feedback.Submission(category="income_hidden", description="他家儿子在城里开了一家饭店，收入不低。",
                                  name=NAME if real_name else "", phone=PHONE if real_name else "",
                                  photos=[jpeg(color=colour)])
        objection = feedback.submit_objection(session, entry.public_id, sub, media_dir=app.config["MEDIA_DIR"]).item
        session.commit()
        if decide:
            feedback.record_check(session, staff, objection, "入户走访了三户邻居，饭店是亲戚开的，与该户无关。")
            feedback.decide(session, staff, objection, "not_upheld", "经入户核查，反映的饭店不属于该户。")
            if notify and real_name:
                feedback.mark_notified(session, staff, objection, "电话告知本人核查结论")
        session.commit()
    return objection


def _state(session, model, item_id):
    session.rollback()
    session.expire_all()
    return session.get(model, item_id)


def _event_count(session) -> int:
    session.rollback()  # a fresh look, not the session's snapshot
    return session.scalar(select(func.count(AuditEvent.id)))


def _erasure_events(session, kind: str, code: str) -> list[AuditEvent]:
    session.rollback()
    return list(session.scalars(select(AuditEvent).where(
        AuditEvent.action == retention.ACTION, AuditEvent.object_type == kind, AuditEvent.object_id == code)))


def test_a_closed_and_told_objection_is_erased_after_the_period(app, session, world, clock):
    objection = _objection(app, session, world)
    key = objection.evidence[0].media_key
    assert all(p.is_file() for p in _files(app, key))
    assert session.scalar(select(Notification.recipient).where(Notification.object_id == objection.tracking_code)) \
        == PHONE

    clock.advance(days=186)
    result = retention.run(app)

    assert [(d.kind, d.id) for d in result.erased] == [("objection", objection.id)]
    item = _state(session, Objection, objection.id)
    assert (item.submitter_name, item.submitter_phone) == (None, None)
    assert item.erased_at == clock.now()
    assert session.scalar(select(func.count(Evidence.id)).where(Evidence.objection_id == item.id)) == 0
    assert not any(p.exists() for p in _files(app, key))
    # The archive stays: what was reported, the check, the answer.
    assert item.description.startswith("他家儿子") and "入户走访" in item.check_notes and item.public_answer
    assert item.real_name and item.notified_at is not None
    # Where the SMS went is gone too; that it was sent stays.
    assert session.scalars(select(Notification.recipient).where(
        Notification.object_id == objection.tracking_code)).all() == [""]
    [event] = _erasure_events(session, "objection", objection.tracking_code)
    assert event.actor_name == "系统" and event.region_id == objection.region_id
    assert PHONE not in event.details and NAME not in event.details and key not in event.details
    assert '"photos": 1' in event.details


@pytest.mark.parametrize("case", ["184 days", "open", "not told"])
def test_what_is_not_due_stays(app, session, world, clock, case):
    objection = _objection(app, session, world, decide=case != "open", notify=case != "not told")
    key = objection.evidence[0].media_key
    # Not told: the period runs from the decision (tests/test_retention_contact.py), so 184 days keep it too.
    clock.advance(days=400 if case == "open" else 184)

    assert retention.run(app).erased == []

    item = _state(session, Objection, objection.id)
    assert (item.submitter_name, item.submitter_phone, item.erased_at) == (NAME, PHONE, None)
    assert len(item.evidence) == 1 and all(p.is_file() for p in _files(app, key))
    assert _erasure_events(session, "objection", objection.tracking_code) == []
    if case != "open":  # two days later it is due
        clock.advance(days=2)
        assert [d.id for d in retention.run(app).erased] == [objection.id]


def test_an_anonymous_objection_counts_from_its_decision(app, session, world, clock):
    objection = _objection(app, session, world, real_name=False)
    key = objection.evidence[0].media_key
    clock.advance(days=185, hours=1)
    assert [d.id for d in retention.run(app).erased] == [objection.id]
    item = _state(session, Objection, objection.id)
    assert item.erased_at is not None and item.evidence == []
    assert not _files(app, key)[0].exists()


def test_a_report_is_erased_alike(app, session, world, clock):
    case = make_case(session, session.get(Region, world.regions["comm_a1"]), stage=Stage.active, head_name="赵大海")
    county = _user(session, world, "county")
    with app.test_request_context():
        sub = feedback.Submission(category="favouritism", description="这户家里有两辆车，请核查。", name=NAME,
                                  phone=PHONE, photos=[jpeg(color=(10, 90, 160))])
        report = feedback.submit_report(session, sub, subject="recipient", region_code="100001001",
                                        case_number=case.number, media_dir=app.config["MEDIA_DIR"]).item
        session.commit()
        feedback.decide(session, county, report, "not_upheld", "经核查，两辆车均已过户他人。")
        feedback.mark_notified(session, county, report, "电话告知本人")
        session.commit()
    key = report.evidence[0].media_key
    clock.advance(days=186)
    assert [(d.kind, d.id) for d in retention.run(app).erased] == [("report", report.id)]
    item = _state(session, Report, report.id)
    assert (item.submitter_name, item.submitter_phone, item.evidence) == (None, None, [])
    assert not _files(app, key)[0].exists()
    assert len(_erasure_events(session, "report", report.tracking_code)) == 1
    # asking for the reporter's contact now says why there is none (not "anonymous")
    with pytest.raises(Conflict) as gone:
        feedback.reporter_contact(session, county, item)
    assert "第四十七条删除" in str(gone.value) and "匿名" not in str(gone.value)


def test_dry_run_changes_nothing_and_a_second_run_erases_nothing_more(app, session, world, clock, runner):
    objection = _objection(app, session, world)
    key = objection.evidence[0].media_key
    clock.advance(days=186)
    events = _event_count(session)

    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert objection.tracking_code in dry.output and "1 items older than 185 days would be erased" in dry.output
    item = _state(session, Objection, objection.id)
    assert (item.submitter_phone, item.erased_at, len(item.evidence)) == (PHONE, None, 1)
    assert _files(app, key)[0].is_file()
    assert _event_count(session) == events

    done = runner.invoke(args=["retention", "run"])
    assert done.exit_code == 0, done.output
    assert "retention: 1 items erased, 3 files deleted" in done.output
    after = _event_count(session)
    assert after == events + 1

    again = runner.invoke(args=["retention", "run"])
    assert "retention: 0 items erased" in again.output
    assert retention.run(app).erased == []
    assert _event_count(session) == after
    assert len(_erasure_events(session, "objection", objection.tracking_code)) == 1


def test_the_sweep_erases_and_a_photo_another_item_still_shows_stays(app, session, world, clock):
    old = _objection(app, session, world)
    clock.advance(days=100)
    newer = _objection(app, session, world)  # the same photo, filed later: one stored file for both
    key = old.evidence[0].media_key
    assert newer.evidence[0].media_key == key
    clock.advance(days=86)

    result = sweep.run_sweep(app)

    assert result.erased == 1
    assert _state(session, Objection, old.id).erased_at is not None
    assert _state(session, Objection, newer.id).erased_at is None
    assert all(p.is_file() for p in _files(app, key))  # still the newer objection's evidence


def test_the_staff_page_and_the_tracking_page_say_it_was_erased(app, client, session, world, clock):
    objection = _objection(app, session, world)
    clock.advance(days=186)
    retention.run(app)
    day = dibao_clock.today().isoformat()

    login(client, "staff_a1")
    html = client.get(f"/admin/feedback/objection/{objection.id}").get_data(as_text=True)
    assert f"联系方式与证据照片已于 {day} 按《个人信息保护法》第四十七条删除" in html
    assert PHONE not in html and NAME not in html and "/evidence/" not in html
    assert "入户走访了三户邻居" in html  # the check notes stay

    public = client.get(f"/track/{objection.tracking_code}")
    assert public.status_code == 200
    text = public.get_data(as_text=True)
    assert f"您留下的联系方式和证据照片已于 {day} 删除" in text
    assert "经入户核查，反映的饭店不属于该户。" in text  # the answer is still there


# --- online applications -----------------------------------------------------------------------------------

def _application(app, session, world, *, answer: str | None = "return", colour=(30, 160, 60)) -> Application:
    inp = applications.ApplicationInput(
        region_code="100001001", head_name="王秀兰", head_id_number=ID, head_phone="13812345678",
        email="wang@example.com", address="甲一社区幸福路 12 号", reason="老伴去年去世，我一个人靠种菜生活。",
        check_consent=True, by_proxy=True, proxy_name="王小红", proxy_relation="子女", proxy_phone="13700002222",
        members=[applications.MemberInput(name="王小军", relation="子女", age=17, id_number=MEMBER_ID,
                                          work_capacity="full")],
        materials=[jpeg(color=colour)], authorisation=jpeg(color=(colour[0], colour[1], colour[2] + 40)))
    staff = _user(session, world, "staff_a1")
    with app.test_request_context():
        application = applications.submit(session, inp, media_dir=app.config["MEDIA_DIR"]).application
        session.commit()
        if answer == "return":
            applications.return_application(session, staff, application, items=["户口簿复印件"])
        elif answer == "accept":
            applications.accept(session, staff, application, media_dir=app.config["MEDIA_DIR"])
        session.commit()
    return application


def test_a_returned_application_is_erased_after_the_period(app, client, session, world, clock):
    application = _application(app, session, world)
    keys = [d.media_key for d in application.documents]
    assert len(keys) == 2 and all(_files(app, k)[0].is_file() for k in keys)
    clock.advance(days=184)
    assert retention.run(app).erased == []
    assert _state(session, Application, application.id).head_id_number == ID

    clock.advance(days=2)
    assert [(d.kind, d.id) for d in retention.run(app).erased] == [("application", application.id)]

    item = _state(session, Application, application.id)
    assert (item.head_id_number, item.head_id_hash, item.head_phone, item.email, item.proxy_phone) == (None,) * 5
    assert session.scalars(select(ApplicationMember.id_number)
                           .where(ApplicationMember.application_id == item.id)).all() == [None]
    assert session.scalar(select(func.count(ApplicationDocument.id))
                          .where(ApplicationDocument.application_id == item.id)) == 0
    assert not any(p.exists() for k in keys for p in _files(app, k))
    # Kept for statistics: where, what became of it, when, and why they applied; the name masked as the open
    # web shows it, the address and the members' names gone.
    assert (item.region_id, item.status, item.reason) == (world.regions["comm_a1"], ApplicationStatus.returned,
                                                          "老伴去年去世，我一个人靠种菜生活。")
    assert (item.head_name, item.address, item.proxy_name) == ("王*兰", "", None)
    assert session.scalars(select(ApplicationMember.name)
                           .where(ApplicationMember.application_id == item.id)).all() == [""]
    assert item.created_at is not None and item.handled_at is not None
    assert set(session.scalars(select(Notification.recipient)
                               .where(Notification.object_id == item.tracking_code))) == {""}
    [event] = _erasure_events(session, "application", item.tracking_code)
    assert ID not in event.details and "13812345678" not in event.details
    assert retention.run(app).erased == [] and len(_erasure_events(session, "application", item.tracking_code)) == 1

    login(client, "staff_a1")
    html = client.get(f"/admin/applications/{item.id}").get_data(as_text=True)
    assert "身份证号码、联系方式与材料照片已于" in html and "按《个人信息保护法》第四十七条删除" in html
    assert "13812345678" not in html and "wang@example.com" not in html and "13700002222" not in html
    assert "王秀兰" not in html and "幸福路" not in html and "王小红" not in html and "王小军" not in html
    assert "王*兰" in html and "None" not in html


@pytest.mark.parametrize("answer", ["accept", None])
def test_an_accepted_or_waiting_application_is_left_alone(app, session, world, clock, answer):
    application = _application(app, session, world, answer=answer)
    clock.advance(days=400)
    assert retention.run(app).erased == []
    item = _state(session, Application, application.id)
    assert (item.head_id_number, item.head_phone, item.erased_at) == (ID, "13812345678", None)
    assert len(item.documents) == 2 and all(_files(app, d.media_key)[0].is_file() for d in item.documents)
    if answer == "accept":
        assert item.status == ApplicationStatus.accepted and item.case_id is not None
