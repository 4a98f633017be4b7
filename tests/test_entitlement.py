"""Issue 3: the amount formula on worked examples, and the regional standard.

amount = (standard − counted monthly income per person) × household size, never below 0.
"""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from dibao import entitlement
from dibao.errors import Conflict, Forbidden, Invalid
from dibao.models import Case, Member, MemberIncome, Region, User, WorkCapacity
from dibao.models.records import Standard

D = Decimal
STANDARD = D("780.00")


def household(*members, three_nos=False, override=None, reason=None):
    """members: (incomes as [(source, amount)], deduction, note)."""
    case = Case(no_income_no_capacity_no_supporter=three_nos, override_amount=override, override_reason=reason)
    for i, (incomes, deduction, note) in enumerate(members):
        m = Member(name=f"成员{i}", relation="本人" if i == 0 else "家属", age=40, health="",
                   work_capacity=WorkCapacity.partial, monthly_deduction=D(deduction), deduction_note=note)
        m.incomes = [MemberIncome(source=s, monthly_amount=D(a), note="") for s, a in incomes]
        case.members.append(m)
    return case


def test_gap_payment_with_excluded_income():
    case = household(
        ([("wage", "900.00"), ("award", "500.00")], "0", ""),  # a bravery award is not income
        ([("special_care", "300.00")], "0", ""),  # special-care pension is not income
        ([("assistance", "200.00")], "0", ""),  # temporary assistance is not income
    )
    r = entitlement.compute(case, STANDARD)
    assert r.gross_income == D("1900.00")
    assert r.excluded_income == D("1000.00")
    assert r.counted_income == D("900.00")
    assert r.per_person == D("300.00")
    assert r.gap_per_person == D("480.00")
    assert r.computed == D("1440.00")  # (780 − 300) × 3
    assert r.amount == D("1440.00") and not r.marginal


def test_deductions_for_illness_and_work_costs():
    case = household(
        ([("wage", "1500.00")], "200.00", "通勤及必要就业成本"),
        ([], "300.00", "慢性病长期用药"),
    )
    r = entitlement.compute(case, STANDARD)
    assert r.deduction_total == D("500.00")
    assert r.net_income == D("1000.00")
    assert r.per_person == D("500.00")
    assert r.computed == D("560.00")  # (780 − 500) × 2


def test_deductions_never_make_income_negative():
    case = household(([("wage", "100.00")], "400.00", "重度残疾护理"))
    r = entitlement.compute(case, STANDARD)
    assert r.net_income == D("0.00")
    assert r.computed == STANDARD


def test_three_nos_gets_the_full_standard():
    case = household(([("support", "150.00")], "0", ""), ([], "0", ""), three_nos=True)
    r = entitlement.compute(case, STANDARD)
    assert r.computed == D("1560.00")  # 780 × 2, income not counted against it


def test_rounding_half_up_to_the_fen():
    case = household(([("wage", "1.01")], "0", ""), ([], "0", ""))
    r = entitlement.compute(case, STANDARD)
    assert r.per_person == D("0.51")  # 0.505 → 0.51 (half up, not banker's 0.50)
    assert r.computed == D("1558.99")  # 780 × 2 − 1.01, exact
    thirds = household(([("wage", "1000.00")], "0", ""), ([], "0", ""), ([], "0", ""))
    r = entitlement.compute(thirds, STANDARD)
    assert r.per_person == D("333.33")
    assert r.computed == D("1340.00")  # 2340 − 1000: no cent lost to rounding per person


def test_never_below_zero_and_marginal_flag():
    over = household(([("wage", "3000.00")], "0", ""), ([], "0", ""), ([], "0", ""))
    r = entitlement.compute(over, STANDARD)
    assert r.computed == D("0.00") and not r.qualifies
    assert r.per_person == D("1000.00")
    assert r.marginal  # 1000 < 1.5 × 780 = 1170
    well_off = household(([("wage", "4000.00")], "0", ""), ([], "0", ""), ([], "0", ""))
    r = entitlement.compute(well_off, STANDARD)
    assert r.computed == D("0.00") and not r.marginal  # 1333.33 ≥ 1170
    qualifies = household(([("wage", "600.00")], "0", ""))
    assert not entitlement.compute(qualifies, STANDARD).marginal  # qualifies: not "marginal"


