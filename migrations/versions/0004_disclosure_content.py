"""disclosure policy rows and 四公开 content pages

Revision ID: 0004_disclosure_content
Revises: 0002_cases_notices
"""

from alembic import op
import sqlalchemy as sa
import dibao.db


revision = '0004_disclosure_content'
down_revision = '0002_cases_notices'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('disclosure_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', dibao.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_disclosure_rule_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_rule')),
    sa.UniqueConstraint('channel', 'field', name='uq_disclosure_rule_channel_field')
    )
    op.create_table('content_page',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', dibao.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_content_page_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_page')),
    sa.UniqueConstraint('slug', name=op.f('uq_content_page_slug'))
    )


def downgrade() -> None:
    op.drop_table('content_page')
    op.drop_table('disclosure_rule')
