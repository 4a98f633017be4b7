"""A receipt's code on a shared computer: kept in the submitter's browser for half an hour, and forgotten at once
with the receipt's own button (portal/receipts.py)."""

from __future__ import annotations

import re

from tests.application_helpers import receipt_code as application_code
from tests.application_helpers import submit as submit_application
from tests.feedback_helpers import objection_data, open_entry, receipt_code

FORGET = "我已记下，清除本页"


def _objection(client, session, world) -> str:
    entry = open_entry(session, world)
    res = client.post(f"/objections/new?entry={entry.public_id}", data=objection_data(client, entry.public_id))
    assert res.status_code == 303
    return receipt_code(client)


def _forget_form_token(html: str) -> str:
    form = re.search(r'<form class="forget-receipt"[^>]*>(.*?)</form>', html, re.S)
    assert form and FORGET in form.group(1), html
    return re.search(r'name="csrf_token" value="([^"]+)"', form.group(1)).group(1)


def test_the_receipt_shows_the_code_for_half_an_hour_then_no_more(client, session, world, clock):
    code = _objection(client, session, world)
    clock.advance(minutes=29)
    assert receipt_code(client) == code
    clock.advance(minutes=2)
    page = client.get("/receipt")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and code not in html and "没有可显示的回执" in html
    clock.advance(minutes=-31)  # back within the half hour: the expired code was dropped, not merely hidden
    assert code not in client.get("/receipt").get_data(as_text=True)


def test_the_button_forgets_every_receipt_of_this_browser(app, client, session, world, clock):
    code = _objection(client, session, world)
    assert submit_application(client).status_code == 303
    applied = application_code(client)
    html = client.get("/receipt").get_data(as_text=True)
    res = client.post("/receipt/forget", data={"csrf_token": _forget_form_token(html)})
    assert res.status_code == 200
    # One rule for every answer meant for this visitor alone (portal.private.no_store): the receipts, the forms.
    assert res.headers["Cache-Control"] == "private, no-store"
    assert {client.get(path).headers["Cache-Control"] for path in ("/receipt", "/apply/receipt", "/apply")} == {
        "private, no-store"}
    assert "查询码已从这个浏览器清除" in res.get_data(as_text=True)
    for path, gone in (("/receipt", code), ("/apply/receipt", applied)):
        html = client.get(path).get_data(as_text=True)
        assert gone not in html and "没有可显示的回执" in html
    # The code still works where it is meant to: typed in on the tracking page.
    assert client.get(f"/track/{code}").status_code == 200


def test_forgetting_needs_the_forms_token(client, session, world):
    code = _objection(client, session, world)
    assert client.post("/receipt/forget", data={}).status_code == 400
    assert receipt_code(client) == code
