"""Issue 10 item 11: one 乡镇党委会议 decides several households in one sitting — one meeting record (title, date,
participants), per household its decision and opinion, all or nothing; town reviewers only, within their scope."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dibao import reviews, workflow
from dibao.clock import today
from dibao.errors import Invalid
from dibao.models import AuditEvent, Case, Decision, Opinion, Stage
from dibao.models.records import TownMeeting, TownMeetingResult
from tests.case_helpers import register, standard, to_stage, town_decision, user
from tests.conftest import csrf_token

USERS = ["staff_a1", "staff_a2", "staff_b1", "town_a", "town_b", "county", "admin"]


def _waiting(session, world, n=2):
    standard(session, world)
    staff = user(session, world, "staff_a1")
    return [to_stage(session, world, register(session, staff), Stage.town_decision) for _ in range(n)]


def _counts(session):
    return tuple(session.scalar(select(func.count()).select_from(m))
                 for m in (TownMeeting, TownMeetingResult, Opinion, AuditEvent))


def test_one_town_meeting_decides_several_households(session, world, clock):
    first, second = _waiting(session, world)
    town = user(session, world, "town_a")
    done = reviews.town_sitting(session, town, held_on=today(), title="镇党委会议 2026年第4次",
                                participants=["书记", "镇长", "委员"], levels=(), results=[
                                    reviews.TownSittingResult(first.id, "approve", "经研究，同意。"),
                                    reviews.TownSittingResult(second.id, "reject", "家庭收入超过标准，不同意。")])
    assert done == [first.id, second.id]
    meetings = session.scalars(select(TownMeeting)).all()
    sitting = [m for m in meetings if m.title == "镇党委会议 2026年第4次"]
    assert len(sitting) == 1 and sitting[0].participant_list == ["书记", "镇长", "委员"]
    assert sitting[0].region_id == world.regions["town_a"]
    assert {(r.case_id, r.decision) for r in sitting[0].results} == {(first.id, Decision.approve),
                                                                     (second.id, Decision.reject)}
    assert first.stage == Stage.county_approval and second.stage == Stage.rejected


def test_town_meeting_is_all_or_nothing_and_names_the_household(session, world, clock):
    first, second = _waiting(session, world)
    session.commit()
    before = _counts(session)
    town = user(session, world, "town_a")
    with pytest.raises(Invalid) as err:
        reviews.town_sitting(session, town, held_on=today(), title="镇党委会议", participants=["甲", "乙", "丙"],
                             results=[reviews.TownSittingResult(first.id, "approve", "经研究，同意。"),
                                      reviews.TownSittingResult(second.id, "reject", "不")])
    assert second.head_name in err.value.message and second.number in err.value.message
    session.rollback()
    assert _counts(session) == before
    assert {session.get(Case, c.id).stage for c in (first, second)} == {Stage.town_decision}
    for bad, field in ((dict(title=" "), "title"), (dict(participants=["甲", "乙"]), "participants"),
                       (dict(held_on=None), "held_on")):
        args = dict(held_on=today(), title="镇党委会议", participants=["甲", "乙", "丙"]) | bad
        with pytest.raises(Invalid) as err:
            reviews.town_sitting(session, town, results=[reviews.TownSittingResult(first.id, "approve", "同意。")],
                                 **args)
        assert err.value.field == field
        session.rollback()
    with pytest.raises(Invalid):
        reviews.town_sitting(session, town, held_on=today(), title="镇党委会议", participants=["甲", "乙", "丙"],
                             results=[])
    assert _counts(session) == before


def test_single_decision_still_records_its_own_meeting_and_a_meeting_stays_in_its_town(session, world, clock):
    first, second = _waiting(session, world)
    town = user(session, world, "town_a")
    town_decision(session, town, first, levels=())
    other_town = workflow.new_town_meeting(session, user(session, world, "town_b"), world.regions["town_b"],
                                           held_on=today(), title="乙街道党工委会议", participants=["甲", "乙", "丙"])
    with pytest.raises(Invalid):
        workflow.record_town_decision(session, town, second, decision=Decision.approve, opinion="同意。",
                                      meeting=other_town)
    assert second.stage == Stage.town_decision
    own = session.scalar(select(TownMeetingResult).where(TownMeetingResult.case_id == first.id)).meeting
    assert own.region_id == world.regions["town_a"] and own.id != other_town.id


def _form(token, cases, **overrides):
    data = {"csrf_token": token, "held_on": today().isoformat(), "title": "镇党委会议 2026年第4次",
            "participants": "书记\n镇长\n委员", "include": [str(c.id) for c in cases]}
    for c in cases:
        data.update({f"decision-{c.id}": "approve", f"opinion-{c.id}": "经镇党委会议研究，同意。"})
    data.update(overrides)
    return data


def _snapshot(session, ids):
    session.rollback()
    session.expire_all()
    return _counts(session), tuple(session.get(Case, i).stage for i in ids)


@pytest.mark.parametrize("who", USERS)
def test_town_sitting_matrix(client, auth, session, world, clock, who):
    cases = _waiting(session, world)
    session.commit()
    ids = [c.id for c in cases]
    auth.login(who)
    token = csrf_token(client, "/admin/")
    before = _snapshot(session, ids)
    res = client.post("/admin/sittings/town", data=_form(token, cases))
    after = _snapshot(session, ids)
    if who == "town_a":
        assert res.status_code == 302, res.get_data(as_text=True)[:1500]
        assert after[0][:2] == (before[0][0] + 1, before[0][1] + 2)
        assert all(stage != Stage.town_decision for stage in after[1])
    else:
        expected = 403 if who in ("staff_a1", "county", "admin") else 404
        assert res.status_code == expected, (who, res.status_code)
        assert after == before, "a refused request changes nothing"
    page = client.get("/admin/sittings/town")
    assert page.status_code == (200 if who.startswith("town") else 403), who
    if who.startswith("town"):
        assert (cases[0].number in page.get_data(as_text=True)) == (who == "town_a" and after == before)


def test_town_sitting_page(client, auth, session, world, clock):
    first, second = _waiting(session, world)
    session.commit()
    auth.login("town_a")
    page = client.get("/admin/sittings/town").get_data(as_text=True)
    assert first.number in page and second.number in page and 'data-select-all="include"' in page
    assert "乡镇会议（多户）" in client.get("/admin/reviews/").get_data(as_text=True)
    assert 'href="/admin/sittings/town"' in client.get(f"/admin/cases/{first.id}").get_data(as_text=True)
    token = csrf_token(client, "/admin/")
    before = _snapshot(session, [first.id, second.id])
    res = client.post("/admin/sittings/town", data=_form(token, [first, second], **{
        f"decision-{second.id}": "reject", f"opinion-{second.id}": "否"}))
    body = res.get_data(as_text=True)
    assert res.status_code == 400 and second.head_name in body and "否" in body  # what was typed stays
    # the problem is in the second household's row too (its checkbox points at it), not in the first's
    at = body.index(f'value="{second.id}" id="inc-{second.id}"')
    row = body[body.rindex("<tr", 0, at):body.index("</tr>", at)]
    assert 'class="row-invalid"' in row and f'aria-describedby="hh-{second.id}-err"' in row
    assert f'id="hh-{first.id}-err"' not in body
    assert _snapshot(session, [first.id, second.id]) == before
    res = client.post("/admin/sittings/town", data=_form(token, [first, second], participants="书记\n镇长"))
    assert res.status_code == 400 and "至少 3 人" in res.get_data(as_text=True)
    res = client.post("/admin/sittings/town", data=_form(token, [first, second], **{
        f"decision-{second.id}": "reject", f"opinion-{second.id}": "家庭收入超过标准，不同意。"}))
    assert res.status_code == 302
    assert "共 2 户" in client.get(res.headers["Location"]).get_data(as_text=True)
    session.rollback()
    session.expire_all()
    results = session.scalars(select(TownMeetingResult).where(
        TownMeetingResult.case_id.in_([first.id, second.id]))).all()
    assert len(results) == 2 and len({r.meeting_id for r in results}) == 1
    assert session.get(Case, second.id).stage == Stage.rejected
    assert session.get(Case, first.id).stage != Stage.town_decision


def test_a_sittings_meeting_problems_stay_beside_their_fields(session, world, clock):
    """Mistakes in the meeting's own names (who sat, who listened) are the meeting's, not the first household's:
    each is shown beside its field, not folded into a message about a household."""
    first, _second = _waiting(session, world)
    town = user(session, world, "town_a")
    with pytest.raises(Invalid) as err:
        reviews.town_sitting(session, town, held_on=today(), title="镇党委会议", participants=["甲", "乙", "\u200b"],
                             results=[reviews.TownSittingResult(first.id, "approve", "经研究，同意。")])
    assert [field for field, _m in err.value.field_problems] == ["participants"]
    assert first.head_name not in err.value.message
    session.rollback()
    staff = user(session, world, "staff_a1")
    case = register(session, staff)
    to_stage(session, world, case, Stage.community_review)
    with pytest.raises(Invalid) as err:
        reviews.community_sitting(session, staff, held_on=today(), location="社区会议室", panel=["评一", "评二", "评三"],
                                  attendees=["\u200b\u2800"], results=[reviews.SittingResult(
                                      case.id, "approve", 3, 0, 0, "经评议，同意。")])
    assert [field for field, _m in err.value.field_problems] == ["attendees"]
    assert case.head_name not in err.value.message


def test_every_households_problem_is_said_at_once_and_nothing_is_kept(session, world, clock):
    """Three households, two with mistakes: both are named in one refusal (one round of corrections, not one per
    household), and the good one's decision is not kept either."""
    first, second, third = _waiting(session, world, n=3)
    session.commit()
    before = _counts(session)
    town = user(session, world, "town_a")
    with pytest.raises(Invalid) as err:
        reviews.town_sitting(session, town, held_on=today(), title="镇党委会议", participants=["甲", "乙", "丙"],
                             results=[reviews.TownSittingResult(first.id, "maybe", "经研究，同意。"),
                                      reviews.TownSittingResult(second.id, "approve", "经研究，同意。"),
                                      reviews.TownSittingResult(third.id, "reject", "不")])
    messages = [str(m) for _field, m in err.value.field_problems]
    assert len(messages) == 2
    assert first.number in messages[0] and "请选择研究结果" in messages[0]
    assert third.number in messages[1] and second.number not in " ".join(messages)
    session.rollback()
    assert _counts(session) == before
    assert {session.get(Case, c.id).stage for c in (first, second, third)} == {Stage.town_decision}


