"""Sizing an uploaded xlsx before python-calamine reads it.

calamine turns a sheet into a dense grid from A1 to its last non-empty cell (``to_python(skip_empty_area=False)``),
so a 5 KB file with one value at XFD1048576 asks for gigabytes and Rust aborts the process — no Python exception,
the web or job worker dies. :func:`check_xlsx` reads the file itself first (Python's zipfile and the XML text,
streamed) and refuses, with a Chinese message (:class:`dibao.errors.Invalid`), before calamine is called:

- anything but an xlsx zip (calamine also reads .xls, .xlsb and .ods, which this does not size);
- a zip bomb: too many members, or a member whose declared or actual uncompressed size is too large;
- a worksheet whose non-empty cells reach past ``max_rows`` rows or ``max_columns`` columns.

Every member of the zip that holds ``sheetData`` is sized, not only the first sheet's: calamine finds a sheet
through workbook.xml and its relationships, and sizing them all needs no copy of those rules. A cell's place is
worked out as calamine does (cells/reader of calamine's xlsx): from its ``r`` attribute, else one after the previous
cell of its row, rows likewise. The fast path counts the cells of the XML text: when every ``<c`` has ``r="…"`` as
its first attribute (what Excel, WPS, xlsxwriter and openpyxl write), the largest ``r`` is the grid's corner. Any
other form (a cell without ``r``, a namespace prefix, a tag longer than a cell's text can be) is parsed with expat.
What calamine does not size its grid by is not refused: the ``<dimension>`` element, rows without cells, empty
(self-closing) cells — a sheet formatted down to row 1,048,576 still reads (measured with python-calamine 0.9.1).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO
from xml.parsers import expat

from flask_babel import lazy_gettext as _l

from dibao.errors import Invalid

MAX_COLUMNS = 100
MAX_MEMBERS = 2_000  # an xlsx has a dozen parts; a few hundred with many images
MEMBER_BYTES = 512 * 1024 * 1024  # one part, uncompressed: a roster of 200,000 rows × 25 columns is ~170 MB of XML
TOTAL_BYTES = 1024 * 1024 * 1024  # all parts together
CHUNK = 1 << 20
LONGEST_TAG = 1 << 20  # more text than a cell holds (32,767 characters) between two '<': parsed with expat instead

_ANY_CELL = re.compile(rb"<c[\s/>]")
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
# a cell whose r comes again later in its tag (calamine reads the last): after whitespace or a closing quote
_SECOND_R = re.compile(rb'<c r="[^"]*"(?:"[^"]*"|\'[^\']*\'|[^>"\'])*?(?:\s|(?<=["\']))r\s*=')
_SELF_CLOSED = re.compile(rb'(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|\'[^\']*\'))*\s*/>')
_REF = re.compile(r"([A-Za-z]*)([0-9]*)$")


class Unreadable(Invalid):
    """Not an xlsx this module can size (the caller may say so in its own words)."""


def broken() -> Invalid:
    return Unreadable(_l("文件打不开或已损坏，请确认是 Excel（.xlsx）文件。"), field="file")


def not_xlsx() -> Invalid:
    return Unreadable(_l("只能读取 Excel（.xlsx）文件，请在 Excel 或 WPS 中另存为 .xlsx 后重新上传。"), field="file")


def column_name(number: int) -> str:
    """1 → A, 27 → AA."""
    name = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


def _ref(text: str) -> tuple[int, int] | None:
    """An A1 reference as (row, column), both from 1; None when calamine would not read it either."""
    m = _REF.match(text)
    if not m or not m.group(2):
        return None
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


class _Limits:
    def __init__(self, max_rows: int, max_columns: int):
        self.max_rows, self.max_columns = max_rows, max_columns

    def cell(self, row: int, col: int) -> None:
        if row > self.max_rows:
            raise Invalid(_l("表格第 %(row)d 行有内容，超过了 %(max)d 行的上限，未读取该文件。请删去多余的内容，或分批上传。",
                             row=row, max=self.max_rows), field="file")
        if col > self.max_columns:
            raise Invalid(_l("表格第 %(col)s 列有内容，超过了 %(max)d 列的上限，未读取该文件。请删去多余的列。",
                             col=column_name(col), max=self.max_columns), field="file")


def _fast_scan(chunks, limits: _Limits) -> bool:
    """Size the cells of one part from its text; False when the part is not in the plain form (then expat)."""
    digits = len(str(limits.max_rows))  # a row with fewer digits is within the limit
    letters = len(column_name(limits.max_columns))
    big = re.compile(rb'<c r="([A-Za-z]{%d,}[0-9]*|[A-Za-z]*[0-9]{%d,})"' % (letters, digits))
    carry = b""
    counts = [0, 0]  # cells, cells whose first attribute is r="…"

    def sized(part: bytes) -> bool:
        if _PREFIXED_CELL.search(part):
            return False
        counts[0] += len(_ANY_CELL.findall(part))
        counts[1] += part.count(b'<c r="')
        if counts[0] != counts[1] or _SECOND_R.search(part):
            return False
        for m in big.finditer(part):
            if _SELF_CLOSED.match(part, m.end()):
                continue  # an empty cell: calamine leaves it out of the grid
            ref = _ref(m.group(1).decode("ascii"))
            if ref:
                limits.cell(*ref)
        return True

    for chunk in chunks:
        buf = carry + chunk
        cut = buf.rfind(b"<")  # a tag is never split between two parts
        part, carry = (buf, b"") if cut < 0 else (buf[:cut], buf[cut:])
        if len(carry) > LONGEST_TAG or not sized(part):
            return False
    return sized(carry)


class _NoDoctype(Exception):
    pass


def _expat_scan(chunks, limits: _Limits) -> bool:
    """Size the cells of one part as calamine places them; False when the part is not XML expat reads."""
    state = {"row": 0, "col": 0, "cell": None}

    def start(name: str, attrs: dict) -> None:
        local = name.rpartition(":")[2]
        if state["cell"] is not None:  # the open cell has content
            limits.cell(*state["cell"])
            state["cell"] = None
        if local == "row":
            m = _REF.match(attrs.get("r", ""))
            if m and m.group(2):
                state["row"] = int(m.group(2)) - 1
        elif local == "c":
            ref = _ref(attrs["r"]) if "r" in attrs else None
            if ref:
                state["col"] = ref[1] - 1
                state["cell"] = ref
            else:
                state["cell"] = (state["row"] + 1, state["col"] + 1)
            state["col"] += 1

    def end(name: str) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            state["cell"] = None
        elif local == "row":
            state["row"] += 1
            state["col"] = 0

    def doctype(*_args) -> None:
        raise _NoDoctype

    parser = expat.ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.StartDoctypeDeclHandler = doctype
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except (expat.ExpatError, _NoDoctype, ValueError):
        return False
    return True


def _chunks(book: zipfile.ZipFile, info: zipfile.ZipInfo):
    """The member's bytes as its whole compressed stream gives them, streamed — not zipfile's reader, which stops at
    the declared size, where calamine's zip reader may go on: more than declared, or a wrong CRC, is refused."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 0x1:
        raise broken()  # another compression, or encrypted: no xlsx is written so
    fp = book.fp
    fp.seek(info.header_offset)
    head = fp.read(30)
    if len(head) != 30 or head[:4] != b"PK\x03\x04":
        raise broken()
    name, extra = struct.unpack("<HH", head[26:30])
    fp.seek(info.header_offset + 30 + name + extra)
    inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    left, size, crc = info.compress_size, 0, 0
    while left > 0:
        raw = fp.read(min(CHUNK, left))
        if not raw:
            raise broken()
        left -= len(raw)
        while raw:
            if inflate is None:
                out, raw = raw, b""
            else:
                try:
                    out = inflate.decompress(raw, CHUNK)
                except zlib.error:
                    raise broken() from None
                raw = inflate.unconsumed_tail
            size += len(out)
            if size > info.file_size:
                raise _too_large()  # more than it declares: a zip bomb's member
            crc = zlib.crc32(out, crc)
            yield out
    if size != info.file_size or crc != info.CRC:
        raise broken()


