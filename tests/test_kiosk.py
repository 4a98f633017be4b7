"""Issue 6: the kiosk display — rotation and paging, 304 polls, expiry at the closing second, revoked tokens,
online/offline from polls, the admin registry, the CLI and the demo kiosks."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import kiosks
from dibao.models import AuditEvent, NoticeEntry, Region
from dibao.models.disclosure import DisclosureRule
from dibao.models.kiosk import Kiosk
from dibao.models.records import Standard
from tests.conftest import T0
from tests.kiosk_helpers import publish, register

NAMES = ["张建国", "李秀英", "王淑珍", "赵桂兰", "钱德胜", "孙丽华", "周福林", "吴爱民", "郑晓红", "冯志强"]


def slide_names(html: str) -> list[str]:
    return re.findall(r'<h3 class="k-name">([^<]+)</h3>', html)


def next_url(html: str) -> str:
    return re.search(r'hx-get="([^"]+)"', html).group(1)


@pytest.fixture
def kiosk(session, world):
    return register(session, world.regions["comm_a1"])


# --- the display ----------------------------------------------------------------------------------

def test_display_shows_header_entries_days_left_qr_codes_and_how_to_object(client, session, world, kiosk):
    publish(session, world.regions["comm_a1"], NAMES[:2], income=Decimal("300.00"), amount=Decimal("1290.00"))
    res = client.get(f"/kiosk/{kiosk.token}")
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "<h1>甲一社区</h1>" in html
    assert "12349" in html  # the hotline, in the header and the footer
    assert 'id="k-date"' in html and "2026年3月18日 星期三" in html and ">10:00<" in html  # 02:00 UTC = 10:00 local
    assert slide_names(html) == NAMES[:2]
    assert "家庭人口" in html and "300.00 元" in html and "1290.00 元/月" in html
    assert "社区初审意见：同意" in html and "经民主评议，社区同意纳入低保。" in html
    assert "还剩 <strong>7</strong> 天 <strong>0</strong> 小时" in html  # the portal's words (notices.time_left)
    assert "3月25日 10:00 截止" in html  # one way to say when it closes, everywhere
    closes = (T0 + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert html.count(f'data-closes-at="{closes}"') == 2
    assert html.count("<svg") == 3  # one QR code per entry, one for the board
    assert "对公示有异议怎么办？" in html and "扫码提异议" in html
    # what the kiosk is: no index, nothing kept by the browser's cache (the worker keeps it), no cookie
    assert res.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert res.headers["Cache-Control"] == "no-store"  # households: never in the browser's HTTP cache
    assert "Set-Cookie" not in res.headers
    assert "csrf" not in html.lower()


def test_only_the_kiosks_own_community_is_shown(client, session, world, kiosk):
    publish(session, world.regions["comm_a1"], ["甲一户"])
    publish(session, world.regions["comm_a2"], ["甲二户"])
    html = client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True)
    assert slide_names(html) == ["甲一户"]


def test_rotation_order_and_paging(client, session, world, kiosk):
    publish(session, world.regions["comm_a1"], NAMES[:6], title="第一批")
    publish(session, world.regions["comm_a1"], NAMES[6:], title="第二批")
    pages, url = [], f"/kiosk/{kiosk.token}/slide/0"
    for _ in range(6):
        html = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        pages.append(slide_names(html))
        assert 'hx-trigger="every 20s"' in html and 'hx-swap="outerHTML"' in html
        url = next_url(html)
    # board order (batch by batch, position within a batch), two to a page (kiosks.PAGE_SIZE), and round again
    assert kiosks.PAGE_SIZE == 2
    assert pages == [NAMES[0:2], NAMES[2:4], NAMES[4:6], NAMES[6:8], NAMES[8:10], NAMES[0:2]]
    last = client.get(f"/kiosk/{kiosk.token}/slide/4").get_data(as_text=True)
    assert "第 5 / 5 页" in last and "正在公示 <strong>10</strong> 户" in last
    assert next_url(last) == f"/kiosk/{kiosk.token}/slide/0"
    # a slide beyond the (shrunken) rotation wraps around instead of failing
    assert slide_names(client.get(f"/kiosk/{kiosk.token}/slide/6").get_data(as_text=True)) == NAMES[2:4]


def test_unchanged_poll_is_answered_304_without_a_body(client, session, world, kiosk):
    publish(session, world.regions["comm_a1"], NAMES[:5])
    url = f"/kiosk/{kiosk.token}/slide/1"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    # each page has its own ETag, so paging never answers one page with another's
    other = client.get(f"/kiosk/{kiosk.token}/slide/0")
    assert other.headers["ETag"] != etag
    assert client.get(f"/kiosk/{kiosk.token}/slide/0", headers={"If-None-Match": etag}).status_code == 200


def test_new_batch_and_withdrawn_entry_change_the_next_poll(client, session, world, kiosk, clock):
    batch = publish(session, world.regions["comm_a1"], NAMES[:1])  # room on the page (kiosks.PAGE_SIZE) for one more
    url = f"/kiosk/{kiosk.token}/slide/0"
    etag = client.get(url).headers["ETag"]

    publish(session, world.regions["comm_a1"], ["新来户"], title="第二批")
    res = client.get(url, headers={"If-None-Match": etag})
    assert res.status_code == 200 and slide_names(res.get_data(as_text=True)) == NAMES[:1] + ["新来户"]
    etag = res.headers["ETag"]

    entry = session.scalars(select(NoticeEntry).where(NoticeEntry.batch_id == batch.id)
                            .order_by(NoticeEntry.position)).first()
    entry.withdrawn_at, entry.withdrawn_reason = clock.now(), "核实有误"
    session.commit()
    res = client.get(url, headers={"If-None-Match": etag})
    assert res.status_code == 200 and slide_names(res.get_data(as_text=True)) == ["新来户"]

    # The time left is part of the content: an hour less changes the ETag
    etag = res.headers["ETag"]
    clock.advance(hours=1)
    res = client.get(url, headers={"If-None-Match": etag})
    assert res.status_code == 200 and "还剩 <strong>6</strong> 天 <strong>23</strong> 小时" in res.get_data(as_text=True)


def test_entry_disappears_at_its_closing_second(client, session, world, kiosk, clock):
    publish(session, world.regions["comm_a1"], ["到期户"], window_days=7)
    closes = T0 + timedelta(days=7)
    url = f"/kiosk/{kiosk.token}/slide/0"

    clock.set(closes - timedelta(seconds=1))
    html = client.get(url).get_data(as_text=True)
    # The last minute says so (not "还剩 1 天", nor "1 小时") and "today".
    assert slide_names(html) == ["到期户"] and "还剩 <strong>1</strong> 分钟" in html
    assert "今天 10:00 截止" in html

    clock.set(closes)
    html = client.get(url).get_data(as_text=True)
    assert slide_names(html) == []
    assert "到期户" not in html
    assert 'data-kind="policy"' in html  # nothing open: the policy slides take over


def test_nothing_open_shows_policy_procedure_and_standard(client, session, world, kiosk, clock):
    def kinds():
        out, url = [], f"/kiosk/{kiosk.token}/slide/0"
        for _ in range(4):
            html = client.get(url).get_data(as_text=True)
            out.append(re.search(r'data-kind="(\w+)"', html).group(1))
            url = next_url(html)
        return out, html

    assert kinds()[0] == ["policy", "procedure", "policy", "procedure"]  # no standard recorded: degrade
    procedure = client.get(f"/kiosk/{kiosk.token}/slide/1").get_data(as_text=True)
    assert procedure.count("<li>") == 9 and "民主评议、初审" in procedure and "三次张榜公示" in procedure
    policy = client.get(f"/kiosk/{kiosk.token}/slide/0").get_data(as_text=True)
    assert "低保政策" in policy and "目前本社区没有正在公示的名单" in policy

    county = session.get(Region, world.regions["county"])
    session.add(Standard(region=county, monthly_amount=Decimal("720.00"), effective_from=T0.date(),
                         note="县政〔2026〕1号", created_at=clock.now()))
    session.commit()
    found, _ = kinds()
    assert found == ["policy", "procedure", "standard", "policy"]
    standard = client.get(f"/kiosk/{kiosk.token}/slide/2").get_data(as_text=True)
    assert "720.00" in standard and "元 / 人 / 月" in standard and "测试县" in standard


def test_procedure_follows_the_notice_rounds_in_use(app, client, kiosk):
    app.config["NOTICE_LEVELS"] = ("town",)  # the 2021 rules keep only the town notice
    procedure = client.get(f"/kiosk/{kiosk.token}/slide/1").get_data(as_text=True)
    assert procedure.count("<li>") == 7 and "社区张榜公示" not in procedure and "二次张榜公示" in procedure


def test_disclosure_decides_what_the_kiosk_shows(client, session, world, kiosk, clock):
    publish(session, world.regions["comm_a1"], ["隐私户"], income=Decimal("456.00"))
    html = client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True)
    assert "456.00 元" in html and "隐私户" in html
    session.add_all([
        DisclosureRule(region_id=world.regions["county"], channel="kiosk", field="income", mode="hidden",
                       updated_at=clock.now()),
        DisclosureRule(region_id=world.regions["county"], channel="kiosk", field="name", mode="masked",
                       updated_at=clock.now()),
    ])
    session.commit()
    html = client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True)
    assert "456.00" not in html and "家庭月收入" not in html
    assert "隐*户" in html and "隐私户" not in html


def test_photo_only_with_consent_and_only_while_open(client, session, world, kiosk, app, clock):
    import io

    from PIL import Image

    from dibao import media

    buf = io.BytesIO()
    Image.new("RGB", (60, 80), (100, 120, 140)).save(buf, "JPEG")
    stored = media.store_image(buf.getvalue(), app.config["MEDIA_DIR"])
    publish(session, world.regions["comm_a1"], ["有照片"], photo_key=stored.key, photo_consent=True)
    publish(session, world.regions["comm_a1"], ["没同意"], photo_key=stored.key, photo_consent=False)
    html = client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True)
    srcs = re.findall(r'<img class="k-photo" src="([^"]+)"', html)
    assert len(srcs) == 1
    res = client.get(srcs[0])
    assert res.status_code == 200 and res.mimetype == "image/jpeg"
    assert client.get(srcs[0].replace(kiosk.token, "not-a-token")).status_code == 404
    clock.advance(days=7)
    assert client.get(srcs[0]).status_code == 410  # closed: Gone, like every public URL of an entry


# --- tokens ---------------------------------------------------------------------------------------

def test_unknown_or_revoked_token_shows_only_the_neutral_screen(client, session, world, kiosk):
    publish(session, world.regions["comm_a1"], ["某户"])
    for path in ("/kiosk/", "/kiosk/no-such-token", "/kiosk/" + "x" * 200):
        res = client.get(path)
        assert res.status_code == 404 and "本终端尚未登记" in res.get_data(as_text=True)
    assert client.get(f"/kiosk/{kiosk.token}").status_code == 200

    kiosks.revoke(session, None, session.get(Kiosk, kiosk.id))
    session.commit()
    for path in (f"/kiosk/{kiosk.token}", f"/kiosk/{kiosk.token}/slide/0"):
        res = client.get(path)
        html = res.get_data(as_text=True)
        assert res.status_code == 404
        assert "本终端尚未登记" in html
        assert "甲一社区" not in html and "某户" not in html  # nothing else
        assert res.headers["X-Kiosk-Status"] == "not-registered"
        assert res.headers["Cache-Control"] == "no-store"


def test_new_token_retires_the_old_url(client, session, world, kiosk):
    old = kiosk.token
    fresh = kiosks.rotate_token(session, None, session.get(Kiosk, kiosk.id)).token
    session.commit()
    assert client.get(f"/kiosk/{old}").status_code == 404
    assert client.get(f"/kiosk/{fresh}").status_code == 200


def test_the_token_opens_the_display_and_nothing_else(client, kiosk):
    assert client.get(f"/kiosk/{kiosk.token}").status_code == 200
    res = client.get("/admin/")
    assert res.status_code == 302 and "/admin/login" in res.headers["Location"]
    assert client.get(f"/admin/kiosks/{kiosk.id}").status_code == 302


def test_service_worker_scope_covers_the_display(client):
    res = client.get("/kiosk/sw.js")
    assert res.status_code == 200 and res.mimetype == "text/javascript"
    assert res.headers["Service-Worker-Allowed"] == "/kiosk/"
    assert "no-cache" in res.headers["Cache-Control"]
    assert b"X-Kiosk-Offline" in res.data


# --- polls and status -----------------------------------------------------------------------------

def test_polls_record_last_seen_and_status_goes_offline_after_three_missed_polls(client, session, kiosk, clock):
    def fresh():
        session.rollback()  # a new read transaction sees what the requests committed
        return session.get(Kiosk, kiosk.id)

    events = session.scalar(select(func.count()).select_from(AuditEvent))
    assert kiosks.status(fresh()) == kiosks.Status.never

    client.get(f"/kiosk/{kiosk.token}")
    k = fresh()
    assert k.last_seen_at == T0 and k.polls == 1 and k.last_seen_ip == "127.0.0.1"
    assert kiosks.status(k) == kiosks.Status.online

    # Issue 13: health is written at most once a minute per kiosk; the polls in between are counted and
    # written with the next write, and the status allows for the minute.
    clock.advance(seconds=20)
    client.get(f"/kiosk/{kiosk.token}/slide/1")
    assert fresh().polls == 1 and fresh().last_seen_at == T0  # within the minute: nothing written
    clock.advance(seconds=40)
    client.get(f"/kiosk/{kiosk.token}/slide/1")
    assert fresh().polls == 3 and fresh().last_seen_at == T0 + timedelta(seconds=60)

    clock.advance(seconds=3 * 20 + kiosks.HEALTH_WRITE_SECONDS)  # three intervals and the minute: still online
    assert kiosks.status(fresh()) == kiosks.Status.online
    clock.advance(seconds=1)  # the third poll is missed
    assert kiosks.status(fresh()) == kiosks.Status.offline

    etag = client.get(f"/kiosk/{kiosk.token}/slide/1").headers["ETag"]
    assert client.get(f"/kiosk/{kiosk.token}/slide/1", headers={"If-None-Match": etag}).status_code == 304
    assert kiosks.status(fresh()) == kiosks.Status.online and fresh().polls == 4  # the 200 is written
    clock.advance(seconds=61)
    assert client.get(f"/kiosk/{kiosk.token}/slide/1", headers={"If-None-Match": etag}).status_code == 304
    assert fresh().polls == 6  # the 304 in the minute, and this one: a 304 counts as a poll
    # polls are not state changes: no audit event for any of them
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_registry_actions_are_audited_and_validated(session, world):
    from dibao.errors import Conflict, Forbidden, Invalid
    from dibao.models import User

    comm = session.get(Region, world.regions["comm_a1"])
    admin = session.get(User, world.users["admin"])
    k = kiosks.register(session, admin, name="屏一", region=comm, rotation_seconds=15)
    kiosks.rotate_token(session, admin, k)
    kiosks.update_settings(session, admin, k, name="屏一（大厅）", rotation_seconds=30)
    kiosks.revoke(session, admin, k)
    session.commit()
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "kiosk")
                              .order_by(AuditEvent.id)).all()
    assert actions == ["kiosk_registered", "kiosk_token_rotated", "kiosk_updated", "kiosk_revoked"]
    with pytest.raises(Conflict):
        kiosks.revoke(session, admin, k)
    with pytest.raises(Invalid):
        kiosks.register(session, admin, name="屏", region=comm, rotation_seconds=2)
    with pytest.raises(Invalid):
        kiosks.register(session, admin, name="  ", region=comm)
    with pytest.raises(Invalid):
        kiosks.register(session, admin, name="镇里的屏", region=session.get(Region, world.regions["town_a"]))
    with pytest.raises(Forbidden):
        kiosks.register(session, session.get(User, world.users["staff_a1"]), name="屏", region=comm)


# --- the admin registry ---------------------------------------------------------------------------

def test_admin_registers_sees_status_and_revokes(client, auth, session, world, clock):
    from tests.conftest import csrf_token

    auth.login("admin")
    res = client.get("/admin/kiosks/new")
    assert res.status_code == 200 and "甲一社区" in res.get_data(as_text=True)
    token = csrf_token(client, "/admin/kiosks/new")
    bad = client.post("/admin/kiosks/new", data={"csrf_token": token, "name": "大厅屏", "rotation_seconds": "1",
                                                 "region_id": world.regions["comm_a1"]})
    assert bad.status_code == 400 and "翻页间隔应在5到600秒之间" in bad.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Kiosk)) == 0

    res = client.post("/admin/kiosks/new", data={"csrf_token": token, "name": "大厅屏", "rotation_seconds": "10",
                                                 "region_id": world.regions["comm_a1"]})
    assert res.status_code == 302
    session.rollback()
    kiosk = session.scalars(select(Kiosk)).one()
    detail = client.get(res.headers["Location"]).get_data(as_text=True)
    assert f"http://dibao.test/kiosk/{kiosk.token}" in detail and "从未连接" in detail

    client.get(f"/kiosk/{kiosk.token}")  # the kiosk polls
    listing = client.get("/admin/kiosks/").get_data(as_text=True)
    assert "大厅屏" in listing and "在线" in listing and "2026-03-18 10:00:00" in listing
    assert kiosk.token not in listing  # the key is shown on the detail page only
    clock.advance(seconds=31 + kiosks.HEALTH_WRITE_SECONDS)  # 3 × 10 s and the minute of health writes
    listing = client.get("/admin/kiosks/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "离线" in listing and "<h1>" not in listing  # the auto-refresh gets the table only

    token = csrf_token(client, f"/admin/kiosks/{kiosk.id}")
    assert client.post(f"/admin/kiosks/{kiosk.id}/revoke", data={"csrf_token": token}).status_code == 302
    assert "已停用" in client.get("/admin/kiosks/").get_data(as_text=True)
    assert client.get(f"/kiosk/{kiosk.token}").status_code == 404


def test_staff_see_kiosks_in_their_region_without_the_url_and_cannot_manage(client, auth, session, world):
    a1 = register(session, world.regions["comm_a1"], name="甲一屏")
    b1 = register(session, world.regions["comm_b1"], name="乙一屏")
    auth.login("staff_a1")
    listing = client.get("/admin/kiosks/").get_data(as_text=True)
    assert "甲一屏" in listing and "乙一屏" not in listing
    detail = client.get(f"/admin/kiosks/{a1.id}").get_data(as_text=True)
    assert a1.token not in detail and "生成新地址" not in detail
    assert client.get(f"/admin/kiosks/{b1.id}").status_code == 404
    assert client.get("/admin/kiosks/new").status_code == 403
    from tests.conftest import csrf_token

    token = csrf_token(client, "/admin/kiosks/")
    assert client.post(f"/admin/kiosks/{a1.id}/revoke", data={"csrf_token": token}).status_code == 403
    session.rollback()
    assert session.get(Kiosk, a1.id).revoked_at is None


# --- command line and demo ------------------------------------------------------------------------

def test_cli_kiosk_list_prints_display_urls(runner, session, world):
    assert "no kiosks" in runner.invoke(args=["kiosk", "list"]).output
    k = register(session, world.regions["comm_a1"], name="甲一屏")
    gone = register(session, world.regions["comm_a2"], name="甲二屏")
    kiosks.revoke(session, None, session.get(Kiosk, gone.id))
    session.commit()
    out = runner.invoke(args=["kiosk", "list"]).output
    assert f"http://dibao.test/kiosk/{k.token}" in out and "甲一屏" in out and "甲二屏" not in out
    out = runner.invoke(args=["kiosk", "list", "--all"]).output
    assert "甲二屏" in out and "revoked" in out and gone.token not in out
