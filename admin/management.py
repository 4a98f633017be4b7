"""Staff screens of dynamic management (issue 10, items 1–5 and 11): the review worklist, the review of a
household, the county's decisions on proposals, deaths, monthly contacts, re-check campaigns and 提标.

Thin views: parse, call one function of dibao.reviews / dibao.raises, commit once (dibao.web), render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin import cases as case_views
from admin.forms import ConfirmForm, lines
from admin.forms.management import (
    CampaignForm,
    CheckForm,
    ContactForm,
    DeathForm,
    DecideForm,
    ReviewForm,
    SittingForm,
    TownSittingForm,
)
from dibao import cases, clock, db, entitlement, notices, raises, reviews, workflow
from dibao.errors import Forbidden, Invalid, parse_record_id
from dibao.models import Role
from dibao.models.management import ProposalKind, RaiseStatus
from dibao.text import clean_line
from dibao.web import int_arg, perform, render, submit
from dibao.workflow import Action

# The case page's "定期复核" goes to the review with its checklist and proposals.
case_views.ACTION_ENDPOINTS[Action.periodic_review] = ("admin.case_review", False)


@bp.app_template_global()
def record_label(kind) -> str:
    """The heading of a written record in a household's archive."""
    return str(reviews.RECORD_LABELS.get(kind, getattr(kind, "value", kind)))


# --- 1. the worklist ------------------------------------------------------------------------------------

@bp.get("/reviews/", endpoint="reviews")
@login_required
def reviews_list():
    sess = db.session()
    bucket = request.args.get("bucket", "due")
    if bucket not in reviews.BUCKETS:
        bucket = "due"
    category = int_arg("category")
    community = int_arg("community")
    work = reviews.worklist(sess, current_user, bucket=bucket, category=category if category in (1, 2, 3, 4) else None,
                            community_id=community)
    return render("admin/management/reviews.html", fragment="admin/management/_worklist.html", work=work,
                  buckets=reviews.BUCKETS, category_labels=workflow.CATEGORY_LABELS, community=community,
                  communities=cases.communities_in_scope(sess, current_user), today=clock.today(),
                  kind_labels=reviews.PROPOSAL_KIND_LABELS, source_labels=reviews.PROPOSAL_SOURCE_LABELS,
                  raises_pending=raises.pending_count(sess, current_user))


@bp.route("/cases/<int:case_id>/review", methods=["GET", "POST"])
@login_required
def case_review(case_id: int):
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    workflow.require(current_user, case, Action.periodic_review)
    form = ReviewForm()
    if request.method == "GET":
        form.category.data = case.category
        form.checked.data = ["members", "income"]

    def run(sess):
        return reviews.review(sess, current_user, case, checked=form.checked.data or [], findings=form.findings.data,
                              category=form.category.data, outcome=form.outcome.data or "continue",
                              amount=form.amount.data,
                              reason=form.reason.data or "")

    done = submit(form, run)
    if done.ok:
        flash(_("复核情况已记录，下次复核日期已按分类更新。"), "success")
        return redirect(url_for("admin.case_detail", case_id=case.id))
    sess.refresh(case)
    return render("admin/management/review.html", form=form, case=case, status=done.status,
                  computation=entitlement.compute_for(sess, case), proposals=reviews.open_proposals(sess, case),
                  kind_labels=reviews.PROPOSAL_KIND_LABELS, source_labels=reviews.PROPOSAL_SOURCE_LABELS,
                  category_labels=workflow.CATEGORY_LABELS)


@bp.route("/proposals/<int:proposal_id>", methods=["GET", "POST"])
@login_required
def proposal_decide(proposal_id: int):
    sess = db.session()
    proposal = reviews.get_proposal(sess, current_user, proposal_id)
    form = DecideForm()
    done = submit(form, lambda sess: reviews.decide(sess, current_user, proposal, confirm=form.decision.data != "decline",
                                                    reason=form.reason.data))
    if done.ok:
        flash(_("决定已记录。"), "success")
        return redirect(url_for("admin.case_detail", case_id=proposal.case_id))
    return render("admin/management/decide.html", form=form, proposal=proposal, case=proposal.case,
                  status=done.status, kind_labels=reviews.PROPOSAL_KIND_LABELS,
                  source_labels=reviews.PROPOSAL_SOURCE_LABELS, ProposalKind=ProposalKind,
                  may_decide=current_user.role.value == "county_approver")


