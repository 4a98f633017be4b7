"""The staff backend's forms, one module per area beside its routes (accounts, cases, notices, feedback,
kiosks). Forms only parse and check shapes; the rules are the domain's (dibao/), whose errors
``dibao.web.perform`` puts back on the form."""

from dibao.forms import FlaskForm


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with its CSRF token."""


def lines(text: str | None) -> list[str]:
    """One name a line (also split on Chinese commas and enumeration commas, as staff type lists)."""
    return [line.strip() for line in (text or "").replace("，", "\n").replace("、", "\n").splitlines()
            if line.strip()]


MAX_RECORD_ID = 2**31 - 1  # the largest key of the app's tables (INTEGER on PostgreSQL)


def record_id(value) -> int:
    """A record id from a form's select or checkbox (its ``coerce``): anything that is no id — or one past every key,
    which PostgreSQL would refuse to compare — is -1, which no record has, so the domain refuses it with its Chinese
    message beside the field, together with the form's other problems (WTForms' own refusal would come alone,
    before them)."""
    if value is None:
        raise TypeError
    text = str(value).strip()
    number = int(text) if text.isascii() and text.isdigit() and len(text) < 19 else -1
    return number if number <= MAX_RECORD_ID else -1
