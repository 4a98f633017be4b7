"""The audit log: every state change writes one event, chained by hashes so tampering shows.

Each event's hash covers its own content and the previous event's hash. Two schemes, recorded per event
(``hash_scheme``), so that a chain written before the key existed still verifies:

* 1 — SHA-256 of the content (events written before migration ``0300_audit_keyed``);
* 2 — HMAC-SHA256 with the audit key (``DIBAO_AUDIT_KEY`` or ``instance/audit_key``), a secret kept outside
  the database: whoever rewrites rows in the database cannot re-hash the chain without it.

A chain alone cannot show that its newest events were deleted (or the whole table emptied), so the count and
the head hash are also written, now and then, to an append-only file outside the database (*checkpoints*:
by the sweep, by ``dibao db upgrade`` and by ``dibao audit checkpoint``). ``verify`` walks the chain in order
and names the first event whose link, hash or position does not match, and any events missing since a
checkpoint. Unkeyed events are accepted only where a checkpoint already covers them (the legacy prefix).

The key can be replaced (``dibao audit rotate-key``, after it may have been exposed): :func:`rotate` appends an
``audit_key_rotated`` event, signed with the old key, that names the old and the new key by their ids
(:func:`key_id`, never the keys); every later event is signed with the new one. The old key is kept as a
*retired* key (``instance/retired_audit_key``, one a line, or ``DIBAO_AUDIT_RETIRED_KEYS``) because
``verify`` still needs it for the stretch it signed. Whoever holds only a retired key cannot rewrite anything:
changing an event means re-hashing every event after it, and the newest stretch must be signed with the key
the deployment has now.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dibao import clock, db
from dibao.models import AuditEvent, User

GENESIS = "0" * 64
SYSTEM_ACTOR = "系统"
SCHEME_SHA256 = 1
SCHEME_HMAC = 2
ROTATED = "audit_key_rotated"  # the event that hands the chain from one key to the next

log = logging.getLogger("dibao.audit")

_key: bytes | None = None
_retired: dict[str, bytes] = {}  # key id → a key that signed an earlier stretch of the chain


def set_key(key: str | None, retired: Iterable[str] = ()) -> None:
    """The deployment's audit key and its retired keys (the app factory passes ``AUDIT_KEY`` and
    ``AUDIT_RETIRED_KEYS`` in, as it passes the time zone to :mod:`dibao.clock`). Without a key, events are
    written with the unkeyed scheme."""
    global _key, _retired
    _key = key.encode() if key else None
    _retired = _keyring(retired)


def key_id(key: str | bytes) -> str:
    """A short public name of a key (what rotation events record): a keyed hash of a fixed label, which says
    nothing about the key itself."""
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, b"dibao audit key id", hashlib.sha256).hexdigest()[:16]


def _keyring(keys: Iterable[str | bytes]) -> dict[str, bytes]:
    raw = [k.encode() if isinstance(k, str) else k for k in keys if k]
    return {key_id(k): k for k in raw}


MIN_KEY_LENGTH = 32


def _content(event: AuditEvent) -> dict[str, Any]:
    return {
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


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))  # made once: a bulk
# append encodes 10,000 events


# What json.dumps(details, ensure_ascii=False, sort_keys=True, default=str) writes, with the encoder made once
# (dumps builds one per call when given options: a tenth of a bulk append).
_DETAILS = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)


def _canonical(content: dict[str, Any]) -> bytes:
    return _CANONICAL.encode(content).encode()


def _digest(event: AuditEvent, key: bytes | None) -> str | None:
    """The hash the event should carry under its scheme; ``None`` when it cannot be computed (no key)."""
    return _digest_of(_content(event), event.hash_scheme, key)


def _digest_of(content: dict[str, Any], scheme: int, key: bytes | None) -> str | None:
    return _hasher(scheme, key)(content)


def _hasher(scheme: int, key: bytes | None) -> Callable[[dict[str, Any]], str | None]:
    """The digest of an event's content under ``scheme``, as a function (the keyed one prepared once, then
    copied for each event: a bulk append hashes thousands)."""
    if scheme == SCHEME_SHA256:
        return lambda content: hashlib.sha256(_canonical(content)).hexdigest()
    if scheme == SCHEME_HMAC and key is not None:
        keyed = hmac.new(key, digestmod=hashlib.sha256)

        def digest(content: dict[str, Any]) -> str:
            mac = keyed.copy()
            # The scheme is part of what is signed: a keyed event cannot be relabelled as an unkeyed one.
            mac.update(_canonical({**content, "scheme": SCHEME_HMAC}))
            return mac.hexdigest()

        return digest
    return lambda content: None


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
    return record_many(session, actor, [Entry(action, object_type, object_id, region_id, details, actor_name)])[0]


@dataclass(frozen=True)
class Entry:
    """One event to append with :func:`record_many` (the arguments of :func:`record`)."""

    action: str
    object_type: str
    object_id: Any = None
    region_id: int | None = None
    details: dict[str, Any] | None = None
    actor_name: str | None = None


def record_many(session: Session, actor: User | None, entries: Iterable[Entry]) -> list[AuditEvent]:
    """Append several events of one actor in order, chained, with one lock, one look at the head and one flush
    (an import of 10,000 households writes 10,000 events: one round trip each would cost more than the import)."""
    events = [AuditEvent(**row) for row in _chained_rows(session, actor, entries)]
    session.add_all(events)
    session.flush()
    return events


def append_many(session: Session, actor: User | None, entries: Iterable[Entry]) -> int:
    """:func:`record_many` for bulk writers that need no event objects back (the roster import): the same rows,
    the same chain, written with one bulk insert (``db.insert_rows``) — no ORM object per event, and no
    ``RETURNING`` of the ids (on SQLite the ORM inserts one row per statement to read them back). Returns how
    many were appended."""
    rows = _chained_rows(session, actor, entries)
    db.insert_rows(session, AuditEvent.__table__, rows)
    return len(rows)


def _chained_rows(session: Session, actor: User | None, entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """The column values of the entries' events, each chained to the one before (the log's head first); the
    chain is locked until the transaction ends."""
    _lock_chain(session)
    prev = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar() or GENESIS
    at = clock.now()
    at_text = at.isoformat()
    scheme = SCHEME_HMAC if _key is not None else SCHEME_SHA256
    digest = _hasher(scheme, _key)
    actor_id = actor.id if actor is not None else None
    default_name = actor.display_name if actor is not None else SYSTEM_ACTOR
    rows = []
    for entry in entries:
        row = {
            "actor_id": actor_id,
            "actor_name": entry.actor_name or default_name,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": None if entry.object_id is None else str(entry.object_id),
            "region_id": entry.region_id,
            "details": _DETAILS.encode(entry.details or {}),
            "prev_hash": prev,
        }
        # The same content _content reads back from a stored event (verify recomputes it from the row).
        prev = digest({"at": at_text, **row})
        row.update(at=at, hash=prev, hash_scheme=scheme)
        rows.append(row)
    return rows


def last_rotation(session: Session) -> dict[str, str] | None:
    """The newest rotation's ``{"from": id, "to": id}``, or None when the key was never rotated."""
    details = session.scalar(select(AuditEvent.details).where(AuditEvent.action == ROTATED)
                             .order_by(AuditEvent.id.desc()).limit(1))
    return _rotation(details) if details is not None else None


