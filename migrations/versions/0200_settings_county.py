"""settings belong to a county: disclosure rules and content pages carry their county (existing rows go to
every county there is, so nothing shown changes)

Revision ID: 0200_settings_county
Revises: 0200_staff_sessions
Create Date: 2026-11-27 09:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0200_settings_county'
down_revision = '0200_staff_sessions'
branch_labels = None
depends_on = None

TABLES = {
    # table: (columns copied, old unique constraint, old unique columns, new unique constraint, new columns)
    'disclosure_rule': ('channel, field, mode, updated_by_id, updated_at', 'uq_disclosure_rule_channel_field',
                        ['channel', 'field'], 'uq_disclosure_rule_region_channel_field',
                        ['region_id', 'channel', 'field']),
    'content_page': ('slug, title, body, position, updated_by_id, updated_at', 'uq_content_page_slug', ['slug'],
                     'uq_content_page_region_slug', ['region_id', 'slug']),
}


def upgrade() -> None:
    for table, (columns, old_uq, _old_cols, new_uq, new_cols) in TABLES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('region_id', sa.Integer(), nullable=True))
            batch_op.drop_constraint(old_uq, type_='unique')
        # The one deployment-wide row becomes each county's own row.
        op.execute(f"INSERT INTO {table} (region_id, {columns}) SELECT r.id, {', '.join('t.' + c.strip() for c in columns.split(','))} "
                   f"FROM {table} t CROSS JOIN region r WHERE t.region_id IS NULL AND r.parent_id IS NULL")
        op.execute(f"DELETE FROM {table} WHERE region_id IS NULL")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_region_id_region'), 'region', ['region_id'], ['id'])
            batch_op.create_index(batch_op.f(f'ix_{table}_region_id'), ['region_id'], unique=False)
            batch_op.create_unique_constraint(new_uq, new_cols)


def downgrade() -> None:
    for table, (_columns, old_uq, old_cols, new_uq, _new_cols) in TABLES.items():
        # One deployment-wide row again: the first county's.
        op.execute(f"DELETE FROM {table} WHERE region_id <> (SELECT MIN(id) FROM region WHERE parent_id IS NULL)")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(new_uq, type_='unique')
            batch_op.drop_index(batch_op.f(f'ix_{table}_region_id'))
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_region_id_region'), type_='foreignkey')
            batch_op.drop_column('region_id')
            batch_op.create_unique_constraint(old_uq, old_cols)
