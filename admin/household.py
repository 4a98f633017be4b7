"""Staff screens of the household after approval (issue 10, items 6–10): assets and 核对, member changes and
transfer, 文书 and their delivery, the review panel and its questions (质询), the archive printed and downloaded
whole, the community's cabinet (一居一柜) and the marginal households' list.

Views are thin: parse, call one domain function (dibao.assets / household / documents / panel / archive), commit
once through ``dibao.web.submit``/``perform``, render.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin.forms import ConfirmForm, lines
from admin.forms.household import (
    AssetForm,
    DeliveryForm,
    DiscretionForm,
    LimitsForm,
    MeetingForm,
    MemberJoinForm,
    MemberLeaveForm,
    PanelMemberForm,
    QuestionForm,
    ResultForm,
    TransferForm,
    VerificationForm,
)
from admin.views import chosen_region
from dibao import (
    archive,
    assets,
    cases,
    clock,
    db,
    documents,
    entitlement,
    household,
    panel,
    reviews,
    scope,
    workflow,
)
from dibao.errors import Invalid
from dibao.models import Case, WorkCapacity
from dibao.models.household import DocumentKind
from dibao.models.management import ProposalSource
from dibao.web import no_store, perform, render, safe_download_name, submit


@bp.app_template_global()
def household_panel(case: Case) -> dict:
    """What the case page's issue-10 partial shows (one include line in templates/admin/cases/detail.html)."""
    sess = db.session()
    check = assets.asset_check(sess, case)
    return dict(check=check, documents=documents.documents_of(sess, case),
                may_issue=documents.may_issue(current_user, case),
                may_change=household.MEMBER_CHANGE.allows(current_user, case),
                may_transfer=household.TRANSFER.allows(current_user, case),
                may_assets=assets.RECORD.allows(current_user, case),
                transfers=household.transfers(sess, case), changes=household.member_changes(sess, case),
                questions=panel.questions(sess, case), verifications=assets.verifications(sess, case),
                result_labels=assets.RESULT_LABELS, transfer_labels=household.TRANSFER_LABELS)


@bp.app_template_global()
def asset_check_for(case: Case, computation=None):
    """The asset check beside the income on the amount pages (the county decision step)."""
    return assets.asset_check(db.session(), case, computation)


def _labels() -> dict:
    return dict(asset_labels=assets.ASSET_LABELS, result_labels=assets.RESULT_LABELS,
                change_labels=household.MEMBER_CHANGE_LABELS, transfer_labels=household.TRANSFER_LABELS,
                document_titles=documents.SHORT, way_labels=documents.WAY_LABELS, role_labels=panel.ROLE_LABELS,
                stage_labels=workflow.STAGE_LABELS, category_labels=workflow.CATEGORY_LABELS,
                amount_change_labels=entitlement.AMOUNT_CHANGE_LABELS, source_label=entitlement.source_label,
                level_labels=workflow.REVIEWER_LABELS, opinion_titles=workflow.OPINION_TITLES,
                decision_labels=workflow.DECISION_LABELS)


def _case_page(case_id: int, template: str, context: Callable, forms: dict, status: int | None = None):
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    return render(template, case=case, status=status or 200, confirm=ConfirmForm(), noindex=True,
                  **_labels(), **context(sess, case, forms))


def _post(case_id: int, template: str, context: Callable, form_name: str, form, run: Callable, message: str,
          anchor: str = ""):
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    done = submit(form, lambda sess: run(sess, case, form))
    if done.ok:
        flash(message, "success")
        return redirect(_page_url(template, case.id) + anchor)
    sess.rollback()
    return _case_page(case_id, template, context, {form_name: form}, status=done.status)


PAGES = {"admin/household/assets.html": "admin.household_assets",
         "admin/household/changes.html": "admin.household_changes",
         "admin/household/documents.html": "admin.household_documents"}


def _page_url(template: str, case_id: int) -> str:
    return url_for(PAGES[template], case_id=case_id)


# --- 7. assets and 核对 ---------------------------------------------------------------------------------------

ASSETS = "admin/household/assets.html"


