"""What the first erasure (dibao.retention, tests/test_retention.py) left behind, found by an audit:

1. the address in a notification's delivery error (a mail server's refusal quotes it), shown in the delivery
   log on the item and in the failures list — for rows written before dibao.notify kept it out, too;
2. a real-name submitter who was never told (a landline, an SMS that failed for good) kept the contact forever:
   the period now runs from the decision when there is no notification;
3. an objection's ``client_key`` (a keyed hash of the submitting client's address) was kept forever.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from dibao import feedback, notify, retention
from dibao.errors import Conflict
from dibao.models import AuditEvent, Objection, Region, Report, Stage, User
from dibao.models.application import Application
from dibao.models.notification import DeliveryStatus, Notification, NotifyChannel
from tests.application_helpers import login, staff_token
from tests.factories import make_case
from tests.feedback_helpers import jpeg, objection_data, open_entry, receipt_code
from tests.servers import sms_gateway  # noqa: F401 - fixture
from tests.test_notify_errors import EMAIL, refusing_smtp  # noqa: F401 - fixture
from tests.test_retention import NAME, _application, _erasure_events, _state

MOBILE = "13900001111"
LANDLINE = "0551-62345678"
# What dibao.notify stored before it kept the address out (the auditor's reproduction, verbatim).
OLD_ERROR = f"邮件服务器：{{'{EMAIL}': (550, b'5.1.1 <{EMAIL}>: Recipient address rejected')}}"


def _user(session, world, username: str) -> User:
    return session.get(User, world.users[username])


def _deliver_until_done(app, clock) -> None:
    """Every attempt a message gets: the first and one after each retry delay."""
    for delay in (None, *notify.RETRY_DELAYS):
        if delay:
            clock.advance(delay)
        notify.run_for_app(app)


def _notifications(session, code: str) -> list[Notification]:
    session.rollback()
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.object_id == code).order_by(Notification.id)))


def _pages(client, application_id: int) -> list[str]:
    """The delivery log on the application (its community's clerk) and the failures list (county, admin)."""
    login(client, "staff_a1")
    pages = [client.get(f"/admin/applications/{application_id}").get_data(as_text=True)]
    for user in ("county", "admin"):
        login(client, user)
        pages.append(client.get("/admin/notifications/failed").get_data(as_text=True))
    return pages


# --- 1. the address in the delivery error ---------------------------------------------------------------------

def test_a_refused_address_is_gone_from_the_log_once_erased(app, client, session, world, clock,
                                                            refusing_smtp, sms_gateway):  # noqa: F811
    app.config.update(SMTP_HOST=refusing_smtp.host, SMTP_PORT=refusing_smtp.port, SMTP_FROM="dibao@county.example",
                      SMS_GATEWAY_URL=sms_gateway.url)
    application = _application(app, session, world)  # returned: two SMS (applicant, proxy) and an e-mail
    _deliver_until_done(app, clock)
    mail = [n for n in _notifications(session, application.tracking_code) if n.channel == NotifyChannel.email]
    assert [(n.status, n.last_error) for n in mail] == [(DeliveryStatus.failed, "邮件服务器拒收（550）")]
    login(client, "staff_a1")
    assert "发送失败的通知 <strong>1</strong>" in client.get("/admin/").get_data(as_text=True)

    clock.advance(days=186)
    assert [d.id for d in retention.run(app).erased] == [application.id]

    rows = _notifications(session, application.tracking_code)
    assert {n.recipient for n in rows} == {""}
    assert [(n.channel, n.status, n.last_error) for n in rows] == [
        (NotifyChannel.sms, DeliveryStatus.sent, None), (NotifyChannel.sms, DeliveryStatus.sent, None),
        (NotifyChannel.email, DeliveryStatus.failed, retention.ERASED_NOTE)]
    detail, *failures = _pages(client, application.id)
    assert "通知发送记录" in detail and "✖ 发送失败" in detail and retention.ERASED_NOTE in detail
    for html in (detail, *failures):
        assert EMAIL not in html and "wang@" not in html
    # Nothing left to act on: the failures list (and the dashboard's count) leave it to the item's log.
    assert not any(application.tracking_code in html for html in failures)
    login(client, "staff_a1")
    assert "发送失败的通知 <strong>0</strong>" in client.get("/admin/").get_data(as_text=True)


def test_an_error_written_before_the_fix_is_erased_too(app, client, session, world, clock):
    application = _application(app, session, world)
    rows = _notifications(session, application.tracking_code)
    mail = next(n for n in rows if n.channel == NotifyChannel.email)
    session.execute(update(Notification).where(Notification.id == mail.id).values(
        status=DeliveryStatus.failed, attempts=notify.MAX_ATTEMPTS, last_error=OLD_ERROR, next_attempt_at=None))
    session.commit()
    assert EMAIL in _pages(client, application.id)[1]  # what the auditor saw

    clock.advance(days=186)
    retention.run(app)

    rows = _notifications(session, application.tracking_code)
    assert all(EMAIL not in (n.recipient + (n.last_error or "")) for n in rows)
    assert next(n for n in rows if n.id == mail.id).last_error == retention.ERASED_NOTE
    for html in _pages(client, application.id):
        assert EMAIL not in html


def test_a_message_still_waiting_is_not_sent_after_the_erasure(app, client, session, world, clock, sms_gateway):  # noqa: F811
    application = _application(app, session, world)  # no gateway, no mail server: all three wait
    assert {n.status for n in _notifications(session, application.tracking_code)} == {DeliveryStatus.pending}
    clock.advance(days=186)
    [erased] = retention.run(app).erased
    [event] = _erasure_events(session, "application", application.tracking_code)
    assert '"notifications": 3' in event.details

    app.config.update(SMS_GATEWAY_URL=sms_gateway.url)  # the gateway is configured at last
    assert notify.run_for_app(app).sent == 0 and sms_gateway.received == []
    rows = _notifications(session, application.tracking_code)
    assert [(n.recipient, n.status, n.last_error) for n in rows] == [
        ("", DeliveryStatus.failed, retention.ERASED_NOTE)] * 3

    # Nobody can send it again to an empty address: no button, and the request itself is refused.
    login(client, "staff_a1")
    url = f"/admin/applications/{application.id}"
    html = client.get(url).get_data(as_text=True)
    assert "立即重发" not in html and "已删除" in html
    res = client.post(f"/admin/notifications/{rows[0].id}/retry", data={"csrf_token": staff_token(client, url),
                                                                       "next": url})
    assert res.status_code == 409
    assert _notifications(session, application.tracking_code)[0].status == DeliveryStatus.failed
    with pytest.raises(Conflict):
        notify.retry(session, _user(session, world, "staff_a1"), rows[0])


# --- 2. a real-name submitter who was never told ----------------------------------------------------------------

def _feedback(app, session, world, kind: str, phone: str):
    """A real-name objection or report with a photo, filed now and decided (not upheld) at once."""
    with app.test_request_context():
        sub = feedback.Submission(category="income_hidden", description="他家儿子在城里开了一家饭店，收入不低。",
                                  name=NAME, phone=phone, photos=[jpeg(color=(90, 30, 200))])
        if kind == "objection":
            entry = open_entry(session, world)
            item = feedback.submit_objection(session, entry.public_id, sub, media_dir=app.config["MEDIA_DIR"]).item
            decider = _user(session, world, "staff_a1")
            session.commit()
            feedback.record_check(session, decider, item, "入户走访了三户邻居，饭店是亲戚开的，与该户无关。")
        else:
            case = make_case(session, session.get(Region, world.regions["comm_a1"]), stage=Stage.active,
                             head_name="赵大海")
            item = feedback.submit_report(session, sub, subject="recipient", region_code="100001001",
                                          case_number=case.number, media_dir=app.config["MEDIA_DIR"]).item
            decider = _user(session, world, "county")
            session.commit()
        feedback.decide(session, decider, item, "not_upheld", "经入户核查，反映的情况不属实。")
        session.commit()
    return item


@pytest.mark.parametrize(("kind", "phone"), [("objection", LANDLINE), ("report", MOBILE)])
def test_a_submitter_never_told_is_erased_counting_from_the_decision(app, client, session, world, clock, runner,
                                                                     sms_gateway, kind, phone):  # noqa: F811
    model = {"objection": Objection, "report": Report}[kind]
    item = _feedback(app, session, world, kind, phone)
    if phone == MOBILE:  # the SMS fails for good
        app.config.update(SMS_GATEWAY_URL=sms_gateway.url)
        sms_gateway.answers = [500] * notify.MAX_ATTEMPTS
        _deliver_until_done(app, clock)
        [sms] = _notifications(session, item.tracking_code)
        assert (sms.status, sms.recipient) == (DeliveryStatus.failed, MOBILE)
    else:  # a landline gets no SMS; staff were to phone and never recorded it
        assert _notifications(session, item.tracking_code) == []
    decided_at = _state(session, model, item.id).decided_at
    assert feedback.must_notify(_state(session, model, item.id))

    clock.set(decided_at + timedelta(days=184))
    assert retention.run(app).erased == []
    assert _state(session, model, item.id).submitter_phone == phone

    clock.advance(days=2)
    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert f"{item.tracking_code} (#{item.id})" in dry.output and "办结（实名，未告知）" in dry.output
    assert "1 items older than 185 days would be erased" in dry.output
    assert [(d.kind, d.id) for d in retention.run(app).erased] == [(kind, item.id)]

    erased = _state(session, model, item.id)
    assert (erased.submitter_name, erased.submitter_phone, erased.evidence) == (None, None, [])
    assert erased.notified_at is None and erased.erased_at == clock.now()
    assert all((n.recipient, n.last_error) == ("", retention.ERASED_NOTE)
               for n in _notifications(session, item.tracking_code))
    assert len(_erasure_events(session, kind, item.tracking_code)) == 1

    # The staff page says it was erased and that the submitter had not been told; nothing asks to tell them now.
    login(client, "staff_a1" if kind == "objection" else "county")
    html = client.get(f"/admin/feedback/{kind}/{item.id}").get_data(as_text=True)
    assert "联系方式与证据照片已于" in html and "删除前没有告知记录，保留期从办结时起算" in html
    assert "记录已告知" not in html and phone not in html and NAME not in html
    inbox = client.get(f"/admin/feedback/?state=notify&kind={kind}").get_data(as_text=True)
    assert item.tracking_code not in inbox
    assert not feedback.must_notify(erased)


# --- 3. the client key -------------------------------------------------------------------------------------------

def _objection_from_the_portal(client, session, world) -> Objection:
    entry = open_entry(session, world)
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, name=NAME, phone=MOBILE))
    assert res.status_code == 303
    code = receipt_code(client)
    session.rollback()
    return session.scalar(select(Objection).where(Objection.tracking_code == code))


