"""Importing a county's existing roster (原有低保名册导入) from xlsx, xls or csv.

The file is one row per person (the template's sheet "低保名册"): the rows of a household share its 户编号, the
head of household's row (与户主关系 = 本人) carries the household's columns (community, address, category,
approval date, amount, tier, payment account). Every household becomes an active case (在保) in its community,
with its members, incomes, payment account, the amount period payment runs read, and the next review on its
category's schedule (a category below the least A 31 allows the household is raised to it, with a warning);
each gets one audit event ``case_imported``, which is also its "imported" line in the archive. Where the standard
in force for the community is 分档 (A 23), the household's tier is one of that standard's tiers, and its amount is
checked under that tier.

Two steps, each a background job (dibao.jobs): the check (dry run) lists every problem by row and column and
changes nothing; the import checks again (the database may have changed since) and writes everything in one
transaction — all the file's households or none. ``dibao import roster FILE [--dry-run]`` runs the same steps.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import xlsxwriter
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from python_calamine import CalamineError, CalamineWorkbook
from sqlalchemy import func, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from dibao import (
    audit,
    cache,
    cases,
    clock,
    db,
    entitlement,
    jobs,
    roster_summary,
    scope,
    sheets,
    stats_summary,
    workflow,
)
from dibao.crypto import blind_index
from dibao.db import chunks
from dibao.errors import Conflict, DomainError, Forbidden, Invalid
from dibao.identity import normalise_account_number, normalise_id_number, normalise_phone
from dibao.models import (
    AmountChange,
    AmountPeriod,
    Case,
    Level,
    Member,
    MemberIncome,
    Region,
    Role,
    Stage,
    User,
    WorkCapacity,
)
from dibao.models.job import Job, JobStatus
from dibao.models.payment import AccountKind, PaymentAccount, PaymentRun
from dibao.models.records import Standard, StandardMethod
from dibao.text import clean_line, normalise_name

MAX_ROWS = 200_000
SHEET = "低保名册"
UPLOAD_KINDS = _l("请上传 Excel（.xlsx）或 CSV 文件；旧版 .xls 请在 Excel 或 WPS 中另存为 .xlsx。")
ALLOWED_SUFFIXES = (".xlsx", ".csv")  # not .xls: calamine's reader of it cannot be sized first (dibao.sheets)
IMPORT_REASON = "导入原有名册"
TIER_REASON = f"{IMPORT_REASON}时的分档"  # the imported tier's written reason (as the override's below)
AUDIT_CHUNK = 500  # audit events appended per round trip while importing


# --- the file format (the template's headers are the format itself: Chinese in every language) -------------

@dataclass(frozen=True)
class Column:
    key: str
    header: str
    hint: str
    head_only: bool = False  # read from the head of household's row only
    text: bool = False  # kept as text in the template (long digit strings must not become numbers)
    width: int = 12
    # The template's drop-down list (a function: computed when the template is made, in Chinese).
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()
    only_choices: bool = True  # False: the list offers, Excel warns on other text but keeps it (the check decides)


def income_source_labels() -> tuple[str, ...]:
    """The 收入类型 drop-down: the labels of entitlement.INCOME_SOURCES, in Chinese whatever the user's language."""
    with force_locale("zh_CN"):
        return tuple(str(label) for label, _counted in entitlement.INCOME_SOURCES.values())


def _spellings(word: str) -> list[str]:
    """A word with a character's alternative in brackets is written either way: 抚（扶）养费 → 抚养费, 扶养费."""
    match = re.fullmatch(r"(.*)(.)（(.)）(.*)", word)
    if match is None:
        return [word]
    head, char, alternative, tail = match.groups()
    return [word, head + char + tail, head + alternative + tail]


def income_source_names() -> dict[str, str]:
    """Every text the 收入类型 column takes → its source code: the code, the whole label, the label without its
    note in brackets (奖励金、奖学金（不计入） → 奖励金、奖学金) and each word of a label that lists several
    (养老金、退休金 → 养老金, 退休金): the template's hint shows single words, so a clerk types them."""
    names: dict[str, str] = {}
    for code, label in zip(entitlement.INCOME_SOURCES, income_source_labels(), strict=True):
        base = re.sub(r"（[^（）]*）$", "", label)
        for word in (code, label, base, *base.split("、")):
            for spelling in _spellings(word):
                names.setdefault(spelling, code)  # a word two labels shared would stay with the first
    return names


def income_source(text: str, names: dict[str, str]) -> str | None:
    """The source code of a 收入类型 cell (see :func:`income_source_names`), or None. Half-width brackets and spaces
    are forgiven; several words of one source ("退休金，养老金") are that source."""
    key = "".join(text.split()).replace("(", "（").replace(")", "）").lower()
    if key in names:
        return names[key]
    found = {names.get(part) for part in re.split(r"[、,，/／;；]", key) if part}
    return found.pop() if len(found) == 1 else None


WORK_CAPACITY_VALUES = {"有劳动能力": WorkCapacity.full, "部分丧失劳动能力": WorkCapacity.partial,
                        "无劳动能力": WorkCapacity.none}
ACCOUNT_KIND_VALUES = {"银行卡": AccountKind.bank_card, "社会保障卡": AccountKind.social_security_card,
                       "一卡通": AccountKind.benefit_card}
CATEGORY_VALUES = {"1": 1, "2": 2, "3": 3, "4": 4, "一类": 1, "二类": 2, "三类": 3, "四类": 4}
YES_NO = {"是": True, "否": False, "": False}

