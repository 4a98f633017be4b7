from flask_babel import lazy_gettext as _l
from wtforms import Field, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, Length, Optional

from dibao.forms import FlaskForm

SCHEDULE_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"]


class CaseChoices(Field):
    """The households ticked on the compose page (its checkboxes named ``case_id``, drawn by the template): the
    values as sent. The domain reads and checks them; its problems with them are shown beside the list."""

    def process_formdata(self, valuelist):
        self.data = list(valuelist)


class ComposeForm(FlaskForm):
    # Only the form's shape here: what a board needs (households, a title, the number of days, a scheduled time
    # not in the past) is the domain's check (dibao.notices.compose), every problem at once beside its field.
    case_id = CaseChoices(_l("待公示的家庭"))
    title = StringField(_l("公示标题"), validators=[Length(max=200)])
    window_days = IntegerField(_l("公示天数"), validators=[Optional()])
    # A datetime-local picker; the value typed by hand ("2026-11-27 09:00") is accepted too.
    opens_at = DateTimeLocalField(_l("定时发布（不填则立即发布）"), format=SCHEDULE_FORMATS, validators=[Optional()],
                                  invalid_value_message=_l("请按“2026-11-27 09:00”的格式填写日期和时间。"))
    case_ids = HiddenField()  # carried from the preview to the publish step


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("撤回原因"), validators=[DataRequired(_l("请写明撤回原因。")), Length(max=1000)])


class ContentForm(FlaskForm):
    title = StringField(_l("标题"), validators=[DataRequired(_l("请填写标题。")), Length(max=200)])
    body = TextAreaField(_l("正文"), validators=[DataRequired(_l("请填写正文。")), Length(max=20000)])
