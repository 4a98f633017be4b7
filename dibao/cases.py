"""Cases as records: registration, the household (members, incomes, photo), attachments, the archive,
deadlines in working days, the staff list and its search.

Stage changes are not here: they are the workflow's (dibao.workflow). Every change here writes one audit
event; edits of the household refresh the computed amount (dibao.entitlement).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, false, func, or_, select, text
from sqlalchemy.orm import Session, object_session, selectinload

from dibao import audit, clock, db, entitlement, media, scope, workdays, workflow
from dibao.crypto import blind_index
from dibao.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, chosen, collect
from dibao.identity import (
    is_valid_id_number,
    mask_account,
    mask_id,
    normalise_account_number,
    normalise_id_number,
    normalise_phone,
)
from dibao.models import (
    AmountPeriod,
    Case,
    FeedbackStatus,
    Level,
    Member,
    MemberIncome,
    Objection,
    Region,
    Role,
    Stage,
    User,
    WorkCapacity,
)
from dibao.models.payment import AccountKind, PaymentAccount
from dibao.models.records import (
    Attachment,
    CaseRecord,
    HomeVisit,
    ReviewResult,
    TownMeetingResult,
)
from dibao.text import normalise_name
from dibao.workflow import Action

HOME_VISIT_DAYS = 3  # 入户调查 within 3 working days of acceptance (A 15)
COUNTY_DECISION_DAYS = 10  # county decision within 10 working days of receiving the town's report (A 20)
REFUSAL_NOTICE_DAYS = 3  # 不予批准: the written reasons within 3 working days of the decision (A 21)
WHOLE_CASE_DAYS = 30  # whole case within 30 working days (A 22)
WHOLE_CASE_SPECIAL_DAYS = 45  # … 45 in special cases

WORK_CAPACITY_LABELS = {WorkCapacity.full: _l("有劳动能力"), WorkCapacity.partial: _l("部分丧失劳动能力"),
                        WorkCapacity.none: _l("无劳动能力")}
RELATIONS = ["本人", "配偶", "子女", "父母", "祖父母", "孙子女", "兄弟姐妹", "其他"]

EVENT_LABELS = {
    "case_registered": _l("登记受理"),
    "case_updated": _l("修改家庭信息"),
    "case_flags_changed": _l("县级修改近亲属备案或特殊情况标记"),
    "member_added": _l("添加家庭成员"),
    "member_updated": _l("修改家庭成员"),
    "member_removed": _l("删除家庭成员"),
    "income_added": _l("登记收入"),
    "income_removed": _l("删除收入"),
    "photo_set": _l("更新户照片"),
    "photo_removed": _l("删除户照片"),
    "payment_account_set": _l("登记发放账户"),
    "document_added": _l("上传材料"),  # before the attachments were named so
    "attachment_added": _l("上传材料"),
    "home_visit_recorded": _l("记录入户调查"),
    "submitted_for_review": _l("提交民主评议"),
    "community_review_recorded": _l("民主评议，社区初审同意"),
    "town_check_recorded": _l("乡镇审核（复查）"),
    "town_decision_recorded": _l("乡镇会议研究，审核同意"),
    "county_approved": _l("县级审批同意"),
    "case_rejected": _l("不予批准"),
    "sent_back": _l("退回重新调查"),
    "sent_back_by_objection": _l("异议成立，退回重新调查"),
    "notice_published": _l("列入公示"),
    "notice_closed": _l("公示期满"),
    "notice_entry_withdrawn": _l("公示撤回"),
    "periodic_review": _l("定期复核"),
    "amount_adjusted": _l("调整保障金额"),
    "grace_started": _l("进入渐退期"),
    "case_exited": _l("退保"),
    "case_imported": _l("导入原有名册（在保）"),
    # issue 10 (items 6–10): assets and 核对, changes and transfer, 文书, 质询, the archive
    "asset_added": _l("登记资产"), "asset_removed": _l("删除资产"), "verification_requested": _l("发起家庭经济状况核对"),
    "verification_result": _l("登记核对结果"), "asset_discretion": _l("资产超标酌情决定"),
    "member_change_recorded": _l("家庭成员变化"), "case_transferred": _l("迁移到其他社区"),
    "document_issued": _l("出具文书"), "document_delivered": _l("文书送达"),
    "panel_question_recorded": _l("评议质询"), "archive_downloaded": _l("下载整户档案"),
}

def _required(value: str | None, field: str, message, maximum: int) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(message, field=field)
    if len(value) > maximum:
        raise Invalid(_l("内容太长，最多 %(n)d 个字。", n=maximum), field=field)
    return value


def _age(value: int | None, field: str = "age") -> int:
    if value is None or not 0 <= value <= 130:
        raise Invalid(_l("请填写正确的年龄（0–130）。"), field=field)
    return value


def _work_capacity(value: WorkCapacity | str | None, field: str = "work_capacity") -> WorkCapacity:
    """A work capacity, or its value as a form sends it; anything the list does not offer is refused."""
    capacity = chosen(WorkCapacity, value)
    if capacity is None:
        raise Invalid(_l("请选择劳动能力。"), field=field)
    return capacity


def _relation(value: str | None) -> str:
    """A relation to the head of household from the list (RELATIONS)."""
    value = (value or "").strip()
    if value not in RELATIONS:
        raise Invalid(_l("请选择与户主的关系。"), field="relation")
    return value


# --- access -------------------------------------------------------------------------------------------

def get_case(session: Session, user: User, case_id: int) -> Case:
    return scope.get(session, user, Case, case_id, _l("没有找到该案件。"))


def may_register(user: User) -> bool:
    return user.role == Role.community_staff and user.region.level == Level.community


def _require_edit(actor: User, case: Case) -> None:
    workflow.require(actor, case, Action.edit)


def _next_number(session: Session, region: Region) -> str:
    year = clock.today().year
    prefix = f"{region.code}-{year}-"
    count = session.scalar(select(func.count(Case.id)).where(Case.number.startswith(prefix, autoescape=True))) or 0
    return f"{prefix}{count + 1:04d}"


def _refresh_amount(session: Session, case: Case) -> None:
    entitlement.refresh(session, case, update_payment=case.stage in workflow.UNDECIDED_STAGES)


# --- one person, one open household (一人只能属于一户) -------------------------------------------------------

def open_household_of(session: Session, id_number: str, *, excluding_case_id: int | None = None
                      ) -> tuple[Case, bool] | None:
    """The open case (any stage but rejected or exited) whose head or a member has ``id_number``, other than
    ``excluding_case_id``, and whether the person is its head — found by the keyed hashes (blind index) the
    case and member rows store. The one rule of registration, members, member changes and online applications;
    the roster import checks the same in bulk (dibao.imports._check_database)."""
    id_hash = blind_index(id_number)
    conditions = [Case.stage.not_in(workflow.CLOSED_STAGES)]
    if excluding_case_id is not None:
        conditions.append(Case.id != excluding_case_id)
    head = session.scalar(select(Case).where(Case.head_id_hash == id_hash, *conditions)
                          .order_by(Case.id).limit(1))
    if head is not None:
        return head, True
    member = session.scalar(select(Case).join(Member, Member.case_id == Case.id)
                            .where(Member.id_number_hash == id_hash, *conditions).order_by(Case.id).limit(1))
    return (member, False) if member is not None else None


def place_beyond(actor: User | None, holder: Region) -> str:
    """Where the holding household is, for someone who may not open it: its town (乡镇/街道) when it is in the
    actor's county, else its county — never its case number or community."""
    county = scope.county_of(holder)
    if actor is not None and scope.county_of(actor.region).id == county.id:
        town = holder
        while town is not None and town.level != Level.town:
            town = town.parent
        return (town or county).name
    return county.name


