"""ix_dibao_case_stage_next_review_due: households whose review date has come (issue 13)

Revision ID: 0702_case_review_due
Revises: 0701_case_scope_stage
Create Date: 2026-11-26 18:25:00
"""

from alembic import op

revision = '0702_case_review_due'
down_revision = '0701_case_scope_stage'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "Review date come" (reviews.due_count, the worklist's buckets) asks for active households with a date up to
    # today: a range on this index instead of a scan of the province's cases (EXPLAIN in docs/performance.md).
    op.create_index('ix_dibao_case_stage_next_review_due', 'dibao_case', ['stage', 'next_review_due'])


def downgrade() -> None:
    op.drop_index('ix_dibao_case_stage_next_review_due', table_name='dibao_case')