COLUMNS: tuple[Column, ...] = (
    Column("household", "户编号", "同一户的各行填相同的编号（如原系统的家庭编号，或 1、2、3…）", text=True, width=10),
    Column("relation", "与户主关系", "户主本人一行填“本人”，每户必须有且只有一行“本人”", width=10,
           choices=tuple(cases.RELATIONS)),
    Column("name", "姓名", "", width=10),
    Column("id_number", "身份证号码", "18 位；户主必填，其他成员尽量填写。请保持文本格式，不要让 Excel 改成科学计数法",
           text=True, width=21),
    Column("age", "年龄", "可不填：按身份证号码中的出生日期计算", width=6),
    Column("work_capacity", "劳动能力", "有劳动能力 / 部分丧失劳动能力 / 无劳动能力；不填按“有劳动能力”", width=16,
           choices=tuple(WORK_CAPACITY_VALUES)),
    Column("health", "健康状况", "如 高血压、二级肢体残疾", width=14),
    Column("income", "月收入（元）", "该成员每月收入，没有填 0 或不填", width=12),
    Column("income_source", "收入类型", "从下拉列表中选择；列出几项的，也可以只填其中一项（如“养老金”）；不填按“工资性收入”",
           width=16, choices=income_source_labels, only_choices=False),
    Column("community_code", "社区代码", "户主行必填：社区（村）的区划代码，见“社区代码”表", head_only=True, text=True,
           width=14),
    Column("phone", "联系电话", "手机 11 位，固定电话如 0551-12345678", head_only=True, text=True, width=14),
    Column("address", "家庭住址", "户主行必填：完整住址", head_only=True, width=26),
    Column("public_address", "公示地址", "到小区或楼栋；不填按社区名称", head_only=True, width=16),
    Column("category", "分类", "1–4（一类每年复核、二类每半年、三类每季度、四类每月）", head_only=True, width=6,
           choices=("1", "2", "3", "4")),
    Column("tier", "分档", "低保标准按分档计算的地区填写：该户所在的档，须是现行标准中的一档（如“二档”）；不填的按文件中的金额导入，"
                           "导入后在案件页为该户选择分档。按差额计算的地区不填", head_only=True, width=8),
    Column("no_income_no_capacity_no_supporter", "三无人员", "是 / 否", head_only=True, width=8, choices=("是", "否")),
    Column("approved_on", "审批日期", "户主行必填：县级审批同意的日期，如 2024-06-15", head_only=True, width=12),
    Column("monthly_amount", "月保障金额（元）", "户主行必填：目前每月发放的金额", head_only=True, width=14),
    Column("account_kind", "账户类型", "银行卡 / 社会保障卡 / 一卡通；没有账户的整组不填", head_only=True, width=10,
           choices=tuple(ACCOUNT_KIND_VALUES)),
    Column("bank_name", "开户银行", "", head_only=True, width=16),
    Column("holder_name", "账户户名", "", head_only=True, width=10),
    Column("account_number", "账号", "银行卡号会校验最后一位", head_only=True, text=True, width=22),
)
HEADER_OF = {c.key: c.header for c in COLUMNS}
REQUIRED_HEADERS = ("household", "relation", "name", "id_number", "community_code", "address", "approved_on",
                    "monthly_amount")


def _normal_header(text: Any) -> str:
    value = str(text or "").strip().replace(" ", "").replace("*", "").replace("＊", "")
    return value.replace("(", "（").replace(")", "）")


KEY_OF_HEADER = {_normal_header(c.header): c.key for c in COLUMNS}


# --- the report --------------------------------------------------------------------------------------------

@dataclass
class Problem:
    row: int  # the spreadsheet's row number (the headers are row 1); 0 for the whole file
    column: str  # the header, or "" for the whole row
    code: str
    message: str
    warning: bool = False


@dataclass
class Report:
    filename: str
    rows: int = 0
    households: int = 0
    persons: int = 0
    problems: list[Problem] = field(default_factory=list)
    imported: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {"filename": self.filename, "rows": self.rows, "households": self.households,
                "persons": self.persons, "imported": self.imported, "problems": [asdict(p) for p in self.problems]}

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        return cls(filename=data.get("filename", ""), rows=data.get("rows", 0), households=data.get("households", 0),
                   persons=data.get("persons", 0), imported=data.get("imported", 0),
                   problems=[Problem(**p) for p in data.get("problems", [])])


# --- who may import --------------------------------------------------------------------------------------

def may_import(user: User | None) -> bool:
    """The county (its approvers, and the system admin setting the county up). ``None`` is the command line."""
    return user is None or user.role in (Role.county_approver, Role.admin)


def require_import(user: User | None) -> None:
    if not may_import(user):
        raise Forbidden(_l("只有县民政局或系统管理员可以导入原有名册。"))


def _communities(session: Session, actor: User | None) -> dict[str, Region]:
    stmt = select(Region).where(Region.level == Level.community)
    if actor is not None:
        stmt = stmt.where(scope.subtree_condition(actor.region))
    return {r.code: r for r in session.scalars(stmt)}


# --- the template ----------------------------------------------------------------------------------------

def template(session: Session, actor: User | None) -> bytes:
    """The xlsx template: the roster sheet with Chinese headers (text columns kept as text, drop-down lists),
    a sheet explaining each column with an example, and the community codes the user may import into."""
    require_import(actor)
    communities = sorted(_communities(session, actor).values(), key=lambda r: r.path)
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
    required = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1, "text_wrap": True, "valign": "top"})
    text = book.add_format({"num_format": "@"})
    tiers, one_set = _tiers_in_force(session, communities)
    sheet = book.add_worksheet(SHEET)
    for i, col in enumerate(COLUMNS):
        sheet.set_column(i, i, col.width, text if col.text else None)
        sheet.write_string(0, i, col.header, required if col.key in REQUIRED_HEADERS else head)
        if col.hint:
            sheet.write_comment(0, i, col.hint)
        choices = tiers if col.key == "tier" else col.choices() if callable(col.choices) else col.choices
        if choices:
            rule = {"validate": "list", "source": list(choices), "ignore_blank": True}
            # e.g. 养老金 for 养老金、退休金; a tier of one county among several: Excel only warns, the check decides
            if not col.only_choices or (col.key == "tier" and not one_set):
                rule.update(error_type="warning", error_title=col.header,
                            error_message="不是下拉列表中的写法。列出几项的，可以只填其中一项（如“养老金”）；"
                                          "其他写法检查时会指出。")
            sheet.data_validation(1, i, MAX_ROWS, i, rule)
    sheet.freeze_panes(1, 0)
    sheet.set_row(0, 32)

    notes = book.add_worksheet("填写说明")
    notes.set_column(0, 0, 18)
    notes.set_column(1, 1, 70)
    notes.set_column(2, 2, 24)
    notes.write_row(0, 0, ["列名", "填写要求", "示例（户主行）"], head)
    example = {"household": "1", "relation": "本人", "name": "李桂兰", "id_number": "340102195606150022",
               "work_capacity": "部分丧失劳动能力", "health": "高血压", "income": "450", "income_source": "养老金、退休金",
               "community_code": communities[0].code if communities else "", "phone": "13912345678",
               "address": "幸福路 8 号 2 单元 301 室", "public_address": "幸福路 8 号", "category": "2",
               "no_income_no_capacity_no_supporter": "否", "approved_on": "2024-06-15", "monthly_amount": "330.00",
               "account_kind": "银行卡", "bank_name": "中国农业银行", "holder_name": "李桂兰",
               "account_number": "6228480402564890018"}
    for i, col in enumerate(COLUMNS, start=1):
        need = "必填。" if col.key in REQUIRED_HEADERS else ""
        where = "只读户主行。" if col.head_only else ""
        here = f"本辖区现行分档：{'、'.join(tiers)}。" if col.key == "tier" and tiers else ""
        notes.write_row(i, 0, [col.header, f"{need}{where}{col.hint}{here}", example.get(col.key, "")])
    notes.write_string(len(COLUMNS) + 2, 0, "说明")
    notes.write_string(len(COLUMNS) + 2, 1, "每人一行；同一户的成员填相同的户编号。导入前系统先检查整个文件并列出每一处问题，"
                                            "没有问题才能确认导入；导入时全部成功或全部不导入。也可以另存为 CSV（UTF-8 或 GBK）后上传。")

    codes = book.add_worksheet("社区代码")
    codes.set_column(0, 0, 16, text)
    codes.set_column(1, 2, 24)
    codes.write_row(0, 0, ["社区代码", "社区（村）", "乡镇（街道）"], head)
    for i, region in enumerate(communities, start=1):
        codes.write_string(i, 0, region.code)
        codes.write_row(i, 1, [region.name, region.parent.name if region.parent else ""])
    book.close()
    return out.getvalue()


