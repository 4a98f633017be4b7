"""Staff screens for cases: the list (htmx live search), registration, the household archive (一户一档),
one form for each workflow step, attachments, and the standards screen (admin).

Views are thin: parse, call one domain function (dibao.cases / dibao.workflow / dibao.entitlement), commit
once, render. Only the actions ``workflow.available_actions`` allows are offered; every route checks again
through the domain (out of region 404, wrong role 403, wrong stage 409; nothing changed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin.forms import ConfirmForm, lines
from admin.forms.cases import (
    AdjustForm,
    AttachmentForm,
    CommunityReviewForm,
    CountyDecisionForm,
    FlagsForm,
    GraceForm,
    HouseholdForm,
    IncomeForm,
    MemberForm,
    PaymentAccountForm,
    PeriodicReviewForm,
    PhotoForm,
    ReasonForm,
    RegisterForm,
    StandardForm,
    TownCheckForm,
    TownDecisionForm,
    VisitForm,
)
from admin.views import chosen_region
from dibao import cases, clock, db, entitlement, identity, media, scope, workflow
from dibao.errors import Forbidden
from dibao.models import Case, Role
from dibao.web import int_arg, no_store, perform, render, safe_download_name, submit
from dibao.workflow import Action


def _levels():
    """The notice rounds this deployment uses (the workflow takes them as an argument)."""
    return workflow.notice_levels(current_app.config["NOTICE_LEVELS"])


# --- the list ----------------------------------------------------------------------------------------

@bp.get("/cases/", endpoint="cases")
@login_required
def cases_list():
    sess = db.session()
    filters = {
        "q": request.args.get("q", "").strip(),
        "stage": request.args.get("stage", ""),
        "community_id": int_arg("community"),
        "overdue": request.args.get("overdue", ""),
        "category": int_arg("category"),
    }
    result = cases.search(sess, current_user, page=int_arg("page") or 1, **filters)
    return render("admin/cases/list.html", fragment="admin/cases/_table.html",
                  result=result, filters=filters,
                  communities=cases.communities_in_scope(sess, current_user),
                  stage_labels=workflow.STAGE_LABELS, overdue_labels=cases.OVERDUE_LABELS,
                  category_labels=workflow.CATEGORY_LABELS, may_register=cases.may_register(current_user),
                  mask_id=identity.mask_id, mask_phone=identity.mask_phone, overdue_keys=cases.overdue_keys)


# --- registration ------------------------------------------------------------------------------------

@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def case_new():
    if not cases.may_register(current_user):
        raise Forbidden(_l("只有社区低保专干可以登记低保申请。"))
    form = RegisterForm()
    done = submit(form, lambda sess: cases.register_case(
        sess, current_user, head_name=form.head_name.data, head_id_number=form.head_id_number.data,
        head_phone=form.head_phone.data, address=form.address.data, public_address=form.public_address.data,
        category=form.category.data, close_relative_of_staff=form.close_relative_of_staff.data,
        no_income_no_capacity_no_supporter=form.no_income_no_capacity_no_supporter.data,
        head_age=form.head_age.data,
        head_health=form.head_health.data or "",
        head_work_capacity=form.head_work_capacity.data,  # a choice: the domain checks it with the rest
    ))
    if done.ok:
        flash(_("已登记受理，案卷号 %(number)s。请继续登记家庭成员和收入。", number=done.value.number), "success")
        return redirect(url_for("admin.case_detail", case_id=done.value.id))
    return render("admin/cases/new.html", form=form, status=done.status)


# --- the archive -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ActionLink:
    """How the case page offers an action: a link to its step page, or a one-click POST button."""

    action: Action
    label: str
    url: str
    post: bool = False
    primary: bool = True


# The screen of each workflow action (the page offers exactly what ``workflow.available_actions`` allows).
# ``None``: the action lives on the archive page itself (attachments, members, photo) instead of a step page.
ACTION_ENDPOINTS: dict[Action, tuple[str, bool] | None] = {
    Action.home_visit: ("admin.case_visit", False),
    Action.submit_review: ("admin.case_submit", True),
    Action.community_review: ("admin.case_community_review", False),
    Action.town_check: ("admin.case_town_check", False),
    Action.town_decision: ("admin.case_town_decision", False),
    Action.county_decision: ("admin.case_county_decision", False),
    Action.reject: ("admin.case_reject", False),
    Action.send_back: ("admin.case_send_back", False),
    Action.periodic_review: ("admin.case_periodic_review", False),
    Action.adjust_amount: ("admin.case_adjust", False),
    Action.grace: ("admin.case_grace", False),
    Action.exit: ("admin.case_exit", False),
    Action.edit: ("admin.case_edit", False),
    Action.attach: None,
}
# Actions that end or undo work are offered as plain (not primary) buttons.
SECONDARY_ACTIONS = {Action.reject, Action.send_back, Action.exit, Action.edit}


def action_links(case: Case, actions: list[Action]) -> list[ActionLink]:
    links = []
    for action in actions:
        route = ACTION_ENDPOINTS[action]
        if route is None:
            continue
        endpoint, post = route
        links.append(ActionLink(action, str(workflow.ACTION_LABELS[action]), url_for(endpoint, case_id=case.id),
                                post=post, primary=action not in SECONDARY_ACTIONS))
    return sorted(links, key=lambda link: not link.primary)  # the next step first


def _detail_context(sess, case, **extra):
    actions = workflow.available_actions(current_user, case)
    member_form = extra.pop("member_form", None) or MemberForm(formdata=None)
    income_form = extra.pop("income_form", None) or IncomeForm(formdata=None)
    return dict(
        case=case, archive=cases.archive(sess, case), actions=actions, links=action_links(case, actions),
        action_labels=workflow.ACTION_LABELS,
        Action=Action, stage_labels=workflow.STAGE_LABELS, level_labels=workflow.REVIEWER_LABELS,
        opinion_titles=workflow.OPINION_TITLES, decision_labels=workflow.DECISION_LABELS,
        capacity_labels=cases.WORK_CAPACITY_LABELS, category_labels=workflow.CATEGORY_LABELS,
        source_label=entitlement.source_label,
        amount_change_labels=entitlement.AMOUNT_CHANGE_LABELS,
        member_form=member_form, income_form=income_form,
        photo_form=extra.pop("photo_form", None) or PhotoForm(formdata=None, consent=case.photo_consent),
        attachment_form=extra.pop("attachment_form", None) or AttachmentForm(formdata=None),
        account_form=extra.pop("account_form", None) or _account_form(case),
        account_kind_labels=cases.ACCOUNT_KIND_LABELS, mask_account=identity.mask_account,
        may_change_flags=cases.may_change_flags(current_user, case),
        confirm=ConfirmForm(), noindex=True, **extra,
    )


@bp.get("/cases/<int:case_id>")
@login_required
def case_detail(case_id: int):
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    return render("admin/cases/detail.html", **_detail_context(sess, case))


def _back(case_id: int, anchor: str = ""):
    return redirect(url_for("admin.case_detail", case_id=case_id) + (f"#{anchor}" if anchor else ""))


def _archive_post(case_id: int, form_name: str | None, form, run: Callable, message: str, anchor: str):
    """A small form on the archive page: on error the page is shown again with the message by the form. A delete
    button (``form_name`` None, a ConfirmForm) is not the section's form: its refusal is shown above the page."""
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    done = submit(form, lambda sess: run(sess, case))
    if done.ok:
        flash(message, "success")
        return _back(case.id, anchor)
    if form_name is None:
        for text in [*form.form_errors, *(e for field in form for e in field.errors)]:
            flash(text, "error")
    sess.refresh(case)
    return render("admin/cases/detail.html", status=done.status,
                  **_detail_context(sess, case, **({form_name: form} if form_name else {})))


