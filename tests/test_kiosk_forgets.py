"""The kiosk forgets a closed notice (static/kiosk-sw.js): a kept photo carries its entry's closing instant, so
the service worker can drop it at that instant even offline; once closed it answers 410."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from dibao import media
from tests.conftest import T0
from tests.kiosk_helpers import publish, register


def test_a_kiosk_photo_says_when_its_notice_closes(client, session, world, app, clock):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (60, 80), (100, 120, 140)).save(buf, "JPEG")
    key = media.store_image(buf.getvalue(), app.config["MEDIA_DIR"]).key
    kiosk = register(session, world.regions["comm_a1"])
    publish(session, world.regions["comm_a1"], ["有照片"], photo_key=key, photo_consent=True)
    html = client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True)
    src = re.search(r'<img class="k-photo" src="([^"]+)"', html).group(1)
    closes = (T0 + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'data-closes-at="{closes}"' in html  # the slide carries the same instant

    res = client.get(src)
    assert res.status_code == 200
    assert res.headers["X-Kiosk-Closes"] == closes
    assert res.headers["Cache-Control"] == "no-cache, private"

    clock.advance(days=7)
    gone = client.get(src)
    assert gone.status_code == 410  # the worker drops its kept copy on this answer
    assert "X-Kiosk-Closes" not in gone.headers and "有照片" not in gone.get_data(as_text=True)