def _tiers_in_force(session: Session, communities: list[Region]) -> tuple[list[str], bool]:
    """The 分档 column's drop-down: the tier names of the standards in force today for ``communities`` (each
    once, in their standards' order), and whether they all have the same tiers (then Excel refuses other text;
    under several counties' tiers it only warns, and the check decides by the household's community)."""
    names: dict[str, None] = {}
    sets = set()
    for standard in entitlement.standards_in_force(session, communities, clock.today()).values():
        if standard is not None and standard.method == StandardMethod.tiered:
            shares = tuple(name for name, _share in standard.tier_shares)
            sets.add(shares)
            names.update(dict.fromkeys(shares))
    return list(names), len(sets) == 1


# --- reading the file ------------------------------------------------------------------------------------

def read_table(path: Path, filename: str) -> list[list[Any]]:
    """Every row of the file's roster sheet (the first sheet, or the one named 低保名册), headers first."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".csv":
        raw = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV in GBK
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise Invalid(_l("无法识别 CSV 文件的编码，请另存为 UTF-8 或 GBK 编码。"), field="file")
        return _csv_rows(text)
    if suffix not in ALLOWED_SUFFIXES:
        raise Invalid(UPLOAD_KINDS, field="file")
    sheets.check_xlsx(path, max_rows=MAX_ROWS + 1)  # before calamine: a sheet too large aborts the process
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheet = book.get_sheet_by_name(SHEET) if SHEET in book.sheet_names else book.get_sheet_by_index(0)
        return sheet.to_python(skip_empty_area=False)
    except (CalamineError, OSError, ValueError):
        raise Invalid(_l("文件打不开或已损坏，请确认是 Excel 或 CSV 文件。"), field="file") from None


def _csv_rows(text: str) -> list[list[str]]:
    """The CSV's rows, refusing (as dibao.sheets does for xlsx) content past MAX_ROWS rows or sheets.MAX_COLUMNS
    columns: blank lines and empty trailing cells are not kept, so a file of commas or line breaks stays small."""
    rows: list[list[str]] = []
    blank = 0
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            while row and not row[-1].strip():
                row.pop()
            if not row:
                blank += 1
                continue
            if number > MAX_ROWS + 1:
                raise Invalid(_l("一次最多导入 %(n)d 行，请分批导入。", n=MAX_ROWS), field="file")
            if len(row) > sheets.MAX_COLUMNS:
                raise Invalid(_l("表格第 %(col)s 列有内容，超过了 %(max)d 列的上限，未读取该文件。请删去多余的列。",
                                 col=sheets.column_name(len(row)), max=sheets.MAX_COLUMNS), field="file")
            rows.extend([] for _ in range(blank))
            blank = 0
            rows.append(row)
    except csv.Error:
        raise Invalid(_l("文件打不开或已损坏，请确认是 Excel 或 CSV 文件。"), field="file") from None
    return rows


def _cell(value: Any) -> str:
    """A cell as text: numbers Excel stored as 1.0 lose the .0; dates stay dates (handled by the caller).
    Control and formatting characters go (a line break in a cell becomes a space): see dibao.text."""
    if value.__class__ is str:  # most cells: first, as the check reads 20 cells a row
        return (value if value.isprintable() else clean_line(value)).strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value).strip()


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _cell(value)
    if len(text) == 10 and text[4] == text[7] == "-" and text.isascii():
        try:  # the usual 2024-06-15: what strptime's first format reads, at a tenth of the cost
            return date.fromisoformat(text)
        except ValueError:
            pass
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


# --- checking -----------------------------------------------------------------------------------------------

@dataclass
class PersonDraft:
    row: int
    name: str
    relation: str
    age: int
    id_number: str | None
    work_capacity: WorkCapacity
    health: str
    income: Decimal
    income_source: str
    id_hash: str | None = None  # the keyed hash of id_number (set by the database check, reused by the import)

    @property
    def incomes(self) -> tuple[SimpleNamespace, ...]:
        """The one income the roster gives a person, as a Member's (what workflow.needs_half_yearly reads)."""
        return (SimpleNamespace(source=self.income_source, monthly_amount=self.income),) if self.income else ()


@dataclass
class HouseholdDraft:
    key: str
    head_row: int
    region: Region
    phone: str | None
    address: str
    public_address: str
    category: int
    no_income_no_capacity_no_supporter: bool
    approved_on: date
    amount: Decimal
    account: dict | None
    members: list[PersonDraft]
    tier_name: str | None = None  # 分档: one of the tiers of the standard in force (None: none, or not tiered)
    computation: entitlement.Computation | None = None


class _Rows:
    """Collects the problems of one check, in row order."""

    def __init__(self, report: Report):
        self.report = report

    def error(self, row: int, key: str, code: str, message: Any) -> None:
        self.report.problems.append(Problem(row, HEADER_OF.get(key, key), code, str(message)))

    def warn(self, row: int, key: str, code: str, message: Any) -> None:
        self.report.problems.append(Problem(row, HEADER_OF.get(key, key), code, str(message), warning=True))


@db.without_cycle_collector()
def check(session: Session, actor: User | None, path: Path, filename: str,
          progress: Callable[..., None] | None = None) -> tuple[Report, list[HouseholdDraft]]:
    """Read and check the whole file; returns the report and, when it has no errors, the households."""
    require_import(actor)
    progress = progress or jobs.no_progress
    report = Report(filename=filename)
    table = read_table(path, filename)
    with force_locale("zh_CN"):  # the file's words are Chinese whatever the user's language
        drafts = _check_table(session, actor, table, report, progress)
    report.problems.sort(key=lambda p: (p.row, p.warning))
    return report, (drafts if report.ok else [])


