"""网上申请: applying for dibao on the portal, and the community's answer.

"申请低保可以书面或网上提出" (A 4): anyone may apply without an account, for their own household or, with a
written authorisation (委托书, A 6), for a relative. The applicant gets a tracking code (the same /track page
and QR code as objections). The application waits in its community's inbox with a deadline in working days;
the community's own staff either *accept* it — the ``applied`` Case is registered with everything typed, its
members and its document photos, and the deadlines of the case start — or *return* it once with the whole
list of what is missing (一次性告知, A 10), which the applicant reads on the tracking page. Either answer is
sent to the applicant's mobile (and e-mail, if given) by dibao.notify.

ID numbers and phones are staff-only: the tracking page shows the status, the community, the dates and the
list of what is missing — never who applied or how to reach them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from dibao import audit, cases, clock, db, feedback, identity, media, notify, scope, workdays, workflow
from dibao.errors import Conflict, Forbidden, Invalid, NotFound, collect
from dibao.models import Case, Level, Member, Objection, Region, Report, Stage, User, WorkCapacity
from dibao.models.application import (
    Application,
    ApplicationDocument,
    ApplicationMember,
    ApplicationStatus,
    DocumentKind,
)
from dibao.text import normalise_name

WORKING_DAYS = 3  # to accept or return (local practice; DIBAO_APPLICATION_WORKING_DAYS)
MAX_MEMBERS = 10
MAX_MATERIALS = 6
MAX_DOCUMENT_BYTES = media.MAX_IMAGE_BYTES
MIN_REASON = 10
MAX_REASON = 2000
MAX_NAME = 50  # a person's name (the form takes its limits from here)
MAX_ADDRESS = 200
MAX_RETURN_ITEMS = 20

RELATIONS = [r for r in cases.RELATIONS if r != "本人"]
PROXY_RELATIONS = ["子女", "配偶", "父母", "兄弟姐妹", "孙子女", "其他亲属", "社区工作人员", "其他"]

STATUS_LABELS = {
    ApplicationStatus.submitted: _l("已提交，等待社区受理"),
    ApplicationStatus.returned: _l("需要补充材料"),
    ApplicationStatus.accepted: _l("已受理，正在办理"),
}
DOCUMENT_LABELS = {DocumentKind.material: _l("申请材料照片"), DocumentKind.authorisation: _l("委托书照片")}
# What is most often missing: the checklist of the return form (staff may add their own lines).
COMMON_MISSING = (
    _l("申请人及共同生活家庭成员的身份证（正反面）"),
    _l("户口簿（户主页和每位成员页）"),
    _l("家庭成员的收入证明（工资、养老金等）"),
    _l("残疾证或疾病诊断证明（如有）"),
    _l("家庭经济状况核对授权书（全体成年家庭成员签字）"),
    _l("代为申请的委托书（申请人签字或按手印）"),
    _l("婚姻状况证明（结婚证、离婚证等）"),
    _l("住房情况说明（房产证或租房合同）"),
)


# --- what the applicant typed -------------------------------------------------------------------------------

@dataclass
class MemberInput:
    name: str = ""
    relation: str = ""
    age: int | None = None
    id_number: str = ""
    work_capacity: str = WorkCapacity.full.value

    def is_blank(self) -> bool:
        return not (self.name.strip() or self.id_number.strip() or self.age is not None)


@dataclass
class ApplicationInput:
    """The plain values of the application form (the view parses the request into this)."""

    region_code: str = ""
    head_name: str = ""
    head_id_number: str = ""
    head_phone: str = ""
    email: str = ""
    address: str = ""
    head_work_capacity: str = WorkCapacity.full.value
    reason: str = ""
    check_consent: bool = False
    by_proxy: bool = False
    proxy_name: str = ""
    proxy_relation: str = ""
    proxy_phone: str = ""
    members: list[MemberInput] = field(default_factory=list)
    materials: list[bytes] = field(default_factory=list)
    authorisation: bytes | None = None
    idempotency_key: str | None = None


@dataclass
class Receipt:
    application: Application
    created: bool  # False: a double submit found the first one


def _clean(value: str | None) -> str:
    return feedback._clean_text(value)


def communities(session: Session) -> list[Region]:
    """Every community (社区/村), in region order: where an application can be filed."""
    return list(session.scalars(select(Region).where(Region.level == Level.community).order_by(Region.path)))


def _community(session: Session, code: str) -> Region | None:
    region = session.scalar(select(Region).where(Region.code == (code or "").strip())) if code else None
    return region if region is not None and region.level == Level.community else None


def age_on(id_number: str, day: date) -> int:
    born = ric.get_birth_date(id_number)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def field_errors(session: Session, inp: ApplicationInput) -> dict[str, str]:
    """Every problem at once, keyed by form field ("members-2-age" for a member row)."""
    errors: dict[str, str] = {}

    def check(name: str, run) -> Any:
        try:
            return run()
        except Invalid as err:
            errors[name] = str(err.message)
            return None

    if _community(session, inp.region_code) is None:
        errors["region"] = str(_l("请选择您家所在的社区（村）。"))
    name = normalise_name(inp.head_name)
    if not name:
        errors["head_name"] = str(_l("请填写申请人姓名。"))
    elif len(name) > MAX_NAME:
        errors["head_name"] = str(_l("姓名最多 %(n)d 个字。", n=MAX_NAME))
    id_number = check("head_id_number", lambda: identity.normalise_id_number(inp.head_id_number))
    if id_number and not 0 <= age_on(id_number, clock.today()) <= 130:
        errors["head_id_number"] = str(_l("身份证号码中的出生日期不对，请核对。"))
    if not (inp.head_phone or "").strip():
        errors["head_phone"] = str(_l("请留下联系电话，社区会用它通知您办理结果。"))
    else:
        check("head_phone", lambda: identity.normalise_phone(inp.head_phone))
    if inp.email.strip() and not notify.valid_email(inp.email.strip()):
        errors["email"] = str(_l("电子邮箱格式不对（可以不填）。"))
    address = _clean(inp.address)
    if not address:
        errors["address"] = str(_l("请填写家庭住址。"))
    elif len(address) > MAX_ADDRESS:
        errors["address"] = str(_l("住址最多 %(n)d 个字。", n=MAX_ADDRESS))
    if inp.head_work_capacity not in {c.value for c in WorkCapacity}:
        errors["head_work_capacity"] = str(_l("请选择申请人的劳动能力。"))
    reason = _clean(inp.reason)
    if len(reason) < MIN_REASON:
        errors["reason"] = str(_l("请简单写明申请理由（至少 %(n)d 个字），例如家里有几口人、靠什么生活、遇到了什么困难。",
                                  n=MIN_REASON))
    elif len(reason) > MAX_REASON:
        errors["reason"] = str(_l("申请理由最多 %(n)d 个字。", n=MAX_REASON))
    if not inp.check_consent:
        errors["check_consent"] = str(_l("办理低保必须核对家庭经济状况，请勾选同意。"))
    if inp.by_proxy:
        if not normalise_name(inp.proxy_name):
            errors["proxy_name"] = str(_l("代为申请的，请填写您（代办人）的姓名。"))
        if inp.proxy_relation not in PROXY_RELATIONS:
            errors["proxy_relation"] = str(_l("请选择您与申请人的关系。"))
        if not (inp.proxy_phone or "").strip():
            errors["proxy_phone"] = str(_l("请留下代办人的联系电话。"))
        else:
            check("proxy_phone", lambda: identity.normalise_phone(inp.proxy_phone, field="proxy_phone"))
        if not inp.authorisation:
            errors["authorisation"] = str(_l("代为申请需要申请人签字或按手印的委托书，请拍照上传。"))
    filled = [(i, m) for i, m in enumerate(inp.members) if not m.is_blank()]
    if len(filled) > MAX_MEMBERS:
        errors["members"] = str(_l("家庭成员最多填写 %(n)d 位，更多的请到社区补充。", n=MAX_MEMBERS))
    for i, member in filled:
        if not normalise_name(member.name):
            errors[f"members-{i}-name"] = str(_l("请填写这位家庭成员的姓名。"))
        if member.relation not in RELATIONS:
            errors[f"members-{i}-relation"] = str(_l("请选择与申请人的关系。"))
        if member.age is None or not 0 <= member.age <= 130:
            errors[f"members-{i}-age"] = str(_l("请填写正确的年龄（0–130）。"))
        if member.id_number.strip():
            check(f"members-{i}-id_number",
                  lambda m=member: identity.normalise_id_number(m.id_number, field="id_number"))
        if member.work_capacity not in {c.value for c in WorkCapacity}:
            errors[f"members-{i}-work_capacity"] = str(_l("请选择劳动能力。"))
    if len(inp.materials) > MAX_MATERIALS:
        errors["materials"] = str(_l("申请材料照片最多 %(n)d 张。", n=MAX_MATERIALS))
    return errors


def check_documents(inp: ApplicationInput) -> list[tuple[DocumentKind, media.Prepared]]:
    """Every photo decoded with the media limits and cleaned in memory, before anything is written (one bad photo:
    nothing saved; every bad photo is named); each is decoded once, and what is checked is what is stored. The
    authorisation is kept only for an application by proxy."""
    prepared = []
    with collect() as problems:
        for index, data in enumerate(inp.materials, start=1):
            material = problems.check(media.prepare_image, data, max_bytes=MAX_DOCUMENT_BYTES, field="materials",
                                      lead=lambda why, n=index: _l("第 %(n)d 张材料照片：%(why)s", n=n, why=why))
            if material is not None:
                prepared.append((DocumentKind.material, material))
        if inp.authorisation:
            authorisation = problems.check(media.prepare_image, inp.authorisation, max_bytes=MAX_DOCUMENT_BYTES,
                                           field="authorisation", lead=lambda why: _l("委托书照片：%(why)s", why=why))
            if authorisation is not None and inp.by_proxy:
                prepared.append((DocumentKind.authorisation, authorisation))
    return prepared


def _unique_code(session: Session) -> str:
    """A tracking code no objection, report or application has (they share the /track page)."""
    for _ in range(10):
        code = feedback.new_tracking_code()
        if not any(session.scalar(select(model.id).where(model.tracking_code == code))
                   for model in (Objection, Report, Application)):
            return code
    raise Conflict(_l("系统繁忙，请稍后再试。"))  # pragma: no cover - 10 collisions in 10**15


def find_by_key(session: Session, key: str | None) -> Application | None:
    if not key or not feedback.KEY_RE.match(key):
        return None
    return session.scalar(select(Application).where(Application.idempotency_key == key))


def submit(session: Session, inp: ApplicationInput, *, media_dir: str,
           working_days: int = WORKING_DAYS) -> Receipt:
    """File an application. A second submit of the same form returns the first."""
    existing = find_by_key(session, inp.idempotency_key)
    if existing is not None:
        return Receipt(existing, created=False)
    with collect() as problems:  # every problem at once, before anything is written
        for name, message in field_errors(session, inp).items():
            problems.add(name, message)
        uploads = problems.check(check_documents, inp) or []
    # Nothing here looks at other applications, cases or the roster: the answer to the public never depends on
    # what anyone else filed (who has applied, or is on the roster, is not for a stranger who knows an ID number
    # to learn — nor may the first to type a number block its owner). Staff see other pending applications with
    # the same number and an open household beside each application (``duplicates``), accept one and return the
    # others; accepting a second is refused by the one-household rule.
    id_number = identity.normalise_id_number(inp.head_id_number)
    region = _community(session, inp.region_code)
    now = clock.now()
    application = Application(
        tracking_code=_unique_code(session), region=region, status=ApplicationStatus.submitted,
        head_name=normalise_name(inp.head_name), head_id_number=id_number,
        head_phone=identity.normalise_phone(inp.head_phone), email=inp.email.strip() or None,
        head_work_capacity=WorkCapacity(inp.head_work_capacity), address=_clean(inp.address),
        reason=_clean(inp.reason), check_consent=True, by_proxy=inp.by_proxy,
        proxy_name=normalise_name(inp.proxy_name) or None if inp.by_proxy else None,
        proxy_relation=inp.proxy_relation if inp.by_proxy else None,
        proxy_phone=identity.normalise_phone(inp.proxy_phone, field="proxy_phone") if inp.by_proxy else None,
        deadline=workdays.add_workdays(clock.today(), working_days), created_at=now,
        idempotency_key=inp.idempotency_key if inp.idempotency_key and feedback.KEY_RE.match(inp.idempotency_key)
        else None,
    )
    session.add(application)
    position = 0
    for member in inp.members:
        if member.is_blank():
            continue
        application.members.append(ApplicationMember(
            position=position, name=normalise_name(member.name), relation=member.relation, age=member.age,
            id_number=identity.normalise_id_number(member.id_number, field="id_number", required=False),
            work_capacity=WorkCapacity(member.work_capacity)))
        position += 1
    session.flush()
    # Files are content-addressed and written before the commit; a rolled-back twin's files are its own.
    for position, (kind, prepared) in enumerate(uploads):
        stored = prepared.write(media_dir)
        application.documents.append(ApplicationDocument(
            position=position, kind=kind, media_key=stored.key, width=stored.width, height=stored.height,
            size=stored.size, created_at=now))
    session.flush()
    audit.record(session, None, "application_submitted", "application", application.tracking_code,
                 region_id=region.id, actor_name=feedback.PUBLIC_ACTOR,
                 details={"members": len(application.members), "documents": len(uploads),
                          "by_proxy": inp.by_proxy, "deadline": application.deadline.isoformat()})
    return Receipt(application, created=True)


# --- tracking (public) -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicApplication:
    """Everything the tracking page may show: no name, ID number, phone, address, members or documents."""

    kind: str
    code: str
    community: str
    submitted_at: Any
    status: ApplicationStatus
    deadline: date
    handled_at: Any
    missing_items: tuple[str, ...]
    return_note: str | None
    case_stage: str | None  # the accepted case's stage, as a label


def lookup(session: Session, code: str | None) -> PublicApplication | None:
    """The application with this tracking code, or None (the code may be an objection's or a report's)."""
    from dibao.workflow import STAGE_LABELS

    code = feedback.normalise_code(code)
    if not feedback.CODE_RE.match(code):
        return None
    application = session.scalar(select(Application).where(Application.tracking_code == code))
    if application is None:
        return None
    returned = application.status == ApplicationStatus.returned
    stage = application.case.stage if application.case is not None else None
    return PublicApplication(
        kind="application", code=application.tracking_code, community=application.region.full_name,
        submitted_at=application.created_at, status=application.status, deadline=application.deadline,
        handled_at=application.handled_at,
        missing_items=tuple(application.missing_items) if returned else (),
        return_note=application.return_note if returned else None,
        case_stage=None if stage is None else str(_l("等待入户调查") if stage == Stage.applied else STAGE_LABELS[stage]))


# --- the staff side ----------------------------------------------------------------------------------------

STATES = ("open", "overdue", "returned", "accepted", "all")


def inbox(session: Session, user: User, *, state: str = "open", today: date | None = None) -> list[Application]:
    """Applications of the user's subtree; open ones by deadline, handled ones newest first."""
    today = today or clock.today()
    stmt = select(Application).where(Application.region_id.in_(scope.region_ids_in_scope(user)))
    if state in ("open", "overdue"):
        stmt = stmt.where(Application.status == ApplicationStatus.submitted)
        if state == "overdue":
            stmt = stmt.where(Application.deadline < today)
        stmt = stmt.order_by(Application.deadline, Application.created_at)
    else:
        if state in ("returned", "accepted"):
            stmt = stmt.where(Application.status == ApplicationStatus(state))
        stmt = stmt.order_by(Application.created_at.desc())
    return list(session.scalars(stmt.limit(500)))