def _rotation(details: str) -> dict[str, str]:
    try:
        data = json.loads(details)
        return {"from": str(data["from"]), "to": str(data["to"])}
    except (ValueError, KeyError, TypeError):
        return {"from": "", "to": ""}  # verify reports it: a rotation that names no keys hands over to none


def rotate(session: Session, new_key: str) -> AuditEvent:
    """Append the event that hands the chain to ``new_key``, signed with the current key. The caller commits,
    then installs the new key everywhere and keeps the old one as retired (``dibao audit rotate-key``); until
    then this process goes on signing with the old one, so nothing but the rotation may be appended here."""
    from dibao.errors import Invalid

    if _key is None:
        raise Invalid("no audit key is configured: there is nothing to rotate")
    if len(new_key) < MIN_KEY_LENGTH:
        raise Invalid(f"the new audit key must be at least {MIN_KEY_LENGTH} characters")
    new_id = key_id(new_key)
    if new_id == key_id(_key) or new_id in _retired:
        raise Invalid("the new audit key has been used before: make a fresh one")
    return record(session, None, ROTATED, "audit_key", new_id, details={"from": key_id(_key), "to": new_id})


# --- checkpoints: the count and head, outside the database ---------------------------------------------

@dataclass(frozen=True)
class Head:
    count: int
    last_id: int | None
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    at: str
    count: int
    last_id: int | None
    hash: str

    def line(self) -> str:
        return json.dumps({"at": self.at, "count": self.count, "last_id": self.last_id, "hash": self.hash},
                          separators=(",", ":")) + "\n"


