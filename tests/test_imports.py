"""Issue 12: importing an existing roster — template, dry run listing every problem by row and column, confirm,
all or nothing, a killed worker leaves nothing and the job runs again, the command line gives the same report."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from dibao import entitlement, imports, jobs
from dibao.models import AmountPeriod, AuditEvent, Case, Member, MemberIncome, Stage
from dibao.models.job import Job, JobStatus
from dibao.models.payment import PaymentAccount
from tests.case_helpers import register, standard, user
from tests.conftest import csrf_token
from tests.roster_files import bank_card, clean_rows, household, person_id, write


def _queue(app) -> jobs.Queue:
    return app.extensions["dibao.jobs"]


def _upload(client, path, name=None):
    token = csrf_token(client, "/admin/data/")
    with open(path, "rb") as fh:
        return client.post("/admin/data/import", data={"csrf_token": token, "file": (fh, name or path.name)},
                           content_type="multipart/form-data")


def _job_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(re.search(r"/admin/jobs/(\d+)", response.headers["Location"]).group(1))


def _fresh(session) -> None:
    """A new read snapshot (SQLite keeps the old one for an open transaction) and no cached rows."""
    session.rollback()
    session.expire_all()


def _count(session, model) -> int:
    _fresh(session)
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def county(app, client, auth, world, session):
    standard(session, world)
    session.commit()
    auth.login("county")
    return client


def test_template_has_the_chinese_headers_and_the_users_community_codes(county):
    response = county.get("/admin/data/import/template.xlsx")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.data))
    assert book.sheet_names == ["低保名册", "填写说明", "社区代码"]
    headers = book.get_sheet_by_name("低保名册").to_python()[0]
    assert headers == [c.header for c in imports.COLUMNS]
    assert headers[:4] == ["户编号", "与户主关系", "姓名", "身份证号码"]
    codes = [row[0] for row in book.get_sheet_by_name("社区代码").to_python()[1:]]
    assert codes == ["100001001", "100001002", "100002001"]


def test_every_kind_of_row_error_is_reported_by_row_and_column_and_nothing_is_imported(app, county, world, session,
                                                                                      tmp_path):
    staff = user(session, world, "staff_a1")
    existing = register(session, staff, head_id_number=person_id(900), members=1)
    member_elsewhere = person_id(901)
    from dibao import cases
    from dibao.models import WorkCapacity

    cases.add_member(session, staff, existing, name="王小", relation="子女", age=20, id_number=member_elsewhere,
                     health="", work_capacity=WorkCapacity.full, deduction=None, deduction_note="")
    session.commit()
    bad_digit = person_id(1)[:-1] + ("0" if person_id(1)[-1] != "0" else "1")
    rows = [
        *household("1", "100001001", bad_digit),  # row 2: bad check digit
        *household("2", "999999999", person_id(2)),  # row 3: unknown community code
        *household("3", "100001001", person_id(3), members=[{"name": "甲", "id_number": person_id(3)}]),  # 4, 5 dup
        *household("4", "100001001", person_id(4), members=[{"name": "乙", "id_number": person_id(5)}],
                  monthly_amount="1110.00"),  # rows 6, 7: a good household
        *household("5", "100001001", person_id(6), members=[{"name": "乙", "id_number": person_id(5)}]),  # 8, 9 two homes
        *household("6", "100001001", person_id(900)),  # row 10: head already in the database
        *household("7", "100001001", person_id(7), members=[{"name": "丙", "id_number": member_elsewhere}]),  # 11, 12
        *household("8", "100001002", person_id(8), monthly_amount="500.00"),  # row 13: amount ≠ formula (warning)
    ]
    job_id = _job_id(_upload(county, write(tmp_path / "roster.xlsx", rows)))
    assert _queue(app).drain() == 1
    page = county.get(f"/admin/jobs/{job_id}").get_data(as_text=True)

    job = session.get(Job, job_id)
    report = imports.Report.from_dict(json.loads(job.result))
    found = {(p.row, p.column, p.code, p.warning) for p in report.problems}
    assert found == {
        (2, "身份证号码", "id_check", False),
        (3, "社区代码", "community_unknown", False),
        (5, "身份证号码", "id_duplicate_file", False),
        (9, "身份证号码", "member_two_households", False),
        (10, "身份证号码", "id_in_database", False),
        (12, "身份证号码", "member_two_households", False),
        (13, "月保障金额（元）", "amount_differs", True),
    }
    assert "身份证号码校验不通过" in page and "社区代码 999999999 不存在" in page
    assert "身份证号码与第 4 行重复" in page and "此人已在第 7 行的另一户（户编号 4）中" in page
    assert "月保障金额 500.00 元与按标准核算的 330.00 元不一致" in page
    assert "确认导入" not in page and "文件有错误，不能导入" in page
    # A check changes nothing, and a file with errors cannot be confirmed.
    assert _count(session, Case) == 1
    response = county.post(f"/admin/jobs/{job_id}/confirm", data={"csrf_token": csrf_token(county, "/admin/data/")})
    assert response.status_code == 400
    assert _count(session, Case) == 1 and _count(session, Job) == 1


def test_a_clean_file_imports_completely_as_active_households_on_the_roster_and_review_schedule(
        app, county, world, session, tmp_path):
    rows = clean_rows(300, ["100001001", "100001002", "100002001"])
    rows[0]["monthly_amount"] = "400.00"  # a warning: imported as given, kept as an override
    assert rows[3]["name"] == "户主2"
    rows[3]["relation"] = "户主"  # what many rosters write for the head's own row
    check_id = _job_id(_upload(county, write(tmp_path / "roster.csv", rows, fmt="csv")))
    _queue(app).drain()
    page = county.get(f"/admin/jobs/{check_id}").get_data(as_text=True)
    assert "检查通过" in page and "错误 0 处" in page and "提示 1 处" in page
    response = county.post(f"/admin/jobs/{check_id}/confirm", data={"csrf_token": csrf_token(county, "/admin/data/")})
    import_id = _job_id(response)
    assert _queue(app).drain() == 1
    page = county.get(f"/admin/jobs/{import_id}").get_data(as_text=True)
    assert "已导入 300 户（600 人）" in page

    _fresh(session)
    assert session.get(Job, import_id).status == JobStatus.done
    assert session.scalar(select(func.count(Case.id)).where(Case.stage == Stage.active)) == 300
    assert _count(session, Member) == 600
    assert _count(session, MemberIncome) == 300
    assert _count(session, PaymentAccount) == 300
    assert _count(session, AmountPeriod) == 300
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "case_imported")) == 300
    first = session.scalar(select(Case).where(Case.head_name == "户主0"))
    assert first.monthly_amount == Decimal("400.00") and first.computed_amount == Decimal("330.00")
    assert first.override_amount == Decimal("400.00")
    assert first.payment_start == date(2025, 7, 1)
    assert first.next_review_due == date(2026, 6, 15)  # category 1: yearly from the approval, the next one ahead
    assert first.members[0].id_number == person_id(1) and first.payment_account.number == bank_card(0)
    period = session.scalar(select(AmountPeriod).where(AmountPeriod.case_id == first.id))
    assert (period.starts_on, period.amount, period.change.value) == (date(2025, 7, 1), Decimal("400.00"), "approved")
    written_as_huzhu = session.scalar(select(Case).where(Case.head_name == "户主2"))
    assert [m.relation for m in written_as_huzhu.members] == ["本人", "子女", "子女"]
    monthly = session.scalar(select(Case).where(Case.head_name == "户主3"))
    assert monthly.category == 4 and monthly.next_review_due == date(2026, 4, 15)
    # On the public roster, in the archive ("导入原有名册") and on the staff list.
    roster = county.get("/roster/100001001").get_data(as_text=True)
    assert "户*0" in roster and "共 100 户" in roster  # the public web masks the name
    archive = county.get(f"/admin/cases/{first.id}").get_data(as_text=True)
    assert "导入原有名册" in archive


def test_a_worker_killed_mid_import_leaves_no_household_and_the_job_runs_again(app, county, world, session,
                                                                                tmp_path, clock, monkeypatch):
    rows = clean_rows(40, ["100001001"])
    check_id = _job_id(_upload(county, write(tmp_path / "roster.xlsx", rows)))
    _queue(app).drain()
    import_id = _job_id(county.post(f"/admin/jobs/{check_id}/confirm",
                                    data={"csrf_token": csrf_token(county, "/admin/data/")}))

    class Killed(BaseException):
        """What SIGKILL does to the worker: nothing after this point runs (no except, no cleanup)."""

    real_call = jobs.Progress.__call__

    def dies_while_writing(self, done, total=None, message=""):
        if message == "正在导入" and done > 0:  # after the rows went in, before the commit
            raise Killed
        return real_call(self, done, total, message)

    monkeypatch.setattr(jobs.Progress, "__call__", dies_while_writing)
    with pytest.raises(Killed):
        _queue(app).drain()
    monkeypatch.setattr(jobs.Progress, "__call__", real_call)

    assert _count(session, Case) == 0 and _count(session, Member) == 0 and _count(session, AmountPeriod) == 0
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "case_imported")) == 0
    job = session.get(Job, import_id)
    assert job.status == JobStatus.running
    page = county.get(f"/admin/jobs/{import_id}").get_data(as_text=True)
    assert "重新运行" not in page  # still taken for running …
    clock.advance(jobs.STALE_AFTER + timedelta(seconds=1))
    page = county.get(f"/admin/jobs/{import_id}").get_data(as_text=True)
    assert "已中断" in page and "重新运行" in page  # … until its worker has been silent too long
    response = county.post(f"/admin/jobs/{import_id}/rerun", data={"csrf_token": csrf_token(county, "/admin/data/")})
    assert response.status_code == 302
    assert _queue(app).drain() == 1
    session.rollback()
    assert session.get(Job, import_id).status == JobStatus.done
    assert session.get(Job, import_id).attempts == 2
    assert _count(session, Case) == 40


def test_the_import_checks_again_and_refuses_what_changed_since_the_dry_run(app, county, world, session, tmp_path):
    rows = household("1", "100001001", person_id(31))
    check_id = _job_id(_upload(county, write(tmp_path / "roster.xlsx", rows)))
    _queue(app).drain()
    register(session, user(session, world, "staff_a1"), head_id_number=person_id(31))  # registered meanwhile
    session.commit()
    import_id = _job_id(county.post(f"/admin/jobs/{check_id}/confirm",
                                    data={"csrf_token": csrf_token(county, "/admin/data/")}))
    _queue(app).drain()
    job = session.get(Job, import_id)
    assert job.status == JobStatus.failed and "没有导入任何家庭" in job.error
    page = county.get(f"/admin/jobs/{import_id}").get_data(as_text=True)
    assert "已有在办或在保的案件" in page  # the failure is shown to the user who started the job
    assert _count(session, Case) == 1


def test_only_the_county_imports_and_only_into_its_own_communities(app, client, auth, world, session, tmp_path,
                                                                     make_region, make_user):
    standard(session, world)
    session.commit()
    path = write(tmp_path / "roster.xlsx", household("1", "100001001", person_id(41)))
    for name in ("staff_a1", "town_a"):
        auth.login(name)
        assert client.get("/admin/data/import/template.xlsx").status_code == 403
        assert _upload(client, path).status_code == 403
        auth.logout()
    assert _count(session, Job) == 0
    # Another county's approver: the community is not theirs, so the code is unknown to them.
    from dibao.models import Role

    auth.login(make_user("county2", Role.county_approver, make_region("200", "另一县")))
    job_id = _job_id(_upload(client, path))
    _queue(app).drain()
    assert "社区代码 100001001 不存在，或不在您的管辖范围内" in client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    auth.logout()
    # A job is its starter's own: another user does not find it.
    auth.login("county")
    assert client.get(f"/admin/jobs/{job_id}").status_code == 404
    assert client.post(f"/admin/jobs/{job_id}/confirm",
                       data={"csrf_token": csrf_token(client, "/admin/data/")}).status_code == 404


@pytest.mark.parametrize("name", ["notes.txt", "old.xls"])
def test_an_upload_that_is_not_a_spreadsheet_is_refused_with_a_message(county, tmp_path, session, name):
    """An old .xls too, at once: calamine's reader of it cannot be sized before it reads (dibao.sheets)."""
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 508 if name.endswith(".xls") else b"hello")
    response = _upload(county, path)
    assert response.status_code == 400
    assert "请上传 Excel（.xlsx）或 CSV 文件；旧版 .xls 请在 Excel 或 WPS 中另存为 .xlsx。" in response.get_data(as_text=True)
    assert _count(session, Job) == 0


