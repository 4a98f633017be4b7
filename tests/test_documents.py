"""Issue 10 item 8: written notices to the family (文书) — generated from the decision's record, numbered per county
and year, text fixed when issued, printable A4, with a delivery record in the archive."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from dibao import documents, workflow
from dibao.errors import Conflict, Forbidden, Invalid, NotFound
from dibao.models import Stage
from dibao.models.household import DeliveryWay, DocumentKind
from tests.case_helpers import register, standard, to_stage, user
from tests.conftest import csrf_token


@pytest.fixture
def w(session, world):
    standard(session, world)
    return world


def _active(session, world):
    case = register(session, user(session, world, "staff_a1"))
    to_stage(session, world, case, Stage.active)
    return case


def test_numbering_per_county_and_year(session, w, clock):
    county = user(session, w, "county")
    first = documents.issue(session, county, _active(session, w), DocumentKind.approval)
    rejected = register(session, user(session, w, "staff_a1"))
    workflow.reject(session, user(session, w, "staff_a1"), rejected, "家庭人均收入超过低保标准")
    second = documents.issue(session, county, rejected, DocumentKind.rejection)
    assert (first.number, second.number) == ("测试县低保审〔2026〕1号", "测试县低保不批〔2026〕2号")
    clock.set(datetime(2027, 1, 5, 2, 0, tzinfo=UTC))
    third = documents.issue(session, county, _active(session, w), DocumentKind.approval)
    assert third.number == "测试县低保审〔2027〕1号" and third.issued_on == date(2027, 1, 5)


def test_approval_notice_comes_from_the_decision_and_is_fixed(session, w, clock):
    case = _active(session, w)
    county = user(session, w, "county")
    doc = documents.issue(session, county, case, DocumentKind.approval)
    assert doc.title == "最低生活保障审批通知书" and doc.source.startswith("opinion:")
    assert "李桂兰（户主）" in doc.body and "960.00 元" in doc.body and "2026年4月" in doc.body
    with pytest.raises(Conflict, match="已经出具"):
        documents.issue(session, county, case, DocumentKind.approval)
    clock.advance(days=20)
    workflow.adjust_amount(session, county, case, amount=Decimal("500.00"), reason="子女已就业，收入增加")
    assert "960.00 元" in doc.body  # the notice the family holds does not change
    adjusted = documents.issue(session, county, case, DocumentKind.adjustment)
    assert "由 960.00 元调整为 500.00 元" in adjusted.body and "2026年5月" in adjusted.body
    assert "行政复议" in adjusted.body and "子女已就业" in adjusted.body


def test_rejection_notice_tells_the_reasons_and_the_rights(session, w):
    case = register(session, user(session, w, "staff_a1"))
    to_stage(session, w, case, Stage.town_review)
    workflow.reject(session, user(session, w, "town_a"), case, "家庭有经营性收入未申报，经核实人均收入超过标准")
    with pytest.raises(Forbidden):
        documents.issue(session, user(session, w, "staff_a1"), case, DocumentKind.rejection)
    doc = documents.issue(session, user(session, w, "town_a"), case, DocumentKind.rejection)
    assert "乡镇（街道）" in doc.body and "经营性收入未申报" in doc.body and doc.issuer == "甲镇人民政府"
    assert "60 日内" in doc.body and "行政复议" in doc.body and "6 个月内" in doc.body and "行政诉讼" in doc.body
    # 行政复议法 (2023) Art. 24: a town government's or a county department's decision is reviewed by the county
    # government alone
    assert "向县（区）人民政府申请行政复议" in doc.body and "上一级民政部门" not in doc.body


def test_exit_notice_and_wrong_kinds(session, w, clock):
    case = _active(session, w)
    county = user(session, w, "county")
    with pytest.raises(Conflict):  # an active household has no exit to tell of
        documents.issue(session, county, case, DocumentKind.adjustment)
    clock.advance(days=20)
    workflow.exit_case(session, county, case, "家庭成员已稳定就业，人均收入超过低保标准")
    doc = documents.issue(session, county, case, DocumentKind.exit)
    assert "停止" in doc.title and "2026年5月起停发" in doc.body and "稳定就业" in doc.body
    with pytest.raises(Conflict):
        documents.issue(session, county, register(session, user(session, w, "staff_a1")), DocumentKind.rejection)


def test_delivery_record(session, w, clock):
    case = _active(session, w)
    doc = documents.issue(session, user(session, w, "county"), case, DocumentKind.approval)
    staff = user(session, w, "staff_a1")
    with pytest.raises(Invalid):
        documents.record_delivery(session, staff, doc, delivered_on=date(2026, 3, 17), way=DeliveryWay.in_person,
                                  recipient="李桂兰", delivered_by="甲一专干")
    delivery = documents.record_delivery(session, staff, doc, delivered_on=date(2026, 3, 18),
                                         way=DeliveryWay.in_person, recipient="李桂兰", delivered_by="甲一专干 张三")
    assert doc.deliveries == [delivery]


def test_printable_notice_and_the_archive(client, auth, session, w):
    case = _active(session, w)
    session.commit()
    auth.login("county")
    token = csrf_token(client, f"/admin/cases/{case.id}/documents")
    res = client.post(f"/admin/cases/{case.id}/documents/approval", data={"csrf_token": token})
    assert res.status_code == 302
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "测试县民政局" in page and "最低生活保障审批通知书" in page and "测试县低保审〔2026〕1号" in page
    assert "送达回证" in page and "size: A4" in client.get("/static/css/document-print.css").get_data(as_text=True)
    res = client.post(f"/admin/cases/{case.id}/documents/approval", data={"csrf_token": token})
    assert res.status_code == 409
    auth.logout()
    auth.login("staff_a1")
    listing = client.get(f"/admin/cases/{case.id}/documents").get_data(as_text=True)
    assert "尚未登记送达" in listing and "出具审批通知书" not in listing
    doc_id = documents.documents_of(session, case)[0].id
    res = client.post(f"/admin/documents/{doc_id}/deliveries", data={
        "csrf_token": csrf_token(client, "/admin/"), "delivered_on": "2026-03-18", "way": "post",
        "recipient": "李桂兰", "delivered_by": "甲一专干"})
    assert res.status_code == 302
    listing = client.get(f"/admin/cases/{case.id}/documents").get_data(as_text=True)
    assert "已送达" in listing and "邮寄送达" in listing
    auth.logout()
    auth.login("staff_b1")
    assert client.get(f"/admin/documents/{doc_id}").status_code == 404


def test_each_county_numbers_its_own(session, w):
    from dibao import accounts, regions
    from dibao.models import Role
    from tests.factories import make_case

    documents.issue(session, user(session, w, "county"), _active(session, w), DocumentKind.approval)
    other = regions.create_region(session, None, code="200", name="另一县", parent=None)
    town = regions.create_region(session, None, code="200001", name="丙镇", parent=other)
    community = regions.create_region(session, None, code="200001001", name="丙一社区", parent=town)
    staff = accounts.create_user(session, None, username="staff_c1", display_name="丙一专干", password="correct-horse-battery",
                                 role=Role.community_staff, region=community)
    approver = accounts.create_user(session, None, username="county2", display_name="另县审批", password="correct-horse-battery",
                                    role=Role.county_approver, region=other)
    case = make_case(session, community, stage=Stage.applied)
    workflow.reject(session, staff, case, "申请人主动撤回申请")
    assert documents.issue(session, approver, case, DocumentKind.rejection).number == "另一县低保不批〔2026〕1号"
    with pytest.raises(NotFound):  # out of scope: the first county cannot issue for it
        documents.issue(session, user(session, w, "county"), case, DocumentKind.rejection)


def test_the_written_refusal_has_its_three_working_days_on_the_case_page_and_in_the_statistics(
        client, auth, session, w, clock):
    """A 21: a rejection's reasons are told in writing within 3 working days; the case page shows that deadline
    (overdue until the 不予批准告知书 is issued) and the statistics count it as a step."""
    from datetime import timedelta

    from dibao import cases, stats

    case = register(session, user(session, w, "staff_a1"))
    to_stage(session, w, case, Stage.town_review)
    workflow.reject(session, user(session, w, "town_a"), case, "家庭有经营性收入未申报，经核实人均收入超过标准")
    session.commit()
    rejected_on = clock.now().date()
    refusal = next(d for d in cases.archive(session, case).deadlines if d.key == "refusal")
    due, workdays_after = refusal.due, refusal.calendar.workdays_between(rejected_on, refusal.due)
    assert workdays_after == 3 and refusal.done_on is None and not refusal.overdue
    assert all(d.key != "refusal" for d in cases.deadlines(case, []))  # only where the notices were looked up

    clock.set(datetime.combine(due + timedelta(days=1), datetime.min.time(), tzinfo=UTC).replace(hour=2))
    auth.login("town_a")
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "书面告知不予批准的理由（3 个工作日）已超期" in page
    [step] = [s for s in stats.deadline_figures(session, user(session, w, "town_a"), rejected_on)
              if s.key == "refusal"]
    assert (step.open_overdue, step.on_time, step.late) == (1, 0, 0)

    session.rollback()  # (a new snapshot: the page's request has written since)
    documents.issue(session, user(session, w, "town_a"), case, DocumentKind.rejection)
    session.commit()
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "书面告知不予批准的理由（3 个工作日）已超期" not in page
    [step] = [s for s in stats.deadline_figures(session, user(session, w, "town_a"), rejected_on)
              if s.key == "refusal"]
    assert (step.open_overdue, step.late) == (0, 1)  # issued, a day late
