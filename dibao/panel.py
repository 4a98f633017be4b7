"""The standing review panel (民主评议小组, issue 10 item 9) of each community.

Members serve a term in a role (人大代表, 政协委员, 群众代表, 低保对象代表, 低保专干). A review meeting picks its panel
members and its attendees from the members serving on its date (the meeting is the same ``ReviewMeeting`` the
community review records its results in). Questions raised by attendees about one household (质询) and the
panel's answers are recorded per household, in its archive.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import audit, clock, db, scope, workflow
from dibao.errors import Forbidden, Invalid, NotFound, chosen, collect
from dibao.household import Rule, require
from dibao.models import Case, Level, Region, Role, Stage, User
from dibao.models.household import PanelMember, PanelQuestion, PanelRole
from dibao.models.records import MeetingPerson, PersonKind, ReviewMeeting
from dibao.text import normalise_name

ROLE_LABELS = {PanelRole.npc_deputy: _l("人大代表"), PanelRole.cppcc_member: _l("政协委员"),
               PanelRole.resident: _l("群众代表"), PanelRole.recipient: _l("低保对象代表"),
               PanelRole.staff: _l("低保专干")}
MIN_PANEL = 3
MANAGERS = {Role.community_staff, Role.town_reviewer}
QUESTION = Rule(_l("记录质询和答复"), {Role.community_staff: frozenset(Stage)})


def _require_manager(actor: User, region: Region) -> None:
    scope.require_in_scope(actor, region)
    if actor.role not in MANAGERS:
        raise Forbidden(_l("民主评议小组由社区（村）低保专干或乡镇（街道）工作人员管理。"))
    if region.level != Level.community:
        raise Invalid(_l("民主评议小组按社区（村）设立，请选择社区（村）。"), field="region_id")


def get_community(session: Session, actor: User, region_id: int) -> Region:
    region = scope.get_region(session, actor, region_id)
    if region.level != Level.community:
        raise NotFound(_l("没有找到该社区。"))
    return region


def members(session: Session, region: Region, on: date | None = None) -> list[PanelMember]:
    """The community's panel; with ``on``, only those serving that day."""
    stmt = select(PanelMember).where(PanelMember.region_id == region.id)
    if on is not None:
        stmt = stmt.where(PanelMember.term_start <= on, PanelMember.term_end >= on)
    return list(session.scalars(stmt.order_by(PanelMember.term_end.desc(), PanelMember.id)))


def add_member(session: Session, actor: User, region: Region, *, name: str, role: PanelRole | str,
               term_start: date | None, term_end: date | None, note: str = "") -> PanelMember:
    _require_manager(actor, region)
    name = normalise_name(name)
    role = chosen(PanelRole, role)
    with collect() as problems:  # every problem at once
        if not name or len(name) > 50:
            problems.add("name", _l("请填写姓名（50 字以内）。"))
        if role is None:
            problems.add("role", _l("请选择身份。"))
        if term_start is None or term_end is None or term_end < term_start:
            problems.add("term_end", _l("请填写任期，结束日期不能早于开始日期。"))
        elif name and any(m.name == name and m.term_end >= term_start and m.term_start <= term_end
                          for m in members(session, region)):
            problems.add("name", _l("%(name)s 在这段任期内已经是本社区评议小组成员。", name=name))
    member = PanelMember(region_id=region.id, name=name, role=role, term_start=term_start, term_end=term_end,
                         note=(note or "").strip()[:200], created_by_id=actor.id, created_by_name=actor.display_name,
                         created_at=clock.now())
    session.add(member)
    session.flush()
    audit.record(session, actor, "panel_member_added", "region", region.id, region_id=region.id,
                 details={"member": member.id, "name": name, "role": role.value,
                          "term": [term_start.isoformat(), term_end.isoformat()]})
    return member


def end_term(session: Session, actor: User, member_id: int) -> PanelMember:
    """A member leaves the panel today (the record of their term stays)."""
    member = scope.get(session, actor, PanelMember, member_id, _l("没有找到该成员。"))
    _require_manager(actor, member.region)
    today = clock.today()
    if member.term_end < today:
        return member
    member.term_end = max(today, member.term_start)
    session.flush()
    audit.record(session, actor, "panel_member_ended", "region", member.region_id, region_id=member.region_id,
                 details={"member": member.id, "name": member.name, "term_end": member.term_end.isoformat()})
    return member


