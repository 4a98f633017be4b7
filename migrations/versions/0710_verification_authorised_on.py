"""economic-status checks: the day the family signed the written authorisation

A 14, B 11: the civil-affairs economic-status check asks other agencies only with the family's written
authorisation (授权书). A check requested from now on says the day its members signed it
(``verification.authorised_on``); checks requested before keep NULL (the form did not ask).

Revision ID: 0710_verification_authorised_on
Revises: 0709_visit_unsigned_grace_months
Create Date: 2026-11-28 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0710_verification_authorised_on'
down_revision = '0709_visit_unsigned_grace_months'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('verification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('authorised_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('verification', schema=None) as batch_op:
        batch_op.drop_column('authorised_on')
