"""(placeholder: filled by the issue that owns it)"""

from portal import bp  # noqa: F401
