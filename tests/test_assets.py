"""Issue 10 item 7: assets, the verification (核对) the county approval requires, the 返贫 flag (flagged for a
written decision, never refused by the code), limits per county, the marginal households' list."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest

from dibao import assets, workflow
from dibao.errors import Conflict, Forbidden, Invalid
from dibao.models import Decision, Stage
from dibao.models.household import AssetKind, VerificationResult
from tests.case_helpers import region, register, standard, to_stage, town_decision, user
from tests.conftest import csrf_token
from tests.factories import tiny_pdf
from tests.test_all_errors import field_error as error_beside


@pytest.fixture
def w(session, world):
    standard(session, world)
    return world


def _at_county_without_verification(session, world, **kwargs):
    case = register(session, user(session, world, "staff_a1"), **kwargs)
    to_stage(session, world, case, Stage.town_decision)
    town_decision(session, user(session, world, "town_a"), case, levels=())
    assert case.stage == Stage.county_approval
    return case


def _limits(session, world, **kwargs):
    values = dict(housing_units=1, housing_area_per_person=Decimal("40"), vehicles=0,
                  deposits_per_person=Decimal("9360"), business_allowed=False)
    values.update(kwargs)
    return assets.set_limits(session, user(session, world, "admin"), region(session, world, "county"), **values)


def _approve(session, world, case):
    return workflow.record_county_decision(session, user(session, world, "county"), case,
                                           decision=Decision.approve, opinion="同意。", levels=())


def test_county_approval_requires_a_completed_verification(session, w):
    case = _at_county_without_verification(session, w)
    session.commit()
    with pytest.raises(Conflict, match="家庭经济状况核对"):
        _approve(session, w, case)
    session.rollback()
    town = user(session, w, "town_a")
    v = assets.request_verification(session, town, case, requested_on=date(2026, 3, 18),
                                    authorised_on=date(2026, 3, 18),
                                    agencies=["不动产登记", "公安（车辆）"])
    session.commit()
    with pytest.raises(Conflict, match="核对"):  # a request without its result is not enough
        _approve(session, w, case)
    session.rollback()
    assets.record_result(session, town, case, v.id, result=VerificationResult.consistent,
                         result_on=date(2026, 3, 18), findings="")
    _approve(session, w, case)
    assert case.stage == Stage.active and case.monthly_amount == Decimal("960.00")


def test_a_rejection_needs_no_verification(session, w):
    case = _at_county_without_verification(session, w)
    workflow.record_county_decision(session, user(session, w, "county"), case, decision=Decision.reject,
                                    opinion="经核实家庭有经营性收入，不符合条件")
    assert case.stage == Stage.rejected


def test_returning_to_poverty_is_flagged_for_a_written_decision_not_refused(session, w):
    """The seed's 返贫 case: a car and a flat (assets above the limits) but income below the standard."""
    _limits(session, w)
    case = register(session, user(session, w, "staff_a1"), income="300.00", members=2)
    staff = user(session, w, "staff_a1")
    assets.add_asset(session, staff, case, kind=AssetKind.vehicle, description="旧面包车（2009 年）", units=1)
    assets.add_asset(session, staff, case, kind=AssetKind.housing, description="楼房一套", units=1,
                     area=Decimal("60"))
    check = assets.asset_check(session, case)
    assert check.income_below and check.exceeds and check.flagged
    assert [line.label for line in check.lines if line.exceeds] == ["机动车辆"]  # 30 m² a head is within 40
    to_stage(session, w, case, Stage.county_approval, levels=())  # nothing earlier refuses it either
    session.commit()
    with pytest.raises(Conflict, match="酌情决定"):
        _approve(session, w, case)
    session.rollback()
    county = user(session, w, "county")
    with pytest.raises(Invalid):
        assets.record_discretion(session, county, case, "同意")  # too short: it must be written out
    assets.record_discretion(session, county, case, "面包车为户主残疾后唯一的出行工具，车龄 17 年，价值很低；酌情不计入资产，同意纳入。")
    _approve(session, w, case)
    assert case.stage == Stage.active


def test_assets_above_the_limit_with_income_above_the_standard_are_not_a_flag(session, w):
    _limits(session, w)
    case = register(session, user(session, w, "staff_a1"), income="2000.00", members=2)
    assets.add_asset(session, user(session, w, "staff_a1"), case, kind=AssetKind.deposit, value=Decimal("50000"))
    check = assets.asset_check(session, case)
    assert check.exceeds and not check.income_below and not check.flagged


def test_without_limits_nothing_is_flagged(session, w):
    case = register(session, user(session, w, "staff_a1"), income="300.00")
    assets.add_asset(session, user(session, w, "staff_a1"), case, kind=AssetKind.vehicle, units=2)
    check = assets.asset_check(session, case)
    assert check.limits is None and not check.flagged


def test_limits_are_the_county_admins(session, w):
    county_region = user(session, w, "admin").region
    with pytest.raises(Forbidden):
        assets.set_limits(session, user(session, w, "county"), county_region, housing_units=1,
                          housing_area_per_person=Decimal("40"), vehicles=0, deposits_per_person=Decimal("1"),
                          business_allowed=False)
    limits = _limits(session, w, vehicles=1)
    assert limits.vehicles == 1 and assets.limits_for(session, user(session, w, "staff_b1").region) is limits


