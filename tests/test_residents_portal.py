"""Issue 14, item 7: what residents stumbled on — "我要提异议" without a dead end, one way to say when a notice
closes (and no countdown on paper), no jargon or raw URLs, no broken images on the print board, the error
summary, and the browser's language on the public side."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from dibao import media
from dibao.models import NoticeEntry
from tests.feedback_helpers import jpeg
from tests.notice_helpers import publish_town_batch


def test_i_want_to_object_starts_with_the_communities_on_notice(client, session, world):
    batch, _ = publish_town_batch(session, 2)
    html = client.get("/objections/new").get_data(as_text=True)
    assert "第一步：选择社区（村）" in html and "甲镇" in html and "2 户正在公示" in html
    assert 'href="/objections/new?region=100001001"' in html
    listing = client.get("/objections/new?region=100001001").get_data(as_text=True)
    entry = batch.entries[0]
    assert f'href="/objections/new?entry={entry.public_id}"' in listing and "3月25日 10:00 截止" in listing


def test_a_typed_number_is_forgiven_or_answered_in_place(client, session, world):
    batch, _ = publish_town_batch(session, 1)
    public_id = batch.entries[0].public_id
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in public_id.upper())  # ＡＢＣ… as an IME types them
    typed = f"  {fullwidth[:5]} - {fullwidth[5:]} "
    res = client.get("/objections/new", query_string={"entry": typed})
    assert res.status_code == 302 and res.headers["Location"].endswith(f"/objections/new?entry={public_id}")
    assert client.get(res.headers["Location"]).status_code == 200

    res = client.get("/objections/new", query_string={"entry": "abc123"})
    html = res.get_data(as_text=True)
    assert res.status_code == 404
    assert 'value="abc123"' in html and 'aria-invalid="true"' in html and 'id="entry-err"' in html
    assert "没有找到这条公示" in html and "第一步：选择社区（村）" in html  # the way on is on the same page


def test_closing_is_said_one_way_and_paper_has_no_countdown(client, session, world, clock):
    batch, _ = publish_town_batch(session, 1)
    entry = batch.entries[0]
    clock.set(batch.closes_at - timedelta(hours=5))  # the last day, 05:00 local
    page = client.get(f"/notices/e/{entry.public_id}").get_data(as_text=True)
    assert "今天 10:00 截止" in page
    board = client.get("/notices/100001001").get_data(as_text=True)
    assert "今天 10:00 截止" in board
    paper = client.get("/notices/100001001/print").get_data(as_text=True)
    assert "还剩" not in paper and "今天" not in paper
    assert "HTTP://" not in re.sub(r'data-target="[^"]*"', "", paper).upper().replace("HTTP://WWW.W3.ORG", "")


def test_the_fingerprint_is_explained_and_folded_away(client, session, world):
    batch, _ = publish_town_batch(session, 1)
    board = client.get("/notices/100001001").get_data(as_text=True)
    assert '<details class="fingerprint">' in board and "核对码：确认公示内容没有被改动" in board
    assert "SHA-256" not in board and "公示指纹" not in board
    assert batch.fingerprint in board  # still there for whoever compares


def test_the_staff_print_board_has_no_broken_images(app, client, auth, session, world):
    from dibao import notices
    from dibao.models import Level, Region, User
    from tests.factories import case_awaiting_notice

    stored = media.store_image(jpeg(), app.config["MEDIA_DIR"])
    region = session.scalar(select(Region).where(Region.code == "100001001"))
    cases = [case_awaiting_notice(session, region, Level.town, photo_key=stored.key, photo_consent=True),
             case_awaiting_notice(session, region, Level.town, photo_key=stored.key, photo_consent=False)]
    batch = notices.publish(session, session.get(User, world.users["town_a"]), case_ids=[c.id for c in cases],
                            title="甲镇低保审核公示")
    session.commit()
    auth.login("staff_a1")
    html = client.get("/notices/100001001/print").get_data(as_text=True)
    photos = re.findall(r'<img class="entry-photo" src="([^"]+)"', html)
    assert photos == [f"/media/entry/{batch.entries[0].public_id}/photo"]  # one row, one photo
    assert client.get(photos[0]).status_code == 200
    assert "（无照片）" in html  # the other row says so instead of a broken image


def test_the_objection_form_sums_up_its_problems_at_the_top(client, session, world):
    from tests.feedback_helpers import objection_data

    batch, _ = publish_town_batch(session, 1)
    public_id = batch.entries[0].public_id
    res = client.post(f"/objections/new?entry={public_id}",
                      data=objection_data(client, public_id, category="", description="短", name="李四"))
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    summary = html.split("data-error-summary", 1)[1].split("</div>", 1)[0]
    assert "有 3 处需要修改" in summary
    assert 'href="#category"' in summary or 'href="#category-0"' in summary
    assert 'href="#description"' in summary and 'href="#phone"' in summary


def test_the_public_side_speaks_the_browsers_language(client, session, world):
    publish_town_batch(session, 1)
    english = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.status_code == 200 and '<html lang="en">' in english.get_data(as_text=True)
    assert "Accept-Language" in english.headers.get("Vary", "")
    chinese = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-CN">' in chinese.get_data(as_text=True)
    # A choice made on the page wins over the browser's.
    client.get("/lang/zh_CN")
    assert '<html lang="zh-CN">' in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_the_kiosk_stays_chinese_whatever_its_browser_says(client, session, world):
    from tests.kiosk_helpers import register

    publish_town_batch(session, 1)
    kiosk = register(session, world.regions["comm_a1"])
    html = client.get(f"/kiosk/{kiosk.token}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "正在公示" in html and "Accept-Language" not in client.get(
        f"/kiosk/{kiosk.token}", headers={"Accept-Language": "en"}).headers.get("Vary", "")
    assert session.scalar(select(NoticeEntry.id)) is not None


def test_static_text_files_go_out_compressed(app, client, tmp_path):
    import gzip
    from pathlib import Path

    app.config["STATIC_GZIP_DIR"] = str(tmp_path / "gz")
    source = (Path(app.static_folder) / "js" / "kiosk.js").read_bytes()
    res = client.get("/static/js/kiosk.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert res.status_code == 200 and res.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in res.headers["Vary"] and res.mimetype == "text/javascript"
    assert gzip.decompress(res.data) == source and len(res.data) < len(source) / 2
    again = client.get("/static/js/kiosk.js", headers={"Accept-Encoding": "gzip", "If-None-Match": res.headers["ETag"]})
    assert again.status_code == 304
    plain = client.get("/static/js/kiosk.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.data == source
    assert "Accept-Encoding" in plain.headers["Vary"] and plain.headers["ETag"] != res.headers["ETag"]
    font = client.get("/static/fonts/kiosk/NotoSansSC-Regular-00.woff2", headers={"Accept-Encoding": "gzip"})
    assert font.status_code == 200 and "Content-Encoding" not in font.headers  # WOFF2 is compressed already
    assert client.get("/static/../dibao/config.py", headers={"Accept-Encoding": "gzip"}).status_code == 404
