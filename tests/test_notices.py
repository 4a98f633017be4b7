"""Issue 4: notice batches, windows, withdrawal, the sweep, snapshots."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from dibao import audit, notices, sweep
from dibao.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from dibao.models import (
    Case,
    FeedbackStatus,
    Level,
    NoticeBatch,
    NoticeEntry,
    Objection,
    ReasonCategory,
    Stage,
)
from tests.factories import case_awaiting_notice
from tests.notice_helpers import _region, _user, publish_town_batch


def test_publish_moves_cases_snapshots_and_fingerprints(world, session, clock):
    batch, cases = publish_town_batch(session, 2)
    assert [c.stage for c in cases] == [Stage.town_notice, Stage.town_notice]
    assert batch.closes_at == clock.t0 + timedelta(days=7)
    assert len(batch.fingerprint) == 64
    assert batch.fingerprint == notices.fingerprint(batch, batch.entries)
    entry = batch.entries[0]
    assert entry.head_name == "王小明" and entry.opinion_text == "经复查，乡镇同意纳入低保。"
    assert [e.action for e in audit.events_for(session, "notice_batch", batch.public_id)] == [
        "notice_batch_published"]


def test_levels_follow_the_users_region(world, session):
    region = _region(session, "100001001")
    case = case_awaiting_notice(session, region, Level.town)
    session.commit()
    # community staff publish community notices: a case awaiting the town notice is not theirs to publish
    with pytest.raises(Conflict):
        notices.publish(session, _user(session, "staff_a1"), case_ids=[case.id], title="t")
    session.rollback()
    with pytest.raises(Forbidden):
        notices.publish(session, _user(session, "admin"), case_ids=[case.id], title="t")
    session.rollback()
    # another town's reviewer cannot see it at all
    with pytest.raises(NotFound):
        notices.publish(session, _user(session, "town_b"), case_ids=[case.id], title="t")
    session.rollback()
    assert [c.id for c in notices.awaiting_cases(session, _user(session, "town_a"))] == [case.id]
    assert notices.awaiting_cases(session, _user(session, "town_b")) == []
    assert notices.awaiting_cases(session, _user(session, "staff_a1")) == []


def test_publish_refuses_empty_or_untitled(world, session):
    region = _region(session, "100001001")
    case = case_awaiting_notice(session, region, Level.town)
    session.commit()
    actor = _user(session, "town_a")
    with pytest.raises(Invalid):
        notices.publish(session, actor, case_ids=[], title="t")
    with pytest.raises(Invalid):
        notices.publish(session, actor, case_ids=[case.id], title="  ")
    session.rollback()
    assert session.get(Case, case.id).stage == Stage.awaiting_town_notice


def test_window_edges_a_second_before_and_at_closing(world, session, clock):
    batch, _ = publish_town_batch(session, 1)
    region = _region(session, "100001")
    closes = batch.closes_at
    assert [e.batch_id for e in notices.open_entries(session, region, closes - timedelta(seconds=1))] == [batch.id]
    assert notices.open_entries(session, region, closes) == []
    assert notices.board(session, region, closes - timedelta(seconds=1)).entries
    assert notices.board(session, region, closes).entries == []
    assert notices.entry_status(batch.entries[0], closes - timedelta(seconds=1)) == notices.Status.open
    assert notices.entry_status(batch.entries[0], closes) == notices.Status.closed


def test_scheduled_batch_is_invisible_until_it_opens(world, session, clock):
    opens = clock.t0 + timedelta(days=2)
    batch, cases = publish_town_batch(session, 1, opens_at=opens)
    region = _region(session, "100")
    assert batch.closes_at == opens + timedelta(days=7)
    assert notices.board(session, region, opens - timedelta(seconds=1)).entries == []
    assert notices.board(session, region, opens - timedelta(seconds=1)).next_boundary == opens
    with pytest.raises(NotFound):
        notices.public_entry(session, batch.entries[0].public_id, opens - timedelta(seconds=1))
    assert notices.board(session, region, opens).entries[0].public_id == batch.entries[0].public_id
    assert notices.batch_status(batch, opens - timedelta(seconds=1)) == notices.Status.scheduled


def test_opens_in_the_past_is_refused(world, session, clock):
    with pytest.raises(Invalid):
        publish_town_batch(session, 1, opens_at=clock.t0 - timedelta(hours=1))


def test_snapshot_is_immutable_after_a_case_edit(world, session, clock):
    batch, cases = publish_town_batch(session, 1)
    case = cases[0]
    case.head_name = "李四"
    case.monthly_amount = Decimal("99.00")
    case.address = "别处"
    session.commit()
    session.expire_all()
    entry = session.scalar(select(NoticeEntry).where(NoticeEntry.id == batch.entries[0].id))
    assert (entry.head_name, entry.monthly_amount, entry.address[:4]) == ("王小明", Decimal("1290.00"), "甲一社区")
    assert notices.fingerprint(entry.batch, entry.batch.entries) == entry.batch.fingerprint
    # and the snapshot itself refuses to be rewritten
    entry.head_name = "篡改"
    with pytest.raises(Conflict):
        session.flush()
    session.rollback()


def test_withdraw_batch_requires_reason_and_returns_cases(world, session, clock):
    batch, cases = publish_town_batch(session, 2)
    actor = _user(session, "town_a")
    with pytest.raises(Invalid):
        notices.withdraw_batch(session, actor, batch, "  ")
    with pytest.raises(Forbidden):
        notices.withdraw_batch(session, _user(session, "town_b"), batch, "不该撤回的人")
    notices.withdraw_batch(session, actor, batch, "公示材料有误，重新公示")
    session.commit()
    assert [c.stage for c in cases] == [Stage.awaiting_town_notice] * 2
    assert notices.board(session, _region(session, "100")).entries == []
    with pytest.raises(Gone):
        notices.public_entry(session, batch.entries[0].public_id)
    events = [e.action for e in audit.events_for(session, "notice_batch", batch.public_id)]
    assert events == ["notice_batch_published", "notice_batch_withdrawn"]
    with pytest.raises(Conflict):
        notices.withdraw_batch(session, actor, batch, "再撤一次")


def test_withdraw_one_entry_keeps_the_rest(world, session, clock):
    batch, cases = publish_town_batch(session, 2)
    first, second = batch.entries
    notices.withdraw_entry(session, _user(session, "county"), first, "户主已死亡，重新核查")
    session.commit()
    assert cases[0].stage == Stage.awaiting_town_notice and cases[1].stage == Stage.town_notice
    assert [e.public_id for e in notices.board(session, _region(session, "100")).entries] == [second.public_id]
    with pytest.raises(Gone):
        notices.public_entry(session, first.public_id)


def test_withdraw_after_closing_is_refused(world, session, clock):
    batch, _ = publish_town_batch(session, 1)
    clock.advance(days=7)
    with pytest.raises(Conflict):
        notices.withdraw_batch(session, _user(session, "town_a"), batch, "太晚了吧")


def test_time_left_text():
    from datetime import UTC, datetime

    at = datetime(2026, 3, 18, 2, 0, tzinfo=UTC)
    assert notices.time_left(at + timedelta(days=6, hours=23, minutes=59), at) == "还剩 6 天 23 小时"
    assert notices.time_left(at + timedelta(hours=5, minutes=3), at) == "还剩 5 小时 3 分钟"
    assert notices.time_left(at + timedelta(seconds=20), at) == "还剩 1 分钟"
    assert notices.time_left(at, at) == "已结束"


# --- the sweep --------------------------------------------------------------------------------------------

def _objection(session, entry, status=FeedbackStatus.received):
    obj = Objection(tracking_code=f"T{entry.id:06d}", entry_id=entry.id, case_id=entry.case_id,
                    region_id=entry.region_id, category=ReasonCategory.income_hidden, description="有车",
                    status=status, deadline=entry.batch.closes_at.date(), created_at=entry.batch.opens_at,
                    real_name=False)
    session.add(obj)
    session.commit()
    return obj


def test_sweep_records_closing_moves_cases_and_is_idempotent(app, world, session, clock):
    batch, cases = publish_town_batch(session, 3)
    _objection(session, batch.entries[1])  # an undecided objection holds the second case
    clock.advance(days=7, seconds=-1)
    assert sweep.run_sweep(app).closed == []  # still open: nothing to record
    clock.advance(seconds=1)
    first = sweep.run_sweep(app)
    assert len(first.closed) == 1 and first.moved == 2 and first.held == 1
    session.expire_all()
    stages = [session.get(Case, c.id).stage for c in cases]
    assert stages == [Stage.county_approval, Stage.town_notice, Stage.county_approval]
    assert session.get(NoticeBatch, batch.id).closing_recorded_at == clock.now()
    again = sweep.run_sweep(app)
    assert again.closed == [] and again.moved == 0
    session.expire_all()
    assert [session.get(Case, c.id).stage for c in cases] == stages
    events = [e.action for e in audit.events_for(session, "notice_batch", batch.public_id)]
    assert events == ["notice_batch_published", "notice_batch_closed"]
    assert audit.verify(session).ok


def test_sweep_releases_a_held_case_once_its_objection_is_decided(app, world, session, clock):
    batch, cases = publish_town_batch(session, 1)
    obj = _objection(session, batch.entries[0])
    clock.advance(days=8)
    assert sweep.run_sweep(app).held == 1
    assert sweep.run_sweep(app).moved == 0
    obj = session.get(Objection, obj.id)
    obj.status = FeedbackStatus.decided
    session.commit()
    result = sweep.run_sweep(app)
    assert result.released and result.moved == 1
    session.expire_all()
    assert session.get(Case, cases[0].id).stage == Stage.county_approval
    assert sweep.run_sweep(app).moved == 0


def test_two_sweeps_at_once_close_each_batch_once(app, world, session, clock):
    """Two processes race: both saw the batch as due; only one claim succeeds."""
    batch, cases = publish_town_batch(session, 2)
    clock.advance(days=7)
    make = app.extensions["dibao.write_sessions"]
    with make() as s1:
        assert notices.close_batch(s1, batch.id, clock.now()) is not None
        s1.commit()
    with make() as s2:
        assert notices.close_batch(s2, batch.id, clock.now()) is None
        s2.commit()
    closed = [e for e in audit.events_for(session, "notice_batch", batch.public_id) if e.action == "notice_batch_closed"]
    assert len(closed) == 1


def test_withdrawn_batch_is_never_swept(app, world, session, clock):
    batch, cases = publish_town_batch(session, 1)
    notices.withdraw_batch(session, _user(session, "town_a"), batch, "材料有误需重新公示")
    session.commit()
    clock.advance(days=8)
    assert sweep.run_sweep(app).closed == []
    session.expire_all()
    assert session.get(Case, cases[0].id).stage == Stage.awaiting_town_notice


def test_sweep_cli_command(runner, world, session, clock):
    publish_town_batch(session, 2)
    clock.advance(days=7)
    result = runner.invoke(args=["notices", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 batches closed, 2 cases moved, 0 held" in result.output
    result = runner.invoke(args=["notices", "sweep"])
    assert "0 batches closed, 0 cases moved" in result.output


def test_periodic_sweep_is_off_in_tests_and_with_interval_zero(tmp_path, database_url, monkeypatch):
    """The WSGI entry point starts one sweep thread per worker; never under TESTING or with interval 0."""
    from dibao import create_app, sweep
    from tests.conftest import app_config

    cfg = {**app_config(database_url, tmp_path), "TESTING": False, "SWEEP_INTERVAL": 0}
    app = create_app(cfg)
    assert sweep.start(app) is None and "dibao.sweep_stop" not in app.extensions
    app.extensions["dibao.engine"].dispose()
    app = create_app({**cfg, "TESTING": True, "SWEEP_INTERVAL": 3600})
    assert sweep.start(app) is None
    app.extensions["dibao.engine"].dispose()
    app = create_app({**cfg, "SWEEP_INTERVAL": 3600})
    assert "dibao.sweep_stop" not in app.extensions  # creating an app starts nothing
    thread = sweep.start(app)
    assert thread is not None and thread.is_alive() and thread.daemon
    assert sweep.start(app) is None  # once per app
    app.extensions["dibao.sweep_stop"].set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    app.extensions["dibao.engine"].dispose()


def test_concurrent_sweeps_in_threads_close_once(app, world, session, clock):
    """Two sweeps started at the same moment (as two gunicorn workers would) record each closing once."""
    import threading

    batches = [publish_town_batch(session, 2, community=c)[0] for c in ("100001001", "100001002")]
    clock.advance(days=7)
    results, errors = [], []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            results.append(sweep.run_sweep(app))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sum(len(r.closed) for r in results) == 2 and sum(r.moved for r in results) == 4
    session.rollback()
    for batch in batches:
        closed = [e for e in audit.events_for(session, "notice_batch", batch.public_id)
                  if e.action == "notice_batch_closed"]
        assert len(closed) == 1
    assert audit.verify(session).ok
