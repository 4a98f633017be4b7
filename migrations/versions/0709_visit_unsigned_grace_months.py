"""home visits: why the family did not sign; grace records: the months granted

A 15–16: investigators and the family sign the home-visit record. A visit the family did not sign now says why
(``home_visit.unsigned_reason``); visits recorded before keep NULL (they were recorded under the old form).

A 33: the grace periods (渐退期) of one approval add up to at most 6 months, so each grant's months are kept on its
record (``case_record.months``). Grants recorded before are filled in from their ``grace_started`` audit events
(the n-th grace record of a case is the n-th such event of that case); a grant without its event keeps NULL.

Revision ID: 0709_visit_unsigned_grace_months
Revises: 0708_clean_stored_names
Create Date: 2026-11-29 09:00:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0709_visit_unsigned_grace_months'
down_revision = '0708_clean_stored_names'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('home_visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsigned_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('months', sa.Integer(), nullable=True))

    bind = op.get_bind()
    records: dict[str, list[int]] = {}
    for record_id, case_id in bind.execute(sa.text(
            "SELECT id, case_id FROM case_record WHERE kind = 'grace' ORDER BY case_id, created_at, id")):
        records.setdefault(str(case_id), []).append(record_id)
    if not records:
        return
    months: dict[str, list[int | None]] = {}
    for object_id, details in bind.execute(sa.text(
            "SELECT object_id, details FROM audit_event WHERE action = 'grace_started' AND object_type = 'case' "
            "ORDER BY at, id")):
        try:
            value = json.loads(details or "{}").get("months")
        except (ValueError, AttributeError):
            value = None
        months.setdefault(str(object_id), []).append(value if isinstance(value, int) else None)
    update = sa.text("UPDATE case_record SET months = :months WHERE id = :id")
    for case_id, ids in records.items():
        for record_id, value in zip(ids, months.get(case_id, []), strict=False):
            if value is not None:
                bind.execute(update, {"months": value, "id": record_id})


def downgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_column('months')
    with op.batch_alter_table('home_visit', schema=None) as batch_op:
        batch_op.drop_column('unsigned_reason')