def test_the_command_line_gives_the_same_report_and_imports(app, runner, world, session, tmp_path):
    standard(session, world)
    session.commit()
    bad = write(tmp_path / "bad.xlsx", household("1", "999999999", person_id(51)))
    result = runner.invoke(args=["import", "roster", str(bad), "--dry-run"])
    assert result.exit_code == 1
    assert "错误  第 2 行  社区代码  社区代码 999999999 不存在，或不在您的管辖范围内。" in result.output
    good = write(tmp_path / "good.xlsx", clean_rows(5, ["100001001"]))
    result = runner.invoke(args=["import", "roster", str(good), "--dry-run"])
    assert result.exit_code == 0 and "0 处错误" in result.output
    assert _count(session, Case) == 0
    result = runner.invoke(args=["import", "roster", str(good), "--user", "county"])
    assert result.exit_code == 0, result.output
    assert "imported 5 households" in result.output
    assert _count(session, Case) == 5


def test_a_running_job_is_cancelled_at_its_next_progress_report_and_leaves_nothing(app, world, session):
    """The framework itself, with a job kind of the test's own that writes and then finds itself cancelled."""
    from dibao import regions

    @jobs.kind("test_writes", "测试")
    def _writes(sess, actor, params, progress):
        regions.create_region(sess, None, code="777", name="不该留下", parent=None)
        _queue(app).request_cancel(progress.job_id)
        progress(1, 2, "一半")
        raise AssertionError("not reached")

    try:
        job = jobs.start(session, user(session, world, "county"), "test_writes", {}, title="测试")
        session.commit()
        assert jobs.run(app, job.id) == JobStatus.cancelled
        _fresh(session)
        assert session.get(Job, job.id).status == JobStatus.cancelled
        assert session.get(Job, job.id).error == "已由本人取消，没有留下任何改动。"
        from dibao.models import Region

        assert session.scalar(select(Region).where(Region.code == "777")) is None
    finally:
        jobs.KINDS.pop("test_writes")


