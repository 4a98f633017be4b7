"""Issue 12: exports to xlsx hold what the user may see and nothing more — a community clerk's export holds only
their community; full ID numbers and phones as on the case page, accounts masked; written by a job."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from dibao import clock, exports, notices
from dibao.models import (
    AuditEvent,
    FeedbackStatus,
    Level,
    ReasonCategory,
    Region,
    Report,
    ReportSubject,
    Stage,
)
from dibao.models.payment import AccountKind, PaymentAccount
from tests.case_helpers import valid_id
from tests.conftest import csrf_token
from tests.export_helpers import export
from tests.factories import case_awaiting_notice, make_case


def _region(session, world, name) -> Region:
    return session.get(Region, world.regions[name])


@pytest.fixture
def households(session, world):
    """An active household in each community (a1 with a payment account), and an applied one in a1."""
    made = {}
    for i, name in enumerate(("comm_a1", "comm_a2", "comm_b1")):
        made[name] = make_case(session, _region(session, world, name), stage=Stage.active, head_name=f"户主{name[-2:]}",
                               id_number=valid_id(n=700 + i), phone=f"1391234567{i}")
    session.add(PaymentAccount(case=made["comm_a1"], kind=AccountKind.bank_card, bank_name="中国农业银行",
                               holder_name="户主a1", number="6228480402564890018", updated_by_name="测试",
                               updated_at=clock.now()))
    made["applied"] = make_case(session, _region(session, world, "comm_a1"), stage=Stage.applied, head_name="申请人",
                                id_number=valid_id(n=710))
    session.commit()
    return made


def test_a_community_clerks_roster_export_holds_only_their_community(app, client, auth, world, households):
    auth.login("staff_a1")
    sheets, _job = export(app, client, "roster")
    rows = sheets["在保家庭名册"]
    assert rows[0][:5] == ["乡镇（街道）", "社区（村）", "案卷号", "户主", "身份证号码"]
    assert [r[3] for r in rows[1:]] == ["户主a1"]
    line = rows[1]
    assert line[4] == households["comm_a1"].head_id_number  # staff see the full number on the case page
    assert line[5] == "13912345670"
    assert line[12] == "银行卡 中国农业银行 6228 **** **** 0018"  # masked, as on the case page
    assert "6228480402564890018" not in str(rows)


def test_a_town_sees_its_communities_and_the_county_everything(app, client, auth, world, households):
    auth.login("town_a")
    sheets, _job = export(app, client, "roster")
    assert sorted(r[3] for r in sheets["在保家庭名册"][1:]) == ["户主a1", "户主a2"]
    auth.logout()
    auth.login("county")
    sheets, _job = export(app, client, "roster")
    assert sorted(r[3] for r in sheets["在保家庭名册"][1:]) == ["户主a1", "户主a2", "户主b1"]


def test_the_case_list_export_keeps_the_filters_of_the_page(app, client, auth, world, households):
    auth.login("staff_a1")
    sheets, _job = export(app, client, "cases", stage="applied")
    assert [r[1] for r in sheets["低保案件"][1:]] == ["申请人"]
    sheets, _job = export(app, client, "cases")
    assert sorted(r[1] for r in sheets["低保案件"][1:]) == ["户主a1", "申请人"]


def test_notice_and_feedback_exports_hold_only_the_users_households(app, client, auth, world, session, households):
    a1 = case_awaiting_notice(session, _region(session, world, "comm_a1"), Level.town, head_name="公示甲一",
                              id_number=valid_id(n=720))
    a2 = case_awaiting_notice(session, _region(session, world, "comm_a2"), Level.town, head_name="公示甲二",
                              id_number=valid_id(n=721))
    notices.publish_batch(session, None, level=Level.town, region=_region(session, world, "town_a"), cases=[a1, a2],
                          title="甲镇审核公示")
    for name, text in (("comm_a1", "甲一的举报"), ("comm_b1", "乙一的举报")):
        session.add(Report(tracking_code=f"RPT{name[-2:].upper()}23456", region_id=world.regions[name],
                           category=ReasonCategory.income_hidden, description=text, real_name=True,
                           submitter_name="王实名", submitter_phone="13700001111", status=FeedbackStatus.received,
                           deadline=date(2026, 4, 1), created_at=clock.now(), subject=ReportSubject.recipient))
    session.commit()
    auth.login("staff_a1")
    sheets, _job = export(app, client, "notices")
    assert [r[1] for r in sheets["公示批次"][1:]] == ["甲镇审核公示"]
    assert [r[3] for r in sheets["公示名单"][1:]] == ["公示甲一"]  # not the neighbouring community's household
    sheets, _job = export(app, client, "feedback")
    assert [r[3] for r in sheets["举报"][1:]] == ["甲一的举报"]
    # A reporter's name and phone are read on the report's page, by the deciding level, one audited look at a
    # time: never in a sheet (the clerk's page does not show them either).
    assert sheets["举报"][1][4:6] == ["实名（姓名和电话只在举报页面由作出结论的一级查看）", ""]
    assert len(sheets["异议"]) == 1  # headers only


def test_the_feedback_export_holds_no_report_about_the_user_and_no_reporters_contact(
        app, client, auth, world, session, households):
    """A report about the county office's staff is handled above them: the county approver cannot open it, so
    their export does not list it; the county's system admin, who handles it, gets it without the reporter's
    name and phone (who reads them on the page is recorded)."""
    from dibao import feedback

    feedback.submit_report(session, feedback.Submission(category="other", description="县审批人员吃拿卡要。",
                                                        name="孙实名", phone="13933334444"),
                           subject="staff", region_code="100", about="县审批", media_dir="")
    feedback.submit_report(session, feedback.Submission(category="favouritism", description="这户有两辆车。",
                                                        name="钱举报", phone="13911112222"),
                           subject="recipient", region_code="100001001",
                           case_number=households["comm_a1"].number, about=None, media_dir="")
    session.commit()
    auth.login("county")
    sheets, _job = export(app, client, "feedback")
    assert [r[3] for r in sheets["举报"][1:]] == ["这户有两辆车。"]
    flat = repr(sheets)
    assert "吃拿卡要" not in flat and "孙实名" not in flat and "钱举报" not in flat and "1391111" not in flat
    auth.logout()
    auth.login("admin")
    sheets, _job = export(app, client, "feedback")
    assert sorted(r[3] for r in sheets["举报"][1:]) == ["县审批人员吃拿卡要。", "这户有两辆车。"]
    flat = repr(sheets)
    assert "孙实名" not in flat and "13933334444" not in flat and "钱举报" not in flat and "13911112222" not in flat


def test_a_clerks_notice_export_counts_their_part_of_a_town_board(app, client, auth, world, session, households):
    """户数 is the user's part of the board, as their entries sheet and the batch page show it, marked as a part."""
    cases = [case_awaiting_notice(session, _region(session, world, name), Level.town, head_name=f"公示{i}",
                                  id_number=valid_id(n=730 + i))
             for i, name in enumerate(("comm_a1", "comm_a1", "comm_a2", "comm_a2", "comm_a2", "comm_a2"))]
    notices.publish_batch(session, None, level=Level.town, region=_region(session, world, "town_a"), cases=cases,
                          title="甲镇六户公示")
    session.commit()
    auth.login("staff_a1")
    sheets, _job = export(app, client, "notices")
    head, line = sheets["公示批次"]
    assert head[7:9] == ["户数", "范围"]
    assert line[7:9] == [2, "仅本辖区部分"]
    assert len(sheets["公示名单"][1:]) == 2
    auth.logout()
    auth.login("town_a")
    sheets, _job = export(app, client, "notices")
    assert sheets["公示批次"][1][7:9] == [6, "全批"]
    assert len(sheets["公示名单"][1:]) == 6


