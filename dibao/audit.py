"""The audit log: every state change writes one event, chained by hashes so tampering shows.

Each event's hash is SHA-256 over its own content and the previous event's hash. ``verify`` walks the
chain in order and names the first event whose stored hash or link does not match.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dibao import clock
from dibao.models import AuditEvent, User

GENESIS = "0" * 64
SYSTEM_ACTOR = "系统"


def _digest(event: AuditEvent) -> str:
    content = {
        "at": event.at.isoformat(),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "region_id": event.region_id,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_chain(session: Session) -> None:
    """Serialise appends so two writers never chain onto the same previous hash."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7201)"))
    # SQLite: writing transactions begin IMMEDIATE (dibao.db), which already serialises them.


def record(
    session: Session,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: Any = None,
    *,
    region_id: int | None = None,
    details: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditEvent:
    """Append one event. Runs inside the caller's transaction: it commits or rolls back with the change."""
    _lock_chain(session)
    last = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    event = AuditEvent(
        at=clock.now(),
        actor_id=actor.id if actor is not None else None,
        actor_name=actor_name or (actor.display_name if actor is not None else SYSTEM_ACTOR),
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        region_id=region_id,
        details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str),
        prev_hash=last or GENESIS,
    )
    event.hash = _digest(event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str | None = None


def verify(session: Session) -> ChainReport:
    prev = GENESIS
    checked = 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(500):
        if event.prev_hash != prev:
            return ChainReport(False, checked, event.id, "link to the previous event does not match")
        if _digest(event) != event.hash:
            return ChainReport(False, checked, event.id, "content does not match its hash")
        prev = event.hash
        checked += 1
    return ChainReport(True, checked)


def events_for(session: Session, object_type: str, object_id: Any) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
        .order_by(AuditEvent.id)
    )
    return list(session.scalars(stmt))
