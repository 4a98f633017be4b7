"""The forms of the case screens: registration, the household, and one form for each workflow step.

A choice (a select, a radio) is checked by the domain with the form's other fields (``validate_choice=False``, ids
through :func:`admin.forms.record_id`): a value the list does not offer is said beside its field with the rest."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from admin.forms import record_id
from dibao import cases, entitlement, workflow
from dibao.forms import FlaskForm, Form
from dibao.models import Decision, WorkCapacity
from dibao.models.records import StandardMethod

CATEGORY_CHOICES = [SelectChoice(k, v) for k, v in workflow.CATEGORY_LABELS.items()]
CAPACITY_CHOICES = [SelectChoice(c.value, cases.WORK_CAPACITY_LABELS[c]) for c in WorkCapacity]
DECISION_CHOICES = [SelectChoice(Decision.approve.value, _l("同意")),
                    SelectChoice(Decision.reject.value, _l("不同意"))]


CLOSE_RELATIVE_LABEL = _l("家庭成员是经办人员或村（居）委会成员的近亲属（须县级入户调查）")


class HouseholdFields:
    head_phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=20)])
    address = StringField(_l("家庭住址（完整）"), validators=[Length(max=200)])
    public_address = StringField(_l("公示地址（到小区或楼栋）"), validators=[Optional(), Length(max=200)])
    category = SelectField(_l("分类管理"), coerce=record_id, choices=CATEGORY_CHOICES, default=1, validate_choice=False)
    close_relative_of_staff = BooleanField(CLOSE_RELATIVE_LABEL)
    no_income_no_capacity_no_supporter = BooleanField(_l("三无人员（无收入、无劳动能力、无赡养扶养抚养人）"))


SPECIAL_CASE_LABEL = _l("特殊情况（办理时限延长至 45 个工作日）")


class RegisterForm(FlaskForm, HouseholdFields):
    head_name = StringField(_l("户主姓名"), validators=[Length(max=50)])
    head_id_number = StringField(_l("户主身份证号码"), validators=[Length(max=20)])
    head_age = IntegerField(_l("户主年龄"), validators=[Optional()])
    head_health = StringField(_l("户主健康状况"), validators=[Optional(), Length(max=200)])
    head_work_capacity = SelectField(_l("户主劳动能力"), choices=CAPACITY_CHOICES, default=WorkCapacity.full.value,
                                     validate_choice=False)


class HouseholdForm(FlaskForm, HouseholdFields):
    # The community's edit: the page shows 特殊情况 (and a 近亲属备案 already set) as text with the value in a
    # hidden input — the county decides them (FlagsForm); a changed value is refused beside the field.
    special_case = BooleanField(SPECIAL_CASE_LABEL)


class FlagsForm(FlaskForm):
    """The county's form for 近亲属备案 and 特殊情况 (dibao.cases.update_flags)."""

    close_relative_of_staff = BooleanField(CLOSE_RELATIVE_LABEL)
    special_case = BooleanField(SPECIAL_CASE_LABEL)
    reason = TextAreaField(_l("理由（取消近亲属备案、认定或取消特殊情况时必填，记入操作日志）"),
                           validators=[Optional(), Length(max=2000)])


class MemberForm(FlaskForm):
    name = StringField(_l("姓名"), validators=[Length(max=50)])
    relation = SelectField(_l("与户主关系"), choices=[SelectChoice(r, r) for r in cases.RELATIONS if r != "本人"],
                           validate_choice=False)
    age = IntegerField(_l("年龄"), validators=[Optional()])
    id_number = StringField(_l("身份证号码（可不填）"), validators=[Optional(), Length(max=20)])
    health = StringField(_l("健康状况"), validators=[Optional(), Length(max=200)])
    work_capacity = SelectField(_l("劳动能力"), choices=CAPACITY_CHOICES, validate_choice=False)
    deduction = StringField(_l("每月可扣减支出（元）"), validators=[Optional(), Length(max=20)])
    deduction_note = StringField(_l("扣减原因（因病、因残、就业成本）"), validators=[Optional(), Length(max=200)])


