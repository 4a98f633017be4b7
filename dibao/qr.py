"""QR codes: inline SVG for pages and print, PNG for downloads. Targets are built on DIBAO_PUBLIC_URL."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

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


# --- short targets: every code a resident scans goes through /q/<code> -------------------------------
#
# The code carries a one-letter kind and an id, nothing else: E<entry public id>, B<region code>,
# T<tracking code>. No table is needed and the URL stays short. When DIBAO_PUBLIC_URL has no path the
# whole URL is written in capitals so the QR code uses the alphanumeric mode (fewer modules, scans from
# further away); scheme and host are case-insensitive and /Q/ is served like /q/.

KIND_ENTRY = "E"
KIND_BOARD = "B"
KIND_TRACK = "T"


def short_url(public_url: str, code: str) -> str:
    base = public_url.rstrip("/")
    parts = urlsplit(base)
    if parts.path in ("", "/") and not parts.query and not parts.username:
        return f"{base}/Q/{code}".upper()
    return f"{base}/q/{code}"


def entry_target(public_url: str, entry_public_id: str) -> str:
    """What an entry's code carries: where a resident lands to object to that entry."""
    return short_url(public_url, KIND_ENTRY + entry_public_id.upper())


def board_target(public_url: str, region_code: str) -> str:
    """What a board's code carries: the region's open entries, each with its objection form."""
    return short_url(public_url, KIND_BOARD + region_code.upper())


def tracking_target(public_url: str, tracking_code: str) -> str:
    """What a receipt's code carries: the tracking page of that objection or report."""
    return short_url(public_url, KIND_TRACK + tracking_code.upper())


def resolve(code: str) -> tuple[str, str] | None:
    """``("entry", public id)``, ``("board", region code)``, ``("track", code)``, or None."""
    code = code.strip()
    if len(code) < 2 or len(code) > 40 or not code.isascii() or not code.isalnum():
        return None
    kind, rest = code[0].upper(), code[1:]
    if kind == KIND_ENTRY:
        return "entry", rest.lower()  # entry public ids are lower-case (dibao.notices.PUBLIC_ID_ALPHABET)
    if kind == KIND_BOARD:
        return "board", rest.upper()
    if kind == KIND_TRACK:
        return "track", rest.upper()
    return None
