"""Payment runs go in month order: a county's new run waits until every earlier run is approved (locked).

Arrears (dibao.payments._arrears) count an earlier run's lines as paid. An unapproved run may still be generated
again — its lines changing under the later run's feet — or never be approved at all, and then its households
never get that month's money; counting it as unpaid instead would pay the month twice once it is approved.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import payments, workflow
from dibao.errors import Conflict
from dibao.models import AuditEvent, Region, Stage
from dibao.models.job import Job, JobStatus
from dibao.models.payment import PaymentLine, PaymentRun, RunStatus
from tests.case_helpers import at_the_same_moment, register, standard, to_stage, user
from tests.conftest import csrf_token
from tests.payment_helpers import approve

NOVEMBER, DECEMBER = date(2026, 11, 1), date(2026, 12, 1)
WAIT_FOR_NOVEMBER = "请先审批 2026-11 的发放名册，再生成 2026-12 的名册。"


def at(clock, y, m, d):
    clock.set(datetime(y, m, d, 2, 0, tzinfo=UTC))


def county(session, world) -> Region:
    return session.get(Region, world.regions["county"])


@pytest.fixture
def household(session, world, clock):
    standard(session, world)  # 780 a person
    case = register(session, user(session, world, "staff_a1"))  # 2 people, 600 income → 960 a month
    to_stage(session, world, case, Stage.active, levels=())
    session.commit()
    return case


@pytest.fixture
def november(session, world, clock, household) -> PaymentRun:
    """November's run, generated on the 5th and left unapproved (the towns have not checked it)."""
    at(clock, 2026, 11, 5)
    run = payments.generate(session, user(session, world, "county"), county(session, world), NOVEMBER)
    session.commit()
    return run


def _runs(session, month: date) -> int:
    return session.scalar(select(func.count(PaymentRun.id)).where(PaymentRun.month == month))


def _line(session, run: PaymentRun, case_id: int) -> PaymentLine:
    return session.scalar(select(PaymentLine).where(PaymentLine.run_id == run.id, PaymentLine.case_id == case_id,
                                                    PaymentLine.carried_from_id.is_(None)))


def test_an_unapproved_run_holds_back_the_next_month_and_nothing_is_written(session, world, clock, november):
    events = session.scalar(select(func.count(AuditEvent.id)))
    at(clock, 2026, 12, 1)
    county_user = user(session, world, "county")
    for attempt in (lambda: payments.generate(session, county_user, county(session, world), DECEMBER),
                    lambda: payments.generate(session, None, county(session, world), "2026-12"),  # the command line
                    lambda: payments.start_generate(session, county_user, county(session, world), "2026-12")):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert str(refused.value.message) == WAIT_FOR_NOVEMBER
        assert refused.value.field == "month" and refused.value.status == 409
        session.commit()  # (not a rollback: nothing was even added to the session)
    assert _runs(session, DECEMBER) == 0
    assert session.scalar(select(func.count(Job.id))) == 0
    assert session.scalar(select(func.count(AuditEvent.id))) == events
    assert session.get(PaymentRun, november.id).status == RunStatus.generated  # November untouched


def test_once_approved_the_next_month_is_generated_with_the_right_arrears(session, world, clock, household,
                                                                         november):
    county_user = user(session, world, "county")
    at(clock, 2026, 11, 20)  # an adjustment for November, decided while its run is still open …
    workflow.adjust_amount(session, county_user, household, amount=Decimal("1000.00"),
                           reason="户主确诊重病，医疗支出大", effective_from=NOVEMBER)
    session.commit()
    with pytest.raises(Conflict):
        payments.generate(session, county_user, county(session, world), DECEMBER)
    session.rollback()
    again = payments.generate(session, county_user, county(session, world), NOVEMBER)  # … goes into November itself
    session.commit()
    assert again.id == november.id and _line(session, november, household.id).total == Decimal("1000.00")
    approve(session, world, november)
    at(clock, 2026, 11, 25)  # and one decided after November's approval is paid in December as arrears
    workflow.adjust_amount(session, county_user, household, amount=Decimal("1100.00"),
                           reason="又新增一名重病家庭成员", effective_from=NOVEMBER)
    session.commit()
    at(clock, 2026, 12, 1)
    december = payments.generate(session, county_user, county(session, world), DECEMBER)
    session.commit()
    line = _line(session, december, household.id)
    # December's 1100, and for November only what its approved run did not pay: 1100 − 1000
    assert (line.amount, line.arrears, line.total) == (Decimal("1100.00"), Decimal("100.00"), Decimal("1200.00"))
    assert december.total == Decimal("1200.00") and payments.reconcile(session, december).ok
    with pytest.raises(Conflict):  # November is locked now: the correction went into December
        payments.generate(session, county_user, county(session, world), NOVEMBER)
    session.rollback()


