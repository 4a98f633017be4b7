"""分档 on the staff screens: the standards form (method, tier rows; bad input refused beside its field, nothing
saved), the county decision's tier select, the case page's breakdown (「请选择分档」 until a tier is chosen); and
nothing of a tier on the public pages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from dibao import entitlement
from dibao.models import AuditEvent, Case, Stage
from dibao.models.records import Standard, StandardMethod, StandardTier
from tests.case_helpers import fresh, region, register, to_stage, user
from tests.conftest import csrf_token
from tests.test_all_errors import field_error


def _count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def _tiered(session, world, amount="780.00"):
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                             amount=Decimal(amount), effective_from=date(2026, 1, 1), method="tiered",
                             tiers=[entitlement.TierRow("一档", "100"), entitlement.TierRow("二档", "70"),
                                    entitlement.TierRow("三档", "40")])


def _post_standard(client, world, **fields):
    data = {"csrf_token": csrf_token(client, "/admin/standards/"), "region_id": world.regions["county"],
            "monthly_amount": "780", "effective_from": "2026-01-01", "note": "县政府文件", **fields}
    return client.post("/admin/standards/", data=data)


def test_the_standards_form_offers_the_method_and_tier_rows(client, auth, world):
    auth.login("admin")
    html = client.get("/admin/standards/").get_data(as_text=True)
    assert 'name="method"' in html and "分档：标准 × 该档比例 × 人数" in html
    assert 'name="tiers-0-name"' in html and 'name="tiers-4-share"' in html


def test_bad_tiers_are_refused_beside_their_fields_and_nothing_is_saved(client, auth, session, world):
    auth.login("admin")
    before = (_count(session, Standard), _count(session, StandardTier), _count(session, AuditEvent))
    res = _post_standard(client, world, method="tiered", **{
        "tiers-0-name": "一档", "tiers-0-share": "150", "tiers-1-name": "一档", "tiers-1-share": "70",
        "tiers-2-name": "", "tiers-2-share": "40%"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "1 到 100 之间的整数" in field_error(html, "tiers-0-share")
    assert "重复" in field_error(html, "tiers-1-name")
    assert "请填写分档名称" in field_error(html, "tiers-2-name")
    assert (_count(session, Standard), _count(session, StandardTier), _count(session, AuditEvent)) == before

    res = _post_standard(client, world, method="tiered")  # 分档 with no tier at all
    html = res.get_data(as_text=True)
    assert res.status_code == 400 and "至少要设置一档" in html
    res = _post_standard(client, world, method="gap", **{"tiers-0-name": "一档", "tiers-0-share": "100"})
    assert res.status_code == 400 and "不设分档" in field_error(res.get_data(as_text=True), "method")
    assert (_count(session, Standard), _count(session, StandardTier), _count(session, AuditEvent)) == before


def test_good_tiers_are_saved_listed_and_audited(client, auth, session, world):
    auth.login("admin")
    res = _post_standard(client, world, method="tiered", **{
        "tiers-0-name": "一档", "tiers-0-share": "100", "tiers-1-name": "二档", "tiers-1-share": "70%",
        "tiers-2-name": " 三档 ", "tiers-2-share": "40"})
    assert res.status_code == 302
    fresh(session)
    stored = session.scalar(select(Standard))
    assert stored.method == StandardMethod.tiered
    assert [(t.name, t.share_percent) for t in stored.tiers] == [("一档", 100), ("二档", 70), ("三档", 40)]
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "standard_set")) == 1
    html = client.get("/admin/standards/").get_data(as_text=True)
    assert "分档：一档 100%、二档 70%、三档 40%" in html


def test_the_case_page_asks_for_a_tier_then_shows_the_arithmetic(client, auth, session, world, clock):
    case = register(session, user(session, world, "staff_a1"), members=3)
    to_stage(session, world, case, Stage.county_approval)
    _tiered(session, world)  # (the county turned to 分档 after the town's decision)
    session.commit()
    auth.login("county")
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "请选择分档" in page and "计算方法：分档" in page and "核算金额 =" not in page

    form = client.get(f"/admin/cases/{case.id}/county-decision").get_data(as_text=True)
    assert 'name="tier"' in form and "二档（标准的 70%）" in form
    token = csrf_token(client, f"/admin/cases/{case.id}/county-decision")
    res = client.post(f"/admin/cases/{case.id}/county-decision", data={
        "csrf_token": token, "decision": "approve", "opinion": "同意纳入低保。", "tier": "", "tier_reason": ""})
    assert res.status_code == 400 and "请选择该户的分档" in field_error(res.get_data(as_text=True), "tier")
    res = client.post(f"/admin/cases/{case.id}/county-decision", data={
        "csrf_token": token, "decision": "approve", "opinion": "同意纳入低保。", "tier": "二档", "tier_reason": "短"})
    assert res.status_code == 400 and "必须写明理由" in field_error(res.get_data(as_text=True), "tier_reason")
    fresh(session)
    assert session.get(Case, case.id).tier_name is None
    res = client.post(f"/admin/cases/{case.id}/county-decision", data={
        "csrf_token": token, "decision": "approve", "opinion": "同意纳入低保。", "tier": "二档",
        "tier_reason": "家庭困难程度一般"})
    assert res.status_code == 302
    fresh(session)
    stored = session.get(Case, case.id)
    assert stored.tier_name == "二档" and stored.computed_amount == Decimal("1638.00")
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "请选择分档" not in page
    assert "分档：二档，每人为低保标准的 70%" in page and "家庭困难程度一般" in page
    assert "780.00 × 70% = 546.00 元/人；546.00 × 3 = 1638.00 元/月" in page


def test_a_gap_county_sees_no_tier(client, auth, session, world, clock):
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                             amount=Decimal("780.00"), effective_from=date(2026, 1, 1))
    case = register(session, user(session, world, "staff_a1"))
    to_stage(session, world, case, Stage.county_approval)
    session.commit()
    auth.login("county")
    assert 'name="tier"' not in client.get(f"/admin/cases/{case.id}/county-decision").get_data(as_text=True)
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "计算方法：差额" in page and "请选择分档" not in page and "核算金额 = (780.00 − 300.00) × 2" in page


def test_the_policy_page_publishes_the_method_but_no_households_tier(client, session, world, clock):
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "town_a"),
                             amount=Decimal("700.00"), effective_from=date(2026, 1, 1))
    _tiered(session, world)
    case = register(session, user(session, world, "staff_a1"), members=3, head_name="周秀英")
    case.tier_name = "二档"
    session.commit()
    html = client.get("/policies/").get_data(as_text=True)
    assert "780.00" in html and "分档：一档 100%、二档 70%、三档 40%" in html  # the county's policy (四公开)
    assert "差额：标准减家庭月人均收入" in html  # the town's own standard
    assert "周秀英" not in html


def test_the_town_decision_form_proposes_the_tier(client, auth, session, world, clock):
    _tiered(session, world)
    case = register(session, user(session, world, "staff_a1"), members=3)
    to_stage(session, world, case, Stage.town_decision)
    session.commit()
    auth.login("town_a")
    url = f"/admin/cases/{case.id}/town-decision"
    form = client.get(url).get_data(as_text=True)
    assert 'name="tier"' in form and "拟定分档" in form and "三档（标准的 40%）" in form
    data = {"csrf_token": csrf_token(client, url), "held_on": "2026-03-02", "title": "镇党委会议",
            "participants": "书记\n镇长\n委员", "decision": "approve", "opinion": "经镇党委会议研究，同意。",
            "tier": "", "tier_reason": ""}
    res = client.post(url, data=data)
    assert res.status_code == 400 and "请选择该户的分档" in field_error(res.get_data(as_text=True), "tier")
    fresh(session)
    assert session.get(Case, case.id).stage == Stage.town_decision
    assert session.get(Case, case.id).tier_name is None
    res = client.post(url, data={**data, "tier": "三档", "tier_reason": "有部分劳动收入"})
    assert res.status_code == 302, res.get_data(as_text=True)
    fresh(session)
    stored = session.get(Case, case.id)
    assert stored.tier_name == "三档" and stored.monthly_amount == Decimal("936.00")  # 780 × 40% × 3
    assert "分档：三档，每人为低保标准的 40%" in client.get(f"/admin/cases/{case.id}").get_data(as_text=True)


def test_the_case_page_of_a_household_above_the_standard_asks_for_no_tier(client, auth, session, world, clock):
    _tiered(session, world)
    case = register(session, user(session, world, "staff_a1"), members=2, income="2000.00")  # 1000 each > 780
    session.commit()
    auth.login("staff_a1")
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "请选择分档" not in page and "不分档" in page and "核算金额为 0" in page


def test_a_tier_a_scheduled_standard_lacks_is_refused_on_the_form(client, auth, session, world):
    auth.login("admin")
    two = {"tiers-0-name": "一档", "tiers-0-share": "100", "tiers-1-name": "二档", "tiers-1-share": "70"}
    assert _post_standard(client, world, method="tiered", **two).status_code == 302
    assert _post_standard(client, world, method="tiered", effective_from="2027-01-01", **two).status_code == 302
    before = (_count(session, Standard), _count(session, StandardTier), _count(session, AuditEvent))
    res = _post_standard(client, world, method="tiered", effective_from="2026-07-01",
                         **two, **{"tiers-2-name": "三档", "tiers-2-share": "40"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "2027-01-01 起执行的测试县低保标准已经设定" in html and "缺少三档" in html
    assert (_count(session, Standard), _count(session, StandardTier), _count(session, AuditEvent)) == before


def test_the_case_page_under_a_gap_standard_says_the_tier_is_dormant(client, auth, session, world, clock):
    _tiered(session, world)
    case = register(session, user(session, world, "staff_a1"), members=3)
    case.tier_name, case.tier_reason = "二档", "家庭困难程度一般"  # chosen under 分档
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                             amount=Decimal("800.00"), effective_from=date(2026, 3, 1), method="gap")
    session.commit()
    auth.login("staff_a1")
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "计算方法：差额" in page and "请选择分档" not in page
    assert "该户原定分档“二档”：现行标准按差额计算，此档暂不适用" in page
    assert session.get(Case, case.id).tier_name == "二档"  # kept: it applies again should 分档 return with it
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                             amount=Decimal("850.00"), effective_from=date(2026, 7, 1), method="tiered",
                             tiers=[entitlement.TierRow("一档", "100"), entitlement.TierRow("二档", "70")])
    later = entitlement.compute_for(session, session.get(Case, case.id), date(2026, 7, 1))
    assert (later.tier_name, later.computed) == ("二档", Decimal("1785.00"))  # 850 × 70% × 3


def test_deleting_a_standard_a_later_tiered_one_needs_is_refused_with_its_names(client, auth, session, world):
    auth.login("admin")
    three = {"tiers-0-name": "一档", "tiers-0-share": "100", "tiers-1-name": "二档", "tiers-1-share": "70",
             "tiers-2-name": "三档", "tiers-2-share": "40"}
    assert _post_standard(client, world, method="tiered", **three).status_code == 302
    assert _post_standard(client, world, method="gap", effective_from="2026-07-01", monthly_amount="800").status_code == 302
    assert _post_standard(client, world, method="tiered", effective_from="2027-01-01",
                          **{k: v for k, v in three.items() if not k.startswith("tiers-2")}).status_code == 302
    session.rollback()
    gap = session.scalar(select(Standard).where(Standard.effective_from == date(2026, 7, 1)))
    before = (_count(session, Standard), _count(session, StandardTier), _count(session, AuditEvent))
    res = client.post(f"/admin/standards/{gap.id}/delete", data={"csrf_token": csrf_token(client, "/admin/standards/")})
    html = res.get_data(as_text=True)
    assert res.status_code == 409
    assert "不能删除这条标准：2027-01-01 起执行的测试县低保标准按分档计算" in html and "缺少其中的三档" in html
    assert (_count(session, Standard), _count(session, StandardTier), _count(session, AuditEvent)) == before


# --- the 提标 preview: the tier each household is computed under, carried over or revived by name ------------

def _standard(session, world, day, amount, method, *names):
    shares = {"一档": "100", "二档": "70", "三档": "40", "四档": "20"}
    return entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                                    amount=Decimal(amount), effective_from=day, method=method,
                                    tiers=[entitlement.TierRow(name, shares[name]) for name in names])


def _households(session, world, *tiers):
    """Households in payment (960.00 a month under 780 差额: 2 people, 600 income), each given ``tiers``' name."""
    out = []
    for tier in tiers:
        case = to_stage(session, world, register(session, user(session, world, "staff_a1")), Stage.active)
        case.tier_name, case.tier_reason = tier, ("按困难程度评定" if tier else None)
        out.append(case)
    session.commit()
    return out


