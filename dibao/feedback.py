"""Objections (异议) and reports (举报): filing them without an account, tracking them by code, handling them.

An objection names one notice entry and is accepted only while that entry is open; until it is decided it
holds the case (``workflow.is_held``). A report is about a recipient on the roster or about staff conduct and
may be filed at any time. Both get a short unguessable tracking code once committed; the tracking page shows
the status and the published answer, never the submitter's text, name or phone.

Staff handle both in their region's subtree: assign, record the check, decide with a public answer, and tell
a real-name submitter the result (A 37). Deadlines are counted in Chinese working days. A report about staff
conduct is handled one level above the office it is about and never by the staff it names; a reporter's name
and phone are for the deciding level only. One client may hold only a few entries with open objections (past
that, an objection is received but holds its case only once staff check it: :func:`check_hold`), and
duplicate objections on an entry are closed together.
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from dibao import audit, clock, db, identity, media, notices, notify, scope, workdays, workflow
from dibao.errors import Conflict, Forbidden, Invalid, NotFound, Problems, collect
from dibao.models import (
    Case,
    FeedbackStatus,
    NoticeEntry,
    Objection,
    Outcome,
    ReasonCategory,
    Region,
    Report,
    ReportSubject,
    Role,
    Stage,
    User,
)
from dibao.models.feedback import Evidence
from dibao.models.region import Level
from dibao.text import clean_text

TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud, copied from a screen
TRACKING_LENGTH = 10  # 32**10 ≈ 10**15 codes
OBJECTION_WORKING_DAYS = 5  # an objection holds a case: answer it quickly
REPORT_WORKING_DAYS = 15
MAX_PHOTOS = 3
MAX_PHOTO_BYTES = 6 * 1024 * 1024  # three of them fit in the request limit (MAX_CONTENT_LENGTH, 20 MB)
MAX_DESCRIPTION = 2000
MAX_NAME = 50  # the submitter's name
MAX_ABOUT = 200  # a report's "被举报的人或单位" (the forms take their limits from here)
ABOUT_TOO_LONG = _l("“被举报的人或单位”最多 %(n)d 个字。", n=MAX_ABOUT)
MIN_DESCRIPTION = 5
MIN_ANSWER = 5
# A 19: an objection is decided on a new investigation or a community review, so its decision needs the check
# written down — who checked, how, what was found (the heads of the lines, time and recorder, do not count).
MIN_CHECK_NOTES = 10
CHECK_NOTES_NEEDED = _l("对异议作出结论前，须记录核查情况：由谁核查、怎样核查（入户调查、走访邻居或民主评议）、核查到什么"
                        "（至少 %(n)d 个字）。", n=MIN_CHECK_NOTES)
PUBLIC_ACTOR = "群众"  # the audit log's actor for a public submission (the submitter's name stays private)

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CODE_RE = re.compile(f"^[{TRACKING_ALPHABET}]{{{TRACKING_LENGTH}}}$")

CATEGORY_LABELS = {
    ReasonCategory.income_hidden: _l("隐瞒收入"),
    ReasonCategory.property: _l("隐瞒财产（住房、车辆、存款等）"),
    ReasonCategory.household: _l("家庭成员情况不实"),
    ReasonCategory.favouritism: _l("人情保、关系保"),
    ReasonCategory.other: _l("其他"),
}
STATUS_LABELS = {
    FeedbackStatus.received: _l("已受理，等待核查"),
    FeedbackStatus.over_cap: _l("已受理，等待核查（同一网络当天异议超过上限：开始核查前，案件不暂停推进）"),
    FeedbackStatus.checking: _l("正在核查"),
    FeedbackStatus.decided: _l("已办结"),
}
OUTCOME_LABELS = {
    Outcome.upheld: _l("异议成立"),
    Outcome.partly_upheld: _l("部分成立"),
    Outcome.not_upheld: _l("不成立"),
}
REPORT_OUTCOME_LABELS = {
    Outcome.upheld: _l("举报属实"),
    Outcome.partly_upheld: _l("部分属实"),
    Outcome.not_upheld: _l("举报不属实"),
}
SUBJECT_LABELS = {ReportSubject.recipient: _l("低保对象"), ReportSubject.staff: _l("工作人员作风")}
KIND_LABELS = {"objection": _l("异议"), "report": _l("举报")}

Item = Objection | Report


# --- codes and dates ---------------------------------------------------------------------------------

def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def normalise_code(text: str | None) -> str:
    """What a resident typed (lower case, spaces, dashes; full-width letters and digits from a Chinese input
    method, folded by NFKC) → the stored form."""
    return re.sub(r"[\s\-_.·—]", "", unicodedata.normalize("NFKC", (text or "")[:80])).upper()[:40]


def format_code(code: str) -> str:
    """ABCDE-FGHJK: two groups of five, easier to read out on the phone."""
    return f"{code[:5]}-{code[5:]}" if len(code) == TRACKING_LENGTH else code


def _unique_code(session: Session) -> str:
    for _ in range(10):
        code = new_tracking_code()
        taken = session.scalar(select(Objection.id).where(Objection.tracking_code == code)) or session.scalar(
            select(Report.id).where(Report.tracking_code == code))
        if not taken:
            return code
    raise Conflict(_l("系统繁忙，请稍后再试。"))  # pragma: no cover - 10 collisions in 10**15


def add_working_days(start: date, n: int, calendar: workdays.Calendar = workdays.PACKAGE) -> date:
    """``n`` Chinese working days after ``start`` (make-up Saturdays count, holidays do not), by the county's
    ``calendar``."""
    return calendar.add_workdays(start, n)


def deadline_estimated(session: Session, item: Item) -> bool:
    """Whether the answer's deadline was counted Monday–Friday (no holiday calendar for its year)."""
    start = clock.to_local(item.created_at).date()
    return not workdays.calendar(session, item.region).covers(start, item.deadline)


