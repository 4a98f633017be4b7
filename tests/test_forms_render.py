"""Issue 9 item 7: forms render real attributes — a masked password, real file inputs, a date-time picker that
also takes a typed time — and no page of the whole suite prints an attribute as ``="None"``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Flask, render_template_string
from sqlalchemy import select

from admin.forms.accounts import LoginForm
from dibao.models import Level, NoticeBatch, Region
from tests.case_helpers import register, standard, user
from tests.conftest import csrf_token
from tests.factories import case_awaiting_notice
from tests.plugins import none_attributes


def _input(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no input {name}"
    return match.group()


def test_login_password_is_masked(client):
    html = client.get("/admin/login").get_data(as_text=True)
    assert 'type="password"' in _input(html, "password")
    assert 'autocomplete="current-password"' in _input(html, "password")
    assert 'autocomplete="username"' in _input(html, "username") and 'type="text"' in _input(html, "username")
    assert '="None"' not in html


def test_household_photo_and_case_document_are_file_inputs(client, auth, world, session):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    session.commit()
    auth.login("staff_a1")
    html = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert 'type="file"' in _input(html, "photo") and 'type="file"' in _input(html, "file")
    assert '="None"' not in html


def test_a_field_with_an_error_says_so_and_nothing_else(app):
    with app.test_request_context(method="POST", data={"username": ""}):
        form = LoginForm(meta={"csrf": False})
        form.validate()
        html = render_template_string('{% from "_forms.html" import field %}{{ field(f, autocomplete="username") }}',
                                      f=form.username)
    assert 'aria-invalid="true"' in html and 'aria-describedby="username-err"' in html
    assert '="None"' not in html
    with app.test_request_context():
        plain = render_template_string('{% from "_forms.html" import field %}{{ field(f) }}', f=LoginForm().password)
    assert "aria-invalid" not in plain and "autocomplete" not in plain and 'type="password"' in plain


def test_schedule_field_is_a_picker_that_also_takes_a_typed_time(client, auth, world, session, clock):
    region = session.get(Region, world.regions["comm_a1"])
    case = case_awaiting_notice(session, region, Level.town, head_name="孙一明")
    session.commit()
    auth.login("town_a")
    html = client.get("/admin/notices/new").get_data(as_text=True)
    assert 'type="datetime-local"' in _input(html, "opens_at")
    token = csrf_token(client, "/admin/notices/new")
    base = {"csrf_token": token, "title": "定时公示", "window_days": "7", "case_ids": str(case.id)}
    res = client.post("/admin/notices/preview", data={**base, "case_id": str(case.id), "opens_at": "2026-11-27 09:00"})
    assert res.status_code == 200, res.get_data(as_text=True)[:3000]
    res = client.post("/admin/notices/schedule", data={**base, "opens_at": "2026-11-27 09:00"})
    assert res.status_code == 302
    batch = session.scalar(select(NoticeBatch))
    assert batch.opens_at == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    res = client.post("/admin/notices/schedule", data={**base, "opens_at": "下周五早上"})
    assert res.status_code == 400 and "请按“2026-11-27 09:00”的格式填写" in res.get_data(as_text=True)


def test_the_recorder_would_catch_a_none_attribute():
    """The suite-wide check (tests/plugins/none_attributes.py, run over the whole record once the run is over) can
    fail: a page printing type="None" is recorded and reported."""
    probe = Flask("probe")
    probe.add_url_rule("/p", "p", lambda: '<input type="None" name="x">')
    with probe.test_client() as c:
        c.get("/p")
    try:
        assert "/p?" in none_attributes.FOUND['type="None"']
        assert any('type="None"' in problem and "/p?" in problem for problem in none_attributes.problems())
    finally:
        none_attributes.FOUND['type="None"'].discard("/p?")
        if not none_attributes.FOUND['type="None"']:
            del none_attributes.FOUND['type="None"']