def _header_keys(header: list[Any], out: _Rows) -> dict[str, int]:
    keys: dict[str, int] = {}
    for index, text in enumerate(header):
        key = KEY_OF_HEADER.get(_normal_header(text))
        if key and key not in keys:
            keys[key] = index
    missing = [HEADER_OF[k] for k in REQUIRED_HEADERS if k not in keys]
    if missing:
        out.error(1, "", "columns_missing", _l("缺少必填的列：%(names)s。请使用系统提供的模板。", names="、".join(missing)))
    return keys


def _check_table(session: Session, actor: User | None, table: list[list[Any]], report: Report,
                 progress: Callable[..., None]) -> list[HouseholdDraft]:
    out = _Rows(report)
    if not table or not any(_cell(v) for v in table[0]):
        out.error(1, "", "empty", _l("文件是空的，或第一行不是列名。"))
        return []
    keys = _header_keys(table[0], out)
    if report.errors:
        return []
    body = table[1:]
    while body and not any(_cell(v) for v in body[-1]):
        body.pop()
    if len(body) > MAX_ROWS:
        out.error(0, "", "too_many", _l("一次最多导入 %(n)d 行，请分批导入。", n=MAX_ROWS))
        return []
    report.rows = len(body)
    communities = _communities(session, actor)
    sources = income_source_names()
    today = clock.today()
    standards: dict[int, Standard | None] = {}

    def standard_of(region: Region) -> Standard | None:
        """The standard in force today for a community, looked up once a community (the tier and the amount)."""
        if region.id not in standards:
            standards[region.id] = entitlement.find_standard(session, region, today)
        return standards[region.id]

    def get(row: list[Any], key: str) -> Any:
        """A cell as the file stores it (a number, a date): for the few checks that need more than its text."""
        index = keys.get(key)
        return row[index] if index is not None and index < len(row) else ""

    # Every cell of a row as text, by column key, cleaned once ("" for a column the file has not): the checks
    # read about 20 cells a row, and cleaning each on every look cost a third of a 10,000-household check.
    where = [(column.key, keys.get(column.key, sys.maxsize)) for column in COLUMNS]
    groups: dict[str, list[tuple[int, list[Any], dict[str, str]]]] = defaultdict(list)
    for offset, row in enumerate(body):
        number = offset + 2
        # Most cells are printable text: stripped here, the rest through _cell (a call per cell was a tenth of the
        # check).
        cells = [v.strip() if v.__class__ is str and v.isprintable() else _cell(v) for v in row]
        if not any(cells):
            continue
        width = len(cells)
        text = {key: cells[index] if index < width else "" for key, index in where}
        if text["relation"] == "户主":  # many rosters write 户主 for the head's own row
            text["relation"] = "本人"
        household = text["household"]
        if not household:
            out.error(number, "household", "required", _l("请填写户编号。"))
            continue
        groups[household].append((number, row, text))

    phones = _once_per_value(lambda text: normalise_phone(text, field="phone"))
    seen_ids: dict[str, tuple[int, str]] = {}  # id number → (row, household key)
    drafts: list[HouseholdDraft] = []
    done = 0
    phase = str(_l("正在检查"))
    for key, rows in groups.items():
        heads = [(n, r, t) for n, r, t in rows if t["relation"] == "本人"]
        if not heads:
            out.error(rows[0][0], "relation", "no_head", _l("户编号 %(key)s 没有户主行（与户主关系为“本人”）。", key=key))
        elif len(heads) > 1:
            out.error(heads[1][0], "relation", "two_heads", _l("户编号 %(key)s 有两行“本人”，每户只能有一个户主。", key=key))
        members = []
        for number, row, text in sorted(rows, key=lambda item: item[2]["relation"] != "本人"):
            person = _check_person(number, row, text, get, out, sources, today)
            if person is None:
                continue
            if person.id_number:
                earlier = seen_ids.get(person.id_number)
                if earlier is not None and earlier[1] == key:
                    out.error(number, "id_number", "id_duplicate_file",
                              _l("身份证号码与第 %(row)d 行重复。", row=earlier[0]))
                elif earlier is not None:
                    out.error(number, "id_number", "member_two_households",
                              _l("此人已在第 %(row)d 行的另一户（户编号 %(key)s）中，一人只能属于一户。",
                                 row=earlier[0], key=earlier[1]))
                else:
                    seen_ids[person.id_number] = (number, key)
            members.append(person)
        if len(heads) == 1:
            draft = _check_household(*heads[0], key, get, out, communities, members, today, phones, standard_of)
            if draft is not None and len(members) == len(rows):  # every person of it checked out
                drafts.append(draft)
        done += len(rows)
        progress(done, report.rows, phase)
    report.households = len(groups)
    report.persons = sum(len(rows) for rows in groups.values())
    hashes = _check_database(session, seen_ids, out)
    # Only a household without errors can be imported; only its amount is worth a warning.
    wrong = {p.row for p in report.errors}
    drafts = [d for d in drafts if not any(m.row in wrong for m in d.members) and d.head_row not in wrong]
    for draft in drafts:
        for person in draft.members:
            person.id_hash = hashes.get(person.id_number) if person.id_number else None
    _check_categories(drafts, out)
    _check_amounts(drafts, out, standard_of)
    return drafts


def _once_per_value(normalise: Callable[[str], Any]) -> Callable[[str], tuple[Any, Any]]:
    """``normalise`` as (value, None) or (None, the message of its DomainError), computed once per distinct text:
    a roster repeats values (a household's landline, a village's phone), and phonenumbers parses slowly."""
    known: dict[str, tuple[Any, Any]] = {}

    def once(text: str) -> tuple[Any, Any]:
        if text not in known:
            try:
                known[text] = (normalise(text), None)
            except DomainError as err:
                known[text] = (None, err.message)
        return known[text]

    return once


