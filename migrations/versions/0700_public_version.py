"""public_version: per-county version counters behind the public cache (issue 13)

Revision ID: 0700_public_version
Revises: 0802_display
Create Date: 2026-11-26 12:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0700_public_version'
down_revision = '0500_payment_runs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('public_version',
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_public_version'))
    )


def downgrade() -> None:
    op.drop_table('public_version')
