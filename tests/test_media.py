"""The media pipeline: limits, re-encoding, metadata stripped, content addressing."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from dibao import media, qr
from tests.media_helpers import png_bomb


def jpeg_with_gps(size=(64, 48)) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}  # GPS IFD
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_image_is_reencoded_without_exif_or_gps(tmp_path):
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get(0x8825)
    stored = media.store_image(original, tmp_path)
    path = media.media_path(tmp_path, stored.key)
    clean = Image.open(path)
    assert clean.format == "JPEG"
    assert dict(clean.getexif()) == {}
    assert b"PhoneMaker" not in path.read_bytes()
    assert (stored.width, stored.height) == (64, 48)
    for rendition in media.RENDITIONS:
        assert media.media_path(tmp_path, stored.key, rendition).exists()


def test_same_content_same_key(tmp_path):
    data = jpeg_with_gps()
    assert media.store_image(data, tmp_path).key == media.store_image(data, tmp_path).key


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "文件是空的"),
        (b"<script>alert(1)</script>", "无法识别"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "无法识别"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(tmp_path, data, message):
    with pytest.raises(media.MediaError) as err:
        media.store_image(data, tmp_path)
    assert message in str(err.value.message)
    assert not any(tmp_path.rglob("*.jpg"))


def test_too_large_is_refused_before_decoding(tmp_path):
    with pytest.raises(media.MediaError) as err:
        media.store_image(b"\xff" * (media.MAX_IMAGE_BYTES + 1), tmp_path)
    assert "图片太大" in str(err.value.message)


def test_decompression_bomb_is_refused(tmp_path):
    bomb = png_bomb()
    assert len(bomb) < 2 * 1024 * 1024  # small on the wire
    with pytest.raises(media.MediaError) as err:
        media.store_image(bomb, tmp_path)
    assert "尺寸过大" in str(err.value.message)
    assert not any(tmp_path.rglob("*.jpg"))


def test_pdf_documents(tmp_path):
    from tests.factories import tiny_pdf

    stored = media.store_document(tiny_pdf(), "证明.pdf", tmp_path)
    assert stored.content_type == "application/pdf"
    assert media.media_path(tmp_path, stored.key).read_bytes().startswith(b"%PDF-")
    with pytest.raises(media.MediaError) as err:
        media.store_document(b"PK\x03\x04 a zip", "x.docx", tmp_path)
    assert "只能上传照片或 PDF" in str(err.value.message)


def test_keys_cannot_escape_the_media_folder(tmp_path):
    with pytest.raises(media.MediaError):
        media.media_path(tmp_path, "../../etc/passwd")


def test_qr_png_decodes_to_its_url():
    import zxingcpp

    png = qr.png("http://dibao.test/q/eabc234")
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [r.text for r in results] == ["http://dibao.test/q/eabc234"]
    assert qr.svg("x").startswith("<svg")


def test_refusals_do_not_depend_on_the_language(app, tmp_path):
    """Callers decide by ``reason``, never by the (translated) message."""
    from flask import session

    with app.test_request_context():
        session["lang"] = "en"
        with pytest.raises(media.MediaError) as err:
            media.store_document(b"PK\x03\x04 a zip", "x.docx", tmp_path)
        assert str(err.value.message) == "Only photos or PDF files can be uploaded."
    assert err.value.reason == "not_image"


def test_a_refusal_is_said_beside_the_forms_field_led_by_which_file(app):
    """A form hands its field (and how to name the file) to the pipeline, and collects the refusal with its other
    problems: ``problems.check(media.prepare_image, data, field="photo")``."""
    with app.test_request_context():
        with pytest.raises(media.MediaError) as err:
            media.prepare_image(b"<script>alert(1)</script>", field="photo")
        assert err.value.field_problems == [("photo", err.value.message)] and err.value.reason == "not_image"
        assert "无法识别这个文件" in str(err.value.message)
        with pytest.raises(media.MediaError) as err:
            media.prepare_document(b"%PDF-1.4\n1 0 obj << >>\n", "通知.pdf", field="files",
                                   lead=lambda why: f"附件“通知.pdf”：{why}")
        assert err.value.field == "files" and err.value.reason == "pdf_incomplete"
        assert str(err.value.message).startswith("附件“通知.pdf”：PDF 文件不完整")
        with pytest.raises(media.MediaError) as err:  # no field: the refusal as it is (the command line's)
            media.prepare_document(b"PK\x03\x04 a zip", "x.docx")
        assert err.value.field is None and "只能上传照片或 PDF" in str(err.value.message)


def _jpeg_markers(data: bytes) -> list[int]:
    """The marker codes of a JPEG's header segments, up to the start of the scan."""
    markers, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return markers


