"""Issue 5: objections and reports, from a scanned QR code to a published answer and the case moved."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from dibao import feedback, notices, qr
from dibao.models import AuditEvent, FeedbackStatus, Level, Objection, Outcome, Region, Report, Stage
from dibao.models.feedback import Evidence
from tests.conftest import Auth, csrf_token
from tests.factories import case_awaiting_notice, make_case
from tests.feedback_helpers import form_fields, jpeg, objection_data, open_entry, receipt_code

# --- arranging ---------------------------------------------------------------------------------------


# --- the whole loop ----------------------------------------------------------------------------------


def test_whole_loop_from_qr_to_published_answer_and_case_sent_back(app, client, session, world, auth, clock):
    entry = open_entry(session, world)
    case_id = entry.case_id

    # The entry's QR code carries a short URL that lands on its objection form.
    target = qr.entry_target(app.config["PUBLIC_URL"], entry.public_id)
    assert target == f"HTTP://DIBAO.TEST/Q/E{entry.public_id.upper()}"
    path = "/" + target.split("/", 3)[3]
    res = client.get(path)
    assert res.status_code == 302 and res.headers["Location"] == f"/objections/new?entry={entry.public_id}"
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "对公示提出异议" in page and "王*明" in page and "王小明" not in page  # the web channel masks the name

    # A real-name objection with a photo: POST, then redirect to the receipt (the code is not in the URL).
    data = objection_data(client, entry.public_id, name="李四", phone="13900001111")
    data["photos"] = [(io.BytesIO(jpeg()), "evidence.jpg")]
    res = client.post(f"/objections/new?entry={entry.public_id}", data=data, content_type="multipart/form-data")
    assert res.status_code == 303 and res.headers["Location"] == "/receipt"
    code = receipt_code(client)
    assert re.fullmatch(r"[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{10}", code)
    receipt = client.get("/receipt")
    assert receipt.headers["Cache-Control"] == "private, no-store"
    assert "<svg" in receipt.get_data(as_text=True)  # the code as a QR code too

    objection = session.scalar(select(Objection).where(Objection.tracking_code == code))
    assert objection.real_name and objection.submitter_name == "李四"
    assert objection.deadline == date(2026, 3, 25)  # 5 working days after Wed 18 March
    assert session.scalar(select(func.count()).select_from(Evidence)) == 1

    # While it is open it holds the case: closing the window does not move it on.
    clock.advance(days=8)
    from dibao import workflow

    assert workflow.notice_closed(session, objection.case, Level.community, entry.batch.public_id) is False
    session.rollback()

    # Tracking: status, no private data.
    page = client.get(f"/track/{code}").get_data(as_text=True)
    assert "已受理" in page and "李四" not in page and "13900001111" not in page and "饭店" not in page

    # Staff: the community's staff sees it in the inbox, records the check and decides.
    auth.login("staff_a1")
    inbox = client.get("/admin/feedback/").get_data(as_text=True)
    assert code in inbox and "已超期" in inbox  # 8 days later, past its 5-working-day deadline
    detail_url = f"/admin/feedback/objection/{objection.id}"
    detail = client.get(detail_url).get_data(as_text=True)
    assert "李四" in detail and "13900001111" in detail and "实名，须告知核查结果" in detail
    token = csrf_token(client, detail_url)
    res = client.post(detail_url + "/decide", data={"csrf_token": token, "notes": "入户核实：确有饭店经营收入。",
                                                     "outcome": "upheld",
                                                     "public_answer": "经入户核查，该户有经营收入未申报，异议成立，已退回重新调查。"})
    assert res.status_code == 303

    session.rollback()  # a new snapshot (SQLite WAL keeps the old one while a transaction is open)
    objection = session.get(Objection, objection.id)
    assert objection.status == FeedbackStatus.decided and objection.outcome == Outcome.upheld
    case = objection.case
    assert case.stage == Stage.investigating  # upheld: back to investigation, must be noticed again
    assert all(op.superseded for op in case.opinions)

    page = client.get(f"/track/{code}").get_data(as_text=True)
    assert "异议成立" in page and "经入户核查，该户有经营收入未申报" in page and "李四" not in page

    # The real-name submitter must be told; staff record it.
    assert "待告知" in client.get("/admin/feedback/?state=notify").get_data(as_text=True)
    assert client.post(detail_url + "/notified", data={"csrf_token": token, "how": "电话告知本人"}).status_code == 303
    session.rollback()
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == code)).all()
    assert actions == ["objection_submitted", "objection_check_recorded", "objection_decided",
                       "objection_submitter_notified"]
    moved = session.scalar(select(AuditEvent).where(AuditEvent.action == "sent_back_by_objection"))
    assert moved.object_id == str(case_id)


def test_not_upheld_after_the_window_lets_the_case_continue(client, session, world, auth, clock):
    entry = open_entry(session, world)
    client.post(f"/objections/new?entry={entry.public_id}", data=objection_data(client, entry.public_id))
    code = receipt_code(client)
    clock.advance(days=8)  # the window closed while the objection held the case
    objection = session.scalar(select(Objection).where(Objection.tracking_code == code))
    auth.login("staff_a1")
    url = f"/admin/feedback/objection/{objection.id}"
    token = csrf_token(client, url)
    res = client.post(url + "/decide", data={"csrf_token": token, "outcome": "not_upheld",
                                             "notes": "社区专干张三入户核实，走访三户邻居。",
                                             "public_answer": "经核查，该户收入情况属实，异议不成立。"})
    assert res.status_code == 303
    assert "乡镇审核" in client.get(url).get_data(as_text=True)  # the flash names the new stage
    session.rollback()  # a new snapshot (SQLite WAL keeps the old one while a transaction is open)
    assert session.get(Objection, objection.id).case.stage == Stage.town_review
    assert "不成立" in client.get(f"/track/{code}").get_data(as_text=True)


def test_not_upheld_during_the_window_leaves_the_case_in_notice(client, session, world, auth):
    entry = open_entry(session, world)
    client.post(f"/objections/new?entry={entry.public_id}", data=objection_data(client, entry.public_id))
    objection = session.scalar(select(Objection))
    auth.login("staff_a1")
    url = f"/admin/feedback/objection/{objection.id}"
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "not_upheld",
                                             "notes": "社区专干张三入户核实，走访三户邻居。",
                                             "public_answer": "经核查，异议不成立。"})
    assert res.status_code == 303
    session.rollback()  # a new snapshot (SQLite WAL keeps the old one while a transaction is open)
    assert session.get(Objection, objection.id).status == FeedbackStatus.decided
    assert session.get(Objection, objection.id).case.stage == Stage.community_notice


# --- windows -----------------------------------------------------------------------------------------


def test_closed_window_refuses_the_objection_and_offers_a_report(client, session, world, clock):
    entry = open_entry(session, world)
    data = objection_data(client, entry.public_id)
    clock.set(entry.batch.closes_at)  # the closing second: closed
    res = client.get(f"/objections/new?entry={entry.public_id}")
    page = res.get_data(as_text=True)
    assert res.status_code == 410 and "公示期已于" in page and 'name="description"' not in page
    assert 'href="/reports/new"' in page and "王*明" not in page  # how to report; nothing of the household
    res = client.post(f"/objections/new?entry={entry.public_id}", data=data)
    assert res.status_code == 410
    assert "公示期已于" in res.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Objection)) == 0


def test_a_second_before_closing_is_still_open(client, session, world, clock):
    entry = open_entry(session, world)
    data = objection_data(client, entry.public_id)
    clock.set(entry.batch.closes_at - timedelta(seconds=1))
    assert client.post(f"/objections/new?entry={entry.public_id}", data=data).status_code == 303


def test_unknown_or_scheduled_entry_is_not_found(client, session, world, clock):
    assert client.get("/objections/new?entry=nosuchentry").status_code == 404
    region = session.get(Region, world.regions["comm_a1"])
    case = case_awaiting_notice(session, region, Level.community)
    batch = notices.publish_batch(session, None, level=Level.community, region=region, cases=[case],
                                  title="预定公示", opens_at=clock.now() + timedelta(days=1))
    session.commit()
    assert client.get(f"/objections/new?entry={batch.entries[0].public_id}").status_code == 404


# --- abuse -------------------------------------------------------------------------------------------


def test_double_submit_stores_one_objection(client, session, world):
    entry = open_entry(session, world)
    data = objection_data(client, entry.public_id)
    first = client.post(f"/objections/new?entry={entry.public_id}", data=dict(data))
    code = receipt_code(client)
    second = client.post(f"/objections/new?entry={entry.public_id}", data=dict(data))
    assert first.status_code == second.status_code == 303
    assert receipt_code(client) == code
    assert session.scalar(select(func.count()).select_from(Objection)) == 1


def test_rate_limit_keeps_what_was_typed(app, client, session, world):
    app.config["FEEDBACK_RATE_LIMIT"] = "3 per minute"
    entry = open_entry(session, world)
    for _ in range(3):
        assert client.post(f"/objections/new?entry={entry.public_id}",
                           data=objection_data(client, entry.public_id)).status_code == 303
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, description="第四次：他家有两辆车。"))
    html = res.get_data(as_text=True)
    assert res.status_code == 429
    assert "提交太频繁" in html and "第四次：他家有两辆车。" in html
    assert session.scalar(select(func.count()).select_from(Objection)) == 3


def test_honeypot_refuses_without_saving(client, session, world):
    entry = open_entry(session, world)
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, website="http://spam.example"))
    assert res.status_code == 400 and "请不要填写" in res.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Objection)) == 0


def test_missing_fields_keep_what_was_typed(client, session, world):
    entry = open_entry(session, world)
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, category="", name="张三", phone=""))
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "请选择反映的问题类型" in html and "请同时留下姓名和电话" in html
    assert "他家儿子在城里开了一家饭店" in html and 'value="张三"' in html
    assert session.scalar(select(func.count()).select_from(Objection)) == 0


def test_inline_validation_returns_the_field_fragment(client, session, world):
    entry = open_entry(session, world)
    data = objection_data(client, entry.public_id, phone="12345")
    res = client.post("/objections/validate", data=data,
                      headers={"HX-Request": "true", "HX-Trigger-Name": "phone"})
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and html.strip().startswith('<div class="field has-error" id="field-phone"')
    assert "请填写正确的手机号码" in html and "<html" not in html
    ok = client.post("/objections/validate", data=objection_data(client, entry.public_id),
                     headers={"HX-Request": "true", "HX-Trigger-Name": "description"}).get_data(as_text=True)
    assert 'class="field" id="field-description"' in ok and "error" not in ok


# --- evidence ----------------------------------------------------------------------------------------


def _media_files(app):
    from pathlib import Path

    root = Path(app.config["MEDIA_DIR"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _bomb() -> bytes:
    """A 20 kB PNG that declares a 100 000 × 100 000 pixel canvas of zeros (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    width = height = 100_000
    row = b"\x00" * (1 + width // 8)  # filter byte + one row of 1-bit pixels
    idat = zlib.compress(row * 2000, 9)  # the start of the image data; a decoder would inflate ~1.25 GB
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("payload, status, message", [
    (b"\xff\xd8" + b"0" * (feedback.MAX_PHOTO_BYTES + 10), 413, "太大"),
    (b"%PDF-1.4 this is not a photo", 400, "无法识别这个文件"),
    ("bomb", 400, "图片尺寸过大"),
], ids=["too-large", "not-an-image", "decompression-bomb"])
def test_bad_evidence_is_refused_and_nothing_saved(app, client, session, world, payload, status, message):
    entry = open_entry(session, world)
    data = objection_data(client, entry.public_id)
    data["photos"] = [(io.BytesIO(jpeg()), "ok.jpg"),
                      (io.BytesIO(_bomb() if payload == "bomb" else payload), "second.jpg")]
    res = client.post(f"/objections/new?entry={entry.public_id}", data=data, content_type="multipart/form-data")
    html = res.get_data(as_text=True)
    assert res.status_code == status
    assert message in html and "请重新选择照片" in html and "他家儿子在城里开了一家饭店" in html
    assert session.scalar(select(func.count()).select_from(Objection)) == 0
    assert session.scalar(select(func.count()).select_from(Evidence)) == 0
    assert _media_files(app) == []  # not even the good first photo


def test_more_than_three_photos_refused(client, session, world):
    entry = open_entry(session, world)
    data = objection_data(client, entry.public_id)
    data["photos"] = [(io.BytesIO(jpeg()), f"p{i}.jpg") for i in range(4)]
    res = client.post(f"/objections/new?entry={entry.public_id}", data=data, content_type="multipart/form-data")
    assert res.status_code == 400 and "最多上传 3 张照片" in res.get_data(as_text=True)


# --- escaping ----------------------------------------------------------------------------------------

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_payloads_are_escaped_on_staff_and_tracking_pages(client, session, world, auth):
    entry = open_entry(session, world)
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, description="描述" + XSS, name="名" + XSS[:40],
                                          phone="13900001111"))
    assert res.status_code == 303
    code = receipt_code(client)
    # A payload in the phone is refused, and shown escaped in the form that comes back.
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, name="某人", phone=XSS))
    assert res.status_code == 400 and "<script>" not in res.get_data(as_text=True)
    # A payload in the category is refused.
    res = client.post(f"/objections/new?entry={entry.public_id}",
                      data=objection_data(client, entry.public_id, category=XSS))
    assert res.status_code == 400 and "<script>" not in res.get_data(as_text=True)

    objection = session.scalar(select(Objection).where(Objection.tracking_code == code))
    auth.login("staff_a1")
    url = f"/admin/feedback/objection/{objection.id}"
    token = csrf_token(client, url)
    client.post(url + "/decide", data={"csrf_token": token, "outcome": "check", "notes": "核查" + XSS})
    client.post(url + "/decide", data={"csrf_token": token, "outcome": "not_upheld", "public_answer": "答复" + XSS})
    client.post(url + "/notified", data={"csrf_token": token, "how": "告知" + XSS})

    report_data = {**form_fields(client, "/reports/new"), "subject": "staff", "region": "100001001",
                   "about": "对象" + XSS[:150], "category": "favouritism", "description": "举报" + XSS,
                   "name": "", "phone": "", "website": ""}
    assert client.post("/reports/new", data=report_data).status_code == 303
    session.rollback()
    report = session.scalar(select(Report))

    town = client.application.test_client()  # a report about a community's staff is handled by its town
    Auth(town).login("town_a")
    pages = [client.get(url), client.get("/admin/feedback/?state=all"),
             town.get(f"/admin/feedback/report/{report.id}"), client.get(f"/track/{code}"),
             client.get(f"/track/{report.tracking_code}")]
    for page in pages:
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "<script>alert" not in html and "<img src=x" not in html
    staff_html = pages[0].get_data(as_text=True)
    assert "描述&lt;script&gt;" in staff_html and "核查&lt;script&gt;" in staff_html and "名&lt;script&gt;" in staff_html
    assert "对象&lt;script&gt;" in pages[2].get_data(as_text=True)
    assert "答复&lt;script&gt;" in pages[3].get_data(as_text=True)


