"""Staff backend blueprint."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from admin import calendar, cases, feedback, kiosks, notices, views  # noqa: E402,F401
