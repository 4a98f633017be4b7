"""Reading the audit log (审计日志) for the county: search by who, which household, what action and when, within
the reader's region. Writing it and checking its chain are dibao.audit's."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session, object_session

from dibao import cases, clock, i18n, scope
from dibao.errors import Forbidden
from dibao.models import AuditEvent, Case, Region, Role, User

PER_PAGE = 50

# Actions of other areas that the case timeline does not name (cases.EVENT_LABELS names the case events).
EXTRA_LABELS = {
    "data_exported": _l("导出数据"),
    "notice_batch_published": _l("发布公示"),
    "notice_batch_withdrawn": _l("撤回公示"),
    "notice_batch_closed": _l("公示期满"),
    "objection_submitted": _l("收到异议"),
    "report_submitted": _l("收到举报"),
    "report_moved": _l("举报随家庭迁移"),
    "standard_set": _l("设置低保标准"),
    "tier_chosen": _l("选择分档"),
    "standard_deleted": _l("删除低保标准"),
    "user_created": _l("创建账号"),
    "user_updated": _l("修改账号"),
    "login": _l("登录"),
    "login_failed": _l("登录失败"),
    "data_key_rotated": _l("更换数据密钥"),
    "audit_key_rotated": _l("更换审计密钥"),
    # Every other action the code writes (tests/test_audit_readable.py walks the source for them).
    "login_refused_inactive": _l("停用的账号尝试登录"),
    "login_refused_published_password": _l("登录被拒（密码已公开泄露）"),
    "login_throttled": _l("登录过于频繁，暂缓登录"),
    "logout": _l("退出登录"),
    "session_ended": _l("登录已失效"),
    "user_unlocked": _l("解除登录限制"),
    "staff_email_set": _l("设置提醒邮箱"),
    "region_created": _l("新增行政区划"),
    "region_renamed": _l("修改行政区划名称"),
    "kiosk_registered": _l("登记公示终端"),
    "kiosk_updated": _l("修改公示终端"),
    "kiosk_revoked": _l("停用公示终端"),
    "kiosk_token_rotated": _l("更换公示终端地址"),
    "holiday_calendar_saved": _l("保存节假日安排"),
    "content_page_saved": _l("修改政策与程序"),
    "disclosure_policy_saved": _l("修改公开设置"),
    "asset_limits_set": _l("设置资产核对标准"),
    "notice_entry_withdrawn_early": _l("提前撤下公示条目"),
    "board_photo_added": _l("上传公示栏照片"),
    "announcement_published": _l("发布公告"),
    "announcement_updated": _l("修改公告"),
    "announcement_file_removed": _l("删除公告附件"),
    "announcement_withdrawn": _l("撤下公告"),
    "application_submitted": _l("收到网上申请"),
    "application_accepted": _l("受理网上申请"),
    "application_returned": _l("退回网上申请补充材料"),
    "personal_data_erased": _l("按期删除个人信息（个人信息保护法第四十七条）"),
    "objection_assigned": _l("指派异议承办人"),
    "report_assigned": _l("指派举报承办人"),
    "objection_check_recorded": _l("记录异议核查情况"),
    "report_check_recorded": _l("记录举报核查情况"),
    "objection_decided": _l("异议办结"),
    "report_decided": _l("举报办结"),
    "objection_submitter_notified": _l("告知异议人核查结果"),
    "report_submitter_notified": _l("告知举报人核查结果"),
    "objection_deadline_recounted": _l("重新计算异议办理期限"),
    "report_deadline_recounted": _l("重新计算举报办理期限"),
    "report_contact_viewed": _l("查看举报人联系方式"),
    "notification_retried": _l("重新发送通知"),
    "panel_member_added": _l("添加评议小组成员"),
    "panel_member_ended": _l("评议小组成员离任"),
    "review_meeting_convened": _l("召开民主评议会"),
    "campaign_opened": _l("开始全面入户核查"),
    "campaign_closed": _l("结束全面入户核查"),
    "standard_raise_detected": _l("新标准待确认提标"),
    "standard_raise_confirmed": _l("确认提标"),
    "payment_run_generated": _l("生成发放名册"),
    "payment_town_checked": _l("乡镇核对发放名册"),
    "payment_run_approved": _l("县级审批发放名册"),
    "payment_edit_refused": _l("修改已锁定的发放名册（已拒绝）"),
    "payment_bank_file_exported": _l("导出银行代发文件"),
    "payment_return_imported": _l("导入银行回盘文件"),
    "bank_layout_set": _l("设置银行文件格式"),
    "funds_question_asked": _l("群众监督提问"),
    "funds_question_answered": _l("答复群众监督提问"),
}


def action_label(action: str) -> str:
    from dibao import reviews  # the review events (the case timeline merges them in too)

    label = cases.EVENT_LABELS.get(action) or reviews.EVENT_LABELS.get(action) or EXTRA_LABELS.get(action)
    return str(label) if label else action


def may_view(user: User) -> bool:
    """The county's administrators: the county civil-affairs bureau and the system admin."""
    return cases.is_county_level(user)


