"""Issue 14, item 5: telling people the answer — SMS through an HTTP gateway (a local stub), e-mail through a real
local SMTP server (aiosmtpd), a delivery log on the item, retries, and nothing for anonymous submitters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dibao import feedback, notify
from dibao.models import AuditEvent, Objection
from dibao.models.application import Application
from dibao.models.notification import DeliveryStatus, Notification, NotifyChannel
from tests.application_helpers import login, only, receipt_code, staff_token, submit
from tests.conftest import csrf_token
from tests.feedback_helpers import objection_data, open_entry
from tests.feedback_helpers import receipt_code as feedback_code
from tests.servers import sms_gateway, smtp_server  # noqa: F401 - fixtures

MOBILE = "13900001111"


@pytest.fixture
def configured(app, sms_gateway, smtp_server):  # noqa: F811
    app.config.update(SMS_GATEWAY_URL=sms_gateway.url, SMS_GATEWAY_TOKEN="gw-secret", SMTP_HOST=smtp_server.host,
                      SMTP_PORT=smtp_server.port, SMTP_FROM="dibao@county.example")
    return app


def deliver(app):
    return notify.run_for_app(app)


def objection(client, session, world, **contact):
    entry = open_entry(session, world)
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, **contact))
    assert res.status_code == 303
    code = feedback_code(client)
    session.rollback()
    return session.scalar(select(Objection).where(Objection.tracking_code == code))


def decide(client, item, outcome="not_upheld"):
    url = f"/admin/feedback/objection/{item.id}"
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": outcome,
                                             "notes": "社区专干张三入户核实，走访三户邻居。",
                                             "public_answer": "经入户核查，该户收入情况属实，异议不成立。"})
    assert res.status_code == 303
    return url


def test_a_real_name_objector_is_told_the_result_by_sms(configured, client, session, world, sms_gateway):  # noqa: F811
    item = objection(client, session, world, name="李四", phone=MOBILE)
    login(client, "staff_a1")
    url = decide(client, item)
    sms = only(session, Notification)
    assert (sms.channel, sms.recipient, sms.status) == (NotifyChannel.sms, MOBILE, DeliveryStatus.pending)
    assert sms.object_type == "objection" and sms.object_id == item.tracking_code

    result = deliver(configured)
    assert (result.sent, result.failed) == (1, 0)
    headers, body = sms_gateway.received[0]
    assert headers["Authorization"] == "Bearer gw-secret" and body["to"] == MOBILE
    code = feedback.format_code(item.tracking_code)
    assert body["text"].startswith("【阳光低保】") and code in body["text"] and "不成立" in body["text"]
    assert body["text"].endswith(f"http://dibao.test/track/{item.tracking_code}")
    assert "李四" not in body["text"] and "收入情况属实" not in body["text"]  # the answer itself is on the page

    session.rollback()
    item = session.get(Objection, item.id)
    assert item.notified_at is not None and "已短信告知反映人核查结果" in item.check_notes
    assert not feedback.must_notify(item)  # no clerk ticks "已告知" by hand any more
    assert session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "objection_submitter_notified")) == 1
    page = client.get(url).get_data(as_text=True)
    assert "通知发送记录" in page and "✔ 已发送" in page and "139****1111" in page and MOBILE + "<" not in page


def test_nothing_is_sent_to_an_anonymous_submitter(configured, client, session, world, sms_gateway):  # noqa: F811
    item = objection(client, session, world)
    assert not item.real_name
    login(client, "staff_a1")
    url = decide(client, item)
    assert session.scalar(select(func.count(Notification.id))) == 0
    assert deliver(configured).sent == 0 and sms_gateway.received == []
    assert "匿名反映不发送通知" in client.get(url).get_data(as_text=True)


def test_a_landline_gets_no_sms_and_stays_to_be_told_by_phone(configured, client, session, world):
    item = objection(client, session, world, name="李四", phone="0551-62345678")
    login(client, "staff_a1")
    decide(client, item)
    session.rollback()
    assert session.scalar(select(func.count(Notification.id))) == 0
    assert feedback.must_notify(session.get(Objection, item.id))


def test_failures_are_retried_then_shown_to_staff_who_can_send_again(configured, client, session, world, clock,
                                                                      sms_gateway):  # noqa: F811
    item = objection(client, session, world, name="李四", phone=MOBILE)
    login(client, "staff_a1")
    url = decide(client, item)
    sms_gateway.answers = [500] * notify.MAX_ATTEMPTS
    t0 = clock.now()
    assert deliver(configured).retried == 1
    row = only(session, Notification)
    assert row.attempts == 1 and row.last_error == "短信网关返回 HTTP 500"
    assert row.next_attempt_at == t0 + timedelta(minutes=1)
    assert deliver(configured).retried == 0  # not due yet: nothing is sent twice in the same minute
    for delay in notify.RETRY_DELAYS:
        clock.advance(delay)
        deliver(configured)
    row = only(session, Notification)
    assert row.status == DeliveryStatus.failed and row.attempts == notify.MAX_ATTEMPTS
    assert len(sms_gateway.received) == notify.MAX_ATTEMPTS
    assert feedback.must_notify(session.get(Objection, item.id))  # not told yet

    login(client, "staff_a1")
    assert "✖ 发送失败" in client.get(url).get_data(as_text=True)
    assert item.tracking_code in client.get("/admin/notifications/failed").get_data(as_text=True)
    token = staff_token(client, url)
    res = client.post(f"/admin/notifications/{row.id}/retry", data={"csrf_token": token, "next": url})
    assert res.status_code == 303 and res.headers["Location"].endswith(url)
    assert deliver(configured).sent == 1  # the gateway answers 200 again
    assert only(session, Notification).status == DeliveryStatus.sent
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "notification_retried")) == 1


def test_retrying_is_scoped(configured, client, session, world):
    item = objection(client, session, world, name="李四", phone=MOBILE)
    login(client, "staff_a1")
    decide(client, item)
    row = only(session, Notification)
    login(client, "staff_b1")
    token = staff_token(client, "/admin/")
    assert client.post(f"/admin/notifications/{row.id}/retry", data={"csrf_token": token}).status_code == 404
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "notification_retried")) == 0


def test_an_applicant_gets_sms_and_email_when_the_application_is_returned(configured, client, session, world,
                                                                         smtp_server, sms_gateway):  # noqa: F811
    assert submit(client, email="wang@example.org").status_code == 303
    code = receipt_code(client)
    application = only(session, Application)
    login(client, "staff_a1")
    token = staff_token(client, f"/admin/applications/{application.id}")
    client.post(f"/admin/applications/{application.id}/return", data={"csrf_token": token, "other": "户口簿"})
    assert deliver(configured).sent == 2
    assert [b["to"] for _h, b in sms_gateway.received] == ["13812345678"]
    (mail,) = smtp_server.messages
    assert mail["To"] == "wang@example.org" and mail["X-Envelope-To"] == "wang@example.org"
    assert mail["Subject"] == "您的低保申请需要补充材料" and "dibao@county.example" in mail["From"]
    text = mail.get_content()
    assert feedback.format_code(code) in text and f"http://dibao.test/track/{code}" in text


def test_an_unconfigured_channel_keeps_its_messages_waiting(app, client, session, world):
    item = objection(client, session, world, name="李四", phone=MOBILE)
    login(client, "staff_a1")
    decide(client, item)
    assert deliver(app).sent == 0  # no gateway configured
    row = only(session, Notification)
    assert row.status == DeliveryStatus.pending and row.attempts == 0


def test_a_dead_smtp_server_is_a_retry_not_a_crash(app, session, world):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=1)  # nothing listens there
    with app.app_context():
        notify.queue(session, channel=NotifyChannel.email, recipient="a@example.org", body="测试", object_type="kiosk",
                     object_id="1", region_id=world.regions["comm_a1"])
        session.commit()
    assert deliver(app).retried == 1
    assert "邮件服务器" in only(session, Notification).last_error