class IncomeForm(FlaskForm):
    # the type and the amount are checked by the domain (dibao.cases.add_income), together
    source = SelectField(_l("收入类型"), validate_choice=False,
                         choices=[SelectChoice(k, v[0]) for k, v in entitlement.INCOME_SOURCES.items()])
    amount = StringField(_l("月收入（元）"), validators=[Length(max=20)])
    note = StringField(_l("说明"), validators=[Optional(), Length(max=200)])


class PhotoForm(FlaskForm):
    photo = FileField(_l("户照片（JPEG、PNG）"))
    consent = BooleanField(_l("户主已书面同意在社区公示栏和公示终端展示照片"))


class AttachmentForm(FlaskForm):
    title = StringField(_l("材料名称"), validators=[Length(max=100)])
    file = FileField(_l("文件（照片或 PDF）"))


class NeighbourForm(Form):
    name = StringField(_l("走访对象姓名"), validators=[Optional(), Length(max=50)])
    relation = StringField(_l("关系或住址"), validators=[Optional(), Length(max=100)])
    statement = TextAreaField(_l("了解到的情况"), validators=[Optional(), Length(max=2000)])


class VisitForm(FlaskForm):
    visited_on = DateField(_l("调查日期"), validators=[Optional()])
    investigators = TextAreaField(_l("调查人员（每行一人，至少 2 人）"), validators=[Length(max=500)])
    housing = TextAreaField(_l("一看：住房条件、家庭生活用品和消费情况"), validators=[Length(max=4000)])
    inquiry = TextAreaField(_l("二问：家庭成员就业、收入、健康状况"), validators=[Length(max=4000)])
    neighbours = FieldList(FormField(NeighbourForm), min_entries=4, max_entries=8)
    notes = TextAreaField(_l("调查笔录"), validators=[Optional(), Length(max=8000)])
    family_signed = BooleanField(_l("调查人员和申请家庭已在调查记录上签字"))
    unsigned_reason = TextAreaField(_l("家庭未签字的原因（拒绝签字或无法签字时必填）"),
                                    validators=[Optional(), Length(max=600)])


class CommunityReviewForm(FlaskForm):
    meeting_id = SelectField(_l("评议会议"), coerce=record_id, validate_choice=False)
    held_on = DateField(_l("评议日期"), validators=[Optional()])
    location = StringField(_l("地点"), validators=[Optional(), Length(max=200)])
    panel = TextAreaField(_l("评议小组成员（每行一人）"), validators=[Optional(), Length(max=1000)])
    attendees = TextAreaField(_l("列席人员（每行一人，如乡镇干部、驻村干部）"), validators=[Optional(), Length(max=1000)])
    votes_for = IntegerField(_l("同意票"), validators=[Optional()])
    votes_against = IntegerField(_l("不同意票"), validators=[Optional()])
    votes_abstain = IntegerField(_l("弃权票"), default=0, validators=[Optional()])
    decision = RadioField(_l("评议结果"), choices=DECISION_CHOICES, default=Decision.approve.value, validate_choice=False)
    opinion = TextAreaField(_l("评议意见（社区初审意见，将随公示发布）"), validators=[Length(max=4000)])
    override_reason = TextAreaField(_l("特殊情况说明（核算金额为 0 仍同意时必填，将随公示公开）"),
                                    validators=[Optional(), Length(max=2000)])


class TownCheckForm(FlaskForm):
    findings = TextAreaField(_l("复查情况"), validators=[Length(max=4000)])


