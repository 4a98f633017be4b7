"""zero-amount override: the written reason for approving a household whose computed amount is 0, on the
opinion and in the notice snapshot (issue 9, item 3)

Revision ID: 0100_zero_amount_override
Revises: 0600_jobs (chained after main's head when main was merged)
Create Date: 2026-11-27 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0100_zero_amount_override'
down_revision = '0600_jobs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_opinion', schema=None) as batch_op:
        batch_op.add_column(sa.Column('override_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('notice_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opinion_override_reason', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('notice_entry', schema=None) as batch_op:
        batch_op.drop_column('opinion_override_reason')
    with op.batch_alter_table('case_opinion', schema=None) as batch_op:
        batch_op.drop_column('override_reason')