def _check_person(number: int, row: list[Any], text: dict[str, str], get, out: _Rows, sources: dict[str, str],
                  today: date) -> PersonDraft | None:
    ok = True
    name = normalise_name(text["name"])  # nothing left of a name of spaces and invisible characters: required
    if not name:
        out.error(number, "name", "required", _l("请填写姓名。"))
        ok = False
    elif len(name) > 50:
        out.error(number, "name", "invalid", _l("姓名太长。"))
        ok = False
    relation = text["relation"]
    if relation not in cases.RELATIONS:
        out.error(number, "relation", "invalid" if relation else "required",
                  _l("与户主关系应为：%(names)s。", names="、".join(cases.RELATIONS)))
        ok = False
    raw_id = get(row, "id_number")
    id_number = None
    if isinstance(raw_id, float) and raw_id >= 1e15:
        out.error(number, "id_number", "id_check", _l("身份证号码被 Excel 存成了数字，后几位已丢失；请把该列设为文本格式后重新填写。"))
        ok = False
    else:
        try:
            id_number = normalise_id_number(text["id_number"], field="id_number", required=relation == "本人")
        except DomainError as err:
            out.error(number, "id_number", "id_check", err.message)
            ok = False
    age_text = text["age"]
    age = None
    if age_text:
        age = int(age_text) if age_text.isascii() and age_text.isdigit() and int(age_text) <= 130 else None
        if age is None:
            out.error(number, "age", "invalid", _l("请填写正确的年龄（0–130）。"))
            ok = False
    elif id_number:
        # The birth date is digits 7–14 of a number normalise_id_number has just checked.
        year, month, day = int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])
        age = today.year - year - ((today.month, today.day) < (month, day))
    elif ok:
        out.error(number, "age", "required", _l("没有身份证号码时请填写年龄。"))
        ok = False
    capacity_text = text["work_capacity"]
    capacity = WORK_CAPACITY_VALUES.get(capacity_text or "有劳动能力")
    if capacity is None:
        out.error(number, "work_capacity", "invalid", _l("劳动能力应为：有劳动能力、部分丧失劳动能力或无劳动能力。"))
        ok = False
    health = text["health"][:200]
    income = Decimal("0")
    try:
        income = entitlement.parse_money(text["income"], field_name="income", allow_empty=True) or income
    except DomainError as err:
        out.error(number, "income", "invalid", err.message)
        ok = False
    source_text = text["income_source"]
    source = income_source(source_text, sources) if source_text else None
    if source_text and source is None:
        out.error(number, "income_source", "invalid", _l("收入类型应为下列一种：%(names)s。列出几项的，只填其中一项也可以，"
                                                         "如“养老金”。", names="；".join(income_source_labels())))
        ok = False
    if not ok:
        return None
    return PersonDraft(row=number, name=name, relation=relation, age=age or 0, id_number=id_number,
                       work_capacity=capacity or WorkCapacity.full, health=health, income=income,
                       income_source=source or "wage")


def _check_household(number: int, row: list[Any], text: dict[str, str], key: str, get, out: _Rows,
                     communities: dict[str, Region],
                     members: list[PersonDraft], today: date, phones: Callable[[str], tuple[str | None, Any]],
                     standard_of: Callable[[Region], Standard | None]) -> HouseholdDraft | None:
    count = len(out.report.problems)
    code = text["community_code"]
    region = communities.get(code)
    if not code:
        out.error(number, "community_code", "required", _l("请填写社区代码。"))
    elif region is None:
        out.error(number, "community_code", "community_unknown",
                  _l("社区代码 %(code)s 不存在，或不在您的管辖范围内。", code=code))
    phone, message = phones(text["phone"])
    if message is not None:
        out.error(number, "phone", "invalid", message)
    address = text["address"]
    if not address:
        out.error(number, "address", "required", _l("请填写家庭住址。"))
    category = CATEGORY_VALUES.get(text["category"] or "1")
    if category is None:
        out.error(number, "category", "invalid", _l("分类应为 1、2、3 或 4。"))
    three_no = YES_NO.get(text["no_income_no_capacity_no_supporter"])
    if three_no is None:
        out.error(number, "no_income_no_capacity_no_supporter", "invalid", _l("三无人员请填“是”或“否”。"))
    approved_on = _date(get(row, "approved_on"))
    if not text["approved_on"]:
        out.error(number, "approved_on", "required", _l("请填写审批日期。"))
    elif approved_on is None:
        out.error(number, "approved_on", "invalid", _l("审批日期格式不对，请填写如 2024-06-15。"))
    elif approved_on > today:
        out.error(number, "approved_on", "invalid", _l("审批日期不能晚于今天。"))
    amount = None
    try:
        amount = entitlement.parse_money(text["monthly_amount"], field_name="monthly_amount")
        if amount is not None and amount <= 0:
            out.error(number, "monthly_amount", "invalid", _l("在保家庭的月保障金额应大于 0。"))
    except DomainError as err:
        out.error(number, "monthly_amount", "required" if not text["monthly_amount"] else "invalid",
                  err.message)
    account = _check_account(number, row, text, get, out)
    tier = None
    if region is not None:
        tier = _check_tier(number, text["tier"], region, standard_of(region), bool(three_no), out)
    failed = any(not p.warning for p in out.report.problems[count:])  # (a tier's warning still imports)
    if failed or region is None or approved_on is None or amount is None:
        return None
    return HouseholdDraft(key=key, head_row=number, region=region, phone=phone, address=address[:200],
                          public_address=text["public_address"][:200] or region.name,
                          category=category or 1, no_income_no_capacity_no_supporter=bool(three_no),
                          approved_on=approved_on, amount=amount, account=account, members=members, tier_name=tier)


def _check_tier(number: int, written: str, region: Region, standard: Standard | None, three_no: bool,
                out: _Rows) -> str | None:
    """分档 (A 23): where the standard in force for the community is tiered, the household's tier is one of its
    tiers by name (another name is an error, naming them); none is a warning — imported without a tier, paid the
    file's amount, and the case page asks for one (a 三无 household gets the full standard whatever its tier, so
    it is not asked). Elsewhere a tier written is a warning and is not imported."""
    if standard is None or standard.method != StandardMethod.tiered:
        if written and standard is None:
            out.warn(number, "tier", "tier_ignored",
                     _l("%(region)s还没有设置低保标准，无法核对分档；将不导入该户的分档。", region=region.name))
        elif written:
            out.warn(number, "tier", "tier_ignored",
                     _l("%(region)s的低保标准按差额计算，不分档；将不导入该户的分档“%(tier)s”。",
                        region=standard.region.name, tier=written))
        return None
    names = [tier.name for tier in standard.tiers]
    if not written:
        if not three_no:
            out.warn(number, "tier", "tier_missing",
                     _l("%(region)s的低保标准按分档计算，该户没有填分档：将按文件中的金额导入，不分档；导入后请在案件页为该户"
                        "选择分档（%(names)s）。", region=standard.region.name, names="、".join(names)))
        return None
    if written not in names:
        out.error(number, "tier", "tier_unknown",
                  _l("分档“%(tier)s”不是%(region)s现行低保标准中的一档，应为：%(names)s。",
                     tier=written, region=standard.region.name, names="、".join(names)))
        return None
    return written


