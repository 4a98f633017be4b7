"""Staff backend blueprint."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from admin import cases, feedback, kiosks, notices, views  # noqa: E402,F401

from admin import announcements, applications, display  # noqa: E402,F401  # isort: skip  (issue 14)