# --- reports -----------------------------------------------------------------------------------------


def test_report_about_a_recipient_on_the_roster(client, session, world, auth):
    region = session.get(Region, world.regions["comm_a2"])
    case = make_case(session, region, stage=Stage.active, head_name="赵大海")
    session.commit()
    page = client.get("/reports/new?region=100001002").get_data(as_text=True)
    assert "赵*海" in page and "赵大海" not in page
    data = {**form_fields(client, "/reports/new?region=100001002"), "subject": "recipient", "region": "100001002",
            "case": _option_value(page, "赵*海"), "about": "", "category": "property",
            "description": "他家在县城有两套房。", "name": "", "phone": "", "website": ""}
    assert client.post("/reports/new", data=data).status_code == 303
    code = receipt_code(client)
    report = session.scalar(select(Report).where(Report.tracking_code == code))
    assert report.case_id == case.id and not report.real_name and report.region_id == region.id

    # The other town's staff does not see it; the town reviewer does and decides.
    auth.login("staff_b1")
    assert code not in client.get("/admin/feedback/").get_data(as_text=True)
    assert client.get(f"/admin/feedback/report/{report.id}").status_code == 404
    auth.logout()
    auth.login("staff_a2")  # community staff may record the check but not decide a report
    url = f"/admin/feedback/report/{report.id}"
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "upheld",
                                             "public_answer": "经核查属实，已启动复核。"})
    assert res.status_code == 403
    auth.logout()
    auth.login("town_a")
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "upheld",
                                             "public_answer": "经核查属实，已启动复核。"})
    assert res.status_code == 303
    assert "举报属实" in client.get(f"/track/{code}").get_data(as_text=True)


