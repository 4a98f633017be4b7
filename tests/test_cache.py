"""Issue 13: the public cache never serves a stale answer.

Boards, the API listing, the home page and kiosk slides are rendered once per ETag and kept (dibao.cache); each
change that takes effect — a publish, a withdrawal, the closing second, withdrawn photo consent, a policy change —
is visible on the very next request, with the cache on. And the cache is really used: an unchanged answer is not
rendered again, and its 304 costs one query.
"""

from __future__ import annotations

import json
import pickle
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from dibao import disclosure, entitlement, kiosks, notices
from dibao.models import Region, Stage, User
from tests.factories import make_case
from tests.notice_helpers import _user, publish_town_batch
from tests.trust_helpers import publish_household

BOARD = "/notices/100001001"
API = "/api/v1/notices?region=100001001"


@pytest.fixture
def store(app):
    assert app.config["PUBLIC_CACHE"]  # the cache is on by default, in tests as in production
    return app.extensions["dibao.cache"]


def everything(client, kiosk=None) -> dict[str, str]:
    """What every cached public answer says now."""
    out = {"board": client.get(BOARD).get_data(as_text=True),
           "fragment": client.get(BOARD, headers={"HX-Request": "true"}).get_data(as_text=True),
           "county board": client.get("/notices/").get_data(as_text=True),
           "api": json.dumps(client.get(API).get_json(), ensure_ascii=False),
           "home": client.get("/").get_data(as_text=True)}
    if kiosk is not None:
        out["kiosk"] = client.get(f"/kiosk/{kiosk.token}/slide/0", headers={"HX-Request": "true"}).get_data(
            as_text=True)
    return out


def visible(pages: dict[str, str]) -> dict[str, bool]:
    """Whether each answer shows the household 王小明 (the home page: its count, "1 户正在公示")."""
    return {name: ("1 户正在公示" in page) if name == "home" else ("王*明" in page or "王小明" in page)
            for name, page in pages.items()}


def _kiosk(session, world):
    k = kiosks.register(session, None, name="活动室公示屏", region=session.get(Region, world.regions["comm_a1"]))
    session.commit()
    return k