def test_result_rules(session, w):
    case = register(session, user(session, w, "staff_a1"))
    town = user(session, w, "town_a")
    v = assets.request_verification(session, user(session, w, "staff_a1"), case, requested_on=date(2026, 3, 18),
                                    authorised_on=date(2026, 3, 18),
                                    agencies=["银行（存款）"])
    with pytest.raises(Forbidden):  # the community asks; the result comes back to the town or the county
        assets.record_result(session, user(session, w, "staff_a1"), case, v.id,
                             result=VerificationResult.consistent, result_on=date(2026, 3, 18), findings="")
    with pytest.raises(Invalid, match="不一致"):
        assets.record_result(session, town, case, v.id, result=VerificationResult.discrepancy,
                             result_on=date(2026, 3, 18), findings="")
    with pytest.raises(Invalid):
        assets.record_result(session, town, case, v.id, result=VerificationResult.consistent,
                             result_on=date(2026, 3, 18) - timedelta(days=1), findings="")
    assets.record_result(session, town, case, v.id, result=VerificationResult.discrepancy,
                         result_on=date(2026, 3, 18), findings="银行存款 8 万元未申报")
    with pytest.raises(Conflict):
        assets.record_result(session, town, case, v.id, result=VerificationResult.consistent,
                             result_on=date(2026, 3, 18), findings="")


def test_marginal_households_have_their_own_list(client, auth, session, w):
    marginal = register(session, user(session, w, "staff_a1"), income="2000.00", members=2)  # 1000 < 1170
    poor = register(session, user(session, w, "staff_a1"), income="300.00", members=2)
    rich = register(session, user(session, w, "staff_a1"), income="5000.00", members=2)
    session.commit()
    assert marginal.marginal and not poor.marginal and not rich.marginal
    assert assets.marginal_households(session, user(session, w, "town_a")) == [marginal]
    assert assets.marginal_households(session, user(session, w, "staff_b1")) == []
    auth.login("staff_a1")
    page = client.get("/admin/household/marginal").get_data(as_text=True)
    assert marginal.number in page and poor.number not in page and "1170.00" in page


def test_amount_pages_show_the_asset_check_beside_the_income(client, auth, session, w):
    _limits(session, w)
    case = register(session, user(session, w, "staff_a1"), income="300.00")
    assets.add_asset(session, user(session, w, "staff_a1"), case, kind=AssetKind.vehicle, units=1)
    to_stage(session, w, case, Stage.county_approval)
    session.commit()
    auth.login("county")
    for path in (f"/admin/cases/{case.id}", f"/admin/cases/{case.id}/county-decision",
                 f"/admin/cases/{case.id}/assets"):
        page = client.get(path).get_data(as_text=True)
        assert "保障金额核算" in page and "资产核对" in page and "返贫情形" in page, path
    token = csrf_token(client, f"/admin/cases/{case.id}/county-decision")
    res = client.post(f"/admin/cases/{case.id}/county-decision",
                      data={"csrf_token": token, "decision": "approve", "opinion": "同意。"})
    assert res.status_code == 409 and "酌情决定" in res.get_data(as_text=True)
    res = client.post(f"/admin/cases/{case.id}/asset-discretion",
                      data={"csrf_token": token, "text": "车辆为残疾人功能性补偿代步车，酌情不计入，同意纳入低保。"})
    assert res.status_code == 302
    res = client.post(f"/admin/cases/{case.id}/county-decision",
                      data={"csrf_token": token, "decision": "approve", "opinion": "同意。"})
    assert res.status_code == 302


def test_verification_with_its_document_through_the_pages(client, auth, session, w):
    case = register(session, user(session, w, "staff_a1"))
    session.commit()
    auth.login("staff_a1")
    token = csrf_token(client, f"/admin/cases/{case.id}/assets")
    wanted = {"csrf_token": token, "requested_on": "2026-03-18", "agencies": ["不动产登记", "税务"],
              "other_agencies": "住建局"}
    # A 14, B 11: not without the family's written authorisation, signed before the request
    res = client.post(f"/admin/cases/{case.id}/verifications", data=wanted)
    assert res.status_code == 400 and "没有书面授权" in error_beside(res.get_data(as_text=True), "authorised_on")
    res = client.post(f"/admin/cases/{case.id}/verifications", data={**wanted, "authorised_on": "2026-03-19"})
    assert res.status_code == 400 and "之前" in error_beside(res.get_data(as_text=True), "authorised_on")
    assert assets.verifications(session, case) == []
    res = client.post(f"/admin/cases/{case.id}/verifications", data={**wanted, "authorised_on": "2026-03-17"})
    assert res.status_code == 302
    res = client.post(f"/admin/cases/{case.id}/verifications", data={"csrf_token": token,
                                                                     "requested_on": "2026-03-18"})
    assert res.status_code == 400 and "核对的部门" in res.get_data(as_text=True)
    page = client.get(f"/admin/cases/{case.id}/assets").get_data(as_text=True)
    assert "不动产登记、税务、住建局" in page and "登记核对结果" not in page  # the community cannot enter results
    assert "授权书：家庭成员于 2026年3月17日 签署" in page
    auth.logout()
    auth.login("town_a")
    session.rollback()  # a new snapshot: the requests since have committed
    verification_id = assets.verifications(session, case)[0].id
    pdf = tiny_pdf()
    res = client.post(f"/admin/cases/{case.id}/verifications/{verification_id}/result", data={
        "csrf_token": csrf_token(client, "/admin/"), "result": "consistent", "result_on": "2026-03-18",
        "findings": "", "document": (io.BytesIO(pdf), "report.pdf")}, content_type="multipart/form-data")
    assert res.status_code == 302, res.get_data(as_text=True)[:500]
    page = client.get(f"/admin/cases/{case.id}/assets").get_data(as_text=True)
    assert "与申报一致" in page and "家庭经济状况核对报告" in page
