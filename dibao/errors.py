"""Domain errors. Views let them propagate; the app turns each into a 4xx with its Chinese message.

A form's checks report every problem at once: a domain function collects them (:func:`collect`) and raises one
error carrying them all (``err.field_problems``, each a field and its message), before it writes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

Problem = tuple[str | None, Any]  # (the form field, or None for the whole form; its Chinese message)


class DomainError(Exception):
    status = 400

    def __init__(self, message: Any, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.field_problems: list[Problem] = [(field, message)]  # (not "problems": subclasses use that name)

    @classmethod
    def many(cls, problems: Iterable[Problem]) -> DomainError:
        """One error carrying several problems. ``field`` is the first problem's; ``message`` says how many there
        are and lists them all (for the error page, the API and the command line)."""
        problems = list(problems)
        if not problems:
            raise ValueError("no problems")
        if len(problems) == 1:
            return cls(problems[0][1], field=problems[0][0])
        err = cls(_summary(problems), field=problems[0][0])
        err.field_problems = problems
        return err


def _summary(problems: list[Problem]):
    from flask_babel import LazyString
    from flask_babel import lazy_gettext as _l

    def text() -> str:
        return str(_l("有 %(n)d 处需要修改：%(list)s", n=len(problems),
                      list=" ".join(str(message) for _field, message in problems)))

    return LazyString(text)


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


# What a form's checks collect: refusals of its input. Scope and permission (404, 403), a closed entry (410)
# and a rate limit end the request at once.
COLLECTED = (Invalid, Conflict)


def chosen(kind: type[E], value: Any) -> E | None:
    """The member of ``kind`` a form's choice names (a member, or its value as the form sends it), or None for
    anything else — empty, stale, made up: the caller says "请选择…" beside the field with its other problems
    (``kind(value)`` alone would raise ValueError, a 500)."""
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except (ValueError, TypeError):
        return None


# Every table's id is an INTEGER column, whose largest value on PostgreSQL is this: a number past it names no
# record, so it is refused here, before any query (SQLite's integers have no such edge: one bound for both).
MAX_RECORD_ID = 2**31 - 1


def parse_record_id(value: Any) -> int | None:
    """The one reading of a record id a user sent (query string, form field, hidden input): ASCII digits, spaces
    around them allowed, naming a possible key 1 … :data:`MAX_RECORD_ID`; an int within the same range (a value
    already read). None for anything else — empty, 0, signed, "1e3", full-width or other scripts' digits (which
    ``int()`` would read), past the bound: the caller treats it as not chosen, or not found."""
    if isinstance(value, bool):  # (a bool is an int to Python, never an id)
        return None
    if isinstance(value, str):
        text = value.strip()
        # MAX_RECORD_ID has 10 digits: a longer text names no key, and int() never reads a huge one.
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            return None
        value = int(text)
    if not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_RECORD_ID else None


class Problems:
    """The problems a form's checks found so far (see :func:`collect`)."""

    def __init__(self) -> None:
        self.errors: list[DomainError] = []

    def add(self, field: str | None, message: Any) -> None:
        self.errors.append(Invalid(message, field=field))

    def add_error(self, err: DomainError) -> None:
        self.errors.append(err)

    def check(self, run: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``run(*args, **kwargs)``'s value, or None when it refused (its problems are kept)."""
        try:
            return run(*args, **kwargs)
        except COLLECTED as err:
            self.add_error(err)
            return None

    def has(self, field: str) -> bool:
        return any(name == field for err in self.errors for name, _message in err.field_problems)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def error(self) -> DomainError | None:
        """One error for all: a single refusal as it was raised; several as one :class:`Invalid` (a
        :class:`Conflict` when each is one), with every problem."""
        if not self.errors:
            return None
        if len(self.errors) == 1:
            return self.errors[0]
        kinds = {type(err) for err in self.errors}
        cls = Conflict if kinds == {Conflict} else Invalid
        return cls.many([problem for err in self.errors for problem in err.field_problems])

    def raise_if_any(self) -> None:
        err = self.error()
        if err is not None:
            raise err


@contextmanager
def collect() -> Iterator[Problems]:
    """``with collect() as problems:`` … ``problems.add(field, message)`` or ``problems.check(normalise, …)`` …
    At the end of the block one error with every problem is raised, if there are any. A refusal raised inside
    the block ends it, and is reported together with those collected before it."""
    problems = Problems()
    try:
        yield problems
    except COLLECTED as err:
        if not problems:
            raise
        problems.add_error(err)
        raise problems.error() from err
    problems.raise_if_any()