def _assets_context(sess, case, forms):
    verification_form = forms.get("verification_form") or VerificationForm(formdata=None)
    if verification_form.requested_on.data is None:
        verification_form.requested_on.data = clock.today()
    result_form = forms.get("result_form") or ResultForm(formdata=None)
    if result_form.result_on.data is None:
        result_form.result_on.data = clock.today()
    computation = entitlement.compute_for(sess, case)
    return dict(assets=assets.assets_of(sess, case), verifications=assets.verifications(sess, case),
                check=assets.asset_check(sess, case, computation), computation=computation,
                asset_form=forms.get("asset_form") or AssetForm(formdata=None),
                verification_form=verification_form, result_form=result_form,
                result_for=forms.get("result_for"),
                discretion_form=forms.get("discretion_form") or DiscretionForm(formdata=None),
                may_record=assets.RECORD.allows(current_user, case),
                may_request=assets.REQUEST.allows(current_user, case),
                may_result=assets.RESULT.allows(current_user, case),
                may_discretion=assets.DISCRETION.allows(current_user, case),
                attachment_title=lambda v: assets.attachment_title(sess, v))


@bp.get("/cases/<int:case_id>/assets", endpoint="household_assets")
@login_required
def household_assets(case_id: int):
    return _case_page(case_id, ASSETS, _assets_context, {})


@bp.post("/cases/<int:case_id>/assets")
@login_required
def household_asset_add(case_id: int):
    def run(sess, case, f):
        return assets.add_asset(sess, current_user, case, kind=f.kind.data, description=f.description.data,
                                units=f.units.data, area=f.area.data, value=f.value.data)

    return _post(case_id, ASSETS, _assets_context, "asset_form", AssetForm(), run, _("资产已登记。"), "#assets")


@bp.post("/cases/<int:case_id>/assets/<int:asset_id>/delete")
@login_required
def household_asset_delete(case_id: int, asset_id: int):
    return _post(case_id, ASSETS, _assets_context, "asset_form", ConfirmForm(),
                 lambda sess, case, f: assets.remove_asset(sess, current_user, case, asset_id),
                 _("已删除该资产记录。"), "#assets")


@bp.post("/cases/<int:case_id>/verifications")
@login_required
def household_verification_add(case_id: int):
    def run(sess, case, f):
        return assets.request_verification(sess, current_user, case, requested_on=f.requested_on.data,
                                           authorised_on=f.authorised_on.data, agencies=list(f.agencies.data or []) + lines(f.other_agencies.data))

    return _post(case_id, ASSETS, _assets_context, "verification_form", VerificationForm(), run,
                 _("已发起家庭经济状况核对。"), "#verifications")


@bp.post("/cases/<int:case_id>/verifications/<int:verification_id>/result")
@login_required
def household_verification_result(case_id: int, verification_id: int):
    def run(sess, case, f):
        upload = request.files.get("document")
        data = upload.read() if upload and upload.filename else None
        return assets.record_result(sess, current_user, case, verification_id, result=f.result.data,
                                    result_on=f.result_on.data, findings=f.findings.data, document=data,
                                    filename=upload.filename if upload else "",
                                    media_dir=current_app.config["MEDIA_DIR"])

    form = ResultForm()
    return _post(case_id, ASSETS, lambda s, c, forms: _assets_context(s, c, {**forms, "result_for": verification_id}),
                 "result_form", form, run, _("核对结果已登记。"), "#verifications")


@bp.post("/cases/<int:case_id>/asset-discretion")
@login_required
def household_discretion(case_id: int):
    return _post(case_id, ASSETS, _assets_context, "discretion_form", DiscretionForm(),
                 lambda sess, case, f: assets.record_discretion(sess, current_user, case, f.text.data),
                 _("酌情决定已记入档案。"), "#check")


@bp.route("/household/asset-limits", methods=["GET", "POST"], endpoint="household_limits")
@login_required
def household_limits():
    sess = db.session()
    county = scope.county_of(current_user.region)
    limits = assets.limits_for(sess, county)
    form = LimitsForm(obj=limits) if request.method == "GET" else LimitsForm()
    if request.method == "GET" and limits is not None:
        form.housing_area_per_person.data = str(limits.housing_area_per_person)
        form.deposits_per_person.data = str(limits.deposits_per_person)
    owner = scope.owns_county_settings(current_user, county)
    if request.method == "POST" and not owner:
        scope.require_county_settings_owner(current_user, county, assets.LIMITS_OWNER)

    def run(sess):
        return assets.set_limits(sess, current_user, scope.county_of(current_user.region),
                                 housing_units=form.housing_units.data,
                                 housing_area_per_person=form.housing_area_per_person.data,
                                 vehicles=form.vehicles.data, deposits_per_person=form.deposits_per_person.data,
                                 business_allowed=form.business_allowed.data)

    done = submit(form, run)
    if done.ok:
        flash(_("资产核对标准已保存。"), "success")
        return redirect(url_for("admin.household_limits"))
    return render("admin/household/limits.html", form=form, limits=limits, county=county, owner=owner,
                  status=done.status)