def test_a_queued_job_is_cancelled_at_once_and_another_users_job_cannot_be_touched(app, client, auth, world,
                                                                                    session, tmp_path, runner):
    standard(session, world)
    session.commit()
    auth.login("county")
    job_id = _job_id(_upload(client, write(tmp_path / "roster.xlsx", clean_rows(3, ["100001001"]))))
    auth.logout()
    # Another user (even the admin) neither cancels nor runs it again: not found, nothing changed.
    auth.login("admin")
    token = csrf_token(client, "/admin/data/")
    assert client.post(f"/admin/jobs/{job_id}/cancel", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/jobs/{job_id}/rerun", data={"csrf_token": token}).status_code == 404
    auth.logout()
    _fresh(session)
    assert session.get(Job, job_id).status == JobStatus.queued
    auth.login("county")
    response = client.post(f"/admin/jobs/{job_id}/cancel", data={"csrf_token": csrf_token(client, "/admin/data/")})
    assert response.status_code == 302
    _fresh(session)
    assert session.get(Job, job_id).status == JobStatus.cancelled
    result = runner.invoke(args=["worker", "--burst"])  # the queued task finds its job cancelled and does nothing
    assert result.exit_code == 0 and "ran 1 jobs" in result.output
    _fresh(session)
    assert session.get(Job, job_id).status == JobStatus.cancelled and session.get(Job, job_id).attempts == 0
    page = client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert "已取消" in page and "重新运行" in page


def test_imported_numbers_are_encrypted_found_by_their_keyed_hashes_and_chained_in_the_audit_log(
        app, world, session, tmp_path):
    """What the bulk write path must keep: each member's own ID number, hash and income, each household's own
    encrypted account, its own computed amount (households of the same figures share one computation), a repeated
    bad value reported on every row it stands on, and an audit chain that still verifies."""
    from sqlalchemy import text

    from dibao import audit, crypto

    standard(session, world)
    session.commit()
    county_user = user(session, world, "county")
    bad = clean_rows(3, ["100001001"])
    for row in bad:
        if row["relation"] == "本人":
            row["phone"] = "12345"  # the same wrong phone on every household: one parse, every row reported
    report, _drafts = imports.check(session, county_user, write(tmp_path / "bad.xlsx", bad), "bad.xlsx")
    heads = [n for n, row in enumerate(bad, start=2) if row["relation"] == "本人"]
    assert [(p.row, p.column, p.code) for p in report.errors] == [(n, "联系电话", "invalid") for n in heads]

    rows = clean_rows(30, ["100001001", "100001002"])
    rows[5]["income"] = "100"  # a member (not the head) with an income of their own
    report = imports.import_roster(session, county_user, write(tmp_path / "roster.xlsx", rows), "roster.xlsx")
    session.commit()
    assert report.imported == 30 and report.ok
    _fresh(session)
    for n in range(30):
        case = session.scalar(select(Case).where(Case.head_name == f"户主{n}"))
        size = 1 + n % 3
        assert len(case.members) == size
        assert case.computed_amount == Decimal(780 * size - 450 - (100 if n == 2 else 0))  # rows[5]: household 2
        assert case.head_id_hash == crypto.blind_index(person_id(n * 4 + 1)) == case.members[0].id_number_hash
        for position, member in enumerate(case.members):
            expected = person_id(n * 4 + 1) if position == 0 else person_id(10_000_000 + n * 4 + position, "20100101")
            assert member.id_number == expected and member.id_number_hash == crypto.blind_index(expected)
        assert case.payment_account.number == bank_card(n)
        assert case.payment_account.number_hash == crypto.blind_index(bank_card(n))
    earner = session.scalar(select(Member).where(Member.name == rows[5]["name"],
                                                 Member.id_number_hash == crypto.blind_index(rows[5]["id_number"])))
    assert [i.monthly_amount for i in earner.incomes] == [Decimal("100.00")] and earner.position > 0
    stored = session.execute(text("SELECT head_id_number FROM dibao_case")).scalars().all()
    accounts = session.execute(text("SELECT number FROM payment_account")).scalars().all()
    assert len(stored) == 30 and all(v.startswith(crypto.PREFIX) for v in stored + accounts)
    assert not {person_id(n * 4 + 1) for n in range(30)} & {v[len(crypto.PREFIX):] for v in stored}
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "case_imported")
                             .order_by(AuditEvent.id)).all()
    assert len(events) == 30 and {int(e.object_id) for e in events} == set(
        session.scalars(select(Case.id)).all())
    assert audit.verify(session).ok


