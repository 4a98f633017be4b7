"""Helpers for the audit log's tests: what a database owner can do that the application cannot."""

from __future__ import annotations

from sqlalchemy import text


def bypass_append_only(sess) -> None:
    """Get past the append-only triggers, as the owner of the database can."""
    if sess.get_bind().dialect.name == "postgresql":
        sess.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        sess.execute(text("DROP TRIGGER audit_event_no_update"))
        sess.execute(text("DROP TRIGGER audit_event_no_delete"))
