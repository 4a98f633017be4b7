"""Issue 13: the photo pipeline takes today's phone photos (20 MB, 50 MP) safely, decodes a JPEG in draft mode
(never at full size), bounds the stored original and keeps the photo upright."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFile

from dibao import media
from tests.media_helpers import png_bomb


def jpeg(width: int, height: int, orientation: int | None = None) -> bytes:
    img = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    img.paste((255, 0, 0), (0, 0, width // 4, height // 4))  # a red top-left corner, to see which way is up
    out = io.BytesIO()
    kwargs = {}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    img.save(out, format="JPEG", quality=90, **kwargs)
    return out.getvalue()


def test_limits_fit_todays_phone_photos():
    assert media.MAX_IMAGE_BYTES == 20 * 1024 * 1024 and media.MAX_IMAGE_PIXELS == 50_000_000


def test_a_jpeg_is_decoded_in_draft_mode_and_the_original_is_bounded(tmp_path, monkeypatch):
    decoded = []
    real_load = ImageFile.ImageFile.load

    def load(self):
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    stored = media.store_image(jpeg(6000, 4000), tmp_path)  # 24 MP
    assert max(w * h for w, h in decoded) <= 6000 * 4000 // 4  # never decoded at full size
    assert max(stored.width, stored.height) == media.ORIGINAL_EDGE
    with Image.open(media.media_path(tmp_path, stored.key)) as original:
        assert max(original.size) == media.ORIGINAL_EDGE and not original.info.get("exif")
    for name, edge in media.RENDITIONS.items():
        with Image.open(media.media_path(tmp_path, stored.key, name)) as small:
            assert max(small.size) == edge


def test_the_photo_stays_upright(tmp_path):
    stored = media.store_image(jpeg(4000, 3000, orientation=6), tmp_path)  # a phone held upright
    assert (stored.width, stored.height) == (1920, 2560)
    with Image.open(media.media_path(tmp_path, stored.key, "thumb")) as thumb:
        assert thumb.size == (240, 320)
        r, g, b = thumb.convert("RGB").getpixel((thumb.width - 5, 5))  # the red corner is now top right
        assert r > 200 and g < 60


def test_a_48_megapixel_photo_is_accepted_and_a_bomb_is_not(tmp_path):
    stored = media.store_image(png_bomb(8000, 6000), tmp_path)  # 48 MP
    assert max(stored.width, stored.height) == media.ORIGINAL_EDGE
    with pytest.raises(media.MediaError) as err:
        media.store_image(png_bomb(8000, 6500), tmp_path)  # 52 MP
    assert err.value.reason == "too_many_pixels"
    with pytest.raises(media.MediaError) as err:
        media.store_image(png_bomb(), tmp_path)  # 144 MP claimed by a tiny file
    assert err.value.reason == "too_many_pixels"


def test_over_20_mb_is_refused_before_decoding(tmp_path):
    with pytest.raises(media.MediaError) as err:
        media.store_image(b"\xff" * (20 * 1024 * 1024 + 1), tmp_path)
    assert err.value.reason == "too_large"
