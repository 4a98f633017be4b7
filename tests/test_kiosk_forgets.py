"""The kiosk forgets a closed notice (static/kiosk-sw.js): a kept photo carries its entry's closing instant, so
the service worker can drop it at that instant even offline; once closed it answers 410. Nothing that carries a
household is ever stored by the browser's HTTP cache (no-store): the worker's copies are the only ones, and it
revalidates them itself (If-None-Match, answered 304)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest

from dibao import cache, media
from tests.conftest import T0
from tests.kiosk_helpers import publish, register


def _photo(app) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (60, 80), (100, 120, 140)).save(buf, "JPEG")
    return media.store_image(buf.getvalue(), app.config["MEDIA_DIR"]).key


def test_a_kiosk_photo_says_when_its_notice_closes(client, session, world, app, clock):
    key = _photo(app)
    kiosk = register(session, world.regions["comm_a1"])
    publish(session, world.regions["comm_a1"], ["有照片"], photo_key=key, photo_consent=True)
    html = client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True)
    src = re.search(r'<img class="k-photo" src="([^"]+)"', html).group(1)
    closes = (T0 + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'data-closes-at="{closes}"' in html  # the slide carries the same instant

    res = client.get(src)
    assert res.status_code == 200
    assert res.headers["X-Kiosk-Closes"] == closes
    assert res.headers["Cache-Control"] == "no-store"

    clock.advance(days=7)
    gone = client.get(src)
    assert gone.status_code == 410  # the worker drops its kept copy on this answer
    assert "X-Kiosk-Closes" not in gone.headers and "有照片" not in gone.get_data(as_text=True)


@pytest.mark.parametrize("public_cache", [True, False], ids=["cached", "uncached"])
def test_no_kiosk_answer_that_carries_a_household_may_be_stored(client, session, world, app, public_cache):
    app.config["PUBLIC_CACHE"] = public_cache
    key = _photo(app)
    kiosk = register(session, world.regions["comm_a1"])
    batch = publish(session, world.regions["comm_a1"], ["有照片"], photo_key=key, photo_consent=True)
    base = f"/kiosk/{kiosk.token}"
    answers = []
    shell = client.get(base)
    assert "有照片" in shell.get_data(as_text=True)
    answers.append(("shell", shell))
    for url in (f"{base}/slide/0", f"{base}/photo/{batch.entries[0].public_id}"):
        first = client.get(url)
        assert first.status_code == 200 and first.headers["ETag"]
        again = client.get(url)  # with the public cache: answered by its fast path, from the same headers
        revalidated = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        also = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 200 and revalidated.status_code == also.status_code == 304
        answers += [(url, first), (url, again), (url, revalidated), (url, also)]
    answers.append(("htmx slide", client.get(f"{base}/slide/0", headers={"HX-Request": "true"})))
    if public_cache:
        assert cache.store(app).stats["fast"] >= 2  # the slide's second 200 and second 304
    for what, res in answers:
        # the browser's HTTP cache keeps none of it (nor any cache on the way): the worker revalidates instead
        assert res.headers["Cache-Control"] == "no-store", (what, res.status_code, res.headers)
        assert "public" not in res.headers["Cache-Control"] and "max-age" not in res.headers["Cache-Control"]