@bp.route("/cases/<int:case_id>/edit", methods=["GET", "POST"])
@login_required
def case_edit(case_id: int):
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    workflow.require(current_user, case, Action.edit)
    form = HouseholdForm(obj=case) if request.method == "GET" else HouseholdForm()
    done = submit(form, lambda sess: cases.update_household(
        sess, current_user, case, head_phone=form.head_phone.data, address=form.address.data,
        public_address=form.public_address.data, category=form.category.data,
        close_relative_of_staff=form.close_relative_of_staff.data,
        no_income_no_capacity_no_supporter=form.no_income_no_capacity_no_supporter.data,
        special_case=form.special_case.data,
    ))
    if done.ok:
        flash(_("家庭信息已保存。"), "success")
        return _back(case.id)
    # 特殊情况, and 近亲属备案 once set, are the county's (case_flags): shown as text, their value kept in a
    # hidden input, so that saving the rest never changes them (a changed value is refused beside the field).
    return render("admin/cases/edit.html", form=form, case=case, status=done.status, title=_("修改家庭信息"),
                  intro=_("户主姓名和身份证号码请在“家庭成员”中修改户主一行。"), submit=_("保存"),
                  county_visit=None)  # (step.html's notices are the decisions')


@bp.route("/cases/<int:case_id>/flags", methods=["GET", "POST"])
@login_required
def case_flags(case_id: int):
    """The county's form for 近亲属备案 and 特殊情况 (a written reason to clear the one or change the other)."""
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    cases.require_flags(current_user, case)  # 403 for the community, 409 for a closed case
    form = FlagsForm(obj=case) if request.method == "GET" else FlagsForm()
    done = submit(form, lambda sess: cases.update_flags(
        sess, current_user, case, close_relative_of_staff=form.close_relative_of_staff.data,
        special_case=form.special_case.data, reason=form.reason.data))
    if done.ok:
        flash(_("标记已保存。") if done.value else _("标记没有变化。"), "success")
        return _back(case.id)
    return render("admin/cases/step.html", form=form, case=case, status=done.status, title=_("近亲属备案和特殊情况"),
                  intro=_("近亲属备案对象须有县级入户调查才能审批；取消备案、认定或取消特殊情况须写明理由，"
                          "记入操作日志。"), submit=_("保存"))


