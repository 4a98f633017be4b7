"""The administrators' forms report every problem at once, each beside its field, and write nothing: staff accounts
(dibao.accounts), regions (dibao.regions), the standard (dibao.entitlement.set_standard) and the county's holiday
calendar (dibao.workdays.save_year) — through the admin form and through the domain call (the command line's
too). A lone duplicate is still a conflict (409)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import accounts, entitlement, regions, workdays
from dibao.errors import Conflict, Invalid
from dibao.models import AuditEvent, HolidayCalendar, Region, Role, User
from dibao.models.records import Standard
from tests.case_helpers import region, standard, user
from tests.conftest import csrf_token
from tests.test_all_errors import count, field_error


def fields(err) -> list[str | None]:
    return [name for name, _message in err.field_problems]


def events(session) -> int:
    return count(session, AuditEvent)


# --- staff accounts ----------------------------------------------------------------------------------------

def test_new_account_form_shows_every_problem(client, auth, session, world):
    auth.login("admin")
    users, logged = count(session, User), events(session)
    res = client.post("/admin/users/new", data={
        "csrf_token": csrf_token(client, "/admin/users/new"), "username": "AB", "display_name": "",
        "role": "county_approver", "region_id": world.regions["comm_a1"], "password": "12345678"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "用户名只能包含小写字母" in field_error(html, "username")
    assert "请填写姓名" in field_error(html, "display_name")  # empty: reported with the rest, not alone first
    assert "至少需要 10 个字符" in field_error(html, "password")
    assert "该角色不能设在这一级行政区划" in field_error(html, "region_id")
    assert count(session, User) == users and events(session) == logged


def test_create_user_collects_a_duplicate_with_the_other_problems(app, session, world):
    comm = region(session, world, "comm_a1")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        accounts.create_user(session, None, username="Staff_A1", display_name="\u200b\u3000", password="password",
                             role=Role.county_approver, region=comm)
    err = caught.value
    assert err.status == 400 and fields(err) == ["username", "display_name", "password", "region_id"]
    assert "用户名已被使用" in str(err.field_problems[0][1])
    session.rollback()
    assert count(session, User) == len(world.users)
    with app.test_request_context(), pytest.raises(Conflict) as caught:  # the duplicate alone: still a 409
        accounts.create_user(session, None, username="staff_a1", display_name="新人", password=world.password,
                             role=Role.community_staff, region=comm)
    assert caught.value.status == 409 and fields(caught.value) == ["username"]


def test_create_user_command_lists_every_problem(runner, session, world):
    result = runner.invoke(args=["create-user", "--username", "x", "--name", "\u200b", "--role", "county_approver",
                                 "--region", "100001001", "--password", "short"])
    assert result.exit_code != 0
    for message in ("用户名只能包含", "请填写姓名", "至少需要 10 个字符", "该角色不能设在这一级行政区划"):
        assert message in result.output, result.output
    assert count(session, User) == len(world.users)


def test_account_edit_shows_every_problem_and_changes_nothing(client, auth, session, world):
    target = user(session, world, "staff_a2")
    before = (target.display_name, target.role, target.password_hash, target.session_version)
    session.rollback()
    auth.login("admin")
    res = client.post(f"/admin/users/{world.users['staff_a2']}/edit", data={
        "csrf_token": csrf_token(client, "/admin/users/"), "username": "staff_a2", "display_name": "甲二专干改",
        "role": "county_approver", "region_id": world.regions["comm_a2"], "active": "y", "password": "123"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "该角色不能设在这一级行政区划" in field_error(html, "region_id")
    assert "至少需要 10 个字符" in field_error(html, "password")
    session.expire_all()
    target = user(session, world, "staff_a2")
    assert (target.display_name, target.role, target.password_hash, target.session_version) == before


def test_update_user_refuses_oneself_with_the_other_problems(app, session, world):
    admin = user(session, world, "admin")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        accounts.update_user(session, admin, admin, display_name="", role=Role.admin,
                             region=region(session, world, "county"), active=False, new_password="12345678")
    assert fields(caught.value) == ["active", "display_name", "password"]
    session.rollback()
    admin = user(session, world, "admin")
    assert admin.active and admin.display_name == "管理员"


# --- regions -----------------------------------------------------------------------------------------------

def test_new_region_form_shows_every_problem(client, auth, session, world):
    auth.login("admin")
    regions_before, logged = count(session, Region), events(session)
    res = client.post("/admin/regions/", data={"csrf_token": csrf_token(client, "/admin/regions/"), "code": "1!",
                                               "name": "", "parent_id": world.regions["town_b"]})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "区划代码只能由 2 到 32 位字母或数字组成" in field_error(html, "code")
    assert "请填写名称" in field_error(html, "name")
    assert count(session, Region) == regions_before and events(session) == logged


def test_create_region_collects_every_problem(app, session, world):
    admin = user(session, world, "admin")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        regions.create_region(session, admin, code="100001001", name="\u200b", parent=region(session, world, "comm_a1"))
    assert fields(caught.value) == ["code", "name", "parent_id"]
    assert "区划代码已被使用" in str(caught.value.field_problems[0][1])
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        regions.create_region(session, admin, code="", name="名" * 101, parent=region(session, world, "town_a"))
    assert [str(m) for _f, m in caught.value.field_problems] == ["请填写区划代码。", "名称最多 100 个字。"]
    with app.test_request_context(), pytest.raises(Conflict) as caught:  # the duplicate alone: still a 409
        regions.create_region(session, admin, code="100001001", name="新社区", parent=region(session, world, "town_a"))
    assert caught.value.status == 409
    session.rollback()
    assert count(session, Region) == len(world.regions)


def test_create_region_command_lists_every_problem(runner, session, world):
    result = runner.invoke(args=["create-region", "--code", "x", "--name", " ", "--parent", "100001001"])
    assert result.exit_code != 0
    for message in ("区划代码只能由", "请填写名称", "社区（村）下面不能再设下级区划"):
        assert message in result.output, result.output
    assert count(session, Region) == len(world.regions)


def test_rename_region_refuses_a_name_too_long_for_its_column(app, session, world):
    town = region(session, world, "town_a")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        regions.rename_region(session, user(session, world, "admin"), town, "甲" * 101)
    assert fields(caught.value) == ["name"]
    session.rollback()
    assert region(session, world, "town_a").name == "甲镇"


# --- the standard ------------------------------------------------------------------------------------------

@pytest.fixture
def with_standard(session, world):
    standard(session, world)  # 780.00 from 2026-01-01 in the county
    session.commit()
    return world


def test_standard_form_shows_every_problem(client, auth, session, with_standard):
    auth.login("admin")
    standards, logged = count(session, Standard), events(session)
    res = client.post("/admin/standards/", data={
        "csrf_token": csrf_token(client, "/admin/standards/"), "region_id": with_standard.regions["county"],
        "monthly_amount": "八百", "effective_from": "2026-01-01", "note": "县政府文件"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "金额格式不对" in field_error(html, "monthly_amount")  # typed wrong: reported with the rest
    assert "已有一条标准" in field_error(html, "effective_from")
    assert count(session, Standard) == standards and events(session) == logged


def test_set_standard_collects_every_problem(app, session, with_standard):
    admin, county = user(session, with_standard, "admin"), region(session, with_standard, "county")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        entitlement.set_standard(session, admin, region=county, amount=Decimal("0"), effective_from=date(2026, 1, 1),
                                 note="依" * 201)
    assert fields(caught.value) == ["monthly_amount", "effective_from", "note"]
    assert "必须大于 0" in str(caught.value.field_problems[0][1])
    with app.test_request_context(), pytest.raises(Conflict) as caught:  # the duplicate alone: still a 409
        entitlement.set_standard(session, admin, region=county, amount=Decimal("800"), effective_from=date(2026, 1, 1))
    assert caught.value.status == 409
    session.rollback()
    assert count(session, Standard) == 1


# --- the holiday calendar ----------------------------------------------------------------------------------

def test_calendar_form_shows_every_bad_line_of_both_lists(client, auth, session, world):
    auth.login("admin")
    logged = events(session)
    res = client.post(f"/admin/calendar/{world.regions['county']}/2027", data={
        "csrf_token": csrf_token(client, "/admin/"), "holidays": "元旦\n春节 2027-02-30\n清明 2027-04-05",
        "makeup_days": "春节 2027-01-06"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    holidays = field_error(html, "holidays")
    assert "第 1 行看不懂" in holidays and "第 2 行：2027-02-30 不是有效的日期" in holidays
    assert "调休上班日只会是周六或周日" in field_error(html, "makeup_days")
    assert count(session, HolidayCalendar) == 0 and events(session) == logged


def test_save_year_collects_every_problem(app, session, world):
    admin, county = user(session, world, "admin"), region(session, world, "county")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        workdays.save_year(session, admin, county, 2027, holidays="元旦 2027-01-01 至 2027-01-03",
                           makeup_days="元旦 2027-01-02\n2027-01-06\n2026-01-09")
    assert [(f, str(m)) for f, m in caught.value.field_problems] == [
        ("makeup_days", "第 3 行：日期不在 2027 年内。"),
        ("makeup_days", "2027-01-02 既是假日又是调休上班日，请核对。"),
        ("makeup_days", "2027-01-06 是工作日，调休上班日只会是周六或周日，请核对。")]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(HolidayCalendar)) == 0
