"""house: one history again (merge the four heads); check_record becomes case_record

Revision ID: 0007_house
Revises: 0003_case_records, 0004_disclosure_content, 0005_feedback_evidence, 0006_kiosks
Create Date: 2026-11-26 09:00:00
"""

from alembic import op
import sqlalchemy as sa
import dibao.db


revision = '0007_house'
down_revision = ('0003_case_records', '0004_disclosure_content', '0005_feedback_evidence', '0006_kiosks')
branch_labels = None
depends_on = None

COLUMNS = ("id, case_id, kind, findings, category_before, category_after, amount_before, amount_after, "
           "author_id, author_name, created_at")


def _create(name: str, kind_name: str) -> None:
    op.create_table(name,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('town_check', 'periodic_review', 'grace', 'adjustment', name=kind_name, native_enum=False, length=32), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('category_before', sa.Integer(), nullable=True),
    sa.Column('category_after', sa.Integer(), nullable=True),
    sa.Column('amount_before', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('amount_after', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=100), nullable=False),
    sa.Column('created_at', dibao.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f(f'fk_{name}_author_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['dibao_case.id'], name=op.f(f'fk_{name}_case_id_dibao_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}'))
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{name}_case_id'), ['case_id'], unique=False)


def _move(old: str, new: str, kind_name: str) -> None:
    # A new table and a copy (not a rename), so that its constraints and index carry the new name on both
    # engines; the ids are kept, and PostgreSQL's sequence continues after them.
    _create(new, kind_name)
    op.execute(f"INSERT INTO {new} ({COLUMNS}) SELECT {COLUMNS} FROM {old}")
    op.drop_table(old)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('{new}', 'id'), COALESCE(MAX(id), 0) + 1, false) "
                   f"FROM {new}")


def upgrade() -> None:
    _move('check_record', 'case_record', 'recordkind')


def downgrade() -> None:
    _move('case_record', 'check_record', 'checkkind')
