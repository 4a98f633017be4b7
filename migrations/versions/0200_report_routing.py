"""reports about staff conduct name the office (region) and the account reported

Revision ID: 0200_report_routing
Revises: 0200_settings_county
Create Date: 2026-11-27 09:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0200_report_routing'
down_revision = '0200_settings_county'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_region_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reported_user_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_report_reported_region_id_region'), 'region', ['reported_region_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_report_reported_user_id_user_account'), 'user_account', ['reported_user_id'], ['id'])
    # Staff reports filed before: the office is the region the resident chose; they move to the level above it.
    op.execute("UPDATE report SET reported_region_id = region_id WHERE subject = 'staff'")
    op.execute("UPDATE report SET region_id = (SELECT COALESCE(r.parent_id, r.id) FROM region r "
               "WHERE r.id = report.reported_region_id) WHERE subject = 'staff'")


def downgrade() -> None:
    op.execute("UPDATE report SET region_id = reported_region_id WHERE subject = 'staff' "
               "AND reported_region_id IS NOT NULL")
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_report_reported_user_id_user_account'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_report_reported_region_id_region'), type_='foreignkey')
        batch_op.drop_column('reported_user_id')
        batch_op.drop_column('reported_region_id')
