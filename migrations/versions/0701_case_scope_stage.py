"""ix_dibao_case_region_id_stage: cases by community and stage, for the scoped counts and worklists (issue 13)

Revision ID: 0701_case_scope_stage
Revises: 0700_public_version
Create Date: 2026-11-26 17:35:00
"""

from alembic import op

revision = '0701_case_scope_stage'
down_revision = '0700_public_version'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A user's scope is a set of communities (region_id IN …) and the dashboard counts and the open-cases list
    # ask for a few stages in it: one index probe per community and stage instead of a scan of every case of the
    # stage in the province (EXPLAIN in docs/performance.md, "Province scale").
    op.create_index('ix_dibao_case_region_id_stage', 'dibao_case', ['region_id', 'stage'])


def downgrade() -> None:
    op.drop_index('ix_dibao_case_region_id_stage', table_name='dibao_case')
