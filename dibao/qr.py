"""QR codes: inline SVG for pages and print, PNG for downloads. Targets are built on DIBAO_PUBLIC_URL."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M


def _make(data: str, border: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border)
    code.add_data(data)
    code.make(fit=True)
    return code


def svg(data: str, *, border: int = 2) -> str:
    """Inline SVG markup (one path on a white background, scalable; size it with CSS). Contains no user text besides the encoded data."""
    img = _make(data, border).make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    markup = img.to_string(encoding="unicode")
    return markup.replace("<?xml version='1.0' encoding='UTF-8'?>", "").strip()


def png(data: str, *, box_size: int = 10, border: int = 4) -> bytes:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return out.getvalue()


def entry_target(public_url: str, entry_public_id: str) -> str:
    """What an entry's code carries: where a resident lands to object to that entry."""
    return f"{public_url.rstrip('/')}/notices/e/{entry_public_id}"


def board_target(public_url: str, region_code: str) -> str:
    """What a board's code carries: the region's open notices."""
    return f"{public_url.rstrip('/')}/notices/{region_code}"
