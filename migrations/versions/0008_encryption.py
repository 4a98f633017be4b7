"""encryption at rest: resident ID numbers encrypted (dibao.crypto), with a keyed hash beside each for lookups

Revision ID: 0008_encryption
Revises: 0007_house
Create Date: 2026-11-26 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008_encryption'
down_revision = '0007_house'
branch_labels = None
depends_on = None


def _rewrite(table: str, column: str, hash_column: str, encrypt: bool) -> None:
    """Encrypt (or decrypt) every stored value and set its keyed hash, row by row (the data key is the app's)."""
    from dibao import crypto

    conn = op.get_bind()
    rows = conn.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")).all()
    for row_id, value in rows:
        plain = crypto.decrypt(value)
        stored = crypto.encrypt(plain) if encrypt else plain
        params = {"id": row_id, "v": stored, "h": crypto.blind_index(plain) if encrypt else None}
        sets = f"{column} = :v" + (f", {hash_column} = :h" if encrypt else "")
        conn.execute(sa.text(f"UPDATE {table} SET {sets} WHERE id = :id"), params)


def upgrade() -> None:
    with op.batch_alter_table('dibao_case', schema=None) as batch_op:
        batch_op.alter_column('head_id_number', existing_type=sa.String(length=18), type_=sa.Text(),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('head_id_hash', sa.String(length=64), nullable=True))
    with op.batch_alter_table('case_member', schema=None) as batch_op:
        batch_op.alter_column('id_number', existing_type=sa.String(length=18), type_=sa.Text(),
                              existing_nullable=True)
        batch_op.add_column(sa.Column('id_number_hash', sa.String(length=64), nullable=True))
    _rewrite('dibao_case', 'head_id_number', 'head_id_hash', encrypt=True)
    _rewrite('case_member', 'id_number', 'id_number_hash', encrypt=True)
    with op.batch_alter_table('dibao_case', schema=None) as batch_op:
        batch_op.alter_column('head_id_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f('ix_dibao_case_head_id_hash'), ['head_id_hash'], unique=False)
    with op.batch_alter_table('case_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_member_id_number_hash'), ['id_number_hash'], unique=False)


def downgrade() -> None:
    _rewrite('dibao_case', 'head_id_number', 'head_id_hash', encrypt=False)
    _rewrite('case_member', 'id_number', 'id_number_hash', encrypt=False)
    with op.batch_alter_table('case_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_member_id_number_hash'))
        batch_op.drop_column('id_number_hash')
        batch_op.alter_column('id_number', existing_type=sa.Text(), type_=sa.String(length=18), existing_nullable=True)
    with op.batch_alter_table('dibao_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dibao_case_head_id_hash'))
        batch_op.drop_column('head_id_hash')
        batch_op.alter_column('head_id_number', existing_type=sa.Text(), type_=sa.String(length=18),
                              existing_nullable=False)