def _raise_page(client, auth, session, clock, standard) -> str:
    from datetime import UTC, datetime

    from dibao import raises
    from dibao.models.management import StandardRaise

    clock.set(datetime(2026, 7, 1, 2, 0, tzinfo=UTC))
    raises.detect(session)
    session.commit()
    item = session.scalar(select(StandardRaise).where(StandardRaise.standard_id == standard.id))
    auth.login("county")
    return client.get(f"/admin/raises/{item.id}").get_data(as_text=True)


def _row(html: str, number: str) -> str:
    """The preview table's row of the household ``number``."""
    table = html.split('id="raise-lines"', 1)[1].split("</table>", 1)[0]
    [row] = [row for row in table.split("<tr>") if f">{number}</a>" in row]
    return row


def test_the_raise_preview_shows_revived_tiers_and_lists_households_the_new_standard_has_no_tier_for(
        client, auth, session, world, clock):
    _standard(session, world, date(2025, 1, 1), "700.00", "tiered", "一档", "二档", "三档")  # 分档 once
    _standard(session, world, date(2026, 1, 1), "780.00", "gap")  # then 差额: the tiers dormant
    revived, lacking, none = _households(session, world, "二档", "三档", None)
    back = _standard(session, world, date(2026, 7, 1), "850.00", "tiered", "一档", "二档")  # 分档 again, no 三档
    session.commit()
    html = _raise_page(client, auth, session, clock, back)

    row = _row(html, revived.number)
    assert "二档" in row and "恢复：差额期间保留的原定分档" in row
    assert "960.00" in row and "1190.00" in row  # 850 × 70% × 2
    row = _row(html, lacking.number)
    assert "“三档”（新标准没有此档）" in row and "新标准没有该户的分档，不变" in row and "1190.00" not in row
    row = _row(html, none.number)
    assert "未选择分档，不变" in row and "恢复" not in row
    # listed apart, so the county can give them a tier before confirming
    section = html.split('id="raise-without-tier"', 1)[1].split("</section>", 1)[0]
    assert "以下 2 户按新标准没有可用的分档" in section
    assert f">{lacking.number}</a>" in section and "原定分档“三档”，新标准没有此档" in section
    assert f">{none.number}</a>" in section and "未选择分档" in section
    assert f">{revived.number}</a>" not in section


def test_the_raise_preview_marks_a_tier_carried_over_from_the_standard_before(client, auth, session, world, clock):
    _standard(session, world, date(2026, 1, 1), "780.00", "gap")
    kept, new_name = _households(session, world, "二档", "四档")
    _standard(session, world, date(2026, 2, 1), "780.00", "tiered", "一档", "二档", "三档")
    raised = _standard(session, world, date(2026, 7, 1), "850.00", "tiered", "一档", "二档", "三档", "四档")
    session.commit()
    html = _raise_page(client, auth, session, clock, raised)

    row = _row(html, kept.number)
    assert "二档" in row and "沿用：此前标准下选定" in row and "恢复" not in row and "1190.00" in row
    # 四档 is new with this standard: chosen under it, not carried over
    row = _row(html, new_name.number)
    assert "四档" in row and "沿用" not in row and "恢复" not in row and "340.00" in row  # 850 × 20% × 2
    assert 'id="raise-without-tier"' not in html
