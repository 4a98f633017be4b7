"""Staff backend blueprint."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from admin import (  # noqa: E402,F401
    announcements,
    applications,
    audit,
    calendar,
    cases,
    data,
    display,
    feedback,
    kiosks,
    notices,
    payments,
    stats,
    views,
)
