"""A delivery error is kept for staff without the recipient's address or number: it is stored in the delivery
log (``last_error``) and must not outlive the erasure of the address (dibao.retention). A mail server's refusal
quotes the address; only a short description and the server's code are kept."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from dibao import notify
from dibao.models.notification import DeliveryStatus, Notification, NotifyChannel
from tests.application_helpers import login
from tests.servers import Mailbox, _free_port, serving

EMAIL = "wang@example.com"
MOBILE = "13900001111"


class RefusingMailbox(Mailbox):
    """An SMTP server that refuses every recipient the way Postfix does, quoting the address."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's protocol
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"


@pytest.fixture
def refusing_smtp():
    with serving(RefusingMailbox("127.0.0.1", _free_port())) as mailbox:
        yield mailbox


def _queue(app, session, world, channel: NotifyChannel, recipient: str) -> int:
    with app.app_context():
        row = notify.queue(session, channel=channel, recipient=recipient, body="您的低保网上申请已受理。",
                           object_type="kiosk", object_id="1", region_id=world.regions["comm_a1"])
        session.commit()
    return row.id


def _row(session, row_id: int) -> Notification:
    session.rollback()
    session.expire_all()
    return session.get(Notification, row_id)


def test_a_refused_address_is_not_kept_in_the_error(app, client, session, world, refusing_smtp):
    app.config.update(SMTP_HOST=refusing_smtp.host, SMTP_PORT=refusing_smtp.port, SMTP_FROM="dibao@county.example")
    row_id = _queue(app, session, world, NotifyChannel.email, EMAIL)

    assert notify.run_for_app(app).retried == 1

    row = _row(session, row_id)
    assert row.last_error == "邮件服务器拒收（550）"
    assert row.recipient == EMAIL  # the address itself stays until it is erased (dibao.retention)
    assert refusing_smtp.messages == []


def test_an_unreachable_gateway_or_server_is_described_without_the_recipient(app, session, world):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app.config.update(SMS_GATEWAY_URL=f"http://127.0.0.1:{port}/send", SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    sms = _queue(app, session, world, NotifyChannel.sms, MOBILE)
    mail = _queue(app, session, world, NotifyChannel.email, EMAIL)

    assert notify.run_for_app(app).retried == 2

    assert _row(session, sms).last_error == "无法连接短信网关（连接被拒绝）"
    assert _row(session, mail).last_error == "无法连接邮件服务器（连接被拒绝）"


@pytest.mark.parametrize("channel", [NotifyChannel.sms, NotifyChannel.email])
def test_whatever_a_sender_reports_loses_the_recipient(app, session, world, monkeypatch, channel):
    """The last guard: a gateway's or server's text that still quotes the number or address (in any case)."""
    recipient = MOBILE if channel == NotifyChannel.sms else EMAIL

    def quoting(row, settings):
        raise notify.DeliveryError(f"网关：{row.recipient.upper()} 不存在；号码 {row.recipient} 无效")

    monkeypatch.setitem(notify.SENDERS, channel, quoting)
    app.config.update(SMS_GATEWAY_URL="http://127.0.0.1:9/send", SMTP_HOST="127.0.0.1")
    row_id = _queue(app, session, world, channel, recipient)

    notify.run_for_app(app)

    error = _row(session, row_id).last_error
    assert error == "网关：*** 不存在；号码 *** 无效"


def test_the_failures_list_shows_the_reason_without_the_address(app, client, session, world, clock, refusing_smtp):
    app.config.update(SMTP_HOST=refusing_smtp.host, SMTP_PORT=refusing_smtp.port, SMTP_FROM="dibao@county.example")
    row_id = _queue(app, session, world, NotifyChannel.email, EMAIL)
    for delay in (None, *notify.RETRY_DELAYS):
        if delay:
            clock.advance(delay)
        notify.run_for_app(app)
    row = _row(session, row_id)
    assert (row.status, row.attempts) == (DeliveryStatus.failed, notify.MAX_ATTEMPTS)

    login(client, "admin")
    html = client.get("/admin/notifications/failed").get_data(as_text=True)
    assert "✖ 发送失败" in html and "邮件服务器拒收（550）" in html
    assert html.count(EMAIL) == 1  # the recipient column only (staff see it until it is erased), not the error
    assert "Recipient address rejected" not in html
    assert session.scalars(select(Notification.last_error)).all() == ["邮件服务器拒收（550）"]
