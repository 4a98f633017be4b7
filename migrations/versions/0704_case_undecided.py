"""cases: partial indexes of the undecided cases; (region_id, stage, category) for the filtered list (issue 13)

Also drops the single-column indexes on region_id and stage (each the first column of a composite index).

Revision ID: 0704_case_undecided
Revises: 0703_stats_month
Create Date: 2026-11-26 23:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0704_case_undecided'
down_revision = '0703_stats_month'
branch_labels = None
depends_on = None

# workflow.UNDECIDED_STAGES as it stands (dibao.models.case.UNDECIDED_INDEXED; written out: a migration is fixed).
UNDECIDED = sa.text("stage IN ('applied', 'investigating', 'community_review', 'awaiting_community_notice', "
                    "'community_notice', 'town_review', 'town_decision', 'awaiting_town_notice', "
                    "'town_notice', 'county_approval')")


def upgrade() -> None:
    # Plans in docs/performance.md ("Fifth pass"). The dashboard's deadline counts and the open cases' count read
    # the undecided cases of a scope: one probe per community of this small index, answered from the index alone,
    # instead of ten per community (one per stage) of the wide one with every row read from the table.
    op.create_index('ix_dibao_case_undecided_region_id', 'dibao_case', ['region_id'],
                    postgresql_where=UNDECIDED, sqlite_where=UNDECIDED,
                    postgresql_include=['stage', 'accepted_at', 'stage_changed_at', 'special_case'])
    # The open cases' list, newest change first: walked in order until a page of the scope's cases is found,
    # instead of every open case of the scope read and sorted.
    op.create_index('ix_dibao_case_undecided_updated_at', 'dibao_case', ['updated_at', 'id'],
                    postgresql_where=UNDECIDED, sqlite_where=UNDECIDED)
    # The list filtered by community, stage and category: the count from the index alone, and only the matching
    # rows read for the page (the category was a filter on every case of the community's stage).
    op.create_index('ix_dibao_case_region_id_stage_category', 'dibao_case', ['region_id', 'stage', 'category'])
    op.drop_index('ix_dibao_case_region_id_stage', table_name='dibao_case')
    # Single-column indexes that are the first column of a composite one: every lookup they served the composite
    # serves, and each is one more index to write when a case changes stage (a board moves thousands at once).
    op.drop_index('ix_dibao_case_region_id', table_name='dibao_case')  # (region_id, stage, category)
    op.drop_index('ix_dibao_case_stage', table_name='dibao_case')  # (stage, next_review_due)


def downgrade() -> None:
    op.create_index('ix_dibao_case_stage', 'dibao_case', ['stage'])
    op.create_index('ix_dibao_case_region_id', 'dibao_case', ['region_id'])
    op.create_index('ix_dibao_case_region_id_stage', 'dibao_case', ['region_id', 'stage'])
    op.drop_index('ix_dibao_case_region_id_stage_category', table_name='dibao_case')
    op.drop_index('ix_dibao_case_undecided_updated_at', table_name='dibao_case')
    op.drop_index('ix_dibao_case_undecided_region_id', table_name='dibao_case')
