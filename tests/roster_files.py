"""Roster files for the import tests and the import bench: rows as dicts (column key → cell), written with the
template's Chinese headers as xlsx or csv."""

from __future__ import annotations

import csv
from pathlib import Path

import xlsxwriter
from stdnum import luhn

from dibao.identity import with_check_digit
from dibao.imports import COLUMNS, SHEET


def person_id(n: int, birth: str = "19560615") -> str:
    return with_check_digit(f"340102{birth}{n % 1000:03d}") if n < 1000 else with_check_digit(
        f"34{n // 1000 % 10000:04d}{birth}{n % 1000:03d}")


def bank_card(n: int) -> str:
    base = f"622848{n:012d}"
    return base + luhn.calc_check_digit(base)


def household(key: str, community: str, head_id: str, *, members: list[dict] | None = None, **head) -> list[dict]:
    """One household: the head's row (with the household's columns) and its members' rows."""
    row = {"household": key, "relation": "本人", "name": "李桂兰", "id_number": head_id, "work_capacity": "部分丧失劳动能力",
           "health": "高血压", "income": "450", "income_source": "养老金、退休金", "community_code": community,
           "phone": "13912345678", "address": "幸福路 8 号 2 单元 301 室", "public_address": "幸福路 8 号", "category": "2",
           "no_income_no_capacity_no_supporter": "否", "approved_on": "2025-06-15", "monthly_amount": "330.00",
           "account_kind": "银行卡", "bank_name": "中国农业银行", "holder_name": "李桂兰", "account_number": bank_card(1)}
    row.update(head)
    rows = [row]
    for member in members or []:
        rows.append({"household": key, "relation": "子女", "work_capacity": "无劳动能力", **member})
    return rows


def write(path: Path, rows: list[dict], *, fmt: str = "xlsx") -> Path:
    headers = [c.header for c in COLUMNS]
    keys = [c.key for c in COLUMNS]
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            out = csv.writer(fh)
            out.writerow(headers)
            out.writerows([[r.get(k, "") for k in keys] for r in rows])
        return path
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet(SHEET)
    sheet.write_row(0, 0, headers)
    for i, r in enumerate(rows, start=1):
        sheet.write_row(i, 0, [r.get(k, "") for k in keys])
    book.close()
    return path


def clean_rows(households: int, community_codes: list[str], start: int = 0) -> list[dict]:
    """``households`` valid households of 1–3 persons each, spread over the communities; amounts as the formula
    gives them under a standard of 780 (one income of 450 for the head). Each household has its own phone and
    address, as a real roster does (a file of one repeated phone would let the import's per-value cache hide the
    cost of checking phones)."""
    rows: list[dict] = []
    for h in range(start, start + households):
        size = 1 + h % 3
        members = [{"name": f"李小{i}", "id_number": person_id(10_000_000 + h * 4 + i, "20100101"), "age": ""}
                   for i in range(1, size)]
        amount = f"{780 * size - 450:.2f}"
        rows += household(str(h + 1), community_codes[h % len(community_codes)], person_id(h * 4 + 1),
                          members=members, monthly_amount=amount, account_number=bank_card(h), name=f"户主{h}",
                          holder_name=f"户主{h}", category=str(1 + h % 4), phone=f"139{h:08d}",
                          address=f"幸福路 {h // 60 + 1} 号 {h // 20 % 3 + 1} 单元 {h % 20 + 101} 室",
                          public_address=f"幸福路 {h // 60 + 1} 号")
    return rows
