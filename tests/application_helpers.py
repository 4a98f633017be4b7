"""Helpers for the online application tests: the form's data, submitting it, staff sign-in."""

from __future__ import annotations

import re

from sqlalchemy import select

from dibao.models.application import Application
from tests.conftest import PASSWORD
from tests.feedback_helpers import jpeg

ID = "110101195003071235"  # a valid number (the public-leak scanner watches for it, tests/test_public_leaks.py)
PHONE = "13812345678"
MEMBER_ID = "110101200901011238"


def form_fields(client):
    html = client.get("/apply").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    key = re.search(r'id="submission_id" name="submission_id" type="hidden" value="([^"]+)"', html).group(1)
    return {"csrf_token": token, "submission_id": key}


def application_data(client, **overrides):
    data = {
        **form_fields(client), "by_proxy": "self", "region": "100001001", "head_name": "王秀兰",
        "head_id_number": ID, "head_phone": PHONE, "email": "", "address": "甲一社区幸福路 12 号 3 单元 201 室",
        "head_work_capacity": "partial", "reason": "老伴去年去世，我一个人靠种菜生活，每月收入不到三百元。",
        "check_consent": "y", "website": "",
        "members-0-name": "王小军", "members-0-relation": "子女", "members-0-age": "17",
        "members-0-id_number": MEMBER_ID, "members-0-work_capacity": "full",
    }
    for i in range(1, 4):
        data.update({f"members-{i}-name": "", f"members-{i}-relation": "", f"members-{i}-age": "",
                     f"members-{i}-id_number": "", f"members-{i}-work_capacity": "full"})
    data.update(overrides)
    return data


def submit(client, files=None, **overrides):
    import io

    data = application_data(client, **overrides)
    photos = files if files is not None else [jpeg()]
    data["materials"] = [(io.BytesIO(p), f"photo{i}.jpg") for i, p in enumerate(photos)]
    return client.post("/apply", data=data, content_type="multipart/form-data")


def receipt_code(client) -> str:
    html = client.get("/apply/receipt").get_data(as_text=True)
    match = re.search(r'data-tracking-code="([A-Z0-9]+)"', html)
    assert match, html
    return match.group(1)


def only(session, model=Application):
    session.rollback()
    rows = list(session.scalars(select(model)))
    assert len(rows) == 1
    return rows[0]


def login(client, username):
    from tests.conftest import csrf_token

    page = client.get("/admin/")  # ends an idle session, if any
    if page.status_code == 200:  # someone is signed in: sign out first
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        client.post("/admin/logout", data={"csrf_token": token})
    token = csrf_token(client)
    res = client.post("/admin/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert res.status_code == 302


def staff_token(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
