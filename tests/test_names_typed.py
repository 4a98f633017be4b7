"""Names typed at home visits and meetings are cleaned as every person's name is where it enters
(dibao.text.normalise_name) and counted once: 张三, 张\\u200b三 and 张　三 are one investigator, so one person typed
twice no longer meets "a home visit needs ≥ 2 investigators". A line with no name left after cleaning, or a name
too long for its column, is refused beside its field instead of kept or cut short. Agencies are organisations:
cleaned as a line (dibao.workflow.organisation), their full-width brackets kept."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from dibao import assets, clock, panel, workflow
from dibao.errors import Invalid
from dibao.models import Stage
from dibao.models.household import PanelMember, PanelRole, Verification
from dibao.models.records import HomeVisit, ReviewMeeting, TownMeeting
from dibao.workflow import Neighbour
from tests.case_helpers import community_review, register, standard, to_stage, town_decision, user, visit
from tests.conftest import csrf_token
from tests.test_all_errors import count, field_error


@pytest.fixture
def case(session, world):
    standard(session, world)
    made = register(session, user(session, world, "staff_a1"))
    session.commit()
    return made


def problems(err) -> list[tuple[str | None, str]]:
    return [(field, str(message)) for field, message in err.field_problems]


# --- the home visit ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("second", ["张\u200b三", "张　三", "张\ufeff三", " 张三 "])
def test_one_investigator_typed_twice_is_not_two(app, session, world, case, second):
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        visit(session, user(session, world, "staff_a1"), case, investigators=("张三", second))
    assert problems(caught.value) == [
        ("investigators", "调查人员中有重复的姓名（张三），入户调查至少需要 2 名不同的调查人员。")]
    session.rollback()
    assert count(session, HomeVisit) == 0


def test_typed_names_are_stored_clean(app, session, world, case):
    with app.test_request_context():
        done = workflow.record_home_visit(
            session, user(session, world, "staff_a1"), case, visited_on=clock.today(), housing="两居室旧房",
            inquiry="户主打零工", family_signed=True, investigators=["张　三", "李\u200b四", "张三"],
            neighbours=[Neighbour("王\u200b五", "对门\u3000 3栋201", "属实"), Neighbour("赵 六", "", "属实"),
                        Neighbour("ｓｕｎ  ｑｉ", "楼下", "属实")])
        session.commit()
    assert [i.name for i in done.investigators] == ["张三", "李四"]
    assert [(n.name, n.relation) for n in done.neighbours] == [("王五", "对门 3栋201"), ("赵六", ""),
                                                               ("sun qi", "楼下")]


def test_a_name_too_long_or_with_nothing_visible_is_refused_not_cut(app, session, world, case):
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        visit(session, user(session, world, "staff_a1"), case,
              investigators=("张三", "李四", "王" * 51, "\u200b\u200d", "·"))
    assert problems(caught.value) == [
        ("investigators", f"“{'王' * 12}…”超过 50 个字：请每行只填一个名字。"),
        ("investigators", "有一行只有看不见的字符或符号，没有姓名，请删去或重新填写。"),
        ("investigators", "有一行只有看不见的字符或符号，没有姓名，请删去或重新填写。")]
    session.rollback()
    assert count(session, HomeVisit) == 0


def test_one_neighbour_typed_twice_is_refused_beside_its_row(app, session, world, case):
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        workflow.record_home_visit(
            session, user(session, world, "staff_a1"), case, visited_on=clock.today(), housing="两居室旧房",
            inquiry="户主打零工", family_signed=True, investigators=["张三", "李四"],
            neighbours=[Neighbour("王五", "对门", "属实"), Neighbour("王\u200b五", "对门", "属实"),
                        Neighbour("赵六", "楼下", "属实")])
    assert [field for field, _m in problems(caught.value)] == ["neighbours-1-name", "neighbours"]
    assert "走访对象“王五”填了两次" in problems(caught.value)[0][1]
    assert "目前只有 2 户" in problems(caught.value)[1][1]
    session.rollback()
    assert count(session, HomeVisit) == 0


def _visit_form(token, investigators, names):
    data = {"csrf_token": token, "visited_on": clock.today().isoformat(), "investigators": investigators,
            "housing": "两居室旧房，无汽车", "inquiry": "户主患病无业", "notes": "", "family_signed": "y"}
    for i, name in enumerate(names):
        data |= {f"neighbours-{i}-name": name, f"neighbours-{i}-relation": "对门",
                 f"neighbours-{i}-statement": "情况属实"}
    return data


def test_the_visit_form_shows_the_repeated_names_beside_their_fields(client, auth, session, case):
    auth.login("staff_a1")
    url = f"/admin/cases/{case.id}/visit"
    res = client.post(url, data=_visit_form(csrf_token(client, url), "甲一专干\n甲一　专干",
                                            ["邻居甲", "邻居乙", "邻居　甲"]))
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "2 名不同的调查人员" in field_error(html, "investigators")
    assert "走访对象“邻居甲”填了两次" in field_error(html, "neighbours-2-name")
    assert count(session, HomeVisit) == 0
    res = client.post(url, data=_visit_form(csrf_token(client, url), "甲一专干\n王　调查",
                                            ["邻居甲", "邻居乙", "邻居丙"]))
    assert res.status_code == 302
    session.rollback()
    stored = session.scalars(select(HomeVisit)).one()
    assert [i.name for i in stored.investigators] == ["甲一专干", "王调查"]


# --- meetings -----------------------------------------------------------------------------------------------

def test_a_review_panel_of_three_with_one_typed_twice_is_two(app, session, world, case):
    staff = user(session, world, "staff_a1")
    to_stage(session, world, case, Stage.community_review)
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        community_review(session, staff, case, panel=["评一", "评\u200b一", "评二"], attendees=["刘\u2800", "x" * 51],
                         votes_for=2)
    assert [field for field, _m in problems(caught.value)] == ["attendees", "panel"]
    session.rollback()
    assert count(session, ReviewMeeting) == 0


def test_review_meeting_names_are_stored_clean(app, session, world, case):
    to_stage(session, world, case, Stage.community_review)
    with app.test_request_context():
        community_review(session, user(session, world, "staff_a1"), case,
                         panel=["评　一", "评二", "评三\u200e"], attendees=["刘\u3000干事", "刘干事"], votes_for=3)
        session.commit()
    meeting = session.scalars(select(ReviewMeeting)).one()
    assert meeting.panel == ["评一", "评二", "评三"] and meeting.attendees == ["刘干事"]


def test_town_meeting_participants_are_cleaned_and_counted_once(app, session, world, case):
    town = user(session, world, "town_a")
    to_stage(session, world, case, Stage.town_decision)
    session.commit()
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        town_decision(session, town, case, title="", participants=["书记", "书\u200b记", "镇长"])
    assert [field for field, _m in problems(caught.value)] == ["title", "participants"]
    session.rollback()
    assert count(session, TownMeeting) == 0
    with app.test_request_context():
        town_decision(session, town, case, participants=["书　记", "镇长", "委员\u00ad"])
        session.commit()
    assert session.scalars(select(TownMeeting)).one().participants == "书记\n镇长\n委员"


def test_the_panels_other_attendees_are_cleaned_once(app, session, world):
    staff = user(session, world, "staff_a1")
    community = staff.region
    with app.test_request_context():
        for name in ("王人大", "刘政协", "陈群众"):
            panel.add_member(session, staff, community, name=name, role=PanelRole.resident,
                             term_start=date(2026, 1, 1), term_end=date(2028, 12, 31))
        ids = list(session.scalars(select(PanelMember.id).order_by(PanelMember.id)))
        with pytest.raises(Invalid) as caught:
            panel.convene(session, staff, community, held_on=clock.today(), location="", member_ids=ids,
                          attendee_ids=[], other_attendees=["\u200b", "张三"])
        assert [field for field, _m in problems(caught.value)] == ["other_attendees"]
        meeting = panel.convene(session, staff, community, held_on=clock.today(), location="", member_ids=ids,
                                attendee_ids=[], other_attendees=["张　三", "张\u200b三", "王人\u200b大"])
    assert meeting.attendees == ["张三"]  # (王人大 sits on the panel: not an attendee as well)


def test_agencies_are_cleaned_as_organisations(app, session, world, case):
    staff = user(session, world, "staff_a1")
    with app.test_request_context():
        made = assets.request_verification(session, staff, case, requested_on=clock.today(),
                                           authorised_on=clock.today(),
                                           agencies=["公安（车辆）", "公安（车辆）\u200b", "县　住建  局", "税务"])
        assert made.agency_list == ["公安（车辆）", "县 住建 局", "税务"]
        with pytest.raises(Invalid) as caught:
            assets.request_verification(session, staff, case, requested_on=clock.today(),
                                        authorised_on=clock.today(), agencies=["\u200b"])
        assert [field for field, _m in problems(caught.value)] == ["other_agencies"]
    session.rollback()
    assert count(session, Verification) == 0


def test_refused_names_are_shown_beside_the_panel_meeting_field(client, auth, session, world):
    staff = user(session, world, "staff_a1")
    with client.application.test_request_context():
        for name in ("王人大", "刘政协", "陈群众"):
            panel.add_member(session, staff, staff.region, name=name, role=PanelRole.resident,
                             term_start=date(2026, 1, 1), term_end=date(2028, 12, 31))
        session.commit()
    ids = [str(i) for i in session.scalars(select(PanelMember.id).order_by(PanelMember.id))]
    auth.login("staff_a1")
    res = client.post(f"/admin/panels/{world.regions['comm_a1']}/meetings", data={
        "csrf_token": csrf_token(client, "/admin/"), "held_on": clock.today().isoformat(), "location": "会议室",
        "members": ids, "other_attendees": "张三、" + "李" * 51})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert re.search("超过 50 个字", field_error(html, "other_attendees"))
    assert count(session, ReviewMeeting) == 0
