"""The one media pipeline: every untrusted image is decoded with limits and re-encoded without metadata.

Files are content-addressed (the key is the SHA-256 of the re-encoded bytes), so a stored file never
changes: a notice entry's snapshot can keep pointing at the photo that was published even if the case's
photo is replaced later.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError

from dibao.errors import Invalid

# Today's phone photos (issue 13): up to 20 MB and 50 MP are accepted; Pillow's bomb guard sits behind the
# explicit pixel check (it warns above MAX_IMAGE_PIXELS and refuses above twice that).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 50_000_000  # 50 MP: any current phone photo; far below a decompression bomb
MAX_PDF_BYTES = 15 * 1024 * 1024
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "MPO"}
RENDITIONS = {"thumb": 320, "display": 1280}
# The stored "original" is bounded too: nothing on any channel needs more, and encoding 50 MP would take seconds.
ORIGINAL_EDGE = 2560
JPEG_QUALITY = 85
KEY_RE = re.compile(r"^(img|doc)/[0-9a-f]{2}/[0-9a-f]{64}\.(jpg|pdf)$")

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

# EXIF orientation → the transpose that shows the photo upright (ImageOps.exif_transpose's table), applied to the
# already reduced image so that no second full-size copy is ever made.
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
                7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


class MediaError(Invalid):
    """A file we will not store; the message says why in plain Chinese, ``reason`` says it to the code
    (the message is translated, so callers never compare its text)."""

    def __init__(self, message, *, reason: str, field: str | None = None):
        super().__init__(message, field=field)
        self.reason = reason  # empty | too_large | not_image | too_many_pixels | pdf_too_large | pdf_incomplete | pdf_unreadable


@dataclass(frozen=True)
class StoredMedia:
    key: str
    content_type: str
    width: int | None = None
    height: int | None = None
    size: int = 0


def _write(media_dir: str | os.PathLike, key: str, data: bytes) -> None:
    path = Path(media_dir) / key
    if path.exists():
        return  # same content, same key
    # Photos of households and their papers: readable by the service user only, whatever the umask.
    Path(media_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in (path.parent.parent, path.parent):  # img/ and img/ab/ (mkdir's mode skips parents)
        folder.mkdir(mode=0o700, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)  # atomic: a reader never sees half a file


def draft_box(width: int, height: int, edge: int) -> tuple[int, int]:
    """The size a picture of ``width`` × ``height`` has once its long edge is ``edge``: what draft mode must still
    cover (asking for edge × edge would keep a 3:2 photo at full size)."""
    scale = min(1.0, edge / max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def decode_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS,
                 max_edge: int | None = None) -> Image.Image:
    """Decode untrusted bytes into a clean upright RGB image, or raise MediaError.

    With ``max_edge`` the image comes back no larger than that: a JPEG is decoded in draft mode straight at a
    reduced scale (1/2, 1/4, 1/8: the decoder skips the detail), anything else is reduced in place right after
    decoding — one decoded image at a time, never a second full-size copy (issue 13)."""
    if len(data) > max_bytes:
        raise MediaError(_l("图片太大，请选择 %(mb)d MB 以内的图片。", mb=max_bytes // (1024 * 1024)),
                         reason="too_large")
    if not data:
        raise MediaError(_l("文件是空的，请重新选择。"), reason="empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format not in ALLOWED_FORMATS:
                raise MediaError(_l("只能上传照片（JPEG、PNG、WebP 格式）。"), reason="not_image")
            width, height = img.size
            if width * height > max_pixels:
                raise MediaError(_l("图片尺寸过大，无法处理，请换一张照片。"), reason="too_many_pixels")
            try:
                orientation = img.getexif().get(0x0112)
            except Exception:  # noqa: BLE001 - broken EXIF: shown as stored
                orientation = None
            img.seek(0)
            if max_edge is not None and img.format in ("JPEG", "MPO"):
                img.draft("RGB", draft_box(width, height, max_edge))
            img.load()
            if img.mode not in ("RGB", "L"):
                img = img.convert("RGB")  # as before: the one full-size image is replaced, not copied beside it
            if max_edge is not None:
                img.thumbnail((max_edge, max_edge))
            if orientation in _ORIENTATION:
                img = img.transpose(_ORIENTATION[orientation])
            return img if img.mode == "RGB" else img.convert("RGB")  # convert() of an RGB image copies it
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(_l("图片尺寸过大，无法处理，请换一张照片。"), reason="too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise MediaError(_l("无法识别这个文件，请上传照片（JPEG、PNG、WebP 格式）。"), reason="not_image") from None


def _jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    # A fresh encode carries no EXIF, GPS, ICC, XMP or other application segments from the upload; Pillow would
    # copy a JPEG comment (COM) across from ``info``, so the encoder is given none. No optimise pass: it costs a
    # second Huffman pass for a few per cent of bytes (issue 13).
    img.info = {}
    img.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _key(kind: str, data: bytes, ext: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{kind}/{digest[:2]}/{digest}.{ext}"


@dataclass(frozen=True)
class Prepared:
    """An upload checked and cleaned in memory, nothing written yet: a form checks its file with its other fields
    (:func:`prepare_image` and :func:`prepare_document` raise MediaError) and calls :meth:`write` only once every
    check passed."""

    stored: StoredMedia
    files: tuple[tuple[str, bytes], ...]  # (key, content): the clean file and its renditions

    def write(self, media_dir: str | os.PathLike) -> StoredMedia:
        for key, content in self.files:
            _write(media_dir, key, content)
        return self.stored


Lead = Callable[[Any], Any]  # the refusal's own message → the message shown ("图片：…", "第 2 张照片：…")


@contextmanager
def _refused_beside(field: str | None, lead: Lead | None) -> Iterator[None]:
    """A MediaError raised inside said beside the form's ``field``, its message led by ``lead`` (which file it is
    about); with neither, raised as it is."""
    try:
        yield
    except MediaError as err:
        if field is None and lead is None:
            raise
        raise MediaError(lead(err.message) if lead is not None else err.message, reason=err.reason,
                         field=field) from None


def prepare_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS,
                  field: str | None = None, lead: Lead | None = None) -> Prepared:
    """Validate and clean an image — its bounded original (ORIGINAL_EDGE) and renditions — in memory.

    A refusal (MediaError) is said beside the form's ``field``; ``lead``, given the refusal's own message, says
    which file it is about, e.g. ``lambda why: _l("图片：%(why)s", why=why)``. A form collects it with its other
    problems: ``problems.check(media.prepare_image, data, field="photo")``.

    One decoded image at a time: the original (draft-decoded, at most ORIGINAL_EDGE), then each rendition
    reduced from the previous, larger one."""
    with _refused_beside(field, lead):
        return _prepare_image(data, max_bytes=max_bytes, max_pixels=max_pixels)


def _prepare_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Prepared:
    img = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels, max_edge=ORIGINAL_EDGE)
    clean = _jpeg(img)
    key = _key("img", clean, "jpg")
    width, height = img.size
    files = [(key, clean)]
    for name, edge in sorted(RENDITIONS.items(), key=lambda item: -item[1]):  # display, then thumb from it
        img.thumbnail((edge, edge))
        files.append((rendition_key(key, name), _jpeg(img)))
    return Prepared(StoredMedia(key=key, content_type="image/jpeg", width=width, height=height, size=len(clean)),
                    tuple(files))


def store_image(data: bytes, media_dir: str | os.PathLike, *, max_bytes: int = MAX_IMAGE_BYTES,
                max_pixels: int = MAX_IMAGE_PIXELS) -> StoredMedia:
    """Validate, clean and store an image (:func:`prepare_image`); return its key."""
    return prepare_image(data, max_bytes=max_bytes, max_pixels=max_pixels).write(media_dir)


def prepare_document(data: bytes, filename: str = "", *, field: str | None = None,
                     lead: Lead | None = None) -> Prepared:
    """An attachment checked and cleaned in memory: an image (through prepare_image) or a PDF (checked by its
    header and size, re-written by :func:`clean_pdf`). ``field`` and ``lead``: as for :func:`prepare_image`."""
    with _refused_beside(field, lead):
        return _prepare_document(data)


def _prepare_document(data: bytes) -> Prepared:
    if data[:5] == b"%PDF-":
        if len(data) > MAX_PDF_BYTES:
            raise MediaError(_l("PDF 文件太大，请选择 %(mb)d MB 以内的文件。", mb=MAX_PDF_BYTES // (1024 * 1024)),
                             reason="pdf_too_large")
        if b"%%EOF" not in data[-2048:]:
            raise MediaError(_l("PDF 文件不完整，请重新导出后上传。"), reason="pdf_incomplete")
        clean = clean_pdf(data)
        key = _key("doc", clean, "pdf")
        return Prepared(StoredMedia(key=key, content_type="application/pdf", size=len(clean)), ((key, clean),))
    try:
        return prepare_image(data)
    except MediaError as err:
        if err.reason == "not_image":
            raise MediaError(_l("只能上传照片或 PDF 文件。"), reason="not_image") from None
        raise


def store_document(data: bytes, filename: str, media_dir: str | os.PathLike) -> StoredMedia:
    """An attachment (:func:`prepare_document`), stored."""
    return prepare_document(data, filename).write(media_dir)


# What a PDF may carry that acts on the reader or says who made it: actions run on open or on an event,
# JavaScript, embedded or attached files, and document metadata.
_PDF_CATALOG_KEYS = ("/OpenAction", "/AA", "/Metadata", "/AcroForm", "/URI")
_PDF_NAME_TREES = ("/JavaScript", "/EmbeddedFiles")
_PDF_ANNOT_KEYS = ("/A", "/AA")
_PDF_ACTIVE_ANNOTS = ("/FileAttachment", "/Movie", "/Sound", "/Screen", "/RichMedia")


def clean_pdf(data: bytes) -> bytes:
    """Re-write an uploaded PDF without scripts, open actions, embedded files or metadata (pikepdf/qpdf), or
    refuse it when it cannot be read. Pages and their content stay as they were."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            root = pdf.Root
            for name in _PDF_CATALOG_KEYS:
                if name in root:
                    del root[name]
            names = root.get("/Names")
            if names is not None:
                for name in _PDF_NAME_TREES:
                    if name in names:
                        del names[name]
            for page in pdf.pages:
                if "/AA" in page.obj:
                    del page.obj["/AA"]
                annots = page.obj.get("/Annots")
                if annots is None:
                    continue
                kept = pikepdf.Array()
                for annot in annots:
                    if annot.get("/Subtype") in _PDF_ACTIVE_ANNOTS:
                        continue
                    for name in _PDF_ANNOT_KEYS:
                        if name in annot:
                            del annot[name]
                    kept.append(annot)
                page.obj["/Annots"] = kept
            if "/Info" in pdf.trailer:
                del pdf.trailer["/Info"]
            out = io.BytesIO()
            pdf.remove_unreferenced_resources()
            pdf.save(out, static_id=True, deterministic_id=False)
            return out.getvalue()
    except pikepdf.PasswordError:
        raise MediaError(_l("PDF 文件设置了密码，请去掉密码后再上传。"), reason="pdf_unreadable") from None
    except (pikepdf.PdfError, ValueError, KeyError, TypeError, RuntimeError):
        raise MediaError(_l("无法读取这个 PDF 文件，请重新导出后上传。"), reason="pdf_unreadable") from None


