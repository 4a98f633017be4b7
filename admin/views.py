from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin.forms import ConfirmForm
from admin.forms.accounts import LoginForm, RegionForm, RenameRegionForm, UserForm
from dibao import accounts, cases, clock, db, regions, scope
from dibao.extensions import limiter
from dibao.models import Role
from dibao.web import perform, render, submit


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
    """Pages only a system admin opens (the domain checks each change again)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        scope.require_admin(current_user, accounts.ADMIN_ONLY)
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
    done = submit(form, lambda sess: accounts.authenticate(
        sess, form.username.data, form.password.data,
        current_app.config["LOGIN_MAX_FAILURES"], current_app.config["LOGIN_LOCKOUT"],
    ))
    attempt = done.value
    if attempt is not None and attempt.user is not None:
        session.clear()
        login_user(attempt.user)
        session["last_seen"] = clock.now().timestamp()
        return redirect(_safe_next(request.args.get("next")))
    if attempt is not None:
        return render("admin/login.html", form=form, error=attempt.refusal, status=429 if attempt.locked else 401)
    return render("admin/login.html", form=form, error=None, status=done.status)


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
    return render("admin/dashboard.html", role_label=accounts.ROLE_LABELS[current_user.role],
                  case_summary=cases.deadline_summary(db.session(), current_user),
                  overdue_labels=cases.OVERDUE_LABELS)


# The staff navigation, in order (each area adds its screen here).
NAV = [
    ("admin.cases", _l("低保案件")), ("admin.notices", _l("公示")), ("admin.feedback_inbox", _l("异议与举报")),
    ("admin.standards", _l("低保标准")), ("admin.disclosure", _l("公开设置")), ("admin.content", _l("政策与程序")),
    ("admin.kiosks", _l("公示终端")), ("admin.users", _l("账号")), ("admin.region_list", _l("行政区划")),
]
# The residents' side (issue 14): online applications after the cases, announcements after the content pages.
NAV.insert(1, ("admin.applications_inbox", _l("网上申请")))
NAV.insert([e for e, _label in NAV].index("admin.content") + 1, ("admin.announcements", _l("公告与制度")))


@bp.context_processor
def _navigation():
    return {"admin_nav": NAV}


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
    done = submit(form, lambda sess: accounts.create_user(
        sess, current_user, username=form.username.data, display_name=form.display_name.data,
        password=form.password.data or "", role=Role(form.role.data),
        region=scope.get_region(sess, current_user, form.region_id.data),
    ))
    if done.ok:
        flash(_("账号 %(name)s 已创建。", name=done.value.username), "success")
        return redirect(url_for("admin.user_detail", user_id=done.value.id))
    return render("admin/user_form.html", form=form, user=None, status=done.status)


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
    done = submit(form, lambda sess: accounts.update_user(
        sess, current_user, user, display_name=form.display_name.data, role=Role(form.role.data),
        region=scope.get_region(sess, current_user, form.region_id.data), active=form.active.data,
        new_password=form.password.data or None,
    ))
    if done.ok:
        flash(_("账号 %(name)s 已保存。", name=user.username), "success")
        return redirect(url_for("admin.user_detail", user_id=user.id))
    return render("admin/user_form.html", form=form, user=user, status=done.status)


@bp.post("/users/<int:user_id>/unlock")
@admin_required
def user_unlock(user_id: int):
    user = accounts.get_user(db.session(), current_user, user_id)
    perform(lambda sess: accounts.unlock_user(sess, current_user, user))
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
    done = submit(form, lambda sess: regions.create_region(
        sess, current_user, code=form.code.data, name=form.name.data,
        parent=scope.get_region(sess, current_user, form.parent_id.data),
    ))
    if done.ok:
        flash(_("已添加 %(name)s。", name=done.value.name), "success")
        return redirect(url_for("admin.region_list"))
    items = regions.tree(db.session(), current_user.region)
    return render("admin/regions.html", regions=items, level_labels=regions.LEVEL_LABELS, form=form,
                  status=done.status)


@bp.route("/regions/<int:region_id>", methods=["GET", "POST"])
@login_required
def region_detail(region_id: int):
    sess = db.session()
    region = scope.get_region(sess, current_user, region_id)
    form = RenameRegionForm(obj=region)
    done = submit(form, lambda sess: regions.rename_region(sess, current_user, region, form.name.data))
    if done.ok:
        flash(_("已保存。"), "success")
        return redirect(url_for("admin.region_detail", region_id=region.id))
    return render("admin/region_detail.html", region=region, form=form, level_labels=regions.LEVEL_LABELS,
                  status=done.status)