@bp.get("/household/marginal", endpoint="household_marginal")
@login_required
def household_marginal():
    sess = db.session()
    items = [(case, entitlement.compute_for(sess, case)) for case in assets.marginal_households(sess, current_user)]
    return render("admin/household/marginal.html", items=items, **_labels())


# --- 6. member changes and transfer ----------------------------------------------------------------------------

CHANGES = "admin/household/changes.html"


def _changes_context(sess, case, forms):
    join = forms.get("join_form") or MemberJoinForm(formdata=None)
    leave = forms.get("leave_form") or MemberLeaveForm(formdata=None)
    move = forms.get("transfer_form") or TransferForm(formdata=None)
    for f in (join.happened_on, leave.happened_on, move.moved_on):
        if f.data is None:
            f.data = clock.today()
    leave.member_id.choices = [SelectChoice(m.id, f"{m.name}（{m.relation}）") for m in case.members
                               if m.position > 0]
    may_transfer = household.TRANSFER.allows(current_user, case)
    move.to_region_id.choices = [SelectChoice(r.id, r.full_name) for r in household.transfer_targets(
        sess, current_user, case)] if may_transfer else []
    proposed = [p for p in reviews.open_proposals(sess, case) if p.source == ProposalSource.member_change]
    return dict(join_form=join, leave_form=leave, transfer_form=move, proposed=proposed,
                changes=household.member_changes(sess, case), transfers=household.transfers(sess, case),
                may_change=household.MEMBER_CHANGE.allows(current_user, case), may_transfer=may_transfer)


@bp.get("/cases/<int:case_id>/changes", endpoint="household_changes")
@login_required
def household_changes(case_id: int):
    return _case_page(case_id, CHANGES, _changes_context, {})


@bp.post("/cases/<int:case_id>/changes/join")
@login_required
def household_member_join(case_id: int):
    def run(sess, case, f):
        return household.member_joins(sess, current_user, case, kind=f.kind.data,
                                      happened_on=f.happened_on.data, reason=f.reason.data, name=f.name.data,
                                      relation=f.relation.data, age=f.age.data, id_number=f.id_number.data,
                                      work_capacity=WorkCapacity.none)

    return _post(case_id, CHANGES, _changes_context, "join_form", MemberJoinForm(), run,
                 _("成员变化已登记。在保家庭的保障金额如有变化，已报县民政局决定。"), "#changes")


@bp.post("/cases/<int:case_id>/changes/leave")
@login_required
def household_member_leave(case_id: int):
    form = MemberLeaveForm()
    sess = db.session()
    form.member_id.choices = [SelectChoice(m.id, m.name) for m in cases.get_case(sess, current_user, case_id).members]

    def run(sess, case, f):
        return household.member_leaves(sess, current_user, case, f.member_id.data, kind=f.kind.data,
                                       happened_on=f.happened_on.data, reason=f.reason.data)

    return _post(case_id, CHANGES, _changes_context, "leave_form", form, run,
                 _("成员变化已登记。在保家庭的保障金额如有变化，已报县民政局决定。"), "#changes")


@bp.post("/cases/<int:case_id>/transfer")
@login_required
def household_transfer(case_id: int):
    form = TransferForm()
    form.to_region_id.choices = [SelectChoice(r.id, r.name) for r in scope.regions_in_scope(db.session(), current_user)]

    def run(sess, case, f):
        target = chosen_region(sess, f.to_region_id.data)
        return household.transfer(sess, current_user, case, to_region_id=target.id if target else None,
                                  kind=f.kind.data, moved_on=f.moved_on.data, reason=f.reason.data,
                                  address=f.address.data, public_address=f.public_address.data)

    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    household.require(current_user, case, household.TRANSFER)  # refused before the form is read
    done = submit(form, lambda sess: run(sess, case, form))
    if done.ok:
        flash(_("已迁移到 %(region)s，由迁入社区接管档案。", region=case.region.name), "success")
        # The actor keeps the case only if it is still in their scope (a town moving it to another town: not).
        if scope.can_see(current_user, case.region):
            return redirect(url_for("admin.case_detail", case_id=case.id))
        return redirect(url_for("admin.cases"))
    sess.rollback()
    return _case_page(case_id, CHANGES, _changes_context, {"transfer_form": form}, status=done.status)


# --- 8. 文书 ----------------------------------------------------------------------------------------------------

