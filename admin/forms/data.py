"""Forms of the data screens: uploading a roster to import."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField

from dibao.forms import FlaskForm


class ImportForm(FlaskForm):
    file = FileField(_l("名册文件（Excel .xlsx 或 CSV）"))
