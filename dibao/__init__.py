"""Sunshine Dibao (阳光低保): the domain and the application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request, session
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from dibao import audit, clock, config, crypto, db, i18n, jobs
from dibao.errors import DomainError
from dibao.extensions import babel, csrf, limiter, login_manager

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(config.from_environment(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(ROOT / "translations")
    clock.set_local_zone(app.config["TIMEZONE"])
    audit.set_key(app.config["AUDIT_KEY"], app.config["AUDIT_RETIRED_KEYS"])
    crypto.use_key(app.config["DATA_KEY"])
    from dibao import cache

    cache.init_app(app)  # the public cache, its version counters and its fast path (issue 13)
    from dibao import roster_summary, stats_summary

    stats_summary.install_listeners()  # a change removes the statistics summary's marks (issue 13)
    roster_summary.install_listeners()  # and the roster summary's rows
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    db.init_app(app)
    jobs.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=lambda: app.config["TIMEZONE"])
    _init_login(app)
    _register_input_guards(app)  # before the blueprints: their <int:…> rules take the bounded converter
    _register_blueprints(app)
    _register_errors(app)
    _register_template_helpers(app)
    _register_security_headers(app)
    from dibao import web

    app.before_request(web.compressed_static)  # CSS, JS and SVG go out gzip-compressed (issue 14)
    app.after_request(web.vary_static)
    app.url_defaults(web.static_fingerprint)  # a changed script or stylesheet gets a new URL (kiosks keep copies)

    from dibao.cli import register_commands

    register_commands(app)
    return app


def _select_locale() -> str:
    chosen = session.get("lang") if has_request_context() else None
    if chosen in config.LOCALES:
        return chosen
    if not has_request_context() or request.blueprint in ("admin", "kiosk"):
        return "zh_CN"  # a kiosk in a community hall speaks Chinese whatever its browser says
    # The public side answers in the browser's language (Accept-Language) until the visitor picks one.
    g.locale_from_header = True
    return request.accept_languages.best_match(config.LOCALES, default="zh_CN") or "zh_CN"


def _init_login(app: Flask) -> None:
    from dibao import accounts

    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.login_message = None  # the login page says why by itself
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(user_id: str):
        return accounts.load_user(db.session(), user_id, session.get(accounts.SESSION_TOKEN_KEY))


def _register_blueprints(app: Flask) -> None:
    from admin import bp as admin_bp
    from kiosk import bp as kiosk_bp
    from portal import bp as portal_bp

    app.register_blueprint(portal_bp)
    app.register_blueprint(kiosk_bp, url_prefix="/kiosk")
    app.register_blueprint(admin_bp, url_prefix="/admin")


def _error_page(status: int, title: str, message: str, headers: dict[str, str] | None = None, problems=None):
    from dibao.web import error_page

    return error_page(status, title, message, headers, problems=problems)


def _register_errors(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        db.session().rollback()
        titles = {400: _("无法办理"), 403: _("没有权限"), 404: _("没有找到"), 409: _("无法办理"), 410: _("已经结束")}
        problems = err.field_problems if len(err.field_problems) > 1 else None  # several: each on its own line
        return _error_page(err.status, titles.get(err.status, _("无法办理")), str(err.message), problems=problems)

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError):
        return _error_page(400, _("页面已过期"), _("表单已过期或来源不明，请返回上一页刷新后重新提交。"))

    # Werkzeug's own pages are English ("403 Forbidden"): every status the app answers with gets its Chinese page.
    @app.errorhandler(400)
    def _bad_request(err):
        return _error_page(400, _("无法办理"), _("提交的内容有误，无法办理。请返回上一页检查后重新提交。"))

    @app.errorhandler(403)
    def _forbidden(err):
        if request.path.startswith("/admin/"):
            return _error_page(403, _("没有权限"), _("您的账号没有权限打开这个页面。如需办理，请联系系统管理员。"))
        return _error_page(403, _("没有权限"), _("您没有权限打开这个页面。"))

    @app.errorhandler(410)
    def _gone(err):
        return _error_page(410, _("已经结束"), _("您要找的内容已经结束公开。"))

    @app.errorhandler(HTTPException)
    def _other_http_error(err: HTTPException):
        if err.code is None or err.code < 400:  # a redirect raised as an exception passes through unchanged
            return err
        return _error_page(err.code, _("无法办理"), _("这个请求无法办理。请返回上一页重试，或拨打服务热线。"))

    @app.errorhandler(404)
    def _not_found(err):
        return _error_page(404, _("没有找到"), _("您要找的页面不存在。"))

    @app.errorhandler(405)
    def _method(err):
        allow = ", ".join(sorted(getattr(err, "valid_methods", None) or []))
        return _error_page(405, _("无法办理"), _("不支持这种请求方式。"), {"Allow": allow} if allow else None)

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def _out_of_range(err):
        # The database refused a value (a number past its range, a character it cannot store): bad input
        # that slipped past the checks. Logged, so the check can be added where it belongs.
        db.session().rollback()
        app.logger.warning("input refused by the database: %s", err)
        return _error_page(400, _("无法办理"), _("输入的内容超出了允许的范围（数字太大或含有无效字符），请检查后重新提交。"))

    @app.errorhandler(413)
    def _too_large(err):
        return _error_page(413, _("文件太大"), _("上传的内容超过了大小限制，请缩小后重试。"))

    @app.errorhandler(429)
    def _too_many(err):
        return _error_page(429, _("请稍后再试"), _("操作太频繁，请稍等一会儿再试。"))

    @app.errorhandler(500)
    def _server_error(err):
        return _error_page(500, _("系统出错"), _("系统暂时出错，您填写的内容没有保存。请稍后再试，或拨打服务热线。"))


def _register_input_guards(app: Flask) -> None:
    from werkzeug.routing import IntegerConverter

    from dibao.errors import MAX_RECORD_ID
    from dibao.web import refuse_nul

    class IdConverter(IntegerConverter):
        """``<int:…>``: an id past the largest key names nothing (404), never an overflow (errors.MAX_RECORD_ID)."""

        def __init__(self, url_map, *args, **kwargs):
            kwargs.setdefault("max", MAX_RECORD_ID)
            super().__init__(url_map, *args, **kwargs)

    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul)


def _register_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale

    @app.context_processor
    def _globals():
        return {
            "hotline": app.config["HOTLINE"],
            "public_url": app.config["PUBLIC_URL"],
            "current_locale": str(get_locale()),
            "now": clock.now(),
        }

    app.add_template_filter(i18n.localdate, "localdate")
    app.add_template_filter(i18n.localtime, "localtime")
    app.add_template_filter(i18n.closing, "closing")
    app.add_template_filter(i18n.duration, "duration")
    from dibao import audit_log

    app.add_template_filter(audit_log.action_label, "action_label")  # the timeline, the archive, the audit viewer


def _register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
        )
        if getattr(g, "locale_from_header", False):
            response.vary.add("Accept-Language")  # one URL, a page per language: caches must key on it
        if getattr(g, "vary_on_htmx", False):
            response.vary.update(("HX-Request", "HX-Boosted", "HX-History-Restore-Request"))
        if getattr(g, "noindex", False):
            response.headers["X-Robots-Tag"] = "noindex, nofollow"
        return response
