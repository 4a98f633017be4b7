"""The administrators' forms report every problem at once, each beside its field, and write nothing: staff accounts
(dibao.accounts), regions (dibao.regions), the standard (dibao.entitlement.set_standard) and the county's holiday
calendar (dibao.workdays.save_year) — through the admin form and through the domain call (the command line's
too), and the notice compose form's preview and publish (dibao.notices.compose). A lone duplicate is still a
conflict (409)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import accounts, clock, documents, entitlement, notices, panel, regions, workdays
from dibao.errors import Conflict, Invalid
from dibao.models import (
    AuditEvent,
    Case,
    HolidayCalendar,
    Level,
    Member,
    NoticeBatch,
    Opinion,
    Region,
    Role,
    Stage,
    User,
)
from dibao.models.announcement import Announcement
from dibao.models.household import (
    Asset,
    AssetLimits,
    Delivery,
    DocumentKind,
    MemberChange,
    PanelMember,
    PanelQuestion,
    PanelRole,
    Transfer,
    Verification,
)
from dibao.models.management import Contact, Proposal
from dibao.models.payment import PaymentAccount
from dibao.models.records import (
    Attachment,
    CaseRecord,
    HomeVisit,
    ReviewMeeting,
    ReviewResult,
    Standard,
    TownMeeting,
    TownMeetingResult,
)
from tests import factories
from tests.case_helpers import region, register, standard, to_stage, user, valid_id
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


# --- the case, household and management forms: a mistake the form's own fields caught (an empty required field, a
# number out of range) and one only the domain finds, in one answer, nothing written --------------------------------

def _applied(session, w):
    return register(session, user(session, w, "staff_a1"), members=1)


def _active(session, w):
    case = register(session, user(session, w, "staff_a1"), members=2)
    return to_stage(session, w, case, Stage.active)


def _at(stage):
    def make(session, w):
        return to_stage(session, w, register(session, user(session, w, "staff_a1")), stage)
    return make


def _panel(session, w):
    comm, staff = region(session, w, "comm_a1"), user(session, w, "staff_a1")
    start = clock.today() - timedelta(days=30)
    return [panel.add_member(session, staff, comm, name=name, role=PanelRole.resident, term_start=start,
                             term_end=start + timedelta(days=700)) for name in ("评一", "评二", "评三")]


def _panel_meeting(session, w):
    case = _applied(session, w)
    panel.convene(session, user(session, w, "staff_a1"), region(session, w, "comm_a1"), held_on=clock.today(),
                  location="会议室", member_ids=[p.id for p in _panel(session, w)], attendee_ids=[],
                  other_attendees=["镇干部刘敏"])
    return case


def _issued(session, w):
    case = _active(session, w)
    return documents.issue(session, user(session, w, "county"), case, DocumentKind.approval)


def beside(html: str, field: str) -> str:
    """The message beside a field: its own ``…-err`` line, or the error line of the fieldset of its checkboxes."""
    own = field_error(html, field)
    if own:
        return own
    box = re.search(rf'<fieldset(?:(?!</fieldset>).)*name="{re.escape(field)}"(?:(?!</fieldset>).)*</fieldset>', html,
                    re.S)
    found = re.search(r'<p class="error"[^>]*>(.*?)</p>', box.group(0), re.S) if box else None
    return found.group(1) if found else ""


TODAY = "{today}"
# id: (who posts, the record made first, the url, the form, [(field, a message expected beside it)], the table)
STAFF_FORMS = {
    "registration": ("staff_a1", None, "/admin/cases/new", {
        "head_name": "", "head_id_number": "{id}", "head_age": "", "head_work_capacity": "none", "head_phone": "12345",
        "address": "幸福路 8 号", "category": "1"},
        [("head_name", "请填写户主姓名"), ("head_age", "年龄"), ("head_phone", "电话号码格式不对")], Case),
    "household": ("staff_a1", _applied, "/admin/cases/{case}/edit", {
        "head_phone": "12345", "address": "", "category": "2"},
        [("address", "请填写家庭住址"), ("head_phone", "电话号码格式不对")], Case),
    "member": ("staff_a1", _applied, "/admin/cases/{case}/members", {
        "name": "", "relation": "子女", "age": "", "work_capacity": "full", "id_number": "12345"},
        [("name", "请填写成员姓名"), ("age", "年龄"), ("id_number", "18 位")], Member),
    "attachment": ("staff_a1", _applied, "/admin/cases/{case}/attachments", {"title": ""},
                   [("title", "请填写材料名称"), ("file", "请选择要上传的文件")], Attachment),
    "account": ("staff_a1", _applied, "/admin/cases/{case}/account", {
        "kind": "bank_card", "bank_name": "", "holder_name": "李桂兰", "number": "12ab"},
        [("bank_name", "请填写开户银行"), ("number", "账号应为 8 到 30 位数字")], PaymentAccount),
    "home visit": ("staff_a1", _applied, "/admin/cases/{case}/visit", {
        "visited_on": "", "investigators": "甲一专干", "housing": "两居室旧房", "inquiry": "打零工"},
        [("visited_on", "请填写调查日期"), ("investigators", "至少需要 2 名调查人员")], HomeVisit),
    "community review": ("staff_a1", _at(Stage.community_review), "/admin/cases/{case}/community-review", {
        "meeting_id": "0", "held_on": TODAY, "location": "会议室", "panel": "评一\n评二\n评三", "votes_for": "",
        "votes_against": "-1", "decision": "approve", "opinion": ""},
        [("votes_for", "请填写票数"), ("votes_against", "票数应在 0 到 99 之间"), ("opinion", "请填写评议意见")],
        ReviewResult),
    "town decision": ("town_a", _at(Stage.town_decision), "/admin/cases/{case}/town-decision", {
        "title": "", "held_on": "", "participants": "书记", "decision": "approve", "opinion": ""},
        [("title", "请填写会议名称"), ("held_on", "请填写会议日期"), ("participants", "至少 3 人"),
         ("opinion", "请填写审核意见")], TownMeetingResult),
    # the amounts typed here were parsed by the view before the domain's checks ran
    "county decision": ("county", _at(Stage.county_approval), "/admin/cases/{case}/county-decision", {
        "decision": "approve", "opinion": "", "override_amount": "很多", "override_reason": ""},
        [("opinion", "请填写审批意见"), ("override_amount", "金额格式不对")], Opinion),
    "adjustment": ("county", _active, "/admin/cases/{case}/adjust", {"amount": "-5", "reason": ""},
                   [("amount", "金额不能为负数"), ("reason", "请写明理由")], CaseRecord),
    "review": ("staff_a1", _active, "/admin/cases/{case}/review", {
        "checked": "income", "findings": "", "category": "1", "outcome": "amount", "amount": "八百",
        "reason": "收入下降了很多"},
        [("findings", "请填写复核情况"), ("amount", "金额格式不对")], CaseRecord),
    "grace": ("county", _active, "/admin/cases/{case}/grace", {"months": "", "reason": ""},
              [("months", "请填写月数"), ("reason", "请写明")], CaseRecord),
    "asset": ("staff_a1", _applied, "/admin/cases/{case}/assets", {
        "kind": "housing", "units": "0", "area": "很大", "value": ""},
        [("units", "1 至 99 之间的整数"), ("area", "金额格式不对")], Asset),
    "verification": ("staff_a1", _applied, "/admin/cases/{case}/verifications", {"requested_on": "",
                                                                                  "other_agencies": ""},
                     [("requested_on", "请填写发起核对的日期"), ("authorised_on", "没有书面授权"),
                      ("agencies", "至少一个")], Verification),
    "asset limits": ("admin", None, "/admin/household/asset-limits", {
        "housing_units": "", "housing_area_per_person": "40", "vehicles": "100", "deposits_per_person": "很多"},
        [("housing_units", "0 至 99 之间的整数"), ("vehicles", "0 至 99 之间的整数"),
         ("deposits_per_person", "金额格式不对")], AssetLimits),
    "member joins": ("staff_a1", _active, "/admin/cases/{case}/changes/join", {
        "kind": "birth", "happened_on": "", "name": "", "relation": "子女", "age": "", "id_number": "12345",
        "reason": ""},
        [("happened_on", "请填写日期"), ("name", "请填写成员姓名"), ("id_number", "18 位"), ("reason", "请写明原因")],
        MemberChange),
    "member leaves": ("staff_a1", _active, "/admin/cases/{case}/changes/leave", {
        "member_id": "{member}", "kind": "death", "happened_on": "", "reason": ""},
        [("happened_on", "请填写日期"), ("reason", "请写明原因")], MemberChange),
    "transfer": ("town_a", _active, "/admin/cases/{case}/transfer", {
        "to_region_id": "{comm_a1}", "kind": "separation", "moved_on": "", "address": "", "reason": ""},
        [("moved_on", "请填写日期"), ("address", "请填写迁入后的家庭住址"), ("to_region_id", "相同"),
         ("reason", "请写明原因")], Transfer),
    "delivery": ("county", _issued, "/admin/documents/{document}/deliveries", {
        "delivered_on": "2099-01-01", "way": "in_person", "recipient": "", "delivered_by": ""},
        [("delivered_on", "不能晚于今天"), ("recipient", "请填写签收人"), ("delivered_by", "请填写送达人")], Delivery),
    "panel member": ("staff_a1", None, "/admin/panels/{comm_a1}/members", {
        "name": "", "role": "resident", "term_start": "2026-06-01", "term_end": "2026-01-01"},
        [("name", "请填写姓名"), ("term_end", "结束日期不能早于开始日期")], PanelMember),
    "panel meeting": ("staff_a1", _panel, "/admin/panels/{comm_a1}/meetings", {"held_on": "", "location": "会议室"},
                      [("held_on", "请填写评议日期"), ("members", "至少")], ReviewMeeting),
    "question": ("staff_a1", _panel_meeting, "/admin/cases/{case}/questions", {
        "meeting_id": "{meeting}", "asked_by": "", "question": "车?", "answer": "", "answered_by": ""},
        [("asked_by", "质询人须是"), ("question", "至少 4 个字"), ("answer", "请填写答复和答复人")], PanelQuestion),
    "death": ("staff_a1", _active, "/admin/cases/{case}/death", {"member_id": "0", "died_on": ""},
              [("member_id", "请选择去世的家庭成员"), ("died_on", "请填写死亡日期")], Proposal),
    # (a small form on the case page: the page comes back with the form; tests/test_contact_form.py)
    "contact": ("staff_a1", _active, "/admin/cases/{case}/contacts", {"contacted_on": "", "way": "letter"},
                [("contacted_on", "请填写联系日期"), ("way", "请选择联系方式")], Contact),
    "community sitting": ("staff_a1", _at(Stage.community_review), "/admin/sittings/community", {
        "held_on": "", "panel": "评一", "include": "{case}", "decision-{case}": "approve", "for-{case}": "3",
        "against-{case}": "0", "abstain-{case}": "0", "opinion-{case}": "同意上报"},
                          [("held_on", "请填写评议日期"), ("panel", "至少需要 3 名成员")], ReviewMeeting),
    "town sitting": ("town_a", _at(Stage.town_decision), "/admin/sittings/town", {
        "held_on": "", "title": "", "participants": "书记", "include": "{case}", "decision-{case}": "approve",
        "opinion-{case}": "同意"},
                     [("held_on", "请填写会议日期"), ("title", "请填写会议名称"), ("participants", "至少 3 人")],
                     TownMeeting),
    "standard": ("admin", None, "/admin/standards/", {
        "region_id": "{county}", "monthly_amount": "八百", "effective_from": "", "note": ""},
        [("monthly_amount", "金额格式不对"), ("effective_from", "请填写生效日期")], Standard),
    "announcement": ("staff_a1", None, "/admin/announcements/new", {
        "kind": "announcement", "region_id": "{comm_a1}", "title": "", "body": "", "starts_on": "2026-03-18",
        "ends_on": "2026-03-01"},
        [("title", "请填写标题"), ("body", "请填写正文"), ("ends_on", "结束日期不能早于开始日期")], Announcement),
}


@pytest.mark.parametrize("name", list(STAFF_FORMS))
def test_staff_form_shows_its_own_and_the_domains_problems_together(client, auth, session, world, name):
    who, make, url, data, expected, model = STAFF_FORMS[name]
    standard(session, world)
    made = make(session, world) if make else None
    session.commit()
    case = getattr(made, "case", made)
    values = {"today": clock.today().isoformat(), "id": valid_id("19580312"), "case": getattr(case, "id", ""),
              "member": case.members[-1].id if isinstance(case, Case) else "", "document": getattr(made, "id", ""),
              "meeting": session.scalar(select(func.max(ReviewMeeting.id))) or "", **world.regions}
    auth.login(who)
    token = csrf_token(client, "/admin/")
    before = (count(session, model), events(session))
    form = {key.format(**values): value.format(**values) for key, value in data.items()}
    res = client.post(url.format(**values), data={"csrf_token": token, **form},
                      content_type="multipart/form-data")
    html = res.get_data(as_text=True)
    assert res.status_code in (400, 409), (res.status_code, html[:500])
    for field, message in expected:
        assert message in beside(html, field), (field, message, re.findall(r'class="error"[^>]*>[^<]*', html))
    assert (count(session, model), events(session)) == before


# --- the notice compose form (张榜公示): its preview and its publish share one check, dibao.notices.compose ----------

def _noticeable(session, world):
    """In 甲镇's community 甲一: one household awaiting the town notice, one still awaiting the community's, one
    awaiting the town notice without the town's opinion."""
    comm = region(session, world, "comm_a1")
    ready = factories.case_awaiting_notice(session, comm, Level.town, head_name="孙一明")
    early = factories.case_awaiting_notice(session, comm, Level.community, head_name="孙二明")
    unheard = factories.make_case(session, comm, stage=Stage.awaiting_town_notice, head_name="孙三明",
                                  opinion_levels=(Level.community,))
    session.commit()
    return ready, early, unheard


