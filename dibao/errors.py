"""Domain errors. Views let them propagate; the app turns each into a 4xx with its Chinese message."""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    status = 400


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class Gone(DomainError):
    status = 410


class TooMany(DomainError):
    status = 429
