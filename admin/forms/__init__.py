"""The staff backend's forms, one module per area beside its routes (accounts, cases, notices, feedback,
kiosks). Forms only parse and check shapes; the rules are the domain's (dibao/), whose errors
``dibao.web.perform`` puts back on the form."""

from dibao.errors import parse_record_id
from dibao.forms import FlaskForm


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with its CSRF token."""


def lines(text: str | None) -> list[str]:
    """One name a line (also split on Chinese commas and enumeration commas, as staff type lists)."""
    return [line.strip() for line in (text or "").replace("，", "\n").replace("、", "\n").splitlines()
            if line.strip()]


def record_id(value) -> int:
    """A record id from a form's select or checkbox (its ``coerce``), read as every record id is
    (:func:`dibao.errors.parse_record_id`): anything that names no possible key is -1, which no record has, so the
    domain refuses it with its Chinese message beside the field, together with the form's other problems (WTForms'
    own refusal would come alone, before them). 0 stays 0: the "none of them" choice some lists offer (未指定承办人,
    新的评议会议)."""
    if value is None:
        raise TypeError  # (WTForms then leaves the field's data None: nothing chosen yet)
    if str(value).strip() == "0":
        return 0
    number = parse_record_id(value)
    return -1 if number is None else number