def convene(session: Session, actor: User, region: Region, *, held_on: date | None, location: str,
            member_ids: list[int], attendee_ids: list[int], other_attendees: list[str]) -> ReviewMeeting:
    """A review meeting whose panel and attendees are picked from the members serving on its date; the community
    review then records each household's result in it (choose it on the review form)."""
    _require_manager(actor, region)
    with collect() as problems:  # every problem at once (who served is known only for a valid date)
        if held_on is None or held_on > clock.today():
            problems.add("held_on", _l("请填写评议日期。") if held_on is None else _l("评议日期不能晚于今天。"))
            if len(set(member_ids)) < MIN_PANEL:
                problems.add("members", _l("参加评议的小组成员至少 %(n)d 人。", n=MIN_PANEL))
        else:
            serving = {m.id: m for m in members(session, region, on=held_on)}
            picked = [serving[i] for i in dict.fromkeys(member_ids) if i in serving]
            if len(picked) != len(set(member_ids)):
                problems.add("members", _l("只能从评议日期在任的本社区评议小组成员中选择。"))
            elif len(picked) < MIN_PANEL:
                problems.add("members", _l("参加评议的小组成员至少 %(n)d 人。", n=MIN_PANEL))
            listening = [serving[i] for i in dict.fromkeys(attendee_ids) if i in serving]
            if len(listening) != len(set(attendee_ids)):
                problems.add("attendees", _l("只能从评议日期在任的本社区评议小组成员中选择。"))
            elif {m.id for m in listening} & {m.id for m in picked}:
                problems.add("attendees", _l("同一人不能既参加评议又列席。"))
        others = problems.check(workflow._names, other_attendees, "other_attendees")
    meeting = ReviewMeeting(region_id=region.id, held_on=held_on, location=(location or "").strip()[:200],
                            recorded_by_id=actor.id, recorded_by_name=actor.display_name, created_at=clock.now())
    meeting.people = [MeetingPerson(position=i, kind=PersonKind.panel, name=m.name) for i, m in enumerate(picked)]
    names = [m.name for m in listening] + [n for n in others if n not in {m.name for m in picked}]
    meeting.people += [MeetingPerson(position=100 + i, kind=PersonKind.attendee, name=n)
                       for i, n in enumerate(dict.fromkeys(names))]
    session.add(meeting)
    session.flush()
    audit.record(session, actor, "review_meeting_convened", "review_meeting", meeting.id, region_id=region.id,
                 details={"held_on": held_on.isoformat(), "panel": [m.id for m in picked],
                          "attendees": [m.id for m in listening], "others": others})
    return meeting


def meetings(session: Session, region: Region, limit: int = 20) -> list[ReviewMeeting]:
    return list(session.scalars(select(ReviewMeeting).where(ReviewMeeting.region_id == region.id)
                                .order_by(ReviewMeeting.held_on.desc(), ReviewMeeting.id.desc()).limit(limit)))


def add_question(session: Session, actor: User, case: Case, *, meeting_id: int, asked_by: str, question: str,
                 answer: str, answered_by: str) -> PanelQuestion:
    """质询: an attendee of the meeting asked about this household; the panel answered."""
    require(actor, case, QUESTION)
    meeting = db.get_record(session, ReviewMeeting, meeting_id)
    if meeting is not None and meeting.region_id != case.region_id:
        meeting = None  # (another community's: no choice of the form's list)
    asked_by = normalise_name(asked_by)  # as the meeting's names were stored (张　三 is 张三)
    question = (question or "").strip()
    answer = (answer or "").strip()
    answered_by = normalise_name(answered_by)
    with collect() as problems:  # every problem at once
        if meeting is None:
            problems.add("meeting_id", _l("请选择本社区的评议会议。"))
        elif asked_by not in meeting.attendees and asked_by not in meeting.panel:
            problems.add("asked_by", _l("质询人须是这次评议会议的列席人员或评议小组成员（%(names)s）。",
                                        names="、".join(meeting.attendees + meeting.panel)))
        if len(question) < 4:
            problems.add("question", _l("请填写质询的问题（至少 4 个字）。"))
        if len(answer) < 2 or not answered_by:
            problems.add("answer", _l("请填写答复和答复人。"))
        elif len(answered_by) > workflow.MAX_PERSON_NAME:
            problems.add("answered_by", _l("答复人最多 %(n)d 个字。", n=workflow.MAX_PERSON_NAME))
    record = PanelQuestion(meeting_id=meeting.id, case_id=case.id, asked_by=asked_by, question=question[:4000],
                           answer=answer[:4000], answered_by=answered_by, recorded_by_id=actor.id,
                           recorded_by_name=actor.display_name, created_at=clock.now())
    session.add(record)
    session.flush()
    audit.record(session, actor, "panel_question_recorded", "case", case.id, region_id=case.region_id,
                 details={"question": record.id, "meeting": meeting.id, "asked_by": asked_by})
    return record


def questions(session: Session, case: Case) -> list[PanelQuestion]:
    return list(session.scalars(select(PanelQuestion).where(PanelQuestion.case_id == case.id)
                                .order_by(PanelQuestion.id)))