def recount_deadlines(session: Session, actor: User, county: Region, before: workdays.Calendar,
                      after: workdays.Calendar) -> int:
    """The county's holiday arrangement changed: every open objection and report of the county keeps its number
    of working days (counted by ``before``), and its stored deadline is counted again by ``after`` — the clerk's
    overdue mark and the submitter's tracking page follow the calendar the county entered. Returns how many
    deadlines moved; each move is audited."""
    moved = 0
    for model, kind in ((Objection, "objection"), (Report, "report")):
        items = session.scalars(select(model).join(Region, model.region_id == Region.id).where(
            scope.subtree_condition(county), model.status != FeedbackStatus.decided))
        for item in items:
            start = clock.to_local(item.created_at).date()
            n = before.workdays_between(start, item.deadline)
            new = after.add_workdays(start, n) if n >= 1 else item.deadline
            if new == item.deadline:
                continue
            audit.record(session, actor, f"{kind}_deadline_recounted", kind, item.tracking_code,
                         region_id=item.region_id, details={"from": item.deadline.isoformat(),
                                                            "to": new.isoformat(), "working_days": n})
            item.deadline = new
            moved += 1
    return moved


def is_overdue(item: Item, today: date | None = None) -> bool:
    return item.status != FeedbackStatus.decided and (today or clock.today()) > item.deadline


def must_notify(item: Item) -> bool:
    """A real-name submitter who has not yet been told the decided result (and still can be: not erased)."""
    return (item.real_name and item.status == FeedbackStatus.decided and item.notified_at is None
            and item.erased_at is None)


# --- choosing an entry to object to ------------------------------------------------------------------

def normalise_entry_id(text: str | None) -> str:
    """What a resident typed for an entry's number → its stored form: full-width letters and digits folded
    (ＡＢ１ → ab1), spaces and dashes dropped, lower case (the numbers are printed in lower case)."""
    return re.sub(r"[\s\-_.·—]", "", unicodedata.normalize("NFKC", text or "")).lower()[:40]


@dataclass
class CommunityOnNotice:
    region: Region
    count: int
    closes: Any  # the soonest closing of its open batches


def open_by_community(session: Session) -> list[tuple[Region, list[CommunityOnNotice]]]:
    """Towns and their communities with households on notice now, for "我要提异议": choose, then browse."""
    towns: dict[int, tuple[Region, dict[int, CommunityOnNotice]]] = {}
    for entry in notices.open_entries(session, None):
        community = entry.region
        town = community.parent or community
        _town, places = towns.setdefault(town.id, (town, {}))
        item = places.setdefault(community.id, CommunityOnNotice(community, 0, entry.batch.closes_at))
        item.count += 1
        item.closes = min(item.closes, entry.batch.closes_at)
    return [(town, sorted(places.values(), key=lambda c: c.region.code))
            for town, places in sorted(towns.values(), key=lambda t: t[0].code)]


# --- what a resident submits -------------------------------------------------------------------------

@dataclass
class Submission:
    """The plain values of an objection or report form (the view parses the request into this)."""

    category: str = ""
    description: str = ""
    name: str = ""
    phone: str = ""
    photos: list[bytes] = field(default_factory=list)
    idempotency_key: str | None = None


@dataclass
class Receipt:
    item: Item
    created: bool  # False: a double submit found the first one


def _clean_text(value: str | None) -> str:
    # Keep line breaks, drop other control and formatting characters (no place in a letter to the office).
    return clean_text(value).strip()


def field_errors(sub: Submission) -> dict[str, str]:
    """Every problem with the common fields at once (the form shows each beside its field)."""
    errors: dict[str, str] = {}
    if sub.category not in {c.value for c in ReasonCategory}:
        errors["category"] = str(_l("请选择反映的问题类型。"))
    description = _clean_text(sub.description)
    if len(description) < MIN_DESCRIPTION:
        errors["description"] = str(_l("请写明您了解的情况（至少 %(n)d 个字）。", n=MIN_DESCRIPTION))
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = str(_l("情况说明最多 %(n)d 个字，请精简后再提交。", n=MAX_DESCRIPTION))
    name = _clean_text(sub.name)
    phone = (sub.phone or "").strip()
    if len(name) > MAX_NAME:
        errors["name"] = str(_l("姓名最多 %(n)d 个字。", n=MAX_NAME))
    if phone:
        try:
            identity.normalise_phone(phone, field="phone")
        except Invalid:
            errors["phone"] = str(_l("请填写正确的手机号码（11 位）或带区号的固定电话。"))
    if bool(name) != bool(phone) and "phone" not in errors and "name" not in errors:
        errors["phone" if name else "name"] = str(
            _l("实名反映请同时留下姓名和电话，以便告知核查结果；匿名反映请两项都不填。"))
    if len(sub.photos) > MAX_PHOTOS:
        errors["photos"] = str(_l("最多上传 %(n)d 张照片。", n=MAX_PHOTOS))
    return errors


def _validate(sub: Submission) -> tuple[ReasonCategory, str, str | None, str | None, bool, list[media.Prepared]]:
    """The submission's fields checked, its photos with them; the photos come back prepared, not yet written."""
    photos: list[media.Prepared] = []
    with collect() as problems:  # every problem at once, and the photos' with them
        for field_name, message in field_errors(sub).items():
            problems.add(field_name, message)
        if not problems.has("photos"):
            photos = problems.check(check_photos, sub.photos) or []
    name = _clean_text(sub.name) or None
    phone = identity.normalise_phone(sub.phone, field="phone")
    return ReasonCategory(sub.category), _clean_text(sub.description), name, phone, name is not None, photos