def test_notice_preview_shows_every_problem_beside_its_field(client, auth, session, world, clock):
    _noticeable(session, world)
    auth.login("town_a")
    before = (count(session, NoticeBatch), events(session))
    res = client.post("/admin/notices/preview", data={  # nothing ticked, no title, 3 days, an opening gone by
        "csrf_token": csrf_token(client, "/admin/notices/new"), "title": "", "window_days": "3",
        "opens_at": "2026-03-18T09:00"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "请至少选择一户" in beside(html, "case_id")
    assert "请填写公示标题" in beside(html, "title")
    assert "公示期不能少于 7 天" in beside(html, "window_days")
    assert "定时发布的时间不能早于现在" in beside(html, "opens_at")
    assert (count(session, NoticeBatch), events(session)) == before


def test_notice_publish_shows_every_problem_beside_its_field(client, auth, session, world, clock):
    ready, early, unheard = _noticeable(session, world)
    auth.login("town_a")
    before = (count(session, NoticeBatch), events(session))
    res = client.post("/admin/notices/schedule", data={  # two households that cannot be on it, no title, no days,
        "csrf_token": csrf_token(client, "/admin/notices/new"), "title": " ", "window_days": "",  # no time
        "opens_at": "", "case_ids": f"{ready.id},{early.id},{unheard.id}"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    households = beside(html, "case_id")
    assert f"案件“{early.number}”不在待公示阶段" in households and f"案件“{unheard.number}”还没有本级意见" in households
    assert "请填写公示标题" in beside(html, "title")
    assert "请填写公示天数" in beside(html, "window_days")
    assert "请填写定时发布的时间" in beside(html, "opens_at")
    assert (count(session, NoticeBatch), events(session)) == before
    assert [session.get(Case, c.id).stage for c in (ready, early, unheard)] == [
        Stage.awaiting_town_notice, Stage.awaiting_community_notice, Stage.awaiting_town_notice]


def test_compose_collects_every_problem(app, session, world, clock):
    ready, early, unheard = _noticeable(session, world)
    town = user(session, world, "town_a")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        notices.compose(session, town, case_ids=[str(ready.id), str(early.id), str(unheard.id)], title="",
                        window_days=61, opens_at=clock.now() - timedelta(minutes=1))
    assert fields(caught.value) == ["case_id", "case_id", "title", "window_days", "opens_at"]
    with app.test_request_context(), pytest.raises(Invalid) as caught:  # a value that is no id: said once
        notices.compose(session, town, case_ids=["12x", ""], title="公示", window_days=None, scheduled=True)
    assert [(f, str(m)) for f, m in caught.value.field_problems] == [
        ("case_id", "所选案件无效。"), ("window_days", "请填写公示天数。"), ("opens_at", "请填写定时发布的时间。")]
    with app.test_request_context(), pytest.raises(Conflict) as caught:  # a household alone: still a 409
        notices.compose(session, town, case_ids=[early.id], title="公示", window_days=7)
    assert caught.value.status == 409 and fields(caught.value) == ["case_id"]
    session.rollback()
    assert count(session, NoticeBatch) == 0
