"""Proof of display (公示留痕) and kiosk health in the staff backend: per batch, the hours each kiosk of its
region had it on screen and the gaps (a printable page, and a summary loaded into the batch page), photos of the
paper board; the dashboard's banner of kiosks gone dark. Rules and figures are dibao.display's and
dibao.kiosks'."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from admin import bp
from admin.forms.display import AlertEmailForm, BoardPhotoForm
from dibao import applications, clock, db, display, kiosks, media, notices, notify
from dibao.web import no_store, render, submit


@bp.context_processor
def _dashboard_helpers():
    """The residents' panel of the dashboard (templates/admin/_residents_panel.html), computed only when shown."""

    def residents_panel():
        sess = db.session()
        return {"offline": kiosks.offline_in_scope(sess, current_user), "now": clock.now(),
                "applications": applications.counts(sess, current_user),
                "failed": notify.failed_count(sess, current_user)}

    return {"residents_panel": residents_panel, "dark_since": kiosks.dark_since}


def _proof_page(public_id: str, *, form: BoardPhotoForm | None = None, status: int = 200):
    sess = db.session()
    batch = notices.get_batch(sess, current_user, public_id)
    proof = display.batch_proof(sess, current_user, batch)
    form = form or BoardPhotoForm()
    if form.taken_on.data is None:
        form.taken_on.data = clock.today()
    return render("admin/display/proof.html", fragment="admin/display/_summary.html", proof=proof, batch=batch,
                  form=form, status=status, gap_minutes=int(display.GAP_REPORTED.total_seconds() // 60),
                  may_add_photo=current_user.role in display.PHOTO_ROLES, printed_at=clock.now())


@bp.get("/notices/<public_id>/display")
@login_required
def display_proof(public_id: str):
    return _proof_page(public_id)


@bp.post("/notices/<public_id>/display/photos")
@login_required
def board_photo_add(public_id: str):
    sess = db.session()
    batch = notices.get_batch(sess, current_user, public_id)
    form = BoardPhotoForm()
    upload = request.files.get("photo")
    data = upload.read(media.MAX_IMAGE_BYTES + 1) if upload and upload.filename else None
    done = submit(form, lambda s: display.add_board_photo(
        s, current_user, batch, data=data, taken_on=form.taken_on.data, note=form.note.data or "",
        media_dir=current_app.config["MEDIA_DIR"]))
    if not done.ok:
        return _proof_page(public_id, form=form, status=done.status or 400)
    flash(_("公示栏照片已保存。"), "success")
    return redirect(url_for("admin.display_proof", public_id=public_id), code=303)


@bp.get("/display/photos/<int:photo_id>")
@bp.get("/display/photos/<int:photo_id>/<rendition>")
@login_required
def board_photo_file(photo_id: int, rendition: str | None = None):
    photo = display.board_photo(db.session(), current_user, photo_id)
    if rendition not in (None, "thumb", "display"):
        abort(404)
    path = media.media_path(current_app.config["MEDIA_DIR"], photo.media_key, rendition)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    return no_store(response)


@bp.route("/me/alerts", methods=["GET", "POST"])
@login_required
def alert_email():
    """My address for alerts: a kiosk of my community gone dark (sent when the mail server is configured)."""
    form = AlertEmailForm(data={"email": current_user.email or ""} if request.method == "GET" else None)
    done = submit(form, lambda s: notify.set_staff_email(s, current_user, form.email.data))
    if done.ok:
        flash(_("已保存。") if form.email.data else _("已取消邮件提醒。"), "success")
        return redirect(url_for("admin.dashboard"), code=303)
    return render("admin/display/alerts.html", form=form, status=done.status,
                  mail_configured=bool(current_app.config.get("SMTP_HOST")))