def _member_fields(form: MemberForm) -> dict:
    return dict(name=form.name.data, relation=form.relation.data, age=form.age.data, id_number=form.id_number.data,
                health=form.health.data or "", work_capacity=form.work_capacity.data,
                deduction=form.deduction.data or "",  # parsed by the domain, with the other fields' checks
                deduction_note=form.deduction_note.data or "")


@bp.post("/cases/<int:case_id>/members")
@login_required
def case_member_add(case_id: int):
    form = MemberForm()

    def run(sess, case):
        cases.add_member(sess, current_user, case, **_member_fields(form))

    return _archive_post(case_id, "member_form", form, run, _("已添加家庭成员。"), "members")


@bp.route("/cases/<int:case_id>/members/<int:member_id>", methods=["GET", "POST"])
@login_required
def case_member_edit(case_id: int, member_id: int):
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    workflow.require(current_user, case, Action.edit)
    member = cases.get_member(case, member_id)
    form = MemberForm(obj=member) if request.method == "GET" else MemberForm()
    if member.position == 0:
        form.relation.choices = [SelectChoice("本人", "本人")]
    if request.method == "GET":
        form.work_capacity.data = member.work_capacity.value
        form.deduction.data = str(member.monthly_deduction) if member.monthly_deduction else ""
    done = submit(form, lambda sess: cases.update_member(sess, current_user, case, member.id,
                                                         **_member_fields(form)))
    if done.ok:
        flash(_("家庭成员已保存。"), "success")
        return _back(case.id, "members")
    return render("admin/cases/step.html", form=form, case=case, status=done.status,
                  title=_("修改家庭成员：%(name)s", name=member.name), submit=_("保存"))


@bp.post("/cases/<int:case_id>/members/<int:member_id>/delete")
@login_required
def case_member_delete(case_id: int, member_id: int):
    form = ConfirmForm()
    return _archive_post(case_id, None, form,
                         lambda sess, case: cases.remove_member(sess, current_user, case, member_id),
                         _("已删除该家庭成员。"), "members")


