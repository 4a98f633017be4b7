"""public_version: per-county version counters behind the public cache; trigram indexes for staff search (issue 13)

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
    # Staff case search (LIKE '%…%' on four columns, OR-ed): trigram GIN indexes on PostgreSQL turn a sequential
    # scan of every household into a BitmapOr of four index scans (docs/performance.md); plain indexes elsewhere.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # a trusted extension: the database owner may
    for col in ("head_name", "number", "address", "head_phone"):
        op.create_index(f"ix_dibao_case_{col}_trgm", "dibao_case", [col], postgresql_using="gin",
                        postgresql_ops={col: "gin_trgm_ops"})


def downgrade() -> None:
    for col in ("head_name", "number", "address", "head_phone"):
        op.drop_index(f"ix_dibao_case_{col}_trgm", table_name="dibao_case")
    op.drop_table('public_version')