def rendition_key(key: str, rendition: str) -> str:
    if rendition not in RENDITIONS:
        raise ValueError(rendition)
    return key.removesuffix(".jpg") + f".{rendition}.jpg"


def media_path(media_dir: str | os.PathLike, key: str, rendition: str | None = None) -> Path:
    """The file of a stored key (validated: a key never escapes the media folder)."""
    if not KEY_RE.match(key):
        raise MediaError(_l("文件不存在。"), reason="not_found")
    if rendition is not None:
        key = rendition_key(key, rendition)
    return Path(media_dir) / key


def content_type(key: str) -> str:
    return "application/pdf" if key.endswith(".pdf") else "image/jpeg"


# --- garbage collection (``dibao media gc``, also run by the notice sweep) -----------------------------------
#
# A stored file is kept while a row names its key. Notice entries do not count: their snapshot keeps the key
# (it is immutable), but an entry shows its photo only while the case still has it with consent
# (dibao.notices.shown_photo_key), so a photo whose consent was withdrawn, or that was deleted or replaced,
# is referenced by nothing once no case has it, and its files go.

GC_GRACE_SECONDS = 3600  # a file younger than this may belong to an upload whose row is not committed yet
_STORED_RE = re.compile(r"^((?:img|doc)/[0-9a-f]{2}/[0-9a-f]{64})(?:\.[a-z0-9]+)?\.(jpg|pdf)(?:\.\d+\.tmp)?$")
MEDIA_KEY_COLUMNS = ("photo_key", "media_key")  # the names a column holding a media key has, in any table
NOT_REFERENCES = {("notice_entry", "photo_key")}  # see above


