"""The county's monthly work tried by a clerk with a deadline and by a hostile insider: reviews, 提标, payment
runs, the roster import (the faults found in the monthly-work tour, each pinned by a test)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import entitlement, imports, jobs, payments, raises, reviews
from dibao.errors import Conflict, Invalid
from dibao.models import AmountChange, AmountPeriod, Case, MemberIncome, User
from dibao.models.job import Job, JobStatus
from dibao.models.management import RaiseStatus, StandardRaise
from dibao.models.payment import PaymentArrear, PaymentLine, PaymentRun
from dibao.models.records import CaseRecord, RecordKind
from tests.case_helpers import at_the_same_moment, region, standard, user
from tests.conftest import csrf_token
from tests.payment_helpers import approve
from tests.review_helpers import active
from tests.roster_files import clean_rows, write


def _raise(session, world, clock, amount: str, day: date) -> StandardRaise:
    """A new county standard from ``day``, detected and applied as the county would (clock moved to ``day``)."""
    standard = entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                                        amount=Decimal(amount), effective_from=day)
    clock.set(datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC))
    raises.detect(session)
    item = session.scalar(select(StandardRaise).where(StandardRaise.standard_id == standard.id))
    if item.status == RaiseStatus.pending:
        raises.apply(session, user(session, world, "county"), item)
    session.flush()
    return item


def _income_rises(session, case: Case, amount: str) -> None:
    """The head's wage goes up (what the review finds)."""
    session.add(MemberIncome(member=case.members[0], source="wage", monthly_amount=Decimal(amount), note=""))
    session.flush()
    session.expire(case, ["members"])


# --- 1. a recomputed amount confirmed by the county is not a staff override ----------------------------------

def test_a_confirmed_recomputation_still_follows_the_next_standard_raise(session, world, clock):
    standard(session, world)  # 780 a person
    case = active(session, world)  # 2 people, income 600 → 960
    staff, county = user(session, world, "staff_a1"), user(session, world, "county")
    _income_rises(session, case, "200.00")  # income 800 → 1560 − 800 = 760
    reviews.review(session, staff, case, checked=["income"], findings="户主工资增加了 200 元。", category=2,
                   outcome="amount", reason="收入增加，按标准重新核算")  # no amount typed: the computed one
    [proposal] = reviews.open_proposals(session, case)
    assert proposal.amount == Decimal("760.00")
    reviews.decide(session, county, proposal, confirm=True, reason="同意按标准重新核算")
    session.commit()
    assert case.monthly_amount == Decimal("760.00")
    assert case.override_amount is None  # nobody fixed this amount by hand

    _raise(session, world, clock, "900.00", date(2026, 7, 1))  # 提标: 1800 − 800 = 1000
    session.commit()
    assert session.get(Case, case.id).monthly_amount == Decimal("1000.00")


def test_a_raise_between_the_proposal_and_the_decision_is_not_undone(session, world, clock):
    standard(session, world)
    case = active(session, world)
    staff, county = user(session, world, "staff_a1"), user(session, world, "county")
    _income_rises(session, case, "200.00")
    reviews.review(session, staff, case, checked=["income"], findings="户主工资增加了 200 元。", category=2,
                   outcome="amount", reason="收入增加，按标准重新核算")
    session.commit()
    _raise(session, world, clock, "900.00", date(2026, 7, 1))  # every household recomputed under 900 …
    session.commit()
    assert session.get(Case, case.id).monthly_amount == Decimal("1000.00")
    [proposal] = reviews.open_proposals(session, case)  # … while the review's proposal (760 under 780) waits
    reviews.decide(session, county, proposal, confirm=True, reason="同意按标准重新核算")
    session.commit()
    # the recomputation the county confirmed is under the standard in force now, not the old one
    assert (case.monthly_amount, case.override_amount) == (Decimal("1000.00"), None)
    assert entitlement.amount_in_force(session, case, date(2026, 8, 1)) == Decimal("1000.00")


def test_an_amount_typed_by_the_staff_stays_theirs(session, world, clock):
    standard(session, world)
    case = active(session, world)
    staff, county = user(session, world, "staff_a1"), user(session, world, "county")
    reviews.review(session, staff, case, checked=["health"], findings="户主确诊重病，医疗支出大。", category=2,
                   outcome="amount", amount=Decimal("1200.00"), reason="重病，人工核定")
    [proposal] = reviews.open_proposals(session, case)
    reviews.decide(session, county, proposal, confirm=True, reason="同意人工核定为 1200 元")
    session.commit()
    assert (case.monthly_amount, case.override_amount) == (Decimal("1200.00"), Decimal("1200.00"))


