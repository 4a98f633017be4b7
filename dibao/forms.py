"""The base classes of every form of the app (admin/forms, portal/forms): what a person types into a text field
loses its control and formatting characters (dibao.text.clean_text) before any validator, view or domain function
reads it — one filter here instead of one call per field. A text area keeps its line breaks and tabs; a one-line
field turns them into spaces. Passwords and hidden fields (tokens) are left exactly as sent.

Names of persons are cleaned further by the domain (dibao.text.normalise_name), so that imports and the command
line get the same.
"""

from __future__ import annotations

from typing import Any

import flask_wtf
import wtforms
from wtforms.fields import HiddenField, PasswordField, StringField, TextAreaField

from dibao.text import clean_text


def _clean_multiline(value: Any) -> Any:
    return clean_text(value, multiline=True) if isinstance(value, str) else value


def _clean_line(value: Any) -> Any:
    return clean_text(value, multiline=False) if isinstance(value, str) else value


class CleanTextMeta:
    """A WTForms Meta mixin: adds the cleaning filter, first, to every text field a form binds."""

    def bind_field(self, form: Any, unbound_field: Any, options: dict) -> Any:
        kind = unbound_field.field_class
        # (filters given by position, the third argument, are not merged: no form of the app does that)
        if issubclass(kind, StringField) and not issubclass(kind, PasswordField | HiddenField) \
                and len(unbound_field.args) < 3:
            clean = _clean_multiline if issubclass(kind, TextAreaField) else _clean_line
            options = {**options, "filters": (clean, *unbound_field.kwargs.get("filters", ()))}
        return super().bind_field(form, unbound_field, options)  # type: ignore[misc]


class FlaskForm(flask_wtf.FlaskForm):
    """flask_wtf's form (CSRF) with the text cleaning: the base of every form of the app."""

    class Meta(CleanTextMeta):
        pass

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Problems of inputs the form does not declare (a row of a table the view reads by hand, e.g. a sitting's
        # households), by their name: listed above the form and placed in their row by the page
        # (dibao.web.attach_message).
        self.named_errors: dict[str, list[str]] = {}


class Form(wtforms.Form):
    """A sub-form (a row of a FieldList(FormField(…))): binds its own fields, so it needs the cleaning too."""

    class Meta(CleanTextMeta):
        pass
