"""公告与制度 in the staff backend: list, publish, edit, add and remove files, withdraw. dibao.announcements
decides who may publish what where; these views only parse and render."""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin.forms import ConfirmForm
from admin.forms.announcements import AnnouncementForm, WithdrawAnnouncementForm
from admin.views import chosen_region
from dibao import announcements, clock, db, scope
from dibao.models.announcement import AnnouncementKind
from dibao.web import perform, render, submit


def _choices(form: AnnouncementForm, *, fixed_kind: AnnouncementKind | None = None) -> None:
    kinds = [fixed_kind] if fixed_kind else announcements.publishable_kinds(current_user)
    form.kind.choices = [SelectChoice(k.value, announcements.KIND_LABELS[k]) for k in kinds]
    form.category.choices = [SelectChoice("", _("（公告不用选）"))] + [
        SelectChoice(c.value, label) for c, label in announcements.CATEGORY_LABELS.items()]
    form.region_id.choices = [SelectChoice(r.id, f"{'　' * (r.path.count('/') - 2)}{r.name}")
                              for r in scope.regions_in_scope(db.session(), current_user)]


def _uploads(name: str) -> list[announcements.Upload]:
    return [announcements.Upload(f.read(), f.filename or "") for f in request.files.getlist(name)
            if f and f.filename]


def _fields(form: AnnouncementForm) -> announcements.Fields:
    return announcements.Fields(title=form.title.data or "", body=form.body.data or "",
                                starts_on=form.starts_on.data, ends_on=form.ends_on.data,
                                ticker=form.ticker.data or "", category=form.category.data or None)


def _picture() -> bytes | None:
    uploads = _uploads("picture")
    return uploads[0].data if uploads else None


@bp.get("/announcements/", endpoint="announcements")
@login_required
def announcements_index():
    items = announcements.list_for(db.session(), current_user)
    today = clock.today()
    return render("admin/announcements/list.html", rows=[(i, announcements.status(i, today)) for i in items],
                  kind_labels=announcements.KIND_LABELS, status_labels=announcements.STATUS_LABELS)


@bp.route("/announcements/new", methods=["GET", "POST"])
@login_required
def announcement_new():
    form = AnnouncementForm()
    _choices(form)
    if request.method == "GET":
        form.starts_on.data = clock.today()
        form.region_id.data = current_user.region_id
    media_dir = current_app.config["MEDIA_DIR"]

    def change(sess):
        return announcements.publish(sess, current_user, kind=form.kind.data,
                                     region=chosen_region(sess, form.region_id.data),
                                     fields=_fields(form), picture=_picture(), files=_uploads("files"),
                                     media_dir=media_dir)

    done = submit(form, change)
    if done.ok:
        flash(_("已发布“%(title)s”。", title=done.value.title), "success")
        return redirect(url_for("admin.announcement_edit", announcement_id=done.value.id), code=303)
    return render("admin/announcements/form.html", form=form, item=None, status=done.status)


@bp.route("/announcements/<int:announcement_id>", methods=["GET", "POST"])
@login_required
def announcement_edit(announcement_id: int):
    sess = db.session()
    item = announcements.get(sess, current_user, announcement_id)
    form = AnnouncementForm(obj=item)
    _choices(form, fixed_kind=item.kind)
    if request.method == "GET":
        form.kind.data = item.kind.value
        form.category.data = item.category.value if item.category else ""
    media_dir = current_app.config["MEDIA_DIR"]
    done = submit(form, lambda s: announcements.update(
        s, current_user, item, region=chosen_region(s, form.region_id.data), fields=_fields(form),
        picture=_picture(), files=_uploads("files"), media_dir=media_dir))
    if done.ok:
        flash(_("已保存。"), "success")
        return redirect(url_for("admin.announcement_edit", announcement_id=announcement_id), code=303)
    if done.status != 200:
        item = announcements.get(db.session(), current_user, announcement_id)
    return render("admin/announcements/form.html", form=form, item=item, status=done.status,
                  state=announcements.status(item), status_labels=announcements.STATUS_LABELS,
                  withdraw_form=WithdrawAnnouncementForm(), confirm=ConfirmForm(), file_name=announcements.file_name)


@bp.post("/announcements/<int:announcement_id>/files/<int:file_id>/remove")
@login_required
def announcement_file_remove(announcement_id: int, file_id: int):
    item = announcements.get(db.session(), current_user, announcement_id)
    perform(lambda s: announcements.remove_file(s, current_user, item, file_id))
    flash(_("附件已删除。"), "success")
    return redirect(url_for("admin.announcement_edit", announcement_id=announcement_id), code=303)


@bp.post("/announcements/<int:announcement_id>/withdraw")
@login_required
def announcement_withdraw(announcement_id: int):
    item = announcements.get(db.session(), current_user, announcement_id)
    form = WithdrawAnnouncementForm()
    done = submit(form, lambda s: announcements.withdraw(s, current_user, item, form.reason.data or ""))
    if done.ok:
        flash(_("已撤下，门户网站和公示终端不再显示。"), "success")
    else:
        flash(" ".join(form.reason.errors or form.form_errors) or _("请写明撤下的原因。"), "error")
    return redirect(url_for("admin.announcement_edit", announcement_id=announcement_id), code=303)
