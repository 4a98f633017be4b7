"""Exports (导出 Excel): every list staff work from, as xlsx, within the user's scope, written by a background
job in constant memory (xlsxwriter's ``constant_memory``: each row goes to disk as it is written).

Adding an export is one function that yields its sheets — a title, the columns, and the rows as an iterator
(query with ``yield_per``, never a list of everything) — registered with :func:`export`::

    @export("payment_runs", _l("发放名册"))
    def payment_runs(session, user, params):
        stmt = select(...).where(PaymentLine.region_id.in_(scope.region_ids_in_scope(user)))
        yield Sheet(_l("发放名册"), [Col(_l("户主")), Col(_l("金额（元）"), MONEY)], rows(session, stmt), total)

What a sheet holds is what staff see on the screens (full ID numbers and phones; payment accounts masked as on
the case page); the scope is the user's region, as everywhere. Each export writes one audit event
``data_exported`` (which list, how many rows, which filters).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from dibao import audit, cases, clock, feedback, jobs, notices, scope, stats, workflow
from dibao.errors import NotFound, parse_record_id
from dibao.identity import mask_account
from dibao.models import Case, Objection, Region, Report, Stage, User
from dibao.models.job import Job, JobStatus
from dibao.models.payment import PaymentAccount
from dibao.text import clean_text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Column kinds: how a value is written and shown.
TEXT, NUMBER, MONEY, DATE, DATETIME = "text", "number", "money", "date", "datetime"


@dataclass(frozen=True)
class Col:
    header: Any  # lazy string
    kind: str = TEXT
    width: int = 12


@dataclass
class Sheet:
    title: Any
    columns: Sequence[Col]
    rows: Iterable[Sequence[Any]]
    total: int | None = None  # for the progress bar, when cheap to know


Build = Callable[[Session, User, dict], Iterable[Sheet]]


@dataclass(frozen=True)
class Export:
    name: str
    label: Any
    build: Build
    filters: tuple[str, ...] = field(default=())  # the params it reads (the rest of a form is ignored)


EXPORTS: dict[str, Export] = {}


def export(name: str, label: Any, *, filters: tuple[str, ...] = ()) -> Callable[[Build], Build]:
    """Register ``build`` as the export ``name`` (a decorator)."""

    def register(build: Build) -> Build:
        EXPORTS[name] = Export(name=name, label=label, build=build, filters=filters)
        return build

    return register


# --- starting and running ----------------------------------------------------------------------------------

def start(session: Session, actor: User, name: str, params: dict) -> Job:
    spec = EXPORTS.get(name)
    if spec is None:
        raise NotFound(_l("没有这种导出。"))
    kept = {k: str(params[k])[:100] for k in spec.filters if params.get(k) not in (None, "")}
    return jobs.start(session, actor, "export", {"export": name, "filters": kept, "role": actor.role.value},
                      title=str(_l("导出：%(label)s", label=spec.label)))


def may_download(user: User, job: Job) -> bool:
    """An export's file holds what its starter could see: they download it only while they still can — the same
    role, its region still in their scope. A clerk moved to another community, or given another role, no longer
    takes the old community's ID numbers home (the file stays on the server for FILES_KEPT_DAYS)."""
    role = json.loads(job.params or "{}").get("role")
    if role is not None and role != user.role.value:
        return False
    return job.region is None or scope.can_see(user, job.region)


SCOPE_CHANGED = _l("您的岗位或辖区已经变更，不能再下载变更前导出的文件；如还需要，请重新导出。")


def write_xlsx(path: Path, sheets: Iterable[Sheet], progress: Callable[..., None] | None = None) -> int:
    """Write the sheets to ``path`` in constant memory; returns the number of data rows written."""
    progress = progress or jobs.no_progress
    book = xlsxwriter.Workbook(str(path), {
        "constant_memory": True,
        # Text people typed (addresses, objections) stays text: never a formula or a link in the reader's Excel.
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    })
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    formats = {TEXT: book.add_format({"num_format": "@"}), NUMBER: None,
               MONEY: book.add_format({"num_format": "0.00"}), DATE: book.add_format({"num_format": "yyyy-mm-dd"}),
               DATETIME: book.add_format({"num_format": "yyyy-mm-dd hh:mm"})}
    written = 0
    used: set[str] = set()
    for sheet in sheets:
        ws = book.add_worksheet(_sheet_name(str(sheet.title), used))
        for i, col in enumerate(sheet.columns):
            ws.set_column(i, i, col.width, formats[col.kind])
        ws.write_row(0, 0, [str(c.header) for c in sheet.columns], head)
        ws.freeze_panes(1, 0)
        row_number = 0
        for row_number, values in enumerate(sheet.rows, start=1):
            # Text stored before dibao.text cleaned input may hold control characters (BEL would read "_x0007_").
            ws.write_row(row_number, 0, [v if v.__class__ is not str or v.isprintable() else clean_text(v)
                                         for v in values])
            if row_number % 500 == 0:
                progress(written + row_number, sheet.total and written + sheet.total)
        written += row_number
    book.close()
    return written


