"""The roster import under a 分档 standard (A 23): the template's 分档 column; in the dry run a tier the standard
in force for the community does not have is an error beside the row and column, a missing one a warning (imported
without a tier, paid the file's amount, and the case page asks for one), a tier under a 差额 standard a warning
(not imported); the amount is checked under the household's tier; the import stores the tier with its reason."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from dibao import entitlement, imports
from dibao.errors import Invalid
from dibao.models import AmountPeriod, AuditEvent, Case
from dibao.models.job import Job, JobStatus
from tests.case_helpers import region, standard, user
from tests.conftest import csrf_token
from tests.roster_files import bank_card, household, person_id, write

TIERS = [entitlement.TierRow("一档", "100"), entitlement.TierRow("二档", "70"), entitlement.TierRow("三档", "40")]
CHILD = {"relation": "子女", "work_capacity": "无劳动能力", "age": ""}


def _tiered(session, world, where="county"):
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, where),
                             amount=Decimal("780.00"), effective_from=date(2026, 1, 1), method="tiered", tiers=TIERS)


def _home(n: int, community: str, name: str, *, members: int = 0, **head) -> list[dict]:
    """Household ``n`` headed by ``name``, with ``members`` children besides the head."""
    children = [{**CHILD, "name": f"{name}子{i}", "id_number": person_id(10_000_000 + n * 4 + i, "20100101")}
                for i in range(1, members + 1)]
    return household(str(n), community, person_id(n * 4 + 1), name=name, holder_name=name,
                     account_number=bank_card(n), members=children, **head)


def _check(app, client, path) -> int:
    with open(path, "rb") as fh:
        res = client.post("/admin/data/import", data={"csrf_token": csrf_token(client, "/admin/data/"),
                                                      "file": (fh, path.name)}, content_type="multipart/form-data")
    assert res.status_code == 302, res.get_data(as_text=True)[:500]
    job_id = int(re.search(r"/admin/jobs/(\d+)", res.headers["Location"]).group(1))
    assert app.extensions["dibao.jobs"].drain() == 1
    return job_id


def _report(session, job_id) -> imports.Report:
    return imports.Report.from_dict(json.loads(session.get(Job, job_id).result))


def _fresh(session):
    session.rollback()
    session.expire_all()


def _cases(session) -> dict[str, Case]:
    _fresh(session)
    return {case.head_name: case for case in session.scalars(select(Case))}


MISSING = ("测试县的低保标准按分档计算，该户没有填分档：将按文件中的金额导入，不分档；导入后请在案件页为该户选择分档"
           "（一档、二档、三档）。")
UNKNOWN = "分档“四档”不是测试县现行低保标准中的一档，应为：一档、二档、三档。"


@pytest.fixture
def county(app, client, auth, world, session):
    auth.login("county")
    return client


def test_the_template_has_the_tier_column_beside_the_category_and_explains_it(county, session, world):
    book = CalamineWorkbook.from_filelike(io.BytesIO(county.get("/admin/data/import/template.xlsx").data))
    headers = book.get_sheet_by_name("低保名册").to_python()[0]
    assert headers[headers.index("分类") + 1] == "分档"
    notes = {row[0]: row[1] for row in book.get_sheet_by_name("填写说明").to_python()[1:] if row and row[0]}
    assert notes["分档"].startswith("只读户主行。")  # not required: a 差额 county leaves it empty
    assert "现行标准中的一档" in notes["分档"] and "按差额计算的地区不填" in notes["分档"]


def _tier_list(client):
    """The 分档 column's drop-down in the template (None: none) and the column's line in the notes sheet."""
    book = openpyxl.load_workbook(io.BytesIO(client.get("/admin/data/import/template.xlsx").data))
    sheet = book["低保名册"]
    column = get_column_letter([c.value for c in sheet[1]].index("分档") + 1)
    found = [dv for dv in sheet.data_validations.dataValidation if f"{column}2" in dv.sqref]
    notes = {row[0].value: row[1].value for row in book["填写说明"].iter_rows(min_row=2) if row[0].value}
    return (found[0] if found else None), notes["分档"]


def test_the_template_offers_the_tiers_in_force_in_the_users_area_as_a_drop_down(county, session, world):
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                             amount=Decimal("760.00"), effective_from=date(2025, 1, 1))  # 差额: nothing to choose
    session.commit()
    listed, note = _tier_list(county)
    assert listed is None and "本辖区现行分档" not in note

    _tiered(session, world)  # from 2026-01-01, in force today
    session.commit()
    listed, note = _tier_list(county)
    assert listed.type == "list" and listed.formula1.strip('"').split(",") == ["一档", "二档", "三档"]
    assert listed.errorStyle in (None, "stop")  # one set of tiers: anything else is refused as it is typed
    assert "本辖区现行分档：一档、二档、三档。" in note

    # A town with a tier more, and the county's next standard not yet in force: the tiers in force in the
    # county's communities, each once; two sets, so Excel only warns and the check decides by the community.
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "town_b"),
                             amount=Decimal("800.00"), effective_from=date(2026, 2, 1), method="tiered",
                             tiers=[*TIERS, entitlement.TierRow("四档", "20")])
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                             amount=Decimal("820.00"), effective_from=date(2099, 1, 1), method="tiered",
                             tiers=[*TIERS, entitlement.TierRow("五档", "10")])
    session.commit()
    listed, note = _tier_list(county)
    assert listed.formula1.strip('"').split(",") == ["一档", "二档", "三档", "四档"]
    assert listed.errorStyle == "warning"
    assert "本辖区现行分档：一档、二档、三档、四档。" in note


def test_a_tiered_county_imports_each_household_with_its_tier_and_checks_the_amount_under_it(
        app, county, world, session, tmp_path):
    _tiered(session, world)
    session.commit()
    rows = [
        *_home(1, "100001001", "张二档", members=2, tier="二档", monthly_amount="1638.00"),  # rows 2–4: 780 × 70% × 3
        *_home(2, "100001001", "王未分", tier="", monthly_amount="500.00"),  # row 5: no tier
        *_home(3, "100001002", "赵三无", members=1, tier="", income="", no_income_no_capacity_no_supporter="是",
               monthly_amount="1560.00"),  # rows 6, 7: 三无, the full standard whatever the tier
        *_home(4, "100002001", "钱一档", tier="一档", monthly_amount="800.00"),  # row 8: 780 under 一档
    ]
    check_id = _check(app, county, write(tmp_path / "roster.xlsx", rows))
    report = _report(session, check_id)
    assert {(p.row, p.column, p.code, p.warning) for p in report.problems} == {
        (5, "分档", "tier_missing", True),
        (8, "月保障金额（元）", "amount_differs", True),
    }
    page = county.get(f"/admin/jobs/{check_id}").get_data(as_text=True)
    assert MISSING in page and "月保障金额 800.00 元与按标准核算的 780.00 元不一致" in page and "确认导入" in page

    import_id = int(re.search(r"/admin/jobs/(\d+)", county.post(
        f"/admin/jobs/{check_id}/confirm", data={"csrf_token": csrf_token(county, "/admin/data/")}
    ).headers["Location"]).group(1))
    assert app.extensions["dibao.jobs"].drain() == 1
    _fresh(session)
    assert session.get(Job, import_id).status == JobStatus.done
    got = {name: (c.tier_name, c.tier_reason, c.computed_amount, c.override_amount, c.monthly_amount)
           for name, c in _cases(session).items()}
    assert got == {
        "张二档": ("二档", "导入原有名册时的分档", Decimal("1638.00"), None, Decimal("1638.00")),
        "王未分": (None, None, None, None, Decimal("500.00")),  # paid as the file says until a tier is chosen
        "赵三无": (None, None, Decimal("1560.00"), None, Decimal("1560.00")),
        "钱一档": ("一档", "导入原有名册时的分档", Decimal("780.00"), Decimal("800.00"), Decimal("800.00")),
    }
    cases = _cases(session)
    period = session.scalar(select(AmountPeriod).where(AmountPeriod.case_id == cases["王未分"].id))
    assert period.amount == Decimal("500.00")
    # Each household's "imported" event says the tier it came in with (none where the file had none).
    events = {name: json.loads(session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "case_imported", AuditEvent.object_id == str(cases[name].id))) or "{}")
        for name in cases}
    assert {name: d.get("tier") for name, d in events.items()} == {
        "张二档": "二档", "王未分": None, "赵三无": None, "钱一档": "一档"}

    page = county.get(f"/admin/cases/{cases['张二档'].id}").get_data(as_text=True)
    assert "请选择分档" not in page
    assert "分档：二档，每人为低保标准的 70%（理由：导入原有名册时的分档）" in page
    assert "780.00 × 70% = 546.00 元/人；546.00 × 3 = 1638.00 元/月" in page
    page = county.get(f"/admin/cases/{cases['王未分'].id}").get_data(as_text=True)
    assert "请选择分档" in page and "该户尚未选择分档" in page
    assert "请选择分档" not in county.get(f"/admin/cases/{cases['赵三无'].id}").get_data(as_text=True)


def test_a_tier_the_standard_does_not_have_is_an_error_and_nothing_is_imported(app, county, world, session,
                                                                               tmp_path):
    _tiered(session, world)
    session.commit()
    rows = [
        *_home(1, "100001001", "张四档", tier="四档", monthly_amount="546.00"),  # row 2
        *_home(2, "100001001", "李二档", tier="二档", monthly_amount="546.00"),  # row 3: good
        *_home(3, "100001001", "王两错", tier="四档", phone="12345", monthly_amount="546.00"),  # row 4: two errors
    ]
    path = write(tmp_path / "roster.xlsx", rows)
    check_id = _check(app, county, path)
    report = _report(session, check_id)
    assert {(p.row, p.column, p.code) for p in report.errors} == {
        (2, "分档", "tier_unknown"), (4, "分档", "tier_unknown"), (4, "联系电话", "invalid")}
    assert not report.warnings
    assert [p.message for p in report.errors if p.row == 2] == [UNKNOWN]
    page = county.get(f"/admin/jobs/{check_id}").get_data(as_text=True)
    assert UNKNOWN in page and "文件有错误，不能导入" in page and "确认导入" not in page
    res = county.post(f"/admin/jobs/{check_id}/confirm", data={"csrf_token": csrf_token(county, "/admin/data/")})
    assert res.status_code == 400
    with pytest.raises(Invalid):
        imports.import_roster(session, user(session, world, "county"), path, "roster.xlsx")
    _fresh(session)
    assert session.scalar(select(func.count(Case.id))) == 0


def test_a_tier_under_a_gap_standard_is_a_warning_and_is_not_imported(world, session, tmp_path):
    """The standard in force for each community decides: the county pays by 差额, one of its towns by 分档."""
    standard(session, world)
    _tiered(session, world, "town_b")
    session.commit()
    rows = [
        *_home(1, "100001001", "甲差额", tier="二档", monthly_amount="330.00"),  # row 2: 780 − 450
        *_home(2, "100002001", "乙二档", tier="二档", monthly_amount="546.00"),  # row 3: 780 × 70%
    ]
    report = imports.import_roster(session, user(session, world, "county"), write(tmp_path / "roster.csv", rows,
                                                                                  fmt="csv"), "roster.csv")
    session.commit()
    assert [(p.row, p.column, p.code, p.warning, p.message) for p in report.problems] == [
        (2, "分档", "tier_ignored", True, "测试县的低保标准按差额计算，不分档；将不导入该户的分档“二档”。")]
    got = {name: (c.tier_name, c.computed_amount, c.override_amount) for name, c in _cases(session).items()}
    assert got == {"甲差额": (None, Decimal("330.00"), None), "乙二档": ("二档", Decimal("546.00"), None)}


def test_the_command_lines_dry_run_reports_each_tier_problem(runner, world, session, tmp_path):
    standard(session, world)
    _tiered(session, world, "town_b")
    session.commit()
    rows = [
        *_home(1, "100001001", "甲差额", tier="二档", monthly_amount="330.00"),  # row 2: 差额, tier written
        *_home(2, "100002001", "乙四档", tier="四档", monthly_amount="546.00"),  # row 3: unknown
        *_home(3, "100002001", "乙未分", monthly_amount="546.00"),  # row 4: none
        *_home(4, "100002001", "乙二档", tier="二档", monthly_amount="546.00"),  # row 5: right
    ]
    result = runner.invoke(args=["import", "roster", str(write(tmp_path / "roster.xlsx", rows)), "--dry-run"])
    assert result.exit_code == 1
    assert "1 处错误, 2 处提示" in result.output
    assert "提示  第 2 行  分档  测试县的低保标准按差额计算，不分档；将不导入该户的分档“二档”。" in result.output
    assert "错误  第 3 行  分档  分档“四档”不是乙街道现行低保标准中的一档，应为：一档、二档、三档。" in result.output
    assert ("提示  第 4 行  分档  乙街道的低保标准按分档计算，该户没有填分档：将按文件中的金额导入，不分档；"
            "导入后请在案件页为该户选择分档（一档、二档、三档）。") in result.output
    assert "第 5 行" not in result.output
    _fresh(session)
    assert session.scalar(select(func.count(Case.id))) == 0


def test_a_tier_where_no_standard_is_set_is_a_warning_and_is_not_imported(world, session, tmp_path):
    _tiered(session, world, "town_b")  # the county itself has none: 甲镇's communities have no standard
    session.commit()
    rows = _home(1, "100001001", "甲无标准", tier="二档", monthly_amount="330.00")
    report, drafts = imports.check(session, user(session, world, "county"), write(tmp_path / "r.xlsx", rows), "r.xlsx")
    assert {(p.row, p.column, p.code, p.warning) for p in report.problems} == {
        (2, "分档", "tier_ignored", True), (2, "月保障金额（元）", "no_standard", True)}
    assert "甲一社区还没有设置低保标准，无法核对分档；将不导入该户的分档。" in [p.message for p in report.problems]
    assert [d.tier_name for d in drafts] == [None]
