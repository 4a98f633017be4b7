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
    household,  # issue 10: assets, changes, 文书, panel, archive
    kiosks,
    management,
    notices,
    payments,
    stats,
    views,
)
