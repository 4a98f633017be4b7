"""A phone number typed into the objection or report form never comes back in a public page: whenever the form is
shown again (a missing reason, the honeypot, the rate limit, another community chosen, the notice closed while
the resident wrote) the phone box is empty and a note beside it says to type it again (portal.forms.forget_numbers,
shared with the online application). The number used is one the suite-wide public-leak recorder watches for
(tests/plugins/public_leaks.py: FACTORY_SECRETS), so a whole-suite run checks these answers a second time."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from dibao.models import Objection, Region, Report, Stage
from tests.factories import make_case
from tests.feedback_helpers import form_fields, objection_data, open_entry, receipt_code
from tests.plugins.public_leaks import FACTORY_SECRETS

PHONE = "13812345678"
TYPED = "138 1234 5678"  # as a resident types it
NOTE = "为保护您的信息，这个号码没有保留在页面上，请重新填写。"
assert PHONE in FACTORY_SECRETS


def _phone_field(html: str) -> str:
    return html.split('id="field-phone"', 1)[1].split("</div>", 1)[0]


def _asks_again(html: str) -> None:
    """No trace of the number; the empty phone box with the note beside it (and read out with the box)."""
    assert PHONE not in html and TYPED not in html
    field = _phone_field(html)
    assert NOTE in field
    box = re.search(r"<input[^>]*\bname=\"phone\"[^>]*>", field).group()
    assert 'value=""' in box or "value=" not in box
    assert "phone-retype" in re.search(r'aria-describedby="([^"]*)"', box).group(1)


def _report(client, **overrides) -> dict:
    data = {**form_fields(client, "/reports/new"), "subject": "staff", "region": "100001001",
            "about": "甲一社区工作人员王某", "category": "other", "description": "办事态度很差，让我跑了三趟。",
            "name": "李四", "phone": TYPED, "website": ""}
    data.update(overrides)
    return data


def _count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def test_an_objection_with_a_problem_comes_back_without_the_phone(client, session, world):
    entry = open_entry(session, world)
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, category="", name="李四", phone=TYPED))
    html = res.get_data(as_text=True)
    assert res.status_code == 400 and "请选择反映的问题类型" in html
    assert 'value="李四"' in html and "他家儿子在城里开了一家饭店" in html  # the rest of what was typed stays
    _asks_again(html)
    assert _count(session, Objection) == 0

    # Typed again, it is sent and kept for the staff.
    assert client.post(f"/objections/new?entry={entry.public_id}",
                       data=objection_data(client, entry.public_id, name="李四", phone=TYPED)).status_code == 303
    code = receipt_code(client)
    session.rollback()
    saved = session.scalar(select(Objection).where(Objection.tracking_code == code))
    assert saved.submitter_phone == PHONE and saved.real_name


def test_a_wrong_phone_is_said_beside_the_empty_box(client, session, world):
    entry = open_entry(session, world)
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, name="李四", phone="1381234567"))
    html = res.get_data(as_text=True)
    assert res.status_code == 400 and "请填写正确的手机号码" in _phone_field(html)
    assert "1381234567" not in html and NOTE in _phone_field(html)
    assert _count(session, Objection) == 0


def test_the_honeypot_and_the_rate_limit_keep_no_phone(app, client, session, world):
    entry = open_entry(session, world)
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, name="李四", phone=TYPED,
                                          website="http://spam.example"))
    assert res.status_code == 400 and "请不要填写" in res.get_data(as_text=True)
    _asks_again(res.get_data(as_text=True))

    app.config["FEEDBACK_RATE_LIMIT"] = "1 per minute"
    assert client.post(f"/objections/new?entry={entry.public_id}",
                       data=objection_data(client, entry.public_id)).status_code == 303
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, name="李四", phone=TYPED))
    assert res.status_code == 429 and "提交太频繁" in res.get_data(as_text=True)
    _asks_again(res.get_data(as_text=True))
    assert _count(session, Objection) == 1


def test_an_objection_sent_after_the_closing_comes_back_as_a_report_without_the_phone(client, session, world,
                                                                                       clock):
    entry = open_entry(session, world)
    data = objection_data(client, entry.public_id, name="李四", phone=TYPED)
    clock.set(entry.batch.closes_at)
    res = client.post(f"/objections/new?entry={entry.public_id}", data=data)
    html = res.get_data(as_text=True)
    assert res.status_code == 410 and "您写的内容还在下面" in html and 'value="李四"' in html
    _asks_again(html)
    assert _count(session, Objection) == 0 and _count(session, Report) == 0


def test_a_report_with_a_problem_comes_back_without_the_phone(client, session, world):
    res = client.post("/reports/new", data=_report(client, about=""))
    html = res.get_data(as_text=True)
    assert res.status_code == 400 and "请写明被举报的工作人员或单位" in html
    assert 'value="李四"' in html and "让我跑了三趟" in html
    _asks_again(html)
    assert _count(session, Report) == 0


def test_choosing_another_community_without_javascript_keeps_no_phone(client, session, world):
    make_case(session, session.get(Region, world.regions["comm_a2"]), stage=Stage.active, head_name="孙小红")
    session.commit()
    res = client.post("/reports/new", data=_report(client, subject="recipient", region="100001002",
                                                   action="refresh"))
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and "孙*红" in html and "让我跑了三趟" in html
    _asks_again(html)
    assert _count(session, Report) == 0


def test_a_fields_check_does_not_send_the_phone_back(client, session, world):
    """The htmx check of the phone box answers with the box empty (feedback.js keeps what is in it), and no note:
    nothing was lost on the page."""
    entry = open_entry(session, world)
    for url, data in (("/objections/validate", objection_data(client, entry.public_id, name="李四", phone=TYPED)),
                      ("/reports/validate", _report(client))):
        html = client.post(url, data=data, headers={"HX-Request": "true", "HX-Trigger-Name": "phone"}
                           ).get_data(as_text=True)
        assert html.strip().startswith('<div class="field" id="field-phone"'), html
        assert PHONE not in html and TYPED not in html and NOTE not in html
    bad = client.post("/objections/validate", data=objection_data(client, entry.public_id, phone="12345"),
                      headers={"HX-Request": "true", "HX-Trigger-Name": "phone"}).get_data(as_text=True)
    assert "请填写正确的手机号码" in bad and "12345" not in bad


def test_a_fresh_form_has_no_note(client, session, world):
    entry = open_entry(session, world)
    for url in (f"/objections/new?entry={entry.public_id}", "/reports/new"):
        assert NOTE not in client.get(url).get_data(as_text=True)
    empty = client.post("/reports/new", data=_report(client, about="", name="", phone=""))
    assert empty.status_code == 400 and NOTE not in empty.get_data(as_text=True)  # nothing was typed there