def test_a_month_with_nobody_due_can_be_approved_and_does_not_stop_the_months_after(session, world, clock):
    standard(session, world)
    session.commit()
    at(clock, 2026, 11, 5)
    empty = payments.generate(session, user(session, world, "county"), county(session, world), NOVEMBER)
    session.commit()
    assert empty.households == 0 and payments.town_checks(session, empty) == []
    assert empty.status == RunStatus.checked  # no town has anything to check
    approve(session, world, empty)
    at(clock, 2026, 12, 1)
    assert payments.generate(session, user(session, world, "county"), county(session, world), DECEMBER).id


def test_an_open_run_made_before_the_rule_is_not_generated_again_under_a_later_one(session, world, clock,
                                                                                  household, november):
    """Runs made by the old code: November open, December beside it. November is frozen as it stands (December
    counted its lines as paid); it is approved as it is, and then December may be generated again."""
    approve(session, world, november)
    at(clock, 2026, 12, 1)
    december = payments.generate(session, user(session, world, "county"), county(session, world), DECEMBER)
    session.get(PaymentRun, november.id).status = RunStatus.checked  # (open, as the old code could leave it)
    session.commit()
    county_user = user(session, world, "county")
    with pytest.raises(Conflict) as refused:
        payments.generate(session, county_user, county(session, world), NOVEMBER)
    assert str(refused.value.message).startswith("已有 2026-12 的发放名册，不能再重新生成 2026-11 的名册")
    session.rollback()
    with pytest.raises(Conflict) as refused:
        payments.generate(session, county_user, county(session, world), DECEMBER)
    assert str(refused.value.message) == WAIT_FOR_NOVEMBER
    session.rollback()
    approve(session, world, november)
    assert payments.generate(session, county_user, county(session, world), DECEMBER).id == december.id


def test_the_command_line_says_why(runner, session, world, clock, november):
    at(clock, 2026, 12, 1)
    result = runner.invoke(args=["payments", "run", "--month", "2026-12", "--county", "100"])
    assert result.exit_code == 1 and f"100: {WAIT_FOR_NOVEMBER}" in result.output
    assert "Traceback" not in result.output
    session.rollback()
    assert _runs(session, DECEMBER) == 0


def _post(client, url, data=None):
    token = csrf_token(client, "/admin/payments/")
    return client.post(url, data={"csrf_token": token, **(data or {})})


def test_the_admin_page_says_why(client, auth, session, world, clock, november):
    at(clock, 2026, 12, 1)
    auth.login("county")
    res = _post(client, "/admin/payments/generate", {"month": "2026-12"})
    assert res.status_code == 409
    page = res.get_data(as_text=True)
    assert WAIT_FOR_NOVEMBER in page and "生成发放名册" in page  # beside the month, on the form
    session.rollback()
    assert session.scalar(select(func.count(Job.id))) == 0 and _runs(session, DECEMBER) == 0


def test_a_job_started_before_the_earlier_month_was_generated_fails_with_the_reason(app, client, auth, session,
                                                                                  world, clock, household):
    at(clock, 2026, 11, 20)
    auth.login("county")
    res = _post(client, "/admin/payments/generate", {"month": "2026-12"})  # no run yet: December may be prepared
    assert res.status_code == 302
    job_page = res.headers["Location"]
    payments.generate(session, None, county(session, world), NOVEMBER)  # meanwhile November's, from the command line
    session.commit()
    assert app.extensions["dibao.jobs"].drain() == 1
    session.rollback()
    assert session.scalar(select(Job.status)) == JobStatus.failed
    page = client.get(job_page)
    assert page.status_code == 200 and WAIT_FOR_NOVEMBER in page.get_data(as_text=True)
    assert _runs(session, DECEMBER) == 0


def test_two_months_generated_at_the_same_moment_take_turns(app, session, world, clock, household):
    """November and December generated at once (two clerks, two workers): December waits for November's run and is
    then refused, rather than being made beside a November it did not see."""
    at(clock, 2026, 11, 20)
    county_user, county_id = world.users["county"], world.regions["county"]
    payments.generate(session, user(session, world, "county"), county(session, world), NOVEMBER)  # not committed
    refused = at_the_same_moment(app, session, lambda other: payments.generate(
        other, other.get(type(user(session, world, "county")), county_user), other.get(Region, county_id), DECEMBER))
    assert [str(err.message) for err in refused] == [WAIT_FOR_NOVEMBER]
    session.rollback()
    assert _runs(session, NOVEMBER) == 1 and _runs(session, DECEMBER) == 0


def test_the_command_line_goes_on_with_the_other_counties(runner, session, world, clock, november, make_region):
    """Every county at once: the county that must wait is named, the others' runs are made (each county is its
    own transaction), and the command ends with a failure so that a scheduler notices."""
    make_region("200", "另一县")
    session.commit()
    at(clock, 2026, 12, 1)
    result = runner.invoke(args=["payments", "run", "--month", "2026-12"])
    assert result.exit_code == 1 and f"100: {WAIT_FOR_NOVEMBER}" in result.output
    assert "200 另一县 2026-12: 0 households" in result.output
    session.rollback()
    made = session.scalars(select(PaymentRun).where(PaymentRun.month == DECEMBER)).all()
    assert [session.get(Region, run.county_id).code for run in made] == ["200"]