def check_photos(photos: list[bytes]) -> list[media.Prepared]:
    """Every photo decoded with the media limits and cleaned in memory, before anything is written (one bad photo:
    nothing saved; every bad photo is named). Each is decoded once: what is checked is what is stored."""
    if len(photos) > MAX_PHOTOS:
        raise Invalid(_l("最多上传 %(n)d 张照片。", n=MAX_PHOTOS), field="photos")
    prepared = []
    with collect() as problems:
        for index, data in enumerate(photos, start=1):
            photo = problems.check(media.prepare_image, data, max_bytes=MAX_PHOTO_BYTES, field="photos",
                                   lead=lambda why, n=index: _l("第 %(n)d 张照片：%(why)s", n=n, why=why))
            if photo is not None:
                prepared.append(photo)
    return prepared


def _store_photos(session: Session, item: Item, photos: list[media.Prepared], media_dir: str) -> None:
    # The photos check_photos prepared. Files are content-addressed and written before the commit; if the commit
    # then fails (a double submit racing its twin) they are the twin's own files, so they are left in place.
    now = clock.now()
    for position, prepared in enumerate(photos):
        stored = prepared.write(media_dir)
        session.add(Evidence(objection_id=item.id if isinstance(item, Objection) else None,
                             report_id=item.id if isinstance(item, Report) else None, position=position,
                             media_key=stored.key, width=stored.width, height=stored.height, size=stored.size,
                             created_at=now))


def _existing(session: Session, model: type[Objection] | type[Report], key: str | None) -> Item | None:
    if not key:
        return None
    return session.scalar(select(model).where(model.idempotency_key == key))


def _key(sub: Submission) -> str | None:
    key = (sub.idempotency_key or "").strip()
    return key if KEY_RE.match(key) else None


def submit_objection(session: Session, entry_public_id: str | None, sub: Submission, *, media_dir: str,
                     working_days: int = OBJECTION_WORKING_DAYS, client_key: str | None = None,
                     hold_cap: int | None = None) -> Receipt:
    """File an objection against an open entry. A second submit of the same form returns the first.
    ``client_key``/``hold_cap``: how many entries one client may hold with open objections; past that the
    objection is received all the same, as ``over_cap``, and holds the case only once staff check it
    (:func:`check_hold`)."""
    key = _key(sub)
    existing = _existing(session, Objection, key)
    if existing is not None:
        return Receipt(existing, created=False)
    entry = notices.public_entry(session, entry_public_id)  # open, or 404/410 with nothing of the snapshot
    category, description, name, phone, real_name, photos = _validate(sub)  # the photos too
    holds = check_hold(session, entry, client_key, hold_cap)
    now = clock.now()
    objection = Objection(
        tracking_code=_unique_code(session), entry=entry, case_id=entry.case_id, region_id=entry.region_id,
        category=category, description=description, submitter_name=name, submitter_phone=phone,
        real_name=real_name, status=FeedbackStatus.received if holds else FeedbackStatus.over_cap,
        deadline=add_working_days(clock.today(), working_days, workdays.calendar(session, entry.region)),
        created_at=now, idempotency_key=key, client_key=client_key,
    )
    session.add(objection)
    session.flush()
    _store_photos(session, objection, photos, media_dir)
    audit.record(session, None, "objection_submitted", "objection", objection.tracking_code,
                 region_id=objection.region_id, actor_name=PUBLIC_ACTOR,
                 details={"entry": entry.public_id, "batch": entry.batch.public_id, "case": entry.case_id,
                          "category": category.value, "real_name": real_name, "photos": len(sub.photos),
                          "deadline": objection.deadline.isoformat(), "status": objection.status.value})
    return Receipt(objection, created=True)


def roster_cases(session: Session, region: Region) -> list[Case]:
    """The households on a community's standing roster (在保), for the report form's list."""
    stmt = select(Case).where(Case.region_id == region.id, Case.stage == Stage.active).order_by(Case.id)
    return list(session.scalars(stmt))


ROSTER_REF_RE = re.compile(r"^h[0-9a-f]{24}$")


def roster_ref(case: Case, secret: str) -> str:
    """The report form's value for a household on the roster: not its case number (the roster and the API never
    publish case numbers, so neither may a form's HTML) nor its row id, but a keyed hash of the case that only
    the server can make and that is resolved against the community's roster alone (:func:`roster_case`)."""
    digest = hmac.new(secret.encode(), f"report-roster:{case.id}".encode(), "sha256").hexdigest()
    return f"h{digest[:24]}"


def roster_case(session: Session, region: Region, ref: str | None, secret: str) -> Case | None:
    """The household on ``region``'s roster whose :func:`roster_ref` is ``ref``; None for any other value (a
    case number, a household off the roster or of another community, anything typed)."""
    ref = (ref or "").strip()
    if not ROSTER_REF_RE.match(ref):
        return None
    return next((c for c in roster_cases(session, region) if hmac.compare_digest(roster_ref(c, secret), ref)), None)


def report_regions(session: Session) -> list[Region]:
    return list(session.scalars(select(Region).order_by(Region.path)))


def find_region(session: Session, code: str | None) -> Region:
    region = session.scalar(select(Region).where(Region.code == (code or "").strip())) if code else None
    if region is None:
        raise NotFound(_l("没有找到这个社区（村），请重新选择。"), field="region")
    return region