@dataclass(frozen=True)
class SharedPerson:
    masked_id: str  # as the case list shows an ID number
    numbers: tuple[str, ...]  # the open cases that hold the person (head or member)


def people_in_several_households(session: Session) -> list[SharedPerson]:
    """Every person (by ID number) who is the head or a member of more than one open case: what
    :func:`check_one_household` refuses from now on, found in data written before it did (or imported from an old
    system) — for ``dibao check-households``. The head is member 0, so the members' hashes cover the heads."""
    open_members = (select(Member.id_number_hash.label("person"), Case.id.label("case_id"))
                    .join(Case, Member.case_id == Case.id)
                    .where(Case.stage.not_in(workflow.CLOSED_STAGES), Member.id_number_hash.is_not(None))
                    .distinct().subquery())
    shared = select(open_members.c.person).group_by(open_members.c.person).having(func.count() > 1)
    rows = session.execute(select(Member.id_number_hash, Member.id, Case.number)
                           .join(Case, Member.case_id == Case.id)
                           .where(Member.id_number_hash.in_(shared), Case.stage.not_in(workflow.CLOSED_STAGES))
                           .order_by(Member.id_number_hash, Case.number)).all()
    found: dict[str, tuple[int, list[str]]] = {}
    for person, member_id, number in rows:
        _first, numbers = found.setdefault(person, (member_id, []))
        if number not in numbers:
            numbers.append(number)
    return [SharedPerson(mask_id(session.get(Member, member_id).id_number), tuple(numbers))
            for member_id, numbers in found.values()]


PERSON_LOCK = 7203  # PostgreSQL's advisory locks of one person's saves (dibao.audit holds 7201, imports 7202)


