from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import Length, Optional

from admin.forms import record_id
from dibao import kiosks
from dibao.forms import FlaskForm


# "Required", the range of the page time and the community are the domain's checks (dibao.kiosks), made together.
class KioskSettingsForm(FlaskForm):
    name = StringField(_l("终端名称"), validators=[Length(max=100)])
    rotation_seconds = IntegerField(_l("翻页间隔（秒）"), default=kiosks.ROTATION_DEFAULT, validators=[Optional()])


class KioskForm(KioskSettingsForm):
    region_id = SelectField(_l("所在社区（村）"), coerce=record_id, validate_choice=False)
