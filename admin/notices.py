"""Staff side of the notices (张榜公示): compose, preview per channel, publish or schedule, withdraw; the
disclosure policy editor and the 四公开 content pages (admin only)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import SimpleNamespace

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from admin import bp
from admin.forms.notices import ComposeForm, ContentForm, WithdrawForm
from dibao import clock, content, db, disclosure, i18n, notices, scope, workflow
from dibao.disclosure import Channel, Field
from dibao.errors import Forbidden, NotFound, parse_record_id
from dibao.web import render, submit


def _opens_at_utc(value: datetime | None) -> datetime | None:
    """The form's local wall-clock time → an aware UTC instant (None = now)."""
    if value is None:
        return None
    return value.replace(tzinfo=clock.local_zone()).astimezone(clock.now().tzinfo)


def _chosen(form: ComposeForm) -> list[str]:
    """The households as sent: the compose page's checkboxes, or the preview's list carried to the publish."""
    return form.case_id.data or (form.case_ids.data or "").split(",")


def _draft(sess, form: ComposeForm, *, scheduled: bool = False) -> notices.Draft:
    """The board as the form composed it, every problem at once (the preview's and the publish's one check)."""
    return notices.compose(sess, current_user, case_ids=_chosen(form), title=form.title.data,
                           window_days=form.window_days.data, opens_at=_opens_at_utc(form.opens_at.data),
                           scheduled=scheduled, minimum_days=_window_days())


# --- list and detail -----------------------------------------------------------------------------------

@bp.get("/notices/", endpoint="notices")
@login_required
def notices_list():
    status = request.args.get("status")
    try:
        wanted = notices.Status(status) if status else None
    except ValueError:
        wanted = None
    batches = notices.staff_batches(db.session(), current_user, wanted)
    now = clock.now()
    rows = []
    for b in batches:  # a batch's households: the user's part of it, as its page lists them
        shown = len(notices.visible_entries(current_user, b))
        rows.append({"batch": b, "status": notices.batch_status(b, now), "time_left": notices.time_left(b.closes_at, now),
                     "households": shown, "partial": shown < len(b.entries)})
    can_publish = current_user.role in notices.PUBLISHER_ROLES
    return render("admin/notices/list.html", rows=rows, current=wanted, statuses=notices.STATUS_LABELS,
                  level_labels=workflow.REVIEWER_LABELS, can_publish=can_publish)


@bp.get("/notices/<public_id>")
@login_required
def notice_detail(public_id: str):
    sess = db.session()
    batch = notices.get_batch(sess, current_user, public_id)
    now = clock.now()
    # A community's staff see their own households of a town or county board, not their neighbours'.
    visible = notices.visible_entries(current_user, batch)
    entries = [{"entry": e, "status": notices.entry_status(e, now)} for e in visible]
    # The withdraw forms only for whom the domain lets withdraw (the same rule the POST meets), else who may.
    return render("admin/notices/detail.html", batch=batch, entries=entries, state=notices.batch_status(batch, now),
                  statuses=notices.STATUS_LABELS, level_label=workflow.REVIEWER_LABELS[batch.level],
                  time_left=notices.time_left(batch.closes_at, now), form=WithdrawForm(),
                  stage_labels=workflow.STAGE_LABELS, may_withdraw=notices.may_withdraw(current_user, batch),
                  withdraw_refused=notices.WITHDRAW_REFUSED, partial=len(visible) < len(batch.entries))


# --- compose → preview → publish / schedule -------------------------------------------------------------

def _window_days() -> int:
    """The deployment's notice window: the shortest a board may be published for (dibao.notices.check_window)."""
    return current_app.config["NOTICE_WINDOW_DAYS"]


