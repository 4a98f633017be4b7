"""payment accounts: where each household is paid (number encrypted at rest, keyed hash for look-ups)

Revision ID: 0011_payment_accounts
Revises: 0010_attachments
Create Date: 2026-11-26 15:00:00
"""

from alembic import op
import sqlalchemy as sa
import dibao.crypto
import dibao.db


revision = '0011_payment_accounts'
down_revision = '0010_attachments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('bank_card', 'social_security_card', 'benefit_card', name='accountkind', native_enum=False, length=32), nullable=False),
    sa.Column('bank_name', sa.String(length=100), nullable=False),
    sa.Column('holder_name', sa.String(length=50), nullable=False),
    sa.Column('number', dibao.crypto.EncryptedString(), nullable=False),
    sa.Column('number_hash', sa.String(length=64), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_name', sa.String(length=100), nullable=False),
    sa.Column('updated_at', dibao.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['dibao_case.id'], name=op.f('fk_payment_account_case_id_dibao_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_payment_account_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_account')),
    sa.UniqueConstraint('case_id', name=op.f('uq_payment_account_case_id'))
    )
    with op.batch_alter_table('payment_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_account_number_hash'), ['number_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payment_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_account_number_hash'))
    op.drop_table('payment_account')