# --- 2. a payment run for a month before a later run would pay that month twice ------------------------------

def _run(session, world, clock, month: date, day: int = 5):
    clock.set(datetime(month.year, month.month, day, 2, 0, tzinfo=UTC))
    run = payments.generate(session, user(session, world, "county"), region(session, world, "county"), month)
    session.commit()
    return run


def _paid_for(session, case_id: int, month: date) -> Decimal:
    """What every run of the county pays ``case_id`` for ``month``: its regular lines and arrears."""
    regular = session.scalar(select(func.coalesce(func.sum(PaymentLine.amount), 0))
                             .join(PaymentRun, PaymentRun.id == PaymentLine.run_id)
                             .where(PaymentLine.case_id == case_id, PaymentRun.month == month,
                                    PaymentLine.carried_from_id.is_(None)))
    arrears = session.scalar(select(func.coalesce(func.sum(PaymentArrear.amount), 0))
                             .where(PaymentArrear.case_id == case_id, PaymentArrear.month == month))
    return Decimal(regular) + Decimal(arrears)


def test_a_skipped_month_paid_as_arrears_cannot_be_paid_again_by_a_late_run(session, world, clock):
    standard(session, world)
    case = active(session, world)  # 960 a month from April
    session.commit()
    approve(session, world, _run(session, world, clock, date(2026, 4, 1)))
    june = _run(session, world, clock, date(2026, 6, 1))  # May had no run: June pays it as arrears
    assert _paid_for(session, case.id, date(2026, 5, 1)) == Decimal("960.00")
    assert june.total == Decimal("1920.00")
    with pytest.raises(Conflict) as err:  # May's run, generated late, would pay May a second time
        payments.generate(session, user(session, world, "county"), region(session, world, "county"), "2026-05")
    assert "2026-06" in str(err.value.message)
    session.rollback()
    with pytest.raises(Conflict):
        payments.start_generate(session, user(session, world, "county"), region(session, world, "county"), "2026-05")
    session.rollback()
    assert _paid_for(session, case.id, date(2026, 5, 1)) == Decimal("960.00")
    assert session.scalar(select(func.count(PaymentRun.id)).where(PaymentRun.month == date(2026, 5, 1))) == 0
    # June itself may still be generated again while it is not approved
    again = payments.generate(session, user(session, world, "county"), region(session, world, "county"), "2026-06")
    assert again.id == june.id and again.total == Decimal("1920.00")


def test_a_run_for_a_month_not_yet_come_is_refused(app, client, auth, session, world, clock):
    standard(session, world)
    active(session, world)
    session.commit()
    clock.set(datetime(2026, 3, 18, 2, 0, tzinfo=UTC))
    county = user(session, world, "county")
    with pytest.raises(Invalid) as err:  # a slip of the finger: 2062 for 2026 would pay every month between
        payments.start_generate(session, county, region(session, world, "county"), "2026-05")
    assert err.value.field == "month"
    session.rollback()
    auth.login("county")
    token = csrf_token(client, "/admin/payments/")
    res = client.post("/admin/payments/generate", data={"csrf_token": token, "month": "2062-03"})
    assert res.status_code == 400 and "发放月份最晚为下个月（2026-04）" in res.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(func.count(Job.id))) == 0
    # next month's run may be prepared ahead, this month's too
    assert payments.start_generate(session, county, region(session, world, "county"), "2026-04").id
    assert payments.start_generate(session, county, region(session, world, "county"), "2026-03").id
    session.rollback()
    clock.set(datetime(2026, 12, 20, 2, 0, tzinfo=UTC))  # across the year's end
    assert payments.start_generate(session, county, region(session, world, "county"), "2027-01").id
    with pytest.raises(Invalid):
        payments.start_generate(session, county, region(session, world, "county"), "2027-02")
    session.rollback()


# --- 3. a double click on "确认导入" imports the roster once ------------------------------------------------