def _option_value(html: str, label: str) -> str:
    """The value of the report form's household option whose label starts with ``label``."""
    match = re.search(r'<option value="([^"]*)">' + re.escape(label), html)
    assert match, html
    return match.group(1)


def test_report_form_options_carry_no_case_number_and_still_reach_the_case(client, session, world):
    """The roster and the API never publish case numbers, so neither does the report form's list: each household's
    option carries an opaque value, which the submit resolves against the community's roster."""
    here = session.get(Region, world.regions["comm_a2"])
    households = [make_case(session, here, stage=Stage.active, head_name=name, id_number=f"11010119500307{n:04d}")
                  for n, name in enumerate(["赵大海", "钱小梅", "孙建国"])]
    elsewhere = make_case(session, session.get(Region, world.regions["comm_a1"]), stage=Stage.active,
                          head_name="周光明", id_number="110101195003079999")
    session.commit()
    pages = [client.get("/reports/new?region=100001002").get_data(as_text=True),
             client.get("/reports/roster?region=100001002", headers={"HX-Request": "true"}).get_data(as_text=True)]
    for page in pages:
        assert "钱*梅" in page  # (the list is there, so the check below can fail)
        values = re.findall(r'<option value="([^"]*)"', page)
        for case in households:
            assert case.number not in page and f'value="{case.id}"' not in page
        assert not any(v.startswith(here.code) or "-D" in v for v in values), values
    value = _option_value(pages[0], "钱*梅")
    assert value == _option_value(pages[1], "钱*梅")

    def send(case_value, description="他家在县城有两套房。"):
        data = {**form_fields(client, "/reports/new?region=100001002"), "subject": "recipient", "region": "100001002",
                "case": case_value, "about": "", "category": "property", "description": description,
                "name": "", "phone": "", "website": ""}
        return client.post("/reports/new", data=data)

    assert send(value).status_code == 303
    session.rollback()  # a new snapshot (SQLite WAL keeps the old one while a transaction is open)
    report = session.scalar(select(Report).where(Report.tracking_code == receipt_code(client)))
    assert report.case_id == households[1].id and report.region_id == here.id
    # Only a value the form offered names a household: not a case number, nor another community's value.
    other_value = _option_value(client.get("/reports/new?region=100001001").get_data(as_text=True), "周*明")
    for bad in (households[0].number, str(households[0].id), other_value,
                value[:-1] + ("1" if value.endswith("0") else "0")):
        res = send(bad, description=f"试一试 {bad}")
        assert res.status_code == 400 and "不在该社区的低保名单上" in res.get_data(as_text=True), bad
    assert session.scalar(select(func.count()).select_from(Report)) == 1
    assert elsewhere.number not in other_value


