"""The kiosk's Chinese fonts are served from static/ and cover every character the kiosk itself writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FONTS = [ROOT / "static" / "fonts" / name for name in
         ("NotoSansSC-Kiosk-Regular.woff2", "NotoSansSC-Kiosk-Bold.woff2")]


def _kiosk_text() -> str:
    from dibao import content, kiosks, notices, workflow
    from dibao.demo import TOWNS

    text = "".join(p.read_text() for p in (ROOT / "templates" / "kiosk").glob("*.html"))
    text += "".join(str(label) for label in kiosks.STATUS_LABELS.values())
    text += "".join(str(label) for label in notices.ROUND_LABELS.values())
    text += "".join(str(label) for label in workflow.DECISION_LABELS.values())
    text += "".join(str(title) + str(body) for title, body, _level in content.STEPS)
    text += "".join(title + body for title, body in content.DEFAULTS.values())
    text += "".join(t[1] + "".join(t[2]) for t in TOWNS) + "0123456789年月日星期一二三四五六日还剩天"
    return "".join(sorted(set(re.findall(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]", text))))


@pytest.mark.parametrize("path", FONTS, ids=lambda p: p.name)
def test_font_is_small_and_covers_what_the_kiosk_writes(path, app):
    ttlib = pytest.importorskip("fontTools.ttLib")
    pytest.importorskip("brotli")
    assert path.stat().st_size < 3 * 1024 * 1024
    with app.app_context():
        needed = _kiosk_text()
    cmap = ttlib.TTFont(str(path)).getBestCmap()
    missing = [ch for ch in needed if ord(ch) not in cmap]
    assert len(needed) > 200 and missing == []


def test_stylesheet_loads_the_fonts_from_static():
    css = (ROOT / "static" / "css" / "kiosk.css").read_text()
    for path in FONTS:
        assert f'url("../fonts/{path.name}")' in css
    assert "//" not in re.sub(r"/\*.*?\*/", "", css, flags=re.S).replace('url("../', "")  # no external URL
