"""Bank files (issue 11 item 4): export in the county's layout, the return file marks lines paid or failed, a
file that does not match is refused whole; failed lines carry into the next run."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from dibao import accounts, payments
from dibao.errors import Conflict, Forbidden, Invalid, NotFound
from dibao.models import Role
from dibao.models.payment import LineStatus, PaymentLine, PaymentRun, RunStatus
from tests.case_helpers import user
from tests.conftest import csrf_token
from tests.payment_helpers import answer, approved_run, luhn, read


@pytest.fixture
def run(session, world, clock):
    """Three households with bank cards; April's run approved."""
    return approved_run(session, world, clock)


def _lines(session, run):
    return list(session.scalars(select(PaymentLine).where(PaymentLine.run_id == run.id).order_by(PaymentLine.id)))


def test_export_in_the_default_layout_marks_the_run_sent(session, world, run):
    county = user(session, world, "county")
    data = payments.export_bank_file(session, county, run)
    session.commit()
    rows = read(data)
    assert rows[0][:2] == ["发放月份", "2026-04"]
    assert rows[1] == ["流水号", "户名", "账号", "开户银行", "金额（元）", "社区（村）", "发放结果", "失败原因"]
    lines = _lines(session, run)
    assert [int(r[0]) for r in rows[2:]] == [line.id for line in lines]
    assert rows[2][2] == lines[0].case.payment_account.number  # the bank gets the whole number
    assert [r[4] for r in rows[2:]] == [780.0] * 3
    assert run.status == RunStatus.sent


def test_export_waits_for_approval_and_follows_the_countys_layout(session, world, clock, run):
    county = user(session, world, "county")
    with pytest.raises(Invalid):
        payments.set_layout(session, county, run.county, "line,amount")  # no account: a return can't match
    with pytest.raises(Invalid):
        payments.set_layout(session, county, run.county, "line,account,amount,secret")
    payments.set_layout(session, county, run.county, "month,line,case,holder,account,amount")
    session.commit()
    assert read(payments.export_bank_file(session, county, run))[1][:6] == [
        "发放月份", "流水号", "案卷号", "户名", "账号", "金额（元）"]
    clock.set(datetime(2026, 5, 5, 2, 0, tzinfo=UTC))
    may = payments.generate(session, None, run.county, "2026-05")
    with pytest.raises(Conflict):
        payments.export_bank_file(session, county, may)  # not approved


def test_the_return_file_marks_lines_and_failures_carry_over(session, world, clock, run):
    county = user(session, world, "county")
    data = payments.export_bank_file(session, county, run)
    lines = _lines(session, run)
    result = payments.import_return(session, county, run, answer(data, {lines[1].id: ("失败", "账户已销户")}))
    session.commit()
    assert result == {"paid": 2, "failed": 1}
    assert [(line.status, line.bank_reason) for line in _lines(session, run)] == [
        (LineStatus.paid, None), (LineStatus.failed, "账户已销户"), (LineStatus.paid, None)]
    assert run.status == RunStatus.returned
    recon = payments.reconcile(session, run)
    assert (recon.paid, recon.failed, recon.pending, recon.lines, recon.ok) == (2, 1, 0, 3, True)
    with pytest.raises(Conflict):
        payments.import_return(session, county, run, answer(data))  # once
    session.rollback()
    # May: every household's May, and April's failed 780 carried once
    clock.set(datetime(2026, 5, 5, 2, 0, tzinfo=UTC))
    may = payments.generate(session, None, run.county, "2026-05")
    session.commit()
    carried = [line for line in _lines(session, may) if line.carried_from_id]
    assert [(c.case_id, c.carried_from_id, c.amount, c.total) for c in carried] == [
        (lines[1].case_id, lines[1].id, Decimal("0.00"), Decimal("780.00"))]
    assert may.total == Decimal("3120.00") and may.households == 3
    assert payments.reconcile(session, may).ok
    # The tables by town, community and category count the household with a carried line once, as the run does
    # (three households of one person each), and a town's part says the same.
    for by in ("town", "community", "category"):
        assert [(t.households, t.persons, t.total) for t in payments.totals(session, None, may, by)] == [
            (3, 3, Decimal("3120.00"))], by
    part = payments.shares(session, user(session, world, "town_a"), [may])[may.id]
    assert (part.households, part.persons, part.total, part.pending) == (3, 3, Decimal("3120.00"), 4)
    again = payments.generate(session, None, run.county, "2026-05")  # regenerated: still carried once
    assert len([line for line in _lines(session, again) if line.carried_from_id]) == 1