def test_a_tiered_countys_sitting_proposes_each_households_tier(client, auth, session, world, clock):
    """分档: the sitting offers each household its tiers; an approval without one is refused in that household's row,
    and with one each household's amount is its tier's, ready for the notice."""
    from decimal import Decimal

    from dibao import entitlement
    from tests.case_helpers import region

    first, second = _waiting(session, world)
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                             amount=Decimal("780.00"), effective_from=today(), method="tiered",
                             tiers=[entitlement.TierRow("一档", "100"), entitlement.TierRow("二档", "60")])
    session.commit()
    auth.login("town_a")
    page = client.get("/admin/sittings/town").get_data(as_text=True)
    assert f'name="tier-{first.id}"' in page and "二档（标准的 60%）" in page
    token = csrf_token(client, "/admin/")
    before = _snapshot(session, [first.id, second.id])
    res = client.post("/admin/sittings/town", data=_form(token, [first, second], **{
        f"tier-{first.id}": "一档", f"tier-reason-{first.id}": "无劳动能力，困难程度高"}))
    body = res.get_data(as_text=True)
    assert res.status_code == 400 and "请选择该户的分档" in body
    at = body.index(f'value="{second.id}" id="inc-{second.id}"')
    assert 'class="row-invalid"' in body[body.rindex("<tr", 0, at):body.index("</tr>", at)]
    assert _snapshot(session, [first.id, second.id]) == before
    res = client.post("/admin/sittings/town", data=_form(token, [first, second], **{
        f"tier-{first.id}": "一档", f"tier-reason-{first.id}": "无劳动能力，困难程度高",
        f"tier-{second.id}": "二档", f"tier-reason-{second.id}": "有少量劳动收入"}))
    assert res.status_code == 302
    session.rollback()
    session.expire_all()
    one, two = session.get(Case, first.id), session.get(Case, second.id)
    size = one.household_size
    assert (one.tier_name, one.monthly_amount) == ("一档", Decimal("780.00") * size)
    assert (two.tier_name, two.monthly_amount) == ("二档", Decimal("468.00") * two.household_size)