def test_the_public_roster_shows_an_import_at_once(app, client, world, session, tmp_path):
    """The import writes with Core statements, which the public cache's listener (dibao.cache, ORM flushes) does
    not see. The roster is not among the cached views today; this fails if it becomes one without the import
    bumping the version of the counties it wrote into."""
    standard(session, world)
    session.commit()
    before = client.get("/roster/100001001").get_data(as_text=True)  # anonymous: rendered once and cached
    assert "户*0" not in before
    imports.import_roster(session, user(session, world, "county"), write(tmp_path / "roster.xlsx",
                                                                         clean_rows(3, ["100001001"])), "roster.xlsx")
    session.commit()
    after = client.get("/roster/100001001").get_data(as_text=True)
    assert "户*0" in after and "共 3 户" in after


def test_a_bulk_work_pauses_the_cycle_collector_and_brings_it_back_after_the_last_one():
    import gc
    import threading

    from dibao import db

    assert gc.isenabled()
    first_in, second_out = threading.Event(), threading.Event()
    seen = {}

    def other():
        with db.without_cycle_collector():
            first_in.wait(5)
            seen["during"] = gc.isenabled()
        second_out.set()

    with db.without_cycle_collector():
        assert not gc.isenabled()
        thread = threading.Thread(target=other)
        thread.start()
        first_in.set()
        second_out.wait(5)
        assert not gc.isenabled()  # the other work ended first: still paused for this one
    thread.join()
    assert seen["during"] is False and gc.isenabled()
    try:
        with db.without_cycle_collector():
            raise ValueError("a failed import")
    except ValueError:
        pass
    assert gc.isenabled()
    gc.disable()
    try:
        with db.without_cycle_collector():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()