def require_view(user: User) -> None:
    if not may_view(user):
        raise Forbidden(_l("审计日志只有县民政局和系统管理员可以查看。"))


@dataclass
class Search:
    who: str = ""
    household: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None


@dataclass
class Results:
    events: list[AuditEvent]
    total: int
    page: int
    cases: dict[str, Case]  # object id → case, for the events about a household

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))


def _scoped(user: User):
    in_scope = AuditEvent.region_id.in_(scope.region_ids_in_scope(user))
    # Events tied to no region (a sign-in with an unknown name — its typed text and address —, the command line's
    # key rotations) are the whole deployment's: its system admin's view, where one region holds every other.
    # Where several counties stand side by side, no county's admin reads the others' (nor the operator's).
    whole = (user.role == Role.admin and user.region.parent_id is None
             and object_session(user).scalar(select(func.count(Region.id)).where(Region.parent_id.is_(None))) == 1)
    return or_(in_scope, AuditEvent.region_id.is_(None)) if whole else in_scope


def actions(session: Session, user: User) -> list[str]:
    require_view(user)
    return sorted(session.scalars(select(AuditEvent.action).where(_scoped(user)).distinct()))


def search(session: Session, user: User, query: Search, page: int = 1) -> Results:
    require_view(user)
    conditions = [_scoped(user)]
    who = query.who.strip()[:50]
    if who:
        conditions.append(AuditEvent.actor_name.contains(who, autoescape=True))
    household = query.household.strip()[:50]
    if household:
        matching = select(cast(Case.id, String)).where(
            Case.region_id.in_(scope.region_ids_in_scope(user)),
            or_(Case.number.startswith(household, autoescape=True), Case.head_name.contains(household, autoescape=True)))
        conditions += [AuditEvent.object_type == "case", AuditEvent.object_id.in_(matching)]
    if query.action:
        conditions.append(AuditEvent.action == query.action)
    if query.since:
        conditions.append(AuditEvent.at >= clock.local_midnight(query.since))
    if query.until:
        conditions.append(AuditEvent.at < clock.local_midnight(query.until + timedelta(days=1)))
    total = session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    page = max(1, min(page, max(1, -(-total // PER_PAGE))))
    events = list(session.scalars(select(AuditEvent).where(*conditions).order_by(AuditEvent.id.desc())
                                  .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    ids = {int(e.object_id) for e in events if e.object_type == "case" and (e.object_id or "").isdigit()}
    found = {str(c.id): c for c in session.scalars(select(Case).where(Case.id.in_(ids)))} if ids else {}
    return Results(events=events, total=total, page=page, cases=found)


# --- what the reader sees of an event ------------------------------------------------------------------------
# The details are stored as the code wrote them (keys, ids, codes: the hash chain covers them as they are); the
# viewer turns them into Chinese: a label per key, names for user ids, region codes and stages, 是/否, and never an
# ID, phone or account number, whatever field one was typed into (a username, a reason, how a result was told).

KEY_LABELS = {
    "reason": _l("原因"), "number": _l("编号"), "name": _l("姓名"), "amount": _l("金额（元）"), "before": _l("修改前"),
    "after": _l("修改后"), "from": _l("从"), "to": _l("到"), "title": _l("标题"), "kind": _l("类型"),
    "region": _l("行政区划"), "level": _l("层级"), "entries": _l("户数"), "opens_at": _l("公示开始时间"),
    "was": _l("撤回前状态"), "moved": _l("转入下一步的户数"), "held": _l("因异议暂缓的户数"), "batch": _l("公示批次"),
    "entry": _l("公示条目"), "case": _l("案件"), "category": _l("类别"), "real_name": _l("实名反映"),
    "photos": _l("照片张数"), "deadline": _l("办理期限"), "subject": _l("举报对象"), "outcome": _l("结论"),
    "case_stage": _l("案件转到"), "how": _l("告知方式"), "length": _l("核查记录字数"), "working_days": _l("工作日数"),
    "username": _l("用户名"), "client": _l("登录地址"), "failures": _l("连续失败次数"), "role": _l("岗位"),
    "display_name": _l("姓名"), "active": _l("启用"), "password": _l("密码"), "changed": _l("修改的项目"),
    "changes": _l("修改的设置"), "rows": _l("行数"), "filters": _l("筛选条件"), "file": _l("文件"),
    "members": _l("家庭成员人数"), "documents": _l("材料张数"), "by_proxy": _l("代为申请"),
    "items": _l("缺少的材料项数"), "year": _l("年份"), "created": _l("新建"), "holidays": _l("节假日天数"),
    "makeup_days": _l("调休上班天数"), "deadlines_moved": _l("调整期限的件数"), "rotation_seconds": _l("翻页间隔（秒）"),
    "code": _l("代码"), "term": _l("任期"), "term_end": _l("任期截止"), "held_on": _l("会议日期"),
    "panel": _l("参加评议人数"), "attendees": _l("列席人数"), "others": _l("其他列席人员"), "asked_by": _l("质询人"),
    "investigators": _l("调查人员"), "neighbours": _l("走访邻居户数"), "county_level": _l("县级入户调查"),
    "family_signed": _l("家庭已签字"), "unsigned_reason": _l("家庭未签字的原因"),
    "close_relative": _l("工作人员近亲属"), "special_case": _l("特殊情况"), "relation": _l("与户主关系"),
    "source": _l("来源"), "consent": _l("同意公示照片"), "bank": _l("开户银行"), "type": _l("文件类型"),
    "checked": _l("核查项目"), "confirmed": _l("同意"), "grace_until": _l("渐退期至"), "months": _l("月数"),
    "died_on": _l("死亡日期"), "on": _l("日期"), "way": _l("方式"), "households": _l("户数"), "total": _l("合计"),
    "arrears": _l("补发户数"), "month": _l("月份"), "note": _l("备注"), "columns": _l("文件列"), "lines": _l("行数"),
    "status": _l("状态"), "units": _l("数量"), "area": _l("面积（平方米）"), "value": _l("价值（元）"),
    "agencies": _l("核对部门"), "requested_on": _l("发起日期"), "result": _l("核对结果"), "result_on": _l("结果日期"),
    "authorised_on": _l("授权书签署日期"),
    "method": _l("计算方法"), "tiers": _l("分档"), "tier": _l("分档"),
    "exceeds": _l("超标项目"), "effective_from": _l("执行日期"), "happened_on": _l("发生日期"),
    "size": _l("变化后家庭人数"), "moved_on": _l("迁移日期"), "unassigned": _l("取消原承办人"),
    "next_review_due": _l("下次复核日期"), "computed": _l("计算金额（元）"), "starts_on": _l("开始日期"),
    "ends_on": _l("结束日期"), "files": _l("附件数"), "picture": _l("配图"), "set": _l("已设置"),
    "channel": _l("渠道"), "attempts": _l("已尝试次数"), "taken_on": _l("拍摄日期"), "approved_on": _l("批准日期"),
    "row": _l("行号"), "done": _l("已核查户数"), "paid": _l("发放成功户数"), "failed": _l("发放失败户数"),
    "values": _l("重新加密的数据项数"), "legacy": _l("旧格式数据项数"), "already_new": _l("已用新密钥的数据项数"),
    "previous_keys": _l("原密钥"), "key": _l("密钥"), "body": _l("正文"), "ticker": _l("滚动字幕"),
    "head_phone": _l("联系电话"), "address": _l("家庭住址"), "public_address": _l("公示地址"),
    "close_relative_of_staff": _l("工作人员近亲属"), "no_income_no_capacity_no_supporter": _l("三无人员"),
    "delivered_on": _l("送达日期"), "objection": _l("异议"), "override": _l("改定金额（元）"),
    "override_reason": _l("特殊情况说明"), "payment_start": _l("开始发放日期"), "payment_stops": _l("停发日期"),
    "votes": _l("表决票数（同意、反对、弃权）"), "retention_days": _l("保存期限（天）"),
    "notifications": _l("清除收件人的通知条数"), "client_key": _l("清除来源标识"),
    "completing_an_earlier_erasure": _l("补删此前遗留的信息"),
}
# Where a key means something else for one action.
ACTION_KEY_LABELS = {
    **{(action, key): label for action in ("case_transferred", "report_moved")
       for key, label in (("from", _l("迁出社区")), ("to", _l("迁入社区")))},
    **{(f"{kind}_deadline_recounted", key): label for kind in ("objection", "report")
       for key, label in (("from", _l("原办理期限")), ("to", _l("新办理期限")))},
    **{(f"{kind}_assigned", key): label for kind in ("objection", "report")
       for key, label in (("from", _l("原承办人")), ("to", _l("新承办人")))},
    **{(action, "name"): _l("名称") for action in ("region_created", "region_renamed", "kiosk_registered",
                                                  "kiosk_updated", "kiosk_revoked", "kiosk_token_rotated")},
    ("amount_adjusted", "from"): _l("执行日期"), ("standard_raised", "from"): _l("执行日期"),
    ("audit_key_rotated", "from"): _l("原密钥"), ("audit_key_rotated", "to"): _l("新密钥"),
    ("payment_account_set", "number"): _l("账号"), ("payment_account_set", "kind"): _l("账户类型"),
    ("announcement_file_removed", "file"): _l("附件"), ("data_exported", "file"): _l("文件名"),
    ("attachment_added", "title"): _l("材料名称"), ("document_issued", "number"): _l("文书编号"),
    ("document_issued", "kind"): _l("文书"), ("income_added", "source"): _l("收入来源"),
    ("income_removed", "source"): _l("收入来源"), ("case_transferred", "kind"): _l("迁移原因"),
    ("member_change_recorded", "kind"): _l("变化"), ("member_change_recorded", "name"): _l("成员姓名"),
    ("member_change_recorded", "proposed"): _l("报县级决定的新金额"),
    ("asset_added", "kind"): _l("资产"), ("asset_removed", "kind"): _l("资产"), ("proposal_decided", "kind"): _l("建议"),
    ("contact_logged", "way"): _l("联系方式"), ("document_delivered", "way"): _l("送达方式"),
    ("periodic_review", "category"): _l("分类"), ("objection_submitted", "category"): _l("反映的问题"),
    ("report_submitted", "category"): _l("反映的问题"), ("review_recorded", "outcome"): _l("复核结论"),
    ("campaign_closed", "total"): _l("户数合计"), ("user_created", "region"): _l("所属区划"),
    ("user_updated", "region"): _l("所属区划"), ("report_moved", "case"): _l("案件"),
    ("notice_batch_closed", "moved"): _l("转入下一步的案件"), ("notice_batch_closed", "held"): _l("因异议暂缓的案件"),
    ("panel_member_added", "role"): _l("身份"),
}
# A list whose places mean different things: one label per place.
LIST_FIELDS = {
    ("asset_limits_set", key): (_l("住房套数"), _l("人均住房面积"), _l("机动车辆"), _l("人均存款"), _l("允许经营"))
    for key in ("before", "after")
}
# Internal record numbers (a row of another table, a session, a stored file): nothing a reader can use.
HIDDEN_KEYS = frozenset({
    "session", "fingerprint", "visit", "asset", "verification", "check", "proposal", "contact", "question",
    "meeting", "campaign", "run", "line", "attachment", "change", "transfer", "raise", "standard", "job",
    "discretion", "notification", "object", "settled", "document", "photo", "member", "opinion",
})
HIDDEN_ACTION_KEYS = frozenset({("document_issued", "source")})
PAIR_KEYS = frozenset({"amount", "category", "number", "name", "display_name", "role", "region", "active"})
COUNTED_KEYS = frozenset({"panel", "attendees"})  # lists of panel members' ids: how many
SESSION_END_LABELS = {"logout": _l("主动退出"), "idle": _l("长时间未操作"), "disabled": _l("账号被停用"),
                      "password": _l("密码已修改"), "expired": _l("超过登录有效期")}
OBJECT_LABELS = {
    "case": _l("案件"), "user": _l("账号"), "notice_batch": _l("公示批次"), "notice_entry": _l("公示条目"),
    "objection": _l("异议"), "report": _l("举报"), "kiosk": _l("公示终端"), "region": _l("行政区划"),
    "standard": _l("低保标准"), "export": _l("导出"), "holiday_calendar": _l("节假日安排"),
    "content_page": _l("政策与程序"), "announcement": _l("公告"), "application": _l("网上申请"),
    "campaign": _l("全面入户核查"), "asset_limits": _l("资产核对标准"), "review_meeting": _l("民主评议会"),
    "payment_run": _l("发放名册"), "funds_question": _l("群众监督提问"), "bank_layout": _l("银行文件格式"),
    "disclosure_policy": _l("公开设置"), "notification": _l("通知"), "data_key": _l("数据密钥"),
    "audit_key": _l("审计密钥"),
}

# An ID number (18 or 15 digits), a mobile or landline number, a bank card (grouped or not), or any other run of
# 11+ digits — but not a number inside a word, and not a case number (341399001001-2026-0007, matched first by
# ``case`` and kept).
SECRET_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])(?:(?P<case>\d{6,12}-[0-9A-Z]{2,4}-\d{3,5})|\d{17}[0-9Xx]"
    r"|\+?(?:86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}|0\d{2,3}[ -]?\d{7,8}"
    r"|\d{4}(?:[ -]?\d{4}){2,3}(?:[ -]?\d{1,3})?|\d{11,})(?![0-9A-Za-z])")
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)")


def mask_numbers(text: str) -> str:
    """``text`` with every ID, phone or account number in it masked but for its last four digits."""
    def hide(match: re.Match) -> str:
        number = match.group()
        if match.group("case"):
            return number
        return re.sub(r"[0-9Xx]", "*", number[:-4]) + number[-4:]

    return SECRET_NUMBER.sub(hide, text)


@cache
def _value_labels() -> dict[tuple[str, str] | str, dict]:
    """Codes a detail holds (an enum's value) → their Chinese, per key or per (action, key)."""
    from dibao import (
        accounts,
        announcements,
        assets,
        documents,
        entitlement,
        feedback,
        household,
        notices,
        notify,
        panel,
        raises,
        regions,
        reviews,
        workflow,
    )

    def by_value(labels: dict) -> dict:
        return {getattr(code, "value", code): label for code, label in labels.items()}

    out: dict[tuple[str, str] | str, dict] = {
        "role": by_value(accounts.ROLE_LABELS), "level": by_value(regions.LEVEL_LABELS),
        "subject": by_value(feedback.SUBJECT_LABELS), "was": by_value(notices.STATUS_LABELS),
        "result": by_value(assets.RESULT_LABELS), "channel": by_value(notify.CHANNEL_LABELS),
        "checked": dict(reviews.CHECK_ITEMS), "changed": {k: v for k, v in KEY_LABELS.items()},
        "stage": by_value(workflow.STAGE_LABELS),
        ("periodic_review", "category"): dict(workflow.CATEGORY_LABELS),
        ("objection_decided", "outcome"): by_value(feedback.OUTCOME_LABELS),
        ("report_decided", "outcome"): by_value(feedback.REPORT_OUTCOME_LABELS),
        ("review_recorded", "outcome"): dict(reviews.REVIEW_OUTCOMES),
        ("contact_logged", "way"): by_value(reviews.CONTACT_WAY_LABELS),
        ("document_delivered", "way"): by_value(documents.WAY_LABELS),
        ("member_change_recorded", "kind"): by_value(household.MEMBER_CHANGE_LABELS),
        ("case_transferred", "kind"): by_value(household.TRANSFER_LABELS),
        ("asset_added", "kind"): by_value(assets.ASSET_LABELS), ("asset_removed", "kind"): by_value(assets.ASSET_LABELS),
        ("document_issued", "kind"): by_value(documents.SHORT),
        ("proposal_decided", "kind"): by_value(reviews.PROPOSAL_KIND_LABELS),
        ("announcement_published", "kind"): by_value(announcements.KIND_LABELS),
        ("payment_account_set", "kind"): by_value(cases.ACCOUNT_KIND_LABELS),
        ("standard_raise_detected", "status"): by_value(raises.STATUS_LABELS),
        ("objection_submitted", "status"): by_value(feedback.STATUS_LABELS),  # over the cap: holds nothing yet
        ("session_ended", "reason"): SESSION_END_LABELS, ("logout", "reason"): SESSION_END_LABELS,
        ("user_updated", "password"): {"changed": _l("已修改")},
        ("panel_member_added", "role"): by_value(panel.ROLE_LABELS),
    }
    for action in ("income_added", "income_removed"):
        out[(action, "source")] = {code: label for code, (label, _counted) in entitlement.INCOME_SOURCES.items()}
    for kind in ("objection", "report"):
        out[(f"{kind}_submitted", "category")] = by_value(feedback.CATEGORY_LABELS)
    return out


@dataclass(frozen=True)
class Shown:
    """One event as the viewer shows it: what it is about, and its details as (label, value) pairs."""

    subject: str
    details: list[tuple[str, str]]


class _Reader:
    """Turns a page of events into what the viewer shows, with the users, regions and cases they name read in
    one query each."""

    def __init__(self, session: Session, events: list[AuditEvent]):
        self.data = {e.id: _parse(e.details) for e in events}
        user_ids, codes, case_ids, region_ids = set(), set(), set(), set()
        for e in events:
            data = self.data[e.id]
            if e.object_type == "user" and (e.object_id or "").isdigit():
                user_ids.add(int(e.object_id))
            if e.object_type == "region" and (e.object_id or "").isdigit():
                region_ids.add(int(e.object_id))
            if e.action.endswith("_assigned"):
                user_ids.update(v for k in ("from", "to") if isinstance(v := data.get(k), int))
            for key in ("region", "from", "to"):
                value = data.get(key)
                codes.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
            if isinstance(data.get("case"), int):
                case_ids.add(data["case"])
        self.users = _lookup(session, User.id, User.display_name, user_ids)
        self.regions = _lookup(session, Region.code, Region.name, codes)
        self.case_numbers = _lookup(session, Case.id, Case.number, case_ids)
        self.region_names = _lookup(session, Region.id, Region.name, region_ids)
        self.stages = _value_labels()["stage"]

    def show(self, event: AuditEvent) -> Shown:
        data = self.data[event.id]
        details = [(self.label(event.action, key, value), self.value(event.action, key, value))
                   for key, value in data.items()
                   if key not in HIDDEN_KEYS and (event.action, key) not in HIDDEN_ACTION_KEYS]
        return Shown(subject=self.subject(event), details=details)

    def subject(self, event: AuditEvent) -> str:
        kind = str(OBJECT_LABELS.get(event.object_type, event.object_type))
        object_id = event.object_id or ""
        if event.object_type == "user" and object_id.isdigit():
            object_id = self.users.get(int(object_id), object_id)
        if event.object_type == "region" and object_id.isdigit():
            object_id = self.region_names.get(int(object_id), object_id)
        return mask_numbers(f"{kind} {object_id}".strip())

    def label(self, action: str, key: str, value: Any = None) -> str:
        if key in ("from", "to") and isinstance(value, str) and value in self.stages:  # a step of the workflow
            return str(_l("原阶段") if key == "from" else _l("新阶段"))
        return str(ACTION_KEY_LABELS.get((action, key)) or KEY_LABELS.get(key) or key)

    def value(self, action: str, key: str, value: Any) -> str:
        if key in COUNTED_KEYS and isinstance(value, list):
            return str(len(value))
        if isinstance(value, dict):
            if action == "disclosure_policy_saved":
                return self.disclosure_changes(value)
            return "，".join(f"{self.label(action, k, v)}：{self.value(action, k, v)}" for k, v in value.items()
                            if k not in HIDDEN_KEYS)
        if isinstance(value, list):
            parts = [self.one(action, key, v) for v in value]
            if not parts:
                return str(_l("无"))
            if (action, key) in LIST_FIELDS:
                return "，".join(f"{label}：{part}" for label, part in zip(LIST_FIELDS[action, key], parts, strict=False))
            if key == "term" and len(parts) == 2:
                return str(_l("%(start)s 至 %(end)s", start=parts[0], end=parts[1]))
            return " → ".join(parts) if key in PAIR_KEYS and len(parts) == 2 else "、".join(parts)
        return self.one(action, key, value)

    def one(self, action: str, key: str, value: Any) -> str:
        if isinstance(value, list | dict):  # nested deeper than any event writes today: as stored, masked
            return mask_numbers(json.dumps(value, ensure_ascii=False))
        if value is None or value == "":
            return str(_l("无"))
        if isinstance(value, bool):
            return str(_l("是") if value else _l("否"))
        if action.endswith("_assigned") and key in ("from", "to") and isinstance(value, int):
            return self.users.get(value, str(_l("（已删除的账号）")))
        if key == "case" and isinstance(value, int):
            return self.case_numbers.get(value, str(value))
        if isinstance(value, str) and key in ("region", "from", "to") and value in self.regions:
            return self.regions[value]
        if isinstance(value, str) and key in ("from", "to", "case_stage") and value in self.stages:
            return str(self.stages[value])
        labels = _value_labels()
        mapping = labels.get((action, key)) or labels.get(key)
        if mapping is not None and value in mapping:
            return str(mapping[value])
        if key == "code":  # a region's code: a number, but no secret
            return str(value)
        if isinstance(value, str) and ISO_INSTANT.fullmatch(value):  # an instant: the county's local time
            return i18n.localtime(datetime.fromisoformat(value.replace("Z", "+00:00")), "minute")
        return mask_numbers(str(value))

    def disclosure_changes(self, changes: dict) -> str:
        from dibao import disclosure

        channels = {c.value: label for c, label in disclosure.CHANNEL_LABELS.items()}
        fields = {f.value: label for f, label in disclosure.FIELD_LABELS.items()}
        parts = []
        for name, modes in changes.items():
            channel, _dot, field = str(name).partition(".")
            where = f"{channels.get(channel, channel)}·{fields.get(field, field)}"
            said = [str(disclosure.MODE_LABELS.get(m, m)) for m in (modes if isinstance(modes, list) else [modes])]
            parts.append(f"{where}：{' → '.join(said)}")
        return "；".join(parts)


def _parse(details: str | None) -> dict[str, Any]:
    try:
        data = json.loads(details or "{}")
    except ValueError:
        return {"note": details or ""}
    return data if isinstance(data, dict) else {"note": str(data)}


def _lookup(session: Session, key_column, value_column, keys: set) -> dict:
    if not keys:
        return {}
    return {key: value for key, value in session.execute(select(key_column, value_column).where(key_column.in_(keys)))}


def readable(session: Session, events: list[AuditEvent]) -> dict[int, Shown]:
    """What the viewer shows of each event, by the event's id."""
    reader = _Reader(session, events)
    return {event.id: reader.show(event) for event in events}
