"""Written notices to the family (文书, issue 10 item 8): 审批通知书, 不予批准告知书, 调整告知书, 退保告知书.

A ``Document`` is generated from the decision's record (the county's opinion, the rejecting level's opinion, the
amount period of an adjustment, the exit), numbered per county and year, and its text is fixed when issued: a
later change of the case never rewrites a notice the family holds. Its delivery (date, way, who) is recorded.
Refusals and cuts tell the family its rights: 行政复议 within 60 days, 行政诉讼 within 6 months.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dibao import audit, clock, entitlement, scope, workflow
from dibao.errors import Conflict, Invalid, chosen, collect
from dibao.household import Rule, require
from dibao.models import AmountChange, AmountPeriod, Case, Decision, Level, Role, Stage, User
from dibao.models.household import Delivery, DeliveryWay, Document, DocumentKind

TITLES = {DocumentKind.approval: _l("最低生活保障审批通知书"), DocumentKind.rejection: _l("最低生活保障不予批准告知书"),
          DocumentKind.adjustment: _l("最低生活保障金调整告知书"), DocumentKind.exit: _l("停止最低生活保障告知书")}
SHORT = {DocumentKind.approval: _l("审批通知书"), DocumentKind.rejection: _l("不予批准告知书"),
         DocumentKind.adjustment: _l("调整告知书"), DocumentKind.exit: _l("退保告知书")}
CODES = {DocumentKind.approval: "审", DocumentKind.rejection: "不批", DocumentKind.adjustment: "调",
         DocumentKind.exit: "退"}
WAY_LABELS = {DeliveryWay.in_person: _l("直接送达"), DeliveryWay.post: _l("邮寄送达"),
              DeliveryWay.left: _l("留置送达"), DeliveryWay.entrusted: _l("委托送达")}
APPEAL_DAYS = 60  # 行政复议: within 60 days of receiving the decision
LAWSUIT_MONTHS = 6  # 行政诉讼: within 6 months
ADJUSTMENTS = {AmountChange.adjusted, AmountChange.standard_raised, AmountChange.reviewed,
               AmountChange.household_changed, AmountChange.transferred}

_DECIDED = frozenset({Stage.awaiting_county_notice, Stage.county_notice, Stage.active, Stage.exited})
ISSUE = {
    DocumentKind.approval: Rule(_l("出具审批通知书"), {Role.county_approver: _DECIDED}),
    DocumentKind.rejection: Rule(_l("出具不予批准告知书"), {Role.county_approver: frozenset({Stage.rejected}),
                                                     Role.town_reviewer: frozenset({Stage.rejected})}),
    DocumentKind.adjustment: Rule(_l("出具调整告知书"), {Role.county_approver: frozenset({Stage.active})}),
    DocumentKind.exit: Rule(_l("出具退保告知书"), {Role.county_approver: frozenset({Stage.exited})}),
}
DELIVER = Rule(_l("登记送达"), {Role.community_staff: frozenset(Stage), Role.town_reviewer: frozenset(Stage),
                               Role.county_approver: frozenset(Stage)})


def may_issue(user: User, case: Case) -> list[DocumentKind]:
    return [kind for kind, rule in ISSUE.items() if rule.allows(user, case)]


def _money(value) -> str:
    return f"{value:.2f}"


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _rights() -> str:
    # The revised 行政复议法 (in force 2024-01-01, Art. 24) sends a review of a county department's decision to the
    # county government alone; "或者上一级民政部门" named a body that no longer takes it.
    return str(_l("如对本决定不服，可以自收到本告知书之日起 %(days)d 日内向县（区）人民政府申请行政复议，"
                  "也可以自收到本告知书之日起 %(months)d 个月内依法向人民法院提起行政诉讼。",
                  days=APPEAL_DAYS, months=LAWSUIT_MONTHS))


def _compose(session: Session, case: Case, kind: DocumentKind) -> tuple[str, list[str]]:
    """(source, paragraphs) of a notice, from the decision's record; Conflict if there is no such decision."""
    household = str(_l("%(name)s（户主），家庭住址：%(address)s", name=case.head_name, address=case.address))
    if kind == DocumentKind.approval:
        opinion = workflow.current_opinion(case, Level.county)
        if opinion is None or opinion.decision != Decision.approve or case.monthly_amount is None:
            raise Conflict(_l("该户没有县级审批同意的记录，不能出具审批通知书。"))
        return f"opinion:{opinion.id}", [
            household,
            str(_l("你户于%(accepted)s提出的最低生活保障申请，经入户调查、民主评议、乡镇（街道）审核和公示，"
                   "本局于%(day)s审批同意，纳入最低生活保障范围。",
                   accepted=_cn_date(clock.to_local(case.accepted_at).date()),
                   day=_cn_date(clock.to_local(opinion.created_at).date()))),
            str(_l("保障人口 %(n)d 人，月保障金 %(amount)s 元，自%(month)s起按月发放。",
                   n=len(case.members), amount=_money(case.monthly_amount),
                   month=f"{case.payment_start.year}年{case.payment_start.month}月" if case.payment_start else "")),
            str(_l("审批意见：%(text)s", text=opinion.text)),
            str(_l("享受最低生活保障期间，家庭人口、收入和财产状况发生变化的，请及时告知所在社区（村）。本局将按"
                   "%(category)s的要求定期复核。", category=workflow.CATEGORY_LABELS[case.category])),
        ]
    if kind == DocumentKind.rejection:
        opinion = next((o for o in reversed(case.opinions) if o.decision == Decision.reject and not o.superseded), None)
        if opinion is None or case.stage != Stage.rejected:
            raise Conflict(_l("该户没有不予批准的决定，不能出具不予批准告知书。"))
        return f"opinion:{opinion.id}", [
            household,
            str(_l("你户于%(accepted)s提出的最低生活保障申请，经%(level)s审查，决定不予批准。",
                   accepted=_cn_date(clock.to_local(case.accepted_at).date()),
                   level=workflow.REVIEWER_LABELS[opinion.level])),
            str(_l("理由：%(text)s", text=opinion.text)),
            _rights(),
        ]
    if kind == DocumentKind.adjustment:
        periods = entitlement.periods(session, case)
        index = next((i for i in range(len(periods) - 1, -1, -1) if periods[i].change in ADJUSTMENTS), None)
        if index is None or index == 0:
            raise Conflict(_l("该户没有调整保障金额的记录，不能出具调整告知书。"))
        period: AmountPeriod = periods[index]
        before = periods[index - 1].amount
        return f"period:{period.id}", [
            household,
            str(_l("根据你户家庭情况的变化（%(change)s），本局决定自%(month)s起，你户月保障金由 %(before)s 元调整为 "
                   "%(after)s 元。", change=entitlement.AMOUNT_CHANGE_LABELS[period.change],
                   month=f"{period.starts_on.year}年{period.starts_on.month}月", before=_money(before),
                   after=_money(period.amount))),
            str(_l("调整理由：%(text)s", text=period.reason or "—")),
            _rights(),
        ]
    if kind == DocumentKind.exit:
        if case.stage != Stage.exited or not case.exit_reason:
            raise Conflict(_l("该户没有退保的决定，不能出具退保告知书。"))
        stop = next((p for p in reversed(entitlement.periods(session, case)) if p.change == AmountChange.exited), None)
        return f"period:{stop.id}" if stop else "exit", [
            household,
            str(_l("经复核，本局决定停止你户的最低生活保障%(from)s。",
                   **{"from": str(_l("，自%(month)s起停发保障金", month=f"{stop.starts_on.year}年{stop.starts_on.month}月"))
                      if stop else ""})),
            str(_l("理由：%(text)s", text=case.exit_reason)),
            _rights(),
        ]
    raise Invalid(_l("请选择文书类型。"), field="kind")


