"""Issue 10 item 9: the standing review panel (民主评议小组) of each community — members with role and term, a
meeting that picks its members and attendees from it, questions (质询) by attendees and answers per household."""

from datetime import date

import pytest

from dibao import panel, workflow
from dibao.errors import Forbidden, Invalid, NotFound
from dibao.models import Decision, Stage
from dibao.models.household import PanelRole
from tests.case_helpers import region, register, standard, to_stage, user
from tests.conftest import csrf_token

ROLES = [("王人大", PanelRole.npc_deputy), ("刘政协", PanelRole.cppcc_member), ("陈群众", PanelRole.resident),
         ("赵低保", PanelRole.recipient), ("甲一专干", PanelRole.staff), ("孙群众", PanelRole.resident)]


@pytest.fixture
def w(session, world):
    standard(session, world)
    return world


def _panel(session, world, term_end=date(2028, 12, 31)):
    staff = user(session, world, "staff_a1")
    community = region(session, world, "comm_a1")
    return [panel.add_member(session, staff, community, name=n, role=r, term_start=date(2026, 1, 1),
                             term_end=term_end).id for n, r in ROLES]


def test_membership_by_community_and_term(session, w):
    ids = _panel(session, w)
    community = region(session, w, "comm_a1")
    assert [m.name for m in panel.members(session, community, on=date(2026, 3, 18))][:2] == ["王人大", "刘政协"]
    assert panel.members(session, community, on=date(2029, 1, 1)) == []  # the term is over
    assert panel.members(session, region(session, w, "comm_a2")) == []
    with pytest.raises(Invalid, match="已经是"):
        panel.add_member(session, user(session, w, "staff_a1"), community, name="王人大", role=PanelRole.resident,
                         term_start=date(2027, 1, 1), term_end=date(2027, 12, 31))
    with pytest.raises(Invalid):
        panel.add_member(session, user(session, w, "staff_a1"), community, name="新人", role=PanelRole.resident,
                         term_start=date(2027, 1, 1), term_end=date(2026, 12, 31))
    with pytest.raises(NotFound):  # another community's panel does not exist for this staff member
        panel.add_member(session, user(session, w, "staff_a2"), community, name="新人", role=PanelRole.resident,
                         term_start=date(2026, 1, 1), term_end=date(2026, 12, 31))
    with pytest.raises(Forbidden):
        panel.add_member(session, user(session, w, "county"), community, name="新人", role=PanelRole.resident,
                         term_start=date(2026, 1, 1), term_end=date(2026, 12, 31))
    ended = panel.end_term(session, user(session, w, "staff_a1"), ids[5])
    assert ended.term_end == date(2026, 3, 18) and not ended.serves_on(date(2026, 3, 19))


def test_a_meeting_picks_members_and_attendees_from_the_panel(session, w):
    ids = _panel(session, w)
    staff = user(session, w, "staff_a1")
    community = region(session, w, "comm_a1")
    meeting = panel.convene(session, staff, community, held_on=date(2026, 3, 18), location="社区会议室",
                            member_ids=ids[2:5], attendee_ids=ids[:2], other_attendees=["镇民政办 刘干事"])
    assert meeting.panel == ["陈群众", "赵低保", "甲一专干"]
    assert meeting.attendees == ["王人大", "刘政协", "镇民政办刘干事"]  # a typed name is cleaned (no inner space)
    with pytest.raises(Invalid, match="至少 3 人"):
        panel.convene(session, staff, community, held_on=date(2026, 3, 18), location="", member_ids=ids[:2],
                      attendee_ids=[], other_attendees=[])
    with pytest.raises(Invalid, match="既参加评议又列席"):
        panel.convene(session, staff, community, held_on=date(2026, 3, 18), location="", member_ids=ids[:3],
                      attendee_ids=ids[:1], other_attendees=[])
    other = panel.add_member(session, user(session, w, "staff_a2"), region(session, w, "comm_a2"), name="外社区",
                             role=PanelRole.resident, term_start=date(2026, 1, 1), term_end=date(2026, 12, 31))
    with pytest.raises(Invalid, match="在任的本社区"):
        panel.convene(session, staff, community, held_on=date(2026, 3, 18), location="",
                      member_ids=ids[:2] + [other.id], attendee_ids=[], other_attendees=[])
    with pytest.raises(Invalid, match="在任的本社区"):  # not serving on that date
        panel.convene(session, staff, community, held_on=date(2025, 12, 1), location="", member_ids=ids[:3],
                      attendee_ids=[], other_attendees=[])
    # the community review records its result in the meeting convened from the panel
    case = register(session, staff)
    to_stage(session, w, case, Stage.community_review)
    workflow.record_community_review(session, staff, case, decision=Decision.approve, opinion="同意上报。",
                                     votes_for=3, votes_against=0, votes_abstain=0, meeting_id=meeting.id,
                                     held_on=None, location="", panel=[], attendees=[], levels=())
    assert [r.case_id for r in meeting.results] == [case.id]


