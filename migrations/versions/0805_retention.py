"""personal information erased when its purpose ends (PIPL Art. 47, dibao.retention)

Revision ID: 0805_retention
Revises: 0804_standard_tiers
Create Date: 2026-11-28 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import dibao.crypto
import dibao.db

revision = '0805_retention'
down_revision = '0804_standard_tiers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('objection', 'report'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('erased_at', dibao.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', dibao.db.UTCDateTime(), nullable=True))
        batch_op.alter_column('head_id_number', existing_type=dibao.crypto.EncryptedString(), nullable=True)
        batch_op.alter_column('head_id_hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('head_phone', existing_type=sa.String(length=20), nullable=True)


def downgrade() -> None:
    # What was erased stays erased: the columns get an empty string back, not the values.
    op.execute("UPDATE application SET head_id_number = '' WHERE head_id_number IS NULL")
    op.execute("UPDATE application SET head_id_hash = '' WHERE head_id_hash IS NULL")
    op.execute("UPDATE application SET head_phone = '' WHERE head_phone IS NULL")
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.alter_column('head_phone', existing_type=sa.String(length=20), nullable=False)
        batch_op.alter_column('head_id_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('head_id_number', existing_type=dibao.crypto.EncryptedString(), nullable=False)
        batch_op.drop_column('erased_at')
    for table in ('report', 'objection'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('erased_at')