# --- 4. a death in the household ------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/death", methods=["GET", "POST"])
@login_required
def case_death(case_id: int):
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    workflow.require(current_user, case, Action.periodic_review)
    form = DeathForm()
    form.member_id.choices = [SelectChoice(m.id, f"{m.name}（{m.relation}）") for m in case.members]
    if request.method == "GET":
        form.died_on.data = clock.today()
    done = submit(form, lambda sess: reviews.record_death(sess, current_user, case, member_id=form.member_id.data,
                                                          died_on=form.died_on.data, note=form.note.data or ""))
    if done.ok:
        flash(_("已记录；该户已列入到期待复核，请重新核查家庭人口和保障金额。"), "success")
        return redirect(url_for("admin.case_detail", case_id=case.id))
    return render("admin/cases/step.html", form=form, case=case, status=done.status, title=_("记录家庭成员死亡"),
                  intro=_("记录后该户列入“到期待复核”，复核时核实家庭人口、收入并重新核定金额。"), held=False,
                  stage_labels=workflow.STAGE_LABELS, county_visit=None)


# --- 3. monthly contact ---------------------------------------------------------------------------------

@bp.post("/cases/<int:case_id>/contacts")
@login_required
def case_contact(case_id: int):
    sess = db.session()
    case = cases.get_case(sess, current_user, case_id)
    form = ContactForm()
    done = submit(form, lambda sess: reviews.log_contact(sess, current_user, case, contacted_on=form.contacted_on.data,
                                                         way=form.way.data, note=form.note.data or ""))
    # The form is on the case page and on each row of the contacts worklist (back=contacts, with its month).
    back = request.form.get("back") == "contacts"
    month = _month(request.form.get("month", ""))
    if done.ok:
        flash(_("已记录本次联系。"), "success")
        if back:
            return redirect(url_for("admin.contacts", month=month.strftime("%Y-%m") if month else None))
        return redirect(url_for("admin.case_detail", case_id=case.id) + "#manage")
    # Refused: the page it came from again, with what was typed and every problem beside its field.
    sess.refresh(case)
    if back:
        return _contacts_page(month, failed=(case, form), status=done.status)
    return render("admin/cases/detail.html", status=done.status,
                  **case_views._detail_context(sess, case, contact_form=form))


def _month(text: str) -> date | None:
    """The first day of the month "2026-03" names; None for nothing or anything else (also December 9999, whose
    next month no date holds)."""
    try:
        day = date.fromisoformat(text + "-01") if text else None
    except ValueError:
        return None
    return day if day is None or day.year < date.max.year else None


@bp.get("/contacts/")
@login_required
def contacts():
    month = request.args.get("month", "")
    day = _month(month)
    if month and day is None:
        raise Invalid(_("月份格式不对。"), field="month")
    return _contacts_page(day)


def _contacts_page(day: date | None, failed: tuple | None = None, status: int = 200):
    """The month's contacts worklist. ``failed``: a case and its refused contact form, shown on its row (or above
    the table when the household is not on the list) with what was typed and its problems."""
    view = reviews.completeness(db.session(), current_user, day or clock.today())
    failed_case, failed_form = failed or (None, None)
    return render("admin/management/contacts.html", status=status, view=view,
                  form=ContactForm(formdata=None, contacted_on=clock.today()), failed_case=failed_case,
                  failed_form=failed_form, failed_listed=failed_case in view.missing,
                  may_log=current_user.role.value == "community_staff", way_labels=reviews.CONTACT_WAY_LABELS)


# --- 2. re-check campaigns ------------------------------------------------------------------------------

@bp.route("/campaigns/", methods=["GET", "POST"])
@login_required
def campaigns():
    sess = db.session()
    form = CampaignForm()
    done = submit(form, lambda sess: reviews.open_campaign(sess, current_user, title=form.title.data,
                                                           due_on=form.due_on.data))
    if done.ok:
        flash(_("已开始全面入户核查。"), "success")
        return redirect(url_for("admin.campaign", campaign_id=done.value.id))
    items = reviews.campaigns(sess, current_user)
    return render("admin/management/campaigns.html", form=form, items=items, status=done.status,
                  may_open=current_user.role in reviews.CAMPAIGN_ROLES,
                  totals={c.id: reviews.progress(sess, current_user, c).totals() for c in items})


