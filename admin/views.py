from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin.forms import ConfirmForm, LoginForm, RegionForm, RenameRegionForm, UserForm, save
from dibao import accounts, clock, db, regions, scope
from dibao.extensions import limiter
from dibao.models import Role
from dibao.web import render


@bp.before_request
def _idle_expiry():
    """End a staff session after a period without requests (measured with the app clock)."""
    if not current_user.is_authenticated:
        return None
    now = clock.now().timestamp()
    last = session.get("last_seen")
    if last is not None and now - last > current_app.config["STAFF_IDLE_TIMEOUT"].total_seconds():
        logout_user()
        session.clear()
        flash(_("您已长时间未操作，为保护信息安全已自动退出，请重新登录。"), "warning")
        return redirect(url_for("admin.login", next=request.full_path))
    session["last_seen"] = now
    return None


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role != Role.admin:
            return render("admin/error.html", status=403, title=_("没有权限"),
                          message=_("只有系统管理员可以管理账号和行政区划。"))
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/admin"):
        return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        sess = db.session()
        try:
            user = accounts.authenticate(
                sess, form.username.data, form.password.data,
                current_app.config["LOGIN_MAX_FAILURES"], current_app.config["LOGIN_LOCKOUT"],
            )
        except accounts.LoginRefused as refused:
            sess.commit()  # the failure count and its audit event are kept
            error = str(refused.message)
            status = 429 if refused.locked else 401
        else:
            sess.commit()
            session.clear()
            login_user(user)
            session["last_seen"] = clock.now().timestamp()
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render("admin/login.html", form=form, error=error, status=status)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash(_("您已安全退出。"), "info")
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def dashboard():
    return render("admin/dashboard.html", role_label=accounts.ROLE_LABELS[current_user.role])


# --- users -------------------------------------------------------------------------------------------

def _user_form_choices(form: UserForm) -> None:
    form.role.choices = [SelectChoice(r.value, str(accounts.ROLE_LABELS[r])) for r in Role]
    form.region_id.choices = [
        SelectChoice(r.id, f"{'　' * (r.path.count('/') - 2)}{r.name}（{r.code}）")
        for r in scope.regions_in_scope(db.session(), current_user)
    ]


@bp.get("/users/")
@login_required
def users():
    items = accounts.list_users(db.session(), current_user)
    return render("admin/users.html", users=items, role_labels=accounts.ROLE_LABELS)


@bp.get("/users/<int:user_id>")
@login_required
def user_detail(user_id: int):
    user = accounts.get_user(db.session(), current_user, user_id)
    return render("admin/user_detail.html", user=user, role_labels=accounts.ROLE_LABELS, confirm=ConfirmForm())


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_new():
    form = UserForm()
    _user_form_choices(form)
    status = 200
    if form.validate_on_submit():
        user, status = save(form, lambda sess: accounts.create_user(
            sess, current_user, username=form.username.data, display_name=form.display_name.data,
            password=form.password.data or "", role=Role(form.role.data),
            region=scope.get_region(sess, current_user, form.region_id.data),
        ))
        if status is None:
            flash(_("账号 %(name)s 已创建。", name=user.username), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    elif request.method == "POST":
        status = 400
    return render("admin/user_form.html", form=form, user=None, status=status)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int):
    sess = db.session()
    user = accounts.get_user(sess, current_user, user_id)
    form = UserForm(obj=user)
    _user_form_choices(form)
    form.username.data = user.username  # the username never changes
    if request.method == "GET":
        form.role.data = user.role.value
    status = 200
    if form.validate_on_submit():
        status = save(form, lambda sess: accounts.update_user(
            sess, current_user, user, display_name=form.display_name.data, role=Role(form.role.data),
            region=scope.get_region(sess, current_user, form.region_id.data), active=form.active.data,
            new_password=form.password.data or None,
        ))[1]
        if status is None:
            flash(_("账号 %(name)s 已保存。", name=user.username), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    elif request.method == "POST":
        status = 400
    return render("admin/user_form.html", form=form, user=user, status=status)


@bp.post("/users/<int:user_id>/unlock")
@admin_required
def user_unlock(user_id: int):
    sess = db.session()
    user = accounts.get_user(sess, current_user, user_id)
    accounts.unlock_user(sess, current_user, user)
    sess.commit()
    flash(_("账号 %(name)s 已解锁。", name=user.username), "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


# --- regions -----------------------------------------------------------------------------------------

@bp.get("/regions/")
@login_required
def region_list():
    items = regions.tree(db.session(), current_user.region)
    return render("admin/regions.html", regions=items, level_labels=regions.LEVEL_LABELS,
                  form=_region_form())


def _region_form() -> RegionForm:
    form = RegionForm()
    form.parent_id.choices = [
        SelectChoice(r.id, f"{r.name}（{r.code}）")
        for r in scope.regions_in_scope(db.session(), current_user)
        if r.level.value != "community"
    ]
    return form


@bp.post("/regions/")
@admin_required
def region_create():
    form = _region_form()
    sess = db.session()
    status = 400
    if form.validate_on_submit():
        region, error = save(form, lambda sess: regions.create_region(
            sess, current_user, code=form.code.data, name=form.name.data,
            parent=scope.get_region(sess, current_user, form.parent_id.data),
        ))
        if error is None:
            flash(_("已添加 %(name)s。", name=region.name), "success")
            return redirect(url_for("admin.region_list"))
        status = error
    items = regions.tree(sess, current_user.region)
    return render("admin/regions.html", regions=items, level_labels=regions.LEVEL_LABELS, form=form,
                  status=status)


@bp.route("/regions/<int:region_id>", methods=["GET", "POST"])
@login_required
def region_detail(region_id: int):
    sess = db.session()
    region = scope.get_region(sess, current_user, region_id)
    form = RenameRegionForm(obj=region)
    status = 200
    if request.method == "POST":
        if current_user.role != Role.admin:
            return render("admin/error.html", status=403, title=_("没有权限"),
                          message=_("只有系统管理员可以管理账号和行政区划。"))
        if form.validate_on_submit():
            status = save(form, lambda sess: regions.rename_region(sess, current_user, region, form.name.data))[1]
            if status is None:
                flash(_("已保存。"), "success")
                return redirect(url_for("admin.region_detail", region_id=region.id))
        else:
            status = 400
    return render("admin/region_detail.html", region=region, form=form, level_labels=regions.LEVEL_LABELS,
                  status=status)