def _check_account(number: int, row: list[Any], text: dict[str, str], get, out: _Rows) -> dict | None:
    values = {k: text[k] for k in ("account_kind", "bank_name", "holder_name", "account_number")}
    values["holder_name"] = normalise_name(values["holder_name"])
    if not any(values.values()):
        return None
    kind = ACCOUNT_KIND_VALUES.get(values["account_kind"] or "银行卡")
    if kind is None:
        out.error(number, "account_kind", "invalid", _l("账户类型应为：银行卡、社会保障卡或一卡通。"))
        return None
    ok = True
    for key, message in (("bank_name", _l("请填写开户银行。")), ("holder_name", _l("请填写账户户名。"))):
        if not values[key]:
            out.error(number, key, "required", message)
            ok = False
    raw = get(row, "account_number")
    if isinstance(raw, float) and raw >= 1e15:
        out.error(number, "account_number", "invalid", _l("账号被 Excel 存成了数字，后几位已丢失；请把该列设为文本格式后重新填写。"))
        return None
    try:
        account_number = normalise_account_number(values["account_number"], luhn_checked=kind == AccountKind.bank_card)
    except DomainError as err:
        out.error(number, "account_number", "invalid", err.message)
        return None
    if not ok:
        return None
    return {"kind": kind, "bank_name": values["bank_name"][:100], "holder_name": values["holder_name"][:50],
            "number": account_number}


def _check_database(session: Session, seen: dict[str, tuple[int, str]], out: _Rows) -> dict[str, str]:
    """ID numbers already on file: as the head of an open case, or as a member of one (a member in two
    households). Closed cases (rejected, exited) do not count, as at registration. Returns the keyed hash of
    every ID number (the import stores them)."""
    by_hash = {blind_index(id_number): (row, id_number) for id_number, (row, _key) in seen.items()}
    hashes = list(by_hash)
    open_stages = [s for s in Stage if s not in workflow.CLOSED_STAGES]
    heads: dict[str, str] = {}
    members: dict[str, str] = {}
    for chunk in chunks(hashes, 5000):  # 5,000 parameters a statement: well within both databases' limits, and
        # a tenth of the round trips of the usual 500 (a file of 20,000 persons)
        for id_hash, number in session.execute(select(Case.head_id_hash, Case.number).where(
                Case.head_id_hash.in_(chunk), Case.stage.in_(open_stages))):
            heads[id_hash] = number
        for id_hash, number in session.execute(
                select(Member.id_number_hash, Case.number).join(Case, Member.case_id == Case.id)
                .where(Member.id_number_hash.in_(chunk), Case.stage.in_(open_stages))):
            members.setdefault(id_hash, number)
    for id_hash, (row, _id) in sorted(by_hash.items(), key=lambda item: item[1][0]):
        if id_hash in heads:
            out.error(row, "id_number", "id_in_database",
                      _l("该身份证号码已有在办或在保的案件（%(number)s），不能重复导入。", number=heads[id_hash]))
        elif id_hash in members:
            out.error(row, "id_number", "member_two_households",
                      _l("此人已是在册家庭（%(number)s）的成员，一人只能属于一户。", number=members[id_hash]))
    return {id_number: id_hash for id_hash, (_row, id_number) in by_hash.items()}


def _check_categories(drafts: list[HouseholdDraft], out: _Rows) -> None:
    """A 31 (workflow.least_category): a category below the least the household may have is a warning, and the
    household is imported with that least one, so its first review falls on the schedule the rule requires."""
    for draft in drafts:
        least = workflow.least_category(draft.members)
        if draft.category < least:
            out.warn(draft.head_row, "category", "category_raised",
                     _l("分类为%(given)s，但该户有劳动年龄内有劳动能力的成员，或有经营、种养殖等不固定收入，按《最低生活保障"
                        "审核确认办法》第三十一条应至少每半年复核一次；将导入为%(least)s。",
                        given=workflow.CATEGORY_LABELS[draft.category], least=workflow.CATEGORY_LABELS[least]))
            draft.category = least


def _check_amounts(drafts: list[HouseholdDraft], out: _Rows, standard_of: Callable[[Region], Standard | None],
                   ) -> None:
    """The formula (dibao.entitlement) under the standard in force today, by its method (分档: under the household's
    tier): a different amount is a warning — the file's amount is what the household is paid, and it is imported
    as an override with that reason. A household of a tiered standard without a tier has no computed amount."""
    # Households with the same figures under the same standard compute alike: once each (the computation keeps
    # no names, see _as_case, and the import reads only its figures).
    computed_for: dict[tuple, entitlement.Computation] = {}
    for draft in drafts:
        standard = standard_of(draft.region)
        if standard is None:
            out.warn(draft.head_row, "monthly_amount", "no_standard",
                     _l("%(region)s还没有设置低保标准，无法核对金额；将按文件中的金额导入。", region=draft.region.name))
            continue
        figures = (standard.id, draft.no_income_no_capacity_no_supporter, draft.tier_name,
                   tuple((m.income_source, str(m.income)) if m.income else None for m in draft.members))
        if figures not in computed_for:
            computed_for[figures] = entitlement.compute_under(_as_case(draft), standard)
        draft.computation = computed_for[figures]
        computed = draft.computation.computed
        if computed is not None and computed != draft.amount:
            out.warn(draft.head_row, "monthly_amount", "amount_differs",
                     _l("月保障金额 %(amount)s 元与按标准核算的 %(computed)s 元不一致；将按文件中的金额导入，并记为调整金额。",
                        amount=draft.amount, computed=computed))


def _as_case(draft: HouseholdDraft) -> SimpleNamespace:
    """What entitlement.compute reads of a case, for a household not yet saved (without names: one computation
    serves every household with the same figures)."""
    members = [SimpleNamespace(name="", monthly_deduction=Decimal("0"), deduction_note="",
                               incomes=[SimpleNamespace(source=m.income_source, monthly_amount=m.income, note="")]
                               if m.income else [])
               for m in draft.members]
    return SimpleNamespace(members=members, no_income_no_capacity_no_supporter=draft.no_income_no_capacity_no_supporter,
                           override_amount=None, override_reason=None, tier_name=draft.tier_name, tier_reason=None)


# --- importing -----------------------------------------------------------------------------------------------

