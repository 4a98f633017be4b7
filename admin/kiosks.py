"""公示终端: the registry of community kiosks — online/offline from their polls, register, revoke, new URL.

Every staff member sees the kiosks of their region subtree and whether each is online; only a system admin
registers, edits, revokes or re-keys one, and only an admin sees a display URL (it is the kiosk's key).
"""

from __future__ import annotations

from flask import current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin.forms import ConfirmForm
from admin.forms.kiosks import KioskForm, KioskSettingsForm
from admin.views import admin_required, chosen_region
from dibao import clock, db, kiosks, qr, scope
from dibao.models import Level, Role
from dibao.web import perform, render, submit


def _communities() -> list[SelectChoice]:
    return [SelectChoice(r.id, f"{r.full_name}（{r.code}）")
            for r in scope.regions_in_scope(db.session(), current_user) if r.level == Level.community]


def _rows(items):
    at = clock.now()
    return [(k, kiosks.status(k, at)) for k in items]


@bp.get("/kiosks/", endpoint="kiosks")
@login_required
def kiosks_index():
    rows = _rows(kiosks.list_kiosks(db.session(), current_user))
    return render("admin/kiosks/list.html", fragment="admin/kiosks/_table.html", rows=rows,
                  status_labels=kiosks.STATUS_LABELS, is_admin=current_user.role == Role.admin)


@bp.route("/kiosks/new", methods=["GET", "POST"])
@admin_required
def kiosk_new():
    form = KioskForm()
    form.region_id.choices = _communities()
    done = submit(form, lambda sess: kiosks.register(
        sess, current_user, name=form.name.data, rotation_seconds=form.rotation_seconds.data,
        region=chosen_region(sess, form.region_id.data),
    ))
    if done.ok:
        flash(_("终端“%(name)s”已登记。请在终端的浏览器中打开下面的地址。", name=done.value.name), "success")
        return redirect(url_for("admin.kiosk_detail", kiosk_id=done.value.id))
    return render("admin/kiosks/form.html", form=form, status=done.status)


@bp.route("/kiosks/<int:kiosk_id>", methods=["GET", "POST"])
@login_required
def kiosk_detail(kiosk_id: int):
    sess = db.session()
    kiosk = kiosks.get(sess, current_user, kiosk_id)
    is_admin = current_user.role == Role.admin
    form = KioskSettingsForm(obj=kiosk)
    done = submit(form, lambda sess: kiosks.update_settings(
        sess, current_user, kiosk, name=form.name.data, rotation_seconds=form.rotation_seconds.data,
    ))
    if done.ok:
        flash(_("已保存。"), "success")
        return redirect(url_for("admin.kiosk_detail", kiosk_id=kiosk.id))
    url = kiosks.display_url(current_app.config["PUBLIC_URL"], kiosk) if is_admin and not kiosk.revoked else None
    return render("admin/kiosks/detail.html", kiosk=kiosk, state=kiosks.status(kiosk), form=form,
                  status_labels=kiosks.STATUS_LABELS, is_admin=is_admin, url=url,
                  url_qr=qr.svg(url) if url else None, confirm=ConfirmForm(), status=done.status,
                  offline_after=kiosks.MISSED_POLLS_OFFLINE * kiosk.rotation_seconds)


@bp.post("/kiosks/<int:kiosk_id>/revoke")
@admin_required
def kiosk_revoke(kiosk_id: int):
    kiosk = kiosks.get(db.session(), current_user, kiosk_id)
    perform(lambda sess: kiosks.revoke(sess, current_user, kiosk))
    flash(_("终端“%(name)s”已停用，它的地址从下一次刷新起显示“本终端尚未登记”。", name=kiosk.name), "success")
    return redirect(url_for("admin.kiosk_detail", kiosk_id=kiosk.id))


@bp.post("/kiosks/<int:kiosk_id>/rotate")
@admin_required
def kiosk_rotate(kiosk_id: int):
    kiosk = kiosks.get(db.session(), current_user, kiosk_id)
    perform(lambda sess: kiosks.rotate_token(sess, current_user, kiosk))
    flash(_("已为终端“%(name)s”生成新地址，旧地址已失效。请在终端上打开新地址。", name=kiosk.name), "success")
    return redirect(url_for("admin.kiosk_detail", kiosk_id=kiosk.id))