DOCUMENTS = "admin/household/documents.html"


def _documents_context(sess, case, forms):
    form = forms.get("delivery_form") or DeliveryForm(formdata=None)
    if form.delivered_on.data is None:
        form.delivered_on.data = clock.today()
    return dict(documents=documents.documents_of(sess, case), may_issue=documents.may_issue(current_user, case),
                may_deliver=documents.DELIVER.allows(current_user, case), delivery_form=form,
                delivery_for=forms.get("delivery_for"))


@bp.get("/cases/<int:case_id>/documents", endpoint="household_documents")
@login_required
def household_documents(case_id: int):
    return _case_page(case_id, DOCUMENTS, _documents_context, {})


@bp.post("/cases/<int:case_id>/documents/<kind>")
@login_required
def household_document_issue(case_id: int, kind: str):
    if kind not in DocumentKind.__members__:
        raise Invalid(_("请选择文书类型。"))
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    form = ConfirmForm()
    done = submit(form, lambda sess: documents.issue(sess, current_user, case, DocumentKind(kind)))
    if done.ok:
        flash(_("已出具 %(number)s。", number=done.value.number), "success")
        return redirect(url_for("admin.household_document", document_id=done.value.id))
    if done.status == 200:
        return redirect(url_for("admin.household_documents", case_id=case_id))
    for message in form.form_errors:
        flash(message, "error")
    sess.rollback()
    return _case_page(case_id, DOCUMENTS, _documents_context, {}, status=done.status)


@bp.get("/documents/<int:document_id>", endpoint="household_document")
@login_required
def household_document(document_id: int):
    document = documents.get_document(db.session(), current_user, document_id)
    return render("admin/household/document_print.html", document=document, way_labels=documents.WAY_LABELS,
                  noindex=True)


@bp.post("/documents/<int:document_id>/deliveries", endpoint="household_delivery_add")
@login_required
def household_delivery_add(document_id: int):
    sess = db.session()
    document = documents.get_document(sess, current_user, document_id)
    case_id = document.case_id
    form = DeliveryForm()
    done = submit(form, lambda sess: documents.record_delivery(
        sess, current_user, document, delivered_on=form.delivered_on.data, way=form.way.data,
        recipient=form.recipient.data, delivered_by=form.delivered_by.data, note=form.note.data))
    if done.ok:
        flash(_("送达情况已记入档案。"), "success")
        return redirect(url_for("admin.household_documents", case_id=case_id) + "#documents")
    sess.rollback()
    return _case_page(case_id, DOCUMENTS, _documents_context,
                      {"delivery_form": form, "delivery_for": document_id}, status=done.status)


# --- 9. the review panel and 质询 ------------------------------------------------------------------------------

@bp.get("/panels/", endpoint="panels")
@login_required
def panels():
    sess = db.session()
    communities = cases.communities_in_scope(sess, current_user)
    today = clock.today()
    return render("admin/household/panels.html",
                  rows=[(c, len(panel.members(sess, c, on=today))) for c in communities])


def _panel_page(region_id: int, status: int = 200, **forms):
    sess = db.session()
    region = panel.get_community(sess, current_user, region_id)
    today = clock.today()
    member_form = forms.get("member_form") or PanelMemberForm(formdata=None)
    if member_form.term_start.data is None:
        member_form.term_start.data = today
    meeting_form = forms.get("meeting_form") or _meeting_form(sess, region, formdata=None)
    if meeting_form.held_on.data is None:
        meeting_form.held_on.data = today
    return render("admin/household/panel.html", region=region, members=panel.members(sess, region), today=today,
                  meetings=panel.meetings(sess, region), member_form=member_form, meeting_form=meeting_form,
                  may_manage=current_user.role in panel.MANAGERS, role_labels=panel.ROLE_LABELS,
                  confirm=ConfirmForm(), status=status)


def _meeting_form(sess, region, **kwargs) -> MeetingForm:
    form = MeetingForm(**kwargs)
    choices = [SelectChoice(m.id, f"{m.name}（{panel.ROLE_LABELS[m.role]}）") for m in panel.members(sess, region)]
    form.members.choices = choices
    form.attendees.choices = list(choices)
    return form


@bp.get("/panels/<int:region_id>", endpoint="panel")
@login_required
def panel_page(region_id: int):
    return _panel_page(region_id)


