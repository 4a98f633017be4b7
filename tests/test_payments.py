"""Monthly payment runs (issue 11): who is paid, how much, arrears, stops, the lock after approval."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import accounts, payments, workflow
from dibao.errors import Conflict, Forbidden, NotFound
from dibao.models import AmountChange, AuditEvent, Case, Region, Role, Stage
from dibao.models.payment import LineStatus, PaymentLine, PaymentRun, RunStatus
from tests.case_helpers import register, standard, to_stage, user
from tests.payment_helpers import approve

APRIL, MAY, JUNE, JULY = date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1)


def at(clock, y, m, d):
    clock.set(datetime(y, m, d, 2, 0, tzinfo=UTC))


def county(session, world):
    return session.get(Region, world.regions["county"])


def approved_case(session, world, **kwargs) -> Case:
    case = register(session, user(session, world, "staff_a1"), **kwargs)
    to_stage(session, world, case, Stage.active, levels=())
    return case


@pytest.fixture
def household(session, world, clock):
    standard(session, world)  # 780 a person
    case = approved_case(session, world)  # 2 people, 600 income → 960 a month from April
    session.commit()
    return case


def lines_of(session, run):
    return {(line.case_id, line.carried_from_id is not None): line
            for line in session.scalars(select(PaymentLine).where(PaymentLine.run_id == run.id))}


def run_month(session, world, clock, month: date, day: int = 5) -> PaymentRun:
    at(clock, month.year, month.month, day)
    run = payments.generate(session, user(session, world, "county"), county(session, world), month)
    session.commit()
    return run


def test_a_run_pays_each_due_household_its_amount_in_force(session, world, clock, household):
    pending = register(session, user(session, world, "staff_a1"), head_name="周桂芳")  # not yet approved
    session.commit()
    march = run_month(session, world, clock, date(2026, 3, 1))
    assert lines_of(session, march) == {}  # paid from April only
    approve(session, world, march)  # (runs go in month order: April's waits for March's approval)
    run = run_month(session, world, clock, APRIL)
    got = lines_of(session, run)
    assert list(got) == [(household.id, False)]
    line = got[(household.id, False)]
    assert (line.amount, line.arrears, line.total, line.persons, line.status) == (
        Decimal("960.00"), Decimal("0.00"), Decimal("960.00"), 2, LineStatus.pending)
    assert (line.town_id, line.region_id, line.category) == (world.regions["town_a"], world.regions["comm_a1"], 2)
    assert (run.status, run.households, run.persons, run.total) == (RunStatus.generated, 1, 2, Decimal("960.00"))
    assert pending.id not in {c for c, _ in got}
    by_town = payments.totals(session, None, run, "town")
    assert [(t.name, t.households, t.total) for t in by_town] == [("甲镇", 1, Decimal("960.00"))]
    assert [t.households for t in payments.totals(session, None, run, "community")] == [1]
    assert [(t.key, t.total) for t in payments.totals(session, None, run, "category")] == [(2, Decimal("960.00"))]
    assert payments.reconcile(session, run).ok


def test_no_household_is_paid_without_an_approval_in_force(session, world, clock, household):
    staff = user(session, world, "staff_a1")
    # a case made to look active by hand — stage, amount, approval date — but never approved: no period
    forged = register(session, staff, head_name="假冒户")
    forged.stage, forged.monthly_amount, forged.approved_at = Stage.active, Decimal("999.00"), forged.accepted_at
    forged.payment_start = APRIL
    # an approved household sent back to investigation (its approval no longer stands)
    sent_back = approved_case(session, world, head_name="退回户")
    sent_back.stage = Stage.investigating
    # a suspended household: its period of 0
    suspended = approved_case(session, world, head_name="暂停户")
    from dibao import entitlement
    entitlement.start_period(session, None, suspended, amount=Decimal("0"), starts_on=APRIL,
                             change=AmountChange.suspended, reason="暂停")
    session.commit()
    run = run_month(session, world, clock, APRIL)
    assert {c for c, _ in lines_of(session, run)} == {household.id}


def test_late_approval_is_paid_as_arrears_the_next_month(session, world, clock, household):
    approve(session, world, run_month(session, world, clock, APRIL))
    approve(session, world, run_month(session, world, clock, MAY, day=1))  # May's run generated on the 1st …
    at(clock, 2026, 4, 28)  # … reaches back: a household approved in April (paid from May) is missing from it
    late = register(session, user(session, world, "staff_a1"), head_name="晚批户", income="0.00", members=1)
    to_stage(session, world, late, Stage.active, levels=())
    late.approved_at = datetime(2026, 4, 28, 2, 0, tzinfo=UTC)
    session.commit()
    # (the clock went back: in life the run was generated early; here May's run predates the approval)
    from dibao.models.case import AmountPeriod
    period = session.scalar(select(AmountPeriod).where(AmountPeriod.case_id == late.id))
    period.created_at = datetime(2026, 5, 2, 2, 0, tzinfo=UTC)
    session.commit()
    june = run_month(session, world, clock, JUNE)
    line = lines_of(session, june)[(late.id, False)]
    assert (line.amount, line.arrears, line.total) == (Decimal("780.00"), Decimal("780.00"), Decimal("1560.00"))
    assert lines_of(session, june)[(household.id, False)].arrears == 0
    approve(session, world, june)
    july = run_month(session, world, clock, JULY)
    assert lines_of(session, july)[(late.id, False)].arrears == 0  # paid once, never twice
    assert payments.reconcile(session, june).ok


def test_an_adjustment_reaching_back_is_paid_in_the_next_run_not_by_editing(session, world, clock, household):
    april = approve(session, world, run_month(session, world, clock, APRIL))
    may = approve(session, world, run_month(session, world, clock, MAY))
    at(clock, 2026, 5, 20)
    workflow.adjust_amount(session, user(session, world, "county"), household, amount=Decimal("1000.00"),
                           reason="户主确诊重病，医疗支出大", effective_from=APRIL)
    session.commit()
    assert lines_of(session, april)[(household.id, False)].total == Decimal("960.00")  # earlier runs unchanged
    june = run_month(session, world, clock, JUNE)
    line = lines_of(session, june)[(household.id, False)]
    assert (line.amount, line.arrears, line.total) == (Decimal("1000.00"), Decimal("80.00"), Decimal("1080.00"))
    assert lines_of(session, may)[(household.id, False)].total == Decimal("960.00")
    approve(session, world, june)
    july = run_month(session, world, clock, JULY)
    assert lines_of(session, july)[(household.id, False)].arrears == 0
    approve(session, world, july)
    # an adjustment down is never deducted by the run (追回 is its own procedure)
    at(clock, 2026, 7, 20)
    workflow.adjust_amount(session, user(session, world, "county"), household, amount=Decimal("900.00"),
                           reason="子女已有打工收入", effective_from=JULY)
    session.commit()
    august = run_month(session, world, clock, date(2026, 8, 1))
    line = lines_of(session, august)[(household.id, False)]
    assert (line.amount, line.arrears) == (Decimal("900.00"), Decimal("0.00"))


def test_grace_pays_until_it_ends_and_an_exit_pays_its_own_month(session, world, clock, household):
    other = approved_case(session, world, head_name="退保户", income="0.00", members=1)  # 780 from April
    at(clock, 2026, 4, 10)
    workflow.start_grace(session, user(session, world, "county"), household, months=2, reason="户主已找到稳定工作")
    session.commit()  # grace until 2026-06-10
    at(clock, 2026, 6, 10)
    workflow.exit_case(session, user(session, world, "county"), other, "家庭收入超过低保标准")
    session.commit()
    june = run_month(session, world, clock, JUNE, day=15)
    assert {c for c, _ in lines_of(session, june)} == {household.id, other.id}  # grace, and the exit's month
    approve(session, world, june)
    july = run_month(session, world, clock, JULY)
    assert lines_of(session, july) == {}  # grace over, exited


def test_an_approved_run_is_locked(session, world, clock, household):
    run = run_month(session, world, clock, APRIL)
    with pytest.raises(Conflict):
        payments.approve(session, user(session, world, "county"), run)  # the town has not checked
    session.rollback()
    payments.check_town(session, user(session, world, "town_a"), run)
    assert run.status == RunStatus.checked
    payments.approve(session, user(session, world, "county"), run)
    session.commit()
    assert run.status == RunStatus.approved
    line = lines_of(session, run)[(household.id, False)]
    county_user = user(session, world, "county")
    for attempt in (lambda: payments.generate(session, county_user, county(session, world), APRIL),
                    lambda: payments.check_town(session, user(session, world, "town_a"), run),
                    lambda: payments.refuse_line_edit(session, county_user, line, amount=Decimal("1"))):
        with pytest.raises(Conflict):
            attempt()
    session.commit()  # the refused edit's audit event is kept
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "payment_edit_refused")) == 1
    assert lines_of(session, run)[(household.id, False)].total == Decimal("960.00")
    actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "payment_run")))
    assert {"payment_run_generated", "payment_town_checked", "payment_run_approved"} <= actions


def test_regenerating_before_approval_rebuilds_the_lines(session, world, clock, household):
    run = run_month(session, world, clock, APRIL)
    payments.check_town(session, user(session, world, "town_a"), run)
    session.commit()
    other = approved_case(session, world, head_name="新增户", income="0.00", members=1)
    other.payment_start = APRIL
    from dibao.models.case import AmountPeriod
    session.scalar(select(AmountPeriod).where(AmountPeriod.case_id == other.id)).starts_on = APRIL
    session.commit()
    again = payments.generate(session, None, county(session, world), "2026-04")
    session.commit()
    assert again.id == run.id and again.status == RunStatus.generated  # checks start over
    assert again.households == 2 and again.total == Decimal("1740.00")


def test_the_command_line_generates_a_run(runner, session, world, clock, household):
    at(clock, 2026, 4, 5)
    result = runner.invoke(args=["payments", "run", "--month", "2026-04", "--county", "100"])
    assert result.exit_code == 0, result.output
    assert "1 households" in result.output and "960.00" in result.output
    session.rollback()
    assert session.scalar(select(PaymentRun.total)) == Decimal("960.00")
    assert runner.invoke(args=["payments", "run", "--month", "2026-13"]).exit_code != 0


# --- role × region ------------------------------------------------------------------------------------------

@pytest.fixture
def people(session, world):
    """Every role of the world plus a supervision group of 甲一社区 and a county approver of another county."""
    from dibao import regions

    other = regions.create_region(session, None, code="200", name="外县", parent=None)
    extra = {
        "sup_a1": accounts.create_user(session, None, username="sup_a1", display_name="甲一监督组",
                                       password=world.password, role=Role.supervisor,
                                       region=session.get(Region, world.regions["comm_a1"])),
        "sup_b1": accounts.create_user(session, None, username="sup_b1", display_name="乙一监督组",
                                       password=world.password, role=Role.supervisor,
                                       region=session.get(Region, world.regions["comm_b1"])),
        "outsider": accounts.create_user(session, None, username="outsider", display_name="外县审批",
                                         password=world.password, role=Role.county_approver, region=other),
    }
    session.commit()
    names = ["admin", "county", "town_a", "town_b", "staff_a1", "staff_a2", "staff_b1"]
    out = {n: user(session, world, n) for n in names}
    out.update(extra)
    return out


ALL = ["admin", "county", "town_a", "town_b", "staff_a1", "staff_a2", "staff_b1", "sup_a1", "sup_b1", "outsider"]


def _outcome(session, change):
    try:
        change()
    except NotFound:
        session.rollback()
        return 404
    except Forbidden:
        session.rollback()
        return 403
    except Conflict:
        session.rollback()
        return 409
    session.rollback()  # nothing is kept: each probe starts from the same state
    return 200


def test_generate_rules(session, world, clock, household, people):
    at(clock, 2026, 4, 5)
    got = {n: _outcome(session, lambda u=people[n]: payments.generate(session, u, county(session, world), APRIL))
           for n in ALL}
    assert got == {"admin": 200, "county": 200, "town_a": 403, "town_b": 403, "staff_a1": 403, "staff_a2": 403,
                   "staff_b1": 403, "sup_a1": 403, "sup_b1": 403, "outsider": 404}
    assert session.scalar(select(func.count(PaymentRun.id))) == 0


def test_generate_rules_with_an_earlier_run_not_yet_approved(session, world, clock, household, people):
    """Who may generate is decided first; for those who may, April's open run holds May back."""
    run_month(session, world, clock, APRIL)
    at(clock, 2026, 5, 5)
    got = {n: _outcome(session, lambda u=people[n]: payments.generate(session, u, county(session, world), MAY))
           for n in ALL}
    assert got == {"admin": 409, "county": 409, "town_a": 403, "town_b": 403, "staff_a1": 403, "staff_a2": 403,
                   "staff_b1": 403, "sup_a1": 403, "sup_b1": 403, "outsider": 404}
    assert session.scalar(select(func.count(PaymentRun.id)).where(PaymentRun.month == MAY)) == 0


