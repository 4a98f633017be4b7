from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from dibao import db
from dibao.errors import DomainError


def attach_error(form: FlaskForm, err: DomainError) -> None:
    """Show a domain error beside its field, or above the form."""
    field = getattr(form, err.field, None) if err.field else None
    if field is not None:
        field.errors = [*field.errors, str(err.message)]
    else:
        form.form_errors.append(str(err.message))


def save(form: FlaskForm, change: Callable[[Session], Any], *, refusals_propagate: bool = False):
    """Run one domain change and commit it: the request's one commit.

    On a domain error nothing is kept: the transaction rolls back and the message is shown on the form.
    Returns ``(result, None)`` on success and ``(None, status)`` on a refusal. With ``refusals_propagate``,
    scope and permission refusals (403/404) go to the error page instead of the form.
    """
    sess = db.session()
    try:
        result = change(sess)
        sess.commit()
    except DomainError as err:
        sess.rollback()
        if refusals_propagate and err.status in (403, 404):
            raise
        attach_error(form, err)
        return None, err.status
    return result, None


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名。")), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码。")), Length(max=256)])


class UserForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名。")), Length(max=64)])
    display_name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=100)])
    role = SelectField(_l("角色"), validators=[DataRequired()])
    region_id = SelectField(_l("所属区划"), coerce=int, validators=[DataRequired()])
    password = PasswordField(_l("密码"), validators=[Optional(), Length(max=256)])
    active = BooleanField(_l("启用"), default=True)


class RegionForm(FlaskForm):
    code = StringField(_l("区划代码"), validators=[DataRequired(_l("请填写区划代码。")), Length(max=32)])
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称。")), Length(max=100)])
    parent_id = SelectField(_l("上级区划"), coerce=int, validators=[DataRequired()])


class RenameRegionForm(FlaskForm):
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称。")), Length(max=100)])


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with its CSRF token."""