class TownDecisionForm(FlaskForm):
    title = StringField(_l("会议名称"), validators=[Length(max=200)])
    held_on = DateField(_l("会议日期"), validators=[Optional()])
    participants = TextAreaField(_l("参会人员（每行一人）"), validators=[Length(max=2000)])
    decision = RadioField(_l("研究结果"), choices=DECISION_CHOICES, default=Decision.approve.value, validate_choice=False)
    opinion = TextAreaField(_l("乡镇审核意见（将随公示发布）"), validators=[Length(max=4000)])
    override_reason = TextAreaField(_l("特殊情况说明（核算金额为 0 仍同意时必填，将随公示公开）"),
                                    validators=[Optional(), Length(max=2000)])
    # 分档 only (admin.cases.tier_fields): the town proposes the tier, so its notice shows the amount
    tier = SelectField(_l("拟定分档"), validate_choice=False)
    tier_reason = TextAreaField(_l("拟定分档的理由"), validators=[Optional(), Length(max=2000)])


class CountyDecisionForm(FlaskForm):
    decision = RadioField(_l("审批结果"), choices=DECISION_CHOICES, default=Decision.approve.value, validate_choice=False)
    opinion = TextAreaField(_l("审批意见（不同意时写明理由）"), validators=[Length(max=4000)])
    # 分档 only: the view drops both under a 差额 standard (admin.cases.tier_fields)
    tier = SelectField(_l("分档"), validate_choice=False)
    tier_reason = TextAreaField(_l("选择分档的理由"), validators=[Optional(), Length(max=2000)])
    override_amount = StringField(_l("调整后的月保障金额（元，不调整请留空）"), validators=[Optional(), Length(max=20)])
    override_reason = TextAreaField(_l("调整理由"), validators=[Optional(), Length(max=2000)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("理由（将告知申请家庭）"), validators=[Length(max=4000)])


class PeriodicReviewForm(FlaskForm):
    findings = TextAreaField(_l("复核情况"), validators=[Length(max=4000)])
    category = SelectField(_l("复核后分类"), coerce=record_id, choices=CATEGORY_CHOICES, validate_choice=False)


class AdjustForm(FlaskForm):
    tier = SelectField(_l("分档（改变分档时选择，理由写在下面）"), validate_choice=False)  # 分档 only, as above
    amount = StringField(_l("新的月保障金额（元，留空则按最新收入重新核算）"), validators=[Optional(), Length(max=20)])
    reason = TextAreaField(_l("调整理由（将告知家庭）"), validators=[Length(max=4000)])


class GraceForm(FlaskForm):
    months = IntegerField(_l("渐退期（月；本次批准以来合计最多 6 个月）"), validators=[Optional()])
    reason = TextAreaField(_l("理由"), validators=[Length(max=4000)])


class TierForm(Form):
    name = StringField(_l("分档名称"), validators=[Optional(), Length(max=40)])
    share = StringField(_l("占标准的比例（%）"), validators=[Optional(), Length(max=10)])


METHOD_CHOICES = [SelectChoice("", _l("沿用现行标准的计算方法和分档")),
                  SelectChoice(StandardMethod.gap.value, _l("差额：(标准 − 家庭人均收入) × 人数")),
                  SelectChoice(StandardMethod.tiered.value, _l("分档：标准 × 该档比例 × 人数"))]


class StandardForm(FlaskForm):
    region_id = SelectField(_l("适用区划"), coerce=record_id, validate_choice=False)
    monthly_amount = StringField(_l("标准（元/人·月）"), validators=[Length(max=20)])  # required: the domain says so
    effective_from = DateField(_l("生效日期"), validators=[Optional()])
    note = StringField(_l("依据（文件名称、文号）"), validators=[Optional(), Length(max=200)])
    method = SelectField(_l("计算方法"), choices=METHOD_CHOICES, validate_choice=False)
    tiers = FieldList(FormField(TierForm), min_entries=5, max_entries=entitlement.MAX_TIERS)


class PaymentAccountForm(FlaskForm):
    kind = SelectField(_l("账户类型"), choices=[SelectChoice(k.value, label) for k, label in cases.ACCOUNT_KIND_LABELS.items()],
                       validate_choice=False)
    bank_name = StringField(_l("开户银行"), validators=[Length(max=100)])
    holder_name = StringField(_l("账户户名"), validators=[Length(max=50)])
    number = StringField(_l("账号"), validators=[Length(max=40)],
                         render_kw={"inputmode": "numeric", "autocomplete": "off"})
