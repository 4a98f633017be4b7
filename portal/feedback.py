"""Public objection and report forms, the receipt, tracking by code, and the short QR links (/q/<code>).

No login. Each form works without JavaScript (a plain multipart POST, POST-redirect-GET to the receipt) and
validates inline with htmx (each field posts the form to ``…/validate`` on change and gets its own fragment
back). On any failure the form comes back with what the resident typed (except the phone number, which is typed
again: portal.forms.forget_numbers) and a clear message.
"""

from __future__ import annotations

import secrets

from flask import abort, current_app, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from dibao import db, disclosure, feedback, notices, qr
from dibao.errors import DomainError, Gone, Invalid, NotFound
from dibao.extensions import limiter
from dibao.models import ReportSubject
from dibao.web import attach_message, client_key, error_page, is_htmx, no_store, perform, render
from portal import bp, receipts
from portal.forms import FeedbackForm, ObjectionForm, ReportForm, forget_numbers
from portal.private import private_page


def _new_form(cls):
    form = cls()
    if not form.submission_id.data:
        form.submission_id.data = secrets.token_urlsafe(18)
    return form


def _submission(form: FeedbackForm, photos: list[bytes]) -> feedback.Submission:
    return feedback.Submission(category=form.category.data or "", description=form.description.data or "",
                               name=form.name.data or "", phone=form.phone.data or "", photos=photos,
                               idempotency_key=form.submission_id.data)


