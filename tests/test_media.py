"""The media pipeline: limits, re-encoding, metadata stripped, content addressing."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from dibao import media, qr


def jpeg_with_gps(size=(64, 48)) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}  # GPS IFD
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png_bomb(width=12000, height=12000) -> bytes:
    """A tiny PNG that claims 144 megapixels (an all-zero image compresses to almost nothing)."""
    raw_row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(raw_row) for _ in range(height)) + compressor.flush()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


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
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    stored = media.store_document(pdf, "证明.pdf", tmp_path)
    assert stored.content_type == "application/pdf"
    assert media.media_path(tmp_path, stored.key).read_bytes() == pdf
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
