"""objections and reports: evidence photos, submission idempotency keys, check / notification times

Revision ID: 0005_feedback_evidence
Revises: 0002_cases_notices
"""

from alembic import op
import sqlalchemy as sa
import dibao.db


revision = '0005_feedback_evidence'
down_revision = '0002_cases_notices'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('objection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('checked_at', dibao.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('notified_at', dibao.db.UTCDateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_objection_idempotency_key'), ['idempotency_key'])

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entry_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('about', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('checked_at', dibao.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('notified_at', dibao.db.UTCDateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_report_idempotency_key'), ['idempotency_key'])
        batch_op.create_index(batch_op.f('ix_report_entry_id'), ['entry_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_report_entry_id_notice_entry'), 'notice_entry',
                                    ['entry_id'], ['id'])

    op.create_table('feedback_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('objection_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('media_key', sa.String(length=80), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', dibao.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('(objection_id IS NULL) <> (report_id IS NULL)', name=op.f('ck_feedback_evidence_one_parent')),
    sa.ForeignKeyConstraint(['objection_id'], ['objection.id'], name=op.f('fk_feedback_evidence_objection_id_objection'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_feedback_evidence_report_id_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_evidence'))
    )
    with op.batch_alter_table('feedback_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_evidence_objection_id'), ['objection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_evidence_report_id'), ['report_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('feedback_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_evidence_report_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_evidence_objection_id'))
    op.drop_table('feedback_evidence')

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_report_entry_id_notice_entry'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_report_entry_id'))
        batch_op.drop_constraint(batch_op.f('uq_report_idempotency_key'), type_='unique')
        batch_op.drop_column('notified_at')
        batch_op.drop_column('checked_at')
        batch_op.drop_column('idempotency_key')
        batch_op.drop_column('about')
        batch_op.drop_column('entry_id')

    with op.batch_alter_table('objection', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_objection_idempotency_key'), type_='unique')
        batch_op.drop_column('notified_at')
        batch_op.drop_column('checked_at')
        batch_op.drop_column('idempotency_key')
