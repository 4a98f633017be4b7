"""Forms of the household screens (issue 10, items 6–10): assets and 核对, member changes and transfer, 文书 and
their delivery, the review panel and its questions. Their choices are the domain's to check, with the other fields
(``validate_choice=False``; ids through :func:`admin.forms.record_id`)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from admin.forms import record_id
from dibao import assets, cases, documents, household, panel
from dibao.forms import FlaskForm
from dibao.models.household import DeliveryWay, PanelRole, TransferKind, VerificationResult


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- assets and 核对 ---------------------------------------------------------------------------------------

class AssetForm(FlaskForm):
    kind = SelectField(_l("资产类型"), choices=[SelectChoice(k.value, v) for k, v in assets.ASSET_LABELS.items()],
                       validate_choice=False)
    description = StringField(_l("说明（坐落、车牌、开户行等）"), validators=[Optional(), Length(max=200)])
    units = IntegerField(_l("数量（套、辆、家）"), default=1, validators=[Optional()])
    area = StringField(_l("建筑面积（平方米，住房填写）"), validators=[Optional(), Length(max=20)])
    value = StringField(_l("金额（元，存款和有价证券填写）"), validators=[Optional(), Length(max=20)])


class VerificationForm(FlaskForm):
    requested_on = DateField(_l("发起核对日期"), validators=[Optional()])
    authorised_on = DateField(_l("家庭成员签署核对授权书的日期"), validators=[Optional()])
    agencies = MultiCheckboxField(_l("核对部门"), choices=[SelectChoice(a, a) for a in assets.AGENCIES])
    other_agencies = StringField(_l("其他部门（用顿号分隔）"), validators=[Optional(), Length(max=200)])


class ResultForm(FlaskForm):
    result = RadioField(_l("核对结果"), choices=[SelectChoice(k.value, v) for k, v in assets.RESULT_LABELS.items()],
                        default=VerificationResult.consistent.value, validate_choice=False)  # the domain checks it
    result_on = DateField(_l("反馈日期"), validators=[Optional()])
    findings = TextAreaField(_l("核对情况（不一致时必填）"), validators=[Optional(), Length(max=4000)])
    document = FileField(_l("核对报告（照片或 PDF，可不上传）"))


class DiscretionForm(FlaskForm):
    text = TextAreaField(_l("县级酌情决定和理由"), validators=[Length(max=4000)])


class LimitsForm(FlaskForm):
    housing_units = IntegerField(_l("住房套数上限"), validators=[Optional()])
    housing_area_per_person = StringField(_l("人均住房面积上限（平方米）"),
                                          validators=[Length(max=20)])
    vehicles = IntegerField(_l("机动车辆上限（辆）"), validators=[Optional()])
    deposits_per_person = StringField(_l("人均存款和有价证券上限（元）"),
                                      validators=[Length(max=20)])
    business_allowed = BooleanField(_l("允许有工商登记（经营实体）"))


# --- member changes and transfer -----------------------------------------------------------------------

class MemberJoinForm(FlaskForm):
    kind = SelectField(_l("增加原因"), choices=[SelectChoice(k.value, household.MEMBER_CHANGE_LABELS[k])
                                             for k in household.JOINING], validate_choice=False)
    happened_on = DateField(_l("发生日期"), validators=[Optional()])
    name = StringField(_l("姓名"), validators=[Length(max=50)])
    relation = SelectField(_l("与户主关系"), choices=[SelectChoice(r, r) for r in cases.RELATIONS if r != "本人"],
                           validate_choice=False)
    age = IntegerField(_l("年龄"), validators=[Optional()])
    id_number = StringField(_l("身份证号码（可不填）"), validators=[Optional(), Length(max=20)])
    reason = TextAreaField(_l("说明（如出生医学证明、结婚证）"), validators=[Length(max=2000)])


class MemberLeaveForm(FlaskForm):
    member_id = SelectField(_l("成员"), coerce=record_id, validate_choice=False)
    kind = SelectField(_l("减少原因"), choices=[SelectChoice(k.value, household.MEMBER_CHANGE_LABELS[k])
                                             for k in household.MEMBER_CHANGE_LABELS if k not in household.JOINING],
                       validate_choice=False)
    happened_on = DateField(_l("发生日期"), validators=[Optional()])
    reason = TextAreaField(_l("说明（如死亡证明、迁出证明）"), validators=[Length(max=2000)])


class TransferForm(FlaskForm):
    to_region_id = SelectField(_l("迁入社区（村）"), coerce=record_id, validate_choice=False)
    kind = SelectField(_l("迁移类型"), choices=[SelectChoice(k.value, v) for k, v in household.TRANSFER_LABELS.items()],
                       default=TransferKind.separation.value, validate_choice=False)
    moved_on = DateField(_l("迁移日期"), validators=[Optional()])
    address = StringField(_l("迁入后的家庭住址"), validators=[Length(max=200)])
    public_address = StringField(_l("公示地址（到小区或楼栋）"), validators=[Optional(), Length(max=200)])
    reason = TextAreaField(_l("迁移原因"), validators=[Length(max=2000)])


# --- 文书 --------------------------------------------------------------------------------------------------

class DeliveryForm(FlaskForm):
    delivered_on = DateField(_l("送达日期"), validators=[Optional()])
    way = SelectField(_l("送达方式"), choices=[SelectChoice(k.value, v) for k, v in documents.WAY_LABELS.items()],
                      default=DeliveryWay.in_person.value, validate_choice=False)
    recipient = StringField(_l("签收人"), validators=[Length(max=50)])
    delivered_by = StringField(_l("送达人"), validators=[Length(max=100)])
    note = StringField(_l("备注"), validators=[Optional(), Length(max=200)])


# --- the review panel ---------------------------------------------------------------------------------------

class PanelMemberForm(FlaskForm):
    name = StringField(_l("姓名"), validators=[Length(max=50)])
    role = SelectField(_l("身份"), choices=[SelectChoice(k.value, v) for k, v in panel.ROLE_LABELS.items()],
                       default=PanelRole.resident.value, validate_choice=False)
    term_start = DateField(_l("任期开始"), validators=[Optional()])
    term_end = DateField(_l("任期结束"), validators=[Optional()])
    note = StringField(_l("备注"), validators=[Optional(), Length(max=200)])


class MeetingForm(FlaskForm):
    held_on = DateField(_l("评议日期"), validators=[Optional()])
    location = StringField(_l("地点"), validators=[Optional(), Length(max=200)])
    members = MultiCheckboxField(_l("参加评议的小组成员"), coerce=record_id, validate_choice=False)
    attendees = MultiCheckboxField(_l("列席的小组成员"), coerce=record_id, validate_choice=False)
    other_attendees = StringField(_l("其他列席人员（如乡镇干部，用顿号分隔）"), validators=[Optional(), Length(max=500)])


class QuestionForm(FlaskForm):
    meeting_id = SelectField(_l("评议会议"), coerce=record_id, validate_choice=False)
    asked_by = StringField(_l("质询人"), validators=[Length(max=50)])
    question = TextAreaField(_l("质询问题"), validators=[Length(max=4000)])
    answer = TextAreaField(_l("答复"), validators=[Length(max=4000)])
    answered_by = StringField(_l("答复人"), validators=[Length(max=50)])