def test_check_and_approve_rules(session, world, clock, household, people):
    run = run_month(session, world, clock, APRIL)
    got = {n: _outcome(session, lambda u=people[n]: payments.check_town(session, u, run)) for n in ALL}
    assert got == {"admin": 403, "county": 403, "town_a": 200, "town_b": 409, "staff_a1": 403, "staff_a2": 403,
                   "staff_b1": 403, "sup_a1": 403, "sup_b1": 403, "outsider": 404}
    payments.check_town(session, people["town_a"], run)
    session.commit()
    got = {n: _outcome(session, lambda u=people[n]: payments.approve(session, u, run)) for n in ALL}
    assert got == {"admin": 403, "county": 200, "town_a": 403, "town_b": 403, "staff_a1": 403, "staff_a2": 403,
                   "staff_b1": 403, "sup_a1": 403, "sup_b1": 403, "outsider": 404}
    assert session.get(PaymentRun, run.id).status == RunStatus.checked


def test_supervision_rules(session, world, clock, household, people):
    run = run_month(session, world, clock, APRIL)
    got = {n: _outcome(session, lambda u=people[n]: payments.ask(session, u, run, "这户的金额为何比上月多？"))
           for n in ALL}
    assert got == {"admin": 403, "county": 403, "town_a": 403, "town_b": 403, "staff_a1": 403, "staff_a2": 403,
                   "staff_b1": 403, "sup_a1": 200, "sup_b1": 200, "outsider": 404}
    # the supervision group sees its own community's lines only
    assert [line.case_id for line in payments.lines(session, people["sup_a1"], run)] == [household.id]
    assert payments.lines(session, people["sup_b1"], run) == []
    question = payments.ask(session, people["sup_a1"], run, "这户的金额为何比上月多？")
    session.commit()
    got = {n: _outcome(session, lambda u=people[n]: payments.answer(session, u, question, "本月起按新标准发放。"))
           for n in ALL}
    assert got == {"admin": 403, "county": 403, "town_a": 403, "town_b": 404, "staff_a1": 200, "staff_a2": 404,
                   "staff_b1": 404, "sup_a1": 403, "sup_b1": 404, "outsider": 404}
    assert [q.text for q in payments.questions(session, people["sup_b1"], run)] == []


