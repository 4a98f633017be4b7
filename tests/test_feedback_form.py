"""Issue 10 item 11: one form per decision on an objection or report — assignee, check notes, the outcome (or
keep checking), the public answer and the duplicates decided with it; the server names each field's problem."""

from __future__ import annotations

from sqlalchemy import select

from dibao.models import AuditEvent, FeedbackStatus, Objection, Outcome, Stage
from dibao.models.notice import NoticeEntry
from tests.conftest import csrf_token
from tests.feedback_form_helpers import _objection
from tests.feedback_helpers import open_entry


def _state(session, *ids):
    session.rollback()
    session.expire_all()
    rows = tuple((o.status, o.outcome, o.assigned_to_id, o.check_notes, o.public_answer)
                 for o in (session.get(Objection, i) for i in ids))
    return rows, tuple(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_the_page_has_one_form_and_names_each_field_that_is_wrong(client, auth, session, world):
    entry = open_entry(session, world)
    objection = _objection(session, entry)
    auth.login("staff_a1")
    url = f"/admin/feedback/objection/{objection.id}"
    html = client.get(url).get_data(as_text=True)
    assert html.count('<form method="post" action="/admin/feedback/objection/') == 1
    assert f'action="{url}/decide"' in html and "/assign" not in html and f'action="{url}/check"' not in html
    assert "继续核查" in html and "异议成立" in html and "不成立" in html
    token = csrf_token(client, url)
    before = _state(session, objection.id)

    res = client.post(url + "/decide", data={"csrf_token": token})
    assert res.status_code == 400 and "请选择办理结果" in res.get_data(as_text=True)
    res = client.post(url + "/decide", data={"csrf_token": token, "outcome": "upheld", "notes": "查",
                                             "public_answer": "成立"})
    body = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "核查情况太短" in body and "作出结论时，请填写向群众公开的答复（至少 5 个字）" in body  # both at once
    assert "成立</textarea>" in body  # what was typed stays
    res = client.post(url + "/decide", data={"csrf_token": token, "outcome": "check", "notes": " "})
    assert res.status_code == 400 and "选择“继续核查”时，请填写核查情况" in res.get_data(as_text=True)
    for bad in ("999999", "abc", "-1"):
        res = client.post(url + "/decide", data={"csrf_token": token, "outcome": "check", "assignee": bad})
        assert res.status_code == 400 and "请选择能够办理这件的工作人员" in res.get_data(as_text=True), bad
    assert _state(session, objection.id) == before, "a refused form changes nothing"


def test_keep_checking_records_the_notes_and_the_assignee_without_deciding(client, auth, session, world):
    entry = open_entry(session, world)
    objection = _objection(session, entry)
    auth.login("staff_a1")
    url = f"/admin/feedback/objection/{objection.id}"
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "check",
                                             "assignee": str(world.users["staff_a1"]), "notes": "已入户，查看车辆登记。",
                                             "public_answer": "这段不会公开"})
    assert res.status_code == 303
    (row,), actions = _state(session, objection.id)
    assert row[0] == FeedbackStatus.checking and row[1] is None and row[2] == world.users["staff_a1"]
    assert "已入户，查看车辆登记。" in row[3] and row[4] is None
    assert actions[-2:] == ("objection_assigned", "objection_check_recorded")
    assert session.get(Objection, objection.id).case.stage == Stage.community_notice  # still held


def test_duplicates_are_decided_together_from_the_one_form(client, auth, session, world):
    entry = open_entry(session, world)
    first = _objection(session, entry)
    second = _objection(session, entry, "同一户，重复反映：家里有车。")
    auth.login("staff_a1")
    url = f"/admin/feedback/objection/{first.id}"
    html = client.get(url).get_data(as_text=True)
    assert f'name="together" value="{second.id}"' in html and second.tracking_code in html
    token = csrf_token(client, url)
    before = _state(session, first.id, second.id)
    res = client.post(url + "/decide", data={"csrf_token": token, "outcome": "upheld", "together": ["999999", "x"],
                                             "public_answer": "经核查，该户有车辆未申报，异议成立。"})
    assert res.status_code == 400 and "请勾选这条公示下仍未办结的异议" in res.get_data(as_text=True)
    assert _state(session, first.id, second.id) == before
    res = client.post(url + "/decide", data={"csrf_token": token, "outcome": "upheld", "together": [str(second.id)],
                                             "notes": "车管所查询：有登记车辆。",
                                             "public_answer": "经核查，该户有车辆未申报，异议成立。"})
    assert res.status_code == 303
    rows, actions = _state(session, first.id, second.id)
    assert [(r[0], r[1]) for r in rows] == [(FeedbackStatus.decided, Outcome.upheld)] * 2
    # the check is recorded on each objection decided together (each needs one before its decision, A 19)
    assert actions.count("objection_decided") == 2 and actions.count("objection_check_recorded") == 2
    withdrawn = session.get(NoticeEntry, entry.id)
    assert withdrawn.withdrawn_at is not None and "车辆未申报" in withdrawn.withdrawn_reason  # upheld withdraws
    assert session.get(Objection, first.id).case.stage == Stage.investigating
    assert "已一并办结 2 件异议" in client.get(url).get_data(as_text=True)
