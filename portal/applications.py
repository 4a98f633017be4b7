"""网上申请 on the portal: the form (no login, works on a phone and without JavaScript), its receipt with the
tracking code, and what the /track page shows of an application (portal.feedback.track_code asks here).

Protected like the objection form: the same per-client rate limit, the honeypot, a per-form token so a double
submit keeps one application, and every file through dibao.media before anything is saved.
"""

from __future__ import annotations

from flask import current_app, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from dibao import applications, db, qr
from dibao.extensions import limiter
from dibao.feedback import format_code
from dibao.web import no_store, perform, render
from portal import bp, receipts
from portal.feedback import _new_form, _rate_limit, reading
from portal.forms import ApplicationForm, forget_numbers
from portal.private import private_page

# Phone photos of up to 7 documents (each ≤ 8 MB) in one request: more than the app-wide request limit.
MAX_REQUEST_BYTES = (applications.MAX_MATERIALS + 1) * applications.MAX_DOCUMENT_BYTES + 1024 * 1024


@bp.url_value_preprocessor
def _larger_uploads(endpoint, _values):
    # Runs before any before_request hook (the CSRF check reads the form), so the limit applies to the parse.
    if endpoint == "portal.apply" and request.method == "POST":
        request.max_content_length = MAX_REQUEST_BYTES


def _choices(form: ApplicationForm) -> None:
    form.region.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(r.code, f"{r.parent.name if r.parent else ''} · {r.name}")
        for r in applications.communities(db.session())]