def _compose(form: ComposeForm, selected: set[int], status: int = 200):
    sess = db.session()
    form.case_ids.data = ""  # on this page the ticked boxes are the choice (not what a preview carried)
    level = notices.publishing_level(current_user)
    minimum = _window_days()
    # The browser's own check mirrors the domain's range; the domain still decides (a form can be posted by hand).
    form.window_days.render_kw = {"min": minimum, "max": max(notices.MAX_WINDOW_DAYS, minimum)}
    return render("admin/notices/compose.html", form=form, cases=notices.awaiting_cases(sess, current_user),
                  level=level, level_label=workflow.REVIEWER_LABELS[level], selected=selected, status=status,
                  stage_labels=workflow.STAGE_LABELS, window_days=minimum,
                  max_window_days=max(notices.MAX_WINDOW_DAYS, minimum))


def _ticked(values) -> set[int]:
    """The case ids among ``values`` (to tick their boxes again; anything else is left unticked)."""
    return {i for i in map(parse_record_id, values) if i is not None}


@bp.get("/notices/new")
@login_required
def notice_compose():
    form = ComposeForm(formdata=None, title=request.args.get("title") or notices.default_title(current_user),
                       window_days=request.args.get("window_days", type=int) or _window_days())
    return _compose(form, _ticked((request.args.get("case_ids") or "").split(",")))


@bp.post("/notices/preview")
@login_required
def notice_preview():
    """Show the board exactly as each channel will: kiosk, printed board, web, API. Nothing is written."""
    form = ComposeForm()

    def build(sess):
        draft = _draft(sess, form)  # refused here as at publishing
        return draft, notices.preview_entries(draft.cases, draft.level)

    done = submit(form, build)  # writes nothing; its domain errors go on the form like a publish's
    if not done.ok:
        return _compose(form, _ticked(_chosen(form)), done.status)
    draft, entries = done.value
    level, cases, opens_at, days = draft.level, draft.cases, draft.opens_at, draft.window_days
    sess = db.session()
    start = opens_at or clock.now()
    batch = SimpleNamespace(public_id="preview", title=draft.title, level=level, region=current_user.region,
                            opens_at=start, closes_at=start + timedelta(days=days),
                            fingerprint=_("（发布时生成）"))
    pol = disclosure.load_policy(sess, current_user.region)
    channels = {ch: disclosure.present_group(batch, entries, ch, start, pol) for ch in Channel}
    api_sample = json.dumps([{k: v for k, v in disclosure.present(e, Channel.api, pol).items() if k != "photo_key"}
                             for e in entries], ensure_ascii=False, indent=2)
    form.case_ids.data = ",".join(str(c.id) for c in cases)
    return render("admin/notices/preview.html", form=form, batch=batch, channels=channels, api_sample=api_sample,
                  channel_labels=disclosure.CHANNEL_LABELS, level_label=workflow.REVIEWER_LABELS[level],
                  count=len(cases), scheduled=opens_at is not None)


def _publish(require_schedule: bool):
    form = ComposeForm()
    done = submit(form, lambda sess: notices.publish_draft(sess, current_user,
                                                           _draft(sess, form, scheduled=require_schedule)))
    if not done.ok:
        return _compose(form, _ticked(_chosen(form)), done.status)
    batch = done.value
    if batch.opens_at > clock.now():
        flash(_("公示已排定，将于 %(when)s 自动发布。公示指纹：%(fp)s",
                when=i18n.localtime(batch.opens_at), fp=batch.fingerprint), "success")
    else:
        flash(_("公示已发布，共 %(n)s 户。公示指纹：%(fp)s", n=notices.entry_count(db.session(), batch),
                fp=batch.fingerprint), "success")
    return redirect(url_for("admin.notice_detail", public_id=batch.public_id))


@bp.post("/notices/publish")
@login_required
def notice_publish():
    return _publish(require_schedule=False)


@bp.post("/notices/schedule")
@login_required
def notice_schedule():
    return _publish(require_schedule=True)


# --- withdrawal -------------------------------------------------------------------------------------------

