from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import Length

from dibao.forms import FlaskForm


class CalendarYearForm(FlaskForm):
    """A year's holidays and make-up working days, one period a line; the domain (dibao.workdays) reads them."""

    holidays = TextAreaField(_l("放假日期"), validators=[Length(max=4000)])
    makeup_days = TextAreaField(_l("调休上班日期（周六、周日上班）"), validators=[Length(max=4000)])