@bp.get("/campaigns/<int:campaign_id>")
@login_required
def campaign(campaign_id: int):
    sess = db.session()
    item = reviews.get_campaign(sess, current_user, campaign_id)
    view = reviews.progress(sess, current_user, item, community_id=int_arg("community"),
                            pending_only=request.args.get("pending") == "1")
    return render("admin/management/campaign.html", campaign=item, view=view, form=CheckForm(formdata=None),
                  confirm=ConfirmForm(), may_check=current_user.role.value in ("community_staff", "town_reviewer"),
                  may_close=current_user.role in reviews.CAMPAIGN_ROLES and item.closed_on is None
                  and item.region.path.startswith(current_user.region.path))


@bp.post("/campaigns/<int:campaign_id>/households/<int:case_id>")
@login_required
def campaign_check(campaign_id: int, case_id: int):
    sess = db.session()
    item = reviews.get_campaign(sess, current_user, campaign_id)
    form = CheckForm()
    done = submit(form, lambda sess: reviews.record_check(sess, current_user, item, case_id, findings=form.findings.data))
    if done.ok:
        flash(_("核查情况已记入该户档案。"), "success")
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
    return redirect(url_for("admin.campaign", campaign_id=campaign_id) + f"#h{case_id}")


@bp.post("/campaigns/<int:campaign_id>/close")
@login_required
def campaign_close(campaign_id: int):
    item = reviews.get_campaign(db.session(), current_user, campaign_id)
    perform(lambda sess: reviews.close_campaign(sess, current_user, item))
    flash(_("核查已结束。"), "success")
    return redirect(url_for("admin.campaign", campaign_id=campaign_id))


# --- 5. 提标 -----------------------------------------------------------------------------------------------

@bp.get("/raises/")
@login_required
def raises_list():
    sess = db.session()
    return render("admin/management/raises.html", items=raises.listing(sess, current_user),
                  status_labels=raises.STATUS_LABELS, RaiseStatus=RaiseStatus)


@bp.get("/raises/<int:raise_id>")
@login_required
def raise_detail(raise_id: int):
    sess = db.session()
    item = raises.get_raise(sess, current_user, raise_id)
    view = raises.preview(sess, current_user, standard_id=item.standard_id)
    return render("admin/management/raise.html", item=item, view=view, confirm=ConfirmForm(),
                  status_labels=raises.STATUS_LABELS, today=clock.today())


@bp.post("/raises/<int:raise_id>/confirm")
@login_required
def raise_confirm(raise_id: int):
    item = raises.get_raise(db.session(), current_user, raise_id)
    done = perform(lambda sess: raises.confirm(sess, current_user, item))
    flash(_("已确认提标，正在逐户调整金额。"), "success")
    return redirect(url_for("admin.job", job_id=done.value.id))


# --- 11. one sitting decides several households ---------------------------------------------------------