def counts(session: Session, user: User, today: date | None = None) -> dict[str, int]:
    today = today or clock.today()
    base = select(func.count(Application.id)).where(Application.region_id.in_(scope.region_ids_in_scope(user)),
                                                    Application.status == ApplicationStatus.submitted)
    return {"open": session.scalar(base) or 0,
            "overdue": session.scalar(base.where(Application.deadline < today)) or 0}


def is_overdue(application: Application, today: date | None = None) -> bool:
    return application.status == ApplicationStatus.submitted and (today or clock.today()) > application.deadline


def get(session: Session, user: User, application_id: int) -> Application:
    return scope.get(session, user, Application, application_id, _l("没有找到这份申请。"))


def _household_problems(session: Session, actor: User, application: Application) -> list[str]:
    """The one-household rule (cases.check_one_household) for everyone of the application, each named: what
    refuses its acceptance, told as the rule tells ``actor`` (a case number only where they may open it)."""
    found = []
    for name, id_number in [(application.head_name, application.head_id_number),
                            *((m.name, m.id_number) for m in application.members)]:
        try:
            cases.check_one_household(session, actor, None, id_number)
        except Conflict as err:
            found.append(str(_l("%(name)s：%(message)s", name=name, message=err.message)))
    return found


@dataclass(frozen=True)
class Duplicates:
    """What staff must see before answering an application (never the public: the portal's answer does not
    depend on it): the other applications with the same ID number that wait — those ``user`` may open, and where
    the others are (town or county, as the one-household rule says it) — and the open households its people are
    already in."""

    waiting: list[Application]
    elsewhere: list[str]
    households: list[str]

    def __bool__(self) -> bool:
        return bool(self.waiting or self.elsewhere or self.households)


