"""rate-limit counters in the database (shared by every worker and server); an objection keeps a keyed hash of
its client, so one client's open objections across entries can be capped

Revision ID: 0200_shared_limits
Revises: 0200_report_routing
Create Date: 2026-11-27 09:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0200_shared_limits'
down_revision = '0200_report_routing'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_limit',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit'))
    )
    with op.batch_alter_table('rate_limit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_limit_expires_at'), ['expires_at'], unique=False)
    with op.batch_alter_table('objection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_objection_client_key'), ['client_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('objection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_objection_client_key'))
        batch_op.drop_column('client_key')
    with op.batch_alter_table('rate_limit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_limit_expires_at'))
    op.drop_table('rate_limit')
