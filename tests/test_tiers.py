"""分档 (tiered amounts, REGULATIONS "Amount", A 23) as a county's choice: a standard carries its calculation method
(差额 by default, or 分档 with its tiers); staff choose a household's tier with a written reason; compute() pays
standard × share × size; a 提标 keeps each household's tier by name."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from dibao import entitlement, raises, workflow
from dibao.errors import Conflict, Invalid
from dibao.models import AuditEvent, Case, Decision, Stage
from dibao.models.records import Standard, StandardMethod, StandardTier
from tests.case_helpers import region, register, to_stage, town_decision, user, verify
from tests.test_entitlement import household

D = Decimal
TIERS = [("一档", 100), ("二档", 70), ("三档", 40)]
ROWS = [entitlement.TierRow(name, str(share)) for name, share in TIERS]


def tier_case(name=None, *members, three_nos=False):
    case = household(*(members or ((([("wage", "600.00")], "0", "")), ([], "0", ""), ([], "0", ""))),
                     three_nos=three_nos)
    case.tier_name = name
    return case


# --- compute(): gap, tiered, 三无, no tier -------------------------------------------------------------

def test_gap_is_the_default_and_unchanged():
    r = entitlement.compute(tier_case("二档"), D("780.00"))  # a tier name means nothing under 差额
    assert r.method == StandardMethod.gap and not r.tiered and r.tier_name is None
    assert r.computed == D("1740.00")  # 780 × 3 − 600


def test_tiered_pays_the_share_of_the_standard_per_person_times_size():
    r = entitlement.compute(tier_case("二档"), D("785.50"), method=StandardMethod.tiered, tiers=TIERS)
    assert (r.tier_name, r.tier_share) == ("二档", 70)
    assert r.tier_per_person == D("549.85")  # 785.50 × 70%
    assert r.computed == D("1649.55") == r.amount  # × 3, income does not enter the figure
    third = entitlement.compute(tier_case("三档"), D("785.55"), method="tiered", tiers=TIERS)
    assert third.tier_per_person == D("314.22") and third.computed == D("942.66")  # 314.22 (half up) × 3


def test_three_nos_keeps_the_full_standard_under_tiers():
    r = entitlement.compute(tier_case("三档", three_nos=True), D("780.00"), method=StandardMethod.tiered, tiers=TIERS)
    assert r.computed == D("2340.00") and not r.tier_missing
    assert entitlement.compute(tier_case(None, three_nos=True), D("780.00"), method="tiered",
                               tiers=TIERS).computed == D("2340.00")


def test_no_tier_no_amount_and_the_computation_says_why():
    for name in (None, "四档"):  # none chosen; one the standard does not have
        r = entitlement.compute(tier_case(name), D("780.00"), method=StandardMethod.tiered, tiers=TIERS)
        assert r.computed is None and r.amount is None and r.tier_missing and not r.qualifies


def test_the_override_still_wins():
    case = tier_case(None)
    case.override_amount, case.override_reason = D("500.00"), "重病，人工核定"
    r = entitlement.compute(case, D("780.00"), method=StandardMethod.tiered, tiers=TIERS)
    assert r.computed is None and r.amount == D("500.00")
    case.tier_name = "一档"
    assert entitlement.compute(case, D("780.00"), method="tiered", tiers=TIERS).amount == D("500.00")


# --- setting a tiered standard ------------------------------------------------------------------------

def _set(session, world, *, day=date(2026, 1, 1), amount="780.00", method="tiered", tiers=ROWS, where="county"):
    return entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, where),
                                    amount=D(amount), effective_from=day, method=method, tiers=tiers)


def _events(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def test_a_tiered_standard_keeps_its_tiers_and_is_audited(session, world):
    standard = _set(session, world, tiers=[*ROWS, entitlement.TierRow("", "")])  # an empty row is no tier
    session.commit()
    stored = session.get(Standard, standard.id)
    assert stored.method == StandardMethod.tiered
    assert [(t.name, t.share_percent) for t in stored.tiers] == TIERS
    [event] = _events(session, "standard_set")
    details = json.loads(event.details) if isinstance(event.details, str) else event.details
    assert details["method"] == "tiered" and details["tiers"] == "一档 100%、二档 70%、三档 40%"


def test_a_standard_without_a_method_is_a_gap_one(session, world):
    standard = entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                                        amount=D("780.00"), effective_from=date(2026, 1, 1))
    assert standard.method == StandardMethod.gap and standard.tiers == []


@pytest.mark.parametrize("method, rows, expected", [
    ("tiered", [], [("tiers", "至少要设置一档")]),
    ("tiered", [entitlement.TierRow("一档", "0"), entitlement.TierRow("二档", "101"),
                entitlement.TierRow("三档", "七十"), entitlement.TierRow("四档", "")],
     [("tiers-0-share", "1 到 100"), ("tiers-1-share", "1 到 100"), ("tiers-2-share", "1 到 100"),
      ("tiers-3-share", "请填写该档")]),
    ("tiered", [entitlement.TierRow("一档", "100"), entitlement.TierRow("一档", "70"),
                entitlement.TierRow("", "40"), entitlement.TierRow("长" * 21, "30")],
     [("tiers-1-name", "重复"), ("tiers-2-name", "请填写分档名称"), ("tiers-3-name", "最多 20 个字")]),
    ("gap", ROWS, [("method", "不设分档")]),
    ("flat", [], [("method", "请选择计算方法")]),
])
def test_bad_tiers_are_refused_in_chinese_and_nothing_is_saved(session, world, method, rows, expected):
    with pytest.raises(Invalid) as refused:
        _set(session, world, method=method, tiers=rows)
    problems = [(f, str(m)) for f, m in refused.value.field_problems]
    for field, part in expected:
        assert any(f == field and part in m for f, m in problems), (field, part, problems)
    assert {f for f, _m in problems} == {f for f, _part in expected}
    session.rollback()
    assert session.scalars(select(Standard)).all() == [] and session.scalars(select(StandardTier)).all() == []
    assert _events(session, "standard_set") == []


def test_a_new_standard_follows_the_tiers_of_the_one_it_replaces(session, world):
    _set(session, world)
    raised = _set(session, world, day=date(2026, 3, 1), amount="850.00", method=None, tiers=())
    assert raised.method == StandardMethod.tiered
    assert [(t.name, t.share_percent) for t in raised.tiers] == TIERS
    # new shares are fine; dropping a name households hold is not
    again = _set(session, world, day=date(2026, 5, 1), tiers=[entitlement.TierRow("一档", "100"),
                                                              entitlement.TierRow("二档", "75"),
                                                              entitlement.TierRow("三档", "45")])
    assert [t.share_percent for t in again.tiers] == [100, 75, 45]
    with pytest.raises(Invalid) as refused:
        _set(session, world, day=date(2026, 7, 1), tiers=[entitlement.TierRow("甲档", "100")])
    assert "缺少一档、二档、三档" in str(refused.value.field_problems)


TWO = [entitlement.TierRow("一档", "100"), entitlement.TierRow("二档", "70")]
WITH_THIRD = [*TWO, entitlement.TierRow("三档", "40")]


def _refused_tiers(session, world, **kwargs) -> list[str]:
    """The messages beside the tier rows when a standard is refused; nothing of it is saved."""
    standards, events = len(session.scalars(select(Standard)).all()), len(_events(session, "standard_set"))
    with pytest.raises(Invalid) as refused:
        _set(session, world, **kwargs)
    session.rollback()
    assert (len(session.scalars(select(Standard)).all()), len(_events(session, "standard_set"))) == (standards, events)
    return [str(m) for f, m in refused.value.field_problems if f == "tiers"]


def test_a_standard_set_before_a_scheduled_one_keeps_to_its_tier_names(session, world):
    _set(session, world, tiers=TWO)
    _set(session, world, day=date(2027, 1, 1), amount="850.00", tiers=())  # scheduled: 一档、二档 (followed)
    session.commit()
    # 三档 from 2026-07-01 would leave its households without a tier on 2027-01-01
    [message] = _refused_tiers(session, world, day=date(2026, 7, 1), amount="800.00", tiers=WITH_THIRD)
    assert "2027-01-01" in message and "测试县" in message and "缺少三档" in message
    # the same names, new shares: fine; and after the scheduled one nothing follows
    between = _set(session, world, day=date(2026, 7, 1), amount="800.00",
                   tiers=[entitlement.TierRow("一档", "100"), entitlement.TierRow("二档", "75")])
    assert [t.name for t in between.tiers] == ["一档", "二档"]
    assert [t.name for t in _set(session, world, day=date(2027, 7, 1), tiers=WITH_THIRD).tiers] == ["一档", "二档", "三档"]


def test_only_the_next_scheduled_standard_is_the_one_that_follows(session, world):
    _set(session, world, tiers=TWO)
    _set(session, world, day=date(2026, 9, 1), tiers=WITH_THIRD)  # keeps 一档、二档, adds 三档
    _set(session, world, day=date(2027, 1, 1), tiers=())  # follows 2026-09-01: 一档、二档、三档
    session.commit()
    # 三档 from 2026-07-01: the next one (2026-09-01) has it, so nobody loses it
    assert [t.name for t in _set(session, world, day=date(2026, 7, 1), tiers=WITH_THIRD).tiers][-1] == "三档"
    session.commit()
    [message] = _refused_tiers(session, world, day=date(2026, 8, 1),
                               tiers=[*WITH_THIRD, entitlement.TierRow("四档", "20")])
    assert "2026-09-01" in message and "缺少四档" in message and "2027-01-01" not in message


def test_a_town_s_own_scheduled_standard_follows_a_new_county_one(session, world):
    _set(session, world, tiers=TWO)
    _set(session, world, day=date(2027, 1, 1), tiers=(), where="town_a")  # 甲镇's first own: the county's tiers
    session.commit()
    [message] = _refused_tiers(session, world, day=date(2026, 7, 1), tiers=WITH_THIRD)
    assert "2027-01-01" in message and "甲镇" in message and "缺少三档" in message


def test_a_town_with_a_standard_of_its_own_already_does_not_follow_the_county(session, world):
    _set(session, world, tiers=TWO)
    _set(session, world, day=date(2026, 2, 1), tiers=TWO, where="town_a")
    _set(session, world, day=date(2027, 1, 1), tiers=(), where="town_a")  # follows 甲镇's 2026-02-01
    session.commit()
    assert len(_set(session, world, day=date(2026, 7, 1), tiers=WITH_THIRD).tiers) == 3


def test_a_later_gap_standard_asks_nothing_of_the_tiers(session, world):
    _set(session, world, tiers=TWO)
    _set(session, world, day=date(2027, 1, 1), method="gap", tiers=())
    session.commit()
    assert len(_set(session, world, day=date(2026, 7, 1), tiers=WITH_THIRD).tiers) == 3


# --- deleting a scheduled standard keeps the chain of tier names ------------------------------------------

def _delete(session, world, standard):
    entitlement.delete_standard(session, user(session, world, "admin"), standard.id)


def _refused_deletion(session, world, standard) -> str:
    """The message refusing to delete ``standard``; nothing is deleted, nothing audited."""
    standards, tiers = len(session.scalars(select(Standard)).all()), len(session.scalars(select(StandardTier)).all())
    with pytest.raises(Conflict) as refused:
        _delete(session, world, standard)
    session.rollback()
    assert session.get(Standard, standard.id) is not None
    assert (len(session.scalars(select(Standard)).all()),
            len(session.scalars(select(StandardTier)).all())) == (standards, tiers)
    assert _events(session, "standard_deleted") == []
    return str(refused.value.message)


def test_deleting_a_scheduled_gap_standard_a_later_tiered_one_followed_is_refused(session, world):
    _set(session, world, tiers=WITH_THIRD)  # in force: 一档、二档、三档
    gap = _set(session, world, day=date(2026, 7, 1), method="gap", tiers=())
    _set(session, world, day=date(2027, 1, 1), tiers=TWO)  # after a gap one: any names
    session.commit()
    # without the gap one, 2027-01-01 would follow 2026-01-01 and its 三档 households would lose their tier
    message = _refused_deletion(session, world, gap)
    assert "2027-01-01 起执行的测试县低保标准" in message and "缺少其中的三档" in message
    assert "2026-01-01" in message


def test_deleting_the_county_standard_a_town_s_first_own_one_followed_is_refused(session, world):
    _set(session, world, tiers=WITH_THIRD)
    gap = _set(session, world, day=date(2026, 7, 1), method="gap", tiers=())
    _set(session, world, day=date(2027, 1, 1), tiers=TWO, where="town_a")  # 甲镇's first own, after the gap one
    session.commit()
    message = _refused_deletion(session, world, gap)
    assert "2027-01-01 起执行的甲镇低保标准" in message and "缺少其中的三档" in message


def test_a_harmless_deletion_still_deletes_and_is_audited(session, world):
    _set(session, world, tiers=TWO)
    between = _set(session, world, day=date(2026, 7, 1), tiers=WITH_THIRD)  # adds 三档
    last = _set(session, world, day=date(2027, 1, 1), tiers=())  # follows it: 一档、二档、三档
    gap = _set(session, world, day=date(2027, 7, 1), method="gap", tiers=())
    _set(session, world, day=date(2028, 1, 1), tiers=WITH_THIRD)  # after the gap one, keeps every name anyway
    _set(session, world, day=date(2027, 9, 1), tiers=WITH_THIRD, where="town_a")  # 甲镇's first own: follows the gap
    session.commit()
    # 2027-01-01 then follows 2026-01-01 (一档、二档): it has both; 2028-01-01 and 甲镇's 2027-09-01 follow
    # 2027-01-01: they have all three
    for standard in (between, gap):
        _delete(session, world, standard)
        session.commit()
        assert session.get(Standard, standard.id) is None
    assert len(_events(session, "standard_deleted")) == 2
    assert [t.name for t in session.get(Standard, last.id).tiers] == ["一档", "二档", "三档"]


def test_under_a_gap_standard_the_household_s_tier_is_kept_and_said_to_be_dormant():
    case = tier_case("二档")
    gap = entitlement.compute(case, D("780.00"))
    assert gap.dormant_tier == "二档" and gap.tier_name is None and gap.computed == D("1740.00")
    again = entitlement.compute(case, D("780.00"), method=StandardMethod.tiered, tiers=TIERS)
    assert again.dormant_tier is None and (again.tier_name, again.computed) == ("二档", D("1638.00"))
    assert entitlement.compute(tier_case(None), D("780.00")).dormant_tier is None
    assert entitlement.compute(case, None).dormant_tier is None  # no standard: nothing computed at all


# --- a case's tier: chosen with the amount, audited ----------------------------------------------------

def _approval_ready(session, world, tier=None, **kwargs):
    """A case at county approval; ``tier`` is the one the town proposed with its decision (分档 asks for one)."""
    case = register(session, user(session, world, "staff_a1"), members=3, **kwargs)
    to_stage(session, world, case, Stage.town_decision)
    town = user(session, world, "town_a")
    town_decision(session, town, case, levels=(), tier=tier, tier_reason="按困难程度评定" if tier else None)
    verify(session, town, case)
    return case


def test_county_approval_under_tiers_needs_a_tier_and_its_reason(session, world):
    case_id = _approval_ready(session, world).id
    _set(session, world)  # (the county turned to 分档 after the town's decision)
    session.commit()
    assert entitlement.compute_for(session, session.get(Case, case_id)).tier_missing
    for tier, reason, field in ((None, None, "tier"), ("二档", "", "tier_reason"), ("五档", "家庭困难程度一般", "tier")):
        with pytest.raises(Invalid) as refused:
            workflow.record_county_decision(session, user(session, world, "county"), session.get(Case, case_id),
                                            decision=Decision.approve, opinion="同意纳入低保。", tier=tier,
                                            tier_reason=reason)
        assert [f for f, _m in refused.value.field_problems] == [field]
        session.rollback()
    case = session.get(Case, case_id)
    county = user(session, world, "county")
    assert case.stage == Stage.county_approval and case.tier_name is None and _events(session, "tier_chosen") == []

    workflow.record_county_decision(session, county, case, decision=Decision.approve, opinion="同意纳入低保。", levels=(),
                                    tier="二档", tier_reason="家庭困难程度一般")
    session.commit()
    case = session.get(Case, case.id)
    assert case.stage == Stage.active and (case.tier_name, case.tier_reason) == ("二档", "家庭困难程度一般")
    assert case.monthly_amount == case.computed_amount == D("1638.00")  # 780 × 70% × 3
    [event] = _events(session, "tier_chosen")
    assert event.object_id == str(case.id)
    details = json.loads(event.details) if isinstance(event.details, str) else event.details
    assert details == {"before": None, "after": "二档", "reason": "家庭困难程度一般"}


def test_a_gap_county_is_not_asked_for_a_tier(session, world):
    _set(session, world, method="gap", tiers=())
    case = _approval_ready(session, world)
    session.commit()
    with pytest.raises(Invalid) as refused:
        workflow.record_county_decision(session, user(session, world, "county"), case, decision=Decision.approve,
                                        opinion="同意纳入低保。", tier="一档", tier_reason="家庭困难程度高")
    assert "不分档" in str(refused.value.field_problems)
    session.rollback()
    case = session.get(Case, case.id)
    workflow.record_county_decision(session, user(session, world, "county"), case, decision=Decision.approve,
                                    opinion="同意纳入低保。", levels=())
    assert case.monthly_amount == D("1740.00")  # 780 × 3 − 600, as before


def test_adjusting_the_amount_changes_the_tier(session, world):
    _set(session, world)
    case = _approval_ready(session, world, tier="三档")
    county = user(session, world, "county")
    workflow.record_county_decision(session, county, case, decision=Decision.approve, opinion="同意纳入低保。", levels=(),
                                    tier="三档", tier_reason="有部分收入来源")
    assert case.monthly_amount == D("936.00")  # 780 × 40% × 3
    workflow.adjust_amount(session, county, case, amount=None, reason="户主重病住院，困难加重", tier="一档")
    assert (case.tier_name, case.monthly_amount) == ("一档", D("2340.00"))
    assert [e.details if isinstance(e.details, dict) else json.loads(e.details)
            for e in _events(session, "tier_chosen")][-1]["before"] == "三档"


# --- 提标 -------------------------------------------------------------------------------------------------

def test_a_raise_of_a_tiered_county_gives_each_household_the_new_standard_times_its_share(session, world, clock):
    _set(session, world)
    county = user(session, world, "county")
    households = {}
    for tier in ("一档", "二档", "三档"):
        case = _approval_ready(session, world, tier=tier)
        workflow.record_county_decision(session, county, case, decision=Decision.approve, opinion="同意纳入低保。", levels=(),
                                        tier=tier, tier_reason="按困难程度评定")
        households[case.id] = tier
    raised = _set(session, world, day=date(2026, 3, 1), amount="850.00", method=None, tiers=())  # tiers copied
    [item] = [i for i in raises.detect(session) if i.standard_id == raised.id]
    preview = raises.preview(session, county, standard_id=raised.id)
    assert {line.case_id: line.new for line in preview.lines} == {
        cid: D("850.00") * dict(TIERS)[tier] / 100 * 3 for cid, tier in households.items()}
    raises.apply(session, county, item)
    session.commit()
    for cid, tier in households.items():
        case = session.get(Case, cid)
        assert case.monthly_amount == (D("850.00") * dict(TIERS)[tier] / 100 * 3).quantize(D("0.01"))
        assert case.tier_name == tier
    assert {D("2550.00"), D("1785.00"), D("1020.00")} == {session.get(Case, cid).monthly_amount for cid in households}


def test_a_raise_leaves_a_household_without_a_tier_as_it_is(session, world, clock):
    case = _approval_ready(session, world)
    _set(session, world)
    county = user(session, world, "county")
    workflow.record_county_decision(session, county, case, decision=Decision.approve, opinion="同意纳入低保。", levels=(),
                                    override_amount="900.00", override_reason="人工核定，尚未评档")
    case.override_amount = case.override_reason = None  # (as a household imported without a tier)
    raised = _set(session, world, day=date(2026, 3, 1), amount="850.00", method=None, tiers=())
    [line] = raises.preview(session, county, standard_id=raised.id).lines
    assert line.no_tier and line.new == line.old == D("900.00") and not line.changed


# --- who qualifies under 分档, and the town's proposed tier ---------------------------------------------

def test_tiers_change_the_amount_not_who_qualifies():
    # 2 persons, 1,700 a month of wages: 850 each, above the standard of 780 — nothing, whatever the tier
    above = tier_case("一档", ([("wage", "1700.00")], "0", ""), ([], "0", ""))
    r = entitlement.compute(above, D("780.00"), method=StandardMethod.tiered, tiers=TIERS)
    assert r.computed == D("0.00") and not r.qualifies and not r.tier_missing
    assert r.marginal  # 850 < 1.5 × 780
    rich = tier_case(None, ([("wage", "3000.00")], "0", ""), ([], "0", ""))
    r = entitlement.compute(rich, D("780.00"), method=StandardMethod.tiered, tiers=TIERS)
    assert r.computed == D("0.00") and not r.marginal and not r.tier_missing  # no tier needed to say no


def test_the_town_proposes_the_tier_so_its_notice_shows_the_amount(session, world):
    _set(session, world)
    case = register(session, user(session, world, "staff_a1"), members=3)
    to_stage(session, world, case, Stage.town_decision)
    town = user(session, world, "town_a")
    session.commit()
    with pytest.raises(Invalid) as refused:
        town_decision(session, town, session.get(Case, case.id))
    assert [f for f, _m in refused.value.field_problems] == ["tier"]
    session.rollback()
    case = session.get(Case, case.id)
    assert case.stage == Stage.town_decision and case.tier_name is None and _events(session, "tier_chosen") == []
    town_decision(session, town, case, tier="二档", tier_reason="家庭困难程度一般")
    assert case.stage != Stage.town_decision and case.tier_name == "二档"
    assert case.monthly_amount == D("1638.00")  # 780 × 70% × 3: what the notice will show
    [event] = _events(session, "tier_chosen")
    assert event.actor_id == town.id
    # a refusal asks for no tier
    other = register(session, user(session, world, "staff_a1"), members=3)
    to_stage(session, world, other, Stage.town_decision)
    town_decision(session, town, other, decision=Decision.reject)
    assert other.stage == Stage.rejected and other.tier_name is None