def _withdraw(public_id: str, entry_public_id: str | None):
    batch = notices.get_batch(db.session(), current_user, public_id)
    form = WithdrawForm()

    def change(sess):
        if entry_public_id is None:
            return notices.withdraw_batch(sess, current_user, batch, form.reason.data)
        entry = next((e for e in batch.entries if e.public_id == entry_public_id), None)
        if entry is None:
            raise NotFound(_l("没有找到该条公示。"))
        return notices.withdraw_entry(sess, current_user, entry, form.reason.data)

    try:
        done = submit(form, change)
    except Forbidden as err:  # (a stale page or a hand-made post): the message on the page, as its other refusals
        flash(str(err.message), "error")
        return redirect(url_for("admin.notice_detail", public_id=public_id))
    if done.ok:
        flash(_("已撤回，相关案件回到待公示状态。"), "success")
    else:  # the detail page has the form; its message goes there as a flash
        for message in [*form.form_errors, *form.reason.errors] or [_("请写明撤回原因。")]:
            flash(str(message), "error")
    return redirect(url_for("admin.notice_detail", public_id=public_id))


@bp.post("/notices/<public_id>/withdraw")
@login_required
def notice_withdraw(public_id: str):
    return _withdraw(public_id, None)


@bp.post("/notices/<public_id>/entries/<entry_public_id>/withdraw")
@login_required
def notice_entry_withdraw(public_id: str, entry_public_id: str):
    return _withdraw(public_id, entry_public_id)


# --- disclosure policy ---------------------------------------------------------------------------------

@bp.route("/disclosure", methods=["GET", "POST"], endpoint="disclosure")
@login_required
def disclosure_policy():
    """The county's disclosure policy: its admin changes it, everyone else in the county reads it."""
    sess = db.session()
    county = scope.county_of(current_user.region)
    form = FlaskForm()
    done = submit(form, lambda sess: disclosure.save_policy(
        sess, current_user, county,
        {ch: {f: request.form.get(f"{ch.value}-{f.value}", "") for f in Field} for ch in Channel}))
    if done.ok:
        flash(_("公开设置已保存，本县所有渠道立即生效。"), "success")
        return redirect(url_for("admin.disclosure"))
    errors = [str(e) for e in form.form_errors]
    if done.status == 400 and not errors:
        errors.append(_("表单已过期，请刷新后重试。"))
    return render("admin/notices/disclosure.html", form=form, policy=disclosure.load_policy(sess, county),
                  county=county, channels=list(Channel), fields=list(Field), modes=disclosure.FIELD_MODES,
                  channel_labels=disclosure.CHANNEL_LABELS, field_labels=disclosure.FIELD_LABELS,
                  mode_labels=disclosure.MODE_LABELS, never=disclosure.NEVER_PUBLISHED,
                  defaults=disclosure.DEFAULT, editable=disclosure.can_change(current_user, county), errors=errors,
                  status=done.status)


# --- 四公开 content pages ----------------------------------------------------------------------------------

@bp.get("/content/", endpoint="content")
@login_required
def content_pages():
    county = scope.county_of(current_user.region)
    return render("admin/notices/content_list.html", pages=content.all_pages(db.session(), county), county=county,
                  editable=content.can_change(current_user, county))


@bp.route("/content/<slug>", methods=["GET", "POST"])
@login_required
def content_edit(slug: str):
    county = scope.county_of(current_user.region)
    page = content.get_page(db.session(), slug, county)
    form = ContentForm(title=page.title, body=page.body) if request.method == "GET" else ContentForm()
    done = submit(form, lambda sess: content.save_page(sess, current_user, county, slug, form.title.data,
                                                       form.body.data))
    if done.ok:
        flash(_("已保存，门户网站立即显示新内容。"), "success")
        return redirect(url_for("admin.content"))
    return render("admin/notices/content_edit.html", form=form, page=page, status=done.status, county=county,
                  editable=content.can_change(current_user, county))