def _too_large() -> Invalid:
    return Invalid(_l("文件解压后过大（超过 %(mb)d MB），未读取该文件。", mb=MEMBER_BYTES // (1024 * 1024)), field="file")


def _has_sheet_data(book: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    tail = b""
    for chunk in _chunks(book, info):
        if b"sheetData" in tail + chunk:
            return True
        tail = chunk[-16:]
    return False


def check_xlsx(source: bytes | Path | IO[bytes], *, max_rows: int, max_columns: int = MAX_COLUMNS) -> None:
    """Refuse (Invalid, field "file") an upload calamine must not read: see the module's docstring."""
    if isinstance(source, Path):
        try:
            with source.open("rb") as fh:
                return check_xlsx(fh, max_rows=max_rows, max_columns=max_columns)
        except OSError:
            raise broken() from None
    fh = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        entries = _entries(fh)
        if entries is not None and entries > MAX_MEMBERS:
            raise _too_large()
        book = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise broken() from None
    with book:
        _check_book(book, _Limits(max_rows, max_columns))


def _check_book(book: zipfile.ZipFile, limits: _Limits) -> None:
    infos = book.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _too_large()
    names = {info.filename.lower() for info in infos}
    if "content.xml" in names or any(name.endswith("workbook.bin") for name in names):
        raise not_xlsx()  # calamine would read it as .ods or .xlsb
    if not any(name.endswith("workbook.xml") for name in names):
        raise not_xlsx()
    if any(info.file_size > MEMBER_BYTES for info in infos) or sum(i.file_size for i in infos) > TOTAL_BYTES:
        raise _too_large()
    try:
        for info in infos:
            if info.is_dir() or _fast_scan(_chunks(book, info), limits) or _expat_scan(_chunks(book, info), limits):
                continue
            if _has_sheet_data(book, info):
                raise broken()  # a sheet that is not XML expat reads: calamine's own parser is not sized here
    except (OSError, EOFError, struct.error):
        raise broken() from None


def _entries(fh) -> int | None:
    """The zip's member count from its end record, before zipfile builds an object for each."""
    end = getattr(zipfile, "_EndRecData", None)
    if end is None:
        return None
    try:
        record = end(fh)
        fh.seek(0)
    except (OSError, ValueError):
        return None
    return record[zipfile._ECD_ENTRIES_TOTAL] if record else None