def _read_photos() -> tuple[list[bytes], str | None, int]:
    """The chosen files (empty file inputs are skipped), or an error message for the photo field and the
    status it answers with (413 for a photo that is too large)."""
    files = [f for f in request.files.getlist("photos") if f and f.filename]
    if len(files) > feedback.MAX_PHOTOS:
        return [], _("最多上传 %(n)d 张照片。", n=feedback.MAX_PHOTOS), 400
    photos = []
    for index, file in enumerate(files, start=1):
        data = file.read(feedback.MAX_PHOTO_BYTES + 1)
        if len(data) > feedback.MAX_PHOTO_BYTES:
            return [], _("第 %(n)d 张照片太大，请选择 %(mb)d MB 以内的照片。", n=index,
                         mb=feedback.MAX_PHOTO_BYTES // (1024 * 1024)), 413
        photos.append(data)
    return photos, None, 400


def _attach(form: FlaskForm, errors: dict[str, str]) -> None:
    """Each message beside its field; a field the form's own check already flagged keeps that one message."""
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None and getattr(field, "errors", None):
            continue
        attach_message(form, name, message)


def _files_were_chosen() -> bool:
    return any(f and f.filename for f in request.files.getlist("photos"))


def _honeypot_tripped(form: FeedbackForm) -> bool:
    return bool((form.website.data or "").strip())


def _store_receipt(item) -> None:
    receipts.remember(receipts.FEEDBACK, item.tracking_code)


def _rate_limit() -> str:
    return current_app.config.get("FEEDBACK_RATE_LIMIT") or "10 per minute;60 per hour"


def _limit_exempt() -> bool:
    # Re-showing the report form for another community is not a submission.
    return request.form.get("action") == "refresh"


def _breach(_limit):
    """Over the limit: the same form, with what was typed and a plain message (429), instead of a bare error page."""
    message = _("提交太频繁了，请稍等几分钟再提交。您填写的内容还在下面（照片需要重新选择）。")
    if request.endpoint == "portal.objection_new":
        form = ObjectionForm()
        form.form_errors.append(message)
        return make_response(_objection_page(form, request.args.get("entry") or form.entry.data, status=429))
    form = ReportForm()
    form.form_errors.append(message)
    return make_response(_report_page(form, status=429))


def _forget_phone(form: FeedbackForm) -> None:
    """A form that comes back (a problem, the limit, another community chosen) never carries the phone number
    typed into it: the field is empty, with a note beside it to type it again (portal.forms.forget_numbers)."""
    if request.method == "POST":
        forget_numbers([form.phone])


def reading() -> bool:
    """A request that only reads the form: GET, or HEAD (a link checker, a phone's preview of a scanned link),
    which must be answered as its GET is — never taken for a submission and refused with a 400."""
    return request.method in ("GET", "HEAD")


@bp.errorhandler(429)
def _too_many(err):
    response = getattr(err, "response", None)
    if response is not None:
        return response
    return error_page(429, _("请稍后再试"), _("操作太频繁，请稍等一会儿再试。"))


# --- objections --------------------------------------------------------------------------------------

def _entry_view(sess, entry) -> dict:
    """What the forms show of an entry: only an open one gets here (notices.public_entry is the gate)."""
    policy = disclosure.load_policy(sess, entry.region)
    return {"entry": entry, "shown": disclosure.present(entry, disclosure.Channel.web, policy),
            "state": notices.entry_status(entry),
            "level_label": _level_label(entry.batch.level)}


def _level_label(level):
    from dibao.workflow import REVIEWER_LABELS

    return REVIEWER_LABELS[level]


def _objection_page(form: ObjectionForm, public_id: str | None, status: int = 200, photos_lost: bool = False):
    sess = db.session()
    entry = notices.public_entry(sess, public_id)
    g.noindex = True
    _forget_phone(form)
    ctx = _entry_view(sess, entry)
    form.entry.data = entry.public_id
    return render("portal/feedback/objection_form.html", form=form, status=status, photos_lost=photos_lost,
                  noindex=True, max_photos=feedback.MAX_PHOTOS,
                  max_mb=feedback.MAX_PHOTO_BYTES // (1024 * 1024), **ctx)


@bp.route("/objections/new", methods=["GET", "POST"])
@limiter.limit(_rate_limit, methods=["POST"], on_breach=_breach)
@private_page
def objection_new():
    public_id = request.args.get("entry") or request.form.get("entry")
    if reading() and not (public_id or "").strip():
        return _choose_entry()
    if reading():
        # A typed number: spaces, dashes, capitals and full-width letters are forgiven; one that names nothing
        # comes back in the same box with the reason beside it, not on a dead-end page.
        normal = feedback.normalise_entry_id(public_id)
        if normal != public_id:
            return redirect(url_for("portal.objection_new", entry=normal))
        try:
            notices.public_entry(db.session(), normal)  # closed or withdrawn: 410, nothing of it shown
        except NotFound as err:
            return _choose_entry(typed=public_id, error=str(err.message))
        return _objection_page(_new_form(ObjectionForm), public_id)
    try:
        notices.public_entry(db.session(), public_id)  # a closed or withdrawn entry: 410 before anything else
    except Gone as err:  # it closed while the resident was typing: keep what they wrote
        return _closed_while_typing(err)
    form = ObjectionForm()
    return _accept(
        form, "objection",
        lambda sess, sub: feedback.submit_objection(
            sess, public_id, sub, media_dir=current_app.config["MEDIA_DIR"],
            working_days=current_app.config.get("OBJECTION_WORKING_DAYS", feedback.OBJECTION_WORKING_DAYS),
            client_key=client_key(), hold_cap=current_app.config["OBJECTION_HOLD_CAP"]),
        lambda status: _objection_page(form, public_id, status=status, photos_lost=_files_were_chosen()),
        valid=form.validate_on_submit(),
    )


def _closed_while_typing(err: Gone):
    """The entry closed (or was withdrawn) between opening the form and sending it — an elderly resident may
    take a while to write. No objection can be filed any more, but what they wrote is not thrown away: the
    report form (a report may be made at any time) comes back with their text, category and name (the phone
    number is typed again, as on every form that comes back), and the reason (410). Nothing of the closed entry
    is shown, as on every page past its closing."""
    form = ReportForm()  # the fields both forms share, as posted
    form.entry.data = ""
    form.subject.data = ReportSubject.recipient.value
    form.form_errors.append(str(err.message))
    form.form_errors.append(_("您写的内容还在下面，还没有提交。公示期结束后仍然可以举报：请选择所在社区（村），"
                              "写明被举报人的姓名或住址，再点“提交举报”。"))
    return _report_page(form, status=410, photos_lost=_files_were_chosen(), entry_id="")


def _choose_entry(typed: str = "", error: str | None = None):
    """Without an entry: choose the community and browse what is on notice there (a board's QR code lands on a
    community), or type the number printed beside a household; a number that names nothing is shown again
    with the reason (404)."""
    sess = db.session()
    region = None
    entries = []
    code = request.args.get("region")
    if code:
        region = feedback.find_region(sess, code)
        policy = disclosure.load_policy(sess, region)
        entries = [(e, disclosure.present(e, disclosure.Channel.web, policy))
                   for e in notices.open_entries(sess, region)]
    g.noindex = True
    return render("portal/feedback/choose_entry.html", region=region, entries=entries, noindex=True,
                  towns=feedback.open_by_community(sess), typed=typed, error=error, status=404 if error else 200)


@bp.post("/objections/validate")
@limiter.limit("120 per minute")
def objection_validate():
    return _validate_field(ObjectionForm())


@bp.post("/reports/validate")
@limiter.limit("120 per minute")
def report_validate():
    return _validate_field(ReportForm())


def _validate_field(form: FeedbackForm):
    """htmx: the fragment of the one field that changed, with its message (or none)."""
    name = request.headers.get("HX-Trigger-Name") or request.form.get("_field") or ""
    field = getattr(form, name, None) if name in ("description", "name", "phone", "about") else None
    if field is None:  # (an objection has no "about")
        raise Invalid(_l("无法识别要检查的填写项，请刷新页面后重新填写。"))
    errors = feedback.field_errors(_submission(form, []))
    if name in ("name", "phone"):  # the pair is one rule: show it on the field that is missing
        errors = {k: v for k, v in errors.items() if k in ("name", "phone")}
        if errors and name not in errors:
            errors = {}
    # The form's own limit (as long as the domain's) first: its message is the one a submit would show.
    if field.validate(form):
        _attach(form, {name: errors[name]} if name in errors else {})
    # Nor does a field's check send the phone back: the browser keeps what is in the box (feedback.js).
    forget_numbers([form.phone], note=False)
    endpoint = "portal.objection_validate" if isinstance(form, ObjectionForm) else "portal.report_validate"
    return render("portal/feedback/_field.html", form=form, name=name, validate_url=url_for(endpoint))


# --- reports -----------------------------------------------------------------------------------------

def _report_page(form: ReportForm, status: int = 200, photos_lost: bool = False, entry_id: str | None = None):
    """The report form; ``entry_id`` "" when the entry in the address must not be looked at again (closed)."""
    sess = db.session()
    g.noindex = True
    _forget_phone(form)
    entry = None
    entry_ctx: dict = {}
    public_id = form.entry.data or (request.args.get("entry") if entry_id is None else entry_id)
    if public_id:
        entry = notices.public_entry(sess, public_id)
        entry_ctx = _entry_view(sess, entry)
        form.entry.data = entry.public_id
        form.region.data = entry.region.code
        form.subject.data = ReportSubject.recipient.value
    regions = feedback.report_regions(sess)
    form.region.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(r.code, f"{'　' * (r.path.count('/') - 2)}{r.name}") for r in regions]
    if not form.region.data and request.args.get("region"):
        form.region.data = request.args.get("region")
    region = next((r for r in regions if r.code == form.region.data), None)
    policy = disclosure.load_policy(sess, region)
    roster = feedback.roster_cases(sess, region) if region is not None and entry is None else []
    choices = [SelectChoice("", _("不在名单中，或不清楚"))]
    key = _roster_key()
    for case in roster:
        line = disclosure.present_roster(case, disclosure.Channel.web, policy)
        label = " · ".join(str(x) for x in (line.get("name"), line.get("address"),
                                            _("%(n)d 人", n=line["household_size"]) if "household_size" in line
                                            else None) if x)
        choices.append(SelectChoice(feedback.roster_ref(case, key), label or _("第 %(n)d 户", n=len(choices))))
    form.case.choices = choices
    return render("portal/feedback/report_form.html", form=form, status=status, photos_lost=photos_lost,
                  noindex=True, region=region, max_photos=feedback.MAX_PHOTOS,
                  max_mb=feedback.MAX_PHOTO_BYTES // (1024 * 1024), from_entry=entry is not None, **entry_ctx)


@bp.route("/reports/new", methods=["GET", "POST"])
@limiter.limit(_rate_limit, methods=["POST"], on_breach=_breach, exempt_when=_limit_exempt)
@private_page
def report_new():
    public_id = request.args.get("entry") or request.form.get("entry")
    if public_id:
        try:
            notices.public_entry(db.session(), public_id)  # a closed or withdrawn entry: 410 before anything else
        except Gone as err:
            if reading():
                raise
            return _closed_while_typing(err)  # closed while the resident wrote: the form again, without it
    if reading():
        return _report_page(_new_form(ReportForm))
    form = ReportForm()
    valid = form.validate_on_submit()
    if not valid and request.form.get("action") != "refresh":
        # The form's own limits stopped it: the report's own checks too, so every problem shows at once.
        _attach(form, _report_problems(form))
    if not valid:
        return _report_page(form, status=400, photos_lost=_files_were_chosen())
    if request.form.get("action") == "refresh":  # another community chosen without JavaScript
        form.case.data = ""
        return _report_page(form, photos_lost=_files_were_chosen())
    return _accept(
        form, "report",
        lambda sess, sub: feedback.submit_report(sess, sub, **_report_fields(form), media_dir=current_app.config[
            "MEDIA_DIR"], working_days=current_app.config.get("REPORT_WORKING_DAYS", feedback.REPORT_WORKING_DAYS)),
        lambda status: _report_page(form, status=status, photos_lost=_files_were_chosen()),
        extra_checks=lambda: _report_problems(form),
    )


def _roster_key() -> str:
    # The key of the household options' values (feedback.roster_ref): the form shows no case number.
    return str(current_app.secret_key)


def _report_fields(form: ReportForm) -> dict:
    return {"subject": form.subject.data or "", "region_code": form.region.data,
            "roster": (form.case.data or "", _roster_key()), "entry_public_id": form.entry.data or None,
            "about": form.about.data}


def _report_problems(form: ReportForm) -> dict[str, str]:
    """The report's own checks (who it is about), nothing written: for a form stopped before the submit."""
    try:
        feedback.check_report(db.session(), _submission(form, []), **_report_fields(form))
    except Invalid as err:
        return {name or "": str(message) for name, message in reversed(err.field_problems)}
    return {}


def _accept(form: FlaskForm, kind: str, submit, again, *, valid: bool = True, extra_checks=None):
    """What both forms do: honeypot, photos, field checks, then the request's one commit.

    ``submit(sess, submission)`` stores it (its domain checks report every problem at once); ``again(status)``
    shows the form again with what was typed. When the form's own checks (``valid`` False) or an unreadable
    photo stop it before the submit, the domain's field checks (and ``extra_checks()``) still run, so every
    problem shows together. A double submit that lost the race to its twin (the idempotency key is unique)
    gets the twin's receipt.
    """
    if valid and _honeypot_tripped(form):
        form.form_errors.append(_("提交没有通过检查。请不要填写“网址”一栏，然后重新提交。"))
        return again(400)
    photos, photo_error, photo_status = _read_photos()
    sub = _submission(form, photos)
    if not valid or photo_error:
        errors = {**(extra_checks() if extra_checks else {}), **feedback.field_errors(_submission(form, []))}
        if photo_error:
            errors["photos"] = photo_error
        _attach(form, errors)
        return again(photo_status if photo_error else 400)
    try:
        done = perform(lambda sess: submit(sess, sub).item, form)
    except IntegrityError:  # the twin of a double submit committed first: show its receipt
        item = feedback.find_by_key(db.session(), kind, sub.idempotency_key)
        if item is None:
            raise
    else:
        if not done.ok:
            return again(done.status)
        item = done.value
    _store_receipt(item)
    return redirect(url_for("portal.feedback_receipt"), code=303)


@bp.get("/reports/roster")
@private_page
def report_roster():
    """htmx: the household list of the chosen community (the report form's second select)."""
    form = ReportForm(formdata=None)
    form.region.data = request.args.get("region") or ""
    response = _report_page(form)
    if not is_htmx():
        return response
    return render("portal/feedback/_roster_field.html", form=form)


# --- receipt and tracking ----------------------------------------------------------------------------

@bp.get("/receipt")
def feedback_receipt():
    """The code, once committed, in the submitter's own browser only (from the session, never the URL)."""
    g.noindex = True
    code = receipts.recalled(receipts.FEEDBACK)
    status = None
    if code:
        try:
            status = feedback.lookup(db.session(), code)
        except DomainError:
            status = None
    if status is None:
        return no_store(render("portal/feedback/receipt.html", info=None, noindex=True))
    target = qr.tracking_target(current_app.config["PUBLIC_URL"], status.code)
    return no_store(render("portal/feedback/receipt.html", info=status, code=feedback.format_code(status.code),
                           qr_svg=qr.svg(target), noindex=True, labels=_labels()))


def _labels() -> dict:
    return {"status": feedback.STATUS_LABELS, "outcome": feedback.OUTCOME_LABELS,
            "report_outcome": feedback.REPORT_OUTCOME_LABELS, "kind": feedback.KIND_LABELS}


@bp.get("/track")
@limiter.limit("30 per minute")
def track():
    g.noindex = True
    code = request.args.get("code")
    if code is not None:
        normal = feedback.normalise_code(code)
        if feedback.CODE_RE.match(normal):
            return redirect(url_for("portal.track_code", code=normal))
        return render("portal/feedback/track.html", status=404 if normal else 400, typed=code, noindex=True,
                      error=_("查询码不正确：查询码由 10 位数字和大写字母组成，例如 ABCDE-FGHJK。"))
    return render("portal/feedback/track.html", typed="", error=None, noindex=True)


@bp.get("/track/<code>")
@limiter.limit("30 per minute")
def track_code(code: str):
    g.noindex = True
    from portal.applications import tracking_page  # an online application shares the /track page

    page = tracking_page(code)
    if page is not None:
        return page
    try:
        status = feedback.lookup(db.session(), code)
    except NotFound as err:
        return render("portal/feedback/track.html", status=404, typed=code, error=str(err.message), noindex=True)
    return no_store(render("portal/feedback/track_status.html", info=status,
                           code=feedback.format_code(status.code), labels=_labels(), noindex=True))


# --- short QR links ----------------------------------------------------------------------------------

@bp.get("/q/<code>")
@bp.get("/Q/<code>", endpoint="short_link_upper")
def short_link(code: str):
    """A scanned code: E<entry> → its objection form, B<region> → the board's entries, T<code> → tracking."""
    target = qr.resolve(code)
    if target is None:
        abort(404)
    kind, value = target
    if kind == "entry":
        entry = notices.public_entry(db.session(), value)  # a closed or withdrawn entry: 410 here already
        return redirect(url_for("portal.objection_new", entry=entry.public_id))
    if kind == "board":
        return redirect(url_for("portal.objection_new", region=value))
    return redirect(url_for("portal.track_code", code=value))
