"""Public portal blueprint (no login)."""

from flask import Blueprint

bp = Blueprint("portal", __name__)

from portal import api, feedback, notices, views  # noqa: E402,F401

from portal import announcements, applications  # noqa: E402,F401  # isort: skip  (issue 14)
