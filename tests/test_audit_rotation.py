"""Rotating the audit key (`dibao audit rotate-key`): after the key may have been exposed, the chain is handed to
a new key by an event signed with the old one; the old key is kept as retired, for the stretch it signed.

What must hold: the whole chain still verifies; new events are signed with the new key only; a holder of the old
key can rewrite nothing (every rewrite must end in a stretch signed with the key in force); a missing retired
key, a process still signing with the old key, and a rotation interrupted before the key was installed are each
named; keys from the environment are never written to disk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from dibao import audit, db
from dibao.config import from_environment
from dibao.models import AuditEvent
from tests.audit_helpers import bypass_append_only

OLD = "test-audit-key"  # the conftest app's key
NEW = "a-fresh-audit-key-from-the-secret-store-0123456789"


@pytest.fixture
def instance(app, tmp_path, monkeypatch):
    """A deployment whose audit key is the instance file (as `make run` leaves it)."""
    monkeypatch.delenv("DIBAO_AUDIT_KEY", raising=False)
    monkeypatch.delenv("DIBAO_AUDIT_RETIRED_KEYS", raising=False)
    folder = tmp_path / "instance"
    folder.mkdir()
    (folder / "audit_key").write_text(OLD)
    app.instance_path = str(folder)
    return folder


def _rotate(runner, *extra: str):
    return runner.invoke(args=["audit", "rotate-key", "--yes", *extra])


def _record(app, action: str = "after_rotation") -> int:
    with app.app_context():
        event = audit.record(db.session(), None, action, "test")
        db.session().commit()
        return event.id


def _restart(folder: Path) -> None:
    """What a restarted process reads: the keys from the instance files."""
    config = from_environment(folder)
    audit.set_key(config["AUDIT_KEY"], config["AUDIT_RETIRED_KEYS"])


def _mac(key: str, event: AuditEvent) -> str:
    content = {"at": event.at.isoformat(), "actor_id": event.actor_id, "actor_name": event.actor_name,
               "action": event.action, "object_type": event.object_type, "object_id": event.object_id,
               "region_id": event.region_id, "details": event.details, "prev_hash": event.prev_hash,
               "scheme": audit.SCHEME_HMAC}
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key.encode(), canonical, hashlib.sha256).hexdigest()


def _rehash_with(sess, key: str, from_id: int) -> None:
    """What a thief of ``key`` with write access to the database does after changing an event."""
    prev = audit.GENESIS
    for event in sess.scalars(select(AuditEvent).order_by(AuditEvent.id)).all():
        if event.id >= from_id:
            event.prev_hash = prev
            event.hash = _mac(key, event)
        prev = event.hash
    sess.flush()


def test_rotation_hands_the_chain_to_a_new_key(app, runner, world, instance, session):
    before = _record(app, "before_rotation")
    result = _rotate(runner)
    assert result.exit_code == 0, result.output
    new = (instance / "audit_key").read_text()
    assert new != OLD and len(new) >= 32
    assert (instance / "retired_audit_key").read_text().split() == [OLD]
    assert not (instance / "audit_key.next").exists()
    for name in ("audit_key", "retired_audit_key"):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600
    rotation = session.scalars(select(AuditEvent).where(AuditEvent.action == audit.ROTATED)).one()
    assert rotation.id > before
    assert json.loads(rotation.details) == {"from": audit.key_id(OLD), "to": audit.key_id(new)}
    assert OLD not in rotation.details and new not in rotation.details  # only the keys' ids
    assert rotation.hash == _mac(OLD, rotation)  # the old key hands over
    assert f"key {audit.key_id(OLD)} retired" in result.output

    _restart(instance)
    after = _record(app)
    session.rollback()  # a fresh snapshot
    event = session.get(AuditEvent, after)
    assert event.hash == _mac(new, event) and event.hash != _mac(OLD, event)
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "checkpoints agree" in verified.output
    # The rotation is in the checkpoint file outside at once.
    last = Path(app.config["AUDIT_CHECKPOINTS"]).read_text().splitlines()[-1]
    assert json.loads(last)["last_id"] == rotation.id


def test_twice_rotated_chain_verifies_with_both_retired_keys(app, runner, world, instance):
    assert _rotate(runner).exit_code == 0
    _restart(instance)
    _record(app)
    middle = (instance / "audit_key").read_text()
    assert _rotate(runner).exit_code == 0
    _restart(instance)
    _record(app)
    assert (instance / "retired_audit_key").read_text().split() == [OLD, middle]
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_a_thief_of_the_old_key_cannot_rewrite_the_chain(app, runner, world, instance, session):
    target = _record(app, "before_rotation")
    assert _rotate(runner).exit_code == 0
    _restart(instance)
    _record(app)
    with app.app_context():
        sess = db.session()
        bypass_append_only(sess)
        sess.get(AuditEvent, target).details = json.dumps({"note": "rewritten"})
        sess.flush()
        _rehash_with(sess, OLD, target)  # re-signs everything after, the rotation and the new stretch too
        sess.commit()
    Path(app.config["AUDIT_CHECKPOINTS"]).unlink()  # the chain alone must show it, without the file outside
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "content does not match its hash" in result.output


def test_a_thief_cannot_point_the_rotation_back_at_the_old_key(app, runner, world, instance, session):
    """Rewrite the rotation to hand over to the old key itself, then re-sign the rest with it: the newest stretch
    is then not signed with the key in force."""
    assert _rotate(runner).exit_code == 0
    _restart(instance)
    _record(app)
    session.rollback()
    rotation = session.scalars(select(AuditEvent.id).where(AuditEvent.action == audit.ROTATED)).one()
    with app.app_context():
        sess = db.session()
        bypass_append_only(sess)
        sess.get(AuditEvent, rotation).details = json.dumps({"from": audit.key_id(OLD), "to": audit.key_id(OLD)})
        sess.flush()
        _rehash_with(sess, OLD, rotation)
        sess.commit()
    Path(app.config["AUDIT_CHECKPOINTS"]).unlink()  # the chain alone must show it
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"hands the chain to key {audit.key_id(OLD)}" in result.output


def test_verify_names_a_missing_retired_key(app, runner, world, instance):
    assert _rotate(runner).exit_code == 0
    (instance / "retired_audit_key").unlink()  # lost, or not copied to this node
    _restart(instance)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"retired audit key {audit.key_id(OLD)}, which is not configured" in result.output


def test_a_process_left_running_with_the_old_key_is_named(app, runner, world, instance):
    assert _rotate(runner).exit_code == 0
    audit.set_key(OLD)  # a worker nobody restarted
    stray = _record(app)
    _restart(instance)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"event {stray}" in result.output
    assert f"signed with audit key {audit.key_id(OLD)}" in result.output


def test_an_interrupted_rotation_is_finished_by_running_it_again(app, runner, world, instance, monkeypatch, session):
    real_replace = os.replace

    def crash(*args):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    assert _rotate(runner).exit_code != 0  # committed, but the new key was not installed
    monkeypatch.setattr(os, "replace", real_replace)
    pending = (instance / "audit_key.next").read_text()
    assert (instance / "audit_key").read_text() == OLD
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == audit.ROTATED)) is not None
    _restart(instance)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "install the new key" in result.output
    session.rollback()

    result = _rotate(runner)
    assert result.exit_code == 0 and "finished the interrupted rotation" in result.output
    assert (instance / "audit_key").read_text() == pending and not (instance / "audit_key.next").exists()
    assert len(session.scalars(select(AuditEvent.id).where(AuditEvent.action == audit.ROTATED)).all()) == 1
    _restart(instance)
    _record(app)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_keys_from_the_environment_are_not_written(app, runner, world, tmp_path, monkeypatch, session):
    folder = tmp_path / "instance"
    folder.mkdir()
    app.instance_path = str(folder)
    monkeypatch.setenv("DIBAO_AUDIT_KEY", OLD)
    result = _rotate(runner)
    assert result.exit_code != 0 and "--new-key" in result.output
    result = _rotate(runner, "--new-key", "too-short")
    assert result.exit_code != 0 and "at least 32" in result.output
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == audit.ROTATED)) is None

    result = _rotate(runner, "--new-key", NEW)
    assert result.exit_code == 0, result.output
    assert "DIBAO_AUDIT_RETIRED_KEYS" in result.output
    assert list(folder.iterdir()) == []  # nothing on disk: the secret store holds them
    monkeypatch.setenv("DIBAO_AUDIT_KEY", NEW)
    monkeypatch.setenv("DIBAO_AUDIT_RETIRED_KEYS", OLD)
    _restart(folder)
    _record(app)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_a_used_key_and_a_broken_chain_are_refused(app, runner, world, instance, session):
    assert _rotate(runner, "--new-key", NEW).exit_code == 0
    _restart(instance)
    result = _rotate(runner, "--new-key", OLD + "-padded-to-more-than-32-characters")
    assert result.exit_code == 0  # a fresh key is fine
    _restart(instance)
    result = _rotate(runner, "--new-key", NEW)
    assert result.exit_code != 0 and "used before" in result.output

    with app.app_context():
        sess = db.session()
        bypass_append_only(sess)
        first = sess.scalars(select(AuditEvent).order_by(AuditEvent.id)).first()
        first.actor_name = "别人"
        sess.commit()
    count = len(session.scalars(select(AuditEvent.id)).all())
    result = _rotate(runner)
    assert result.exit_code != 0 and "does not verify" in result.output
    session.rollback()
    assert len(session.scalars(select(AuditEvent.id)).all()) == count


def test_without_confirmation_nothing_happens(app, runner, world, instance, session):
    result = runner.invoke(args=["audit", "rotate-key"], input="n\n")
    assert result.exit_code != 0 and "must be stopped" in result.output
    assert (instance / "audit_key").read_text() == OLD
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == audit.ROTATED)) is None


def test_the_audit_viewer_shows_the_rotation_and_an_intact_chain(app, client, auth, runner, world, instance):
    assert _rotate(runner).exit_code == 0
    _restart(instance)
    auth.login("admin")
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert "更换审计密钥" in page
    chain = client.get("/admin/audit/chain").get_data(as_text=True)
    assert "哈希链完整" in chain
