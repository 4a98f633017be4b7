"""Telling people (告知): SMS through a configurable HTTP gateway and e-mail through SMTP, with a delivery log.

A notification is *queued* inside the transaction of the decision that calls for it (an objection or report
decided, an application returned or accepted, a kiosk gone dark): it commits or rolls back with that
decision, so nobody is told of something that was not saved. It is *sent* afterwards, outside any request:
by the app's periodic sweep (dibao.sweep) or by ``dibao notify send`` from cron. Each attempt claims its row
with one conditional UPDATE (two workers never send the same message twice), sends, and records the outcome;
a failure is retried after 1, 5 and 30 minutes, 2 and 12 hours, then the row is marked failed and staff see it
on the item, where they can send it again.

Nothing is ever sent to an anonymous submitter: the queueing functions only look at real-name items.
Messages to residents are in Chinese whatever the clerk's interface language is.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dibao import audit, clock, db, scope
from dibao.errors import Conflict, NotFound
from dibao.models import Role, User
from dibao.models.notification import DeliveryStatus, Notification, NotifyChannel

log = logging.getLogger("dibao.notify")

RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=12))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
CLAIM_LEASE = timedelta(minutes=5)  # a claimed row is not picked up again while its attempt may be running
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")

CHANNEL_LABELS = {NotifyChannel.sms: _l("短信"), NotifyChannel.email: _l("电子邮件")}
STATUS_LABELS = {DeliveryStatus.pending: _l("等待发送"), DeliveryStatus.sent: _l("已发送"),
                 DeliveryStatus.failed: _l("发送失败")}


@dataclass(frozen=True)
class Settings:
    """Where messages go (from the app's configuration; see README). Unset gateway or server: the channel is
    off and its messages wait (they are sent once it is configured)."""

    public_url: str = ""
    sms_url: str | None = None
    sms_token: str | None = None
    sms_signature: str = "【阳光低保】"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "dibao@localhost"
    smtp_security: str = "none"  # none | starttls | ssl
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping) -> Settings:
        return cls(
            public_url=config.get("PUBLIC_URL", ""), sms_url=config.get("SMS_GATEWAY_URL"),
            sms_token=config.get("SMS_GATEWAY_TOKEN"),
            sms_signature=config.get("SMS_SIGNATURE") or "【阳光低保】",
            smtp_host=config.get("SMTP_HOST"), smtp_port=int(config.get("SMTP_PORT") or 25),
            smtp_user=config.get("SMTP_USER"), smtp_password=config.get("SMTP_PASSWORD"),
            smtp_from=config.get("SMTP_FROM") or "dibao@localhost",
            smtp_security=config.get("SMTP_SECURITY") or "none",
            timeout=float(config.get("NOTIFY_TIMEOUT") or 10),
        )

    def enabled(self, channel: NotifyChannel) -> bool:
        return bool(self.sms_url) if channel == NotifyChannel.sms else bool(self.smtp_host)


def is_mobile(phone: str | None) -> bool:
    """Only a mainland mobile number can receive an SMS (a landline is phoned by staff instead)."""
    return bool(phone and MOBILE_RE.match(phone))


def valid_email(address: str | None) -> bool:
    return bool(address and EMAIL_RE.match(address))


# --- queueing (inside the caller's transaction) -------------------------------------------------------------

def queue(session: Session, *, channel: NotifyChannel, recipient: str, body: str, object_type: str,
          object_id: str, region_id: int | None, subject: str = "", link: str | None = None) -> Notification:
    now = clock.now()
    row = Notification(channel=channel, recipient=recipient, subject=subject, body=body, link=link,
                       object_type=object_type, object_id=str(object_id), region_id=region_id,
                       status=DeliveryStatus.pending, attempts=0, next_attempt_at=now, created_at=now)
    session.add(row)
    session.flush()
    return row


def _in_chinese(compose: Callable[[], tuple[str, str]]) -> tuple[str, str]:
    with force_locale("zh_CN"):
        return compose()


def feedback_decided(session: Session, item) -> Notification | None:
    """The result of an objection or report, to its real-name submitter's mobile (A 37). Anonymous: nothing."""
    from dibao import feedback

    if not item.real_name or not is_mobile(item.submitter_phone):
        return None
    code = feedback.format_code(item.tracking_code)

    def compose():
        kind = str(feedback.KIND_LABELS[item.kind])
        labels = feedback.OUTCOME_LABELS if item.kind == "objection" else feedback.REPORT_OUTCOME_LABELS
        subject = _("您反映的问题已办结")
        body = _("您提出的%(kind)s（查询码 %(code)s）已办结，核查结论：%(outcome)s。答复全文请凭查询码查看：",
                 kind=kind, code=code, outcome=str(labels[item.outcome]))
        return subject, body

    subject, body = _in_chinese(compose)
    return queue(session, channel=NotifyChannel.sms, recipient=item.submitter_phone, subject=subject, body=body,
                 link=f"/track/{item.tracking_code}", object_type=item.kind, object_id=item.tracking_code,
                 region_id=item.region_id)


def application_answered(session: Session, application) -> list[Notification]:
    """An application returned (with what is missing) or accepted: to the applicant's mobile and e-mail,
    and to the relative who applied for them."""
    from dibao import feedback
    from dibao.models.application import ApplicationStatus

    code = feedback.format_code(application.tracking_code)

    def compose():
        if application.status == ApplicationStatus.returned:
            subject = _("您的低保申请需要补充材料")
            body = _("您的低保网上申请（查询码 %(code)s）需要补充材料，社区已一次性列出需要补齐的全部材料，请凭查询码查看：",
                     code=code)
        else:
            subject = _("您的低保申请已受理")
            body = _("您的低保网上申请（查询码 %(code)s）已由%(community)s受理，工作人员将在 3 个工作日内入户调查。办理进度请凭查询码查看：",
                     code=code, community=application.region.name)
        return subject, body

    subject, body = _in_chinese(compose)
    common = {"subject": subject, "body": body, "link": f"/track/{application.tracking_code}",
              "object_type": "application", "object_id": application.tracking_code,
              "region_id": application.region_id}
    rows = []
    for phone in dict.fromkeys(p for p in (application.head_phone, application.proxy_phone) if is_mobile(p)):
        rows.append(queue(session, channel=NotifyChannel.sms, recipient=phone, **common))
    if valid_email(application.email):
        rows.append(queue(session, channel=NotifyChannel.email, recipient=application.email, **common))
    return rows


def set_staff_email(session: Session, actor: User, email: str | None) -> User:
    """A staff member's own address for alerts (a kiosk of their community gone dark); empty removes it."""
    from dibao.errors import Invalid

    email = (email or "").strip() or None
    if email is not None and not valid_email(email):
        raise Invalid(_l("电子邮箱格式不对，例如 zhangsan@example.gov.cn。"), field="email")
    if email == actor.email:
        return actor
    actor.email = email
    audit.record(session, actor, "staff_email_set", "user", actor.id, region_id=actor.region_id,
                 details={"set": email is not None})
    return actor


def staff_addresses(session: Session, region) -> list[User]:
    """Active staff of a community (its own community staff) with an e-mail address."""
    stmt = select(User).where(User.region_id == region.id, User.active.is_(True), User.email.is_not(None),
                              User.role == Role.community_staff).order_by(User.id)
    return [u for u in session.scalars(stmt) if valid_email(u.email)]


# --- the delivery log on an item, and staff retrying ----------------------------------------------------------

def log_for(session: Session, object_type: str, object_id: str) -> list[Notification]:
    stmt = (select(Notification).where(Notification.object_type == object_type,
                                       Notification.object_id == str(object_id))
            .order_by(Notification.id))
    return list(session.scalars(stmt))


def get(session: Session, actor: User, notification_id: int) -> Notification:
    row = db.get_record(session, Notification, notification_id)
    if row is None or row.region is None or not scope.can_see(actor, row.region):
        raise NotFound(_l("没有找到这条通知。"))
    return row


def retry(session: Session, actor: User, row: Notification) -> Notification:
    """Staff send a failed (or still waiting) message again now."""
    if row.status == DeliveryStatus.sent:
        raise Conflict(_l("这条通知已经发送成功。"))
    if not row.recipient:
        raise Conflict(_l("收件号码或邮箱已按《个人信息保护法》第四十七条删除，无法重发。"))
    row.status = DeliveryStatus.pending
    row.next_attempt_at = clock.now()
    audit.record(session, actor, "notification_retried", "notification", row.id, region_id=row.region_id,
                 details={"channel": row.channel.value, "object": f"{row.object_type}:{row.object_id}",
                          "attempts": row.attempts})
    return row


def item_of(session: Session, row: Notification) -> tuple[str, int] | None:
    """(object type, id) of what a message is about, for a link from the failures list."""
    from dibao.models import Objection, Report
    from dibao.models.application import Application

    models = {"objection": Objection, "report": Report, "application": Application}
    model = models.get(row.object_type)
    if model is not None:
        found = session.scalar(select(model.id).where(model.tracking_code == row.object_id))
        return (row.object_type, found) if found else None
    if row.object_type == "kiosk" and row.object_id.isdigit():
        return "kiosk", int(row.object_id)
    return None


def _to_act_on(actor: User) -> tuple:
    """Failed messages staff can still do something about: not those whose recipient was erased (dibao.retention;
    they stay in the item's delivery log)."""
    return (Notification.status == DeliveryStatus.failed, Notification.recipient != "",
            Notification.region_id.in_(scope.region_ids_in_scope(actor)))


def failed_count(session: Session, actor: User) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count(Notification.id)).where(*_to_act_on(actor))) or 0


