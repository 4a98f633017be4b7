"""Issue 9, item 10: the audit log shows deleted newest events, a re-hashed rewrite and (PostgreSQL) TRUNCATE.

The chain is keyed with a secret outside the database (HMAC-SHA256), and checkpoints of its count and head
are written to a file outside the database, which ``dibao audit verify`` checks against.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from dibao import audit, db
from dibao.models import AuditEvent
from dibao.sweep import run_sweep
from tests.audit_helpers import bypass_append_only


def _rehash_unkeyed(sess, from_id: int) -> None:
    """Recompute every hash from ``from_id`` on as the old unkeyed SHA-256 would (the attacker has no key)."""
    events = sess.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    prev = audit.GENESIS
    for event in events:
        if event.id >= from_id:
            event.prev_hash = prev
            event.hash_scheme = audit.SCHEME_SHA256
            content = {"at": event.at.isoformat(), "actor_id": event.actor_id, "actor_name": event.actor_name,
                       "action": event.action, "object_type": event.object_type, "object_id": event.object_id,
                       "region_id": event.region_id, "details": event.details, "prev_hash": prev}
            event.hash = hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True,
                                                   separators=(",", ":")).encode()).hexdigest()
        prev = event.hash
    sess.flush()


def test_new_events_are_keyed(app, world, session):
    schemes = set(session.scalars(select(AuditEvent.hash_scheme)))
    assert schemes == {audit.SCHEME_HMAC}


def test_deleting_the_newest_events_fails_verify_naming_them(app, runner, world):
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    with app.app_context():
        sess = db.session()
        ids = sess.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        bypass_append_only(sess)
        sess.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": ids[-2]})
        sess.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "2 newest events missing" in result.output
    assert f"after event {ids[-3]}" in result.output and f"ending with event {ids[-1]}" in result.output


def test_without_a_checkpoint_the_same_deletion_goes_unseen(app, runner, world):
    """Why the checkpoints exist: the chain alone cannot show that its tail is gone."""
    with app.app_context():
        sess = db.session()
        last = sess.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc())).first()
        bypass_append_only(sess)
        sess.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": last})
        sess.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_emptied_table_fails_verify(app, runner, world):
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    with app.app_context():
        sess = db.session()
        bypass_append_only(sess)
        sess.execute(text("DELETE FROM audit_event"))
        sess.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "the log is empty" in result.output


def test_rewritten_and_rehashed_chain_fails_without_the_key(app, runner, world):
    with app.app_context():
        sess = db.session()
        events = sess.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        target = events[len(events) // 2]
        bypass_append_only(sess)
        target.details = json.dumps({"role": "admin", "note": "rewritten"})
        sess.flush()
        _rehash_unkeyed(sess, target.id)
        sess.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"event {target.id}" in result.output and "without the audit key" in result.output


def test_whole_chain_rehashed_from_genesis_fails_too(app, runner, world):
    with app.app_context():
        sess = db.session()
        first = sess.scalars(select(AuditEvent).order_by(AuditEvent.id)).first()
        bypass_append_only(sess)
        first.actor_name = "别人"
        sess.flush()
        _rehash_unkeyed(sess, first.id)
        sess.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"event {first.id}" in result.output


def test_rehashed_with_a_guessed_key_fails(app, runner, world):
    with app.app_context():
        sess = db.session()
        last = sess.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        bypass_append_only(sess)
        last.details = "{}"
        last.hash = audit._digest(last, b"a-guess")
        sess.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"event {last.id}" in result.output


def test_rewrite_before_a_checkpoint_fails_even_with_the_key(app, runner, world):
    """The key holder (or a thief of it) still cannot rewrite what a checkpoint has seen."""
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    with app.app_context():
        sess = db.session()
        events = sess.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        bypass_append_only(sess)
        events[1].actor_name = "别人"
        prev = events[0].hash
        for event in events[1:]:
            event.prev_hash = prev
            event.hash = audit._digest(event, app.config["AUDIT_KEY"].encode())
            prev = event.hash
        sess.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "does not match the checkpoint" in result.output


def test_legacy_unkeyed_chain_still_verifies_once_checkpointed(app, runner, world, session):
    """Events from before the key (scheme 1) verify; `dibao db upgrade` checkpoints them, keyed ones follow."""
    with app.app_context():
        sess = db.session()
        bypass_append_only(sess)
        _rehash_unkeyed(sess, 0)  # what an existing deployment's chain looks like
        sess.commit()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0  # writes the checkpoint that anchors them
    with app.app_context():
        audit.record(db.session(), None, "after_upgrade", "test")
        db.session().commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    schemes = session.scalars(select(AuditEvent.hash_scheme).order_by(AuditEvent.id)).all()
    assert schemes[-1] == audit.SCHEME_HMAC and set(schemes[:-1]) == {audit.SCHEME_SHA256}


def test_sweep_writes_checkpoints_on_its_schedule(app, world, clock):
    path = app.config["AUDIT_CHECKPOINTS"]
    run_sweep(app)
    assert len(audit.read_checkpoints(path)[0]) == 1
    with app.app_context():
        audit.record(db.session(), None, "something", "test")
        db.session().commit()
    run_sweep(app)  # the head moved, but the last checkpoint is younger than the interval
    assert len(audit.read_checkpoints(path)[0]) == 1
    clock.advance(timedelta(minutes=app.config["AUDIT_CHECKPOINT_MINUTES"] + 1))
    run_sweep(app)
    checkpoints = audit.read_checkpoints(path)[0]
    assert len(checkpoints) == 2 and checkpoints[-1].count == checkpoints[0].count + 1
    clock.advance(timedelta(hours=1))
    run_sweep(app)  # nothing new: no line
    assert len(audit.read_checkpoints(path)[0]) == 2


def test_checkpoint_file_is_private_and_unreadable_lines_fail_verify(app, runner, world):
    import os
    import stat

    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    path = app.config["AUDIT_CHECKPOINTS"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path, "a") as fh:
        fh.write("not json\n")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "lines 2 cannot be read" in result.output


def test_audit_key_generated_once_outside_the_database(tmp_path, monkeypatch):
    import os
    import stat

    from dibao.config import from_environment

    monkeypatch.delenv("DIBAO_AUDIT_KEY", raising=False)
    first = from_environment(tmp_path)["AUDIT_KEY"]
    assert from_environment(tmp_path)["AUDIT_KEY"] == first and len(first) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "audit_key").st_mode) == 0o600
    monkeypatch.setenv("DIBAO_AUDIT_KEY", "from-env")
    assert from_environment(tmp_path)["AUDIT_KEY"] == "from-env"


def test_truncate_is_refused_on_postgresql(app, world):
    with app.app_context():
        sess = db.session()
        if sess.get_bind().dialect.name != "postgresql":
            pytest.skip("TRUNCATE is PostgreSQL's; SQLite's DELETE runs the row trigger")
        with pytest.raises(DBAPIError, match="append-only"):
            sess.execute(text("TRUNCATE audit_event"))
        sess.rollback()
        assert sess.scalar(select(AuditEvent.id).limit(1)) is not None


def test_deleting_every_row_is_refused(app, world):
    with app.app_context():
        sess = db.session()
        with pytest.raises(DBAPIError, match="append-only"):
            sess.execute(text("DELETE FROM audit_event"))
        sess.rollback()


def test_many_events_appended_at_once_chain_like_single_ones(app, runner, world, session):
    """record_many (one lock, one look at the head, one flush) writes the same chain record would."""
    before = audit.head(session).count
    events = audit.record_many(session, None, [audit.Entry("bulk_test", "thing", i, details={"n": i})
                                               for i in range(5)])
    audit.record(session, None, "after_bulk", "thing", 99)
    session.commit()
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert audit.head(session).count == before + 6
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    bypass_append_only(session)
    session.execute(text("UPDATE audit_event SET details = '{\"n\": 7}' WHERE action = 'bulk_test' AND object_id = '2'"))
    session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1
