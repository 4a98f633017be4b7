"""roster_summary: the standing roster's figures per region (issue 13)

Revision ID: 0707_roster_summary
Revises: 0706_sqlite_search_indexes
Create Date: 2026-11-27 03:10:00
"""

import sqlalchemy as sa
from alembic import op

from dibao.db import UTCDateTime

revision = '0707_roster_summary'
down_revision = '0706_sqlite_search_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: a region without a row is counted live, so nothing is wrong before `dibao stats refresh`.
    op.create_table('roster_summary',
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('persons', sa.Integer(), nullable=False),
    sa.Column('money', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('refreshed_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_roster_summary_region_id_region'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('region_id', name=op.f('pk_roster_summary'))
    )


def downgrade() -> None:
    op.drop_table('roster_summary')
