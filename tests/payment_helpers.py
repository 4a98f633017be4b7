"""Helpers for the payment tests: bank files, approving a run."""

from __future__ import annotations

import io

import xlsxwriter
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from dibao import payments
from dibao.identity import with_luhn_digit
from dibao.models import Role, User
from dibao.models.payment import PaymentRun


def read(data: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python(skip_empty_area=False)


def answer(data: bytes, results: dict[int, tuple[str, str]] | None = None, *, month: str | None = None,
           drop: int | None = None, change: dict[int, dict[str, str]] | None = None) -> bytes:
    """The bank's return file: the exported sheet with 发放结果 / 失败原因 filled (every line 成功 by default)."""
    rows = read(data)
    headers = [str(h) for h in rows[1]]
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
    ws = book.add_worksheet()
    first = list(rows[0])
    if month:
        first[1] = month
    ws.write_row(0, 0, first)
    ws.write_row(1, 0, headers)
    n = 2
    for row in rows[2:]:
        values = dict(zip(headers, row, strict=False))
        line_id = int(values["流水号"])
        if line_id == drop:
            continue
        result, reason = (results or {}).get(line_id, ("成功", ""))
        values.update({"发放结果": result, "失败原因": reason, **(change or {}).get(line_id, {})})
        ws.write_row(n, 0, [values[h] for h in headers])
        n += 1
    book.close()
    return out.getvalue()


luhn = with_luhn_digit  # tests make valid bank cards with the identity module's helper


def approve(session, world, run: PaymentRun) -> PaymentRun:
    """Each town's reviewer checks its part of ``run`` and the county approves it (committed): runs go in month
    order, so the next month's run may be generated only now."""
    for check in payments.town_checks(session, run):
        if check.checked_at is None:
            reviewer = session.scalar(select(User).where(User.role == Role.town_reviewer,
                                                         User.region_id == check.town_id).order_by(User.id))
            payments.check_town(session, reviewer, run)
    payments.approve(session, session.get(User, world.users["county"]), run)
    session.commit()
    return run


def approved_run(session, world, clock) -> PaymentRun:
    """Three households of 甲一社区 with bank cards; April's run checked and approved (committed)."""
    from datetime import UTC, datetime

    from dibao import cases
    from dibao.models import Region, Stage
    from dibao.models.payment import AccountKind
    from tests.case_helpers import register, standard, to_stage, user

    standard(session, world)
    staff = user(session, world, "staff_a1")
    for i in range(3):
        case = register(session, staff, head_name=f"户主{i}", income="0.00", members=1)
        to_stage(session, world, case, Stage.active, levels=())
        cases.set_payment_account(session, staff, case, kind=AccountKind.bank_card, bank_name="农商银行",
                                  holder_name=case.head_name, number=luhn(f"62220202001122334{i}"))
    session.commit()
    clock.set(datetime(2026, 4, 5, 2, 0, tzinfo=UTC))
    run = payments.generate(session, None, session.get(Region, world.regions["county"]), "2026-04")
    payments.check_town(session, user(session, world, "town_a"), run)
    payments.approve(session, user(session, world, "county"), run)
    session.commit()
    return run
