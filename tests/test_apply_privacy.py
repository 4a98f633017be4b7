"""The public answer never tells about someone else (hostile audit).

* /apply: whether an ID number already has a pending online application, an open case or a place on the roster
  changes nothing in what the public is answered — a second application with the same number is filed like any
  other (the first to type a neighbour's number can no longer block the neighbour's own application). Staff see
  the duplicates in their inbox and on the application, accept one and return the others; accepting a second
  one is refused with a message that says why and what to do.
* /api/v1: every answer says ``X-Robots-Tag: noindex`` itself — the app's 200s and 304s and the public cache's
  fast path alike.
"""

from __future__ import annotations

import json
import re

from sqlalchemy import select
from stdnum.cn import ric

from dibao.feedback import format_code
from dibao.models import Case, Region, Stage
from dibao.models.application import Application, ApplicationStatus
from tests.application_helpers import ID, login, receipt_code, staff_token, submit
from tests.factories import make_case
from tests.notice_helpers import publish_town_batch


def valid_id(prefix: str) -> str:
    """A valid ID number from its first 17 digits."""
    return prefix + ric.calc_check_digit(prefix + "0")


OTHER_ID = valid_id("11010119620405123")  # nobody's, anywhere


def _normalised(text: str, code: str | None = None) -> str:
    """A page without what is one visitor's own: their tracking code (and its QR code), form tokens."""
    if code:
        text = text.replace(format_code(code), "CODE").replace(code, "CODE")
    text = re.sub(r'<div class="qr"[^>]*>.*?</div>', "QR", text, flags=re.S)
    text = re.sub(r'(name="(?:csrf_token|submission_id)"[^>]*value=")[^"]+"', r'\1TOKEN"', text)
    return re.sub(r'(value=")[^"]+("[^>]*name="(?:csrf_token|submission_id)")', r"\1TOKEN\2", text)


