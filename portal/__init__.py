"""Public portal blueprint (no login)."""

from flask import Blueprint

bp = Blueprint("portal", __name__)

from portal import announcements, api, applications, feedback, funds, notices, receipts, stats, views  # noqa: E402,F401