def duplicates(session: Session, user: User, application: Application) -> Duplicates:
    if application.status != ApplicationStatus.submitted:
        return Duplicates([], [], [])
    others = session.scalars(select(Application).where(
        Application.head_id_hash == application.head_id_hash, Application.id != application.id,
        Application.status == ApplicationStatus.submitted).order_by(Application.created_at, Application.id)).all()
    waiting = [a for a in others if scope.can_see(user, a.region)]
    elsewhere = [cases.place_beyond(user, a.region) for a in others if not scope.can_see(user, a.region)]
    return Duplicates(waiting, elsewhere, _household_problems(session, user, application))


@dataclass(frozen=True)
class Mark:
    """An inbox row's warnings: how many other applications with the same ID number wait (anywhere), and
    whether the number is already the head or a member of an open household."""

    twins: int
    in_household: bool


def marks(session: Session, items: list[Application]) -> dict[int, Mark]:
    """The warnings of the waiting applications among ``items`` (an inbox page), in three queries."""
    waiting = [a for a in items if a.status == ApplicationStatus.submitted]
    hashes = sorted({a.head_id_hash for a in waiting})
    if not hashes:
        return {}
    counted: dict[str, int] = {}
    held: set[str] = set()
    for chunk in db.chunks(hashes):
        counted.update(session.execute(
            select(Application.head_id_hash, func.count(Application.id))
            .where(Application.head_id_hash.in_(chunk), Application.status == ApplicationStatus.submitted)
            .group_by(Application.head_id_hash)).all())
        still_open = Case.stage.not_in(workflow.CLOSED_STAGES)
        held.update(session.scalars(select(Case.head_id_hash).where(Case.head_id_hash.in_(chunk), still_open)))
        held.update(session.scalars(select(Member.id_number_hash).join(Case, Member.case_id == Case.id)
                                    .where(Member.id_number_hash.in_(chunk), still_open)))
    found = {a.id: Mark(counted.get(a.head_id_hash, 1) - 1, a.head_id_hash in held) for a in waiting}
    return {key: mark for key, mark in found.items() if mark.twins or mark.in_household}