@bp.post("/cases/<int:case_id>/members/<int:member_id>/incomes")
@login_required
def case_income_add(case_id: int, member_id: int):
    form = IncomeForm()

    def run(sess, case):
        cases.add_income(sess, current_user, case, member_id, source=form.source.data, amount=form.amount.data or "",
                         note=form.note.data or "")

    return _archive_post(case_id, "income_form", form, run, _("已登记收入。"), "members")


@bp.post("/cases/<int:case_id>/incomes/<int:income_id>/delete")
@login_required
def case_income_delete(case_id: int, income_id: int):
    return _archive_post(case_id, None, ConfirmForm(),
                         lambda sess, case: cases.remove_income(sess, current_user, case, income_id),
                         _("已删除该笔收入。"), "members")


@bp.post("/cases/<int:case_id>/photo")
@login_required
def case_photo(case_id: int):
    form = PhotoForm()

    def run(sess, case):
        upload = request.files.get("photo")
        data = upload.read() if upload and upload.filename else None
        cases.set_photo(sess, current_user, case, data=data, consent=form.consent.data,
                        media_dir=current_app.config["MEDIA_DIR"])

    return _archive_post(case_id, "photo_form", form, run, _("户照片信息已保存。"), "photo")


@bp.post("/cases/<int:case_id>/photo/delete")
@login_required
def case_photo_delete(case_id: int):
    return _archive_post(case_id, None, ConfirmForm(),
                         lambda sess, case: cases.remove_photo(sess, current_user, case),
                         _("已删除户照片。"), "photo")


@bp.get("/cases/<int:case_id>/photo/<rendition>")
@login_required
def case_photo_file(case_id: int, rendition: str):
    if rendition not in media.RENDITIONS:
        abort(404)
    key = cases.case_photo_key(db.session(), current_user, case_id)
    return _send(media.media_path(current_app.config["MEDIA_DIR"], key, rendition), "image/jpeg")


def _send(path, mimetype: str, download_name: str | None = None):
    if not path.exists():
        abort(404)
    # A PDF is never opened inside the staff pages' origin: it is downloaded.
    response = send_file(path, mimetype=mimetype, max_age=0, as_attachment=mimetype == "application/pdf",
                         download_name=safe_download_name(download_name) if download_name else None)
    return no_store(response)


def _account_form(case: Case) -> PaymentAccountForm:
    account = case.payment_account
    form = PaymentAccountForm(formdata=None, obj=account)
    form.number.data = ""  # the full number is never sent back to the page
    if account is not None:
        form.kind.data = account.kind.value
    return form


@bp.post("/cases/<int:case_id>/account")
@login_required
def case_account(case_id: int):
    form = PaymentAccountForm()
    return _archive_post(case_id, "account_form", form,
                         lambda sess, case: cases.set_payment_account(
                             sess, current_user, case, kind=form.kind.data, bank_name=form.bank_name.data,
                             holder_name=form.holder_name.data, number=form.number.data),
                         _("发放账户已保存。"), "account")


@bp.post("/cases/<int:case_id>/attachments")
@login_required
def case_attachment_add(case_id: int):
    form = AttachmentForm()

    def run(sess, case):
        upload = request.files.get("file")
        data = upload.read() if upload and upload.filename else b""
        cases.add_attachment(sess, current_user, case, title=form.title.data, data=data,
                           filename=upload.filename if upload else "", media_dir=current_app.config["MEDIA_DIR"])

    return _archive_post(case_id, "attachment_form", form, run, _("材料已上传。"), "attachments")


@bp.get("/cases/attachments/<int:attachment_id>")
@bp.get("/cases/attachments/<int:attachment_id>/<rendition>")
@login_required
def case_attachment_file(attachment_id: int, rendition: str | None = None):
    attachment, _case = cases.get_attachment(db.session(), current_user, attachment_id)
    if rendition is not None and (rendition not in media.RENDITIONS or not attachment.is_image):
        abort(404)
    path = media.media_path(current_app.config["MEDIA_DIR"], attachment.media_key, rendition)
    name = f"{attachment.title}.{'pdf' if attachment.content_type == 'application/pdf' else 'jpg'}"
    return _send(path, attachment.content_type if rendition is None else "image/jpeg", download_name=name)