def _one_save_of_a_person_at_a_time(session: Session, id_number: str) -> None:
    """Two saves of the same person at the same moment (two clerks, two communities) each checked the other's
    household absent and both wrote it. On PostgreSQL the check takes a lock on the person to the end of its
    transaction, so the second waits for the first to commit and then finds its household; and a share of the
    imports' lock, so a save and a roster import do not pass each other either (dibao.imports). SQLite's writing
    transactions already run one at a time (BEGIN IMMEDIATE, dibao.db)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    from dibao.imports import IMPORT_LOCK

    person = int(blind_index(id_number)[:8], 16) - 2 ** 31  # the advisory key's second half: a signed int4
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:imports), pg_advisory_xact_lock(:kind, :person)"),
                    {"imports": IMPORT_LOCK, "kind": PERSON_LOCK, "person": person})


def check_one_household(session: Session, actor: User | None, case: Case | None, id_number: str | None, *,
                        member: Member | None = None, field: str = "id_number") -> None:
    """Refuse (Conflict beside ``field``) an ID number already in ``case`` (on a member other than ``member``)
    or on the head or a member of another open household. Staff who may open the holding case are told its
    number; others only the town (or county) it is in (the number would name a household outside their
    region). Closed cases (rejected, exited) do not count."""
    if not id_number:
        return
    if case is not None:
        for other in case.members:
            if other is not member and other.id_number == id_number:
                raise Conflict(_l("该身份证号码已登记在本户（%(name)s），同一人不能重复登记。", name=other.name),
                               field=field)
        if (member is None or member.position != 0) and case.head_id_number == id_number:
            raise Conflict(_l("该身份证号码已登记在本户（%(name)s），同一人不能重复登记。", name=case.head_name),
                           field=field)
    _one_save_of_a_person_at_a_time(session, id_number)
    found = open_household_of(session, id_number, excluding_case_id=case.id if case is not None else None)
    if found is None:
        return
    holder, as_head = found
    if actor is not None and scope.can_see(actor, holder.region):
        if as_head:
            raise Conflict(_l("该身份证号已有在办或在保的案件（%(number)s），不能重复登记。", number=holder.number),
                           field=field)
        raise Conflict(_l("此人已是在册家庭（%(number)s）的成员，一人只能属于一户。", number=holder.number),
                       field=field)
    place = place_beyond(actor, holder.region)
    raise Conflict(_l("此人已是%(place)s另一户在办或在保家庭的户主或成员，一人只能属于一户；该户不在您的辖区，"
                      "请与%(place)s核实。", place=place), field=field)


# --- the close-relative and special-case flags (近亲属备案、特殊情况) ------------------------------------------
# 近亲属 of case workers always get a county home visit (A 11, 20): any staff may set the flag, only the county
# may clear it. 特殊情况 stretches the whole case from 30 to 45 working days (A 22): only the county decides.
# Both with a written reason, in the audit event.

COUNTY_ROLES = frozenset({Role.county_approver, Role.admin})


def is_county_level(user: User) -> bool:
    """The county civil-affairs bureau (审批) and the system admin, at county level."""
    return user.role in COUNTY_ROLES and user.region.level == Level.county


def may_change_flags(user: User, case: Case) -> bool:
    """Whether :func:`update_flags` would let ``user`` change the flags (the one rule, :func:`require_flags`)."""
    try:
        require_flags(user, case)
    except DomainError:
        return False
    return True


def require_flags(actor: User, case: Case) -> None:
    if not scope.can_see(actor, case.region):
        raise NotFound(_l("没有找到该案件。"))
    if not is_county_level(actor):
        raise Forbidden(_l("近亲属备案的取消和特殊情况的认定由县级审批人员办理。"))
    if case.stage not in workflow.OPEN_STAGES:
        raise Conflict(_l("案件已办结，不能修改标记。"))


def update_flags(session: Session, actor: User, case: Case, *, close_relative_of_staff: bool, special_case: bool,
                 reason: str | None) -> list[str]:
    """The county sets or clears 近亲属备案 and 特殊情况; clearing the one or changing the other needs a written
    reason, kept in the audit event. Returns the names of what changed."""
    db.locked(session, case)
    require_flags(actor, case)
    new = {"close_relative_of_staff": bool(close_relative_of_staff), "special_case": bool(special_case)}
    changed = [name for name, value in new.items() if getattr(case, name) != value]
    reason = (reason or "").strip()
    with collect() as problems:
        needs_reason = "special_case" in changed or (case.close_relative_of_staff
                                                     and not new["close_relative_of_staff"])
        if needs_reason and len(reason) < workflow.MIN_REASON:
            problems.add("reason", _l("取消近亲属备案或更改特殊情况，须写明理由（至少 %(n)d 个字）。",
                                      n=workflow.MIN_REASON))
        elif len(reason) > 2000:
            problems.add("reason", _l("内容太长，最多 %(n)d 个字。", n=2000))
    if not changed:
        return []
    for name in changed:
        setattr(case, name, new[name])
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "case_flags_changed", "case", case.id, region_id=case.region_id,
                 details={"changed": changed, "close_relative": case.close_relative_of_staff,
                          "special_case": case.special_case, "reason": reason})
    return changed


# --- registration and the household -------------------------------------------------------------------

def register_case(
    session: Session,
    actor: User,
    *,
    head_name: str,
    head_id_number: str,
    head_phone: str | None,
    address: str,
    public_address: str = "",
    category: int = 1,
    close_relative_of_staff: bool = False,
    no_income_no_capacity_no_supporter: bool = False,
    head_age: int | None,
    head_health: str = "",
    head_work_capacity: WorkCapacity | str = WorkCapacity.full,
) -> Case:
    """个人申报，社区受理: the case is registered in the staff member's own community; acceptance starts
    the deadlines. The head of household is member 0."""
    if not may_register(actor):
        raise Forbidden(_l("只有社区低保专干可以登记低保申请。"))
    region = actor.region
    with collect() as problems:  # every problem at once, before anything is written
        head_name = problems.check(_required, normalise_name(head_name), "head_name", _l("请填写户主姓名。"), 50)
        id_number = problems.check(normalise_id_number, head_id_number)
        phone = problems.check(normalise_phone, head_phone)
        address = problems.check(_required, address, "address", _l("请填写家庭住址。"), 200)
        category = problems.check(workflow.check_category, category)
        head_age = problems.check(_age, head_age, field="head_age")
        head_work_capacity = problems.check(_work_capacity, head_work_capacity, field="head_work_capacity")
        # the head of another open case, or a member of one: one person, one household
        problems.check(check_one_household, session, actor, None, id_number, field="head_id_number")
    # No ``special_case`` here: it is the county's to decide, with a reason (update_flags).
    now = clock.now()
    case = Case(
        number=_next_number(session, region), region=region, stage=Stage.applied, stage_changed_at=now,
        head_name=head_name, head_id_number=id_number, head_phone=phone, address=address,
        public_address=(public_address or "").strip()[:200] or region.name, category=category,
        close_relative_of_staff=close_relative_of_staff,
        no_income_no_capacity_no_supporter=no_income_no_capacity_no_supporter,
        accepted_at=now, created_by_id=actor.id, created_at=now, updated_at=now,
    )
    session.add(case)
    session.add(Member(case=case, position=0, name=head_name, relation="本人", age=head_age, id_number=id_number,
                       health=(head_health or "").strip()[:200], work_capacity=head_work_capacity,
                       monthly_deduction=Decimal("0"), deduction_note=""))
    session.flush()
    _refresh_amount(session, case)
    audit.record(session, actor, "case_registered", "case", case.id, region_id=region.id,
                 details={"number": case.number, "close_relative": close_relative_of_staff})
    return case


def update_household(
    session: Session,
    actor: User,
    case: Case,
    *,
    head_phone: str | None,
    address: str,
    public_address: str,
    category: int,
    close_relative_of_staff: bool,
    no_income_no_capacity_no_supporter: bool,
    special_case: bool,
) -> list[str]:
    """Change the household's details (the community's edit); returns the names of what changed (also in the
    audit event). The community may set 近亲属备案 but not clear it, and not change 特殊情况: those are the
    county's (:func:`update_flags`), refused here beside their fields with nothing written."""
    _require_edit(actor, case)
    with collect() as problems:  # every problem at once, before anything is written
        if case.close_relative_of_staff and not close_relative_of_staff:
            problems.add_error(Conflict(_l("近亲属备案对象须由县级入户调查，社区不能取消此标记；确需取消的，"
                                           "请县级审批人员写明理由后取消。"), field="close_relative_of_staff"))
        if bool(special_case) != case.special_case:
            problems.add_error(Conflict(_l("“特殊情况”（办理时限延长至 45 个工作日）只能由县级审批人员认定或取消，"
                                           "并写明理由。"), field="special_case"))
        new = {
            "head_phone": problems.check(normalise_phone, head_phone),
            "address": problems.check(_required, address, "address", _l("请填写家庭住址。"), 200),
            "public_address": (public_address or "").strip()[:200] or case.region.name,
            "category": problems.check(workflow.check_category, category),
            "close_relative_of_staff": bool(close_relative_of_staff),
            "no_income_no_capacity_no_supporter": bool(no_income_no_capacity_no_supporter),
            "special_case": bool(special_case),
        }
        if (case.stage not in workflow.UNDECIDED_STAGES and new["category"] is not None
                and new["category"] != case.category):
            problems.add_error(Conflict(_l("在保家庭的分类请通过“定期复核”调整。"), field="category"))
    changed = [name for name, value in new.items() if getattr(case, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(case, name, new[name])
    case.updated_at = clock.now()
    _refresh_amount(session, case)
    audit.record(session, actor, "case_updated", "case", case.id, region_id=case.region_id,
                 details={"changed": changed})
    return changed


def get_member(case: Case, member_id: int) -> Member:
    for member in case.members:
        if member.id == member_id:
            return member
    raise NotFound(_l("没有找到该家庭成员。"))


def add_member(session: Session, actor: User, case: Case, *, name: str, relation: str, age: int | None,
               id_number: str | None, health: str, work_capacity: WorkCapacity | str,
               deduction: Decimal | str | None, deduction_note: str, household_checked: bool = False) -> Member:
    """``deduction`` may be the text as typed: it is checked with the other fields. ``household_checked``: the
    caller has just checked these fields with :func:`member_values` and the household, in this transaction
    (a member joining checks them with the change's own), so one person, one household is not checked again —
    the person's advisory lock that check took holds to the end of the transaction."""
    _require_edit(actor, case)
    values = member_values(name=name, relation=relation, age=age, id_number=id_number, health=health,
                           work_capacity=work_capacity, deduction=deduction, deduction_note=deduction_note, head=False,
                           household=None if household_checked else (session, actor, case, None))
    member = Member(case=case, position=max((m.position for m in case.members), default=-1) + 1, **values)
    session.add(member)
    session.flush()
    _refresh_amount(session, case)
    audit.record(session, actor, "member_added", "case", case.id, region_id=case.region_id,
                 details={"member": member.id, "name": member.name, "relation": member.relation})
    return member


def member_values(*, name, relation, age, id_number, health, work_capacity, deduction, deduction_note,
                  head: bool, household: tuple[Session, User, Case, Member | None] | None = None) -> dict:
    """A member's fields checked all at once (one error with every problem), as the Member's column values.
    ``head``: the row of the head of household (relation 本人), which no other member may take.
    ``household``: (session, actor, case, the member edited or None) — the ID number is also checked against
    this household's other members and every other open household (:func:`check_one_household`)."""
    with collect() as problems:
        values = {
            "name": problems.check(_required, normalise_name(name), "name", _l("请填写成员姓名。"), 50),
            "relation": problems.check(_relation, relation),
            "age": problems.check(_age, age),
            "id_number": problems.check(normalise_id_number, id_number, field="id_number", required=False),
            "health": (health or "").strip()[:200],
            "work_capacity": problems.check(_work_capacity, work_capacity),
        }
        if isinstance(deduction, str):
            deduction = problems.check(entitlement.parse_money, deduction, field_name="deduction", allow_empty=True)
        values["monthly_deduction"] = deduction if deduction is not None else Decimal("0")
        values["deduction_note"] = (deduction_note or "").strip()[:200]
        if values["monthly_deduction"] > 0 and not values["deduction_note"]:
            problems.add("deduction_note", _l("扣减支出请注明原因（如因病、因残、就业成本）。"))
        if not head and values["relation"] == "本人":
            problems.add("relation", _l("户主已经登记，请选择与户主的关系。"))
        if household is not None and values["id_number"]:
            session, actor, case, member = household
            if member is None or member.id_number != values["id_number"]:  # a new or changed number (one
                # already on file is not re-checked: its other details stay editable)
                problems.check(check_one_household, session, actor, case, values["id_number"], member=member)
    return values


def update_member(session: Session, actor: User, case: Case, member_id: int, **fields) -> Member:
    _require_edit(actor, case)
    member = get_member(case, member_id)
    if member.position == 0:
        fields["relation"] = "本人"
    for name, value in member_values(**fields, head=member.position == 0,
                                     household=(session, actor, case, member)).items():
        setattr(member, name, value)
    if member.position == 0:
        case.head_name = member.name
        if member.id_number:
            case.head_id_number = member.id_number
    session.flush()
    _refresh_amount(session, case)
    audit.record(session, actor, "member_updated", "case", case.id, region_id=case.region_id,
                 details={"member": member.id, "name": member.name})
    return member


def remove_member(session: Session, actor: User, case: Case, member_id: int) -> None:
    _require_edit(actor, case)
    member = get_member(case, member_id)
    if member.position == 0:
        raise Conflict(_l("户主不能删除。"))
    case.members.remove(member)
    session.flush()
    _refresh_amount(session, case)
    audit.record(session, actor, "member_removed", "case", case.id, region_id=case.region_id,
                 details={"member": member_id, "name": member.name})


def add_income(session: Session, actor: User, case: Case, member_id: int, *, source: str, amount: Decimal | str,
               note: str = "") -> MemberIncome:
    """``amount`` may be the text as typed: it is checked with the income type."""
    _require_edit(actor, case)
    member = get_member(case, member_id)
    with collect() as problems:
        if source not in entitlement.INCOME_SOURCES:
            problems.add("source", _l("请选择收入类型。"))
        if isinstance(amount, str):
            amount = problems.check(entitlement.parse_money, amount, field_name="amount")
    income = MemberIncome(member=member, source=source, monthly_amount=amount, note=(note or "").strip()[:200])
    session.add(income)
    session.flush()
    _refresh_amount(session, case)
    audit.record(session, actor, "income_added", "case", case.id, region_id=case.region_id,
                 details={"member": member.id, "source": source, "amount": str(amount)})
    return income


def remove_income(session: Session, actor: User, case: Case, income_id: int) -> None:
    _require_edit(actor, case)
    for member in case.members:
        for income in member.incomes:
            if income.id == income_id:
                member.incomes.remove(income)
                session.flush()
                _refresh_amount(session, case)
                audit.record(session, actor, "income_removed", "case", case.id, region_id=case.region_id,
                             details={"member": member.id, "source": income.source,
                                      "amount": str(income.monthly_amount)})
                return
    raise NotFound(_l("没有找到该笔收入。"))


def set_photo(session: Session, actor: User, case: Case, *, data: bytes | None, consent: bool,
              media_dir: str) -> None:
    """The household photo and the recorded consent to show it on boards (PIPL Art. 25).

    ``data`` None keeps the current photo and only records the consent choice."""
    _require_edit(actor, case)
    details: dict = {}
    prepared = None
    with collect() as problems:  # the photo and the consent at once, before the photo is stored
        if data:
            prepared = problems.check(media.prepare_image, data, field="photo")
        elif case.photo_key is None and consent:
            problems.add("photo", _l("请先上传户照片，再记录同意公示。"))
    if prepared is not None:
        stored = prepared.write(media_dir)
        case.photo_key = stored.key
        details["photo"] = stored.key
    if consent != case.photo_consent:
        case.photo_consent = consent
        case.photo_consent_at = clock.now() if consent else None
        details["consent"] = consent
    if not details:
        return
    case.updated_at = clock.now()
    audit.record(session, actor, "photo_set", "case", case.id, region_id=case.region_id, details=details)


def remove_photo(session: Session, actor: User, case: Case) -> None:
    _require_edit(actor, case)
    if case.photo_key is None:
        return
    case.photo_key = None
    case.photo_consent = False
    case.photo_consent_at = None
    case.updated_at = clock.now()
    audit.record(session, actor, "photo_removed", "case", case.id, region_id=case.region_id)


# --- the payment account (发放账户) --------------------------------------------------------------------

ACCOUNT_KIND_LABELS = {
    AccountKind.bank_card: _l("银行卡"),
    AccountKind.social_security_card: _l("社会保障卡"),
    AccountKind.benefit_card: _l("惠民惠农“一卡通”"),
}


def set_payment_account(session: Session, actor: User, case: Case, *, kind: AccountKind | str, bank_name: str,
                        holder_name: str, number: str) -> PaymentAccount:
    """Record (or replace) where the household is paid. The audit event keeps only the masked number."""
    _require_edit(actor, case)
    kind = chosen(AccountKind, kind)
    with collect() as problems:
        if kind is None:
            problems.add("kind", _l("请选择账户类型。"))
        number = problems.check(normalise_account_number, number, luhn_checked=kind == AccountKind.bank_card,
                                field="number")
        bank_name = problems.check(_required, bank_name, "bank_name", _l("请填写开户银行。"), 100)
        holder_name = problems.check(_required, normalise_name(holder_name), "holder_name", _l("请填写账户户名。"), 50)
    account = case.payment_account or PaymentAccount(case=case)
    before = mask_account(account.number) if account.number else None
    account.kind, account.bank_name, account.holder_name, account.number = kind, bank_name, holder_name, number
    account.updated_by_id, account.updated_by_name, account.updated_at = actor.id, actor.display_name, clock.now()
    session.add(account)
    case.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "payment_account_set", "case", case.id, region_id=case.region_id,
                 details={"kind": kind.value, "bank": bank_name, "number": [before, mask_account(number)]})
    return account


# --- attachments (材料) ----------------------------------------------------------------------------------------

def add_attachment(session: Session, actor: User, case: Case, *, title: str, data: bytes, filename: str,
                   media_dir: str) -> Attachment:
    """An attachment (image or PDF) through the one media pipeline; the file is checked with the title, and nothing
    is stored unless both pass."""
    workflow.require(actor, case, Action.attach)
    with collect() as problems:
        title = problems.check(_required, title, "title", _l("请填写材料名称，例如“低保申请书”。"), 100)
        if not data:
            problems.add("file", _l("请选择要上传的文件。"))
        else:
            prepared = problems.check(media.prepare_document, data, filename or "", field="file")
    return store_attachment(session, actor, case, title=title, prepared=prepared, filename=filename,
                            media_dir=media_dir)


def store_attachment(session: Session, actor: User, case: Case, *, title: str, prepared: media.Prepared,
                     filename: str, media_dir: str) -> Attachment:
    """Write a checked file (:func:`media.prepare_document`) and keep it as the case's attachment ``title``."""
    workflow.require(actor, case, Action.attach)
    title = " ".join(title.split())  # one line
    stored = prepared.write(media_dir)
    attachment = Attachment(case_id=case.id, title=title, media_key=stored.key, content_type=stored.content_type,
                            original_name=(filename or "")[-200:], size_bytes=stored.size,
                            uploaded_by_id=actor.id, uploaded_by_name=actor.display_name, created_at=clock.now())
    session.add(attachment)
    session.flush()
    audit.record(session, actor, "attachment_added", "case", case.id, region_id=case.region_id,
                 details={"attachment": attachment.id, "title": title, "type": stored.content_type})
    return attachment


def get_attachment(session: Session, user: User, attachment_id: int) -> tuple[Attachment, Case]:
    attachment = db.get_record(session, Attachment, attachment_id)
    if attachment is None:
        raise NotFound(_l("没有找到该材料。"))
    return attachment, get_case(session, user, attachment.case_id)


def case_photo_key(session: Session, user: User, case_id: int) -> str:
    case = get_case(session, user, case_id)
    if not case.photo_key:
        raise NotFound(_l("该户没有照片。"))
    return case.photo_key


# --- the archive (一户一档) -----------------------------------------------------------------------------

@dataclass
class Archive:
    case: Case
    visits: list[HomeVisit]
    reviews: list[ReviewResult]
    town_meetings: list[TownMeetingResult]
    records: list[CaseRecord]
    attachments: list[Attachment]
    events: list
    computation: entitlement.Computation
    deadlines: list[Deadline]
    held: bool
    periods: list[AmountPeriod]
    unheld_objections: int = 0  # open objections received over their network's cap: they hold nothing yet


def archive(session: Session, case: Case) -> Archive:
    visits = list(session.scalars(
        select(HomeVisit).where(HomeVisit.case_id == case.id)
        .options(selectinload(HomeVisit.investigators), selectinload(HomeVisit.neighbours))
        .order_by(HomeVisit.visited_on, HomeVisit.id)))
    reviews = list(session.scalars(select(ReviewResult).where(ReviewResult.case_id == case.id)
                                   .order_by(ReviewResult.id)))
    town = list(session.scalars(select(TownMeetingResult).where(TownMeetingResult.case_id == case.id)
                                .order_by(TownMeetingResult.id)))
    records = list(session.scalars(select(CaseRecord).where(CaseRecord.case_id == case.id)
                                  .order_by(CaseRecord.id)))
    attachments = list(session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                       .order_by(Attachment.id)))
    return Archive(case=case, visits=visits, reviews=reviews, town_meetings=town, records=records,
                   attachments=attachments, events=audit.events_for(session, "case", case.id),
                   computation=entitlement.compute_for(session, case),
                   deadlines=deadlines(case, visits, workdays.calendar(session, case.region),
                                       refusal_notices=refusal_notices(session, [case.id])),
                   held=workflow.is_held(session, case),
                   periods=entitlement.periods(session, case),
                   unheld_objections=session.scalar(select(func.count(Objection.id)).where(
                       Objection.case_id == case.id, Objection.status == FeedbackStatus.over_cap)) or 0)


