"""Forms of dynamic management (issue 10, items 1–5): reviews, decisions on proposals, deaths, contacts,
campaigns. They check shapes only; the rules are dibao.reviews and dibao.raises."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from admin.forms import record_id
from admin.forms.cases import CATEGORY_CHOICES
from dibao import reviews
from dibao.forms import FlaskForm


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ReviewForm(FlaskForm):
    checked = MultiCheckboxField(_l("本次核查的内容"), choices=[SelectChoice(k, v) for k, v in reviews.CHECK_ITEMS.items()],
                                 validate_choice=False)
    findings = TextAreaField(_l("复核情况"), validators=[Length(max=4000)])
    category = SelectField(_l("复核后分类"), coerce=record_id, choices=CATEGORY_CHOICES, validate_choice=False)
    outcome = RadioField(_l("复核结论"), choices=[SelectChoice(k, v) for k, v in reviews.REVIEW_OUTCOMES.items()],
                         default="continue", validate_choice=False)
    amount = StringField(_l("建议的月保障金额（元，留空则按最新收入核算）"), validators=[Optional(), Length(max=20)])
    reason = TextAreaField(_l("建议的理由（调整金额或退保时必填）"), validators=[Length(max=4000)])


class DecideForm(FlaskForm):
    decision = RadioField(_l("决定"), choices=[SelectChoice("confirm", _l("同意")), SelectChoice("decline", _l("不同意"))],
                          default="confirm", validate_choice=False)
    reason = TextAreaField(_l("理由（将告知家庭）"), validators=[Length(max=4000)])


class DeathForm(FlaskForm):
    member_id = SelectField(_l("去世的家庭成员"), coerce=record_id, validate_choice=False)
    died_on = DateField(_l("死亡日期"), validators=[Optional()])
    note = TextAreaField(_l("说明（死亡证明等）"), validators=[Optional(), Length(max=1000)])


class ContactForm(FlaskForm):
    contacted_on = DateField(_l("联系日期"), validators=[Optional()])
    way = SelectField(_l("联系方式"), choices=[SelectChoice(k.value, v) for k, v in reviews.CONTACT_WAY_LABELS.items()],
                      validate_choice=False)
    note = StringField(_l("情况"))  # (its length is the domain's check, with the others: reviews.log_contact)


class CampaignForm(FlaskForm):
    title = StringField(_l("核查名称"), validators=[Length(max=200)])
    due_on = DateField(_l("完成期限"), validators=[Optional()])


class SittingForm(FlaskForm):
    held_on = DateField(_l("评议日期"), validators=[Optional()])
    location = StringField(_l("地点"), validators=[Optional(), Length(max=200)])
    panel = TextAreaField(_l("评议小组成员（每行一人）"), validators=[Optional(), Length(max=1000)])
    attendees = TextAreaField(_l("列席人员（每行一人）"), validators=[Optional(), Length(max=1000)])


class TownSittingForm(FlaskForm):
    title = StringField(_l("会议名称"), validators=[Optional(), Length(max=200)])
    held_on = DateField(_l("会议日期"), validators=[Optional()])
    participants = TextAreaField(_l("参会人员（每行一人）"), validators=[Optional(), Length(max=2000)])


class CheckForm(FlaskForm):
    findings = TextAreaField(_l("核查情况"), validators=[Length(max=4000)])
