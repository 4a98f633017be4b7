from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from dibao import kiosks
from dibao.forms import FlaskForm


class KioskSettingsForm(FlaskForm):
    name = StringField(_l("终端名称"), validators=[DataRequired(_l("请填写终端名称。")), Length(max=100)])
    rotation_seconds = IntegerField(
        _l("翻页间隔（秒）"), default=kiosks.ROTATION_DEFAULT,
        validators=[InputRequired(_l("请填写翻页间隔。")),
                    NumberRange(kiosks.ROTATION_MIN, kiosks.ROTATION_MAX,
                                _l("翻页间隔应在%(min)s到%(max)s秒之间。"))],
    )


class KioskForm(KioskSettingsForm):
    region_id = SelectField(_l("所在社区（村）"), coerce=int, validators=[DataRequired(_l("请选择社区。"))])
