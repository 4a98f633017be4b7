"""Issue 10 item 5: 提标 — a new standard reaches every active household, previewed, confirmed, applied by a job;
amounts never change silently and a standard entered for the future changes nothing before its date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import entitlement, raises
from dibao.errors import Conflict, Forbidden, NotFound
from dibao.models import AmountChange, AmountPeriod, AuditEvent, Case, Stage
from dibao.models.management import RaiseStatus, StandardRaise
from dibao.models.records import CaseRecord, RecordKind
from dibao.sweep import run_sweep
from tests.case_helpers import region, register, standard, to_stage, user
from tests.conftest import csrf_token

JULY = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def _active(session, world, **kwargs):
    case = register(session, user(session, world, "staff_a1"), **kwargs)
    return to_stage(session, world, case, Stage.active)


def _new_standard(session, world, amount="850.00", day=date(2026, 7, 1), where="county"):
    return entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, where),
                                    amount=Decimal(amount), effective_from=day)


def test_future_standard_changes_nothing_before_its_date_then_preview_and_apply(app, client, auth, session,
                                                                                  world, clock):
    standard(session, world)  # 780 from January
    case = _active(session, world)  # income 600, 2 people → 960
    fixed = _active(session, world, income="")
    county = user(session, world, "county")
    from dibao import workflow
    workflow.adjust_amount(session, county, fixed, amount=Decimal("1000.00"), reason="重病，人工核定")
    new = _new_standard(session, world)
    session.commit()
    amount_before = case.monthly_amount
    assert amount_before == Decimal("960.00")

    run_sweep(app, media_gc=False)  # March: the July standard is not due
    session.rollback()
    assert session.scalar(select(func.count(StandardRaise.id)).where(StandardRaise.standard_id == new.id)) == 0
    assert session.get(Case, case.id).monthly_amount == amount_before
    # the county may look ahead, not apply
    ahead = raises.preview(session, county, standard_id=new.id)
    line = next(line for line in ahead.lines if line.case_id == case.id)
    assert (line.old, line.new) == (Decimal("960.00"), Decimal("1100.00"))
    session.rollback()

    clock.set(JULY)
    run_sweep(app, media_gc=False)
    session.rollback()
    item = session.scalar(select(StandardRaise).where(StandardRaise.standard_id == new.id))
    assert item.status == RaiseStatus.pending and item.households == 1  # the fixed amount stays
    assert session.get(Case, case.id).monthly_amount == amount_before  # nothing silent: waits for the county
    session.rollback()

    auth.login("county")
    assert "1 项提标待县民政局确认" in client.get("/admin/").get_data(as_text=True)
    listing = client.get("/admin/raises/").get_data(as_text=True)
    assert "1（检测时）" in listing and "以详情页的预览为准" in listing
    page = client.get(f"/admin/raises/{item.id}").get_data(as_text=True)
    assert "960.00" in page and "1100.00" in page and "人工核定，不变" in page
    assert "1960.00" in page and "2100.00" in page  # the totals before and after
    token = csrf_token(client, "/admin/")
    res = client.post(f"/admin/raises/{item.id}/confirm", data={"csrf_token": token})
    assert res.status_code == 302 and "/admin/jobs/" in res.headers["Location"]
    session.rollback()
    assert session.get(Case, case.id).monthly_amount == amount_before  # the job has not run yet
    session.rollback()
    assert app.extensions["dibao.jobs"].drain() == 1
    session.rollback()
    after = session.get(Case, case.id)
    assert after.monthly_amount == Decimal("1100.00")
    assert session.get(Case, fixed.id).monthly_amount == Decimal("1000.00")
    period = session.scalars(select(AmountPeriod).where(AmountPeriod.case_id == case.id)
                             .order_by(AmountPeriod.id.desc())).first()
    assert (period.change, period.starts_on, period.amount) == (AmountChange.standard_raised, date(2026, 7, 1),
                                                                Decimal("1100.00"))
    assert entitlement.amount_in_force(session, after, date(2026, 6, 1)) == Decimal("960.00")
    records = session.scalars(select(CaseRecord).where(CaseRecord.case_id == case.id,
                                                       CaseRecord.kind == RecordKind.standard_raise)).all()
    assert len(records) == 1 and records[0].amount_after == Decimal("1100.00")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "standard_raised")).all()
    assert [e.object_id for e in events] == [str(case.id)]
    assert session.get(StandardRaise, item.id).status == RaiseStatus.applied
    assert "提标" in client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    session.rollback()
    # confirming again changes nothing
    res = client.post(f"/admin/raises/{item.id}/confirm", data={"csrf_token": token})
    assert res.status_code == 409


def test_confirm_before_the_date_is_refused(session, world, clock):
    standard(session, world)
    _active(session, world)
    new = _new_standard(session, world)
    item = StandardRaise(standard_id=new.id, status=RaiseStatus.pending, detected_at=clock.now())
    session.add(item)
    session.flush()
    with pytest.raises(Conflict):
        raises.confirm(session, user(session, world, "county"), item)
    with pytest.raises(Conflict):
        raises.apply(session, user(session, world, "county"), item)


def test_only_the_county_confirms(session, world, clock):
    standard(session, world)
    _active(session, world)
    new = _new_standard(session, world, day=date(2026, 3, 1))
    [item] = [i for i in raises.detect(session) if i.standard_id == new.id]
    for who in ("staff_a1", "town_a", "admin"):
        with pytest.raises((Forbidden, NotFound)):
            raises.confirm(session, user(session, world, who), item)
    with pytest.raises((Forbidden, NotFound)):
        raises.preview(session, user(session, world, "town_a"), standard_id=new.id)


def test_a_lower_regions_own_standard_wins(session, world, clock):
    standard(session, world)
    case = _active(session, world)
    _new_standard(session, world, amount="900.00", day=date(2026, 2, 1), where="comm_a1")  # its own, higher
    county_raise = _new_standard(session, world, amount="850.00", day=date(2026, 3, 1))
    preview = raises.preview(session, user(session, world, "county"), standard_id=county_raise.id)
    assert case.id not in [line.case_id for line in preview.lines]


def test_cli_apply(app, runner, session, world, clock):
    standard(session, world)
    case = _active(session, world)
    _new_standard(session, world, day=date(2026, 3, 1))
    session.commit()
    res = runner.invoke(args=["standards", "apply"])
    assert "1 change" in res.output and "preview only" in res.output, res.output
    session.rollback()
    assert session.get(Case, case.id).monthly_amount == Decimal("960.00")
    session.rollback()
    res = runner.invoke(args=["standards", "apply", "--confirm"])
    assert "applied: 1 households" in res.output, res.output
    session.rollback()
    session.expire_all()
    assert session.get(Case, case.id).monthly_amount == Decimal("1100.00")


def test_a_raise_over_several_chunks_gives_each_household_its_period_record_and_event(session, world, clock,
                                                                                      monkeypatch):
    """Households are written a chunk at a time (a county's 提标 reaches tens of thousands): each still gets one
    new period from the right month — its own later change's month, if it has one — one record, one event, and
    the audit chain holds."""
    from dibao import audit

    standard(session, world)
    households = [_active(session, world) for _ in range(5)]  # 960 each, paid from April
    later = households[3]
    entitlement.start_period(session, None, later, amount=Decimal("960.00"), starts_on=date(2026, 5, 1),
                             change=AmountChange.adjusted)  # a change already recorded from May
    new = _new_standard(session, world, day=date(2026, 3, 1))
    [item] = [i for i in raises.detect(session) if i.standard_id == new.id]
    session.commit()
    monkeypatch.setattr(raises, "APPLY_CHUNK", 2)
    steps = []
    result = raises.apply(session, user(session, world, "county"), item,
                          progress=lambda done, total, _label: steps.append((done, total)))
    session.commit()
    assert result["households"] == 5 and steps == [(2, 5), (4, 5), (5, 5)]
    for case in households:
        session.refresh(case)
        assert case.monthly_amount == Decimal("1100.00")
        raised = session.scalars(select(AmountPeriod).where(AmountPeriod.case_id == case.id,
                                                            AmountPeriod.change == AmountChange.standard_raised)).all()
        assert [(p.starts_on, p.amount) for p in raised] == [
            (date(2026, 5, 1) if case is later else date(2026, 4, 1), Decimal("1100.00"))]
        assert session.scalar(select(func.count(CaseRecord.id)).where(
            CaseRecord.case_id == case.id, CaseRecord.kind == RecordKind.standard_raise)) == 1
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "standard_raised")
                             .order_by(AuditEvent.id)).all()
    assert [e.object_id for e in events] == [str(c.id) for c in households]
    assert '"from": "2026-05-01"' in events[3].details and '"from": "2026-04-01"' in events[0].details
    assert audit.verify(session).ok


def test_a_raise_reaches_households_approved_but_still_awaiting_or_on_their_county_notice(app, session, world,
                                                                                          clock):
    """A household the county approved before the new standard, whose county notice has not yet run or is running
    when the raise is detected, is governed like one in payment: a raise is detected once, and passing it by
    would leave the family on the old standard for good."""
    standard(session, world)  # 780 from January
    from dibao import notices
    from dibao.models import Level

    staff = user(session, world, "staff_a1")
    waiting, noticed = (to_stage(session, world, register(session, staff), Stage.awaiting_county_notice,
                                 levels=(Level.county,)) for _ in range(2))
    clock.set(datetime(2026, 6, 29, 2, 0, tzinfo=UTC))  # its notice runs into July
    notices.publish_batch(session, user(session, world, "county"), level=Level.county, region=region(
        session, world, "county"), cases=[noticed], title="县级审批公示", window_days=7)
    assert noticed.stage == Stage.county_notice
    refused = to_stage(session, world, register(session, staff), Stage.county_approval)
    new = _new_standard(session, world)
    session.commit()
    assert waiting.monthly_amount == noticed.monthly_amount == Decimal("960.00")

    clock.set(JULY)
    run_sweep(app, media_gc=False)
    session.rollback()
    assert [session.get(Case, c.id).stage for c in (waiting, noticed)] == [Stage.awaiting_county_notice,
                                                                             Stage.county_notice]
    item = session.scalar(select(StandardRaise).where(StandardRaise.standard_id == new.id))
    assert item.status == RaiseStatus.pending and item.households == 2
    preview = raises.preview(session, user(session, world, "county"), standard_id=new.id)
    assert sorted(line.case_id for line in preview.changed) == sorted([waiting.id, noticed.id])
    assert raises.apply(session, None, item)["households"] == 2
    session.commit()
    for case in (waiting, noticed):
        after = session.get(Case, case.id)
        assert after.monthly_amount == Decimal("1100.00"), after.stage
        assert entitlement.amount_in_force(session, after, date(2026, 7, 1)) == Decimal("1100.00")
    # a case the county has not decided yet is priced at its decision, under the standard of that day
    assert session.get(Case, refused.id).stage == Stage.county_approval
    assert session.scalar(select(func.count(AmountPeriod.id)).where(AmountPeriod.case_id == refused.id)) == 0
