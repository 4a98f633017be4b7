"""Community kiosk blueprint: full-screen display for a registered kiosk token."""

from flask import Blueprint

bp = Blueprint("kiosk", __name__)

from kiosk import views  # noqa: E402,F401
