"""Notice batches (张榜公示) and their windows.

An entry is public while ``opens_at <= now < closes_at`` and neither it nor its batch is withdrawn. This is
decided at read time (:func:`open_condition`), so an entry disappears at its closing second whether or not
the sweep has run; the sweep only records the closing and moves the cases on.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from dibao import audit, clock, workflow
from dibao.errors import Conflict, Invalid
from dibao.models import Case, Level, NoticeBatch, NoticeEntry, Opinion, Region, User

PUBLIC_ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud and typed from paper


def new_public_id(length: int = 10) -> str:
    return "".join(secrets.choice(PUBLIC_ID_ALPHABET) for _ in range(length))


def open_condition(at: datetime) -> ColumnElement[bool]:
    """SQL condition: the entry (joined with its batch) is public at ``at``."""
    return and_(
        NoticeBatch.opens_at <= at,
        NoticeBatch.closes_at > at,
        NoticeBatch.withdrawn_at.is_(None),
        NoticeEntry.withdrawn_at.is_(None),
    )


def is_open(entry: NoticeEntry, at: datetime | None = None) -> bool:
    at = at or clock.now()
    batch = entry.batch
    return (
        batch.opens_at <= at < batch.closes_at and batch.withdrawn_at is None and entry.withdrawn_at is None
    )


def current_opinion(case: Case, level: Level) -> Opinion | None:
    for opinion in reversed(case.opinions):
        if opinion.level == level and not opinion.superseded:
            return opinion
    return None


def snapshot(case: Case, opinion: Opinion) -> dict:
    """What an entry freezes of a case: full values; disclosure decides per channel what is shown."""
    return {
        "head_name": case.head_name,
        "address": case.address,
        "public_address": case.public_address or case.region.name,
        "household_size": case.household_size,
        "household_income": case.household_income,
        "monthly_amount": case.monthly_amount,
        "category": case.category,
        "photo_key": case.photo_key if case.photo_consent else None,
        "opinion_decision": opinion.decision,
        "opinion_text": opinion.text,
        "opinion_author": opinion.author_name,
        "opinion_at": opinion.created_at,
    }


def fingerprint(batch: NoticeBatch, entries: Sequence[NoticeEntry]) -> str:
    """SHA-256 over the published content, shown wherever the batch is shown so copies can be compared."""
    content = {
        "batch": batch.public_id,
        "level": batch.level.value,
        "region": batch.region.code,
        "title": batch.title,
        "opens_at": batch.opens_at.isoformat(),
        "closes_at": batch.closes_at.isoformat(),
        "entries": [
            {
                "id": e.public_id, "name": e.head_name, "address": e.address, "size": e.household_size,
                "income": str(e.household_income), "amount": str(e.monthly_amount),
                "decision": e.opinion_decision.value, "opinion": e.opinion_text, "photo": e.photo_key,
            }
            for e in entries
        ],
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def publish_batch(
    session: Session,
    actor: User | None,
    *,
    level: Level,
    region: Region,
    cases: Sequence[Case],
    title: str,
    window_days: int = 7,
    opens_at: datetime | None = None,
) -> NoticeBatch:
    """Publish (or schedule, with a future ``opens_at``) one board of the given cases at ``level``."""
    now = clock.now()
    opens_at = opens_at or now
    if opens_at < now - timedelta(seconds=1):
        raise Invalid(_l("公示开始时间不能早于现在。"), field="opens_at")
    if not cases:
        raise Invalid(_l("请至少选择一户。"), field="cases")
    if not title.strip():
        raise Invalid(_l("请填写公示标题。"), field="title")
    batch = NoticeBatch(
        public_id=new_public_id(),
        level=level,
        region=region,
        title=title.strip(),
        opens_at=opens_at,
        closes_at=opens_at + timedelta(days=window_days),
        fingerprint="",
        created_by_id=actor.id if actor else None,
        created_at=now,
    )
    session.add(batch)
    entries = []
    for position, case in enumerate(cases):
        if not case.region.path.startswith(region.path):
            raise Conflict(_l("案件“%(number)s”不在本辖区。", number=case.number))
        opinion = current_opinion(case, level)
        if opinion is None:
            raise Conflict(_l("案件“%(number)s”还没有本级意见，不能公示。", number=case.number))
        entry = NoticeEntry(public_id=new_public_id(), batch=batch, case=case, position=position,
                            region_id=case.region_id, **snapshot(case, opinion))
        session.add(entry)
        entries.append(entry)
        workflow.notice_published(session, actor, case, level, batch.public_id)
    session.flush()
    batch.fingerprint = fingerprint(batch, entries)
    audit.record(session, actor, "notice_batch_published", "notice_batch", batch.public_id,
                 region_id=region.id, details={"level": level.value, "entries": len(entries),
                                               "opens_at": opens_at.isoformat(), "fingerprint": batch.fingerprint})
    return batch


def open_entries(session: Session, region: Region, at: datetime | None = None) -> list[NoticeEntry]:
    """Open entries of households in ``region``'s subtree, batch by batch, in board order."""
    at = at or clock.now()
    stmt = (
        select(NoticeEntry)
        .join(NoticeEntry.batch)
        .join(Region, NoticeEntry.region_id == Region.id)
        .where(open_condition(at), Region.path.startswith(region.path, autoescape=True))
        .order_by(NoticeBatch.opens_at, NoticeBatch.id, NoticeEntry.position)
    )
    return list(session.scalars(stmt))