def test_override_needs_a_written_reason():
    case = household(([("wage", "600.00")], "0", ""))
    with pytest.raises(Invalid) as err:
        entitlement.set_override(case, D("300.00"), "  ")
    assert "理由" in str(err.value.message)
    assert case.override_amount is None
    entitlement.set_override(case, D("300.00"), "家中有重病患者，经县民政局研究提高保障")
    r = entitlement.compute(case, STANDARD)
    assert r.computed == D("180.00") and r.amount == D("300.00")
    entitlement.set_override(case, None, None)
    assert entitlement.compute(case, STANDARD).amount == D("180.00")


def test_without_a_standard_nothing_is_computed():
    r = entitlement.compute(household(([("wage", "600.00")], "0", "")), None)
    assert r.computed is None and r.amount is None


@pytest.mark.parametrize("text,expected", [("780", D("780.00")), ("1,234.5", D("1234.50")), ("", None)])
def test_parse_money(text, expected):
    assert entitlement.parse_money(text, field_name="x", allow_empty=True) == expected


@pytest.mark.parametrize("text", ["-1", "abc", "1.234", "NaN"])
def test_parse_money_refuses(text):
    with pytest.raises(Invalid):
        entitlement.parse_money(text, field_name="x")


def test_standard_nearest_region_and_effective_date(session, world):
    admin = session.get(User, world.users["admin"])
    county = session.get(Region, world.regions["county"])
    town_b = session.get(Region, world.regions["town_b"])
    comm_a1 = session.get(Region, world.regions["comm_a1"])
    comm_b1 = session.get(Region, world.regions["comm_b1"])
    entitlement.set_standard(session, admin, region=county, amount=D("760.00"), effective_from=date(2025, 1, 1))
    entitlement.set_standard(session, admin, region=county, amount=D("780.00"), effective_from=date(2026, 1, 1))
    entitlement.set_standard(session, admin, region=town_b, amount=D("820.00"), effective_from=date(2026, 3, 1))
    session.commit()
    assert entitlement.find_standard(session, comm_a1, date(2025, 6, 1)).monthly_amount == D("760.00")
    assert entitlement.find_standard(session, comm_a1, date(2026, 3, 18)).monthly_amount == D("780.00")
    assert entitlement.find_standard(session, comm_b1, date(2026, 2, 28)).monthly_amount == D("780.00")
    assert entitlement.find_standard(session, comm_b1, date(2026, 3, 1)).monthly_amount == D("820.00")
    assert entitlement.find_standard(session, comm_a1, date(2024, 12, 31)) is None
    # Many regions at once give what each gives alone, on every date around the standards' own.
    every = session.scalars(select(Region).order_by(Region.path)).all()
    for on in (date(2024, 12, 31), date(2025, 1, 1), date(2025, 6, 1), date(2026, 1, 1), date(2026, 2, 28),
               date(2026, 3, 1), date(2030, 1, 1)):
        at_once = {rid: (found.monthly_amount if found else None)
                   for rid, found in entitlement.standards_in_force(session, every, on).items()}
        alone = {r.id: (found.monthly_amount if (found := entitlement.find_standard(session, r, on)) else None)
                 for r in every}
        assert at_once == alone, on
    assert entitlement.standards_in_force(session, [comm_a1, comm_b1], date(2026, 3, 1)) == {
        comm_a1.id: entitlement.find_standard(session, comm_a1, date(2026, 3, 1)),
        comm_b1.id: entitlement.find_standard(session, town_b, date(2026, 3, 1))}
    with pytest.raises(Conflict):
        entitlement.set_standard(session, admin, region=county, amount=D("790.00"), effective_from=date(2026, 1, 1))


def test_only_admin_sets_standards(session, world):
    county_user = session.get(User, world.users["county"])
    county = session.get(Region, world.regions["county"])
    with pytest.raises(Forbidden):
        entitlement.set_standard(session, county_user, region=county, amount=D("800.00"),
                                 effective_from=date(2026, 7, 1))
    session.rollback()
    assert session.scalars(select(Standard)).all() == []