def test_report_from_an_open_entry_and_not_from_a_closed_one(client, session, world, clock):
    entry = open_entry(session, world)
    page = client.get(f"/reports/new?entry={entry.public_id}").get_data(as_text=True)
    assert "我要举报" in page and entry.batch.title in page
    data = {**form_fields(client, f"/reports/new?entry={entry.public_id}"), "entry": entry.public_id,
            "subject": "recipient", "category": "household", "description": "家里实际住着五口人。",
            "name": "", "phone": "", "website": ""}
    clock.advance(days=10)
    res = client.get(f"/reports/new?entry={entry.public_id}")
    assert res.status_code == 410 and "王*明" not in res.get_data(as_text=True)
    assert client.post("/reports/new", data=data).status_code == 410
    assert session.scalar(select(func.count()).select_from(Report)) == 0
    clock.set(clock.t0)
    assert client.post("/reports/new", data=data).status_code == 303
    session.rollback()  # a new snapshot (SQLite WAL keeps the old one while a transaction is open)
    report = session.scalar(select(Report))
    assert report.entry_id == entry.id and report.case_id == entry.case_id


def test_report_needs_someone_to_report(client, world):
    data = {**form_fields(client, "/reports/new"), "subject": "staff", "region": "100001001", "about": "",
            "category": "other", "description": "办事态度很差，让我跑了三趟。", "name": "", "phone": "", "website": ""}
    res = client.post("/reports/new", data=data)
    html = res.get_data(as_text=True)
    assert res.status_code == 400 and "请写明被举报的工作人员或单位" in html and "让我跑了三趟" in html