@pytest.mark.parametrize("spoil, expected", [
    (lambda data, lines: answer(data, month="2026-03"), "发放月份为“2026-03”"),
    (lambda data, lines: answer(data, change={lines[0].id: {"账号": luhn("622202020011223349")}}), "未知账号"),
    (lambda data, lines: answer(data, change={lines[0].id: {"金额（元）": 800.0}}), "与名册合计"),
    (lambda data, lines: answer(data, drop=lines[2].id), "不在文件中"),
    (lambda data, lines: answer(data, change={lines[0].id: {"流水号": 999999}}), "不在本名册中"),
    (lambda data, lines: answer(data, {lines[0].id: ("也许", "")}), "“成功”或“失败”"),
    (lambda data, lines: b"not a spreadsheet", "无法读取"),
])
def test_a_mismatching_return_file_is_refused_whole(session, world, run, spoil, expected):
    county = user(session, world, "county")
    data = payments.export_bank_file(session, county, run)
    session.commit()
    lines = _lines(session, run)
    with pytest.raises(payments.ReturnRefused) as refused:
        payments.import_return(session, county, run, spoil(data, lines))
    session.rollback()
    assert any(expected in p for p in refused.value.problems), refused.value.problems
    assert [line.status for line in _lines(session, run)] == [LineStatus.pending] * 3
    assert session.get(PaymentRun, run.id).status == RunStatus.sent


def test_bank_file_rules(session, world, run):
    from dibao import regions
    other = regions.create_region(session, None, code="200", name="外县", parent=None)
    outsider = accounts.create_user(session, None, username="outsider", display_name="外县", password=world.password,
                                    role=Role.county_approver, region=other)
    session.commit()
    expected = {"admin": None, "county": None, "town_a": Forbidden, "staff_a1": Forbidden, "outsider": NotFound}
    for name, error in expected.items():
        who = outsider if name == "outsider" else user(session, world, name)
        for action in (lambda who=who: payments.export_bank_file(session, who, run),
                       lambda who=who: payments.import_return(session, who, run, b""),
                       lambda who=who: payments.set_layout(session, who, run.county, "line,account,amount")):
            if error is None:  # allowed: the export works (the import then refuses an empty file)
                assert payments.export_bank_file(session, who, run)[:2] == b"PK"
                session.rollback()
                break
            with pytest.raises(error):
                action()
            session.rollback()
    assert session.get(PaymentRun, run.id).status == RunStatus.approved


def test_export_and_import_over_http(client, auth, session, world, run):
    auth.login("county")
    token = csrf_token(client, f"/admin/payments/{run.id}")
    res = client.post(f"/admin/payments/{run.id}/bank-file", data={"csrf_token": token})
    assert res.status_code == 200 and res.headers["Content-Disposition"].endswith('-2026-04.xlsx"')
    data = res.get_data()
    page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
    number = _lines(session, run)[0].case.payment_account.number
    assert number not in page and f"{number[:4]} **** **** {number[-4:]}" in page  # masked on screens
    res = client.post(f"/admin/payments/{run.id}/return-file", content_type="multipart/form-data",
                      data={"csrf_token": token, "file": (io.BytesIO(answer(data, month="2026-05")), "r.xlsx")})
    assert res.status_code == 400
    assert "发放月份为“2026-05”" in res.get_data(as_text=True)
    res = client.post(f"/admin/payments/{run.id}/return-file", content_type="multipart/form-data",
                      data={"csrf_token": token, "file": (io.BytesIO(answer(data)), "r.xlsx")})
    assert res.status_code == 302
    session.rollback()
    assert session.get(PaymentRun, run.id).status == RunStatus.returned
    assert "已发放" in client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
