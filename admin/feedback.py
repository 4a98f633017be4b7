"""Staff inbox for objections and reports: list (with deadlines and overdue marks), detail, assign, record
the check, decide with a public answer, record that a real-name submitter was told. All in the user's region."""

from __future__ import annotations

from collections import Counter

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin.forms import ConfirmForm
from admin.forms.feedback import DecideTogetherForm, HandleForm, NotifyForm
from dibao import cases, clock, db, feedback, media
from dibao.errors import NotFound
from dibao.models import FeedbackStatus, Outcome, Stage
from dibao.models.feedback import Evidence
from dibao.web import attach_message, int_arg, no_store, perform, render, submit
from dibao.workflow import REVIEWER_LABELS, STAGE_LABELS

STATES = {
    "open": _l("待办"),
    "overdue": _l("已超期"),
    "notify": _l("待告知实名反映人"),
    "decided": _l("已办结"),
    "all": _l("全部"),
}


def _labels() -> dict:
    return {"category": feedback.CATEGORY_LABELS, "status": feedback.STATUS_LABELS,
            "outcome": feedback.OUTCOME_LABELS, "report_outcome": feedback.REPORT_OUTCOME_LABELS,
            "subject": feedback.SUBJECT_LABELS, "kind": feedback.KIND_LABELS, "stage": STAGE_LABELS,
            "level": REVIEWER_LABELS}


@bp.get("/feedback/")
@login_required
def feedback_inbox():
    state = request.args.get("state", "open")
    if state not in STATES:
        state = "open"
    kind = request.args.get("kind") or None
    if kind not in (None, "objection", "report"):
        kind = None
    sess = db.session()
    search = {"q": request.args.get("q", "").strip()[:50], "category": request.args.get("category") or None,
              "community_id": int_arg("community")}  # issue 10 item 11: search and filters
    items = feedback.inbox(sess, current_user, kind=kind, state=state, **search)
    open_per_entry = Counter(i.entry_id for i in items if i.kind == "objection" and i.status != FeedbackStatus.decided)
    return render("admin/feedback/inbox.html", items=items, state=state, kind=kind, states=STATES, search=search,
                  communities=cases.communities_in_scope(sess, current_user),
                  open_per_entry=open_per_entry,
                  counts=feedback.counts(sess, current_user), today=clock.today(), labels=_labels(),
                  is_overdue=feedback.is_overdue, must_notify=feedback.must_notify,
                  deadline_estimated=lambda item: feedback.deadline_estimated(sess, item))


def _detail(item, *, status: int = 200, decide_form=None, notify_form=None,
            contact: tuple[str, str] | None = None):
    sess = db.session()
    people = feedback.assignees(sess, current_user, item)
    choices = [SelectChoice(0, _("（未指定）"))] + [
        SelectChoice(u.id, f"{u.display_name}（{u.region.name}）") for u in people]
    decide_form = decide_form or HandleForm(formdata=None)
    decide_form.assignee.choices = choices
    if decide_form.assignee.data is None:
        decide_form.assignee.data = item.assigned_to_id or 0
    can_decide = feedback.can_decide(current_user, item)
    outcome_labels = feedback.OUTCOME_LABELS if item.kind == "objection" else feedback.REPORT_OUTCOME_LABELS
    decide_form.outcome.choices = [SelectChoice(feedback.CONTINUE_CHECKING, _("继续核查（只记录核查情况和承办人，暂不办结）"))]
    if can_decide:
        decide_form.outcome.choices += [SelectChoice(o.value, outcome_labels[o]) for o in Outcome]
    if not decide_form.outcome.data:
        decide_form.outcome.data = feedback.CONTINUE_CHECKING
    others = [o for o in feedback.inbox(sess, current_user, kind="objection")
              if item.kind == "objection" and o.entry_id == item.entry_id and o.id != item.id]
    decide_form.together.choices = [SelectChoice(o.id, o.tracking_code) for o in others]
    return render("admin/feedback/detail.html", item=item, status=status, others=others, decide_form=decide_form,
                  notify_form=notify_form or NotifyForm(), labels=_labels(), today=clock.today(),
                  overdue=feedback.is_overdue(item), must_notify=feedback.must_notify(item),
                  deadline_estimated=feedback.deadline_estimated(sess, item),
                  can_decide=can_decide, contact=contact, confirm=ConfirmForm(), min_check_notes=feedback.MIN_CHECK_NOTES,
                  decided=item.status == FeedbackStatus.decided)


@bp.get("/feedback/<kind>/<int:item_id>")
@login_required
def feedback_detail(kind: str, item_id: int):
    item = feedback.get_item(db.session(), current_user, kind, item_id)
    return _detail(item)


def _act(kind: str, item_id: int, form_cls, form_arg: str, action, success):
    """Run one staff action through its form; on a refusal show the detail page again with the message."""
    item = feedback.get_item(db.session(), current_user, kind, item_id)
    form = form_cls()
    done = submit(form, lambda sess: action(sess, item, form))
    if not done.ok:
        item = feedback.get_item(db.session(), current_user, kind, item_id)
        return _detail(item, status=done.status, **{form_arg: form})
    flash(success if not callable(success) else success(done.value), "success")
    return redirect(url_for("admin.feedback_detail", kind=kind, item_id=item_id), code=303)