# --- the 收入类型 column: a drop-down of the income types like the other list columns, and each word of a type
# that lists several (养老金、退休金 → 养老金, 退休金), as the column's hint shows them, is that type.

LABELS = ["工资性收入", "经营性收入", "种养殖收入", "财产性收入（租金、利息）", "养老金、退休金", "赡养费、抚（扶）养费", "其他收入",
          "奖励金、奖学金（不计入）", "优抚对象抚恤金、补助金（不计入）", "社会救助金、临时救助金（不计入）"]


def _validation(sheet, header: str):
    """The data validation covering the first data cell of the column with ``header``."""
    column = get_column_letter([c.value for c in sheet[1]].index(header) + 1)
    found = [dv for dv in sheet.data_validations.dataValidation if f"{column}2" in dv.sqref]
    assert len(found) <= 1
    return found[0] if found else None, column


def _check_income(app, county, path) -> int:
    token = csrf_token(county, "/admin/data/")
    with open(path, "rb") as fh:
        res = county.post("/admin/data/import", data={"csrf_token": token, "file": (fh, path.name)},
                          content_type="multipart/form-data")
    job_id = int(re.search(r"/admin/jobs/(\d+)", res.headers["Location"]).group(1))
    app.extensions["dibao.jobs"].drain()
    return job_id