def _files(name: str, limit: int) -> tuple[list[bytes], str | None, int]:
    """The chosen files of one input, or the message for that field and its status (413: one is too large)."""
    files = [f for f in request.files.getlist(name) if f and f.filename]
    if len(files) > limit:
        return [], _("最多上传 %(n)d 张照片。", n=limit), 400
    out = []
    for index, file in enumerate(files, start=1):
        data = file.read(applications.MAX_DOCUMENT_BYTES + 1)
        if len(data) > applications.MAX_DOCUMENT_BYTES:
            return [], _("第 %(n)d 张照片太大，请选择 %(mb)d MB 以内的照片。", n=index,
                         mb=applications.MAX_DOCUMENT_BYTES // (1024 * 1024)), 413
        out.append(data)
    return out, None, 400


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


def _input(form: ApplicationForm, materials: list[bytes], authorisation: bytes | None):
    members = []
    for row in form.members:
        age_text = (row.age.data or "").strip()
        age = _int(age_text)
        members.append(applications.MemberInput(
            name=row.form.name.data or "", relation=row.form.relation.data or "",
            age=age if age is not None else (-1 if age_text else None),
            id_number=row.form.id_number.data or "", work_capacity=row.form.work_capacity.data or ""))
    return applications.ApplicationInput(
        region_code=form.region.data or "", head_name=form.head_name.data or "",
        head_id_number=form.head_id_number.data or "", head_phone=form.head_phone.data or "",
        email=form.email.data or "", address=form.address.data or "",
        head_work_capacity=form.head_work_capacity.data or "", reason=form.reason.data or "",
        check_consent=bool(form.check_consent.data), by_proxy=form.by_proxy.data == "proxy",
        proxy_name=form.proxy_name.data or "", proxy_relation=form.proxy_relation.data or "",
        proxy_phone=form.proxy_phone.data or "", members=members, materials=materials,
        authorisation=authorisation, idempotency_key=form.submission_id.data)


def _fields_by_id(form) -> dict:
    found = {}
    for f in form:
        if f.type == "FieldList":
            for row in f:
                for sub in row.form:
                    found[sub.id] = sub
        else:
            found[f.id] = f
    return found


def _attach(form: ApplicationForm, errors: dict[str, str]) -> None:
    fields = _fields_by_id(form)
    for key, message in errors.items():
        target = fields.get(key)
        if target is not None and target.errors:
            continue  # the form's own check already says what is wrong there
        if target is not None and target.type not in ("HiddenField", "CSRFTokenField"):
            target.errors = [*(target.errors or []), message]
        else:
            form.form_errors.append(message)


def _files_were_chosen() -> bool:
    return any(f and f.filename for name in ("materials", "authorisation") for f in request.files.getlist(name))


def _forget_numbers(form: ApplicationForm) -> bool:
    """No ID number or phone goes back in the page (portal.forms.forget_numbers). True if any had been typed."""
    return forget_numbers([form.head_id_number, form.head_phone, form.proxy_phone]
                          + [row.form.id_number for row in form.members])


def _page(form: ApplicationForm, status: int = 200, files_lost: bool = False):
    g.noindex = True
    numbers_lost = _forget_numbers(form) if status != 200 else False
    return render("portal/applications/form.html", form=form, status=status, files_lost=files_lost,
                  numbers_lost=numbers_lost,
                  noindex=True, max_materials=applications.MAX_MATERIALS,
                  max_mb=applications.MAX_DOCUMENT_BYTES // (1024 * 1024))


def _breach(_limit):
    form = ApplicationForm()
    _choices(form)
    form.form_errors.append(_("提交太频繁了，请稍等几分钟再提交。您填写的内容还在下面（照片需要重新选择）。"))
    return make_response(_page(form, status=429))


@bp.route("/apply", methods=["GET", "POST"])
@limiter.limit(_rate_limit, methods=["POST"], on_breach=_breach)
@private_page
def apply():
    if reading():
        form = _new_form(ApplicationForm)
        if request.args.get("region"):
            form.region.data = request.args["region"]
        _choices(form)
        return _page(form)
    form = ApplicationForm()
    _choices(form)
    valid = form.validate_on_submit()
    if valid and (form.website.data or "").strip():
        form.form_errors.append(_("提交没有通过检查。请不要填写“网址”一栏，然后重新提交。"))
        return _page(form, status=400)
    materials, error, status = _files("materials", applications.MAX_MATERIALS)
    authorisation, auth_error, auth_status = _files("authorisation", 1)
    inp = _input(form, materials, authorisation[0] if authorisation else None)
    if not valid or error or auth_error:
        # Stopped before the submit (the form's own limits, a photo too large): the domain's field checks
        # still run, so every problem shows at once.
        errors = applications.field_errors(db.session(), inp)
        if error:
            errors["materials"] = error
        if auth_error:
            errors["authorisation"] = auth_error
        _attach(form, errors)
        return _page(form, status=max(status, auth_status), files_lost=_files_were_chosen())
    media_dir = current_app.config["MEDIA_DIR"]
    days = current_app.config.get("APPLICATION_WORKING_DAYS", applications.WORKING_DAYS)
    try:
        done = perform(lambda sess: applications.submit(sess, inp, media_dir=media_dir, working_days=days)
                       .application, form)
    except IntegrityError:  # the twin of a double submit committed first: show its receipt
        application = applications.find_by_key(db.session(), inp.idempotency_key)
        if application is None:
            raise
    else:
        if not done.ok:
            return _page(form, status=done.status or 400, files_lost=_files_were_chosen())
        application = done.value
    receipts.remember(receipts.APPLICATION, application.tracking_code)
    return redirect(url_for("portal.application_receipt"), code=303)


@bp.get("/apply/receipt")
def application_receipt():
    """The tracking code, once committed, in the applicant's own browser only (from the session)."""
    g.noindex = True
    code = receipts.recalled(receipts.APPLICATION)
    info = applications.lookup(db.session(), code) if code else None
    if info is None:
        return no_store(render("portal/applications/receipt.html", info=None, noindex=True))
    target = qr.tracking_target(current_app.config["PUBLIC_URL"], info.code)
    return no_store(render("portal/applications/receipt.html", info=info, code=format_code(info.code),
                           qr_svg=qr.svg(target), noindex=True, labels=applications.STATUS_LABELS))


def tracking_page(code: str):
    """The /track/<code> page of an application, or None when the code is not an application's."""
    info = applications.lookup(db.session(), code)
    if info is None:
        return None
    g.noindex = True
    return no_store(render("portal/applications/track.html", info=info, code=format_code(info.code),
                           labels=applications.STATUS_LABELS, noindex=True))