def _report_subject(subject: str) -> ReportSubject:
    try:
        return ReportSubject(subject)
    except ValueError:
        raise Invalid(_l("请选择举报的对象。"), field="subject") from None


def check_report(session: Session, sub: Submission, *, subject: str, region_code: str | None,
                 case_number: str | None = None, entry_public_id: str | None = None, about: str | None = None,
                 roster: tuple[str, str] | None = None):
    """Every check of a report, nothing written: one error with all its problems, or what :func:`submit_report`
    stores (the form also asks when its own checks or a photo stop it before the submit). The household is
    ``case_number`` (staff and the demo), or from the public form ``roster``: (the option's value, the key of
    :func:`roster_ref`) — the form never carries a case number."""
    entry = notices.public_entry(session, entry_public_id) if entry_public_id else None  # closed: 410 at once
    with collect() as problems:  # every problem at once, before anything is written
        report_subject = problems.check(_report_subject, subject)
        case = None
        region = None
        if entry is not None:
            region, case = entry.region, entry.case
        else:
            try:
                region = find_region(session, region_code)
            except NotFound as err:
                problems.add("region", err.message)
            if region is not None and report_subject == ReportSubject.recipient and roster and roster[0]:
                case = roster_case(session, region, roster[0], roster[1])
                if case is None:
                    problems.add("case", _l("所选家庭不在该社区的低保名单上，请重新选择。"))
            elif region is not None and report_subject == ReportSubject.recipient and case_number:
                case = session.scalar(select(Case).where(Case.number == case_number.strip()))
                if case is None or case.stage != Stage.active or case.region_id != region.id:
                    problems.add("case", _l("所选家庭不在该社区的低保名单上，请重新选择。"))
                    case = None
        about = _clean_text(about) or None
        if about is not None and len(about) > MAX_ABOUT:
            problems.add("about", ABOUT_TOO_LONG)
        elif case is None and about is None and not problems.has("case"):
            problems.add("about", _l("请写明被举报的工作人员或单位（知道多少写多少）。")
                         if report_subject == ReportSubject.staff else
                         _l("请从名单中选择被举报的家庭，或写明被举报人的姓名、住址。"))
        validated = problems.check(_validate, sub)  # the photos too
    return entry, report_subject, region, case, about, validated


def submit_report(session: Session, sub: Submission, *, subject: str, region_code: str | None,
                  case_number: str | None = None, entry_public_id: str | None = None, about: str | None = None,
                  media_dir: str, working_days: int = REPORT_WORKING_DAYS,
                  roster: tuple[str, str] | None = None) -> Receipt:
    """File a report about a recipient on the roster (or on a notice) or about staff conduct (the household:
    ``case_number`` or ``roster``, as :func:`check_report` takes them)."""
    key = _key(sub)
    existing = _existing(session, Report, key)
    if existing is not None:
        return Receipt(existing, created=False)
    entry, report_subject, region, case, about, validated = check_report(
        session, sub, subject=subject, region_code=region_code, case_number=case_number,
        entry_public_id=entry_public_id, about=about, roster=roster)
    category, description, name, phone, real_name, photos = validated
    now = clock.now()
    report = Report(
        tracking_code=_unique_code(session), subject=report_subject, case_id=case.id if case else None,
        entry_id=entry.id if entry else None, region_id=region.id, about=about, category=category,
        description=description, submitter_name=name, submitter_phone=phone, real_name=real_name,
        status=FeedbackStatus.received, created_at=now,
        deadline=add_working_days(clock.today(), working_days, workdays.calendar(session, region)),
        idempotency_key=key,
    )
    if report_subject == ReportSubject.staff:
        route_staff_report(session, report, region)
    session.add(report)
    session.flush()
    _store_photos(session, report, photos, media_dir)
    audit.record(session, None, "report_submitted", "report", report.tracking_code, region_id=report.region_id,
                 actor_name=PUBLIC_ACTOR,
                 details={"subject": report_subject.value, "case": report.case_id,
                          "entry": entry.public_id if entry else None, "category": category.value,
                          "real_name": real_name, "photos": len(sub.photos),
                          "deadline": report.deadline.isoformat()})
    return Receipt(report, created=True)


def find_by_key(session: Session, kind: str, key: str | None) -> Item | None:
    """After a unique-key clash (two copies of one form at once): the copy that won."""
    return _existing(session, Objection if kind == "objection" else Report, key if key and KEY_RE.match(key) else None)


# --- tracking (public) -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicStatus:
    """Everything the tracking page may show: no description, name, phone, notes or evidence."""

    kind: str
    code: str
    submitted_at: Any
    status: FeedbackStatus
    deadline: date
    outcome: Outcome | None
    public_answer: str | None
    decided_at: Any
    about: str  # the notice title, or the report's subject kind
    real_name: bool
    erased_at: Any = None  # when the contact and photos were erased (dibao.retention)


def lookup(session: Session, code: str | None) -> PublicStatus:
    code = normalise_code(code)
    item: Item | None = None
    if CODE_RE.match(code):
        item = session.scalar(select(Objection).where(Objection.tracking_code == code)) or session.scalar(
            select(Report).where(Report.tracking_code == code))
    if item is None:
        raise NotFound(_l("没有找到这个查询码，请核对后重新输入（查询码由 10 位数字和大写字母组成）。"), field="code")
    if isinstance(item, Objection):
        about = item.entry.batch.title
    else:
        about = str(SUBJECT_LABELS[item.subject])
    return PublicStatus(kind=item.kind, code=item.tracking_code, submitted_at=item.created_at, status=item.status,
                        deadline=item.deadline, outcome=item.outcome,
                        public_answer=item.public_answer if item.status == FeedbackStatus.decided else None,
                        decided_at=item.decided_at, about=about, real_name=item.real_name, erased_at=item.erased_at)


