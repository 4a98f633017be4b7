"""(placeholder: filled by the issue that owns it)"""

from admin import bp  # noqa: F401
