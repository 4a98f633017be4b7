"""stats_month, stats_month_done: the monthly statistics summary per community × month × category (issue 13)

Revision ID: 0703_stats_month
Revises: 0702_case_review_due
Create Date: 2026-11-26 19:40:00
"""

import sqlalchemy as sa
from alembic import op

from dibao.db import UTCDateTime

revision = '0703_stats_month'
down_revision = '0702_case_review_due'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: a pair without a mark is computed live, so nothing is wrong before `dibao stats refresh`.
    op.create_table('stats_month',
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('category', sa.Integer(), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('persons', sa.Integer(), nullable=False),
    sa.Column('money', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_stats_month_region_id_region'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('region_id', 'month', 'category', name=op.f('pk_stats_month'))
    )
    op.create_table('stats_month_done',
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('refreshed_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_stats_month_done_region_id_region'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('region_id', 'month', name=op.f('pk_stats_month_done'))
    )


def downgrade() -> None:
    op.drop_table('stats_month_done')
    op.drop_table('stats_month')