def may_handle(user: User, application: Application) -> bool:
    """Only the community's own staff accept or return (they register the case: dibao.cases.may_register)."""
    return cases.may_register(user) and user.region_id == application.region_id


def _require_handler(actor: User, application: Application) -> None:
    scope.require_in_scope(actor, application.region)
    if not may_handle(actor, application):
        raise Forbidden(_l("网上申请由申请人所在社区的低保专干受理或退回。"))
    if application.status != ApplicationStatus.submitted:
        raise Conflict(_l("这份申请已经处理过了。"))


def accept(session: Session, actor: User, application: Application, *, media_dir: str) -> Case:
    """受理: register the ``applied`` case with the applicant, the members and the document photos."""
    _require_handler(actor, application)
    with collect() as problems:  # one person, one open household: everyone of the application at once, each
        # named (the accept button has no field to put a message beside); register_case and add_member check again
        for message in _household_problems(session, actor, application):
            problems.add_error(Conflict(message))
        if problems and session.scalar(select(Application.id).where(
                Application.head_id_hash == application.head_id_hash, Application.id != application.id,
                Application.status == ApplicationStatus.accepted).limit(1)) is not None:
            # the same person applied twice (or someone else used their number): say what to do with this one
            problems.add_error(Conflict(_l("同一身份证号的另一份网上申请已经受理，这一份不能再受理。请核实后退回，"
                                           "并写明原因。")))
    case = cases.register_case(
        session, actor, head_name=application.head_name, head_id_number=application.head_id_number,
        head_phone=application.head_phone, address=application.address,
        head_age=age_on(application.head_id_number, clock.today()),
        head_work_capacity=application.head_work_capacity)
    for member in application.members:
        cases.add_member(session, actor, case, name=member.name, relation=member.relation, age=member.age,
                         id_number=member.id_number, health="", work_capacity=member.work_capacity,
                         deduction=None, deduction_note="")
    for number, document in enumerate(application.documents, start=1):
        path = media.media_path(media_dir, document.media_key)
        title = f"{DOCUMENT_LABELS[document.kind]} {number}（{_l('网上申请')}）"
        cases.add_attachment(session, actor, case, title=title, data=path.read_bytes(),
                             filename=path.name, media_dir=media_dir)
    application.status = ApplicationStatus.accepted
    application.case_id = case.id
    application.handled_by_id = actor.id
    application.handled_at = clock.now()
    session.flush()
    audit.record(session, actor, "application_accepted", "application", application.tracking_code,
                 region_id=application.region_id, details={"case": case.number})
    notify.application_answered(session, application)
    return case


