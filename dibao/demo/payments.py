"""Demo payments (issue 11): a bank card for every household ever approved, three paid months (the first with
failed lines the next month carries over), and this month's run generated and waiting for the towns' check.
Everything goes through dibao.payments (generate, check, approve, export, the bank's return file)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dibao import accounts, cases, clock, entitlement, payments
from dibao.config import DEMO_PASSWORD
from dibao.identity import with_luhn_digit
from dibao.models import Case, Level, Region, Role, Stage, User
from dibao.models.payment import AccountKind, PaymentAccount, PaymentRun
from dibao.models.records import Standard

SUPERVISOR = "jiandu101"  # 东关社区's supervision group (群众监督组)
BANKS = ["阳光农商银行", "中国农业银行阳光支行", "中国邮政储蓄银行阳光支行"]
FAIL_REASONS = ["账户已冻结", "户名与账号不符", "账户已销户"]




def bank_answer(exported: bytes, failed: dict[int, str]) -> bytes:
    """What the bank sends back: the exported sheet with 发放结果 (成功/失败) and 失败原因 filled in."""
    import xlsxwriter
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_filelike(io.BytesIO(exported)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    headers = [str(h) for h in rows[1]]
    line_col, result_col, reason_col = headers.index("流水号"), headers.index("发放结果"), headers.index("失败原因")
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
    ws = book.add_worksheet()
    ws.write_row(0, 0, rows[0])
    ws.write_row(1, 0, headers)
    for n, row in enumerate(rows[2:], start=2):
        row = list(row) + [""] * (len(headers) - len(row))
        reason = failed.get(int(row[line_col]))
        row[result_col], row[reason_col] = ("失败", reason) if reason else ("成功", "")
        ws.write_row(n, 0, row)
    book.close()
    return out.getvalue()


def _user(session: Session, role: Role, region: Region) -> User | None:
    return session.scalar(select(User).where(User.role == role, User.region_id == region.id).order_by(User.id))


def _households_paid_for_months(session: Session, county: Region, county_user: User, seed: int, at: datetime) -> int:
    """A dozen households approved five months ago through the real workflow (dibao.demo.cases), so that the
    demo has months of payments behind it (the other demo households were approved only recently)."""
    import random

    from faker import Faker

    from dibao.demo import cases as demo_cases

    fake = Faker("zh_CN")
    fake.seed_instance(seed + 11)
    rng = random.Random(seed + 11)
    communities = [c for t in county.children if t.level == Level.town for c in t.children]
    made = 0
    index = 1000
    while made < 12:
        index += 1
        if index % 17 == 5:  # (a staff member's close relative needs a county visit: not in this batch)
            continue
        demo_cases._one(session, fake, rng, communities[made % len(communities)], Stage.active, index, county_user, at)
        made += 1
    return made


def seed_payments(session: Session, county: Region, seed: int = 2026) -> int:
    if session.scalar(select(PaymentRun.id).where(PaymentRun.county_id == county.id).limit(1)) or session.scalar(
            select(User.id).where(User.username == SUPERVISOR)):
        return 0  # (safe to run twice)
    county_user = _user(session, Role.county_approver, county)
    if county_user is None:
        return 0
    this_month = entitlement.month_start(clock.today())
    months = [this_month]
    for _ in range(3):
        months.insert(0, entitlement.month_start(months[0] - timedelta(days=1)))
    # approved in the month before the first paid one (paid from the month after), but not before the county had a
    # standard long enough for the whole procedure (a demo built early in the year pays fewer months)
    before = entitlement.month_start(months[0] - timedelta(days=1))
    at = datetime(before.year, before.month, 25, 2, 0, tzinfo=UTC)
    first_standard = session.scalar(select(func.min(Standard.effective_from)).where(Standard.region_id == county.id))
    if first_standard is None:
        return 0
    at = max(at, datetime(first_standard.year, first_standard.month, first_standard.day, 2, 0, tzinfo=UTC)
             + timedelta(days=60))
    if at >= clock.now():
        return 0
    created = _households_paid_for_months(session, county, county_user, seed, at)
    first_paid = entitlement.next_month(at.date())
    months = [m for m in months if m >= first_paid]
    community = session.scalar(select(Region).where(Region.level == Level.community,
                                                   Region.path.startswith(county.path)).order_by(Region.code))
    if community is not None and session.scalar(select(User).where(User.username == SUPERVISOR)) is None:
        accounts.create_user(session, None, username=SUPERVISOR, display_name=f"{community.name}群众监督组",
                             password=DEMO_PASSWORD, role=Role.supervisor, region=community)
        created += 1
    # a bank card for every household in payment (the staff of its community enter it; an exited one keeps none)
    approved = session.scalars(select(Case).where(Case.stage == Stage.active).order_by(Case.id)).all()
    for n, case in enumerate(approved):
        if session.scalar(select(PaymentAccount.id).where(PaymentAccount.case_id == case.id)):
            continue
        staff = _user(session, Role.community_staff, case.region)
        if staff is None:
            continue
        cases.set_payment_account(session, staff, case, kind=AccountKind.bank_card, bank_name=BANKS[n % len(BANKS)],
                                  holder_name=case.head_name, number=with_luhn_digit(f"621700{case.id:012d}"))
        created += 1
    # three paid months before this one; the first has failed lines, carried into the second
    for index, month in enumerate(months):
        day = min(5, clock.today().day) if month == this_month else 5
        with clock.travel(datetime(month.year, month.month, day, 1, 0, tzinfo=UTC)):
            run = payments.generate(session, county_user, county, month)
            created += run.households
            if month == this_month:
                continue  # waiting for the towns' check
            for check in payments.town_checks(session, run):
                town_user = _user(session, Role.town_reviewer, check.town)
                if town_user is not None:
                    payments.check_town(session, town_user, run, note="已逐户核对，无误。")
            if run.status.value != "checked":
                continue
            payments.approve(session, county_user, run)
            exported = payments.export_bank_file(session, county_user, run)
        with clock.travel(datetime(month.year, month.month, 12, 1, 0, tzinfo=UTC)):
            lines = payments.lines(session, None, run, limit=None)
            failed = {line.id: FAIL_REASONS[i % len(FAIL_REASONS)]
                      for i, line in enumerate(lines[3:6])} if index == 0 else {}
            payments.import_return(session, county_user, run, bank_answer(exported, failed))
    session.flush()
    return created
