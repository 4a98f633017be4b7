"""standards: the calculation method (差额 or 分档) and a tiered standard's tiers; a case's chosen tier

REGULATIONS "Amount" (A 23): the amount is the gap to the standard or a tiered amount (分档), the county's choice.
Every standard recorded before is a gap standard (server default 'gap'); no case has a tier.

Revision ID: 0804_standard_tiers
Revises: 0710_verification_authorised_on
Create Date: 2026-11-30 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0804_standard_tiers'
down_revision = '0710_verification_authorised_on'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dibao_standard', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.Enum('gap', 'tiered', name='standardmethod', native_enum=False,
                                                        length=32),
                                      server_default='gap', nullable=False))
    op.create_table('dibao_standard_tier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('share_percent', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['standard_id'], ['dibao_standard.id'],
                            name=op.f('fk_dibao_standard_tier_standard_id_dibao_standard'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dibao_standard_tier')),
    sa.UniqueConstraint('standard_id', 'name', name=op.f('uq_dibao_standard_tier_standard_id'))
    )
    with op.batch_alter_table('dibao_standard_tier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dibao_standard_tier_standard_id'), ['standard_id'], unique=False)
    with op.batch_alter_table('dibao_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier_name', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('tier_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('dibao_case', schema=None) as batch_op:
        batch_op.drop_column('tier_reason')
        batch_op.drop_column('tier_name')
    with op.batch_alter_table('dibao_standard_tier', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dibao_standard_tier_standard_id'))
    op.drop_table('dibao_standard_tier')
    with op.batch_alter_table('dibao_standard', schema=None) as batch_op:
        batch_op.drop_column('method')