# --- the staff side ----------------------------------------------------------------------------------

MODELS: dict[str, type[Objection] | type[Report]] = {"objection": Objection, "report": Report}


def _scoped(model: type[Objection] | type[Report], user: User) -> Select:
    return select(model).where(model.region_id.in_(scope.region_ids_in_scope(user)))


# --- reports about staff: routed above the people they name ----------------------------------------------

def _named_accounts(session: Session, county: Region, words: str | None) -> list[User]:
    """Active accounts of the county whose name the resident wrote (names of one character match too much)."""
    if not words:
        return []
    stmt = select(User).join(User.region).where(User.active.is_(True), scope.subtree_condition(county))
    return [u for u in session.scalars(stmt) if len(u.display_name) >= 2 and u.display_name in words]


def _common_ancestor(region: Region, other: Region) -> Region:
    while not region.contains(other) and region.parent is not None:
        region = region.parent
    return region


def route_staff_report(session: Session, report: Report, chosen: Region) -> None:
    """A report about staff conduct goes to the level above the office it is about, never to the people named.

    The office is the region the resident chose (a community, a town, the county), widened to take in every
    account the resident named in "被举报的人或单位"; the highest-placed of them is recorded as the account
    reported. The report then belongs to the office's parent: a community's staff → its town, a town's → the
    county, so nobody whose scope is only the office sees it. The county office has no level above it in this
    system: reports about it stay at the county, handled by the county's system admins only (see :func:`is_about`).
    """
    office = chosen
    people = _named_accounts(session, scope.county_of(chosen), report.about)
    for person in people:
        office = _common_ancestor(office, person.region)
    top = min(people, key=lambda u: (u.region.path.count("/"), u.id), default=None)
    report.reported_region_id = office.id
    report.reported_user_id = top.id if top is not None else None
    report.region_id = office.parent_id or office.id


def is_about(user: User, item: Item) -> bool:
    """Whether ``item`` is a report about ``user``'s conduct: the account it names, anyone the resident named in
    their words, or anyone whose scope is only the office reported (at the county office, all but the county's
    system admins). Such a user never sees, is assigned or decides it."""
    if not isinstance(item, Report) or item.subject != ReportSubject.staff:
        return False
    if item.reported_user_id == user.id:
        return True
    if item.about and len(user.display_name) >= 2 and user.display_name in item.about:
        return True
    if item.reported_region_id is not None and item.reported_region_id == user.region_id:
        return not (user.role == Role.admin and user.region.parent_id is None)
    return False


def can_see(user: User, item: Item) -> bool:
    """Whether ``user`` can open ``item`` and work on it: a role that handles objections and reports, the item in the
    user's region subtree, and not a report about the user. The one rule for the inbox, the detail and assignees."""
    return scope.does_casework(user) and scope.can_see(user, item.region) and not is_about(user, item)


def inbox(session: Session, user: User, *, kind: str | None = None, state: str = "open",
          today: date | None = None, q: str = "", category: str | None = None,
          community_id: int | None = None) -> list[Item]:
    """Objections and reports in the user's subtree. ``state``: open | overdue | notify | decided | all; ``q``
    finds a tracking code or words of the description; ``category`` and ``community_id`` narrow the list."""
    today = today or clock.today()
    items: list[Item] = []
    if not scope.does_casework(user):  # see can_see
        return items
    q = (q or "").strip()[:50]
    reason = ReasonCategory(category) if category in ReasonCategory.__members__ else None
    for name, model in MODELS.items():
        if kind and kind != name:
            continue
        stmt = _scoped(model, user)
        if q:
            stmt = stmt.where(or_(model.tracking_code == q.upper(), model.description.contains(q, autoescape=True)))
        if reason is not None:
            stmt = stmt.where(model.category == reason)
        if community_id:
            stmt = stmt.where(model.region_id == community_id)
        if state in ("open", "overdue"):
            stmt = stmt.where(model.status != FeedbackStatus.decided)
        if state == "overdue":
            stmt = stmt.where(model.deadline < today)
        if state == "notify":
            stmt = stmt.where(model.status == FeedbackStatus.decided, model.real_name.is_(True),
                              model.notified_at.is_(None), model.erased_at.is_(None))
        if state == "decided":
            stmt = stmt.where(model.status == FeedbackStatus.decided)
        items.extend(i for i in session.scalars(stmt.limit(500)) if not is_about(user, i))
    if state == "decided":
        items.sort(key=lambda i: i.decided_at, reverse=True)
    else:
        items.sort(key=lambda i: (i.status == FeedbackStatus.decided, i.deadline, i.created_at))
    return items


def counts(session: Session, user: User) -> dict[str, int]:
    today = clock.today()
    return {state: len(inbox(session, user, state=state, today=today)) for state in ("open", "overdue", "notify")}


def get_item(session: Session, user: User, kind: str, item_id: int) -> Item:
    model = MODELS.get(kind)
    if model is None:
        raise NotFound(_l("没有找到这条记录。"))
    item = scope.get(session, user, model, item_id, _l("没有找到这条记录。"))
    if not can_see(user, item):  # e.g. a report about this user's own conduct does not exist for them
        raise NotFound(_l("没有找到这条记录。"))
    return item


