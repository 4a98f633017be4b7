"""Build the kiosk's Chinese web fonts: Noto Sans CJK SC, subset to GB2312 + ASCII + punctuation, as WOFF2.

The kiosk must not depend on a CDN or on the fonts a kiosk PC happens to have, so the fonts are served from
``static/fonts/``. The full Noto Sans CJK collection is ~20 MB a weight; GB 2312 (the 6,763 hanzi of levels 1
and 2, which cover nearly all names and addresses) plus ASCII and CJK punctuation keeps each weight small.
Characters outside the subset fall back to the system's CJK font (see ``static/css/kiosk.css``).

Developers run it after changing the character set (needs the dev extra: fonttools[woff]; and Debian's
fonts-noto-cjk)::

    .venv/bin/python -m kiosk.fontsubset
"""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE_DIR = Path("/usr/share/fonts/opentype/noto")
TARGET_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"
WEIGHTS = {"Regular": "NotoSansSC-Kiosk-Regular.woff2", "Bold": "NotoSansSC-Kiosk-Bold.woff2"}


def gb2312_characters() -> str:
    """Every character GB 2312 encodes: symbols (rows 1–9) and hanzi levels 1 and 2 (rows 16–87)."""
    chars = []
    for row in list(range(0xA1, 0xAA)) + list(range(0xB0, 0xF8)):
        for cell in range(0xA1, 0xFF):
            try:
                chars.append(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(chars)


def character_set() -> str:
    ascii_printable = "".join(chr(c) for c in range(0x20, 0x7F))
    extra = "　、。〈〉《》「」『』【】〔〕〖〗・…—–‘’“”·×÷￥№℃←→↑↓①②③④⑤⑥⑦⑧⑨⑩●○■□▲△◆◇★☆✓✔✕"
    fullwidth = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    return ascii_printable + extra + fullwidth + gb2312_characters()


def build(weight: str, out: Path) -> int:
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(SOURCE_DIR / f"NotoSansCJK-{weight}.ttc"))
    font = next(f for f in collection.fonts if f["name"].getDebugName(1) == "Noto Sans CJK SC")
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["kern", "palt", "vert", "vrt2", "locl"]
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]
    options.hinting = False
    options.desubroutinize = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=character_set())
    subsetter.subset(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = "woff2"
    font.save(str(out))
    return out.stat().st_size


def main() -> None:
    for weight, name in WEIGHTS.items():
        size = build(weight, TARGET_DIR / name)
        print(f"{name}: {size / 1024:.0f} KiB", file=sys.stderr)


if __name__ == "__main__":
    main()
