"""kiosks: the registry of community kiosk displays

Revision ID: 0006_kiosks
Revises: 0002_cases_notices
Create Date: 2026-11-25 17:40:00
"""

from alembic import op
import sqlalchemy as sa
import dibao.db


revision = '0006_kiosks'
down_revision = '0002_cases_notices'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kiosk',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('rotation_seconds', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', dibao.db.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('token_rotated_at', dibao.db.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', dibao.db.UTCDateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('last_seen_at', dibao.db.UTCDateTime(), nullable=True),
    sa.Column('last_seen_ip', sa.String(length=45), nullable=True),
    sa.Column('polls', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_kiosk_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_kiosk_region_id_region')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user_account.id'], name=op.f('fk_kiosk_revoked_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk')),
    sa.UniqueConstraint('token', name=op.f('uq_kiosk_token'))
    )
    with op.batch_alter_table('kiosk', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_region_id'), ['region_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kiosk', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_region_id'))
    op.drop_table('kiosk')