def clean_items(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for line in items:
        for part in (line or "").splitlines():
            text = _clean(part).lstrip("-·• ").strip()
            if text:
                seen.setdefault(text[:200], None)
    return list(seen)


def return_application(session: Session, actor: User, application: Application, *, items: list[str],
                       note: str = "") -> Application:
    """退回 with 一次性告知: every missing item at once (the applicant reads them on the tracking page)."""
    _require_handler(actor, application)
    missing = clean_items(items)
    note = _clean(note)
    with collect() as problems:
        if not missing:
            problems.add("items", _l("请列出需要补齐的全部材料（一次性告知），至少一项。"))
        if len(missing) > MAX_RETURN_ITEMS:
            problems.add("other", _l("最多列出 %(n)d 项。", n=MAX_RETURN_ITEMS))
        if len(note) > 1000:
            problems.add("note", _l("说明最多 1000 个字。"))
    application.status = ApplicationStatus.returned
    application.return_items = "\n".join(missing)
    application.return_note = note or None
    application.handled_by_id = actor.id
    application.handled_at = clock.now()
    session.flush()
    audit.record(session, actor, "application_returned", "application", application.tracking_code,
                 region_id=application.region_id, details={"items": len(missing)})
    notify.application_answered(session, application)
    return application


def document(session: Session, user: User, document_id: int) -> ApplicationDocument:
    """A document photo, for staff who can see its application (never public)."""
    doc = db.get_record(session, ApplicationDocument, document_id)
    if doc is None:
        raise NotFound(_l("没有找到这张照片。"))
    get(session, user, doc.application_id)
    return doc
