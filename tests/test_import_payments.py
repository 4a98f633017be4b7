"""A county that moves over town by town: a roster imported after its payment runs have begun is paid by this
system from the month after its latest run — the months before were paid by the old system, and no run pays them
again as arrears (dibao.imports._payment_start, payments._arrears and due_rows)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select

from dibao import imports, payments
from dibao.models import Case
from dibao.models.payment import PaymentArrear, PaymentLine
from tests.case_helpers import region, standard, user
from tests.payment_helpers import approve
from tests.review_helpers import active
from tests.roster_files import clean_rows, write


def _run(session, world, clock, month: date):
    clock.set(datetime(month.year, month.month, 5, 2, 0, tzinfo=UTC))
    run = payments.generate(session, user(session, world, "county"), region(session, world, "county"), month)
    session.commit()
    return run


def _import(session, world, tmp_path, approved_on: str) -> Case:
    rows = clean_rows(1, ["100001001"])
    rows[0]["approved_on"] = approved_on
    imports.import_roster(session, user(session, world, "county"), write(tmp_path / "roster.xlsx", rows),
                          "roster.xlsx")
    session.commit()
    return session.scalar(select(Case).where(Case.head_name == "户主0"))


def _arrears(session, case_id: int) -> list[tuple[date, Decimal]]:
    return [(row.month, row.amount) for row in session.execute(
        select(PaymentArrear.month, PaymentArrear.amount).where(PaymentArrear.case_id == case_id)
        .order_by(PaymentArrear.month))]


def test_an_imported_household_is_paid_from_the_month_after_the_latest_run(session, world, clock, tmp_path):
    standard(session, world)
    active(session, world)  # a household already paid through this system
    session.commit()
    approve(session, world, _run(session, world, clock, date(2026, 9, 1)))
    approve(session, world, _run(session, world, clock, date(2026, 10, 1)))
    clock.set(datetime(2026, 10, 20, 2, 0, tzinfo=UTC))
    case = _import(session, world, tmp_path, "2026-08-15")  # approved in August, paid by the old system since
    assert case.payment_start == date(2026, 11, 1)
    november = _run(session, world, clock, date(2026, 11, 1))
    line = session.scalar(select(PaymentLine).where(PaymentLine.run_id == november.id,
                                                    PaymentLine.case_id == case.id))
    assert line is not None and line.amount == case.monthly_amount  # November: the month in force
    assert line.arrears == Decimal("0.00") and _arrears(session, case.id) == []  # September, October: not again


def test_a_month_after_the_import_that_no_run_paid_is_still_paid_as_arrears(session, world, clock, tmp_path):
    standard(session, world)
    active(session, world)
    session.commit()
    approve(session, world, _run(session, world, clock, date(2026, 9, 1)))
    clock.set(datetime(2026, 9, 20, 2, 0, tzinfo=UTC))
    case = _import(session, world, tmp_path, "2026-08-15")
    assert case.payment_start == date(2026, 10, 1)
    clock.set(datetime(2026, 11, 5, 2, 0, tzinfo=UTC))
    november = _run(session, world, clock, date(2026, 11, 1))  # October had no run: November pays it
    assert _arrears(session, case.id) == [(date(2026, 10, 1), case.monthly_amount)]
    assert session.scalar(select(func.sum(PaymentLine.total)).where(PaymentLine.run_id == november.id,
                                                                     PaymentLine.case_id == case.id)) \
        == 2 * case.monthly_amount


def test_a_county_without_runs_pays_an_imported_household_from_the_month_after_its_approval(
        session, world, clock, tmp_path):
    standard(session, world)
    session.commit()
    clock.set(datetime(2026, 10, 20, 2, 0, tzinfo=UTC))
    case = _import(session, world, tmp_path, "2026-08-15")
    assert case.payment_start == date(2026, 9, 1)
