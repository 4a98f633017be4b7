"""attachments: the files attached to a case are 材料 (Attachment); "Document" is the glossary's 文书

Revision ID: 0010_attachments
Revises: 0009_amount_periods
Create Date: 2026-11-26 14:00:00
"""

from alembic import op
import sqlalchemy as sa
import dibao.db


revision = '0010_attachments'
down_revision = '0009_amount_periods'
branch_labels = None
depends_on = None

COLUMNS = ("id, case_id, title, media_key, content_type, original_name, size_bytes, uploaded_by_id, "
           "uploaded_by_name, created_at")


def _create(name: str) -> None:
    op.create_table(name,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('media_key', sa.String(length=80), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('original_name', sa.String(length=200), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_by_name', sa.String(length=100), nullable=False),
    sa.Column('created_at', dibao.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['dibao_case.id'], name=op.f(f'fk_{name}_case_id_dibao_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f(f'fk_{name}_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}'))
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{name}_case_id'), ['case_id'], unique=False)


def _move(old: str, new: str) -> None:
    # A new table and a copy (see 0007): constraint and index names follow the table on both engines.
    _create(new)
    op.execute(f"INSERT INTO {new} ({COLUMNS}) SELECT {COLUMNS} FROM {old}")
    op.drop_table(old)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('{new}', 'id'), COALESCE(MAX(id), 0) + 1, false) "
                   f"FROM {new}")


def upgrade() -> None:
    _move('case_document', 'case_attachment')


def downgrade() -> None:
    _move('case_attachment', 'case_document')