def _answer(app, id_number: str, **fields):
    """A stranger's submit from their own browser: the POST's answer and, when filed, the receipt page."""
    client = app.test_client()
    res = submit(client, head_id_number=id_number, **fields)
    # (minus the session cookie, and the rate limit's count and clock of this test's clients, who share one
    # address)
    headers = {k: v for k, v in res.headers.items() if k not in (
        "Set-Cookie", "Date", "Content-Length", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After")}
    post = (res.status_code, headers, res.get_data(as_text=True))
    if res.status_code != 303:
        return post, None, None
    code = receipt_code(client)
    receipt = client.get("/apply/receipt")
    track = client.get(f"/track/{code}")
    return (post, (receipt.status_code, _normalised(receipt.get_data(as_text=True), code)),
            (track.status_code, _normalised(track.get_data(as_text=True), code)))


def _all_applications(session):
    session.rollback()
    return list(session.scalars(select(Application).order_by(Application.id)))


def test_a_second_application_with_the_same_id_number_is_answered_like_the_first(app, session, world):
    first = _answer(app, ID)
    second = _answer(app, ID, head_name="李四", head_phone="13900001111",
                     reason="这是另一个人用同一个身份证号提交的申请，内容都不一样。")
    assert first[0][0] == second[0][0] == 303
    assert first == second  # status, headers, body; receipt and tracking page (minus each one's code)
    for part in (second[0][2], second[1][1], second[2][1]):
        assert "已经有一份" not in part and "重复" not in part
    filed = _all_applications(session)
    assert [(a.head_name, a.head_id_number, a.status) for a in filed] == [
        ("王秀兰", ID, ApplicationStatus.submitted), ("李四", ID, ApplicationStatus.submitted)]
    assert filed[0].tracking_code != filed[1].tracking_code


def test_an_id_number_on_the_roster_or_in_an_open_case_gets_the_answer_of_any_other(app, session, world):
    region = session.get(Region, world.regions["comm_a1"])
    on_roster = valid_id("11010119550101223")
    in_case = valid_id("11010119560202334")
    make_case(session, region, stage=Stage.active, id_number=on_roster)
    make_case(session, region, stage=Stage.investigating, id_number=in_case)
    session.commit()
    fresh = _answer(app, OTHER_ID)
    assert fresh[0][0] == 303
    for id_number in (on_roster, in_case):
        assert _answer(app, id_number) == fresh, id_number
    # A form with a mistake elsewhere: the same page of problems, whoever's number it carries.
    refused = {n: _answer(app, n, head_phone="123")[0] for n in (OTHER_ID, on_roster, in_case)}
    assert refused[OTHER_ID][0] == 400
    assert _normalised(refused[on_roster][2]) == _normalised(refused[in_case][2]) == _normalised(refused[OTHER_ID][2])


def test_staff_see_the_duplicates_accept_one_and_are_told_why_not_the_other(app, client, session, world):
    _answer(app, ID)
    _answer(app, ID, head_name="李四", head_phone="13900001111")
    _answer(app, ID, head_name="张三", region="100002001")  # in another town: not staff_a1's to open
    first, second, elsewhere = _all_applications(session)

    login(client, "staff_a1")
    inbox = client.get("/admin/applications/").get_data(as_text=True)
    rows = {a.tracking_code: re.search(rf"<tr[^>]*>\s*<td><a [^>]*><code>{a.tracking_code}</code>.*?</tr>",
                                       inbox, re.S) for a in (first, second)}
    for row in rows.values():
        assert row and "data-duplicate" in row.group(0) and "同一身份证号另有 2 份申请待受理" in row.group(0)
    assert elsewhere.tracking_code not in inbox

    page = client.get(f"/admin/applications/{first.id}").get_data(as_text=True)
    panel = page.split("data-duplicates", 1)[1].split("</section>", 1)[0]
    assert second.tracking_code in panel and "李四" in panel and "乙街道的一份申请（不在您的辖区）" in panel
    assert elsewhere.tracking_code not in page and "张三" not in page

    token = staff_token(client, f"/admin/applications/{first.id}")
    res = client.post(f"/admin/applications/{first.id}/accept", data={"csrf_token": token})
    assert res.status_code == 303
    session.rollback()
    case = session.scalar(select(Case))

    # The other one now: marked in the inbox and on its page before anyone clicks, refused with the reason.
    inbox = client.get("/admin/applications/").get_data(as_text=True)
    row = re.search(rf"<tr[^>]*>\s*<td><a [^>]*><code>{second.tracking_code}</code>.*?</tr>", inbox, re.S).group(0)
    assert "已在在办或在保的家庭中" in row and "另有 1 份" in row
    page = client.get(f"/admin/applications/{second.id}").get_data(as_text=True)
    assert case.number in page.split("data-duplicates", 1)[1].split("</section>", 1)[0]
    res = client.post(f"/admin/applications/{second.id}/accept", data={"csrf_token": token})
    html = res.get_data(as_text=True)
    assert res.status_code == 409
    assert f"李四：该身份证号已有在办或在保的案件（{case.number}），不能重复登记。" in html
    assert "同一身份证号的另一份网上申请已经受理，这一份不能再受理。请核实后退回，并写明原因。" in html
    assert session.scalar(select(Application.status).where(Application.id == second.id)) == "submitted"

    # … and returned with a reason, through the return form.
    res = client.post(f"/admin/applications/{second.id}/return",
                      data={"csrf_token": token, "other": "请申请人本人带身份证到社区核实身份"})
    assert res.status_code == 303
    session.rollback()
    assert session.get(Application, second.id).status == ApplicationStatus.returned
    assert [c.id for c in session.scalars(select(Case))] == [case.id]


# --- the API: noindex on every answer ------------------------------------------------------------------------

def test_every_api_answer_says_noindex_from_the_app_and_from_the_fast_path(app, session, world):
    batch, _ = publish_town_batch(session, 1, head_name="王小明")
    make_case(session, session.get(Region, world.regions["comm_a1"]), stage=Stage.active, head_name="赵大山",
              id_number=valid_id("11010119580303445"))
    session.commit()
    store = app.extensions["dibao.cache"]
    client = app.test_client(use_cookies=False)  # a crawler: no cookie, so the fast path may answer
    noindex = "noindex, nofollow"
    for url in ("/api/v1/notices", "/api/v1/notices?region=100001001", "/api/v1/roster",
                "/api/v1/roster?region=100001", f"/api/v1/notices/{batch.entries[0].public_id}", "/api/v1/stats",
                "/api/v1/funds", "/api/v1/openapi.json"):
        res = client.get(url)
        assert res.status_code == 200 and res.headers.get("X-Robots-Tag") == noindex, url
        etag = res.headers["ETag"]
        for _ in range(2):  # the app's 304, then (for the cached listings) the fast path's
            again = client.get(url, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.headers.get("X-Robots-Tag") == noindex, url
        assert client.get(url).headers.get("X-Robots-Tag") == noindex, url  # a cached body
    for url in ("/api/v1/notices", "/api/v1/roster?region=100001"):  # the fast path did answer those
        etag = client.get(url).headers["ETag"]
        before = store.stats["fast"]
        res = client.get(url, headers={"If-None-Match": etag})
        body = client.get(url)
        assert store.stats["fast"] == before + 2, url
        assert res.headers["X-Robots-Tag"] == body.headers["X-Robots-Tag"] == noindex
        said = json.dumps(body.get_json(), ensure_ascii=False)
        assert "王*明" in said or "赵*山" in said  # (answers that carry people)
    for url in ("/api/v1/notices?region=nope", "/api/v1/notices/unknown"):  # errors too
        res = client.get(url)
        assert res.status_code == 404 and res.headers.get("X-Robots-Tag") == noindex, url
