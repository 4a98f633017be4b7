"""Helpers for the notice tests: a published town batch, regions and users by code and name."""

from __future__ import annotations

from sqlalchemy import select

from dibao import notices
from dibao.models import (
    Level,
    Region,
    User,
)
from tests.factories import case_awaiting_notice


def _region(session, code):
    return session.scalar(select(Region).where(Region.code == code))


def _user(session, username):
    return session.scalar(select(User).where(User.username == username))


def publish_town_batch(session, n=2, *, opens_at=None, community="100001001", user="town_a", **case_kwargs):
    region = _region(session, community)
    cases = [case_awaiting_notice(session, region, Level.town, **case_kwargs) for _ in range(n)]
    actor = _user(session, user)
    batch = notices.publish(session, actor, case_ids=[c.id for c in cases], title="甲镇低保审核公示",
                            opens_at=opens_at)
    batch.entries  # noqa: B018 — loaded in the transaction that wrote them, as a view would read them
    session.commit()
    return batch, cases
