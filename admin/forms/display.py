from flask_babel import lazy_gettext as _l
from wtforms import DateField, FileField, StringField
from wtforms.validators import Length, Optional

from dibao.forms import FlaskForm


class AlertEmailForm(FlaskForm):
    email = StringField(_l("接收提醒的电子邮箱（留空则不接收）"), validators=[Optional(), Length(max=200)])


class BoardPhotoForm(FlaskForm):
    photo = FileField(_l("公示栏照片"))
    taken_on = DateField(_l("拍摄日期"), validators=[Optional()])
    note = StringField(_l("说明（张贴地点等，可不填）"), validators=[Optional(), Length(max=500)])
