"""Issue 13, province scale: the reworked queries give the same answers as the rules they stand for — the case
search by ID number (hash looked up first), the dashboard's counts (one pass), and the amount in force (one rule,
``entitlement.in_force_intervals``, behind both ``in_force`` and the statistics)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select

from dibao import cases, entitlement, reviews, workdays, workflow
from dibao.models import AmountChange, Case, Stage
from tests.case_helpers import register, standard, to_stage, user, valid_id


def test_search_by_id_number_finds_the_head_and_a_member_within_scope_only(session, world, clock):
    standard(session, world)
    staff_a1, staff_b1 = user(session, world, "staff_a1"), user(session, world, "staff_b1")
    head_id, member_id, other_id = valid_id(), valid_id(), valid_id()
    by_head = register(session, staff_a1, head_name="甲户", head_id_number=head_id)
    by_member = register(session, staff_a1, head_name="乙户", members=1)
    cases.add_member(session, staff_a1, by_member, name="乙小", relation="子女", age=9, id_number=member_id,
                     health="", work_capacity=by_member.members[0].work_capacity, deduction=None, deduction_note="")
    elsewhere = register(session, staff_b1, head_name="丙户", head_id_number=other_id)
    session.commit()
    county = user(session, world, "county")
    assert [c.id for c in cases.search(session, county, q=head_id).items] == [by_head.id]
    assert [c.id for c in cases.search(session, county, q=member_id[:6] + " " + member_id[6:]).items] == [by_member.id]
    page = cases.search(session, staff_a1, q=other_id)  # another community's household: not in staff_a1's scope
    assert (page.items, page.total) == ([], 0)
    assert [c.id for c in cases.search(session, county, q=other_id).items] == [elsewhere.id]
    assert cases.search(session, county, q=valid_id()).total == 0  # a valid number nobody has


def _one_count_each(session, user_):
    """The dashboard's figures as they were counted before: one scoped count per condition."""
    in_scope = cases._in_scope(user_)
    counts = {}
    for key, condition in cases.overdue_conditions(calendar=workdays.calendar(session, user_.region)).items():
        counts[key] = session.scalar(select(func.count(Case.id)).where(in_scope, condition))
    counts["review_due"] = reviews.due_count(session, user_)
    counts["open"] = session.scalar(select(func.count(Case.id)).where(
        in_scope, Case.stage.in_(workflow.UNDECIDED_STAGES)))
    return counts


def test_dashboard_counts_in_one_pass_equal_one_count_per_condition(session, world, clock):
    standard(session, world)
    staff_a1, staff_b1 = user(session, world, "staff_a1"), user(session, world, "staff_b1")
    clock.set(datetime(2026, 1, 5, 2, tzinfo=UTC))  # accepted long ago: home visit and whole case overdue
    late = [register(session, staff_a1, head_name=f"早{i}", head_id_number=valid_id()) for i in range(3)]
    register(session, staff_b1, head_name="乙早", head_id_number=valid_id())
    to_stage(session, world, late[1], Stage.county_approval)
    to_stage(session, world, late[2], Stage.active)
    clock.set(datetime(2026, 3, 18, 2, tzinfo=UTC))
    register(session, staff_a1, head_name="新", head_id_number=valid_id())
    session.commit()
    clock.set(datetime(2027, 6, 1, 2, tzinfo=UTC))  # the active household's review is due by now
    for name in ("county", "town_a", "town_b", "staff_a1", "staff_a2"):
        who = user(session, world, name)
        expected = _one_count_each(session, who)
        assert cases.deadline_summary(session, who) == expected, name
    county = cases.deadline_summary(session, user(session, world, "county"))
    assert county == {"home_visit": 3, "county": 1, "whole": 4, "review_due": 1, "open": 4}


def test_in_force_is_the_open_interval_of_in_force_intervals(session, world, clock):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    to_stage(session, world, case, Stage.active)  # approved in March: 960 from April
    county = user(session, world, "county")
    entitlement.start_period(session, county, case, amount=Decimal("1000"), starts_on=date(2026, 6, 1),
                             change=AmountChange.adjusted)
    entitlement.start_period(session, county, case, amount=Decimal("800"), starts_on=date(2026, 6, 20),
                             change=AmountChange.adjusted)  # the same month: the newer one wins
    entitlement.start_period(session, county, case, amount=Decimal("0"), starts_on=date(2026, 9, 1),
                             change=AmountChange.exited)
    session.commit()
    months = [date(2026, m, 1) for m in range(3, 12)]
    intervals = list(session.execute(entitlement.in_force_intervals(months[-1])))
    seen = {}
    for month in months:
        in_force = {row.case_id: row.amount for row in session.execute(entitlement.in_force(month))}
        by_interval = {row.case_id: row.amount for row in intervals
                       if row.starts_on <= month and (row.until is None or month < row.until)}
        assert in_force == by_interval, month
        seen[month] = in_force.get(case.id)
    assert [seen[m] for m in months] == [None, Decimal("960.00"), Decimal("960.00"), Decimal("800.00"),
                                         Decimal("800.00"), Decimal("800.00"), Decimal("0.00"), Decimal("0.00"),
                                         Decimal("0.00")]


def test_review_due_count_is_the_rule_counted_in_two_halves(session, world, clock):
    """``reviews.due_count`` counts "date come" and "a proposal waiting, date not come" apart (for the index):
    the sum equals one count under ``reviews.due_condition`` — a household with both counts once, two open
    proposals count once, a closed proposal or another town's household not at all."""
    from dibao.models.management import Proposal, ProposalKind, ProposalSource, ProposalStatus

    standard(session, world)
    staff_a1, staff_b1 = user(session, world, "staff_a1"), user(session, world, "staff_b1")
    households = [register(session, staff_a1, head_name=f"复{i}", head_id_number=valid_id()) for i in range(6)]
    households.append(register(session, staff_b1, head_name="乙复", head_id_number=valid_id()))
    for case in households[:-1]:
        to_stage(session, world, case, Stage.active)
    households[-1].stage = Stage.active  # another town's household (to_stage drives town A's)
    today = clock.now().date()
    past, future = date(today.year - 1, 1, 1), date(today.year + 1, 1, 1)
    # (review date, proposals' statuses) of each household
    shapes = [(past, []), (past, ["open"]), (future, ["open"]), (future, ["open", "open"]), (future, []),
              (future, ["confirmed"]), (future, ["open"])]  # the last: another town's
    for case, (due, statuses) in zip(households, shapes, strict=True):
        case.next_review_due = due
        for status in statuses:
            session.add(Proposal(case_id=case.id, kind=ProposalKind.amount, source=ProposalSource.review,
                                 status=ProposalStatus(status), reason="复核", created_by_name="专干",
                                 created_at=clock.now()))
    session.commit()
    for name in ("county", "town_a", "town_b", "staff_a1", "staff_a2"):
        who = user(session, world, name)
        one_count = session.scalar(select(func.count(Case.id)).where(
            Case.region_id.in_(cases.scope.region_ids_in_scope(who)), reviews.due_condition()))
        assert reviews.due_count(session, who) == one_count, name
    assert reviews.due_count(session, user(session, world, "town_a")) == 4
    assert reviews.due_count(session, user(session, world, "county")) == 5
