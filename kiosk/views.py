from __future__ import annotations

from dibao.web import render
from kiosk import bp


@bp.get("/")
def index():
    # A kiosk is opened by its own token URL (/kiosk/<token>); the bare path shows a neutral screen.
    return render("kiosk/not_registered.html", status=404)