# --- one form per step -------------------------------------------------------------------------------

def _step(case_id: int, action: Action, form, run: Callable, *, title: str, message: str, template: str =
          "admin/cases/step.html", prepare: Callable | None = None, **ctx):
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    workflow.require(current_user, case, action)
    if prepare is not None:
        prepare(sess, case, form)
    done = submit(form, lambda sess: run(sess, case, form))
    if done.ok:
        flash(message, "success")
        return _back(case.id)
    sess.refresh(case)
    ctx.setdefault("county_visit", None)  # only the county decision knows it
    return render(template, form=form, case=case, status=done.status, title=title,
                  held=workflow.is_held(sess, case), stage_labels=workflow.STAGE_LABELS, **ctx)


@bp.route("/cases/<int:case_id>/visit", methods=["GET", "POST"])
@login_required
def case_visit(case_id: int):
    form = VisitForm()
    if request.method == "GET":
        form.visited_on.data = clock.today()
        form.investigators.data = current_user.display_name + "\n"

    def run(sess, case, f):
        workflow.record_home_visit(
            sess, current_user, case, visited_on=f.visited_on.data, housing=f.housing.data,
            inquiry=f.inquiry.data, notes=f.notes.data or "", family_signed=f.family_signed.data,
            unsigned_reason=f.unsigned_reason.data or "", investigators=lines(f.investigators.data),
            neighbours=[workflow.Neighbour(n.form.name.data or "", n.form.relation.data or "",
                                           n.form.statement.data or "") for n in f.neighbours],
        )

    return _step(case_id, Action.home_visit, form, run, title=_("入户调查（一看二问三走访）"),
                 message=_("入户调查记录已保存。"), template="admin/cases/visit.html")


@bp.post("/cases/<int:case_id>/submit")
@login_required
def case_submit(case_id: int):
    case = cases.get_case(db.session(), current_user, case_id)
    perform(lambda sess: workflow.submit_for_review(sess, current_user, case))
    flash(_("已提交民主评议。"), "success")
    return _back(case.id)


@bp.route("/cases/<int:case_id>/community-review", methods=["GET", "POST"])
@login_required
def case_community_review(case_id: int):
    form = CommunityReviewForm()

    def prepare(sess, case, f):
        meetings = workflow.recent_review_meetings(sess, case)
        f.meeting_id.choices = [SelectChoice(0, _("新的评议会议（在下面填写）"))] + [
            SelectChoice(m.id, _("%(day)s %(place)s（%(n)d 名评议成员）", day=m.held_on.isoformat(), place=m.location,
                                n=len(m.panel))) for m in meetings]
        if request.method == "GET":
            f.held_on.data = clock.today()

    def run(sess, case, f):
        workflow.record_community_review(
            sess, current_user, case, decision=f.decision.data, opinion=f.opinion.data,
            votes_for=f.votes_for.data, votes_against=f.votes_against.data, votes_abstain=f.votes_abstain.data or 0,
            meeting_id=f.meeting_id.data or None, held_on=f.held_on.data, location=f.location.data or "",
            panel=lines(f.panel.data), attendees=lines(f.attendees.data),
            levels=_levels(), override_reason=f.override_reason.data,
        )

    case = cases.get_case(db.session(), current_user, case_id)
    return _step(case_id, Action.community_review, form, run, prepare=prepare,
                 computation=entitlement.compute_for(db.session(), case),
                 title=_("民主评议和社区初审意见"), message=_("评议结果和初审意见已记录。"),
                 intro=_("评议小组对本户的意见和表决票数；“不同意”时意见即为不予批准的理由。已有的评议会议可直接选择。"))


@bp.route("/cases/<int:case_id>/town-check", methods=["GET", "POST"])
@login_required
def case_town_check(case_id: int):
    return _step(case_id, Action.town_check, TownCheckForm(),
                 lambda sess, case, f: workflow.record_town_check(sess, current_user, case, f.findings.data),
                 title=_("乡镇审核（复查）"), message=_("复查情况已记录，请提交乡镇会议研究。"),
                 intro=_("核对申请材料、入户调查记录和民主评议结果；需要时可入户复查。"))