def test_an_export_is_audited_and_its_file_is_its_starters_own(app, client, auth, world, session, households):
    auth.login("staff_a1")
    _sheets, job_id = export(app, client, "roster")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "data_exported"))
    assert event.object_id == "roster" and event.actor_name == "甲一专干" and '"rows": 1' in event.details
    auth.logout()
    auth.login("staff_a2")
    assert client.get(f"/admin/jobs/{job_id}/file").status_code == 404
    assert client.get(f"/admin/jobs/{job_id}").status_code == 404
    assert client.post("/admin/data/exports/nothing", data={"csrf_token": csrf_token(client, "/admin/data/")}
                       ).status_code == 404


def test_text_people_typed_stays_text_never_a_formula(tmp_path):
    path = tmp_path / "out.xlsx"
    columns = [exports.Col("住址")]
    exports.write_xlsx(path, [exports.Sheet("t", columns, [('=HYPERLINK("http://x","y")',), ("=1+1",)])])
    import zipfile

    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml  # no formula cells


def test_the_roster_export_streams_rows_from_the_database(app, session, world, households):
    """The sheet's rows come from an iterator over the query (nothing collects them into a list first)."""
    with app.app_context():
        from dibao.models import User

        staff = session.get(User, world.users["county"])
        sheet = next(exports.roster_export(session, staff, {}))
        assert not isinstance(sheet.rows, list | tuple)
        assert sheet.total == 3
        first = next(iter(sheet.rows))
        assert first[9] == float(Decimal("1290.00")) and first[3] == "户主a1"


