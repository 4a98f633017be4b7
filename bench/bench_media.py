"""Issue 13: the photo pipeline (dibao.media.store_image) vs a plain Pillow draft + thumbnail + save of the same
renditions (the bounded original, display, thumb) on a 12 MP JPEG — the ratio is the figure (target ≤ 1.3)."""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402


def photo(width: int = 4000, height: int = 3000) -> bytes:
    """A 12 MP JPEG with photo-like detail (noise over gradients), EXIF orientation 6 as a phone writes it."""
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    img = Image.blend(base, noise, 0.5)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def plain(data: bytes) -> None:
    from dibao import media

    img = Image.open(io.BytesIO(data))
    img.draft("RGB", media.draft_box(*img.size, media.ORIGINAL_EDGE))
    for edge in (media.ORIGINAL_EDGE, *sorted(media.RENDITIONS.values(), reverse=True)):
        img.thumbnail((edge, edge))
        img.save(io.BytesIO(), format="JPEG", quality=media.JPEG_QUALITY)


def best(fn, data: bytes, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - started)
    return min(times)


if __name__ == "__main__":
    from dibao import media

    data = photo()
    tmp = tempfile.mkdtemp(prefix="dibao-media-")
    ours = best(lambda d: media.store_image(d, tmp), data)
    pillow = best(plain, data)
    print(f"12 MP JPEG ({len(data) / 1e6:.1f} MB): store_image {ours * 1000:.0f} ms, plain Pillow draft+thumbnail+save "
          f"{pillow * 1000:.0f} ms → {ours / pillow:.2f}× (target ≤ 1.3; best of 5, shared machine)")
