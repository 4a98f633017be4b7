"""audit: a hash scheme per event (keyed HMAC from now on); TRUNCATE refused on PostgreSQL

Revision ID: 0300_audit_keyed
Revises: 0011_payment_accounts
Create Date: 2026-11-27 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0300_audit_keyed'
down_revision = '0011_payment_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table copy on SQLite): existing rows are the unkeyed scheme 1, and the
    # append-only triggers stay in place.
    op.add_column('audit_event', sa.Column('hash_scheme', sa.SmallInteger(), server_default='1', nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        # The row triggers of 0001 do not fire for TRUNCATE; a statement trigger does.
        op.execute(
            "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
        )
    # SQLite has no TRUNCATE; its DELETE without WHERE runs the row trigger of 0001 once a trigger exists.


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
    op.drop_column('audit_event', 'hash_scheme')