def _number(name: str) -> int | None:
    """A vote count typed in the sitting's table: ASCII digits only (``isdigit`` alone admits ³ and ①, which
    ``int`` refuses)."""
    raw = (request.form.get(name) or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 4 else None


def _typed(name: str) -> str:
    """A text field of the sitting's table (read outside the form, one per household): cleaned as a form's are."""
    return clean_line(request.form.get(name, ""))


@bp.route("/sittings/community", methods=["GET", "POST"])
@login_required
def community_sitting():
    sess = db.session()
    form = SittingForm()
    if request.method == "GET":
        form.held_on.data = clock.today()
    candidates = reviews.sitting_candidates(sess, current_user)
    chosen = [i for i in map(parse_record_id, request.form.getlist("include")) if i is not None]
    results = [reviews.SittingResult(cid, request.form.get(f"decision-{cid}", ""), _number(f"for-{cid}"),
                                     _number(f"against-{cid}"), _number(f"abstain-{cid}"),
                                     _typed(f"opinion-{cid}")) for cid in chosen]
    done = submit(form, lambda sess: reviews.community_sitting(
        sess, current_user, held_on=form.held_on.data, location=form.location.data or "",
        panel=lines(form.panel.data), attendees=lines(form.attendees.data), results=results,
        levels=case_views._levels()))
    if done.ok:
        flash(_("评议结果已记录，共 %(n)d 户。", n=len(done.value)), "success")
        return redirect(url_for("admin.community_sitting"))
    return render("admin/management/sitting.html", form=form, candidates=candidates, chosen=set(chosen),
                  values=request.form, status=done.status)


@bp.route("/sittings/town", methods=["GET", "POST"])
@login_required
def town_sitting():
    form = TownSittingForm()
    if request.method == "GET":
        if current_user.role != Role.town_reviewer:
            raise Forbidden(_l("乡镇会议研究结果由乡镇（街道）审核人员登记。"))
        form.held_on.data = clock.today()
    candidates = reviews.town_sitting_candidates(db.session(), current_user)
    chosen = [i for i in map(parse_record_id, request.form.getlist("include")) if i is not None]
    results = [reviews.TownSittingResult(cid, request.form.get(f"decision-{cid}", ""), _typed(f"opinion-{cid}"),
                                         _typed(f"override-{cid}"), _typed(f"tier-{cid}"), _typed(f"tier-reason-{cid}"))
               for cid in chosen]
    done = submit(form, lambda sess: reviews.town_sitting(
        sess, current_user, held_on=form.held_on.data, title=form.title.data or "",
        participants=lines(form.participants.data), results=results, levels=case_views._levels()))
    if done.ok:
        flash(_("乡镇会议研究结果已记录，共 %(n)d 户。", n=len(done.value)), "success")
        return redirect(url_for("admin.town_sitting"))
    # 分档 counties: each household's tiers to propose from (the standard in force for its community)
    tiers = {c.id: computation.tiers for c in candidates
             if (computation := entitlement.compute_for(db.session(), c)).tiered}
    return render("admin/management/town_sitting.html", form=form, candidates=candidates, chosen=set(chosen),
                  values=request.form, status=done.status, tiers=tiers)


# --- 11. the next step and the week ---------------------------------------------------------------------

@dataclass(frozen=True)
class NextStep:
    text: str
    url: str | None = None
    label: str | None = None


def next_step(case) -> NextStep | None:
    """What happens next on a case when the page's action buttons do not say it: a case waiting for its notice links
    to composing that notice (for its publisher), one in notice says when it closes, otherwise whose turn it is."""
    stage = case.stage
    waiting = {s: level for level, s in workflow.AWAITING_NOTICE.items()}
    if stage in waiting:
        level = waiting[stage]
        if current_user.role in notices.PUBLISHER_ROLES and current_user.region.level == level:
            return NextStep(_("下一步：编制%(level)s公示。", level=workflow.REVIEWER_LABELS[level]),
                            url_for("admin.notice_compose", case_ids=case.id), _("编制公示"))
        return NextStep(_("下一步：等待%(level)s发布公示。", level=workflow.REVIEWER_LABELS[level]))
    if stage in workflow.IN_NOTICE.values():
        return NextStep(_("公示中：公示期满且无异议后自动进入下一步。"))
    if stage.value == "town_decision" and workflow.may(current_user, case, Action.town_decision):
        return NextStep(_("下一步：乡镇党委会议研究。同一次会议研究多户的，可以一并记录。"), url_for("admin.town_sitting"),
                        _("一次会议研究多户"))
    if stage in workflow.STAGE_LEVEL and not workflow.available_actions(current_user, case):
        level = workflow.STAGE_LEVEL[stage]
        return NextStep(_("下一步：等待%(level)s办理。", level=workflow.REVIEWER_LABELS[level]))
    if stage.value == "active" and case.next_review_due and case.next_review_due <= clock.today() \
            and workflow.may(current_user, case, Action.periodic_review):
        return NextStep(_("下一步：该户已到复核日期，请定期复核。"), url_for("admin.case_review", case_id=case.id),
                        _("定期复核"))
    return None


# --- the case page's panel (included by templates/admin/cases/detail.html) ---------------------------------

@bp.context_processor
def _management_panel():
    def management_panel(case, contact_form=None):
        """``contact_form``: the contact form refused by admin.case_contact, with what was typed and its problems."""
        sess = db.session()
        return dict(
            proposals=reviews.open_proposals(sess, case),
            contacts=reviews.contacts_for(sess, case),
            campaign_items=reviews.campaign_items_for(sess, case),
            contact_form=contact_form or ContactForm(formdata=None, contacted_on=clock.today()),
            contact_refused=contact_form is not None,
            may_review=workflow.may(current_user, case, Action.periodic_review),
            may_contact=current_user.role.value == "community_staff" and case.stage.value == "active",
            kind_labels=reviews.PROPOSAL_KIND_LABELS, source_labels=reviews.PROPOSAL_SOURCE_LABELS,
            way_labels=reviews.CONTACT_WAY_LABELS, today=clock.today(), next=next_step(case),
        )

    def week_ahead():
        return reviews.week_ahead(db.session(), current_user)

    return {"management_panel": management_panel, "week_ahead": week_ahead}
