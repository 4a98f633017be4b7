"""Issue 4: the public portal — boards, entry pages, print board, roster, policies, caching, photos."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image

from dibao import media, notices, qr
from dibao.models import Stage
from tests.factories import make_case
from tests.notice_helpers import _region, _user, publish_town_batch


def test_board_shows_open_entries_grouped_with_web_disclosure(client, world, session, clock):
    batch, cases = publish_town_batch(session, 2, head_name="王小明")
    res = client.get("/notices/100001001")
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "甲镇低保审核公示" in html and "乡镇（街道）公示" in html
    assert "王*明" in html and "王小明" not in html  # masked on the web
    assert "还剩 7 天 0 小时" in html
    assert batch.fingerprint in html
    assert f'/objections/new?entry={batch.entries[0].public_id}' in html
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert res.headers["X-Robots-Tag"] == "noindex, nofollow"
    # the whole town and county see it; a sibling community does not
    assert "王*明" in client.get("/notices/100001").get_data(as_text=True)
    assert "王*明" in client.get("/notices/").get_data(as_text=True)
    assert "王*明" not in client.get("/notices/100001002").get_data(as_text=True)
    assert client.get("/notices/999").status_code == 404


def test_board_window_edges_on_the_page(client, world, session, clock):
    batch, _ = publish_town_batch(session, 1)
    clock.set(batch.closes_at - timedelta(seconds=1))
    html = client.get("/notices/100001001").get_data(as_text=True)
    assert "王*明" in html and "还剩 1 分钟" in html
    clock.set(batch.closes_at)
    html = client.get("/notices/100001001").get_data(as_text=True)
    assert "王*明" not in html and "目前没有正在公示的内容" in html


def test_entry_page_then_410_when_closed(client, world, session, clock):
    batch, _ = publish_town_batch(session, 1)
    pid = batch.entries[0].public_id
    res = client.get(f"/notices/e/{pid}")
    assert res.status_code == 200 and "王*明" in res.get_data(as_text=True)
    clock.set(batch.closes_at)
    res = client.get(f"/notices/e/{pid}")
    html = res.get_data(as_text=True)
    assert res.status_code == 410
    assert "公示期已于" in html and "不再公开" in html and "王" not in html.split("<main", 1)[1]
    assert client.get("/notices/e/nosuchentry").status_code == 404


def test_entry_page_410_when_withdrawn(client, world, session, clock):
    batch, _ = publish_town_batch(session, 1)
    entry = batch.entries[0]
    notices.withdraw_entry(session, _user(session, "town_a"), entry, "材料有误重新公示")
    session.commit()
    res = client.get(f"/notices/e/{entry.public_id}")
    assert res.status_code == 410 and "撤回" in res.get_data(as_text=True)


def test_scheduled_entry_page_is_not_found(client, world, session, clock):
    batch, _ = publish_town_batch(session, 1, opens_at=clock.t0 + timedelta(days=1))
    assert client.get(f"/notices/e/{batch.entries[0].public_id}").status_code == 404
    assert "王*明" not in client.get("/notices/").get_data(as_text=True)


def test_board_answers_304_and_changes_on_publish_withdraw_and_close(client, world, session, clock):
    batch, _ = publish_town_batch(session, 1)
    first = client.get("/notices/100001")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get("/notices/100001", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    # publishing another batch changes it at once
    second, _ = publish_town_batch(session, 1, community="100001002")
    res = client.get("/notices/100001", headers={"If-None-Match": etag})
    assert res.status_code == 200
    etag = res.headers["ETag"]
    # withdrawing changes it
    notices.withdraw_batch(session, _user(session, "town_a"), second, "重新公示测试")
    session.commit()
    res = client.get("/notices/100001", headers={"If-None-Match": etag})
    assert res.status_code == 200
    etag = res.headers["ETag"]
    # closing changes it (no sweep needed)
    clock.set(batch.closes_at)
    res = client.get("/notices/100001", headers={"If-None-Match": etag})
    assert res.status_code == 200 and "目前没有正在公示的内容" in res.get_data(as_text=True)


def test_time_left_is_part_of_the_etag(client, world, session, clock):
    publish_town_batch(session, 1)
    clock.advance(minutes=1)
    etag = client.get("/notices/100001").headers["ETag"]
    clock.advance(minutes=30)
    assert client.get("/notices/100001", headers={"If-None-Match": etag}).status_code == 304
    clock.advance(minutes=30)
    res = client.get("/notices/100001", headers={"If-None-Match": etag})
    assert res.status_code == 200 and "还剩 6 天 22 小时" in res.get_data(as_text=True)


def test_print_board_public_and_staff_versions(client, auth, world, session, clock):
    batch, _ = publish_town_batch(session, 2)
    res = client.get("/notices/100001001/print")
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "王*明" in html and "公众版" in html  # the open web never gets more than the web policy
    assert batch.fingerprint in html and "甲镇低保审核公示" in html
    assert html.count("<svg") == 3  # one per entry, one for the board
    assert f'data-target="{qr.entry_target("http://dibao.test", batch.entries[0].public_id)}"' in html
    assert qr.board_target("http://dibao.test", "100001001") in html
    auth.login("staff_a1")
    html = client.get("/notices/100001001/print?size=a3").get_data(as_text=True)
    assert "王小明" in html and "paper-a3" in html and "工作人员打印版" in html
    assert "幸福路" in html  # the full address of the seed's board


def test_home_lists_open_notices_by_town_and_community(client, world, session, clock):
    publish_town_batch(session, 2)
    html = client.get("/").get_data(as_text=True)
    assert "甲镇" in html and "甲一社区" in html and "2 户" in html and "还剩 7 天 0 小时" in html
    for link in ("/policies/", "/policies/procedure", "/roster/", "/objections/new", "/track", "tel:12349"):
        assert link in html


def test_roster_lists_active_households_with_amounts(client, world, session, clock):
    region = _region(session, "100001001")
    make_case(session, region, stage=Stage.active, head_name="赵大山", members=2)
    make_case(session, region, stage=Stage.town_review, head_name="钱未定")
    session.commit()
    res = client.get("/roster/100001001")
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "赵*山" in html and "赵大山" not in html and "钱" not in html and "1290.00" in html and "2 人" in html
    assert "110101195003071234" not in html and "13812345678" not in html
    assert '<meta name="robots" content="noindex, nofollow">' in html
    etag = res.headers["ETag"]
    assert client.get("/roster/100001001", headers={"If-None-Match": etag}).status_code == 304


def test_policies_pages(client, world, session):
    html = client.get("/policies/").get_data(as_text=True)
    assert "低保政策" in html and "个人申报" in html and "三次张榜公示" in html
    assert html.count('class="step') >= 9
    html = client.get("/policies/procedure").get_data(as_text=True)
    assert "办事程序" in html and "二次张榜公示" in html
    assert client.get("/policies/nope").status_code == 404


def test_robots_txt(client):
    res = client.get("/robots.txt")
    assert res.status_code == 200 and "Disallow: /admin/" in res.get_data(as_text=True)
    assert "Disallow: /notices/" in res.get_data(as_text=True)


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (60, 80), (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def test_photo_only_while_open_and_only_where_the_channel_shows_photos(app, client, auth, world, session, clock):
    stored = media.store_image(_jpeg(), app.config["MEDIA_DIR"])
    batch, _ = publish_town_batch(session, 1, photo_key=stored.key, photo_consent=True)
    entry = batch.entries[0]
    assert entry.photo_key == stored.key
    url = f"/media/entry/{entry.public_id}/photo"
    assert client.get(url).status_code == 404  # the public web shows no photos by default
    assert "/photo" not in client.get("/notices/100001001").get_data(as_text=True)
    auth.login("staff_a1")
    res = client.get(url)
    assert res.status_code == 200 and res.mimetype == "image/jpeg"
    assert res.headers["Cache-Control"] == "private, no-store"
    assert url in client.get("/notices/100001001/print").get_data(as_text=True)
    clock.set(batch.closes_at)
    assert client.get(url).status_code == 410


def test_photo_410_when_withdrawn_and_none_without_consent(app, client, auth, world, session, clock):
    stored = media.store_image(_jpeg(), app.config["MEDIA_DIR"])
    batch, _ = publish_town_batch(session, 2, photo_key=stored.key, photo_consent=False)
    assert all(e.photo_key is None for e in batch.entries)  # no consent, no photo in the snapshot
    auth.login("staff_a1")
    assert client.get(f"/media/entry/{batch.entries[0].public_id}/photo").status_code == 404
    notices.withdraw_batch(session, _user(session, "town_a"), batch, "重新公示测试")
    session.commit()
    assert client.get(f"/media/entry/{batch.entries[0].public_id}/photo").status_code == 410


def test_policies_show_the_standards_in_force(client, world, session, clock):
    from datetime import date
    from decimal import Decimal

    from dibao.models.records import Standard

    county, town = _region(session, "100"), _region(session, "100001")
    for region, amount, since in ((county, "780.00", date(2025, 7, 1)), (county, "820.00", date(2026, 1, 1)),
                                  (town, "860.00", date(2026, 7, 1))):  # the town's is not in force yet
        session.add(Standard(region=region, monthly_amount=Decimal(amount), effective_from=since, note="",
                             created_at=clock.now()))
    session.commit()
    html = client.get("/policies/").get_data(as_text=True)
    assert "820.00" in html and "2026年1月1日" in html
    assert "780.00" not in html and "860.00" not in html
