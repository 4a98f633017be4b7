from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length

from admin.forms import record_id
from dibao.forms import FlaskForm


class DecideForm(FlaskForm):
    outcome = RadioField(_l("核查结论"), validate_choice=False)
    public_answer = TextAreaField(_l("公开答复（反映人凭查询码可以看到，请勿写入个人信息）"), validators=[Length(max=4200)])


class HandleForm(DecideForm):
    """The one decision form of an objection or report (issue 10 item 11): assignee, check notes, the outcome
    (or keep checking), the public answer and the duplicates decided with it; the server checks each field."""

    outcome = RadioField(_l("办理结果"), validate_choice=False)
    assignee = SelectField(_l("承办人"), coerce=record_id, validate_choice=False)
    notes = TextAreaField(_l("核查情况（仅工作人员可见）"), validators=[Length(max=4200)])
    together = SelectMultipleField(_l("一并办结同一条公示的其他异议"), coerce=record_id, validate_choice=False)


class NotifyForm(FlaskForm):
    how = StringField(_l("告知方式"), validators=[Length(max=500)])


class DecideTogetherForm(DecideForm):
    """One decision for several objections against the same entry (duplicates)."""

    objection_ids = SelectMultipleField(_l("一并办结的异议"), coerce=record_id, validate_choice=False)
    notes = TextAreaField(_l("核查情况（仅工作人员可见）"), validators=[Length(max=4200)])