def referenced_keys(session, among: set[str] | None = None) -> set[str]:
    """Every media key some row still needs: every column named like a media key, in every table, except the
    notice snapshots' photo (a new table with a ``photo_key`` or ``media_key`` column joins by itself). With
    ``among``, only which of those keys are still needed."""
    from sqlalchemy import select

    from dibao.db import Base

    if among is not None and not among:
        return set()
    keys: set[str] = set()
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.name in MEDIA_KEY_COLUMNS and (table.name, column.name) not in NOT_REFERENCES:
                found = column.is_not(None) if among is None else column.in_(sorted(among))
                keys.update(k for k in session.scalars(select(column).where(found).distinct()) if k)
    return keys


def collect_garbage(media_dir: str | os.PathLike, keep: set[str], *, grace_seconds: float = GC_GRACE_SECONDS,
                    now: float | None = None) -> list[str]:
    """Delete the stored files (originals, renditions, leftover temporary files) of keys not in ``keep`` that
    are older than ``grace_seconds``; return their paths relative to ``media_dir``. Files this module did
    not write are left alone."""
    import time

    root = Path(media_dir)
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    deleted = []
    for path in sorted(root.glob("*/*/*")):
        relative = path.relative_to(root).as_posix()
        match = _STORED_RE.match(relative)
        if match is None or not path.is_file():
            continue
        key = f"{match.group(1)}.{match.group(2)}"
        if (key in keep and not relative.endswith(".tmp")) or now - path.stat().st_mtime < grace_seconds:
            continue
        path.unlink(missing_ok=True)
        deleted.append(relative)
    return deleted