def _issuer(actor: User, county) -> str:
    """The body in whose name the notice goes out: the county's civil affairs bureau, or the town's government
    (a street's office) for a refusal the town decided."""
    if actor.role == Role.town_reviewer and actor.region.level == Level.town:
        town = actor.region.name
        return f"{town}办事处" if town.endswith("街道") else f"{town}人民政府"
    return f"{county.name}民政局"


def issue(session: Session, actor: User, case: Case, kind: DocumentKind) -> Document:
    """出具文书: compose from the decision's record, number it (per county and year), fix its text."""
    kind = DocumentKind(kind)
    require(actor, case, ISSUE[kind])
    source, paragraphs = _compose(session, case, kind)
    existing = session.scalar(select(Document).where(Document.case_id == case.id, Document.kind == kind,
                                                     Document.source == source))
    if existing is not None:
        raise Conflict(_l("这一决定的%(kind)s已经出具（%(number)s），不能重复出具。", kind=SHORT[kind],
                          number=existing.number))
    county = scope.county_of(case.region)
    today = clock.today()
    seq = (session.scalar(select(func.max(Document.seq)).where(Document.county_id == county.id,
                                                               Document.year == today.year)) or 0) + 1
    document = Document(case_id=case.id, county_id=county.id, year=today.year, seq=seq,
                        number=f"{county.name}低保{CODES[kind]}〔{today.year}〕{seq}号", kind=kind, issued_on=today,
                        title=str(TITLES[kind]), body="\n\n".join(paragraphs), source=source,
                        issuer=_issuer(actor, county), issued_by_id=actor.id, issued_by_name=actor.display_name,
                        created_at=clock.now())
    session.add(document)
    session.flush()
    audit.record(session, actor, "document_issued", "case", case.id, region_id=case.region_id,
                 details={"document": document.id, "number": document.number, "kind": kind.value, "source": source})
    return document


def get_document(session: Session, user: User, document_id: int) -> Document:
    return scope.get(session, user, Document, document_id, _l("没有找到该文书。"))


def documents_of(session: Session, case: Case) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.case_id == case.id).order_by(Document.id)))


def record_delivery(session: Session, actor: User, document: Document, *, delivered_on: date | None,
                    way: DeliveryWay | str, recipient: str, delivered_by: str, note: str = "") -> Delivery:
    """送达: when, how and to whom the notice was handed; kept in the archive."""
    case = document.case
    require(actor, case, DELIVER)
    recipient = (recipient or "").strip()[:50]
    delivered_by = (delivered_by or "").strip()[:100]
    with collect() as problems:  # every problem at once
        if delivered_on is None:
            problems.add("delivered_on", _l("请填写送达日期。"))
        elif delivered_on > clock.today() or delivered_on < document.issued_on:
            problems.add("delivered_on", _l("送达日期不能早于出具日期，也不能晚于今天。"))
        way = chosen(DeliveryWay, way)
        if way is None:
            problems.add("way", _l("请选择送达方式。"))
        if not recipient:
            problems.add("recipient", _l("请填写签收人。"))
        if not delivered_by:
            problems.add("delivered_by", _l("请填写送达人。"))
    delivery = Delivery(document=document, delivered_on=delivered_on, way=way, recipient=recipient,
                        delivered_by=delivered_by, note=(note or "").strip()[:200], recorded_by_id=actor.id,
                        recorded_by_name=actor.display_name, created_at=clock.now())
    session.add(delivery)
    session.flush()
    audit.record(session, actor, "document_delivered", "case", case.id, region_id=case.region_id,
                 details={"document": document.id, "number": document.number, "way": delivery.way.value,
                          "delivered_on": delivered_on.isoformat()})
    return delivery

