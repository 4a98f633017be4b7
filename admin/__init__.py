"""Staff backend blueprint."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from admin import audit, calendar, cases, data, feedback, kiosks, notices, stats, views  # noqa: E402,F401
