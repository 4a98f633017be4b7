"""Reading the audit log (审计日志) for the county: search by who, which household, what action and when, within
the reader's region. Writing it and checking its chain are dibao.audit's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from dibao import cases, clock, scope
from dibao.errors import Forbidden
from dibao.models import AuditEvent, Case, Level, Role, User

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
    "standard_deleted": _l("删除低保标准"),
    "user_created": _l("创建账号"),
    "user_updated": _l("修改账号"),
    "login": _l("登录"),
    "login_failed": _l("登录失败"),
}


def action_label(action: str) -> str:
    label = cases.EVENT_LABELS.get(action) or EXTRA_LABELS.get(action)
    return str(label) if label else action


def may_view(user: User) -> bool:
    """The county's administrators: the county civil-affairs bureau and the system admin."""
    return user.role in (Role.county_approver, Role.admin) and user.region.level == Level.county


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
    # Events tied to no region (accounts, the command line) belong to the system admin's view.
    return or_(in_scope, AuditEvent.region_id.is_(None)) if user.role == Role.admin else in_scope


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


def details_text(event: AuditEvent) -> str:
    """The event's details as the reader sees them: key: value, one pair after another."""
    try:
        data = json.loads(event.details or "{}")
    except ValueError:
        return event.details or ""
    return "；".join(f"{k}: {v}" for k, v in data.items())
