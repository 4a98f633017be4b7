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