def failures(session: Session, actor: User, limit: int = 200) -> list[Notification]:
    stmt = (select(Notification).where(*_to_act_on(actor))
            .order_by(Notification.last_attempt_at.desc()).limit(limit))
    return list(session.scalars(stmt))


# --- sending (outside any request: the sweep and the CLI) -----------------------------------------------------

class DeliveryError(Exception):
    """One attempt failed; the message says why (kept in the log for staff).

    The message never holds the recipient: it is stored in ``last_error`` and shown in the delivery log, and
    it must go when the number or address is erased (dibao.retention). A server's own wording often quotes
    the address (``SMTPRecipientsRefused`` is ``{'wang@example.com': (550, b'5.1.1 <wang@example.com> …')}``),
    so only a short description of our own and the server's code are kept (:func:`delivery_error`)."""


def due_ids(session: Session, at: datetime, settings: Settings, limit: int = 100) -> list[int]:
    channels = [c for c in NotifyChannel if settings.enabled(c)]
    if not channels:
        return []
    stmt = (select(Notification.id).where(Notification.status == DeliveryStatus.pending,
                                          Notification.next_attempt_at <= at, Notification.channel.in_(channels),
                                          Notification.recipient != "")  # erased (dibao.retention): nowhere to send
            .order_by(Notification.next_attempt_at, Notification.id).limit(limit))
    return list(session.scalars(stmt))