def test_report_region_refresh_without_javascript(client, session, world):
    region = session.get(Region, world.regions["comm_a2"])
    make_case(session, region, stage=Stage.active, head_name="孙小红")
    session.commit()
    data = {**form_fields(client, "/reports/new"), "subject": "recipient", "region": "100001002",
            "description": "先写的内容", "action": "refresh", "category": "", "name": "", "phone": "", "website": ""}
    res = client.post("/reports/new", data=data)
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and "孙*红" in html and "先写的内容" in html
    assert session.scalar(select(func.count()).select_from(Report)) == 0


# --- tracking and short links ------------------------------------------------------------------------


def test_tracking_form_normalises_and_refuses_bad_codes(client, session, world):
    entry = open_entry(session, world)
    client.post(f"/objections/new?entry={entry.public_id}", data=objection_data(client, entry.public_id))
    code = receipt_code(client)
    typed = f" {code[:5].lower()}-{code[5:]} "
    res = client.get("/track", query_string={"code": typed})
    assert res.status_code == 302 and res.headers["Location"] == f"/track/{code}"
    assert client.get("/track/ABCDEFGHJK").status_code == 404
    res = client.get("/track", query_string={"code": "0O1I"})
    assert res.status_code == 404 and "查询码不正确" in res.get_data(as_text=True)


