"""The amount in force, month by month: what every payment is computed from (issues 10 and 11)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import entitlement, migrate, workflow
from dibao.errors import Conflict, Invalid
from dibao.models import AmountChange, AmountPeriod, Case, Stage
from tests.case_helpers import register, standard, to_stage, user

# The clock fixture starts on 2026-03-18: approval in March, payment from April.
MARCH, APRIL, MAY, JUNE = date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)


@pytest.fixture
def approved(session, world, clock):
    standard(session, world)  # 780 a person
    case = register(session, user(session, world, "staff_a1"))  # 2 people, 600 income → 960
    to_stage(session, world, case, Stage.active, levels=())
    session.commit()
    return case


def _in_force(session, month):
    return {row.case_id: row.amount for row in session.execute(entitlement.in_force(month))}


def test_approval_starts_payment_the_month_after(session, approved):
    assert approved.payment_start == APRIL
    assert entitlement.amount_in_force(session, approved, MARCH) is None
    assert entitlement.amount_in_force(session, approved, APRIL) == Decimal("960.00")
    assert entitlement.amount_in_force(session, approved, date(2027, 1, 15)) == Decimal("960.00")
    [period] = entitlement.periods(session, approved)
    assert (period.change, period.starts_on, period.created_by_name) == (AmountChange.approved, APRIL, "县审批")


def test_an_adjustment_starts_next_month_and_may_reach_back_as_arrears(session, world, approved, clock):
    county = user(session, world, "county")
    clock.set(datetime(2026, 5, 20, 2, 0, tzinfo=UTC))
    workflow.adjust_amount(session, county, approved, amount=Decimal("1000.00"), reason="户主确诊重病，医疗支出大",
                           effective_from=date(2026, 4, 15))  # from April: April and May are owed as arrears
    assert [entitlement.amount_in_force(session, approved, m) for m in (APRIL, MAY)] == [Decimal("1000.00")] * 2
    workflow.adjust_amount(session, county, approved, amount=Decimal("700.00"), reason="子女已有打工收入")
    assert entitlement.amount_in_force(session, approved, MAY) == Decimal("1000.00")
    assert entitlement.amount_in_force(session, approved, JUNE) == Decimal("700.00")
    session.commit()
    # a change may not reach back behind a later one (which decision would hold for June on?)
    before = entitlement.periods(session, approved)
    for month in (MARCH, MAY):
        with pytest.raises((Invalid, Conflict)) as refused:
            workflow.adjust_amount(session, county, approved, amount=Decimal("1.00"), reason="向前追溯调整",
                                   effective_from=month)
        assert refused.value.field == "effective_from"
    session.rollback()
    assert len(entitlement.periods(session, approved)) == len(before)


def test_an_exit_stops_payment_from_the_next_month(session, world, approved, clock):
    clock.set(datetime(2026, 6, 10, 2, 0, tzinfo=UTC))
    workflow.exit_case(session, user(session, world, "county"), approved, "家庭收入超过低保标准")
    assert entitlement.amount_in_force(session, approved, JUNE) == Decimal("960.00")  # the month of the exit is paid
    assert entitlement.amount_in_force(session, approved, date(2026, 7, 1)) == Decimal("0.00")
    assert _in_force(session, date(2026, 7, 1)) == {approved.id: Decimal("0.00")}


def test_in_force_gives_each_household_its_latest_period(session, world, approved, clock):
    other = register(session, user(session, world, "staff_a1"), head_name="周桂芳", income="0.00", members=1)
    clock.set(datetime(2026, 4, 10, 2, 0, tzinfo=UTC))
    to_stage(session, world, other, Stage.active, levels=())
    assert _in_force(session, APRIL) == {approved.id: Decimal("960.00")}
    assert _in_force(session, MAY) == {approved.id: Decimal("960.00"), other.id: Decimal("780.00")}


def test_the_migration_rebuilds_the_history_of_existing_households(app, session, world, approved, clock):
    clock.set(datetime(2026, 6, 10, 2, 0, tzinfo=UTC))
    county = user(session, world, "county")
    workflow.adjust_amount(session, county, approved, amount=Decimal("700.00"), reason="子女已有打工收入")
    workflow.exit_case(session, county, approved, "家庭收入超过低保标准")
    session.commit()
    before = [(p.starts_on, p.amount, p.change) for p in entitlement.periods(session, approved)]
    session.close()
    engine = app.extensions["dibao.engine"]
    migrate.downgrade(engine, "0008_encryption")
    migrate.upgrade(engine, "heads")
    rebuilt = [(p.starts_on, p.amount, p.change) for p in entitlement.periods(session, session.get(Case, approved.id))]
    assert rebuilt == before == [(APRIL, Decimal("960.00"), AmountChange.approved),
                                 (date(2026, 7, 1), Decimal("700.00"), AmountChange.adjusted),
                                 (date(2026, 7, 1), Decimal("0.00"), AmountChange.exited)]
    assert session.scalar(select(func.count(AmountPeriod.id))) == 3