def test_questions_by_attendees_and_answers_per_household(client, auth, session, w):
    ids = _panel(session, w)
    staff = user(session, w, "staff_a1")
    meeting = panel.convene(session, staff, region(session, w, "comm_a1"), held_on=date(2026, 3, 18), location="",
                            member_ids=ids[2:5], attendee_ids=ids[:1], other_attendees=[])
    case = register(session, staff)
    with pytest.raises(Invalid, match="列席人员"):
        panel.add_question(session, staff, case, meeting_id=meeting.id, asked_by="路人甲", question="有没有车？",
                           answer="没有。", answered_by="甲一专干")
    q = panel.add_question(session, staff, case, meeting_id=meeting.id, asked_by="王人大",
                           question="户主儿子在外打工，收入是否已计入？", answer="已按每月 600 元计入，有务工证明。",
                           answered_by="甲一专干")
    assert panel.questions(session, case) == [q]
    with pytest.raises(Forbidden):
        panel.add_question(session, user(session, w, "town_a"), case, meeting_id=meeting.id, asked_by="王人大",
                           question="问题问题", answer="答复", answered_by="专干")
    session.commit()
    auth.login("staff_a1")
    page = client.get(f"/admin/cases/{case.id}/questions").get_data(as_text=True)
    assert "王人大" in page and "收入是否已计入" in page and "已按每月 600 元计入" in page
    printed = client.get(f"/admin/cases/{case.id}/archive/print").get_data(as_text=True)
    assert "收入是否已计入" in printed


def test_panel_pages(client, auth, session, w):
    _panel(session, w)
    session.commit()
    auth.login("staff_a1")
    listing = client.get("/admin/panels/").get_data(as_text=True)
    assert "甲一社区" in listing and "甲二社区" not in listing
    page = client.get(f"/admin/panels/{w.regions['comm_a1']}").get_data(as_text=True)
    assert "王人大" in page and "人大代表" in page and "低保对象代表" in page
    token = csrf_token(client, "/admin/")
    res = client.post(f"/admin/panels/{w.regions['comm_a1']}/meetings", data={
        "csrf_token": token, "held_on": "2026-03-18", "location": "会议室", "members": ["1", "2"]})
    assert res.status_code == 400 and "至少 3 人" in res.get_data(as_text=True)
    res = client.post(f"/admin/panels/{w.regions['comm_a1']}/meetings", data={
        "csrf_token": token, "held_on": "2026-03-18", "location": "会议室", "members": ["1", "2", "3"],
        "attendees": ["4"], "other_attendees": "镇民政办 刘干事"})
    assert res.status_code == 302
    assert "镇民政办刘干事" in client.get(f"/admin/panels/{w.regions['comm_a1']}").get_data(as_text=True)
    assert client.get(f"/admin/panels/{w.regions['comm_b1']}").status_code == 404
