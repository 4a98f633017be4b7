"""发放名册: monthly payment runs — generate, town check, county approval, bank files, supervision (issue 11)."""

from __future__ import annotations

from flask import flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from admin import bp
from admin.forms import ConfirmForm
from admin.forms.payments import AnswerForm, CheckForm, GenerateForm, LayoutForm, QuestionForm, ReturnFileForm
from dibao import clock, db, payments, scope
from dibao.errors import Forbidden
from dibao.models import Role
from dibao.models.payment import LineStatus, RunStatus
from dibao.web import int_arg, no_store, render, submit

# What a supervision group (群众监督) may open: its community's payments, nothing else of the backend.
SUPERVISOR_ENDPOINTS = {"admin.login", "admin.logout", "admin.payments", "admin.payment_run",
                        "admin.payment_ask", "admin.dashboard", "admin.static"}
SUPERVISOR_ONLY_PAYMENTS = _l("群众监督组的账号只能查看本社区的资金发放情况。")


def may_open(user, endpoint: str | None) -> bool:
    """Whether the backend lets ``user`` open ``endpoint`` at all (the menu asks the same question)."""
    return not scope.watches_payments_only(user) or endpoint in SUPERVISOR_ENDPOINTS


@bp.before_request
def _supervisor_only_payments():
    if current_user.is_authenticated and not may_open(current_user, request.endpoint):
        raise Forbidden(SUPERVISOR_ONLY_PAYMENTS)
    if current_user.is_authenticated and scope.watches_payments_only(current_user) \
            and request.endpoint == "admin.dashboard":
        return redirect(url_for("admin.payments"))
    return None


@bp.context_processor
def _payment_panel():
    def payment_state():
        if not current_user.is_authenticated:
            return None
        sess = db.session()
        month, run, label = payments.current_state(sess, current_user)
        share = payments.shares(sess, current_user, [run]).get(run.id) if run else None
        return {"month": payments.month_label(month), "run": run, "label": label,
                "check": payments.reconcile(sess, run) if run else None, "share": share,
                "part_check": payments.reconcile(sess, run, current_user.region) if share else None}
    return {"payment_state": payment_state}


def _context(run, **extra):
    sess = db.session()
    region_id = int_arg("region")
    status = request.args.get("status")
    status = LineStatus(status) if status in LineStatus.__members__ else None
    shown = payments.lines(sess, current_user, run, region_id=region_id, status=status)
    share = payments.shares(sess, current_user, [run]).get(run.id)
    context = dict(
        run=run, lines=shown, accounts=payments.masked_accounts(sess, [line.case_id for line in shown]),
        share=share, part_recon=payments.reconcile(sess, run, current_user.region) if share else None,
        by_town=payments.totals(sess, current_user, run, "town"),
        by_community=payments.totals(sess, current_user, run, "community"),
        by_category=payments.totals(sess, current_user, run, "category"),
        checks=payments.town_checks(sess, run, current_user),
        # the supervision group: its community's part of the reconciliation, not the county's
        recon=None if scope.watches_payments_only(current_user) else payments.reconcile(sess, run),
        questions=payments.questions(sess, current_user, run), status_labels=payments.STATUS_LABELS,
        line_labels=payments.LINE_STATUS_LABELS, month=payments.month_label(run.month),
        may_manage=payments.can_manage(current_user, run), is_town=current_user.role == Role.town_reviewer,
        is_supervisor=current_user.role == Role.supervisor, is_staff=current_user.role == Role.community_staff,
        confirm=ConfirmForm(), check_form=CheckForm(), question_form=QuestionForm(), answer_form=AnswerForm(),
        return_form=ReturnFileForm(), RunStatus=RunStatus, problems=None)
    context.update(extra)
    return context


@bp.get("/payments/", endpoint="payments")
@login_required
def payments_index():
    return _runs_page(GenerateForm(data={"month": payments.month_label(clock.today())}))


def _runs_page(form: GenerateForm, status: int = 200):
    """The county's runs, each with the user's own part beside it below the county."""
    sess = db.session()
    county = scope.county_of(current_user.region)
    runs = payments.runs(sess, current_user)
    return render("admin/payments/list.html", runs=runs, shares=payments.shares(sess, current_user, runs),
                  form=form, status_labels=payments.STATUS_LABELS,
                  may_manage=payments.can_manage(current_user, county=county), status=status)


@bp.route("/payments/generate", methods=["POST"])
@login_required
def payment_generate():
    form = GenerateForm()
    county = scope.county_of(current_user.region)
    # A county's run takes seconds: it is a background job, its progress on the job's page (issue 12).
    done = submit(form, lambda s: payments.start_generate(s, current_user, county, form.month.data))
    if done.ok:
        flash(_("正在生成发放名册，完成后可在本页打开。"), "success")
        return redirect(url_for("admin.job", job_id=done.value.id))
    return _runs_page(form, done.status)