def test_the_template_offers_the_income_types_as_a_drop_down(county):
    book = openpyxl.load_workbook(io.BytesIO(county.get("/admin/data/import/template.xlsx").data))
    sheet = book["低保名册"]
    income, column = _validation(sheet, "收入类型")
    assert income is not None and income.type == "list", "收入类型 has a drop-down like 与户主关系"
    assert income.formula1.strip('"').split(",") == LABELS
    assert f"{column}{imports.MAX_ROWS + 1}" in income.sqref  # the whole column, as the other lists
    # A single word (养老金) is not in the list but is right: Excel warns instead of refusing it.
    assert income.errorStyle == "warning" and "养老金" in income.error
    relation, _ = _validation(sheet, "与户主关系")
    assert relation is not None and relation.errorStyle in (None, "stop")
    hint = {row[0].value: row[1].value for row in book["填写说明"].iter_rows(min_row=2) if row[0].value}["收入类型"]
    assert "下拉列表" in hint and "养老金" in hint
    assert LABELS == [str(label) for label, _counted in entitlement.INCOME_SOURCES.values()]


def test_each_word_of_a_type_and_the_whole_type_import_as_that_source(app, county, world, session, tmp_path):
    rows = []
    for n, written in enumerate(["养老金", "退休金", "养老金、退休金", "pension", "抚养费"], start=1):
        rows += household(str(n), "100001001", person_id(n), name=f"户主{n}", holder_name=f"户主{n}",
                          income_source=written, account_number=bank_card(n))
    job_id = _check_income(app, county, write(tmp_path / "roster.xlsx", rows))
    page = county.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert "检查通过" in page and "错误 0 处" in page
    res = county.post(f"/admin/jobs/{job_id}/confirm", data={"csrf_token": csrf_token(county, "/admin/data/")})
    assert res.status_code == 302
    assert app.extensions["dibao.jobs"].drain() == 1
    session.rollback()
    session.expire_all()
    sources = dict(session.execute(select(Case.head_name, MemberIncome.source)
                                   .join(Member, Member.case_id == Case.id)
                                   .join(MemberIncome, MemberIncome.member_id == Member.id)).all())
    assert sources == {"户主1": "pension", "户主2": "pension", "户主3": "pension", "户主4": "pension",
                       "户主5": "support"}


def test_an_unknown_income_type_is_refused_naming_the_accepted_ones(app, county, world, session, tmp_path):
    rows = household("1", "100001001", person_id(1), income_source="低保金")
    job_id = _check_income(app, county, write(tmp_path / "roster.xlsx", rows))
    report = imports.Report.from_dict(json.loads(session.get(Job, job_id).result))
    [problem] = report.errors
    assert (problem.row, problem.column, problem.code) == (2, "收入类型", "invalid")
    assert problem.message == ("收入类型应为下列一种：" + "；".join(LABELS) + "。列出几项的，只填其中一项也可以，如“养老金”。")
    assert problem.message in county.get(f"/admin/jobs/{job_id}").get_data(as_text=True)