def assignees(session: Session, user: User, item: Item) -> list[User]:
    """Active accounts in the user's scope who can open and handle the item (:func:`can_see`): never the staff a
    report is about, nor a supervision group's account, which cannot open the feedback pages at all."""
    stmt = (select(User).join(User.region).where(User.active.is_(True), scope.subtree_condition(user.region))
            .order_by(Region.path, User.display_name))
    return [u for u in session.scalars(stmt) if can_see(u, item)]


def assignee_refusal(session: Session, actor: User, item: Item, assignee_id: int) -> Any:
    """Why ``actor`` cannot give ``item`` to the account ``assignee_id`` (None: they can — it is one of
    :func:`assignees`). Names the role only of an account the actor may see anyway."""
    assignee = db.get_record(session, User, assignee_id)
    if assignee is not None and assignee in assignees(session, actor, item):
        return None
    if assignee is not None and not scope.does_casework(assignee) and scope.can_see(actor, assignee.region):
        return _l("群众监督组的账号不能打开和办理异议、举报，不能作为承办人。请选择能够办理这件的工作人员。")
    return _l("请选择能够办理这件的工作人员。")


def can_decide(user: User, item: Item) -> bool:
    """An objection is answered by the level that posted the notice (or above); a report by a town or county
    (a report about staff: by the level it was routed to, never by the staff it names)."""
    if not can_see(user, item):
        return False
    if isinstance(item, Objection):
        return item.entry.batch.region.path.startswith(user.region.path)
    return user.region.level != Level.community


def _require_open(item: Item) -> None:
    if item.status == FeedbackStatus.decided:
        raise Conflict(_l("这件已经办结，不能再修改。"))


def assign(session: Session, actor: User, item: Item, assignee_id: int | None) -> None:
    _require_open(item)
    refusal = assignee_refusal(session, actor, item, assignee_id) if assignee_id else None
    if refusal is not None:
        raise Invalid(refusal, field="assignee")
    previous = item.assigned_to_id
    item.assigned_to_id = assignee_id or None
    audit.record(session, actor, f"{item.kind}_assigned", item.kind, item.tracking_code, region_id=item.region_id,
                 details={"from": previous, "to": item.assigned_to_id})


def record_check(session: Session, actor: User, item: Item, notes: str) -> None:
    """Add to the (staff-only) record of the check; the item is then being checked."""
    _require_open(item)
    notes = _clean_text(notes)
    if len(notes) < 2:
        raise Invalid(_l("请填写核查情况。"), field="notes")
    if len(notes) > 4000:
        raise Invalid(_l("核查情况最多 4000 个字。"), field="notes")
    now = clock.now()
    line = f"【{clock.to_local(now):%Y-%m-%d %H:%M} {actor.display_name}】{notes}"
    item.check_notes = f"{item.check_notes}\n\n{line}" if item.check_notes else line
    item.status = FeedbackStatus.checking
    item.checked_at = now
    if item.assigned_to_id is None:
        item.assigned_to_id = actor.id
    audit.record(session, actor, f"{item.kind}_check_recorded", item.kind, item.tracking_code,
                 region_id=item.region_id, details={"length": len(notes)})


def _outcome(outcome: str) -> Outcome:
    try:
        return Outcome(outcome)
    except ValueError:
        raise Invalid(_l("请选择核查结论。"), field="outcome") from None


def _require_decider(actor: User, item: Item) -> None:
    if not can_decide(actor, item):
        raise Forbidden(_l("异议由发布公示的一级作出结论，举报由乡镇（街道）或县级作出结论；您可以记录核查情况。"))


def _check_decision(problems: Problems, outcome: str, answer: str) -> Outcome | None:
    """A decision's outcome and its public answer (already cleaned): their problems go to ``problems``."""
    result = problems.check(_outcome, outcome)
    if len(answer) < MIN_ANSWER:
        problems.add("public_answer", _l("请填写向群众公开的答复（至少 %(n)d 个字）。", n=MIN_ANSWER))
    if len(answer) > 4000:
        problems.add("public_answer", _l("答复最多 4000 个字。"))
    return result


_NOTE_HEAD = re.compile(r"【\d{4}-\d{2}-\d{2} \d{2}:\d{2} [^】]*】")


def checked_length(check_notes: str | None, adding: str = "") -> int:
    """How much the record of the check says (with ``adding`` about to be recorded): its characters other than
    white space, without the head of each line (when, and who recorded it)."""
    return sum(len("".join(_NOTE_HEAD.sub("", text).split())) for text in (check_notes or "", adding or ""))


def check_notes_missing(item: Item, adding: str = "") -> bool:
    """An objection cannot be decided (either way) before its check is written down (A 19); a report can."""
    return isinstance(item, Objection) and checked_length(item.check_notes, _clean_text(adding)) < MIN_CHECK_NOTES


