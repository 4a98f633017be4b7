"""Helpers for the objection and report tests: an open entry, the public form's fields, a receipt."""

from __future__ import annotations

import io
import re

from PIL import Image

from dibao import notices
from dibao.models import Level, Region
from tests.factories import case_awaiting_notice


def open_entry(session, world, *, level=Level.community, community="comm_a1", posted_at=None, **case_kwargs):
    """A case in its notice round, published through dibao.notices; returns the entry."""
    region = session.get(Region, world.regions[community])
    case = case_awaiting_notice(session, region, level, **case_kwargs)
    board = region if level == Level.community else (region.parent if level == Level.town else region.parent.parent)
    batch = notices.publish_batch(session, None, level=level, region=board, cases=[case], title="低保对象公示")
    entry = batch.entries[0]  # read in the writing transaction: after the commit the test's session holds no
    session.commit()  # snapshot older than the requests it makes
    return entry


def form_fields(client, path):
    """GET a form; its CSRF token and per-form submission id."""
    html = client.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    key = re.search(r'id="submission_id" name="submission_id" type="hidden" value="([^"]+)"', html).group(1)
    return {"csrf_token": token, "submission_id": key}


def objection_data(client, entry_id, **overrides):
    data = {**form_fields(client, f"/objections/new?entry={entry_id}"), "entry": entry_id,
            "category": "income_hidden", "description": "他家儿子在城里开了一家饭店，收入不低。", "name": "",
            "phone": "", "website": ""}
    data.update(overrides)
    return data


def receipt_code(client) -> str:
    html = client.get("/receipt").get_data(as_text=True)
    match = re.search(r'data-tracking-code="([A-Z0-9]+)"', html)
    assert match, html
    return match.group(1)


def jpeg(size=(64, 48), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG")
    return out.getvalue()