@bp.route("/cases/<int:case_id>/town-decision", methods=["GET", "POST"])
@login_required
def case_town_decision(case_id: int):
    form = TownDecisionForm()
    if request.method == "GET":
        form.held_on.data = clock.today()

    def run(sess, case, f):
        workflow.record_town_decision(sess, current_user, case, held_on=f.held_on.data, title=f.title.data,
                                      participants=lines(f.participants.data), decision=f.decision.data,
                                      opinion=f.opinion.data, override_reason=f.override_reason.data,
                                      levels=_levels(), tier=_typed(f, "tier"), tier_reason=_typed(f, "tier_reason"))

    case = cases.get_case(db.session(), current_user, case_id)
    computation = entitlement.compute_for(db.session(), case)
    tier_fields(form, computation, "tier_reason")
    return _step(case_id, Action.town_decision, form, run, title=_("乡镇会议研究和审核意见"),
                 message=_("乡镇审核意见已记录。"), computation=computation)


def tier_fields(form, computation: entitlement.Computation, *names: str):
    """The tier select (with ``names``' other fields) under a 分档 standard: its tiers offered, the household's
    chosen; under a 差额 standard the fields are dropped (nothing to choose, nothing read)."""
    if not computation.tiered:
        for name in ("tier", *names):
            delattr(form, name)
        return
    form.tier.choices = [SelectChoice("", _("请选择分档") if computation.tier_name is None else _("不变"))] + [
        SelectChoice(name, _("%(name)s（标准的 %(share)d%%）", name=name, share=share))
        for name, share in computation.tiers]
    if request.method == "GET":
        form.tier.data = ""


def _typed(form, name: str) -> str | None:
    """A field's data, None when the view dropped the field (WTForms leaves None in its place)."""
    found = getattr(form, name, None)
    return None if found is None else found.data


@bp.route("/cases/<int:case_id>/county-decision", methods=["GET", "POST"])
@login_required
def case_county_decision(case_id: int):
    def run(sess, case, f):
        workflow.record_county_decision(sess, current_user, case, decision=f.decision.data,
                                        opinion=f.opinion.data, override_amount=f.override_amount.data,
                                        override_reason=f.override_reason.data,
                                        levels=_levels(), tier=_typed(f, "tier"), tier_reason=_typed(f, "tier_reason"))

    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    filed = workflow.last_feedback_filed(sess, case)
    computation = entitlement.compute_for(sess, case)
    form = CountyDecisionForm()
    tier_fields(form, computation, "tier_reason")
    return _step(case_id, Action.county_decision, form, run, title=_("县级审批"),
                 message=_("审批结果已记录。"), computation=computation,
                 county_visit=workflow.has_county_visit(sess, case), feedback_filed=filed,
                 visit_since_feedback=filed is not None and workflow.has_county_visit(sess, case, since=filed))


@bp.route("/cases/<int:case_id>/reject", methods=["GET", "POST"])
@login_required
def case_reject(case_id: int):
    return _step(case_id, Action.reject, ReasonForm(),
                 lambda sess, case, f: workflow.reject(sess, current_user, case, f.reason.data),
                 title=_("不予批准"), message=_("已作出不予批准的决定，理由已记入档案。"),
                 intro=_("理由将作为本级意见记入档案，并书面告知申请家庭。"))


@bp.route("/cases/<int:case_id>/send-back", methods=["GET", "POST"])
@login_required
def case_send_back(case_id: int):
    return _step(case_id, Action.send_back, ReasonForm(),
                 lambda sess, case, f: workflow.send_back(sess, current_user, case, f.reason.data),
                 title=_("退回重新调查"), message=_("已退回社区重新调查。"),
                 intro=_("退回后已有的各级意见失效，须重新入户调查、评议和公示。"))