def test_the_client_key_of_an_objection_is_erased(app, client, session, world, clock):
    objection = _objection_from_the_portal(client, session, world)
    assert objection.client_key and len(objection.client_key) == 64
    staff = _user(session, world, "staff_a1")
    with app.test_request_context():
        feedback.record_check(session, staff, objection, "入户走访了三户邻居，饭店是亲戚开的，与该户无关。")
        feedback.decide(session, staff, objection, "not_upheld", "经入户核查，反映的饭店不属于该户。")
        session.commit()
    clock.advance(days=185, hours=1)

    assert [d.id for d in retention.run(app).erased] == [objection.id]

    item = _state(session, Objection, objection.id)
    assert item.client_key is None and item.submitter_phone is None
    assert session.scalar(select(func.count(Objection.id)).where(Objection.client_key.is_not(None))) == 0


# --- what an earlier version's erasure left ----------------------------------------------------------------------

def test_an_item_erased_earlier_is_cleaned_once(app, client, session, world, clock, runner):
    """Erased by the old code: the recipient went, the client key and the old error stayed."""
    objection = _objection_from_the_portal(client, session, world)
    key = objection.client_key
    application = _application(app, session, world)
    staff = _user(session, world, "staff_a1")
    with app.test_request_context():
        feedback.record_check(session, staff, objection, "入户走访了三户邻居，饭店是亲戚开的，与该户无关。")
        feedback.decide(session, staff, objection, "not_upheld", "经入户核查，反映的饭店不属于该户。")
        feedback.mark_notified(session, staff, objection, "电话告知本人核查结论")
        session.commit()
    clock.advance(days=186)
    assert len(retention.run(app).erased) == 2
    # What the old code left: the client key, and the e-mail's old error (the recipient itself was cleared).
    session.execute(update(Objection).where(Objection.id == objection.id).values(client_key=key))
    session.execute(update(Notification).where(Notification.object_id == application.tracking_code,
                                               Notification.channel == NotifyChannel.email)
                    .values(last_error=OLD_ERROR))
    session.commit()
    events = session.scalar(select(func.count(AuditEvent.id)))

    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.output.count("已删除，补删通知记录与来源标识") == 2
    assert "0 items older than 185 days would be erased; 2 erased earlier" in dry.output
    assert _state(session, Objection, objection.id).client_key == key

    done = runner.invoke(args=["retention", "run"])
    assert "retention: 0 items erased, 0 files deleted (retention period 185 days); 2 erased earlier" in done.output

    assert _state(session, Objection, objection.id).client_key is None
    assert all(EMAIL not in (n.last_error or "") for n in _notifications(session, application.tracking_code))
    assert session.scalar(select(func.count(AuditEvent.id))) == events + 2
    [_, again] = _erasure_events(session, "objection", objection.tracking_code)
    assert '"completing_an_earlier_erasure": true' in again.details and key not in again.details
    assert len(_erasure_events(session, "application", application.tracking_code)) == 2
    assert _state(session, Application, application.id).erased_at is not None

    assert retention.run(app).erased == []  # nothing more
    assert session.scalar(select(func.count(AuditEvent.id))) == events + 2
    login(client, "admin")
    assert EMAIL not in client.get("/admin/notifications/failed").get_data(as_text=True)
