"""The kiosk's Chinese font is served from static/ in slices (kiosk/fontsubset.py): the first holds every
character the kiosk itself writes, the others all of GB 2312 by frequency, each named in the stylesheet with its
unicode-range so a screen fetches only the slices it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk import fontsubset

ROOT = Path(__file__).resolve().parent.parent
FONTS = sorted((ROOT / "static" / "fonts" / "kiosk").glob("NotoSansSC-Regular-*.woff2"))
CSS = (ROOT / "static" / "css" / "kiosk.css").read_text()


def _ranges() -> list[set[int]]:
    out = []
    for block in re.findall(r"unicode-range: (U\+[^;]+);", CSS):
        points: set[int] = set()
        for part in block.split(","):
            low, _, high = part.strip().removeprefix("U+").partition("-")
            points.update(range(int(low, 16), int(high or low, 16) + 1))
        out.append(points)
    return out


def test_the_first_slice_covers_what_the_kiosk_writes_and_is_small():
    ttlib = pytest.importorskip("fontTools.ttLib")
    pytest.importorskip("brotli")
    needed = fontsubset.kiosk_text()
    assert len(needed) > 300
    first = FONTS[0]
    cmap = ttlib.TTFont(str(first)).getBestCmap()
    assert [ch for ch in needed if ord(ch) not in cmap] == []
    assert {ord(ch) for ch in needed} <= _ranges()[0]
    assert first.stat().st_size < 150 * 1024  # what every screen loads, instead of 3.9 MB


def test_the_slices_together_cover_gb2312_and_each_is_named_with_its_range():
    ttlib = pytest.importorskip("fontTools.ttLib")
    ranges = _ranges()
    assert len(ranges) == len(FONTS) > 5
    for index, path in enumerate(FONTS):
        assert f'url("../fonts/kiosk/{path.name}")' in CSS
        cmap = ttlib.TTFont(str(path)).getBestCmap()
        assert ranges[index] <= set(cmap) | {0x20}, path.name  # a slice only claims what it has
    covered = set().union(*ranges)
    assert {ord(c) for c in fontsubset.gb2312_characters()} <= covered
    assert sum(p.stat().st_size for p in FONTS) < 2.5 * 1024 * 1024  # one weight, in all


def test_stylesheet_loads_the_fonts_from_static():
    assert "//" not in re.sub(r"/\*.*?\*/", "", CSS, flags=re.S).replace('url("../', "")  # no external URL
    assert "NotoSansSC-Kiosk-Bold" not in CSS
