"""网上申请 in the staff backend: the inbox (with working-day deadlines), an application, accept (it becomes an
``applied`` case), return with 一次性告知, the document photos; and the delivery log of notifications with
"send again". Every view asks dibao.applications / dibao.notify; scope and roles are decided there."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin.forms import ConfirmForm
from admin.forms.applications import ReturnForm
from dibao import applications, clock, db, identity, media, notify
from dibao.web import no_store, perform, render, submit


@bp.context_processor
def _helpers():
    # The delivery log of any item (templates/admin/notifications/_log.html), its labels, and the recipient's
    # mobile masked (it is the submitter's, kept for sending only).
    return {"mask_phone": identity.mask_phone, "channel_labels": notify.CHANNEL_LABELS,
            "delivery_labels": notify.STATUS_LABELS,
            "delivery_log": lambda object_type, object_id: notify.log_for(db.session(), object_type, object_id)}


STATES = {"open": _l("待受理"), "overdue": _l("已超期"), "returned": _l("已退回"), "accepted": _l("已受理"),
          "all": _l("全部")}


@bp.get("/applications/")
@login_required
def applications_inbox():
    state = request.args.get("state", "open")
    if state not in STATES:
        state = "open"
    sess = db.session()
    items = applications.inbox(sess, current_user, state=state)
    return render("admin/applications/inbox.html", items=items, marks=applications.marks(sess, items),
                  state=state, states=STATES, counts=applications.counts(sess, current_user), today=clock.today(),
                  labels=applications.STATUS_LABELS, is_overdue=applications.is_overdue)


def _return_form(form: ReturnForm | None = None) -> ReturnForm:
    form = form or ReturnForm()
    form.items.choices = [SelectChoice(str(label), label) for label in applications.COMMON_MISSING]
    return form


def _detail(application, *, status: int = 200, return_form: ReturnForm | None = None,
            accept_form: ConfirmForm | None = None):
    sess = db.session()
    return render("admin/applications/detail.html", application=application, status=status,
                  return_form=_return_form(return_form), accept_form=accept_form or ConfirmForm(),
                  confirm=ConfirmForm(), today=clock.today(), labels=applications.STATUS_LABELS,
                  document_labels=applications.DOCUMENT_LABELS, overdue=applications.is_overdue(application),
                  may_handle=applications.may_handle(current_user, application),
                  duplicates=applications.duplicates(sess, current_user, application),
                  deliveries=notify.log_for(sess, "application", application.tracking_code))


@bp.get("/applications/<int:application_id>")
@login_required
def application_detail(application_id: int):
    return _detail(applications.get(db.session(), current_user, application_id))


@bp.post("/applications/<int:application_id>/accept")
@login_required
def application_accept(application_id: int):
    application = applications.get(db.session(), current_user, application_id)
    form = ConfirmForm()
    done = submit(form, lambda sess: applications.accept(sess, current_user, application,
                                                         media_dir=current_app.config["MEDIA_DIR"]))
    if not done.ok:
        application = applications.get(db.session(), current_user, application_id)
        return _detail(application, status=done.status or 400, accept_form=form)
    flash(_("已受理，案件 %(number)s 已登记，办理时限从今天起算。", number=done.value.number), "success")
    return redirect(url_for("admin.case_detail", case_id=done.value.id), code=303)


@bp.post("/applications/<int:application_id>/return")
@login_required
def application_return(application_id: int):
    application = applications.get(db.session(), current_user, application_id)
    form = _return_form()
    done = submit(form, lambda sess: applications.return_application(
        sess, current_user, application, items=[*(form.items.data or []), form.other.data or ""],
        note=form.note.data or ""))
    if not done.ok:
        application = applications.get(db.session(), current_user, application_id)
        return _detail(application, status=done.status or 400, return_form=form)
    flash(_("已退回，并一次性告知了需要补齐的材料。申请人会收到短信，凭查询码可以看到清单。"), "success")
    return redirect(url_for("admin.application_detail", application_id=application_id), code=303)


@bp.get("/applications/documents/<int:document_id>")
@bp.get("/applications/documents/<int:document_id>/<rendition>")
@login_required
def application_document(document_id: int, rendition: str | None = None):
    """A document photo, for staff who can see its application (never public)."""
    doc = applications.document(db.session(), current_user, document_id)
    if rendition not in (None, "thumb", "display"):
        abort(404)
    path = media.media_path(current_app.config["MEDIA_DIR"], doc.media_key, rendition)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    return no_store(response)


# --- notifications: the delivery log's "send again" and the failures list -----------------------------------

@bp.get("/notifications/failed")
@login_required
def notification_failures():
    return render("admin/notifications/failed.html", deliveries=notify.failures(db.session(), current_user),
                  show_item=True)


@bp.get("/notifications/<int:notification_id>/item")
@login_required
def notification_item(notification_id: int):
    """From a message in the failures list to the page of what it is about."""
    sess = db.session()
    target = notify.item_of(sess, notify.get(sess, current_user, notification_id))
    if target is None:
        abort(404)
    kind, ident = target
    if kind == "application":
        return redirect(url_for("admin.application_detail", application_id=ident))
    if kind == "kiosk":
        return redirect(url_for("admin.kiosk_detail", kiosk_id=ident))
    return redirect(url_for("admin.feedback_detail", kind=kind, item_id=ident))


@bp.post("/notifications/<int:notification_id>/retry")
@login_required
def notification_retry(notification_id: int):
    row = notify.get(db.session(), current_user, notification_id)
    perform(lambda sess: notify.retry(sess, current_user, row))
    flash(_("已安排重新发送，一分钟内发出。"), "success")
    target = request.form.get("next") or ""
    if not target.startswith("/admin/") or target.startswith("//"):
        target = url_for("admin.notification_failures")
    return redirect(target, code=303)
