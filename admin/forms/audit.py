"""The audit viewer's search form (a GET form: it changes nothing)."""

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from dibao.forms import FlaskForm


class AuditSearchForm(FlaskForm):
    class Meta:
        csrf = False

    who = StringField(_l("操作人"), validators=[Optional(), Length(max=50)])
    household = StringField(_l("家庭（案卷号或户主姓名）"), validators=[Optional(), Length(max=50)])
    action = SelectField(_l("操作"), validate_choice=False)
    since = DateField(_l("从"), validators=[Optional()])
    until = DateField(_l("到"), validators=[Optional()])
