from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, make_response, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from wtforms.fields.choices import SelectChoice

from admin import bp
from admin.forms import ConfirmForm
from admin.forms.accounts import LoginForm, RegionForm, RenameRegionForm, UserForm
from admin.payments import may_open
from dibao import accounts, audit_log, cases, clock, db, regions, scope, workdays
from dibao.errors import NotFound
from dibao.extensions import limiter, login_manager
from dibao.models import Region, Role, User
from dibao.web import client_address, error_page, is_htmx, perform, render, safe_next, submit

DEVICE_COOKIE = "dibao_staff_device"  # accounts that signed in from this browser before (signed ids)
DEVICE_MAX_AGE = 180 * 24 * 3600
KEPT_ACROSS_LOGIN = ("lang",)  # what a visitor chose before signing in (or out) stays chosen


def _restart_session() -> None:
    """A fresh cookie session (no fixation of a pre-login session), keeping the visitor's language."""
    kept = {key: session[key] for key in KEPT_ACROSS_LOGIN if key in session}
    session.clear()
    session.update(kept)


def _end_staff_session(reason: str) -> None:
    token = session.get(accounts.SESSION_TOKEN_KEY)
    user = current_user if current_user.is_authenticated else None
    perform(lambda sess: accounts.end_session(sess, user, token, reason))
    logout_user()
    _restart_session()


def to_login():
    """Back to the login page, to return afterwards to where the user was. An htmx request gets a 401 that tells
    htmx to load the login page as a whole (HX-Redirect): a redirect would be followed inside the request, and
    the login page swapped into a list or a form field."""
    if is_htmx():
        where = urlsplit(request.headers.get("HX-Current-URL") or "")
        page = where.path + (f"?{where.query}" if where.query else "")
        response = make_response("", 401)
        response.headers["HX-Redirect"] = url_for("admin.login", next=safe_next(page, "/admin/", prefix="/admin"))
        return response
    return redirect(url_for("admin.login", next=request.full_path))


@login_manager.unauthorized_handler
def _unauthorized():
    return to_login()


@bp.before_request
def _idle_expiry():
    """End a staff session after a period without requests (measured with the app clock), and clear the
    cookie of one that ended on the server (logged out elsewhere, or past its absolute lifetime)."""
    if not current_user.is_authenticated:
        if "_user_id" in session and request.method == "GET":  # (a POST keeps its form's CSRF token)
            logout_user()
            _restart_session()
            flash(_("登录已失效，为保护信息安全请重新登录。"), "warning")
            if request.endpoint != "admin.login":
                return to_login()
        return None
    now = clock.now().timestamp()
    last = session.get("last_seen")
    if last is not None and now - last > current_app.config["STAFF_IDLE_TIMEOUT"].total_seconds():
        _end_staff_session("idle")
        flash(_("您已长时间未操作，为保护信息安全已自动退出，请重新登录。"), "warning")
        return to_login()
    session["last_seen"] = now
    return None


@bp.after_request
def _no_store(response):
    """Staff pages hold personal data: no browser or proxy keeps a copy (the back button after logout shows
    nothing). A response that set its own rule (``private, no-store``) keeps it."""
    if "no-store" not in (response.headers.get("Cache-Control") or ""):
        response.headers["Cache-Control"] = "no-store"
    return response