def _decided_message(moved: str | None) -> str:
    if moved is None:
        return _("已办结，答复已公开。")
    return _("已办结，答复已公开。案件已转入“%(stage)s”。", stage=STAGE_LABELS[Stage(moved)])


@bp.post("/feedback/<kind>/<int:item_id>/decide")
@login_required
def feedback_decide(kind: str, item_id: int):
    """The one decision form: assignee, check notes, outcome (or keep checking), public answer, duplicates."""
    item = feedback.get_item(db.session(), current_user, kind, item_id)
    form = HandleForm()
    assignee = form.assignee.data if "assignee" in request.form else None

    def run(sess):
        handling = feedback.Handling(outcome=form.outcome.data or "", public_answer=form.public_answer.data or "",
                                     notes=form.notes.data or "", assignee_id=assignee,
                                     together=form.together.data or ())
        try:
            return feedback.handle(sess, current_user, item, handling)
        except feedback.HandlingInvalid as err:
            for name, message in list(err.errors.items())[1:]:
                attach_message(form, name, message)
            raise

    done = submit(form, run)
    if not done.ok:
        item = feedback.get_item(db.session(), current_user, kind, item_id)
        return _detail(item, status=done.status, decide_form=form)
    decided, moved = done.value
    if not decided:
        flash(_("核查情况已记录。"), "success")
    elif len(decided) > 1:
        flash(_("已一并办结 %(n)d 件异议，答复已公开。", n=len(decided)) + (
            "" if moved is None else _("案件已转入“%(stage)s”。", stage=STAGE_LABELS[Stage(moved)])), "success")
    else:
        flash(_decided_message(moved), "success")
    return redirect(url_for("admin.feedback_detail", kind=kind, item_id=item_id), code=303)


@bp.post("/feedback/<kind>/<int:item_id>/notified")
@login_required
def feedback_notified(kind: str, item_id: int):
    return _act(kind, item_id, NotifyForm, "notify_form",
                lambda s, item, f: feedback.mark_notified(s, current_user, item, f.how.data or ""),
                _("已记录告知情况。"))


@bp.route("/feedback/entries/<int:entry_id>/decide", methods=["GET", "POST"])
@login_required
def feedback_decide_together(entry_id: int):
    """Close duplicate objections against one entry with one decision (each one decided and audited)."""
    sess = db.session()
    items = feedback.open_objections_on(sess, current_user, entry_id)
    form = DecideTogetherForm()
    form.outcome.choices = [SelectChoice(o.value, feedback.OUTCOME_LABELS[o]) for o in Outcome]
    if request.method == "GET":
        form.objection_ids.data = [item.id for item in items]
    done = submit(form, lambda sess: feedback.decide_together(
        sess, current_user, entry_id, form.objection_ids.data or [], form.outcome.data or "",
        form.public_answer.data or "", form.notes.data or ""))
    if done.ok:
        decided, moved = done.value
        flash(_("已一并办结 %(n)d 件异议，答复已公开。", n=len(decided)) + (
            "" if moved is None else _("案件已转入“%(stage)s”。", stage=STAGE_LABELS[Stage(moved)])), "success")
        return redirect(url_for("admin.feedback_inbox", kind="objection"), code=303)
    items = feedback.open_objections_on(db.session(), current_user, entry_id)
    return render("admin/feedback/together.html", items=items, entry=items[0].entry, form=form, status=done.status,
                  labels=_labels(), can_decide=feedback.can_decide(current_user, items[0]),
                  min_check_notes=feedback.MIN_CHECK_NOTES)


@bp.post("/feedback/report/<int:item_id>/contact")
@login_required
def feedback_contact(item_id: int):
    """A real-name reporter's name and phone, shown to the deciding level only; each look is audited."""
    item = feedback.get_item(db.session(), current_user, "report", item_id)
    done = perform(lambda sess: feedback.reporter_contact(sess, current_user, item))
    return _detail(item, contact=done.value)


@bp.get("/feedback/evidence/<int:evidence_id>")
@bp.get("/feedback/evidence/<int:evidence_id>/<rendition>")
@login_required
def feedback_evidence(evidence_id: int, rendition: str | None = None):
    """An evidence photo, for staff who can see its objection or report (never public)."""
    sess = db.session()
    evidence = db.get_record(sess, Evidence, evidence_id)
    if evidence is None:
        raise NotFound(_l("没有找到这张照片。"))
    kind, parent_id = ("objection", evidence.objection_id) if evidence.objection_id else ("report", evidence.report_id)
    feedback.get_item(sess, current_user, kind, parent_id)  # 404 outside the user's scope
    if rendition not in (None, "thumb", "display"):
        abort(404)
    path = media.media_path(current_app.config["MEDIA_DIR"], evidence.media_key, rendition)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    return no_store(response)
