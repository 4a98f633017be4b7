"""The notice window (张榜公示七天): the deployment's NOTICE_WINDOW_DAYS is the shortest a board may be published for.
Staff may lengthen it (over a holiday) up to 60 days, never shorten it — refused by the domain at every level, now
or scheduled — and the public pages state each board's own number of days, not a fixed 7."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from dibao import notices
from dibao.errors import Invalid
from dibao.models import Case, Level, NoticeBatch, Stage
from dibao.workflow import AWAITING_NOTICE
from tests.conftest import csrf_token
from tests.factories import case_awaiting_notice
from tests.notice_helpers import _region, _user

SHORTER = "公示期不能少于 %d 天（本地规定的公示天数）。可以延长，不能缩短。"


def _awaiting(session, level, n=1, community="100001001"):
    region = _region(session, community)
    cases = [case_awaiting_notice(session, region, level, head_name=f"孙{'一二三'[i]}明") for i in range(n)]
    session.commit()
    return cases


def _batches(session) -> list[NoticeBatch]:
    session.rollback()  # the requests wrote in their own sessions: a new snapshot, nothing cached
    session.expire_all()
    return list(session.scalars(select(NoticeBatch).order_by(NoticeBatch.id)))


def _post(client, path, cases, days, **extra):
    token = csrf_token(client, "/admin/notices/new")
    return client.post(path, data={"csrf_token": token, "title": "窗口测试公示", "window_days": str(days),
                                   "opens_at": "", "case_ids": ",".join(str(c.id) for c in cases), **extra})


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("who, level, short", [("staff_a1", Level.community, 1), ("town_a", Level.town, 6)])
def test_a_shorter_window_is_refused_and_nothing_is_published(client, auth, world, session, clock, who, level, short):
    cases = _awaiting(session, level)
    auth.login(who)
    for path in ("/admin/notices/preview", "/admin/notices/publish"):
        res = _post(client, path, cases, short)
        assert res.status_code == 400, path
        assert SHORTER % 7 in _text(res)  # beside the field, in Chinese
    assert _batches(session) == []
    assert session.get(Case, cases[0].id).stage == AWAITING_NOTICE[level]


def test_a_scheduled_board_is_held_to_the_same_window(client, auth, world, session, clock):
    cases = _awaiting(session, Level.town)
    auth.login("town_a")
    res = _post(client, "/admin/notices/schedule", cases, 3, opens_at="2026-03-19T09:00")
    assert res.status_code == 400 and SHORTER % 7 in _text(res)
    assert _batches(session) == []


def test_staff_may_lengthen_the_window_and_the_public_pages_say_how_long(client, auth, world, session, clock):
    cases = _awaiting(session, Level.community)
    auth.login("staff_a1")
    res = _post(client, "/admin/notices/preview", cases, 12)
    assert res.status_code == 200 and "（公示 12 天）" in _text(res)
    res = _post(client, "/admin/notices/publish", cases, 12)
    assert res.status_code == 302
    [batch] = _batches(session)
    assert batch.closes_at - batch.opens_at == timedelta(days=12)
    assert session.get(Case, cases[0].id).stage == Stage.community_notice

    board = _text(client.get("/notices/100001001"))
    assert "（公示 12 天）" in board  # the board's own window
    assert "每批公示 7 天" not in board and "每批公示不少于 7 天" in board  # the rule, not a fixed number
    entry = _text(client.get(f"/notices/e/{batch.entries[0].public_id}"))
    assert "（公示 12 天）" in entry
    printed = _text(client.get("/notices/100001001/print"))
    assert "（公示 12 天）" in printed
    # Still open on day 11, gone on day 12 — the window published is the one kept.
    clock.set(batch.opens_at + timedelta(days=11, hours=23))
    assert "孙*明" in _text(client.get("/notices/100001001"))
    clock.set(batch.opens_at + timedelta(days=12))
    assert "孙*明" not in _text(client.get("/notices/100001001"))


def test_the_window_may_not_exceed_the_maximum(client, auth, world, session, clock):
    cases = _awaiting(session, Level.town)
    auth.login("town_a")
    res = _post(client, "/admin/notices/publish", cases, 61)
    assert res.status_code == 400 and "公示期最长 60 天。" in _text(res)
    assert _batches(session) == []


def test_the_deployments_window_is_the_default_and_the_minimum(app, client, auth, world, session, clock):
    app.config["NOTICE_WINDOW_DAYS"] = 10
    cases = _awaiting(session, Level.town)
    auth.login("town_a")
    html = _text(client.get(f"/admin/notices/new?case_ids={cases[0].id}"))
    field = re.search(r'<input[^>]*name="window_days"[^>]*>', html).group(0)
    assert 'value="10"' in field and 'min="10"' in field and 'max="60"' in field
    assert "本地规定公示 10 天，这是最短天数" in html  # the form says so
    res = _post(client, "/admin/notices/publish", cases, 7)
    assert res.status_code == 400 and SHORTER % 10 in _text(res)
    assert _batches(session) == []
    res = _post(client, "/admin/notices/publish", cases, 10)
    assert res.status_code == 302
    [batch] = _batches(session)
    assert batch.closes_at - batch.opens_at == timedelta(days=10)
    board = _text(client.get("/notices/100001001"))
    assert "每批公示不少于 10 天" in board and "（公示 10 天）" in board
    assert "公示 10 天" in _text(client.get("/policies/"))  # the procedure diagram's notice rounds


def test_the_domain_refuses_a_shorter_window_on_every_path(app, world, session, clock):
    """notices.publish (every level, now or scheduled) and publish_batch (what every publication goes through)."""
    cases = _awaiting(session, Level.town, 2)
    town = _user(session, "town_a")
    with pytest.raises(Invalid) as refused:
        notices.publish(session, town, case_ids=[cases[0].id], title="公示", window_days=6)
    assert refused.value.field == "window_days" and str(refused.value.message) == SHORTER % 7
    with pytest.raises(Invalid):
        notices.publish(session, town, case_ids=[cases[0].id], title="公示", window_days=9, minimum_days=10,
                        opens_at=clock.now() + timedelta(days=1))
    with pytest.raises(Invalid):
        notices.publish_batch(session, None, level=Level.town, region=_region(session, "100001"), cases=cases,
                              title="公示", window_days=7, minimum_days=10)
    session.rollback()
    assert session.scalar(select(func.count(NoticeBatch.id))) == 0
    # Without a number of days a board gets the deployment's window.
    batch = notices.publish(session, town, case_ids=[cases[0].id], title="公示", minimum_days=10)
    assert batch.closes_at - batch.opens_at == timedelta(days=10)