# --- deadlines in working days ------------------------------------------------------------------------

@dataclass
class Deadline:
    key: str
    label: str
    start: date
    due: date
    done_on: date | None
    today: date
    calendar: workdays.Calendar = workdays.PACKAGE

    @property
    def estimated(self) -> bool:
        """Counted Monday–Friday: the county's holiday calendar does not reach the due date (按周一至周五估算)."""
        return not self.calendar.covers(self.start, self.due)

    @property
    def overdue(self) -> bool:
        return self.done_on is None and self.today > self.due

    @property
    def late(self) -> bool:
        return self.done_on is not None and self.done_on > self.due

    @property
    def workdays_left(self) -> int:
        return self.calendar.workdays_between(self.today, self.due)


def _local(instant: datetime) -> date:
    return clock.to_local(instant).date()


def decided_on(case: Case) -> date | None:
    if case.approved_at is not None:
        return _local(case.approved_at)
    if case.stage not in workflow.UNDECIDED_STAGES:
        return _local(case.stage_changed_at)
    return None


def deadlines(case: Case, visits: list[HomeVisit], calendar: workdays.Calendar = workdays.PACKAGE, *,
              refusal_notices: dict[int, date] | None = None) -> list[Deadline]:
    """The case's deadlines in working days. With ``refusal_notices`` (case id → the day its 不予批准告知书 was
    issued, :func:`refusal_notices`), a rejected case also has the written refusal's deadline (A 21)."""
    today = clock.today()
    accepted = _local(case.accepted_at)
    if visits:
        visit_done: date | None = min(v.visited_on for v in visits)
    elif case.stage == Stage.applied:
        visit_done = None
    else:  # moved on without a visit on file (data from before this system): not counted as overdue
        visit_done = accepted
    result = [Deadline("home_visit", str(_l("入户调查")), accepted,
                       calendar.add_workdays(accepted, HOME_VISIT_DAYS), visit_done, today, calendar)]
    if case.stage == Stage.county_approval:
        received = _local(case.stage_changed_at)
        result.append(Deadline("county", str(_l("县级审批")), received,
                               calendar.add_workdays(received, COUNTY_DECISION_DAYS), None, today, calendar))
    total = WHOLE_CASE_SPECIAL_DAYS if case.special_case else WHOLE_CASE_DAYS
    result.append(Deadline("whole", str(_l("全部办结（%(n)d 个工作日）", n=total)), accepted,
                           calendar.add_workdays(accepted, total), decided_on(case), today, calendar))
    if refusal_notices is not None and case.stage == Stage.rejected:
        rejected = _local(case.stage_changed_at)
        result.append(Deadline("refusal", str(_l("书面告知不予批准的理由（%(n)d 个工作日）", n=REFUSAL_NOTICE_DAYS)),
                               rejected, calendar.add_workdays(rejected, REFUSAL_NOTICE_DAYS),
                               refusal_notices.get(case.id), today, calendar))
    return result