@pytest.mark.parametrize("change", ["region", "role"])
def test_a_file_is_not_downloaded_after_its_starter_lost_the_scope_it_was_made_under(
        app, client, auth, world, session, households, change):
    """A clerk moved to another community, or given another role, keeps no way to the old community's ID numbers:
    the file stays on the server for its days, but neither the job page nor the download gives it."""
    from dibao import accounts
    from dibao.models import Role, User

    auth.login("staff_a1")
    sheets, job_id = export(app, client, "roster")
    assert [r[3] for r in sheets["在保家庭名册"][1:]] == ["户主a1"]
    clerk = session.get(User, world.users["staff_a1"])
    accounts.update_user(session, session.get(User, world.users["admin"]), clerk, display_name=clerk.display_name,
                         role=Role.community_staff if change == "region" else Role.supervisor,
                         region=_region(session, world, "comm_b1") if change == "region" else clerk.region,
                         active=True)
    session.commit()
    page = client.get(f"/admin/jobs/{job_id}")
    if change == "role":  # the supervision group opens nothing but its payments
        assert page.status_code == 403
    else:
        assert "不能再下载变更前导出的文件" in page.get_data(as_text=True)
        assert "下载 Excel" not in page.get_data(as_text=True)
    file = client.get(f"/admin/jobs/{job_id}/file")
    assert file.status_code == 403 and valid_id(n=700) not in file.get_data(as_text=True)


def test_the_review_worklist_exports_with_its_filters_within_the_users_scope(
        app, client, auth, world, session, households):
    """Every household of the worklist the page shows (its bucket, category and community), overdue marked; a
    clerk's sheet holds their community alone. The page offers the button with its filters."""
    from datetime import timedelta

    for name, days in (("comm_a1", -3), ("comm_a2", -40), ("comm_b1", 10)):
        households[name].next_review_due = clock.today() + timedelta(days=days)
    session.commit()
    auth.login("county")
    page = client.get("/admin/reviews/?bucket=due").get_data(as_text=True)
    assert "/admin/data/exports/reviews" in page and 'name="bucket" value="due"' in page
    sheets, _job = export(app, client, "reviews", bucket="due")
    [(title, rows)] = sheets.items()
    assert title.startswith("复核工作清单")
    assert rows[0] == ["案卷号", "户主", "社区（村）", "分类", "应复核日期", "已逾期", "待决定的提议"]
    # Soonest due first: 甲二 (40 days late), then 甲一 (3); 乙一 is not due yet.
    assert [(r[1], r[2], r[5]) for r in rows[1:]] == [("户主a2", "甲二社区", "是"), ("户主a1", "甲一社区", "是")]
    sheets, _job = export(app, client, "reviews", bucket="soon")
    assert [r[1] for r in next(iter(sheets.values()))[1:]] == ["户主b1"]
    sheets, _job = export(app, client, "reviews", bucket="due", community=str(world.regions["comm_a1"]))
    assert [r[1] for r in next(iter(sheets.values()))[1:]] == ["户主a1"]
    auth.logout()
    auth.login("staff_a2")
    sheets, _job = export(app, client, "reviews", bucket="due")
    assert [r[1] for r in next(iter(sheets.values()))[1:]] == ["户主a2"]


def test_a_payment_runs_lines_export_as_the_run_page_lists_them(app, client, auth, world, session, clock):
    """The whole run (the page shows 500 lines), the user's part of it, accounts masked as on the page."""
    from dibao import payments
    from dibao.models.payment import LineStatus, PaymentLine
    from tests.payment_helpers import approved_run

    run = approved_run(session, world, clock)
    first = session.scalars(select(PaymentLine).where(PaymentLine.run_id == run.id).order_by(PaymentLine.id)).first()
    first.status, first.bank_reason = LineStatus.failed, "账户已冻结"
    session.commit()
    auth.login("county")
    page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
    assert "/admin/data/exports/payment_run" in page
    sheets, _job = export(app, client, "payment_run", run=str(run.id))
    [(title, rows)] = sheets.items()
    assert title == f"{payments.month_label(run.month)} 发放明细"
    assert sorted(r[1] for r in rows[1:]) == ["户主0", "户主1", "户主2"]
    assert all(r[9].startswith("6222 ****") for r in rows[1:]) and "6222020200112233" not in str(rows)
    failed = first.case.head_name
    assert [r[10:] for r in rows[1:] if r[1] == failed] == [["发放失败", "账户已冻结"]]
    sheets, _job = export(app, client, "payment_run", run=str(run.id), status="failed")
    assert [r[1] for r in next(iter(sheets.values()))[1:]] == [failed]
    auth.logout()
    auth.login("staff_a2")  # a community with no line in the run: its part is empty
    sheets, _job = export(app, client, "payment_run", run=str(run.id))
    assert len(next(iter(sheets.values()))) == 1
