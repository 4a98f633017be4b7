from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField, TextAreaField
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget

from dibao.forms import FlaskForm


class ReturnForm(FlaskForm):
    """退回 with 一次性告知: tick what is missing, add what the list lacks, all at once."""

    items = SelectMultipleField(_l("需要补齐的材料（可多选）"), validate_choice=False,
                                widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    other = TextAreaField(_l("其他需要补齐的（每行一项）"), validators=[Length(max=4000)])
    note = TextAreaField(_l("给申请人的说明（可不填，申请人凭查询码可以看到，请勿写入他人信息）"),
                         validators=[Length(max=1200)])