def refusal_notices(session: Session, case_ids: list[int]) -> dict[int, date]:
    """Case id → the day its first 不予批准告知书 was issued (the written refusal of A 21)."""
    from dibao.models.household import Document, DocumentKind

    out: dict[int, date] = {}
    for chunk in db.chunks(sorted(set(case_ids))):
        out.update(session.execute(select(Document.case_id, func.min(Document.issued_on))
                                   .where(Document.case_id.in_(chunk), Document.kind == DocumentKind.rejection)
                                   .group_by(Document.case_id)).all())
    return out


def _before(day: date) -> datetime:
    """The UTC instant at which the local day after ``day`` starts: "on or before day" in SQL."""
    return clock.local_midnight(date.fromordinal(day.toordinal() + 1))


def overdue_conditions(today: date | None = None, calendar: workdays.Calendar = workdays.PACKAGE
                       ) -> dict[str, ColumnElement[bool]]:
    """SQL conditions for each kind of overdue case (one comparison each, see Calendar.latest_overdue_start);
    ``calendar`` is the county's (a user's scope lies within one county)."""
    today = today or clock.today()
    visit_cut = _before(calendar.latest_overdue_start(today, HOME_VISIT_DAYS))
    county_cut = _before(calendar.latest_overdue_start(today, COUNTY_DECISION_DAYS))
    whole_cut = _before(calendar.latest_overdue_start(today, WHOLE_CASE_DAYS))
    special_cut = _before(calendar.latest_overdue_start(today, WHOLE_CASE_SPECIAL_DAYS))
    return {
        "home_visit": and_(Case.stage == Stage.applied, Case.accepted_at < visit_cut),
        "county": and_(Case.stage == Stage.county_approval, Case.stage_changed_at < county_cut),
        "whole": and_(
            Case.stage.in_(workflow.UNDECIDED_STAGES),
            or_(and_(Case.special_case.is_(False), Case.accepted_at < whole_cut),
                and_(Case.special_case.is_(True), Case.accepted_at < special_cut)),
        ),
    }


