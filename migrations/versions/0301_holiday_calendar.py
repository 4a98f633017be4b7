"""holiday calendar: a county's holidays and make-up working days per year

Revision ID: 0301_holiday_calendar
Revises: 0300_audit_keyed
Create Date: 2026-11-27 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import dibao.db


revision = '0301_holiday_calendar'
down_revision = '0300_audit_keyed'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('holiday_calendar',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('updated_at', dibao.db.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_name', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_holiday_calendar_region_id_region')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_holiday_calendar_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holiday_calendar')),
    sa.UniqueConstraint('region_id', 'year', name=op.f('uq_holiday_calendar_region_id'))
    )
    with op.batch_alter_table('holiday_calendar', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holiday_calendar_region_id'), ['region_id'], unique=False)

    op.create_table('calendar_day',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('calendar_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('working', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['holiday_calendar.id'], name=op.f('fk_calendar_day_calendar_id_holiday_calendar'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_day')),
    sa.UniqueConstraint('calendar_id', 'day', name=op.f('uq_calendar_day_calendar_id'))
    )
    with op.batch_alter_table('calendar_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_day_calendar_id'), ['calendar_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calendar_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_day_calendar_id'))
    op.drop_table('calendar_day')
    with op.batch_alter_table('holiday_calendar', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holiday_calendar_region_id'))
    op.drop_table('holiday_calendar')