def test_confirming_one_checked_roster_twice_starts_one_import(app, client, auth, session, world, tmp_path):
    standard(session, world)
    session.commit()
    auth.login("county")
    path = write(tmp_path / "roster.xlsx", clean_rows(4, ["100001001", "100002001"]))
    token = csrf_token(client, "/admin/data/")
    with open(path, "rb") as fh:
        res = client.post("/admin/data/import", data={"csrf_token": token, "file": (fh, "roster.xlsx")},
                          content_type="multipart/form-data")
    check_id = int(res.headers["Location"].rsplit("/", 1)[1])
    queue = app.extensions["dibao.jobs"]
    assert queue.drain() == 1
    first = client.post(f"/admin/jobs/{check_id}/confirm", data={"csrf_token": token})
    assert first.status_code == 302
    second = client.post(f"/admin/jobs/{check_id}/confirm", data={"csrf_token": token})  # the double click
    assert second.status_code == 409 and "已确认导入" in second.get_data(as_text=True)
    assert queue.drain() == 1
    session.rollback()
    assert session.scalar(select(func.count(Job.id)).where(Job.kind == "roster_import")) == 1
    assert session.scalar(select(func.count(Case.id))) == 4
    again = client.post(f"/admin/jobs/{check_id}/confirm", data={"csrf_token": token})  # after it is done, too
    assert again.status_code == 409
    session.rollback()
    assert session.scalar(select(func.count(Job.id)).where(Job.kind == "roster_import")) == 1


# --- 4. a 提标 applied by two workers at once is applied once ---------------------------------------------

def test_a_raise_applied_twice_at_the_same_moment_changes_each_household_once(app, session, world, clock):
    standard(session, world)
    case = active(session, world)  # 960 under 780
    new = entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                                   amount=Decimal("850.00"), effective_from=date(2026, 7, 1))
    clock.set(datetime(2026, 7, 1, 2, 0, tzinfo=UTC))
    raises.detect(session)
    session.commit()
    item = session.scalar(select(StandardRaise).where(StandardRaise.standard_id == new.id))
    county_id = world.users["county"]
    raises.apply(session, user(session, world, "county"), item)  # the first worker, not yet committed
    refused = at_the_same_moment(app, session, lambda other: raises.apply(
        other, other.get(User, county_id), other.get(StandardRaise, item.id)))
    assert len(refused) == 1 and "已经办理" in str(refused[0].message)
    session.rollback()
    raised = session.scalars(select(AmountPeriod).where(AmountPeriod.case_id == case.id,
                                                        AmountPeriod.change == AmountChange.standard_raised)).all()
    assert [p.amount for p in raised] == [Decimal("1100.00")]
    assert session.scalar(select(func.count(CaseRecord.id)).where(CaseRecord.case_id == case.id,
                                                                  CaseRecord.kind == RecordKind.standard_raise)) == 1


def test_two_imports_of_the_same_families_at_the_same_moment_import_them_once(app, session, world, tmp_path):
    """Two rosters holding the same families imported at the same moment (two towns' files, two clerks): the
    imports run one after the other, and the second finds the families of the first on file — no family is in
    payment twice."""
    standard(session, world)
    session.commit()
    county = user(session, world, "county")
    files = jobs.files_dir(app)
    # the same three families, sent in by two communities (a family that moved, counted by both)
    data = [write(tmp_path / f"roster-{code}.xlsx", clean_rows(3, [code])).read_bytes()
            for code in ("100001001", "100002001")]
    params = [{"upload": imports.save_upload(files, d, "roster.xlsx"), "filename": "roster.xlsx"} for d in data]
    second = jobs.start(session, county, "roster_import", params[1], title="名册导入")
    session.commit()
    outcome: list = []

    class Progress:
        job_id, files = 0, jobs.files_dir(app)

        def __call__(self, *args, **kwargs):
            pass

    with app.app_context(), app.extensions["dibao.write_sessions"]() as first:
        jobs.KINDS["roster_import"].run(first, first.get(User, county.id), params[0], Progress())  # not committed

        def second_worker():
            with app.app_context():
                outcome.append(jobs.run(app, second.id))

        worker = threading.Thread(target=second_worker)
        worker.start()
        worker.join(1.5)  # it checks the file while the first import has not committed
        first.commit()
    worker.join(60)
    assert not worker.is_alive()
    session.rollback()
    session.expire_all()
    assert outcome == [JobStatus.failed]
    failed = session.get(Job, second.id)
    assert failed.status == JobStatus.failed, failed.error
    assert "不能重复导入" in failed.error
    assert session.scalar(select(func.count(Case.id))) == 3