OVERDUE_LABELS = {"home_visit": _l("入户调查超期"), "county": _l("县级审批超期"), "whole": _l("办结超期")}


def _in_scope(user: User) -> ColumnElement[bool]:
    return Case.region_id.in_(scope.region_ids_in_scope(user))


def deadline_summary(session: Session, user: User) -> dict[str, int]:
    """Overdue counts in the user's region, for the dashboard."""
    from dibao import reviews  # the worklist's own rule: review date come, or a proposal waiting (issue 10)

    calendar = workdays.calendar(session, user.region)
    conditions = {**overdue_conditions(calendar=calendar), "open": Case.stage.in_(workflow.UNDECIDED_STAGES)}
    # One pass over the undecided cases of the scope for the four deadline counts (every overdue condition
    # requires an undecided stage), instead of one scan of the scope each.
    row = session.execute(select(*(func.count().filter(condition).label(key)
                                   for key, condition in conditions.items())).select_from(Case)
                          .where(_in_scope(user), Case.stage.in_(workflow.UNDECIDED_STAGES))).one()
    counts = {key: row._mapping[key] or 0 for key in conditions if key != "open"}
    counts["review_due"] = reviews.due_count(session, user)
    counts["open"] = row.open or 0
    return counts


# --- the list -----------------------------------------------------------------------------------------