def _sheet_name(title: str, used: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet"
    base, n = name, 2
    while name in used:
        name = f"{base[:28]}({n})"
        n += 1
    used.add(name)
    return name


@jobs.kind("export", _l("导出 Excel"), writes=False,
           finish=lambda session, actor, result: audit.record(
               session, actor, "data_exported", "export", result.get("export"),
               region_id=actor.region_id if actor else None,
               details={"rows": result.get("rows"), "filters": result.get("filters"), "file": result.get("file_name")}))
def _run_export(session: Session, actor: User | None, params: dict, progress: jobs.Progress) -> dict:
    spec = EXPORTS.get(params.get("export", ""))
    if spec is None or actor is None:
        raise NotFound(_l("没有这种导出。"))
    filters = params.get("filters") or {}
    name = f"exports/{progress.job_id}-{spec.name}.xlsx"
    path = jobs.private_file(progress.files / name)  # staff's personal data: the service user's only
    with force_locale("zh_CN"):  # the sheets are documents of record, in the source language
        rows = write_xlsx(path, spec.build(session, actor, filters), progress)
    return {"export": spec.name, "rows": rows, "filters": filters, "file_name": name}


def file_path(files: Path, job: Job) -> Path | None:
    if job.kind != "export" or job.status != JobStatus.done or not job.file_name:
        return None
    path = (files / job.file_name).resolve()
    if not path.is_relative_to(files.resolve()) or not path.exists():
        return None
    return path


def download_name(job: Job) -> str:
    spec = EXPORTS.get(job.file_name.split("-", 1)[1].removesuffix(".xlsx")) if job.file_name else None
    label = str(spec.label) if spec else "导出"
    return f"{label}_{clock.to_local(job.created_at):%Y%m%d-%H%M}.xlsx"


def _stream(session: Session, stmt) -> Iterator:
    """Rows of a select, fetched in batches (a server-side cursor on PostgreSQL): memory stays flat."""
    yield from session.execute(stmt.execution_options(yield_per=1000))


def _local(instant):
    return clock.to_local(instant).replace(tzinfo=None) if instant else None


def _money(value):
    return float(value) if value is not None else None


# --- the lists ----------------------------------------------------------------------------------------------

CASE_FILTERS = ("q", "stage", "community", "overdue", "category")


@export("cases", _l("低保案件"), filters=CASE_FILTERS)
def cases_export(session: Session, user: User, params: dict) -> Iterator[Sheet]:
    """The case list with the filters of its page (dibao.cases.search), page by page; its numbers read as the
    page reads them (dibao.web.int_arg), so the export holds what the page listed."""
    filters = {"q": params.get("q", ""), "stage": params.get("stage", ""),
               "community_id": parse_record_id(params.get("community")),
               "overdue": params.get("overdue", ""), "category": parse_record_id(params.get("category"))}
    first = cases.search(session, user, page=1, per_page=500, **filters)

    def rows():
        page = first
        while page.items:
            for c in page.items:
                town = c.region.parent
                yield (c.number, c.head_name, c.head_id_number, c.head_phone or "", town.name if town else "",
                       c.region.name, c.address, page.household_sizes[c.id], c.category,
                       str(workflow.STAGE_LABELS[c.stage]),
                       _money(c.monthly_amount), _local(c.accepted_at), _local(c.approved_at), c.next_review_due,
                       "、".join(str(cases.OVERDUE_LABELS[k]) for k in cases.overdue_keys(c)))
            if page.page >= page.pages:
                break
            session.expunge_all()  # constant memory: the page's objects are written, let them go
            page = cases.search(session, user, page=page.page + 1, per_page=500, **filters)

    yield Sheet(_l("低保案件"), [
        Col(_l("案卷号"), width=24), Col(_l("户主")), Col(_l("身份证号码"), width=20), Col(_l("联系电话"), width=14),
        Col(_l("乡镇（街道）")), Col(_l("社区（村）")), Col(_l("家庭住址"), width=30), Col(_l("家庭人口"), NUMBER, 8),
        Col(_l("分类"), NUMBER, 6), Col(_l("办理阶段")), Col(_l("月保障金（元）"), MONEY), Col(_l("受理时间"), DATETIME, 16),
        Col(_l("审批时间"), DATETIME, 16), Col(_l("下次复核"), DATE), Col(_l("超期"), width=20),
    ], rows(), first.total)


def roster_rows(session: Session, user: User) -> tuple[Any, int]:
    """The select of the roster export (active households in scope, one row each) and its row count."""
    town = aliased(Region)
    in_scope = Case.region_id.in_(scope.region_ids_in_scope(user))
    stmt = (
        select(town.name, Region.name, Case.number, Case.head_name, Case.head_id_number, Case.head_phone,
               Case.address, Case.household_size, Case.category, Case.monthly_amount, Case.payment_start,
               Case.next_review_due,
               PaymentAccount.kind, PaymentAccount.bank_name, PaymentAccount.number)
        .join(Region, Case.region_id == Region.id)
        .outerjoin(town, Region.parent_id == town.id)
        .outerjoin(PaymentAccount, PaymentAccount.case_id == Case.id)
        .where(Case.stage == Stage.active, in_scope)
        .order_by(Region.path, Case.number)
    )
    total = session.scalar(select(func.count(Case.id)).where(Case.stage == Stage.active, in_scope)) or 0
    return stmt, total


ROSTER_COLUMNS = [
    Col(_l("乡镇（街道）")), Col(_l("社区（村）")), Col(_l("案卷号"), width=24), Col(_l("户主")),
    Col(_l("身份证号码"), width=20), Col(_l("联系电话"), width=14), Col(_l("家庭住址"), width=30),
    Col(_l("家庭人口"), NUMBER, 8), Col(_l("分类"), NUMBER, 6), Col(_l("月保障金额（元）"), MONEY, 14),
    Col(_l("开始发放"), DATE), Col(_l("下次复核"), DATE), Col(_l("发放账户"), width=36),
]


@export("roster", _l("在保家庭名册"))
def roster_export(session: Session, user: User, params: dict) -> Iterator[Sheet]:
    stmt, total = roster_rows(session, user)
    kinds = {k: str(v) for k, v in cases.ACCOUNT_KIND_LABELS.items()}

    def rows():
        for (town, community, number, head, id_number, phone, address, size, category, amount, start, review,
             kind, bank, account) in _stream(session, stmt):
            yield (town or "", community, number, head, id_number, phone or "", address, size, category,
                   _money(amount), start, review, f"{kinds[kind]} {bank} {mask_account(account)}" if kind else "")

    yield Sheet(_l("在保家庭名册"), ROSTER_COLUMNS, rows(), total)


@export("notices", _l("公示批次和名单"))
def notices_export(session: Session, user: User, params: dict) -> Iterator[Sheet]:
    """Batches covering the user's region, and their entries in it (as the notice pages show staff): a batch's
    households are the user's part of it (a clerk's part of a town board), marked when it is a part."""
    batches = notices.staff_batches(session, user)
    now = clock.now()
    levels = workflow.REVIEWER_LABELS
    whole, part = str(_l("全批")), str(_l("仅本辖区部分"))

    def batch_rows():
        for b in batches:
            shown = len(notices.visible_entries(user, b))
            yield (b.public_id, b.title, str(levels[b.level]), b.region.name, _local(b.opens_at), _local(b.closes_at),
                   str(notices.STATUS_LABELS[notices.batch_status(b, now)]), shown,
                   part if shown < len(b.entries) else whole, b.withdrawn_reason or "")

    yield Sheet(_l("公示批次"), [
        Col(_l("公示编号"), width=14), Col(_l("标题"), width=36), Col(_l("级别")), Col(_l("张贴地区")),
        Col(_l("开始时间"), DATETIME, 16), Col(_l("结束时间"), DATETIME, 16), Col(_l("状态")), Col(_l("户数"), NUMBER, 8),
        Col(_l("范围"), width=14), Col(_l("撤回原因"), width=30)], batch_rows(), len(batches))

    def entries():
        for b in batches:
            for e in notices.visible_entries(user, b):
                yield (b.public_id, e.public_id, e.region.name, e.head_name, e.address, e.household_size,
                       _money(e.household_income), _money(e.monthly_amount),
                       str(workflow.DECISION_LABELS[e.opinion_decision]), e.opinion_text,
                       str(notices.STATUS_LABELS[notices.entry_status(e, now)]), e.withdrawn_reason or "")

    yield Sheet(_l("公示名单"), [
        Col(_l("公示编号"), width=14), Col(_l("条目编号"), width=14), Col(_l("社区（村）")), Col(_l("户主")),
        Col(_l("住址"), width=30), Col(_l("家庭人口"), NUMBER, 8), Col(_l("家庭月收入（元）"), MONEY, 14),
        Col(_l("月保障金额（元）"), MONEY, 14), Col(_l("意见")), Col(_l("意见内容"), width=40), Col(_l("状态")),
        Col(_l("撤回原因"), width=30)], entries())


def _feedback_rows(user: User, items, contact, labels, outcome_labels):
    """The rows of the items ``user`` may open (``feedback.can_see``: never a report about the user, whatever
    its region), with the submitter as ``contact(item)`` gives it."""
    for item in items:
        if not feedback.can_see(user, item):
            continue
        yield (item.tracking_code, item.region.name, str(feedback.CATEGORY_LABELS[item.category]), item.description,
               *contact(item), _local(item.created_at), item.deadline, str(feedback.STATUS_LABELS[item.status]),
               str(outcome_labels[item.outcome]) if item.outcome else "", item.public_answer or "",
               _local(item.decided_at), *labels(item))


def _objector(item: Objection) -> tuple[str, str]:
    """An objection's real-name submitter as its page shows them to everyone who handles it."""
    return (item.submitter_name or "", item.submitter_phone or "") if item.real_name else ("", "")


def _reporter(item: Report) -> tuple[str, str]:
    """A reporter's name and phone are not exported: the deciding level alone reads them, one audited look at a
    time on the report's page (``feedback.reporter_contact``), so a sheet passed around cannot expose them."""
    return (str(REPORTER_ON_PAGE), "") if item.real_name and item.erased_at is None else ("", "")


REPORTER_ON_PAGE = _l("实名（姓名和电话只在举报页面由作出结论的一级查看）")


FEEDBACK_COLUMNS = [
    Col(_l("查询码"), width=14), Col(_l("社区（村）")), Col(_l("问题类别")), Col(_l("反映内容"), width=40),
    Col(_l("实名反映人")), Col(_l("联系电话"), width=14), Col(_l("收到时间"), DATETIME, 16), Col(_l("答复期限"), DATE),
    Col(_l("状态")), Col(_l("结论")), Col(_l("公开答复"), width=40), Col(_l("办结时间"), DATETIME, 16),
]


@export("feedback", _l("异议和举报"))
def feedback_export(session: Session, user: User, params: dict) -> Iterator[Sheet]:
    in_scope = scope.region_ids_in_scope(user)
    objections = select(Objection).where(Objection.region_id.in_(in_scope)).order_by(Objection.created_at)
    reports = select(Report).where(Report.region_id.in_(in_scope)).order_by(Report.created_at)
    yield Sheet(_l("异议"), [*FEEDBACK_COLUMNS, Col(_l("公示户主")), Col(_l("案卷号"), width=24)],
                _feedback_rows(user, session.scalars(objections.execution_options(yield_per=500)), _objector,
                               lambda o: (o.entry.head_name, o.case.number), feedback.OUTCOME_LABELS))
    yield Sheet(_l("举报"), [*FEEDBACK_COLUMNS, Col(_l("举报对象")), Col(_l("涉及家庭")), Col(_l("被举报的人或单位"))],
                _feedback_rows(user, session.scalars(reports.execution_options(yield_per=500)), _reporter,
                               lambda r: (str(feedback.SUBJECT_LABELS[r.subject]),
                                          f"{r.case.head_name} {r.case.number}" if r.case else "", r.about or ""),
                               feedback.REPORT_OUTCOME_LABELS))


@export("payment_run", _l("发放明细"), filters=("run", "region", "status"))
def payment_run_export(session: Session, user: User, params: dict) -> Iterator[Sheet]:
    """A payment run's lines as its page lists them — the user's part, the page's community and status — with the
    accounts masked as there."""
    from dibao import payments
    from dibao.models.payment import LineStatus, PaymentLine

    run = payments.get_run(session, user, parse_record_id(params.get("run")))
    status = params.get("status")
    where = payments.line_conditions(user, run, region_id=parse_record_id(params.get("region")),
                                     status=LineStatus(status) if status in LineStatus.__members__ else None)
    stmt = (select(Case.number, Case.head_name, Region.name, PaymentLine.category, PaymentLine.persons,
                   PaymentLine.amount, PaymentLine.arrears, PaymentLine.carried_from_id, PaymentLine.total,
                   PaymentAccount.number, PaymentLine.status, PaymentLine.bank_reason)
            .join(Case, Case.id == PaymentLine.case_id).join(Region, Region.id == PaymentLine.region_id)
            .outerjoin(PaymentAccount, PaymentAccount.case_id == PaymentLine.case_id)
            .where(*where).order_by(PaymentLine.region_id, PaymentLine.id))
    total = session.scalar(select(func.count(PaymentLine.id)).where(*where)) or 0
    carried, missing = str(_l("（上月失败结转）")), str(_l("未登记"))

    def rows():
        for (number, head, community, category, persons, amount, arrears, carried_from, line_total, account,
             line_status, reason) in _stream(session, stmt):
            yield (number, head, community, category, persons, _money(amount),
                   _money(arrears), carried if carried_from else "", _money(line_total),
                   mask_account(account) if account else missing,
                   str(payments.LINE_STATUS_LABELS[line_status]), reason or "")

    yield Sheet(_l("%(month)s 发放明细", month=payments.month_label(run.month)), [
        Col(_l("案卷号"), width=24), Col(_l("户主")), Col(_l("社区（村）")), Col(_l("分类"), NUMBER, 6),
        Col(_l("人数"), NUMBER, 6), Col(_l("当月金额（元）"), MONEY, 14), Col(_l("补发/结转（元）"), MONEY, 14),
        Col(_l("结转"), width=16), Col(_l("合计（元）"), MONEY, 12), Col(_l("发放账户"), width=24),
        Col(_l("状态")), Col(_l("银行反馈原因"), width=30)], rows(), total)


@export("reviews", _l("复核工作清单"), filters=("bucket", "category", "community"))
def reviews_export(session: Session, user: User, params: dict) -> Iterator[Sheet]:
    """The review worklist with its page's bucket, category and community: every household of it (the page shows
    the first 500), with its open proposals counted."""
    from dibao import reviews
    from dibao.models.management import Proposal, ProposalStatus

    bucket = params.get("bucket") if params.get("bucket") in reviews.BUCKETS else "due"
    category = parse_record_id(params.get("category"))
    where = reviews.worklist_conditions(user, bucket=bucket, category=category if category in (1, 2, 3, 4) else None,
                                        community_id=parse_record_id(params.get("community")))
    proposals = (select(func.count(Proposal.id)).where(Proposal.case_id == Case.id,
                                                       Proposal.status == ProposalStatus.open)
                 .correlate(Case).scalar_subquery())
    stmt = (select(Case.number, Case.head_name, Region.name, Case.category, Case.next_review_due, proposals)
            .join(Region, Region.id == Case.region_id).where(*where).order_by(*reviews.worklist_order()))
    total = session.scalar(select(func.count(Case.id)).where(*where)) or 0
    today = clock.today()
    yes, no = str(_l("是")), str(_l("否"))

    def rows():
        for number, head, community, category_, due, open_proposals in _stream(session, stmt):
            yield (number, head, community, category_, due, yes if due is not None and due < today else no,
                   open_proposals or 0)

    yield Sheet(_l("复核工作清单（%(bucket)s）", bucket=reviews.BUCKETS[bucket]), [
        Col(_l("案卷号"), width=24), Col(_l("户主")), Col(_l("社区（村）")), Col(_l("分类"), NUMBER, 6),
        Col(_l("应复核日期"), DATE), Col(_l("已逾期"), width=8), Col(_l("待决定的提议"), NUMBER, 12)], rows(), total)


@export("stats", _l("统计"), filters=("month",))
def stats_export(session: Session, user: User, params: dict) -> Iterator[Sheet]:
    """The statistics page's figures, one sheet each, with the same numbers as its tables."""
    month = stats.parse_month(params.get("month"), clock.today())
    for figure in stats.staff_figures(session, user, month):
        columns = [Col(figure.headers[0], width=24), *[Col(h, NUMBER, 12) for h in figure.headers[1:]]]
        rows = ([float(v) if isinstance(v, Decimal) else v for v in row] for row in figure.rows)
        yield Sheet(figure.title, columns, rows, len(figure.rows))