@bp.post("/panels/<int:region_id>/members", endpoint="panel_member_add")
@login_required
def panel_member_add(region_id: int):
    sess = db.session()
    region = panel.get_community(sess, current_user, region_id)
    form = PanelMemberForm()
    done = submit(form, lambda sess: panel.add_member(
        sess, current_user, region, name=form.name.data, role=form.role.data,
        term_start=form.term_start.data, term_end=form.term_end.data, note=form.note.data))
    if done.ok:
        flash(_("已添加评议小组成员。"), "success")
        return redirect(url_for("admin.panel", region_id=region_id))
    sess.rollback()
    return _panel_page(region_id, status=done.status, member_form=form)


@bp.post("/panels/members/<int:member_id>/end", endpoint="panel_member_end")
@login_required
def panel_member_end(member_id: int):
    done = perform(lambda sess: panel.end_term(sess, current_user, member_id))
    flash(_("该成员的任期已结束。"), "success")
    return redirect(url_for("admin.panel", region_id=done.value.region_id))


@bp.post("/panels/<int:region_id>/meetings", endpoint="panel_meeting_add")
@login_required
def panel_meeting_add(region_id: int):
    sess = db.session()
    region = panel.get_community(sess, current_user, region_id)
    form = _meeting_form(sess, region)
    done = submit(form, lambda sess: panel.convene(
        sess, current_user, region, held_on=form.held_on.data, location=form.location.data,
        member_ids=list(form.members.data or []), attendee_ids=list(form.attendees.data or []),
        other_attendees=lines(form.other_attendees.data)))
    if done.ok:
        flash(_("评议会议已建立；在各户的“民主评议”中选择这次会议记录评议结果。"), "success")
        return redirect(url_for("admin.panel", region_id=region_id))
    sess.rollback()
    return _panel_page(region_id, status=done.status, meeting_form=form)


QUESTIONS = "admin/household/questions.html"
PAGES[QUESTIONS] = "admin.household_questions"


def _questions_context(sess, case, forms):
    form = forms.get("question_form") or QuestionForm(formdata=None)
    form.meeting_id.choices = [SelectChoice(m.id, f"{m.held_on.isoformat()} {m.location}")
                               for m in panel.meetings(sess, case.region)]
    return dict(question_form=form, questions=panel.questions(sess, case),
                may_ask=panel.QUESTION.allows(current_user, case))


@bp.get("/cases/<int:case_id>/questions", endpoint="household_questions")
@login_required
def household_questions(case_id: int):
    return _case_page(case_id, QUESTIONS, _questions_context, {})


@bp.post("/cases/<int:case_id>/questions")
@login_required
def household_question_add(case_id: int):
    form = QuestionForm()
    sess = db.session()
    form.meeting_id.choices = [SelectChoice(m.id, "") for m in panel.meetings(
        sess, cases.get_case(sess, current_user, case_id).region)]

    def run(sess, case, f):
        return panel.add_question(sess, current_user, case, meeting_id=f.meeting_id.data, asked_by=f.asked_by.data,
                                  question=f.question.data, answer=f.answer.data, answered_by=f.answered_by.data)

    return _post(case_id, QUESTIONS, _questions_context, "question_form", form, run, _("质询和答复已记录。"),
                 "#questions")


# --- 10. the archive as a whole ----------------------------------------------------------------------------------

@bp.get("/cases/<int:case_id>/archive/print", endpoint="household_archive_print")
@login_required
def household_archive_print(case_id: int):
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    return render("admin/household/archive_print.html", **archive.whole(sess, case), **_labels(), noindex=True)


@bp.get("/cases/<int:case_id>/archive.zip", endpoint="household_archive_zip")
@login_required
def household_archive_zip(case_id: int):
    from flask import render_template, send_file

    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    whole = archive.whole(sess, case)
    html = render_template("admin/household/archive_print.html", **whole, **_labels(), noindex=True, standalone=True)
    docs = {d.id: render_template("admin/household/document_print.html", document=d, way_labels=documents.WAY_LABELS,
                                  noindex=True, standalone=True) for d in whole["documents"]}
    data = archive.zip_archive(sess, current_user, case, html=html, documents=docs,
                               media_dir=current_app.config["MEDIA_DIR"])
    perform(lambda sess: archive.record_download(sess, current_user, case))
    import io

    response = send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True,
                         download_name=safe_download_name(f"{case.number}-一户一档.zip"))
    return no_store(response)


@bp.get("/cabinet/", endpoint="household_cabinet")
@login_required
def household_cabinet():
    sess = db.session()
    return render("admin/household/cabinet.html", cabinets=archive.cabinets(sess, current_user), **_labels())