def decide(session: Session, actor: User, item: Item, outcome: str, public_answer: str) -> str | None:
    """Decide with a public answer; for an objection, apply the effect on the entry and the case.

    Upheld or partly upheld: the published facts were wrong, so the entry comes off every board at once with
    the public answer as the reason (``notices.withdraw_for_objection``), and the case goes back to
    investigation and must be noticed again (``workflow.objection_upheld``). Not upheld: the hold ends; if the
    notice has already closed, the case moves on as the sweep would have moved it (``notices.release_case``).
    Returns the case's new stage if it moved. An objection needs its check recorded first
    (:func:`record_check`, at least :data:`MIN_CHECK_NOTES` characters), whichever the outcome.
    """
    _require_open(item)
    _require_decider(actor, item)
    answer = _clean_text(public_answer)
    with collect() as problems:
        result = _check_decision(problems, outcome, answer)
        if check_notes_missing(item):
            problems.add("notes", CHECK_NOTES_NEEDED)
    assert result is not None  # (collect raised otherwise)
    now = clock.now()
    item.status = FeedbackStatus.decided
    item.outcome = result
    item.public_answer = answer
    item.decided_by_id = actor.id
    item.decided_at = now
    moved: str | None = None
    if isinstance(item, Objection):
        session.flush()  # the hold ends before the workflow asks is_held
        case = item.case
        if result in (Outcome.upheld, Outcome.partly_upheld):
            notices.withdraw_for_objection(session, actor, case, answer, item.tracking_code)
            if Stage.investigating in workflow.TRANSITIONS[case.stage]:
                workflow.objection_upheld(session, actor, case, item.tracking_code)
                moved = case.stage.value
        elif notices.release_case(session, case, now):
            moved = case.stage.value
    audit.record(session, actor, f"{item.kind}_decided", item.kind, item.tracking_code, region_id=item.region_id,
                 details={"outcome": result.value, "case_stage": moved, "real_name": item.real_name})
    notify.feedback_decided(session, item)  # a real-name submitter's SMS; nothing for an anonymous one
    return moved


def mark_notified(session: Session, actor: User, item: Item, how: str) -> None:
    """Record that a real-name submitter was told the result (A 37), and how."""
    if isinstance(item, Report) and not can_decide(actor, item):
        raise Forbidden(CONTACT_DECIDERS_ONLY)
    if not item.real_name:
        raise Conflict(_l("匿名反映无需告知。"))
    if item.status != FeedbackStatus.decided:
        raise Conflict(_l("办结后才能告知结果。"))
    if item.notified_at is not None:
        raise Conflict(_l("已经记录过告知。"))
    how = _clean_text(how)
    if len(how) < 2:
        raise Invalid(_l("请填写告知方式（如：电话告知本人）。"), field="how")
    item.notified_at = clock.now()
    line = f"【{clock.to_local(item.notified_at):%Y-%m-%d %H:%M} {actor.display_name}】{_l('已告知反映人：')}{how[:500]}"
    item.check_notes = f"{item.check_notes}\n\n{line}" if item.check_notes else line
    audit.record(session, actor, f"{item.kind}_submitter_notified", item.kind, item.tracking_code,
                 region_id=item.region_id, details={"how": how[:500]})


CONTACT_DECIDERS_ONLY = _l("举报人的姓名和电话只有作出结论的一级可以查看，告知结果也由这一级负责。")


def reporter_contact(session: Session, actor: User, report: Report) -> tuple[str, str]:
    """The name and phone of a real-name reporter, for the deciding level only; every look is audited."""
    if not isinstance(report, Report):
        raise NotFound(_l("没有找到这条记录。"))
    if not can_decide(actor, report):
        raise Forbidden(CONTACT_DECIDERS_ONLY)
    if report.erased_at is not None:
        raise Conflict(_l("举报人的联系方式已于 %(day)s 按《个人信息保护法》第四十七条删除。",
                          day=clock.to_local(report.erased_at).date().isoformat()))
    if not report.real_name or not report.submitter_phone:
        raise Conflict(_l("这是匿名举报，没有联系方式。"))
    audit.record(session, actor, "report_contact_viewed", "report", report.tracking_code, region_id=report.region_id)
    return report.submitter_name or "", report.submitter_phone


# --- flooding: one client cannot hold many cases, duplicates are closed together ------------------------------

HOLD_WINDOW = timedelta(days=1)


def check_hold(session: Session, entry: NoticeEntry, client_key: str | None, cap: int | None) -> bool:
    """Whether a new objection from ``client_key`` against ``entry`` holds its case as soon as it is filed.

    An open objection holds its case (``workflow.is_held``), so one client objecting to many entries could stop
    many families' cases. The cap used to refuse the objection past ``cap`` entries a day, but a client is a
    network — a community hall's Wi-Fi, a carrier's NAT — so whoever spent the cap silenced every neighbour on it
    for a day of a 7-day window. Now nothing is refused: past the cap the objection is received, tracked,
    answered and given its deadline like any other, but stored as ``over_cap``, which holds no case
    (``Objection.HOLDING``) until staff record a check (it is then ``checking``, which holds). Both properties
    stay: every resident's objection is received and answered, and one client holds at most ``cap`` entries by
    objections filed in the last day. Another objection to an entry the client already holds adds nothing, so
    it holds as the first one does."""
    if not client_key or not cap:
        return True
    held = session.scalar(
        select(func.count(func.distinct(Objection.entry_id))).where(
            Objection.client_key == client_key, Objection.status.in_(Objection.HOLDING),
            Objection.created_at > clock.now() - HOLD_WINDOW, Objection.entry_id != entry.id))
    return held < cap


def open_objections_on(session: Session, user: User, entry_id: int) -> list[Objection]:
    """The open objections against one entry that the user can see (duplicates are often filed together)."""
    stmt = _scoped(Objection, user).where(Objection.entry_id == entry_id, Objection.status != FeedbackStatus.decided)
    items = list(session.scalars(stmt.order_by(Objection.created_at, Objection.id)))
    if not items:
        raise NotFound(_l("这条公示没有未办结的异议。"))
    return items