@bp.route("/cases/<int:case_id>/periodic-review", methods=["GET", "POST"])
@login_required
def case_periodic_review(case_id: int):
    form = PeriodicReviewForm()

    def prepare(sess, case, f):
        if request.method == "GET":
            f.category.data = case.category

    return _step(case_id, Action.periodic_review, form,
                 lambda sess, case, f: workflow.periodic_review(sess, current_user, case, findings=f.findings.data,
                                                                category=f.category.data),
                 prepare=prepare, title=_("定期复核"), message=_("复核情况已记录。"),
                 intro=_("收入变化请先在“家庭成员”中更新；需要调整发放金额时由县民政局办理。"))


@bp.route("/cases/<int:case_id>/adjust", methods=["GET", "POST"])
@login_required
def case_adjust(case_id: int):
    def run(sess, case, f):
        workflow.adjust_amount(sess, current_user, case, amount=f.amount.data, reason=f.reason.data,
                               tier=_typed(f, "tier"))

    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    computation = entitlement.compute_for(sess, case)
    form = AdjustForm()
    tier_fields(form, computation)
    return _step(case_id, Action.adjust_amount, form, run, title=_("调整保障金额"),
                 message=_("保障金额已调整。"), computation=computation)


@bp.route("/cases/<int:case_id>/grace", methods=["GET", "POST"])
@login_required
def case_grace(case_id: int):
    sess = db.session()
    used = workflow.grace_months_used(sess, cases.get_case(sess, current_user, case_id))
    left = max(workflow.MAX_GRACE_MONTHS - used, 0)
    return _step(case_id, Action.grace, GraceForm(),
                 lambda sess, case, f: workflow.start_grace(sess, current_user, case, months=f.months.data,
                                                            reason=f.reason.data),
                 title=_("设置渐退期"), message=_("已进入渐退期。"),
                 intro=_("家庭成员就业后收入超过标准的，可给予不超过 6 个月的渐退期，期满后办理退保。")
                 + (" " + _("该户本次批准以来已享受渐退期 %(used)d 个月，最多还可设置 %(left)d 个月。",
                            used=used, left=left) if used else ""))


@bp.route("/cases/<int:case_id>/exit", methods=["GET", "POST"])
@login_required
def case_exit(case_id: int):
    return _step(case_id, Action.exit, ReasonForm(),
                 lambda sess, case, f: workflow.exit_case(sess, current_user, case, f.reason.data),
                 title=_("退保"), message=_("已办理退保，理由已记入档案。"),
                 intro=_("停发低保金须有法定理由，并告知家庭。"))


# --- standards (admin) -------------------------------------------------------------------------------

@bp.route("/standards/", methods=["GET", "POST"])
@login_required
def standards():
    sess = db.session()
    form = StandardForm()
    form.region_id.choices = [SelectChoice(r.id, f"{'　' * (r.path.count('/') - 2)}{r.name}")
                              for r in scope.regions_in_scope(sess, current_user)]
    if request.method == "POST":  # everyone reads the standards; only an admin may post, whatever the input
        scope.require_admin(current_user, entitlement.ADMIN_ONLY)
    done = submit(form, lambda sess: entitlement.set_standard(
        sess, current_user, region=chosen_region(sess, form.region_id.data),
        amount=form.monthly_amount.data, effective_from=form.effective_from.data, note=form.note.data or "",
        method=form.method.data or None,
        tiers=[entitlement.TierRow(row.form.name.data, row.form.share.data) for row in form.tiers],
    ))
    if done.ok:
        flash(_("低保标准已保存。"), "success")
        return redirect(url_for("admin.standards"))
    return render("admin/cases/standards.html", form=form, items=entitlement.list_standards(sess, current_user),
                  today=clock.today(), is_admin=current_user.role == Role.admin, confirm=ConfirmForm(),
                  method_labels=entitlement.METHOD_LABELS, tier_summary=entitlement.tier_summary,
                  status=done.status)


@bp.post("/standards/<int:standard_id>/delete")
@login_required
def standard_delete(standard_id: int):
    perform(lambda sess: entitlement.delete_standard(sess, current_user, standard_id))
    flash(_("已删除尚未生效的标准。"), "success")
    return redirect(url_for("admin.standards"))