def claim(session: Session, notification_id: int, at: datetime) -> Notification | None:
    """Take one due row for an attempt (one conditional UPDATE; None when another worker has it)."""
    claimed = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == DeliveryStatus.pending,
               Notification.next_attempt_at <= at)
        .values(next_attempt_at=at + CLAIM_LEASE, last_attempt_at=at, attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return None
    return session.get(Notification, notification_id, populate_existing=True)


def message_text(row: Notification, settings: Settings) -> str:
    link = f"{settings.public_url.rstrip('/')}{row.link}" if row.link else ""
    return f"{row.body}{link}"


def send_sms(row: Notification, settings: Settings) -> None:
    """POST {"to", "text"} as JSON to the gateway (bearer token if configured); any 2xx is accepted."""
    payload = json.dumps({"to": row.recipient, "text": settings.sms_signature + message_text(row, settings),
                          "reference": f"dibao-{row.id}"}, ensure_ascii=False).encode()
    request = urllib.request.Request(settings.sms_url or "", data=payload, method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    if settings.sms_token:
        request.add_header("Authorization", f"Bearer {settings.sms_token}")
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as err:
        raise DeliveryError(f"短信网关返回 HTTP {err.code}") from None
    except (urllib.error.URLError, OSError) as err:
        raise DeliveryError(f"无法连接短信网关（{_connection_problem(err)}）") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"短信网关返回 HTTP {status}")


def send_email(row: Notification, settings: Settings) -> None:
    message = EmailMessage()
    message["Subject"] = row.subject or "阳光低保"
    message["From"] = formataddr(("阳光低保", settings.smtp_from))
    message["To"] = row.recipient
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    message.set_content(message_text(row, settings) + "\n\n（本邮件由系统自动发送，请勿直接回复。）\n")
    try:
        if settings.smtp_security == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host or "", settings.smtp_port,
                                                    timeout=settings.timeout, context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(settings.smtp_host or "", settings.smtp_port, timeout=settings.timeout)
        with server:
            if settings.smtp_security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                server.login(settings.smtp_user, settings.smtp_password or "")
            server.send_message(message)
    except (smtplib.SMTPException, OSError) as err:
        raise DeliveryError(_smtp_problem(err)) from None


def _smtp_problem(err: smtplib.SMTPException | OSError) -> str:
    """What went wrong with the mail server, in a few words and its reply code (never its text: it quotes the
    recipient's address)."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _text in err.recipients.values()})
        return f"邮件服务器拒收（{'、'.join(codes)}）" if codes else "邮件服务器拒收"
    if isinstance(err, smtplib.SMTPSenderRefused):
        return f"邮件服务器拒绝发件地址（{err.smtp_code}）"
    if isinstance(err, smtplib.SMTPAuthenticationError):
        return f"邮件服务器登录失败（{err.smtp_code}）"
    if isinstance(err, smtplib.SMTPDataError):
        return f"邮件服务器拒收（{err.smtp_code}）"
    if isinstance(err, smtplib.SMTPResponseException):
        return f"邮件服务器返回错误（{err.smtp_code}）"
    if isinstance(err, smtplib.SMTPServerDisconnected):
        return "邮件服务器断开了连接"
    if isinstance(err, smtplib.SMTPException):
        return f"邮件服务器出错（{type(err).__name__}）"
    return f"无法连接邮件服务器（{_connection_problem(err)}）"


def _connection_problem(err: OSError) -> str:
    """A connection failure in a few words: timeout, refused, TLS, or the error's class."""
    for cause in (err, getattr(err, "reason", None)):  # urllib wraps the socket error in ``reason``
        if isinstance(cause, TimeoutError):
            return "超时"
        if isinstance(cause, ConnectionRefusedError):
            return "连接被拒绝"
        if isinstance(cause, ssl.SSLError):
            return "加密连接失败"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[:200]
    return type(err).__name__


def delivery_error(row: Notification, text: str) -> str:
    """``text`` with the recipient taken out, should it still be there (the last guard: see DeliveryError)."""
    if row.recipient:
        text = re.sub(re.escape(row.recipient), "***", text, flags=re.IGNORECASE)
    return text


SENDERS: dict[NotifyChannel, Callable[[Notification, Settings], None]] = {
    NotifyChannel.sms: send_sms, NotifyChannel.email: send_email}


def record_result(session: Session, notification_id: int, error: str | None, at: datetime) -> Notification:
    """Write down one attempt's outcome: sent, or the next retry (or failed after the last one)."""
    row = session.get(Notification, notification_id, populate_existing=True)
    row.last_attempt_at = at
    if error is None:
        row.status = DeliveryStatus.sent
        row.sent_at = at
        row.next_attempt_at = None
        row.last_error = None
        _told(session, row, at)
    else:
        row.last_error = error[:1000]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = DeliveryStatus.failed
            row.next_attempt_at = None
        else:
            row.next_attempt_at = at + RETRY_DELAYS[row.attempts - 1]
    session.flush()
    return row


def _told(session: Session, row: Notification, at: datetime) -> None:
    """A real-name submitter's SMS went out: that is telling them the result (A 37), recorded on the item."""
    from dibao.models import Objection, Report

    model = {"objection": Objection, "report": Report}.get(row.object_type)
    if model is None:
        return
    item = session.scalar(select(model).where(model.tracking_code == row.object_id))
    if item is None or item.notified_at is not None:
        return
    item.notified_at = at
    with force_locale("zh_CN"):
        line = f"【{clock.to_local(at):%Y-%m-%d %H:%M} {audit.SYSTEM_ACTOR}】" + _("已短信告知反映人核查结果。")
    item.check_notes = f"{item.check_notes}\n\n{line}" if item.check_notes else line
    audit.record(session, None, f"{item.kind}_submitter_notified", item.kind, item.tracking_code,
                 region_id=item.region_id, details={"how": "sms", "notification": row.id})


@dataclass
class DeliveryRun:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def run(make_session: Callable[[], Session], settings: Settings, at: datetime | None = None) -> DeliveryRun:
    """Send every due message: claim (commit), send outside any transaction, record (commit)."""
    at = at or clock.now()
    result = DeliveryRun()
    with make_session() as reader:
        ids = due_ids(reader, at, settings)
    for notification_id in ids:
        with make_session() as session:
            row = claim(session, notification_id, at)
            session.commit()
        if row is None:
            continue
        try:
            SENDERS[row.channel](row, settings)
            error = None
        except DeliveryError as err:
            error = delivery_error(row, str(err))
            log.warning("notification %s (%s) failed: %s", row.id, row.channel.value, error)
        with make_session() as session:
            row = record_result(session, notification_id, error, at)
            session.commit()
        if row.status == DeliveryStatus.sent:
            result.sent += 1
        elif row.status == DeliveryStatus.failed:
            result.failed += 1
        else:
            result.retried += 1
    return result


def run_for_app(app) -> DeliveryRun:
    """One delivery pass for an app (the sweep thread and the CLI call this)."""
    return run(app.extensions["dibao.write_sessions"], Settings.from_config(app.config))


# --- CLI ------------------------------------------------------------------------------------------------------

@click.group("notify", help="Notifications (SMS and e-mail) and their delivery log.")
def notify_group() -> None:
    pass


@notify_group.command("send")
@with_appcontext
def send_command() -> None:
    """Send every due notification now (safe beside the app's own sweep and other workers)."""
    from flask import current_app

    result = run_for_app(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"notifications: {result.sent} sent, {result.retried} to retry, {result.failed} failed")