def test_an_unchanged_answer_is_rendered_once_and_its_304_costs_one_query(app, client, world, session, store):
    publish_town_batch(session, 2, head_name="王小明")
    first = client.get(BOARD)
    assert first.status_code == 200 and "王*明" in first.get_data(as_text=True)
    renders = store.stats["renders"]
    again = client.get(BOARD)
    assert again.get_data() == first.get_data() and again.headers["ETag"] == first.headers["ETag"]
    assert store.stats["renders"] == renders  # served from the cache

    statements: list[str] = []
    engine = app.extensions["dibao.engine"]

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        res = client.get(BOARD, headers={"If-None-Match": first.headers["ETag"]})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert res.status_code == 304
    queries = [s for s in statements if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
    assert len(queries) == 1 and "public_version" in queries[0]


def test_publish_shows_on_the_next_request(client, world, session, store):
    kiosk = _kiosk(session, world)
    before = everything(client, kiosk)
    assert visible(before) == dict.fromkeys(before, False)
    everything(client, kiosk)  # now cached
    publish_town_batch(session, 1, head_name="王小明")
    after = everything(client, kiosk)
    assert visible(after) == dict.fromkeys(after, True)


def test_withdrawal_shows_on_the_next_request(client, world, session, store):
    kiosk = _kiosk(session, world)
    batch, _ = publish_town_batch(session, 1, head_name="王小明")
    before = everything(client, kiosk)
    assert visible(before) == dict.fromkeys(before, True)
    entry = batch.entries[0]
    notices.withdraw_entry(session, _user(session, "town_a"), entry, "材料有误重新公示")
    session.commit()
    after = everything(client, kiosk)
    assert visible(after) == dict.fromkeys(after, False)


def test_the_closing_second_shows_on_the_next_request(client, world, session, clock, store):
    kiosk = _kiosk(session, world)
    batch, _ = publish_town_batch(session, 1, head_name="王小明")
    clock.set(batch.closes_at - timedelta(seconds=1))
    last = everything(client, kiosk)
    assert "还剩 1 分钟" in last["board"] and visible(last) == dict.fromkeys(last, True)
    board_etag = client.get(BOARD).headers["ETag"]
    clock.set(batch.closes_at)  # nothing changes in the database: only the clock
    after = everything(client, kiosk)
    assert visible(after) == dict.fromkeys(after, False)
    assert client.get(BOARD, headers={"If-None-Match": board_etag}).status_code == 200


def test_time_left_changes_with_the_time_not_only_at_the_boundaries(client, world, session, clock, store):
    batch, _ = publish_town_batch(session, 1)
    assert "还剩 7 天 0 小时" in client.get(BOARD).get_data(as_text=True)
    clock.advance(hours=1)
    assert "还剩 6 天 23 小时" in client.get(BOARD).get_data(as_text=True)
    clock.set(batch.closes_at - timedelta(minutes=90))
    assert "还剩 1 小时 30 分钟" in client.get(BOARD).get_data(as_text=True)
    clock.advance(minutes=1)
    assert "还剩 1 小时 29 分钟" in client.get(BOARD).get_data(as_text=True)


def test_withdrawn_photo_consent_shows_on_the_next_request(app, client, world, session, store):
    from dibao import cases
    from dibao.models import Case

    entry, kiosk = publish_household(app, session, world)
    admin = session.get(User, world.users["admin"])
    rules = {c: {f: disclosure.DEFAULT.mode(c, f) for f in disclosure.Field} for c in disclosure.Channel}
    for channel in (disclosure.Channel.web, disclosure.Channel.api):
        rules[channel][disclosure.Field.photo] = "show"
    disclosure.save_policy(session, admin, admin.region, rules)
    session.commit()
    photo = f"/media/entry/{entry.public_id}/photo"

    def shown():
        return {"board": photo in client.get(BOARD).get_data(as_text=True),
                "api": photo in client.get(API).get_data(as_text=True),
                "kiosk": "k-photo" in client.get(f"/kiosk/{kiosk.token}/slide/0",
                                                 headers={"HX-Request": "true"}).get_data(as_text=True)}

    assert shown() == {"board": True, "api": True, "kiosk": True}
    assert shown() == {"board": True, "api": True, "kiosk": True}  # cached
    cases.set_photo(session, session.get(User, world.users["staff_a1"]), session.get(Case, entry.case_id),
                    data=None, consent=False, media_dir=app.config["MEDIA_DIR"])
    session.commit()
    assert shown() == {"board": False, "api": False, "kiosk": False}


def test_a_policy_change_shows_on_the_next_request(client, world, session, store):
    kiosk = _kiosk(session, world)
    publish_town_batch(session, 1, head_name="王小明")
    before = everything(client, kiosk)
    assert "王*明" in before["board"] and "王小明" not in before["board"]
    admin = session.get(User, world.users["admin"])
    rules = {c: {f: disclosure.DEFAULT.mode(c, f) for f in disclosure.Field} for c in disclosure.Channel}
    for channel in disclosure.Channel:
        rules[channel][disclosure.Field.name] = "hidden"
    disclosure.save_policy(session, admin, admin.region, rules)
    session.commit()
    after = everything(client, kiosk)
    del after["home"]  # counts only
    assert visible(after) == dict.fromkeys(after, False)


def test_a_revoked_kiosk_goes_blank_on_its_next_poll(client, world, session, store):
    kiosk = _kiosk(session, world)
    publish_town_batch(session, 1)
    slide = f"/kiosk/{kiosk.token}/slide/0"
    etag = client.get(slide).headers["ETag"]
    assert client.get(slide, headers={"If-None-Match": etag}).status_code == 304
    kiosks.revoke(session, session.get(User, world.users["admin"]), session.get(type(kiosk), kiosk.id))
    session.commit()
    res = client.get(slide, headers={"If-None-Match": etag})
    assert res.status_code == 404 and res.headers["X-Kiosk-Status"] == "not-registered"


def test_other_counties_keep_their_cache(client, world, session, store):
    """A change bumps only its county's version (and "" bumps every county)."""
    from dibao import cache

    publish_town_batch(session, 1)
    assert cache.version(session, "100") >= 1
    before = cache.version(session, "999")
    publish_town_batch(session, 1)
    session.rollback()
    assert cache.version(session, "999") == before and cache.version(session, "100") > before


def test_staff_are_served_without_the_cache(client, world, session, auth, store):
    publish_town_batch(session, 1)
    client.get(BOARD)
    renders = store.stats["renders"]
    auth.login("town_a")
    client.get(BOARD)
    client.get(BOARD)
    assert store.stats["renders"] == renders  # rendered for them, never stored or taken from the cache


# --- the fast path: a cookieless 304 answered before the app's request stack (dibao.cache.FastPath) -------------

def test_the_fast_path_answers_like_the_app_and_steps_aside_when_anything_changed(app, world, session, clock,
                                                                                  store):
    batch, _ = publish_town_batch(session, 1, head_name="王小明")
    kiosk = _kiosk(session, world)
    client = app.test_client(use_cookies=False)
    etags = {}
    for url, headers in ((BOARD, {}), (f"/kiosk/{kiosk.token}/slide/0", {"HX-Request": "true"})):
        etag = etags[url] = client.get(url, headers=headers).headers["ETag"]
        slow = client.get(url, headers={**headers, "If-None-Match": etag})  # the app's 304 teaches the fast path
        fast_before = store.stats["fast"]
        assert slow.status_code == 304
        fast = client.get(url, headers={**headers, "If-None-Match": etag})
        assert fast.status_code == 304 and store.stats["fast"] == fast_before + 1  # answered before the app
        same = {k: v for k, v in slow.headers.items() if k not in ("X-Server-Time",)}
        assert {k: v for k, v in fast.headers.items() if k not in ("X-Server-Time",)} == same

    # the closing second: the fast path finds its meta stale and the app answers with the empty board
    clock.set(batch.closes_at)
    fast_before = store.stats["fast"]
    res = client.get(BOARD, headers={"If-None-Match": etags[BOARD]})
    assert res.status_code == 200 and "王*明" not in res.get_data(as_text=True)
    assert store.stats["fast"] == fast_before


def test_kiosk_health_is_kept_by_the_fast_path(app, world, session, clock, store):
    from dibao.models.kiosk import Kiosk

    publish_town_batch(session, 1)
    kiosk = _kiosk(session, world)
    clock.advance(minutes=10)  # (not at the publishing second: a minute later would say "6 天 23 小时", a new ETag)
    client = app.test_client(use_cookies=False)
    url = f"/kiosk/{kiosk.token}/slide/0"
    etag = client.get(url).headers["ETag"]
    client.get(url, headers={"If-None-Match": etag})
    clock.advance(seconds=61)
    fast = store.stats["fast"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert store.stats["fast"] == fast + 1  # by the fast path
    session.rollback()
    session.expire_all()
    seen = session.get(Kiosk, kiosk.id)
    assert seen.last_seen_at == clock.t0 + timedelta(minutes=10, seconds=61) and seen.polls == 3


# --- Redis: rendered once per ETag for every worker and server --------------------------------------------------

@pytest.fixture
def redis_url():
    import shutil
    import socket
    import subprocess
    import time

    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def test_with_redis_another_worker_serves_the_answer_without_rendering_it(app, client, world, session, redis_url):
    from dibao import cache

    batch, _ = publish_town_batch(session, 1, head_name="王小明")
    app.extensions["dibao.cache"] = first = cache.Store(redis_url=redis_url)
    page = client.get(BOARD).get_data(as_text=True)
    assert first.stats["renders"] == 1 and "王*明" in page
    app.extensions["dibao.cache"] = other = cache.Store(redis_url=redis_url)  # another worker: nothing in process
    assert client.get(BOARD).get_data(as_text=True) == page
    assert other.stats["renders"] == 0
    notices.withdraw_entry(session, _user(session, "town_a"), batch.entries[0], "材料有误重新公示")
    session.commit()
    assert "王*明" not in client.get(BOARD).get_data(as_text=True)  # the version moved: never a stale copy


# --- the fast path without If-None-Match: the cached body replayed (dibao.cache.FastPath) ------------------------

def _without(headers, *names) -> dict:
    return {k: v for k, v in headers.items() if k not in names}


def test_the_fast_path_serves_the_cached_body_exactly_as_the_app_did(app, world, session, store):
    publish_town_batch(session, 1, head_name="王小明")
    kiosk = _kiosk(session, world)
    client = app.test_client(use_cookies=False)
    for url, headers in ((BOARD, {}), (BOARD, {"HX-Request": "true"}), (API, {}), ("/", {}),
                         (f"/kiosk/{kiosk.token}/slide/0", {"HX-Request": "true"})):
        slow = client.get(url, headers=headers)  # the app's 200 teaches the fast path its headers
        fast_before = store.stats["fast"]
        fast = client.get(url, headers=headers)
        assert slow.status_code == fast.status_code == 200
        assert store.stats["fast"] == fast_before + 1, url  # answered before the app
        assert fast.get_data() == slow.get_data()
        assert _without(fast.headers, "X-Server-Time") == _without(slow.headers, "X-Server-Time"), url
    assert client.get(BOARD).headers["Content-Type"] == "text/html; charset=utf-8"  # one charset, as uncached
    assert client.get(API).headers["Content-Type"] == "application/json"
    # the page and its htmx fragment are two answers, never one another's
    assert client.get(BOARD).get_data() != client.get(BOARD, headers={"HX-Request": "true"}).get_data()

    # a cookie, or another method: the app, as before
    fast_before = store.stats["fast"]
    client.get(BOARD, headers={"Cookie": "lang=zh_CN"})
    client.head(BOARD)
    assert store.stats["fast"] == fast_before


def test_the_cached_body_never_outlives_its_time_left_or_its_window(app, world, session, clock, store):
    batch, _ = publish_town_batch(session, 1, head_name="王小明")
    client = app.test_client(use_cookies=False)
    assert "还剩 7 天 0 小时" in client.get(BOARD).get_data(as_text=True)
    fast_before = store.stats["fast"]
    assert "还剩 7 天 0 小时" in client.get(BOARD).get_data(as_text=True)
    assert store.stats["fast"] == fast_before + 1
    clock.advance(hours=1)  # nothing changes in the database: the text does
    assert "还剩 6 天 23 小时" in client.get(BOARD).get_data(as_text=True)
    assert "还剩 6 天 23 小时" in client.get(BOARD).get_data(as_text=True)
    clock.set(batch.closes_at - timedelta(seconds=1))
    assert "还剩 1 分钟" in client.get(BOARD).get_data(as_text=True)
    assert "还剩 1 分钟" in client.get(BOARD).get_data(as_text=True)
    fast_before = store.stats["fast"]
    clock.set(batch.closes_at)  # the closing second: the app answers, with the empty board
    after = client.get(BOARD).get_data(as_text=True)
    assert "王*明" not in after and store.stats["fast"] == fast_before
    assert "王*明" not in json.dumps(client.get(API).get_json(), ensure_ascii=False)


def test_a_publish_in_one_worker_shows_on_the_next_request_to_another(app, database_url, tmp_path, world,
                                                                      session, store):
    """Two app instances (two workers, or two servers) on one database: what one commits, the other's fast path
    shows on its very next request — 304 or full body — with no in-process state to go stale."""
    from dibao import create_app
    from tests.conftest import app_config

    other = create_app(app_config(database_url, tmp_path))
    try:
        client = other.test_client(use_cookies=False)
        other_store = other.extensions["dibao.cache"]
        page = client.get(BOARD)
        etag = page.headers["ETag"]
        client.get(BOARD, headers={"If-None-Match": etag})  # the 304 learned too
        fast_before = other_store.stats["fast"]
        assert client.get(BOARD).get_data() == page.get_data()
        assert client.get(BOARD, headers={"If-None-Match": etag}).status_code == 304
        assert other_store.stats["fast"] == fast_before + 2  # both from the fast path
        assert "王*明" not in page.get_data(as_text=True)

        publish_town_batch(session, 1, head_name="王小明")  # committed through the first app's engine

        conditional = client.get(BOARD, headers={"If-None-Match": etag})
        assert conditional.status_code == 200 and "王*明" in conditional.get_data(as_text=True)
        assert "王*明" in client.get(BOARD).get_data(as_text=True)
        assert "王*明" in json.dumps(client.get(API).get_json(), ensure_ascii=False)
    finally:
        other.extensions["dibao.engine"].dispose()


def test_the_version_reader_is_closed_with_its_engine(app, world, session, store):
    client = app.test_client(use_cookies=False)
    etag = client.get(BOARD).headers["ETag"]
    client.get(BOARD)  # the fast path opens its connection
    reader = app.wsgi_app.reader if hasattr(app.wsgi_app, "reader") else app.wsgi_app.app.reader
    assert reader._held
    app.extensions["dibao.engine"].dispose()
    assert not reader._held
    assert client.get(BOARD, headers={"If-None-Match": etag}).status_code == 304  # reopened on demand


def test_a_window_opening_or_closing_is_never_hidden_by_the_fast_path(app, world, session, clock, store):
    """Boundaries that change no time bucket — a scheduled window opening on a board, a kiosk's last hour
    ("还剩 1 小时" until the closing second) — are caught by the meta's next boundary alone."""
    kiosk = _kiosk(session, world)
    batch, _ = publish_town_batch(session, 1, head_name="王小明", opens_at=clock.now() + timedelta(hours=2))
    client = app.test_client(use_cookies=False)
    slide = f"/kiosk/{kiosk.token}/slide/0"
    clock.set(batch.opens_at - timedelta(seconds=1))
    for _ in range(2):  # the second from the fast path
        assert "王*明" not in client.get(BOARD).get_data(as_text=True)
    etag = client.get(BOARD).headers["ETag"]
    clock.set(batch.opens_at)
    assert client.get(BOARD, headers={"If-None-Match": etag}).status_code == 200
    assert "王*明" in client.get(BOARD).get_data(as_text=True)

    clock.set(batch.closes_at - timedelta(seconds=1))
    for _ in range(2):
        res = client.get(slide, headers={"HX-Request": "true"})
        assert "王*明" in res.get_data(as_text=True) or "王小明" in res.get_data(as_text=True)
    client.get(slide, headers={"HX-Request": "true", "If-None-Match": res.headers["ETag"]})
    fast_before = store.stats["fast"]
    clock.set(batch.closes_at)
    after = client.get(slide, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "王*明" not in after and "王小明" not in after
    assert client.get(slide, headers={"HX-Request": "true", "If-None-Match": res.headers["ETag"]}).status_code != 304
    assert store.stats["fast"] == fast_before


def test_amount_periods_of_many_households_bump_their_counties_in_slices(session, world, make_region, monkeypatch):
    """A county's 提标 gives tens of thousands of households a new amount period in one transaction: their
    counties are found a slice of households at a time (more than a statement may bind, at once)."""
    from dibao import cache, db

    make_region("200", "邻县")
    make_region("200001", "丙镇", parent="200")
    other = make_region("200001001", "丙一社区", parent="200001")
    here = session.get(Region, world.regions["comm_a1"])
    households = [make_case(session, region, stage=Stage.active, amount=Decimal("500.00"))
                  for region in (here, here, here, other, other)]
    session.commit()
    sliced = []
    monkeypatch.setattr(cache, "chunks", lambda items: sliced.append(len(items)) or db.chunks(items, 2))
    before = {code: cache.version(session, code) for code in ("100", "200", "999")}
    session.rollback()
    for case in households:
        entitlement.start_period(session, None, case, amount=Decimal("620.00"), starts_on=date(2026, 4, 1),
                                 change=entitlement.AmountChange.adjusted)
    session.commit()
    after = {code: cache.version(session, code) for code in ("100", "200", "999")}
    assert after["100"] > before["100"] and after["200"] > before["200"]
    assert after["999"] == before["999"]
    assert 5 in sliced  # the five households, two at a time


def test_the_statistics_figures_count_at_their_size_against_the_caches_budget():
    """A county's figures (towns × months of cells) are kept in the cache: each is weighed by its size, so
    however many regions and months are asked, the in-process cache stays within its budget."""
    from dibao import cache, stats

    months = stats.month_list(date(2026, 3, 1))
    grid = {(town, m): stats.Cell(40, 95, Decimal("31234.50")) for town in range(12) for m in months}
    store = cache.Store(max_bytes=256 * 1024)
    for n in range(100):
        store.set(("stats-grid", f"{n:03d}", "2026-03-01", 12, 1), dict(grid))
    held = sum(1 for n in range(100) if store.get(("stats-grid", f"{n:03d}", "2026-03-01", 12, 1)) is not None)
    assert 0 < held < 100  # the oldest were dropped
    assert store._size <= store.max_bytes
    assert store._size >= held * len(pickle.dumps(grid))  # each counted at least at its pickled size


def test_one_computation_per_key_at_a_time():
    """While one request computes a value, the others asking for the same key wait and take it; another key
    does not wait."""
    import threading

    from dibao import cache

    store = cache.Store()
    calls, started, release = [], threading.Event(), threading.Event()

    def slow():
        calls.append("slow")
        started.set()
        release.wait(30)
        return {"households": 5}

    got = {}
    first = threading.Thread(target=lambda: got.setdefault("first", store.fetch(("k", 1), slow)))
    second = threading.Thread(target=lambda: got.setdefault("second", store.fetch(("k", 1), slow)))
    first.start()
    assert started.wait(30)
    second.start()
    assert store.fetch(("other", 1), lambda: "quick") == "quick"  # not held up by the other key's computation
    second.join(0.5)
    assert second.is_alive()
    release.set()
    first.join(30)
    second.join(30)
    assert calls == ["slow"] and got == {"first": {"households": 5}, "second": {"households": 5}}
    assert store._flights == {}  # nothing left behind
