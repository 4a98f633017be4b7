"""amount periods: the amount in force for each household, month by month (what payment runs read)

Revision ID: 0009_amount_periods
Revises: 0008_encryption
Create Date: 2026-11-26 13:00:00

Existing households get their history back from what is on file: an approved household's amount from its
payment start; an adjustment from the month after it was recorded; an exit stops payment the month after it.
"""

from datetime import UTC, date, datetime

from alembic import op
import sqlalchemy as sa
import dibao.db


revision = '0009_amount_periods'
down_revision = '0008_encryption'
branch_labels = None
depends_on = None


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _day(value) -> date:
    if isinstance(value, str):  # SQLite returns text
        return date.fromisoformat(value[:10])
    return value if isinstance(value, date) and not hasattr(value, "hour") else value.date()


def _instant(value) -> datetime:
    """A stored UTC timestamp (naive; text on SQLite) as the aware datetime the column type takes."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def upgrade() -> None:
    table = op.create_table('amount_period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('change', sa.Enum('approved', 'adjusted', 'standard_raised', 'reviewed', 'household_changed', 'transferred', 'suspended', 'resumed', 'exited', name='amountchange', native_enum=False, length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_name', sa.String(length=100), nullable=False),
    sa.Column('created_at', dibao.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['dibao_case.id'], name=op.f('fk_amount_period_case_id_dibao_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_amount_period_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_amount_period'))
    )
    with op.batch_alter_table('amount_period', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amount_period_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_amount_period_starts_on'), ['starts_on'], unique=False)

    conn = op.get_bind()
    rows = []
    adjustments = conn.execute(sa.text(
        "SELECT case_id, amount_before, amount_after, findings, author_name, created_at FROM case_record "
        "WHERE kind = 'adjustment' AND amount_after IS NOT NULL ORDER BY id")).all()
    # The amount approved: what the first adjustment started from, or (never adjusted) the amount on file.
    first_amount = {}
    for case_id, before, *_rest in adjustments:
        first_amount.setdefault(case_id, before)
    cases = conn.execute(sa.text(
        "SELECT id, payment_start, monthly_amount, approved_at, stage, stage_changed_at, exit_reason "
        "FROM dibao_case WHERE approved_at IS NOT NULL AND payment_start IS NOT NULL")).all()
    for case_id, start, amount, approved_at, stage, changed_at, exit_reason in cases:
        approved = first_amount.get(case_id, amount) or 0
        rows.append({"case_id": case_id, "starts_on": _day(start), "amount": approved, "change": "approved",
                     "reason": "", "created_by_name": "系统", "created_at": _instant(approved_at)})
        if stage == "exited":
            rows.append({"case_id": case_id, "starts_on": _next_month(_day(changed_at)), "amount": 0,
                         "change": "exited", "reason": exit_reason or "", "created_by_name": "系统",
                         "created_at": _instant(changed_at)})
    for case_id, _before, amount, findings, author, created_at in adjustments:
        rows.append({"case_id": case_id, "starts_on": _next_month(_day(created_at)), "amount": amount,
                     "change": "adjusted", "reason": findings, "created_by_name": author,
                     "created_at": _instant(created_at)})
    if rows:
        # In the order they were decided (an exit after everything else of its instant): the newest row wins.
        op.bulk_insert(table, sorted(rows, key=lambda r: (r["case_id"], r["starts_on"], r["created_at"],
                                                          r["change"] == "exited")))


def downgrade() -> None:
    with op.batch_alter_table('amount_period', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amount_period_starts_on'))
        batch_op.drop_index(batch_op.f('ix_amount_period_case_id'))
    op.drop_table('amount_period')