def test_reconciliation_notices_a_line_that_does_not_add_up(session, world, clock, household):
    run = run_month(session, world, clock, APRIL)
    assert payments.reconcile(session, run).ok
    line = lines_of(session, run)[(household.id, False)]
    line.amount = Decimal("999.00")  # (behind the domain's back)
    session.flush()
    recon = payments.reconcile(session, run)
    assert not recon.sums_match and recon.counts_match and not recon.ok
    month, current, label = payments.current_state(session, user(session, world, "county"))
    assert (month, current.id, str(label)) == (APRIL, run.id, "已生成，待乡镇核对")


def test_a_transfer_mid_month_pays_the_new_community_its_new_amount_from_next_month(session, world, clock, household):
    from dibao import entitlement
    from dibao import household as households
    from dibao.models.household import TransferKind

    admin, county_user = user(session, world, "admin"), user(session, world, "county")
    entitlement.set_standard(session, admin, region=session.get(Region, world.regions["town_b"]),
                             amount=Decimal("850.00"), effective_from=date(2026, 1, 1))  # 乙街道's own standard
    session.commit()
    may = approve(session, world, run_month(session, world, clock, MAY))
    at(clock, 2026, 5, 15)  # moves in the middle of May (拆迁安置)
    households.transfer(session, county_user, household, to_region_id=world.regions["comm_b1"],
                        kind=TransferKind.demolition, moved_on=date(2026, 5, 15), reason="旧城改造拆迁安置",
                        address="乙一社区安置小区 3 栋 101 室")
    session.commit()
    june = run_month(session, world, clock, JUNE)
    (may_line,), (june_line,) = lines_of(session, may).values(), lines_of(session, june).values()
    # May was paid where the household lived when the run was made, at the amount in force in May.
    assert (may_line.region_id, may_line.town_id, may_line.total) == (
        world.regions["comm_a1"], world.regions["town_a"], Decimal("960.00"))
    # From June: the new community and town, under the new standard (2 × 850 − 600), no arrears, nothing twice.
    assert (june_line.region_id, june_line.town_id, june_line.amount, june_line.arrears) == (
        world.regions["comm_b1"], world.regions["town_b"], Decimal("1100.00"), Decimal("0.00"))
    assert payments.reconcile(session, june).ok