def test_receipt_is_only_in_the_submitters_browser(app, client, session, world):
    entry = open_entry(session, world)
    client.post(f"/objections/new?entry={entry.public_id}", data=objection_data(client, entry.public_id))
    code = receipt_code(client)
    other = app.test_client()
    assert code not in other.get("/receipt").get_data(as_text=True)


def test_short_links(app, client, session, world):
    assert qr.board_target("http://dibao.test", "100001001") == "HTTP://DIBAO.TEST/Q/B100001001"
    assert qr.entry_target("https://x.gov.cn/dibao/", "abc") == "https://x.gov.cn/dibao/q/EABC"
    assert client.get("/Q/B100001001").headers["Location"] == "/objections/new?region=100001001"
    assert client.get("/q/tabcdefghjk").headers["Location"] == "/track/ABCDEFGHJK"
    assert client.get("/q/x1").status_code == 404
    entry = open_entry(session, world)
    page = client.get("/objections/new?region=100001001").get_data(as_text=True)
    assert f"/objections/new?entry={entry.public_id}" in page and "王*明" in page


def test_deadline_counts_working_days_across_a_holiday():
    # 2026-04-03 (Fri) before the Qingming holiday (4–6 April): 3 working days later is Thu 9 April.
    assert feedback.add_working_days(date(2026, 4, 3), 3) == date(2026, 4, 9)


def test_out_of_scope_staff_cannot_see_objections(client, session, world, auth):
    entry = open_entry(session, world)
    client.post(f"/objections/new?entry={entry.public_id}", data=objection_data(client, entry.public_id))
    objection = session.scalar(select(Objection))
    auth.login("staff_b1")
    assert client.get(f"/admin/feedback/objection/{objection.id}").status_code == 404
    assert objection.tracking_code not in client.get("/admin/feedback/").get_data(as_text=True)
