"""Data in and out: the roster import (template, upload → check → confirm → import), exports of the staff
lists to xlsx, and the page of a background job (progress bar polled by htmx, cancel, run again, the result).

Every long step is a job (dibao.jobs) run by the worker; these views only start, show and stop them.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from admin import bp
from admin.forms import ConfirmForm
from admin.forms.data import ImportForm
from dibao import db, exports, imports, jobs
from dibao.errors import Forbidden
from dibao.models.job import Job
from dibao.web import no_store, perform, render, submit

IMPORT_KINDS = ("roster_check", "roster_import")


@bp.get("/data/")
@login_required
def data():
    sess = db.session()
    return render("admin/data/index.html", form=ImportForm(), may_import=imports.may_import(current_user),
                  jobs=[jobs.view(jobs.queue(), j) for j in jobs.recent(sess, current_user)],
                  exports=exports.EXPORTS)


@bp.get("/data/import/template.xlsx")
@login_required
def import_template():
    content = imports.template(db.session(), current_user)
    return _download(content, "低保名册导入模板.xlsx")


@bp.post("/data/import")
@login_required
def import_upload():
    imports.require_import(current_user)
    form = ImportForm()
    upload = request.files.get("file")
    done = submit(form, lambda sess: imports.start_check(
        sess, current_user, data=upload.read() if upload and upload.filename else b"",
        filename=upload.filename if upload else "", files=jobs.files_dir(current_app)))
    if done.ok:
        return redirect(url_for("admin.job", job_id=done.value.id))
    sess = db.session()
    return render("admin/data/index.html", form=form, may_import=True, exports=exports.EXPORTS,
                  jobs=[jobs.view(jobs.queue(), j) for j in jobs.recent(sess, current_user)], status=done.status)


@bp.post("/data/exports/<name>")
@login_required
def export_start(name: str):
    """Start an export of a list with the filters the list page shows (sent as the form's fields)."""
    params = {k: v for k, v in request.form.items() if k != "csrf_token"}
    done = perform(lambda sess: exports.start(sess, current_user, name, params))
    return redirect(url_for("admin.job", job_id=done.value.id))


# --- a job's page --------------------------------------------------------------------------------------

def _job(job_id: int) -> Job:
    return jobs.get_job(db.session(), current_user, job_id)


@bp.get("/jobs/<int:job_id>")
@login_required
def job(job_id: int):
    item = _job(job_id)
    shown = jobs.view(jobs.queue(), item)
    report = imports.Report.from_dict(shown.result) if item.kind in IMPORT_KINDS and shown.result else None
    kept = exports.file_path(jobs.files_dir(current_app), item) is not None  # deleted after FILES_KEPT_DAYS
    return render("admin/data/job.html", fragment="admin/data/_job.html", view=shown, job=item, report=report,
                  confirm=ConfirmForm(), kind_label=_kind_label(item), exports=exports.EXPORTS, file_kept=kept,
                  may_download=exports.may_download(current_user, item), scope_changed=exports.SCOPE_CHANGED,
                  kept_days=jobs.FILES_KEPT_DAYS)


def _kind_label(item: Job) -> str:
    spec = jobs.KINDS.get(item.kind)
    return str(spec.label) if spec else item.kind


# A job's two buttons: the domain function and what the user is told.
JOB_ACTIONS = {
    "cancel": (jobs.cancel, _l("已请求取消；任务停止后不会留下任何改动。")),
    "rerun": (jobs.rerun, _l("任务已重新排队。")),
}


@bp.post("/jobs/<int:job_id>/<any(cancel, rerun):action>")
@login_required
def job_action(job_id: int, action: str):
    item = _job(job_id)
    change, message = JOB_ACTIONS[action]
    perform(lambda sess: change(sess, current_user, item, jobs.queue()))
    flash(str(message), "info")
    return redirect(url_for("admin.job", job_id=job_id))


@bp.post("/jobs/<int:job_id>/confirm")
@login_required
def import_confirm(job_id: int):
    checked = _job(job_id)
    done = perform(lambda sess: imports.confirm(sess, current_user, checked))
    return redirect(url_for("admin.job", job_id=done.value.id))


@bp.get("/jobs/<int:job_id>/file")
@login_required
def job_file(job_id: int):
    item = _job(job_id)
    if not exports.may_download(current_user, item):
        raise Forbidden(exports.SCOPE_CHANGED)
    path = exports.file_path(jobs.files_dir(current_app), item)
    if path is None:
        abort(404)
    response = send_file(path, mimetype=exports.XLSX, as_attachment=True, download_name=exports.download_name(item),
                         max_age=0)
    return no_store(response)  # ID numbers: never kept by a shared cache


def _download(content: bytes, name: str):
    from io import BytesIO

    response = send_file(BytesIO(content), mimetype=exports.XLSX, as_attachment=True, download_name=name, max_age=0)
    return no_store(response)

