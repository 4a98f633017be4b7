"""The objection hold cap without punishing a network: one person on a shared Wi-Fi (a community hall, a carrier's
NAT) who spends the cap does not stop everyone else there from objecting.

An open objection holds its case, so one client may hold at most ``OBJECTION_HOLD_CAP`` entries with objections
filed in a day (dibao.feedback.check_hold). Past the cap an objection is still received, given a tracking code and
a deadline and put in the staff's inbox, but it holds the case only once staff record a check; the resident is told
so on the receipt and the tracking page.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from dibao import sweep, workflow
from dibao.models import AuditEvent, Case, FeedbackStatus, Objection, Stage
from tests.conftest import csrf_token
from tests.feedback_helpers import objection_data, open_entry, receipt_code

HALL = "10.20.30.40"  # the community hall's Wi-Fi: one address for everyone in it
OVER_CAP_NOTE = "不会立即使该户的案件暂停推进"
OVER_CAP_LABEL = "同一网络当天异议超过上限"


def _resident(app):
    """A fresh browser session (its own cookies) on the hall's network."""
    return app.test_client()


def _object(client, entry, address=HALL, **overrides):
    return client.post(f"/objections/new?entry={entry.public_id}",
                       data=objection_data(client, entry.public_id, **overrides), environ_base={"REMOTE_ADDR": address})


def _held(session, entry) -> bool:
    session.rollback()  # a new snapshot (SQLite WAL keeps the old one while a transaction is open)
    return workflow.is_held(session, session.get(Case, entry.case_id))


def test_a_sixth_resident_on_the_same_network_is_received_but_holds_the_case_only_once_staff_check(
        app, client, session, world, auth, clock):
    app.config["FEEDBACK_RATE_LIMIT"] = "100 per minute"
    entries = [open_entry(session, world, head_name=f"王{n}明") for n in range(6)]
    for entry in entries[:5]:  # one person, five fresh sessions, five families' cases
        hostile = _resident(app)
        assert _object(hostile, entry).status_code == 303
        assert OVER_CAP_NOTE not in hostile.get("/receipt").get_data(as_text=True)
    assert all(_held(session, entry) for entry in entries[:5])  # the first five hold, as before

    resident = _resident(app)  # a neighbour in the same hall, about another family
    res = _object(resident, entries[5], description="第六户：他家开着一辆新车。")
    assert res.status_code == 303  # received, not refused
    receipt = resident.get("/receipt").get_data(as_text=True)
    code = receipt_code(resident)
    assert OVER_CAP_NOTE in receipt and "工作人员开始核查后，案件即暂停推进" in receipt  # told what happens
    tracking = resident.get(f"/track/{code}").get_data(as_text=True)
    assert OVER_CAP_LABEL in tracking and OVER_CAP_NOTE in tracking

    session.rollback()
    objection = session.scalar(select(Objection).where(Objection.tracking_code == code))
    assert objection.description == "第六户：他家开着一辆新车。" and objection.entry_id == entries[5].id
    assert objection.status == FeedbackStatus.over_cap and objection.deadline > clock.now().date()
    assert not _held(session, entries[5])  # not by itself: one client holds at most five families
    submitted = session.scalar(select(AuditEvent.details).where(AuditEvent.action == "objection_submitted",
                                                                AuditEvent.object_id == code))
    assert json.loads(submitted)["status"] == "over_cap"  # the record keeps that it came over the cap

    # Staff see it in their inbox, marked as received over the cap.
    auth.login("staff_a1")
    inbox = client.get("/admin/feedback/?kind=objection").get_data(as_text=True)
    assert code in inbox and OVER_CAP_LABEL in inbox
    case_page = client.get(f"/admin/cases/{entries[5].case_id}").get_data(as_text=True)  # and on the case's page
    assert "1 件异议在同一网络当天超过上限后收到，尚未开始核查" in case_page

    # The window closes: the five held cases wait, the sixth moves on (its objection still to be answered).
    clock.advance(days=8)
    result = sweep.run_sweep(app)
    assert (result.moved, result.held) == (1, 5)
    session.rollback()
    assert session.get(Case, entries[5].case_id).stage == Stage.town_review

    # Staff look at it: recording the check holds the case as any open objection does.
    auth.login("staff_a1")  # (the sign-in of eight days ago has expired)
    url = f"/admin/feedback/objection/{objection.id}"
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "check",
                                             "notes": "社区专干张三已约好明天入户核实车辆情况。"})
    assert res.status_code == 303
    assert _held(session, entries[5])
    assert session.get(Objection, objection.id).status == FeedbackStatus.checking
    assert "正在核查" in resident.get(f"/track/{code}").get_data(as_text=True)


def test_over_the_cap_one_client_still_holds_no_more_than_five_families(app, session, world, clock):
    app.config["FEEDBACK_RATE_LIMIT"] = "100 per minute"
    entries = [open_entry(session, world, head_name=f"李{n}强") for n in range(9)]
    for entry in entries[:8]:
        assert _object(_resident(app), entry).status_code == 303  # every one received
    held = [_held(session, entry) for entry in entries]
    assert held == [True] * 5 + [False] * 4  # however many it files, the client holds five cases
    assert _object(_resident(app), entries[0]).status_code == 303  # more about a case it holds: holds too
    session.rollback()
    assert session.scalars(select(Objection.status).where(Objection.entry_id == entries[0].id)).all() == [
        FeedbackStatus.received] * 2
    assert _object(_resident(app), entries[8], address="10.20.30.41").status_code == 303  # another network
    assert _held(session, entries[8])

    objection = session.scalar(select(Objection).where(Objection.entry_id == entries[1].id))
    objection.status = FeedbackStatus.decided  # one answered: the client holds four families again
    session.commit()
    assert _object(_resident(app), entries[6]).status_code == 303
    assert _held(session, entries[6])
    assert _object(_resident(app), entries[7]).status_code == 303  # five again: the next does not hold
    assert not _held(session, entries[7])
    clock.advance(days=1, seconds=1)  # a day later the earlier ones no longer count
    assert _object(_resident(app), entries[7]).status_code == 303
    assert _held(session, entries[7])
