"""The public forms: objection (异议) and report (举报). They parse; dibao.feedback decides."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    FieldList,
    FileField,
    FormField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from dibao import applications, feedback
from dibao.forms import FlaskForm, Form
from dibao.models import ReasonCategory, ReportSubject

MAX_TYPED_NUMBER = 20  # a phone or ID number as typed (spaces, dashes, +86): the domain then checks its form


class AtMost(Length):
    """The domain's length limit for a field (its maxlength on the page too), measured as the domain measures
    (without the spaces around), with a message that names the field: WTForms' own says only
    "字段长度不能超过 N 个字符", with whatever number the form had."""

    def __init__(self, limit: int):
        super().__init__(max=limit)

    def __call__(self, form, field):
        if len((field.data or "").strip()) > self.max:
            raise ValidationError(_("“%(field)s”最多 %(n)d 个字，请删减后再提交。", field=field.label.text, n=self.max))


def forget_numbers(fields, *, note: bool = True) -> bool:
    """Blank the phone and ID numbers typed into a public form before it goes back to the person: no public
    response carries one, not even to whoever typed it (the page may be on a shared screen, in a library's
    browser history). With ``note``, each field that had one is marked ``retype``: the page says beside it
    that it must be typed again. True if any had been typed."""
    typed = False
    for field in fields:
        had = bool((field.data or "").strip())
        typed = typed or had
        field.data = ""
        field.raw_data = []
        field.retype = had and note
    return typed


def _category_choices():
    return [SelectChoice(c.value, feedback.CATEGORY_LABELS[c]) for c in ReasonCategory]


class FeedbackForm(FlaskForm):
    category = RadioField(_l("反映的问题"), choices=_category_choices(), validate_choice=False)
    description = TextAreaField(_l("具体情况"), validators=[AtMost(feedback.MAX_DESCRIPTION)])
    photos = MultipleFileField(_l("照片证据（可不传）"))
    name = StringField(_l("您的姓名"), validators=[Optional(), AtMost(feedback.MAX_NAME)])
    phone = StringField(_l("联系电话"), validators=[Optional(), AtMost(MAX_TYPED_NUMBER)])
    # Honeypot: hidden from people by CSS and aria-hidden; a bot that fills every field is refused.
    website = StringField(_l("网址（请勿填写）"))
    submission_id = HiddenField()


class ObjectionForm(FeedbackForm):
    entry = HiddenField()


class ReportForm(FeedbackForm):
    subject = RadioField(_l("举报对象"),
                         choices=[SelectChoice(s.value, feedback.SUBJECT_LABELS[s]) for s in ReportSubject],
                         validate_choice=False, default=ReportSubject.recipient.value)
    region = SelectField(_l("所在社区（村）"), validate_choice=False)
    case = SelectField(_l("低保名单上的家庭"), validate_choice=False)
    about = StringField(_l("被举报的人或单位"), validators=[Optional(), AtMost(feedback.MAX_ABOUT)])
    entry = HiddenField()


# --- 网上申请 (dibao.applications) ----------------------------------------------------------------------------

def _capacity_choices():
    from dibao.cases import WORK_CAPACITY_LABELS
    from dibao.models import WorkCapacity

    return [SelectChoice(c.value, WORK_CAPACITY_LABELS[c]) for c in WorkCapacity]


class MemberRowForm(Form):
    """One household member besides the applicant (a row left empty is ignored)."""

    name = StringField(_l("姓名"), validators=[Optional(), AtMost(applications.MAX_NAME)])
    relation = SelectField(_l("与申请人的关系"), validate_choice=False,
                           choices=[SelectChoice("", _l("请选择"))] + [SelectChoice(r, r) for r in
                                                                        applications.RELATIONS])
    age = StringField(_l("年龄"), validators=[Optional(), AtMost(3)])
    id_number = StringField(_l("身份证号码（可不填）"), validators=[Optional(), AtMost(MAX_TYPED_NUMBER)])
    work_capacity = SelectField(_l("劳动能力"), validate_choice=False, choices=_capacity_choices())


class ApplicationForm(FlaskForm):
    by_proxy = RadioField(_l("谁来填写这份申请"), validate_choice=False, default="self",
                          choices=[SelectChoice("self", _l("我为自己家申请")),
                                   SelectChoice("proxy", _l("我替家人或他人代为申请（需要委托书）"))])
    proxy_name = StringField(_l("代办人姓名"), validators=[Optional(), AtMost(applications.MAX_NAME)])
    proxy_relation = SelectField(_l("代办人与申请人的关系"), validate_choice=False,
                                 choices=[SelectChoice("", _l("请选择"))] + [SelectChoice(r, r) for r in
                                                                              applications.PROXY_RELATIONS])
    proxy_phone = StringField(_l("代办人电话"), validators=[Optional(), AtMost(MAX_TYPED_NUMBER)])
    region = SelectField(_l("家庭所在社区（村）"), validate_choice=False)
    head_name = StringField(_l("申请人（户主）姓名"), validators=[Optional(), AtMost(applications.MAX_NAME)])
    head_id_number = StringField(_l("申请人身份证号码"), validators=[Optional(), AtMost(MAX_TYPED_NUMBER)])
    head_phone = StringField(_l("联系电话"), validators=[Optional(), AtMost(MAX_TYPED_NUMBER)])
    email = StringField(_l("电子邮箱（可以不填）"), validators=[Optional(), AtMost(200)])
    address = StringField(_l("家庭住址"), validators=[Optional(), AtMost(applications.MAX_ADDRESS)])
    head_work_capacity = RadioField(_l("申请人的劳动能力"), validate_choice=False, choices=_capacity_choices(),
                                    default="full")
    members = FieldList(FormField(MemberRowForm), min_entries=4, max_entries=applications.MAX_MEMBERS)
    reason = TextAreaField(_l("申请理由"), validators=[AtMost(applications.MAX_REASON)])
    materials = MultipleFileField(_l("申请材料照片（可以不传）"))
    authorisation = FileField(_l("委托书照片（代为申请时必传）"))
    check_consent = BooleanField(_l("我和共同生活的家庭成员同意民政部门核对家庭收入和财产状况"))
    # Honeypot and the per-form token, as on the objection form.
    website = StringField(_l("网址（请勿填写）"))
    submission_id = HiddenField()