def next_review(approved_on: date, category: int, today: date) -> date:
    """The first date on the category's review schedule, counted from the approval, that is today or later."""
    months = workflow.REVIEW_MONTHS.get(category, 12)
    # Every step before the one that starts the months elapsed falls in an earlier month than today's.
    elapsed = (today.year - approved_on.year) * 12 + today.month - approved_on.month
    step = max(1, elapsed // months)
    while (due := workflow.add_months(approved_on, months * step)) < today:
        step += 1
    return due


@db.without_cycle_collector()
def _paid_until(session: Session, communities: set[Region]) -> dict[int, date]:
    """Community id → the month of its county's latest payment run, where the county already pays through this
    system (a county that moves over town by town imports its rosters after its runs have begun)."""
    latest = session.execute(select(Region.path, func.max(PaymentRun.month))
                             .join(PaymentRun, PaymentRun.county_id == Region.id).group_by(Region.path)).all()
    return {community.id: month for community in communities for path, month in latest
            if community.path.startswith(path)}


def _payment_start(draft: HouseholdDraft, paid_until: dict[int, date]) -> date:
    """The first month this system pays an imported household: the month after its approval, or, where its
    county's runs have begun, the month after the latest run — the months before were paid by the old system,
    and a run must not pay them again as arrears (payments._arrears starts at ``payment_start``)."""
    start = entitlement.next_month(draft.approved_on)
    latest = paid_until.get(draft.region.id)
    return max(start, entitlement.next_month(latest)) if latest is not None else start


def import_roster(session: Session, actor: User | None, path: Path, filename: str, *, job_id: int | None = None,
                  progress: Callable[..., None] | None = None) -> Report:
    """Check the file again and, if it has no errors, write every household in the caller's transaction (the
    caller commits once: all or nothing)."""
    progress = progress or jobs.no_progress
    report, drafts = check(session, actor, path, filename, progress)
    if not report.ok:
        first = report.errors[0]
        raise Invalid(_l("文件中有 %(n)d 处错误（第一处：第 %(row)d 行 %(column)s：%(message)s），没有导入任何家庭。请重新检查文件。",
                         n=len(report.errors), row=first.row, column=first.column or "—", message=first.message))
    now = clock.now()
    today = clock.today()
    numbers: dict[int, int] = {}  # community id → last case number used this year
    paid_until = _paid_until(session, {draft.region for draft in drafts})
    # The ids are drawn first (db.new_ids): nothing is read back (on SQLite an insert that returns its ids runs
    # one statement per row).
    case_ids = db.new_ids(session, Case.__table__, len(drafts))
    case_rows = []
    for case_id, draft in zip(case_ids, drafts, strict=True):
        region = draft.region
        if region.id not in numbers:
            first_number = cases._next_number(session, region)
            numbers[region.id] = int(first_number.rsplit("-", 1)[1]) - 1
        numbers[region.id] += 1
        head = draft.members[0]
        approved_at = clock.local_midnight(draft.approved_on)
        result = draft.computation
        computed = result.computed if result else None
        override = draft.amount if computed is not None and computed != draft.amount else None
        case_rows.append({
            "id": case_id, "number": f"{region.code}-{today.year}-{numbers[region.id]:04d}", "region_id": region.id,
            "stage": Stage.active, "stage_changed_at": approved_at, "head_name": head.name,
            "head_id_number": head.id_number, "head_id_hash": head.id_hash,
            "head_phone": draft.phone, "address": draft.address, "public_address": draft.public_address,
            "category": draft.category, "close_relative_of_staff": False, "special_case": False,
            "no_income_no_capacity_no_supporter": draft.no_income_no_capacity_no_supporter, "photo_consent": False,
            "computed_amount": computed, "override_amount": override,
            "override_reason": f"{IMPORT_REASON}时的核定金额" if override is not None else None,
            "tier_name": draft.tier_name, "tier_reason": TIER_REASON if draft.tier_name else None,
            "monthly_amount": draft.amount,
            "household_income": entitlement.round_money(result.net_income) if result else None,
            "marginal": bool(result and result.marginal), "accepted_at": approved_at, "approved_at": approved_at,
            "payment_start": _payment_start(draft, paid_until),
            "next_review_due": next_review(draft.approved_on, draft.category, today),
            "created_by_id": actor.id if actor else None, "created_at": now, "updated_at": now,
        })
    total = len(drafts)
    phase = str(_l("正在导入"))
    progress(0, total, phase)
    # Bulk inserts (db.insert_rows: the column types still encrypt and convert): the ORM's unit of work per
    # object would cost more than the checks themselves.
    db.insert_rows(session, Case.__table__, case_rows)
    member_ids = iter(db.new_ids(session, Member.__table__, sum(len(draft.members) for draft in drafts)))
    member_rows, income_rows, account_rows, period_rows = [], [], [], []
    actor_name = actor.display_name if actor else audit.SYSTEM_ACTOR
    for case_id, draft in zip(case_ids, drafts, strict=True):
        for position, person in enumerate(draft.members):
            member_id = next(member_ids)
            member_rows.append({
                "id": member_id, "case_id": case_id, "position": position, "name": person.name,
                "relation": person.relation, "age": person.age, "id_number": person.id_number,
                "id_number_hash": person.id_hash, "health": person.health, "work_capacity": person.work_capacity,
                "monthly_deduction": Decimal("0"), "deduction_note": "",
            })
            if person.income:
                income_rows.append({"member_id": member_id, "source": person.income_source,
                                    "monthly_amount": person.income, "note": ""})
        if draft.account:
            account_rows.append({"case_id": case_id, **draft.account, "number_hash": blind_index(draft.account["number"]),
                                 "updated_by_id": actor.id if actor else None, "updated_by_name": actor_name,
                                 "updated_at": now})
        # What entitlement.start_period writes for an approval; these households have no earlier period, so its
        # ordering check has nothing to compare with and the rows go in at once.
        period_rows.append({"case_id": case_id, "starts_on": entitlement.next_month(draft.approved_on),
                            "amount": entitlement.round_money(draft.amount), "change": AmountChange.approved,
                            "reason": IMPORT_REASON, "created_by_id": actor.id if actor else None,
                            "created_by_name": actor_name, "created_at": now})
    for model, rows in ((Member, member_rows), (MemberIncome, income_rows), (PaymentAccount, account_rows),
                        (AmountPeriod, period_rows)):
        db.insert_rows(session, model.__table__, rows)
    # Core writes pass the flush hooks by: the public versions and the statistics and roster summaries' marks
    # are noted here, in the same transaction.
    cache.note_regions(session, {draft.region.id for draft in drafts})  # the roster must show them at once
    first: dict[int, date] = {}
    for draft, row in zip(drafts, period_rows, strict=True):
        first[draft.region.id] = min(first.get(draft.region.id, row["starts_on"]), row["starts_on"])
    stats_summary.invalidate_regions(session, first)
    roster_summary.invalidate_regions(session, first)  # new households in payment
    entries = [audit.Entry("case_imported", "case", case_id, draft.region.id, {
        "number": row["number"], "job": job_id, "file": filename, "row": draft.head_row,
        "approved_on": draft.approved_on.isoformat(), "amount": str(draft.amount),
        "computed": str(row["computed_amount"]) if row["computed_amount"] is not None else None,
        "members": len(draft.members), **({"tier": draft.tier_name} if draft.tier_name else {})})
        for case_id, draft, row in zip(case_ids, drafts, case_rows, strict=True)]
    chunk = max(1, min(AUDIT_CHUNK, total // 10))  # at least ten steps of the progress bar
    for start in range(0, total, chunk):  # one audit event a household, appended a chunk at a time
        audit.append_many(session, actor, entries[start:start + chunk])
        progress(min(start + chunk, total), total, phase)
    report.imported = total
    return report


# --- the two jobs and how they start -----------------------------------------------------------------------

def save_upload(files: Path, data: bytes, filename: str) -> str:
    """Keep an uploaded file for its jobs (the check and the import read the same bytes)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise Invalid(UPLOAD_KINDS, field="file")
    if not data:
        raise Invalid(_l("请选择要上传的文件。"), field="file")
    name = f"uploads/{secrets.token_hex(12)}{suffix}"
    jobs.private_file(files / name).write_bytes(data)  # ID numbers and bank accounts: the service user's only
    return name


def _upload(files: Path, params: dict) -> Path:
    """The job's uploaded file, or a plain message when it is gone (kept for jobs.FILES_KEPT_DAYS days)."""
    path = files / params["upload"]
    if not path.is_file():
        raise Invalid(_l("上传的文件已超过保留期限（%(n)d 天）被删除，请重新上传。", n=jobs.FILES_KEPT_DAYS))
    return path


def start_check(session: Session, actor: User | None, *, data: bytes, filename: str, files: Path) -> Job:
    """Upload → a check job (dry run)."""
    require_import(actor)
    upload = save_upload(files, data, filename)
    name = Path(filename).name[:120]
    return jobs.start(session, actor, "roster_check", {"upload": upload, "filename": name},
                      title=str(_l("名册检查：%(name)s", name=name)))


def confirm(session: Session, actor: User | None, checked: Job) -> Job:
    """Confirm a clean check → the import job, on the same file."""
    require_import(actor)
    if checked.created_by_id != (actor.id if actor else None) or checked.kind != "roster_check":
        raise Invalid(_l("没有找到该检查结果。"))
    report = Report.from_dict(json.loads(checked.result or "{}"))
    if checked.status != "done" or not report.ok:
        raise Invalid(_l("只有检查通过（没有错误）的文件才能导入。"))
    if report.households == 0:
        raise Invalid(_l("文件中没有可以导入的家庭。"))
    params = {**json.loads(checked.params), "checked_job": checked.id}
    # A double click, or a second tab: the same file's import is queued, running or done already.
    started = session.scalar(select(Job.id).where(
        Job.kind == "roster_import", Job.params == json.dumps(params, ensure_ascii=False),
        Job.status.in_((JobStatus.queued, JobStatus.running, JobStatus.done))).limit(1))
    if started is not None:
        raise Conflict(_l("该文件已确认导入（任务 %(id)d），不能重复导入。", id=started))
    return jobs.start(session, actor, "roster_import", params,
                      title=str(_l("名册导入：%(name)s", name=params["filename"])))


@jobs.kind("roster_check", _l("名册检查"), writes=False)
def _run_check(session: Session, actor: User | None, params: dict, progress: jobs.Progress) -> dict:
    report, _drafts = check(session, actor, _upload(progress.files, params), params["filename"], progress)
    return report.to_dict()


IMPORT_LOCK = 7202  # PostgreSQL's advisory lock of roster imports (dibao.audit's chain holds 7201)


def _one_import_at_a_time(session: Session) -> None:
    """Imports run one after the other: each checks the database for its ID numbers before it writes, so two at once
    (the same file confirmed twice in a blink, or uploaded by two clerks) would each find the other's households
    absent and both import them. SQLite: a writing transaction begins IMMEDIATE (dibao.db), already one at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK})


@jobs.kind("roster_import", _l("名册导入"))
def _run_import(session: Session, actor: User | None, params: dict, progress: jobs.Progress) -> dict:
    _one_import_at_a_time(session)
    report = import_roster(session, actor, _upload(progress.files, params), params["filename"],
                           job_id=progress.job_id, progress=progress)
    return {**report.to_dict(), "problems": [asdict(p) for p in report.warnings]}


# --- the command line ---------------------------------------------------------------------------------------

@click.group("import", help="Import data (原有名册).")
def import_group() -> None:
    pass


@import_group.command("roster")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="check the file and list every problem; change nothing")
@click.option("--user", "username", default=None, help="import as this staff account (its region is the scope)")
@with_appcontext
def import_roster_command(file: Path, dry_run: bool, username: str | None) -> None:
    """Check a roster file and list every problem (the web page's report), then, without --dry-run and with no
    errors, import it: all households or none. Both steps run here with a progress bar."""
    from dibao import db

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    session = db.session()
    actor = session.scalar(select(User).where(User.username == username)) if username else None
    if username and actor is None:
        raise click.ClickException(f"no user {username}")
    try:
        job = _commit_here(session, lambda: start_check(session, actor, data=file.read_bytes(), filename=file.name,
                                                      files=jobs.files_dir(app)))
    except DomainError as err:
        raise click.ClickException(str(err.message)) from None
    checked = _run_with_bar(app, session, job.id)
    report = Report.from_dict(json.loads(checked.result or "{}"))
    click.echo(format_report(report) if checked.result else checked.error)
    if checked.status != "done" or not report.ok:
        raise SystemExit(1)
    if dry_run:
        return
    try:
        job = _commit_here(session, lambda: confirm(session, actor, checked))
    except DomainError as err:
        raise click.ClickException(str(err.message)) from None
    imported = _run_with_bar(app, session, job.id)
    if imported.status != "done":
        click.echo(imported.error, err=True)
        raise SystemExit(1)
    click.echo(f"imported {json.loads(imported.result)['imported']} households")


def _commit_here(session: Session, make: Callable[[], Job]) -> Job:
    job = make()
    session.info.pop(jobs._PENDING, None)  # run in this process, not by a worker
    session.commit()
    return job


def _run_with_bar(app, session: Session, job_id: int) -> Job:
    """Run the job in this process, drawing the progress it reports to the queue's storage."""
    import threading

    queue: jobs.Queue = app.extensions["dibao.jobs"]

    def work():
        with app.app_context():
            jobs.run(app, job_id)

    thread = threading.Thread(target=work)
    thread.start()
    with click.progressbar(length=100, label="进度", show_percent=True, file=sys.stderr) as bar:
        shown = 0
        while thread.is_alive():
            thread.join(0.2)
            live = queue.live(job_id)
            if live and live.total:
                pct = min(100, live.done * 100 // live.total)
                bar.label = live.message or "进度"
                bar.update(pct - shown)
                shown = pct
        bar.update(100 - shown)
    session.expire_all()
    return session.get(Job, job_id)


def format_report(report: Report) -> str:
    lines = [f"{report.filename}: {report.rows} 行, {report.households} 户, {report.persons} 人; "
             f"{len(report.errors)} 处错误, {len(report.warnings)} 处提示"]
    for p in report.problems:
        where = f"第 {p.row} 行" if p.row else "文件"
        lines.append(f"{'提示' if p.warning else '错误'}  {where}  {p.column or '—'}  {p.message}")
    return "\n".join(lines)
