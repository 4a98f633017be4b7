"""Draw the site's icon, ``static/favicon.ico``: a sun (阳光) in the brand red on white, at 16, 32 and 48 px.

Drawn here rather than fetched, so the site loads nothing from elsewhere. Developers run it after changing it::

    .venv/bin/python -m portal.favicon
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

TARGET = Path(__file__).resolve().parent.parent / "static" / "favicon.ico"
BRAND = (164, 22, 26, 255)  # --brand in static/css/base.css
SUN = (255, 191, 0, 255)  # --focus: the sun
SIZES = (16, 32, 48)


def draw(size: int = 256) -> Image.Image:
    """The icon at ``size`` px (drawn large, scaled down by the ICO writer): a red tile with a sun and its rays."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 6, fill=BRAND)
    centre, disc = size / 2, size * 0.2
    for i in range(8):  # eight rays
        angle = i * math.pi / 4
        inner, outer = size * 0.28, size * 0.42
        pen.line((centre + inner * math.cos(angle), centre + inner * math.sin(angle),
                  centre + outer * math.cos(angle), centre + outer * math.sin(angle)),
                 fill=SUN, width=max(1, size // 14))
    pen.ellipse((centre - disc, centre - disc, centre + disc, centre + disc), fill=SUN)
    return image


def main() -> None:
    draw().save(TARGET, format="ICO", sizes=[(s, s) for s in SIZES])
    print(f"{TARGET} ({TARGET.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
