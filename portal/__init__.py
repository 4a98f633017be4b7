"""Public portal blueprint (no login)."""

from flask import Blueprint

bp = Blueprint("portal", __name__)

from portal import announcements, api, applications, feedback, notices, stats, views  # noqa: E402,F401
from portal import funds  # noqa: E402,F401  (issue 11)
