from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from admin.forms import record_id
from dibao.forms import FlaskForm


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名。")), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码。")), Length(max=256)])


# The staff forms leave "required" (and which role or region may be chosen) to the domain (dibao.accounts,
# dibao.regions): it checks every field together, so an empty field is reported with the other mistakes instead of
# before them.
class UserForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[Length(max=64)])
    display_name = StringField(_l("姓名"), validators=[Length(max=100)])
    role = SelectField(_l("角色"), validate_choice=False)
    region_id = SelectField(_l("所属区划"), coerce=record_id, validate_choice=False)
    password = PasswordField(_l("密码"), validators=[Optional(), Length(max=256)])
    active = BooleanField(_l("启用"), default=True)


class RegionForm(FlaskForm):
    code = StringField(_l("区划代码"), validators=[Length(max=32)])
    name = StringField(_l("名称"), validators=[Length(max=100)])
    parent_id = SelectField(_l("上级区划"), coerce=int, validators=[DataRequired()])


class RenameRegionForm(FlaskForm):
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称。")), Length(max=100)])
