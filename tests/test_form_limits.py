"""The public forms take their length limits from the domain: a too-long field is refused with a message that
names it and says the number the domain allows (not WTForms' "字段长度不能超过 220 个字符"), and the page's
maxlength says the same number."""

from __future__ import annotations

import re

import pytest

from dibao import applications, feedback
from tests.application_helpers import application_data
from tests.feedback_helpers import form_fields, objection_data, open_entry


def _report(client, **overrides):
    data = {**form_fields(client, "/reports/new"), "subject": "staff", "region": "100001001",
            "about": "甲一社区工作人员王某", "category": "favouritism", "description": "办事时要求送礼，不送不给办。",
            "name": "", "phone": "", "website": ""}
    data.update(overrides)
    return client.post("/reports/new", data=data)


def _refused(res, label: str, limit: int) -> str:
    html = res.get_data(as_text=True)
    assert res.status_code == 400, html[:300]
    assert f"“{label}”最多 {limit} 个字" in html
    assert "字段长度" not in html and "个字符" not in html  # WTForms' own words, with the form's old numbers
    return html


def _maxlength(html: str, field_id: str) -> int:
    tag = re.search(rf'<(?:input|textarea)[^>]*\bid="{field_id}"[^>]*>', html).group()
    return int(re.search(r'maxlength="(\d+)"', tag).group(1))


def test_the_report_form_refuses_too_long_with_the_domains_number_and_the_fields_name(client, world):
    limit = feedback.MAX_ABOUT
    _refused(_report(client, about="王" * (limit + 1)), "被举报的人或单位", limit)
    _refused(_report(client, about="王" * (limit + 30)), "被举报的人或单位", limit)  # past the form's old 220 too
    assert _report(client, about="王" * limit).status_code == 303  # exactly the limit is taken
    _refused(_report(client, description="情" * (feedback.MAX_DESCRIPTION + 1)), "具体情况", feedback.MAX_DESCRIPTION)
    assert _report(client, description="情" * feedback.MAX_DESCRIPTION).status_code == 303
    _refused(_report(client, name="张" * (feedback.MAX_NAME + 1), phone="13700007777"), "您的姓名", feedback.MAX_NAME)

    page = client.get("/reports/new").get_data(as_text=True)
    assert _maxlength(page, "about") == feedback.MAX_ABOUT
    assert _maxlength(page, "description") == feedback.MAX_DESCRIPTION
    assert _maxlength(page, "name") == feedback.MAX_NAME


def test_the_inline_check_says_what_the_submit_says(client, world):
    token = form_fields(client, "/reports/new")["csrf_token"]
    res = client.post("/reports/validate", data={"csrf_token": token, "about": "王" * (feedback.MAX_ABOUT + 30)},
                      headers={"HX-Request": "true", "HX-Trigger-Name": "about"})
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and html.count(f"“被举报的人或单位”最多 {feedback.MAX_ABOUT} 个字") == 1


def test_the_objection_form_has_the_same_limits(client, session, world):
    entry = open_entry(session, world)
    url = f"/objections/new?entry={entry.public_id}"
    res = client.post(url, data=objection_data(client, entry.public_id,
                                               description="多" * (feedback.MAX_DESCRIPTION + 1)))
    _refused(res, "具体情况", feedback.MAX_DESCRIPTION)
    assert _maxlength(client.get(url).get_data(as_text=True), "description") == feedback.MAX_DESCRIPTION


@pytest.mark.parametrize(("field", "label", "limit"), [
    ("head_name", "申请人（户主）姓名", applications.MAX_NAME),
    ("address", "家庭住址", applications.MAX_ADDRESS),
    ("reason", "申请理由", applications.MAX_REASON),
])
def test_the_application_form_has_the_domains_limits(client, world, field, label, limit):
    res = client.post("/apply", data=application_data(client, **{field: "长" * (limit + 1)}))
    _refused(res, label, limit)
    assert _maxlength(client.get("/apply").get_data(as_text=True), field) == limit
