from flask_babel import lazy_gettext as _l
from wtforms import DateField, FileField, MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from admin.forms import record_id
from dibao.forms import FlaskForm


class AnnouncementForm(FlaskForm):
    kind = SelectField(_l("类型"), validate_choice=False)
    category = SelectField(_l("文件类别（制度文件）"), validate_choice=False)
    region_id = SelectField(_l("发布范围"), coerce=record_id, validate_choice=False)
    title = StringField(_l("标题"), validators=[Length(max=200)])
    body = TextAreaField(_l("正文"), validators=[Length(max=20000)])
    ticker = StringField(_l("滚动字幕（公示终端底部滚动的一句话，可不填）"), validators=[Optional(), Length(max=120)])
    starts_on = DateField(_l("开始日期"), validators=[Optional()])
    ends_on = DateField(_l("结束日期（到期自动撤下；制度文件可不填）"), validators=[Optional()])
    picture = FileField(_l("配图（可不传）"))
    files = MultipleFileField(_l("附件（PDF 或图片，可多选）"))


class WithdrawAnnouncementForm(FlaskForm):
    reason = TextAreaField(_l("撤下原因"), validators=[DataRequired(_l("请写明撤下的原因。")), Length(max=1000)])