def test_digits_int_cannot_read_are_row_errors_not_a_failed_check(county, world, session, tmp_path):
    """A superscript or circled digit is a digit to str.isdigit() but not to int(): an age of "³" and an ID number
    with one are problems of their row and column, and the check runs to its end (it failed whole before)."""
    head = person_id(11)
    rows = [*household("1", "100001001", head, members=[{"name": "甲", "age": "³", "id_number": ""}]),  # row 3
            *household("2", "100001001", person_id(12)[:16] + "③" + person_id(12)[17])]  # row 4
    report, drafts = imports.check(session, user(session, world, "county"), write(tmp_path / "r.xlsx", rows), "r.xlsx")
    assert {(p.row, p.column, p.code) for p in report.problems} == {
        (3, "年龄", "invalid"), (4, "身份证号码", "id_check")}
    assert drafts == [] and _count(session, Case) == 0


def test_a_category_the_half_yearly_rule_forbids_is_a_warning_and_imports_as_category_2(app, county, world, session,
                                                                                      tmp_path, runner):
    """A 31 (workflow.least_category): a household with a working-age member able to work, or with irregular income
    (business, farming), is reviewed at least half-yearly. Category 1 in the file is a warning beside the row and
    column, in the dry run and on the command line, and the household is imported as category 2, its first review
    six months (not a year) from its approval."""
    able = {"name": "李强", "id_number": person_id(62, "19900101"), "work_capacity": "有劳动能力", "age": ""}
    rows = [
        *household("1", "100001001", person_id(61), category="1", approved_on="2025-10-01", members=[able]),  # 2, 3
        *household("2", "100001001", person_id(63), category="1", approved_on="2025-10-01", name="张经营",
                   income="450", income_source="经营性收入"),  # row 4: a shop's income
        *household("3", "100001001", person_id(64), category="1", approved_on="2025-10-01", name="王退休"),  # 5
        *household("4", "100001001", person_id(65), category="3", approved_on="2025-10-01", name="赵季度",
                   members=[{**able, "id_number": person_id(66, "19900101")}]),  # rows 6, 7: already more often
    ]
    path = write(tmp_path / "roster.xlsx", rows)
    said = ("分类为一类（每年复核），但该户有劳动年龄内有劳动能力的成员，或有经营、种养殖等不固定收入，"
            "按《最低生活保障审核确认办法》第三十一条应至少每半年复核一次；将导入为二类（每半年复核）。")
    result = runner.invoke(args=["import", "roster", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "0 处错误" in result.output
    assert f"提示  第 2 行  分类  {said}" in result.output and f"提示  第 4 行  分类  {said}" in result.output
    assert "第 5 行  分类" not in result.output and "第 6 行  分类" not in result.output

    check_id = _job_id(_upload(county, path))
    _queue(app).drain()
    report = imports.Report.from_dict(json.loads(session.get(Job, check_id).result))
    assert report.ok
    assert {(p.row, p.column, p.code) for p in report.warnings if p.column == "分类"} == {
        (2, "分类", "category_raised"), (4, "分类", "category_raised")}
    page = county.get(f"/admin/jobs/{check_id}").get_data(as_text=True)
    assert "第三十一条应至少每半年复核一次；将导入为二类（每半年复核）" in page and "确认导入" in page
    import_id = _job_id(county.post(f"/admin/jobs/{check_id}/confirm",
                                    data={"csrf_token": csrf_token(county, "/admin/data/")}))
    assert _queue(app).drain() == 1
    _fresh(session)
    assert session.get(Job, import_id).status == JobStatus.done
    imported = {c.head_name: (c.category, c.next_review_due) for c in session.scalars(select(Case))}
    assert imported == {
        "李桂兰": (2, date(2026, 4, 1)),  # the file's 1 would have been 2026-10-01
        "张经营": (2, date(2026, 4, 1)),
        "王退休": (1, date(2026, 10, 1)),  # old, partly unable to work, a pension: yearly is allowed
        "赵季度": (3, date(2026, 4, 1)),
    }
