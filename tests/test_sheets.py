"""An uploaded xlsx is sized from the file itself before python-calamine reads it (dibao.sheets): one cell at
XFD1048576 makes calamine ask for 13 GB and abort the process. Both readers (the roster import's job, the bank's
return file in a web request) refuse such a file with a message; a normal file still reads; a zip bomb is refused.
The return file's problem list is capped and the cells it echoes are cut short."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import pytest
import python_calamine
import xlsxwriter
from sqlalchemy import select

from dibao import imports, payments, sheets
from dibao.errors import Invalid
from dibao.models.job import Job, JobStatus
from dibao.models.payment import PaymentRun, RunStatus
from tests.case_helpers import standard, user
from tests.conftest import csrf_token
from tests.payment_helpers import answer, approved_run
from tests.roster_files import clean_rows, write

ROOT = Path(__file__).resolve().parents[1]


def bomb(first=("发放月份", "2026-04"), row=1048575, col=399) -> bytes:
    """The auditor's file: a first row and one more value far away (5 KB; calamine wants 13.4 GB for it)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, list(first))
    sheet.write(row, col, "x")
    book.close()
    return out.getvalue()


def book(sheet_data: str, *, dimension: str = "", extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal xlsx written by hand, with the worksheet's <sheetData> as given."""
    rels = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            '{}" Target="{}"/></Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="xml" ContentType="application/xml"/></Types>')
        z.writestr("_rels/.rels", rels.format("officeDocument", "xl/workbook.xml"))
        z.writestr("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                   'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                   '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", rels.format("worksheet", "worksheets/sheet1.xml"))
        dim = f'<dimension ref="{dimension}"/>' if dimension else ""
        z.writestr("xl/worksheets/sheet1.xml", '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                   f'2006/main">{dim}<sheetData>{sheet_data}</sheetData></worksheet>')
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


HEAD = '<row r="1"><c r="A1" t="inlineStr"><is><t>户主姓名</t></is></c></row>'


@pytest.fixture
def no_calamine(monkeypatch):
    """Calamine must not be reached with a refused file (where it is, the process may abort)."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("calamine was called")

    class Refused:
        from_filelike = from_path = staticmethod(refuse)

    monkeypatch.setattr(python_calamine, "CalamineWorkbook", Refused)  # check_return imports it when it runs
    monkeypatch.setattr(imports, "CalamineWorkbook", Refused)


def refusal(data: bytes, max_rows: int = 200_001, max_columns: int = 100) -> str:
    with pytest.raises(Invalid) as err:
        sheets.check_xlsx(data, max_rows=max_rows, max_columns=max_columns)
    return str(err.value.message)


# --- the sizing itself -------------------------------------------------------------------------------------------

def test_a_far_cell_is_refused_before_calamine(app, no_calamine):
    assert len(bomb()) < 10_000
    assert "第 1048576 行有内容，超过了 200001 行的上限" in refusal(bomb())
    assert "第 XFD 列有内容，超过了 100 列的上限" in refusal(bomb(row=0, col=16383))
    # the same cell written in the forms calamine also reads: no r (counted as calamine places it), a namespace
    # prefix, a second r (calamine reads the last), r after a value holding '>'
    assert "第 CW 列" in refusal(book('<row>' + '<c><v>1</v></c>' * 101 + '</row>'))
    assert "第 1048576 行" in refusal(book(HEAD + '<row r="1048576"><c><v>1</v></c></row>'))
    assert "第 1048576 行" in refusal(book('<x:row><x:c r="A1048576"><x:v>1</x:v></x:c></x:row>'))
    for twice in ('<c r="A1" r="A1048576">', '<c r="A1"r="A1048576">', '<c r="A1" s=">" r="A1048576">'):
        assert "已损坏" in refusal(book(f'<row>{twice}<v>1</v></c></row>'))  # not XML: refused whole
    # a comment cannot hide a row from the count (expat reads the sheet when a cell has no r)
    rows = "".join(f'<!--<row r="1">--><row><c><v>{i}</v></c></row>' for i in range(30))
    assert "第 21 行" in refusal(book(rows), max_rows=20)  # refused at the first row past the limit


def test_a_normal_file_and_a_sheet_formatted_to_its_bottom_still_read(app, tmp_path):
    rows = clean_rows(20, ["100001001"])
    path = write(tmp_path / "roster.xlsx", rows)
    sheets.check_xlsx(path, max_rows=imports.MAX_ROWS + 1)
    assert len(imports.read_table(path, "roster.xlsx")) == len(rows) + 1
    # what calamine does not size its grid by: the <dimension>, rows without cells, empty (styled) cells
    formatted = book(HEAD + '<row r="900000" ht="20" customHeight="1"/>'
                     '<row r="1048576"><c r="XFD1048576" s="1"/></row>', dimension="A1:XFD1048576")
    sheets.check_xlsx(formatted, max_rows=10, max_columns=5)
    assert python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(formatted)).get_sheet_by_index(0).to_python(
        skip_empty_area=False) == [["户主姓名"]]


def test_a_zip_bomb_and_other_formats_are_refused(app, monkeypatch):
    blank = b" " * 2_000_000  # 2 MB of spaces: 2 KB compressed
    data = book(HEAD, extra={"xl/sharedStrings.xml": blank})
    assert len(data) < 10_000
    sheets.check_xlsx(data, max_rows=10)
    monkeypatch.setattr(sheets, "MEMBER_BYTES", 1_000_000)
    assert "解压后过大" in refusal(data)
    # a member that declares 1,000 bytes (and their CRC) and inflates to 2 MB: zipfile reads the 1,000 and is
    # content; a zip reader that inflates the whole stream (calamine's may) gets the 2 MB
    lying = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/sharedStrings.xml")
    central = bytes(lying).rindex(b"xl/sharedStrings.xml") - 46
    for crc, size in ((info.header_offset + 14, info.header_offset + 22), (central + 16, central + 24)):
        lying[crc:crc + 4] = zlib.crc32(blank[:1000]).to_bytes(4, "little")
        lying[size:size + 4] = (1000).to_bytes(4, "little")
    assert zipfile.ZipFile(io.BytesIO(bytes(lying))).read("xl/sharedStrings.xml") == blank[:1000]
    monkeypatch.setattr(sheets, "MEMBER_BYTES", 512 * 1024 * 1024)
    assert "解压后过大" in refusal(bytes(lying))
    assert "文件打不开或已损坏" in refusal(b"not a zip at all")
    ods = book(HEAD, extra={"content.xml": b"<office:document-content/>"})
    assert "只能读取 Excel（.xlsx）文件" in refusal(ods)


# --- the roster import: the job refuses, the worker survives ---------------------------------------------------

def test_the_import_job_refuses_the_bomb_and_the_worker_goes_on(app, client, auth, world, session, no_calamine,
                                                                 tmp_path):
    standard(session, world)
    session.commit()
    auth.login("county")
    token = csrf_token(client, "/admin/data/")
    res = client.post("/admin/data/import", content_type="multipart/form-data",
                      data={"csrf_token": token, "file": (io.BytesIO(bomb(("户主姓名",))), "r.xlsx")})
    assert res.status_code == 302
    assert app.extensions["dibao.jobs"].drain() == 1
    session.rollback()
    job = session.scalars(select(Job).order_by(Job.id.desc())).first()
    assert job.status == JobStatus.failed
    assert "第 1048576 行有内容，超过了 200001 行的上限" in job.error
    assert "第 1048576 行有内容" in client.get(f"/admin/jobs/{job.id}").get_data(as_text=True)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 508)  # an .xls: calamine's reader of it is not sized
    with pytest.raises(Invalid, match="另存为 .xlsx"):
        imports.read_table(old, "old.xls")


def test_the_import_reads_no_more_of_a_csv_than_it_may(app, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("户主姓名\n" + "\n" * 300_000 + "张三\n", encoding="utf-8")
    with pytest.raises(Invalid, match="一次最多导入 200000 行"):
        imports.read_table(path, "r.csv")
    path.write_text("户主姓名" + "," * 5_000_000 + "\n张三\n", encoding="utf-8")  # empty trailing cells are dropped
    assert imports.read_table(path, "r.csv") == [["户主姓名"], ["张三"]]
    path.write_text("户主姓名" + "," * 200 + "x\n", encoding="utf-8")
    with pytest.raises(Invalid, match="第 GS 列有内容"):
        imports.read_table(path, "r.csv")


def test_the_bomb_does_not_abort_the_process(tmp_path):
    """Under a 2 GB address-space limit the refusal comes back as an exception (the old code died by SIGABRT)."""
    path = tmp_path / "r.xlsx"
    path.write_bytes(bomb(("户主姓名",)))
    code = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024 ** 3, 2 * 1024 ** 3))
        from pathlib import Path
        from dibao import imports
        from dibao.errors import Invalid
        try:
            imports.read_table(Path({str(path)!r}), "r.xlsx")
        except Invalid:
            print("refused")
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "refused"), done.stderr[-2000:]


# --- the bank's return file: a 400 with the message, the list capped --------------------------------------------

@pytest.fixture
def run(session, world, clock):
    """Three households with bank cards; April's run approved and sent to the bank."""
    run = approved_run(session, world, clock)
    run.bank_file = payments.export_bank_file(session, user(session, world, "county"), run)
    session.commit()
    return run


def test_the_return_file_bomb_is_a_400_with_the_message(client, auth, session, run, no_calamine):
    auth.login("county")
    token = csrf_token(client, f"/admin/payments/{run.id}")
    res = client.post(f"/admin/payments/{run.id}/return-file", content_type="multipart/form-data",
                      data={"csrf_token": token, "file": (io.BytesIO(bomb()), "r.xlsx")})
    assert res.status_code == 400
    assert "第 1048576 行有内容，超过了 200002 行的上限" in res.get_data(as_text=True)
    session.rollback()
    assert session.get(PaymentRun, run.id).status == RunStatus.sent


def test_the_return_files_problems_are_capped_and_its_cells_cut_short(session, world, run):
    good = answer(run.bank_file)
    rows = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(good)).get_sheet_by_index(0).to_python()
    out = io.BytesIO()
    sheet_book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
    ws = sheet_book.add_worksheet()
    for n, row in enumerate(rows):
        ws.write_row(n, 0, row)
    for n in range(len(rows), len(rows) + 300):
        ws.write_row(n, 0, ["9" * 5000 + "x", "某", "6222", "农商银行", "1", "社区", "成功"])
    sheet_book.close()
    _parsed, problems = payments.check_return(session, user(session, world, "county"), run, out.getvalue())
    assert len(problems) == 201  # the first 200, and the count of the rest
    assert problems[-1] == "还有 100 处问题未列出。"  # 300 bad lines
    assert max(len(p) for p in problems) < 80
    assert problems[0].endswith("（" + "9" * 40 + "…）")
    with pytest.raises(payments.ReturnRefused) as err:
        payments.import_return(session, user(session, world, "county"), run, out.getvalue())
    assert "（300 处）" in str(err.value.message)