@dataclass
class Page:
    items: list[Case]
    total: int
    page: int
    per_page: int
    household_sizes: dict[int, int]  # case id → members, counted with the page (its members are not loaded)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(
    session: Session,
    user: User,
    *,
    q: str = "",
    stage: str = "",
    community_id: int | None = None,
    overdue: str = "",
    category: int | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Page:
    conditions: list[ColumnElement[bool]] = [_in_scope(user)]
    q = (q or "").strip()[:50]
    if q:
        like = f"%{q}%"
        found = [Case.head_name.like(like), Case.address.like(like)]
        if q.isascii():  # a case number (region code, year, digits) and a phone are ASCII: a word with Chinese
            # characters is never part of one, and each LIKE is one more trigram index scan (issue 13)
            found += [Case.number.like(like), Case.head_phone.like(like)]
        # ID numbers are encrypted: a whole number is found by its keyed hash (the head's or a member's).
        compact = q.upper().replace(" ", "")
        id_hash = blind_index(compact) if len(compact) == 18 else None
        if id_hash:
            # The hash's households first, by the two indexed lookups; then the cases by primary key (an
            # IN (SELECT …) ORed into the condition made PostgreSQL test every case of the scope).
            ids = sorted(set(session.scalars(
                select(Case.id).where(Case.head_id_hash == id_hash)
                .union(select(Member.case_id).where(Member.id_number_hash == id_hash)))))
            by_id = [Case.id.in_(ids)]
            # A valid ID number names a person, not a fragment of a name or address: look it up by its index
            # alone (the words' LIKE would scan every household of a province for nothing).
            found = by_id if is_valid_id_number(compact) else found + by_id
        conditions.append(or_(*found))
    if stage == "open":
        conditions.append(Case.stage.in_(workflow.UNDECIDED_STAGES))
    elif stage:
        try:
            conditions.append(Case.stage == Stage(stage))
        except ValueError:
            raise Invalid(_l("没有这个办理阶段。"), field="stage") from None
    if community_id:
        conditions.append(Case.region_id == community_id)
    if category:
        conditions.append(Case.category == category)
    if overdue:
        conds = overdue_conditions(calendar=workdays.calendar(session, user.region))
        if overdue == "any":
            conditions.append(or_(*conds.values()))
        elif overdue in conds:
            conditions.append(conds[overdue])
        else:
            conditions.append(false())
    page = max(1, page)
    total = session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
    stmt = (select(Case, Case.household_size).where(*conditions)
            .order_by(Case.updated_at.desc(), Case.id.desc()).limit(per_page).offset((page - 1) * per_page))
    rows = session.execute(stmt).all()
    return Page(items=[case for case, _ in rows], total=total, page=page, per_page=per_page,
                household_sizes={case.id: size for case, size in rows})


def overdue_keys(case: Case) -> list[str]:
    """Which deadlines a listed case has missed (computed per row; the list is one page long)."""
    today = clock.today()
    session = object_session(case)
    calendar = workdays.calendar(session, case.region) if session is not None else workdays.PACKAGE
    keys = []
    accepted = _local(case.accepted_at)
    if case.stage == Stage.applied and today > calendar.add_workdays(accepted, HOME_VISIT_DAYS):
        keys.append("home_visit")
    if case.stage == Stage.county_approval and today > calendar.add_workdays(
            _local(case.stage_changed_at), COUNTY_DECISION_DAYS):
        keys.append("county")
    total = WHOLE_CASE_SPECIAL_DAYS if case.special_case else WHOLE_CASE_DAYS
    if case.stage in workflow.UNDECIDED_STAGES and today > calendar.add_workdays(accepted, total):
        keys.append("whole")
    return keys


def communities_in_scope(session: Session, user: User) -> list[Region]:
    return [r for r in scope.regions_in_scope(session, user) if r.level == Level.community]