def test_stored_renditions_keep_no_comment_or_application_segment(tmp_path):
    img = Image.new("RGB", (80, 60), (10, 120, 200))
    out = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">GPS 39.9,116.4 owner-phone</x:xmpmeta>'
    img.save(out, format="JPEG", comment=b"owner-phone 13800138000", xmp=xmp,
             icc_profile=b"\x00" * 128 + b"camera-serial-XYZ")
    upload = out.getvalue()
    assert 0xFE in _jpeg_markers(upload) and b"13800138000" in upload  # the upload does carry them
    stored = media.store_image(upload, tmp_path)
    for rendition in (None, *media.RENDITIONS):
        data = media.media_path(tmp_path, stored.key, rendition).read_bytes()
        markers = _jpeg_markers(data)
        assert 0xFE not in markers  # COM
        assert [m for m in markers if 0xE1 <= m <= 0xEF] == []  # APP1 … APP15 (EXIF, XMP, ICC, maker data)
        assert b"13800138000" not in data and b"camera-serial" not in data and b"owner-phone" not in data


def _active_pdf() -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    script = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('x')"))
    pdf.Root.OpenAction = pdf.make_indirect(script)
    pdf.Root.AA = pikepdf.Dictionary(WC=script)
    embedded = pikepdf.AttachedFileSpec(pdf, b"MZ secret payload", filename="payload.exe")
    pdf.attachments["payload.exe"] = embedded
    pdf.Root.Names.JavaScript = pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("x"), script]))
    pdf.docinfo["/Author"] = "张三 110101199003074514"
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=script)
    link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10],
                              A=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe")))
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([link]))
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["张三"]
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_pdfs_are_stored_without_scripts_actions_attachments_or_metadata(tmp_path):
    import pikepdf

    upload = _active_pdf()
    assert b"payload.exe" in upload and b"JavaScript" in upload
    stored = media.store_document(upload, "证明.pdf", tmp_path)
    data = media.media_path(tmp_path, stored.key).read_bytes()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1  # the content stays
        assert "/OpenAction" not in pdf.Root and "/AA" not in pdf.Root and "/Metadata" not in pdf.Root
        assert len(pdf.attachments) == 0
        assert "/JavaScript" not in pdf.Root.get("/Names", {})
        assert "/AA" not in pdf.pages[0].obj
        assert all("/A" not in annot for annot in pdf.pages[0].obj.get("/Annots", []))
        assert "/Author" not in pdf.docinfo
    for secret in (b"MZ secret payload", b"app.alert", b"cmd.exe", "张三".encode("utf-16-be")):
        assert secret not in data


@pytest.mark.parametrize("data", [
    b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",  # no catalog, no pages
    b"%PDF-1.7\n" + b"\x00garbage" * 200 + b"\n%%EOF\n",
])
def test_an_unreadable_pdf_is_refused_with_a_clear_message(tmp_path, data):
    with pytest.raises(media.MediaError) as err:
        media.store_document(data, "x.pdf", tmp_path)
    assert err.value.reason == "pdf_unreadable" and "无法读取这个 PDF" in str(err.value.message)
    assert not any(tmp_path.rglob("*.pdf"))


def test_media_and_database_files_are_private_to_the_service_user(tmp_path):
    import stat

    from sqlalchemy import text

    from dibao.db import make_engine

    stored = media.store_image(jpeg_with_gps(), tmp_path / "media")
    for path in (tmp_path / "media").rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    assert stored.key
    engine = make_engine(f"sqlite:///{tmp_path}/db/dibao.sqlite3")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    assert stat.S_IMODE((tmp_path / "db" / "dibao.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "db").stat().st_mode) == 0o700
