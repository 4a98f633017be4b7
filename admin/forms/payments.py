"""Forms of the payment runs (发放名册, issue 11)."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from dibao.forms import FlaskForm


class GenerateForm(FlaskForm):
    month = StringField(_l("发放月份"), validators=[DataRequired(_l("请填写月份，例如 2026-12。")), Length(max=7)])


class CheckForm(FlaskForm):
    note = TextAreaField(_l("核对意见（可不填）"), validators=[Optional(), Length(max=500)])


class QuestionForm(FlaskForm):
    text = TextAreaField(_l("监督问题"), validators=[DataRequired(_l("请写明问题。")), Length(max=2000)])


class AnswerForm(FlaskForm):
    text = TextAreaField(_l("答复"), validators=[DataRequired(_l("请写明答复。")), Length(max=2000)])


class ReturnFileForm(FlaskForm):
    file = FileField(_l("银行回盘文件（Excel .xlsx）"))


class LayoutForm(FlaskForm):
    columns = StringField(_l("银行文件的列（用逗号分隔）"), validators=[DataRequired(_l("请填写列。")), Length(max=400)])
