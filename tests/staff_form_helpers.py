"""The all-errors tables of the staff forms (tests/test_all_errors_staff_remaining.py, …_choices.py): one POST with
several mistakes, every message beside its own field, a 4xx, and nothing saved — no row of the form's table, no
audit event, no file in the media folder."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

from dibao import clock
from dibao.models import AuditEvent
from tests.case_helpers import standard, valid_id
from tests.conftest import csrf_token
from tests.test_all_errors import count
from tests.test_all_errors_staff import beside


def media_files(app) -> list[str]:
    root = Path(app.config["MEDIA_DIR"])
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def _fill(value, values):
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, tuple):  # an upload: (bytes, file name)
        return (io.BytesIO(value[0]), value[1])
    return value.format(**values)


def post_with_mistakes(app, client, auth, session, world, spec, *, statuses=(400, 409),
                       also_unchanged: Callable | None = None) -> None:
    """``spec``: (who posts, the records made first — a function returning {name: record} — the url, the form,
    [(field, a message expected beside it)], the table). The url and the form may name ``{today}``, ``{id}`` (a
    valid ID number), a region (``{comm_a1}``), a user (``{user_staff_a2}``) or a record made first (its id; a
    batch's public id). ``also_unchanged(session)``: more that must be as it was."""
    who, make, url, data, expected, model = spec
    standard(session, world)
    made = make(session, world) if make else {}
    session.commit()
    values = {"today": clock.today().isoformat(), "id": valid_id("19580312"), **world.regions,
              **{f"user_{name}": user_id for name, user_id in world.users.items()},
              **{key: obj.public_id if key == "batch" else obj.id for key, obj in made.items()}}
    auth.login(who)
    token = csrf_token(client, "/admin/")

    def state():
        return (count(session, model), count(session, AuditEvent), media_files(app),
                also_unchanged(session) if also_unchanged else None)

    before = state()
    form = {key: _fill(value, values) for key, value in data.items()}
    res = client.post(url.format(**values), data={"csrf_token": token, **form}, content_type="multipart/form-data")
    html = res.get_data(as_text=True)
    assert res.status_code in statuses, (res.status_code, html[:500])
    for field, message in expected:
        assert message in beside(html, field), (field, message, re.findall(r'class="error"[^>]*>[^<]*', html))
    assert state() == before