@bp.get("/payments/<int:run_id>", endpoint="payment_run")
@login_required
def payment_run(run_id: int):
    run = payments.get_run(db.session(), current_user, run_id)
    return render("admin/payments/run.html", fragment="admin/payments/_lines.html", **_context(run))


@bp.post("/payments/<int:run_id>/check")
@login_required
def payment_check(run_id: int):
    run = payments.get_run(db.session(), current_user, run_id)
    form = CheckForm()
    done = submit(form, lambda s: payments.check_town(s, current_user, run, note=form.note.data or ""))
    if done.ok:
        flash(_("已核对本乡镇的发放名册。"), "success")
        return redirect(url_for("admin.payment_run", run_id=run.id))
    return render("admin/payments/run.html", status=done.status, **_context(run, check_form=form))


@bp.post("/payments/<int:run_id>/approve")
@login_required
def payment_approve(run_id: int):
    run = payments.get_run(db.session(), current_user, run_id)
    form = ConfirmForm()
    done = submit(form, lambda s: payments.approve(s, current_user, run))
    if done.ok:
        flash(_("发放名册已审批，不能再修改。"), "success")
        return redirect(url_for("admin.payment_run", run_id=run.id))
    return render("admin/payments/run.html", status=done.status, **_context(run, confirm=form))


@bp.post("/payments/<int:run_id>/questions", endpoint="payment_ask")
@login_required
def payment_ask(run_id: int):
    run = payments.get_run(db.session(), current_user, run_id)
    form = QuestionForm()
    done = submit(form, lambda s: payments.ask(s, current_user, run, form.text.data))
    if done.ok:
        flash(_("问题已记录，社区将作出答复。"), "success")
        return redirect(url_for("admin.payment_run", run_id=run.id))
    return render("admin/payments/run.html", status=done.status, **_context(run, question_form=form))


@bp.post("/payments/questions/<int:question_id>/answer")
@login_required
def payment_answer(question_id: int):
    sess = db.session()
    question = payments.get_question(sess, current_user, question_id)
    run = payments.get_run(sess, current_user, question.run_id)
    form = AnswerForm()
    done = submit(form, lambda s: payments.answer(s, current_user, question, form.text.data))
    if done.ok:
        flash(_("已答复。"), "success")
        return redirect(url_for("admin.payment_run", run_id=run.id))
    return render("admin/payments/run.html", status=done.status, **_context(run, answer_form=form))



@bp.post("/payments/<int:run_id>/bank-file")
@login_required
def payment_export(run_id: int):
    """The bank file: a POST (it marks the run as sent), answered with the xlsx itself."""
    run = payments.get_run(db.session(), current_user, run_id)
    form = ConfirmForm()
    done = submit(form, lambda s: payments.export_bank_file(s, current_user, run))
    if not done.ok:
        return render("admin/payments/run.html", status=done.status, **_context(run, confirm=form))
    name = f"bank-{run.county.code}-{payments.month_label(run.month)}.xlsx"
    response = make_response(done.value)
    response.headers["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return no_store(response)


@bp.post("/payments/<int:run_id>/return-file")
@login_required
def payment_return(run_id: int):
    sess = db.session()
    run = payments.get_run(sess, current_user, run_id)
    form = ReturnFileForm()
    upload = request.files.get("file")
    data = upload.read() if upload else b""
    problems: list[str] = []

    def change(s):
        try:
            return payments.import_return(s, current_user, run, data)
        except payments.ReturnRefused as refused:
            problems.extend(refused.problems)
            raise

    done = submit(form, change)
    if done.ok:
        flash(_("回盘已导入：成功 %(paid)d 行，失败 %(failed)d 行（失败的将结转到下月名册）。", **done.value), "success")
        return redirect(url_for("admin.payment_run", run_id=run.id))
    return render("admin/payments/run.html", status=done.status,
                  **_context(payments.get_run(sess, current_user, run_id), return_form=form, problems=problems))


@bp.route("/payments/layout", methods=["GET", "POST"])
@login_required
def payment_layout():
    sess = db.session()
    county = scope.county_of(current_user.region)
    form = LayoutForm(data={"columns": ",".join(payments.layout(sess, county))})
    done = submit(form, lambda s: payments.set_layout(s, current_user, county, form.columns.data))
    if done.ok:
        flash(_("银行文件格式已保存。"), "success")
        return redirect(url_for("admin.payment_layout"))
    return render("admin/payments/layout.html", form=form, columns=payments.BANK_COLUMNS,
                  may_manage=payments.can_manage(current_user, county=county), status=done.status)