def head(session: Session) -> Head:
    """How many events the log holds and the newest one's hash, read in one statement (one snapshot)."""
    total = select(func.count()).select_from(AuditEvent).scalar_subquery()
    row = session.execute(
        select(AuditEvent.id, AuditEvent.hash, total).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    if row is None:
        return Head(0, None, GENESIS)
    return Head(row[2], row[0], row[1])


def read_checkpoints(path: str | os.PathLike | None) -> tuple[list[Checkpoint], list[int]]:
    """The checkpoints in the file (oldest first) and the numbers of any lines that cannot be read."""
    if not path or not Path(path).exists():
        return [], []
    found, bad = [], []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                found.append(Checkpoint(str(data["at"]), int(data["count"]), data.get("last_id"), str(data["hash"])))
            except (ValueError, KeyError, TypeError):
                bad.append(number)
    return found, bad


def _last_line(fh) -> str:
    size = fh.seek(0, os.SEEK_END)
    fh.seek(max(0, size - 4096))
    lines = fh.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else ""


def write_checkpoint(session: Session, path: str | os.PathLike, *, every: timedelta | None = None) -> Checkpoint | None:
    """Append the current count and head to the checkpoint file (created mode 600).

    With ``every`` (the sweep), nothing is written when the head has not moved or the last checkpoint is
    younger than ``every``; without it (the command line) a checkpoint is always written. Several processes
    may call this at once: the file is locked while it is read and appended to.
    """
    current = head(session)
    checkpoint = Checkpoint(clock.now().isoformat(), current.count, current.last_id, current.hash)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "rb+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        if every is not None:
            try:
                last = json.loads(_last_line(fh) or "null")
            except ValueError:
                last = None
            if last and (last.get("hash") == current.hash
                         or datetime.fromisoformat(last["at"]) > clock.now() - every):
                return None
        fh.write(checkpoint.line().encode())
        fh.flush()
        os.fsync(fh.fileno())
    log.info("audit checkpoint: %d events, head %s (event %s)", current.count, current.hash, current.last_id)
    return checkpoint


# --- verification --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str | None = None
    checkpoints: int = 0


def verify(session: Session, *, key: str | None = None, retired: Iterable[str] | None = None,
           checkpoints: Sequence[Checkpoint] = ()) -> ChainReport:
    """Walk the chain in order against its hashes, the audit keys and the checkpoints.

    ``key`` and ``retired`` default to the deployment's keys (:func:`set_key`; a restore passes the backup's);
    ``checkpoints`` come from :func:`read_checkpoints`. The report names the first event that does not hold, or
    what is missing.
    """
    secret = key.encode() if key else _key
    keyring = dict(_retired) if retired is None else _keyring(retired)
    if secret is not None:
        keyring[key_id(secret)] = secret
    marks = {}
    for cp in checkpoints:
        marks.setdefault(cp.count, []).append(cp)
    covered = max((cp.count for cp in checkpoints), default=0)

    def broken(checked: int, event_id: int | None, reason: str) -> ChainReport:
        return ChainReport(False, checked, event_id, reason, len(checkpoints))

    # Which key signs the first keyed stretch: the one the first rotation hands over from (the walk checks
    # that rotation's own hash with it, so a false "from" only breaks the chain there); without a rotation,
    # the deployment's key.
    first = session.execute(select(AuditEvent.details).where(AuditEvent.action == ROTATED)
                            .order_by(AuditEvent.id).limit(1)).scalar()
    signer_id = _rotation(first)["from"] if first is not None else (key_id(secret) if secret else None)
    signer = keyring.get(signer_id) if signer_id else None
    prev = GENESIS
    position = 0
    keyed_seen = False
    last_id = None
    last_rotation_id = None
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(500):
        position += 1
        if event.prev_hash != prev:
            return broken(position - 1, event.id, "link to the previous event does not match")
        if event.hash_scheme == SCHEME_HMAC:
            keyed_seen = True
            if secret is None:
                return broken(position - 1, event.id,
                              "keyed event, but no audit key is configured (DIBAO_AUDIT_KEY or instance/audit_key)")
            if signer is None:
                return broken(position - 1, event.id,
                              f"signed with the retired audit key {signer_id}, which is not configured "
                              "(instance/retired_audit_key or DIBAO_AUDIT_RETIRED_KEYS)")
        elif event.hash_scheme == SCHEME_SHA256:
            if keyed_seen:
                return broken(position - 1, event.id,
                              "unkeyed event after keyed ones: written or re-hashed without the audit key")
            if secret is not None and position > covered:
                return broken(position - 1, event.id,
                              "unkeyed event that no checkpoint covers: written or re-hashed without the audit key")
        if _digest(event, signer) != event.hash:
            return broken(position - 1, event.id, "content does not match its hash" + _signed_otherwise(event, keyring, signer_id))
        for cp in marks.get(position, ()):
            if cp.hash != event.hash:
                return broken(position - 1, event.id, f"does not match the checkpoint of {cp.at} (event number "
                                                      f"{cp.count}): the log was rewritten up to here")
        if event.action == ROTATED and event.hash_scheme == SCHEME_HMAC:
            handover = _rotation(event.details)
            if handover["from"] != signer_id:
                return broken(position - 1, event.id, "a key rotation that does not name the key that signed it")
            signer_id, signer = handover["to"], keyring.get(handover["to"])
            last_rotation_id = event.id
        prev = event.hash
        last_id = event.id
    if position < covered:
        cp = max(checkpoints, key=lambda c: c.count)
        after = f"after event {last_id}" if last_id is not None else "(the log is empty)"
        return ChainReport(False, position, cp.last_id,
                           f"{cp.count - position} newest events missing {after}: the checkpoint of {cp.at} "
                           f"recorded {cp.count} events ending with event {cp.last_id}, the log holds {position}",
                           len(checkpoints))
    if last_rotation_id is not None and secret is not None and signer_id != key_id(secret):
        # The newest stretch must be signed with the key in force: otherwise a holder of a retired key could
        # re-hash the chain from any point and end it in a stretch of their own.
        return broken(position, last_rotation_id,
                      f"the newest key rotation hands the chain to key {signer_id}, but the configured audit key is "
                      f"{key_id(secret)}: install the new key (dibao audit rotate-key finishes an interrupted rotation)")
    return ChainReport(True, position, checkpoints=len(checkpoints))


def _signed_otherwise(event: AuditEvent, keyring: dict[str, bytes], expected: str | None) -> str:
    """Why a hash does not match, when another known key explains it: a process still signing with the old key
    after a rotation (it was not stopped), or a rotation that was not recorded."""
    for kid, other in keyring.items():
        if kid != expected and _digest(event, other) == event.hash:
            return f" (it is signed with audit key {kid}, not {expected}: a process kept the old key after a rotation?)"
    return ""


def events_for(session: Session, object_type: str, object_id: Any) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
        .order_by(AuditEvent.id)
    )
    return list(session.scalars(stmt))
