"""Erasing personal information whose purpose has ended (PIPL Art. 47: 删除 when the purpose is achieved).

Two kinds of record carry personal information that serves a purpose with an end:

* objections and reports (异议、举报): the submitter's name and phone exist to tell a real-name submitter the
  result (A 37), the evidence photos to check the claim, and an objection's ``client_key`` (a keyed hash of the
  submitting client's address) to cap how many cases one client holds while its objections are open
  (dibao.feedback.check_hold, which looks only at open objections of the last day). Once the item is decided
  and the retention period has passed since the submitter was told (``notified_at``) — or, when there is no
  notification, since the decision (``decided_at``): an anonymous submitter cannot be told, and a real-name one
  whose phone is no mobile or whose SMS failed for good may never be, which must not keep the contact forever —
  the name, the phone, the photos and the client key go. The description, the staff's check notes and the
  public answer stay: they are the case's archive. The tracking code keeps working and says the contact was
  removed.
* online applications (网上申请) that never became a case (``returned``): the applicant's ID number (and its
  keyed hash), phone, e-mail and address, the proxy's name and phone, the members' names and ID numbers and the
  document photos go, and the applicant's name is masked as the open web shows names (张*明: the staff's list
  stays readable, the person is not named). Region, status, dates, the members' relations and ages and the
  reason stay, for statistics. An accepted application is the case's archive and is left alone.

The phone or e-mail a notification was sent to goes with them, and so does its delivery error (written before
dibao.notify kept the address out of it, a mail server's refusal quoted the address): ``last_error`` is replaced
by a note saying the recipient was erased. A message still waiting is not sent any more (``failed``, with that
note). The delivery log keeps what was sent, when, and whether it went. An item erased before these columns were
covered is due again, once, until its notifications and client key are clean (``Due.again``).

The period is ``DIBAO_RETENTION_DAYS`` (``RETENTION_DAYS``, default 185: see dibao.config). Each erased item is
its own short transaction, claimed by a conditional UPDATE (``erased_at IS NULL``), and writes one audit event
(``personal_data_erased``: the item's kind and code, how many photos and notifications, the period — never the
values), so a run beside another (the app's sweep, cron, ``dibao retention run``) erases each item once and a
second run finds nothing. The files are deleted after the commit, and only when no other row names them (media keys are content
hashes: the same photo may belong to two items); a file left behind by a failure is unreferenced and goes with
the next ``dibao media gc``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import and_, case, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from dibao import audit, clock, disclosure, media
from dibao.models import Objection, Report
from dibao.models.application import Application, ApplicationDocument, ApplicationMember, ApplicationStatus
from dibao.models.feedback import Evidence, FeedbackStatus
from dibao.models.notification import DeliveryStatus, Notification

log = logging.getLogger("dibao.retention")

ACTION = "personal_data_erased"
FEEDBACK_MODELS: dict[str, type[Objection] | type[Report]] = {"objection": Objection, "report": Report}
# What an erased notification's ``last_error`` says (stored text, like dibao.notify's delivery errors).
ERASED_NOTE = "收件号码或邮箱已按《个人信息保护法》第四十七条删除"


@dataclass(frozen=True)
class Due:
    """An item whose personal information is due for erasure: what the CLI lists and the run erases."""

    kind: str  # objection | report | application
    id: int
    code: str  # the tracking code
    region_id: int
    since: datetime  # when its purpose ended (told, decided or returned: ``basis``)
    basis: str = ""  # told | decided (anonymous) | not_told (real name, never told: from the decision) | returned
    again: bool = False  # erased before; only its notifications' recipients and errors or its client key are left


@dataclass
class RetentionResult:
    due: list[Due] = field(default_factory=list)
    erased: list[Due] = field(default_factory=list)  # empty on a dry run
    files_deleted: list[str] = field(default_factory=list)


def cutoff(at: datetime, days: int) -> datetime:
    return at - timedelta(days=days)


def _uncleaned_notifications(kind: str, code):
    """Whether a notification of the item still holds its recipient, a delivery error or a chance to be sent."""
    return exists().where(Notification.object_type == kind, Notification.object_id == code,
                          or_(Notification.recipient != "", Notification.status == DeliveryStatus.pending,
                              and_(Notification.last_error.is_not(None), Notification.last_error != ERASED_NOTE)))


def due(session: Session, at: datetime, days: int) -> list[Due]:
    """Everything whose purpose ended at least ``days`` before ``at`` and that still holds something to erase.

    An objection or report ends with the notification of its submitter (``notified_at``) or, when there is none
    (anonymous, no mobile, or the SMS failed for good), with its decision (``decided_at``)."""
    before = cutoff(at, days)
    found: list[Due] = []
    for kind, model in FEEDBACK_MODELS.items():
        parent = Evidence.objection_id if kind == "objection" else Evidence.report_id
        holds = [model.submitter_name.is_not(None), model.submitter_phone.is_not(None),
                 exists().where(parent == model.id), _uncleaned_notifications(kind, model.tracking_code)]
        if model is Objection:
            holds.append(Objection.client_key.is_not(None))
        rows = session.execute(
            select(model.id, model.tracking_code, model.region_id, model.real_name, model.notified_at,
                   model.decided_at, model.erased_at)
            .where(model.status == FeedbackStatus.decided,
                   func.coalesce(model.notified_at, model.decided_at) <= before, or_(*holds))
            .order_by(model.id))
        for item_id, code, region_id, real_name, notified_at, decided_at, erased_at in rows:
            basis = "told" if notified_at else "not_told" if real_name else "decided"
            found.append(Due(kind, item_id, code, region_id, notified_at or decided_at, basis,
                             again=erased_at is not None))
    rows = session.execute(
        select(Application.id, Application.tracking_code, Application.region_id, Application.handled_at,
               Application.erased_at)
        .where(Application.status == ApplicationStatus.returned, Application.case_id.is_(None),
               Application.handled_at <= before,
               or_(Application.erased_at.is_(None), _uncleaned_notifications("application", Application.tracking_code)))
        .order_by(Application.id))
    found += [Due("application", item_id, code, region_id, handled_at, "returned", again=erased_at is not None)
              for item_id, code, region_id, handled_at, erased_at in rows]
    return found


def erase(session: Session, item: Due, at: datetime, days: int) -> list[str] | None:
    """Erase one item in the caller's transaction; its media keys (to delete once committed), or None when
    another run erased it first."""
    if item.again:
        return _erase_leftovers(session, item, days)
    if item.kind == "application":
        name = session.scalar(select(Application.head_name).where(Application.id == item.id)) or ""
        claimed = session.execute(
            update(Application)
            .where(Application.id == item.id, Application.erased_at.is_(None),
                   Application.status == ApplicationStatus.returned, Application.case_id.is_(None))
            .values(erased_at=at, head_id_number=None, head_id_hash=None, head_phone=None, email=None,
                    proxy_phone=None, head_name=disclosure.mask_name(name), address="", proxy_name=None)
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            return None
        session.execute(update(ApplicationMember).where(ApplicationMember.application_id == item.id)
                        .values(id_number=None, name="").execution_options(synchronize_session=False))
        keys = list(session.scalars(select(ApplicationDocument.media_key)
                                    .where(ApplicationDocument.application_id == item.id)))
        session.execute(delete(ApplicationDocument).where(ApplicationDocument.application_id == item.id)
                        .execution_options(synchronize_session=False))
    else:
        model = FEEDBACK_MODELS[item.kind]
        claimed = session.execute(
            update(model)
            .where(model.id == item.id, model.erased_at.is_(None), model.status == FeedbackStatus.decided)
            .values(erased_at=at, submitter_name=None, submitter_phone=None,
                    **({"client_key": None} if model is Objection else {}))
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            return None
        parent = Evidence.objection_id if item.kind == "objection" else Evidence.report_id
        keys = list(session.scalars(select(Evidence.media_key).where(parent == item.id)))
        session.execute(delete(Evidence).where(parent == item.id).execution_options(synchronize_session=False))
    notifications = _erase_notifications(session, item)
    audit.record(session, None, ACTION, item.kind, item.code, region_id=item.region_id,
                 details={"photos": len(keys), "notifications": notifications, "retention_days": days})
    return keys


def _erase_notifications(session: Session, item: Due) -> int:
    """Where its notifications went and why they failed (an old error may quote the address); one still waiting
    is not sent. The log keeps what was sent, when, and whether it went. How many rows changed."""
    of_item = (Notification.object_type == item.kind, Notification.object_id == item.code)
    waiting = session.execute(
        update(Notification).where(*of_item, Notification.status == DeliveryStatus.pending)
        .values(recipient="", status=DeliveryStatus.failed, next_attempt_at=None, last_error=ERASED_NOTE)
        .execution_options(synchronize_session=False)).rowcount
    done = session.execute(
        update(Notification)
        .where(*of_item, or_(Notification.recipient != "",
                             and_(Notification.last_error.is_not(None), Notification.last_error != ERASED_NOTE)))
        .values(recipient="", last_error=case((Notification.last_error.is_(None), None), else_=ERASED_NOTE))
        .execution_options(synchronize_session=False)).rowcount
    return waiting + done


def _erase_leftovers(session: Session, item: Due, days: int) -> list[str] | None:
    """An item erased before its notifications' errors and its client key were covered: clean those (None when
    nothing was left, e.g. another run did it first)."""
    if item.kind == "objection":
        keys_cleared = session.execute(
            update(Objection).where(Objection.id == item.id, Objection.erased_at.is_not(None),
                                    Objection.client_key.is_not(None))
            .values(client_key=None).execution_options(synchronize_session=False)).rowcount
    else:
        keys_cleared = 0
    notifications = _erase_notifications(session, item)
    if not keys_cleared and not notifications:
        return None
    audit.record(session, None, ACTION, item.kind, item.code, region_id=item.region_id,
                 details={"photos": 0, "notifications": notifications, "client_key": bool(keys_cleared),
                          "retention_days": days, "completing_an_earlier_erasure": True})
    return []


def delete_files(media_dir: str, keys: set[str]) -> list[str]:
    """Delete the stored files of ``keys`` (originals and renditions); their paths relative to ``media_dir``."""
    deleted = []
    for key in sorted(keys):
        try:
            paths = [media.media_path(media_dir, key)]
        except media.MediaError:  # not a key this module wrote: nothing of ours to delete
            continue
        if key.endswith(".jpg"):
            paths += [media.media_path(media_dir, key, rendition) for rendition in media.RENDITIONS]
        for path in paths:
            if path.is_file():
                path.unlink(missing_ok=True)
                deleted.append(path.relative_to(Path(media_dir)).as_posix())
    return deleted


def run(app: Flask, at: datetime | None = None, *, dry_run: bool = False, days: int | None = None) -> RetentionResult:
    """One pass: find what is due and (unless ``dry_run``) erase each item in its own transaction."""
    at = at or clock.now()
    days = app.config["RETENTION_DAYS"] if days is None else days
    result = RetentionResult()
    with app.extensions["dibao.sessions"]() as reader:
        result.due = due(reader, at, days)
    if dry_run:
        return result
    make_session = app.extensions["dibao.write_sessions"]
    keys: set[str] = set()
    for item in result.due:
        with make_session() as session:
            erased_keys = erase(session, item, at, days)
            session.commit()
        if erased_keys is not None:
            result.erased.append(item)
            keys.update(erased_keys)
    if keys:
        with app.extensions["dibao.sessions"]() as reader:
            gone = keys - media.referenced_keys(reader, among=keys)
        result.files_deleted = delete_files(app.config["MEDIA_DIR"], gone)
    if result.erased:
        log.info("retention: personal information of %d items erased, %d files deleted",
                 len(result.erased), len(result.files_deleted))
    return result


# --- CLI ----------------------------------------------------------------------------------------------------

KIND_NAMES = {"objection": "异议", "report": "举报", "application": "网上申请"}
BASIS_NAMES = {"told": "告知", "decided": "办结（匿名）", "not_told": "办结（实名，未告知）", "returned": "退回"}
LEFTOVERS_NOTE = "已删除，补删通知记录与来源标识"


@click.group("retention", help="Personal information whose purpose has ended (PIPL Art. 47).")
def retention_group() -> None:
    pass


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="only list what is due; change nothing")
@with_appcontext
def run_command(dry_run: bool) -> None:
    """Erase the contact, ID numbers and photos of closed objections, reports and returned applications whose
    retention period (DIBAO_RETENTION_DAYS) has passed; one audit event per item (idempotent)."""
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    result = run(app, dry_run=dry_run)
    for item in result.due:
        what = LEFTOVERS_NOTE if item.again else BASIS_NAMES[item.basis]
        click.echo(f"{KIND_NAMES[item.kind]} {item.code} (#{item.id}) {clock.to_local(item.since):%Y-%m-%d} {what}")
    days = app.config["RETENTION_DAYS"]
    listed = result.due if dry_run else result.erased
    again = sum(1 for item in listed if item.again)
    tail = f"; {again} erased earlier: notification log and client key cleaned" if again else ""
    if dry_run:
        click.echo(f"retention (dry run): {len(listed) - again} items older than {days} days would be erased{tail}")
    else:
        click.echo(f"retention: {len(listed) - again} items erased, {len(result.files_deleted)} files deleted "
                   f"(retention period {days} days){tail}")
