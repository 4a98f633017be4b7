"""The public forms: objection (异议) and report (举报). They parse; dibao.feedback decides."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from dibao import feedback
from dibao.models import ReasonCategory, ReportSubject


def _category_choices():
    return [SelectChoice(c.value, feedback.CATEGORY_LABELS[c]) for c in ReasonCategory]


class FeedbackForm(FlaskForm):
    category = RadioField(_l("反映的问题"), choices=_category_choices(), validate_choice=False)
    description = TextAreaField(_l("具体情况"), validators=[Length(max=feedback.MAX_DESCRIPTION + 200)])
    photos = MultipleFileField(_l("照片证据（可不传）"))
    name = StringField(_l("您的姓名"), validators=[Optional(), Length(max=60)])
    phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=30)])
    # Honeypot: hidden from people by CSS and aria-hidden; a bot that fills every field is refused.
    website = StringField(_l("网址（请勿填写）"))
    submission_id = HiddenField()


class ObjectionForm(FeedbackForm):
    entry = HiddenField()


class ReportForm(FeedbackForm):
    subject = RadioField(_l("举报对象"),
                         choices=[SelectChoice(s.value, feedback.SUBJECT_LABELS[s]) for s in ReportSubject],
                         validate_choice=False, default=ReportSubject.recipient.value)
    region = SelectField(_l("所在社区（村）"), validate_choice=False)
    case = SelectField(_l("低保名单上的家庭"), validate_choice=False)
    about = StringField(_l("被举报的人或单位"), validators=[Optional(), Length(max=220)])
    entry = HiddenField()
