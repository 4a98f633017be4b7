from admin import bp  # noqa: F401
