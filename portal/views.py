from __future__ import annotations

from flask import redirect, request, session, url_for

from dibao import LOCALES
from dibao.web import render
from portal import bp


@bp.get("/")
def home():
    return render("portal/home.html")


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in LOCALES:
        session["lang"] = code
    target = request.args.get("next") or url_for("portal.home")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("portal.home")
    return redirect(target)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