def decide_together(session: Session, actor: User, entry_id: int, objection_ids: list[int], outcome: str,
                    public_answer: str, notes: str = "") -> tuple[list[Objection], str | None]:
    """Close several objections against one entry with one decision and one public answer: each is decided
    (and audited) as :func:`decide` would, so the case moves once, when the last hold ends. ``notes``, the check
    that covered them all, is recorded on each (:func:`record_check`); each must then have its check written."""
    open_items = {item.id: item for item in open_objections_on(session, actor, entry_id)}
    chosen = [open_items[i] for i in dict.fromkeys(objection_ids) if i in open_items]
    for item in chosen:
        _require_decider(actor, item)
    with collect() as problems:  # the objections ticked, the outcome, the check and the answer: all at once
        if len(chosen) != len(set(objection_ids)) or not chosen:
            problems.add("objection_ids", _l("请勾选这条公示下仍未办结的异议。"))
        _check_decision(problems, outcome, _clean_text(public_answer))
        if len(_clean_text(notes)) > 4000:
            problems.add("notes", _l("核查情况最多 4000 个字。"))
        elif any(check_notes_missing(item, notes) for item in chosen):
            problems.add("notes", CHECK_NOTES_NEEDED)
    if _clean_text(notes):
        for item in chosen:
            record_check(session, actor, item, notes)
    moved: str | None = None
    for item in chosen:
        moved = decide(session, actor, item, outcome, public_answer) or moved
    return chosen, moved


# --- issue 10 item 11: one form per decision ------------------------------------------------------------------

CONTINUE_CHECKING = "check"  # the one form's choice that records the check (and the assignee) without deciding


class HandlingInvalid(Invalid):
    """Every field's message of the one decision form; ``field``/``message`` name the first."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


@dataclass
class Handling:
    """What the one decision form sends: the outcome (or :data:`CONTINUE_CHECKING`), the public answer, the
    check notes, the assignee (None: keep; 0: nobody) and, for an objection, the duplicates decided with it."""

    outcome: str
    public_answer: str = ""
    notes: str = ""
    assignee_id: int | None = None
    together: Sequence[int] = ()


def handling_errors(session: Session, actor: User, item: Item, h: Handling) -> dict[str, str]:
    """Each field's problem, in Chinese, before anything is changed."""
    errors: dict[str, str] = {}
    deciding = h.outcome in {o.value for o in Outcome}
    if not deciding and h.outcome != CONTINUE_CHECKING:
        errors["outcome"] = str(_l("请选择办理结果：继续核查，或作出核查结论。"))
    changes_assignee = h.assignee_id is not None and (h.assignee_id or None) != item.assigned_to_id
    if changes_assignee and h.assignee_id:
        refusal = assignee_refusal(session, actor, item, h.assignee_id)
        if refusal is not None:
            errors["assignee"] = str(refusal)
    notes = _clean_text(h.notes)
    if len(notes) > 4000:
        errors["notes"] = str(_l("核查情况最多 4000 个字。"))
    elif h.outcome == CONTINUE_CHECKING and len(notes) < 2 and not changes_assignee:
        errors["notes"] = str(_l("选择“继续核查”时，请填写核查情况（或更换承办人）。"))
    elif notes and len(notes) < 2:
        errors["notes"] = str(_l("核查情况太短，请写清楚核查了什么。"))
    if deciding:
        answer = _clean_text(h.public_answer)
        if len(answer) < MIN_ANSWER:
            errors["public_answer"] = str(_l("作出结论时，请填写向群众公开的答复（至少 %(n)d 个字）。", n=MIN_ANSWER))
        elif len(answer) > 4000:
            errors["public_answer"] = str(_l("答复最多 4000 个字。"))
    if h.together:
        if not deciding:
            errors["together"] = str(_l("一并办结重复的异议时，请选择核查结论。"))
        elif not isinstance(item, Objection):
            errors["together"] = str(_l("只有同一条公示的异议可以一并办结。"))
        else:
            others = {o.id for o in open_objections_on(session, actor, item.entry_id)} - {item.id}
            if not set(h.together) <= others:
                errors["together"] = str(_l("请勾选这条公示下仍未办结的异议。"))
    if deciding and "notes" not in errors and "together" not in errors:
        decided = [item]  # the notes typed here are recorded on each objection decided with it
        if h.together:
            decided += [o for o in open_objections_on(session, actor, item.entry_id) if o.id in set(h.together)]
        if any(check_notes_missing(one, notes) for one in decided):
            errors["notes"] = str(CHECK_NOTES_NEEDED)
    return errors


def handle(session: Session, actor: User, item: Item, h: Handling) -> tuple[list[Item], str | None]:
    """The one decision form: change the assignee, add the check notes, and — unless the choice is to keep
    checking — decide with the public answer (duplicates together), by the rules of :func:`assign`,
    :func:`record_check`, :func:`decide` and :func:`decide_together`. Returns the items decided and the case's
    new stage if it moved. Nothing is changed when it raises (every field's message in ``HandlingInvalid``)."""
    _require_open(item)
    deciding = h.outcome in {o.value for o in Outcome}
    if deciding and not can_decide(actor, item):
        raise Forbidden(_l("异议由发布公示的一级作出结论，举报由乡镇（街道）或县级作出结论；您可以记录核查情况。"))
    errors = handling_errors(session, actor, item, h)
    if errors:
        raise HandlingInvalid(errors)
    if h.assignee_id is not None and (h.assignee_id or None) != item.assigned_to_id:
        assign(session, actor, item, h.assignee_id or None)
    if h.together:  # (deciding: checked above) the check is recorded on each objection decided together
        return decide_together(session, actor, item.entry_id, [item.id, *h.together], h.outcome, h.public_answer,
                               h.notes)
    if _clean_text(h.notes):
        record_check(session, actor, item, h.notes)
    if not deciding:
        return [], None
    return [item], decide(session, actor, item, h.outcome, h.public_answer)