def admin_required(view):
    """Pages only a system admin opens (the domain checks each change again)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        scope.require_admin(current_user, accounts.ADMIN_ONLY)
        return view(*args, **kwargs)

    return wrapped


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="dibao-staff-device")


def _trusted_user_ids() -> frozenset[int]:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return frozenset()
    try:
        ids = _device_serializer().loads(raw, max_age=DEVICE_MAX_AGE)
    except BadSignature:
        return frozenset()
    return frozenset(i for i in ids if isinstance(i, int)) if isinstance(ids, list) else frozenset()


def _remember_device(response, user_id: int) -> None:
    ids = [user_id] + [i for i in sorted(_trusted_user_ids()) if i != user_id][:4]
    response.set_cookie(DEVICE_COOKIE, _device_serializer().dumps(ids), max_age=DEVICE_MAX_AGE, path="/admin",
                        httponly=True, samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])


def _throttle_policy() -> accounts.ThrottlePolicy:
    config = current_app.config
    return accounts.ThrottlePolicy(account_free=config["LOGIN_FREE_FAILURES"],
                                   client_free=config["LOGIN_FREE_FAILURES_PER_CLIENT"],
                                   max_delay=config["LOGIN_MAX_DELAY"])


def _login_flood(_limit):
    """Too many login posts from one address: the same page, status and words as any refused login."""
    form = LoginForm()
    return make_response(render("admin/login.html", form=form, error=str(accounts.LOGIN_REFUSED), status=401))


@bp.errorhandler(429)
def _too_many(err):
    response = getattr(err, "response", None)
    if response is not None:
        return response
    return error_page(429, _("请稍后再试"), _("操作太频繁，请稍等一会儿再试。"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"], on_breach=_login_flood)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    done = submit(form, lambda sess: accounts.authenticate(
        sess, form.username.data, form.password.data, client=client_address(),
        lifetime=current_app.config["STAFF_SESSION_LIFETIME"], policy=_throttle_policy(),
        trusted_user_ids=_trusted_user_ids(), refused_passwords=current_app.config["REFUSED_PASSWORDS"],
    ))
    attempt = done.value
    if attempt is not None and attempt.user is not None:
        _restart_session()
        login_user(attempt.user)
        session[accounts.SESSION_TOKEN_KEY] = attempt.token
        session["last_seen"] = clock.now().timestamp()
        response = redirect(safe_next(request.args.get("next"), url_for("admin.dashboard"), prefix="/admin"))
        _remember_device(response, attempt.user.id)
        return response
    if attempt is not None:
        return render("admin/login.html", form=form, error=attempt.refusal, status=401)
    return render("admin/login.html", form=form, error=None, status=done.status)


@bp.post("/logout")
@login_required
def logout():
    _end_staff_session("logout")
    flash(_("您已安全退出。"), "info")
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def dashboard():
    return render("admin/dashboard.html", role_label=accounts.ROLE_LABELS[current_user.role],
                  case_summary=cases.deadline_summary(db.session(), current_user),
                  overdue_labels=cases.OVERDUE_LABELS,
                  calendar_missing=workdays.missing_years(workdays.calendar(db.session(), current_user.region),
                                                          clock.today()),
                  may_edit_calendar=workdays.is_county_admin(current_user))


# The staff navigation, in order (each area adds its screen here).
NAV = [
    ("admin.cases", _l("低保案件")), ("admin.notices", _l("公示")), ("admin.feedback_inbox", _l("异议与举报")),
    ("admin.standards", _l("低保标准")), ("admin.disclosure", _l("公开设置")), ("admin.content", _l("政策与程序")),
    ("admin.kiosks", _l("公示终端")), ("admin.users", _l("账号")), ("admin.region_list", _l("行政区划")),
    ("admin.stats_page", _l("统计")), ("admin.data", _l("导入导出")), ("admin.audit_viewer", _l("审计日志")),
]
NAV.append(("admin.calendar", _l("节假日安排")))
NAV.insert(1, ("admin.reviews", _l("复核与动态管理")))  # issue 10: after the cases
# The residents' side (issue 14): online applications after the cases, announcements after the content pages.
NAV.insert(1, ("admin.applications_inbox", _l("网上申请")))
NAV.insert([e for e, _label in NAV].index("admin.content") + 1, ("admin.announcements", _l("公告与制度")))
# Issue 10: the community's cabinet, the review panels and the marginal households after the cases; asset limits.
NAV[1:1] = [("admin.household_cabinet", _l("一居一柜")), ("admin.panels", _l("民主评议小组")),
            ("admin.household_marginal", _l("低保边缘家庭"))]
NAV.append(("admin.household_limits", _l("资产核对标准")))
NAV.insert([e for e, _label in NAV].index("admin.notices") + 1, ("admin.payments", _l("资金发放")))  # issue 11


# Menu entries that not every signed-in role may open, each with the check its view makes (one rule for both:
# a menu never offers a page that answers 403). The rest are open to every role the backend lets in.
NAV_MAY_OPEN: dict[str, Callable[[User], bool]] = {
    "admin.audit_viewer": audit_log.may_view,  # audit_log.require_view
    "admin.calendar": workdays.is_county_admin,  # workdays.own_county
}


def nav_for(user: User) -> list[tuple[str, object]]:
    """The menu ``user`` sees: the entries whose page they may open."""
    return [(endpoint, label) for endpoint, label in NAV
            if may_open(user, endpoint) and NAV_MAY_OPEN.get(endpoint, lambda _user: True)(user)]


@bp.context_processor
def _navigation():
    return {"admin_nav": nav_for(current_user) if current_user.is_authenticated else []}


# --- users -------------------------------------------------------------------------------------------

def _user_form_choices(form: UserForm) -> None:
    form.role.choices = [SelectChoice(r.value, str(accounts.ROLE_LABELS[r])) for r in Role]
    form.region_id.choices = [
        SelectChoice(r.id, f"{'　' * (r.path.count('/') - 2)}{r.name}（{r.code}）")
        for r in scope.regions_in_scope(db.session(), current_user)
    ]


def chosen_region(sess, region_id: int | None) -> Region | None:
    """The region picked in a form's list of the user's regions, or None: none picked, or one the list does not
    offer (out of the user's scope, or no region at all). The domain says "请选择…" beside the field, with the form's
    other problems."""
    try:
        return scope.get_region(sess, current_user, region_id)  # type: ignore[arg-type]
    except NotFound:
        return None


@bp.get("/users/")
@login_required
def users():
    sess = db.session()
    items = accounts.list_users(sess, current_user)
    return render("admin/users.html", users=items, role_labels=accounts.ROLE_LABELS,
                  restricted=accounts.login_restricted_until(sess, items))


@bp.get("/users/<int:user_id>")
@login_required
def user_detail(user_id: int):
    sess = db.session()
    user = accounts.get_user(sess, current_user, user_id)
    return render("admin/user_detail.html", user=user, role_labels=accounts.ROLE_LABELS, confirm=ConfirmForm(),
                  restricted_until=accounts.login_restricted_until(sess, [user]).get(user.id))


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_new():
    form = UserForm()
    _user_form_choices(form)
    done = submit(form, lambda sess: accounts.create_user(
        sess, current_user, username=form.username.data, display_name=form.display_name.data,
        password=form.password.data or "", role=form.role.data, region=chosen_region(sess, form.region_id.data),
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
        sess, current_user, user, display_name=form.display_name.data, role=form.role.data,
        region=chosen_region(sess, form.region_id.data), active=form.active.data,
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
    flash(_("已解除账号 %(name)s 的登录限制。", name=user.username), "success")
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

