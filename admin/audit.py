"""The audit viewer (/admin/audit/) for the county: search the log by who, household, action and when, with the
hash chain's status (the same check as ``dibao audit verify``) loaded beside it."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin.forms.audit import AuditSearchForm
from dibao import audit, audit_log, db
from dibao.web import int_arg, render


@bp.get("/audit/")
@login_required
def audit_viewer():
    sess = db.session()
    audit_log.require_view(current_user)
    form = AuditSearchForm(request.args)
    form.action.choices = [SelectChoice("", _("全部操作"))] + [
        SelectChoice(a, audit_log.action_label(a)) for a in audit_log.actions(sess, current_user)]
    results = None  # a search with a mistake lists nothing: the whole log would look like its answer
    if form.validate():
        query = audit_log.Search(who=form.who.data or "", household=form.household.data or "",
                                 action=form.action.data or "", since=form.since.data, until=form.until.data)
        results = audit_log.search(sess, current_user, query, page=int_arg("page") or 1)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render("admin/audit/index.html", fragment="admin/audit/_results.html", form=form, results=results,
                  label=audit_log.action_label, shown=audit_log.readable(sess, results.events) if results else {},
                  args=args, status=200 if results else 400)


@bp.get("/audit/chain")
@login_required
def audit_chain():
    """The chain check, loaded by the page after it is shown (it reads every event)."""
    audit_log.require_view(current_user)
    # The same check as `dibao audit verify`: the hashes, the audit key and the checkpoints kept outside.
    checkpoints, unreadable = audit.read_checkpoints(current_app.config["AUDIT_CHECKPOINTS"])
    return render("admin/audit/_chain.html", report=audit.verify(db.session(), checkpoints=checkpoints),
                  unreadable=unreadable)
