"""cases: the four search indexes only where they serve the search — PostgreSQL's trigram GIN (issue 12)

On SQLite they were plain B-tree indexes: the staff search (LIKE '%…%') cannot use them (EXPLAIN QUERY PLAN:
SCAN dibao_case), the case-number prefix count has the unique index on number, and no query looks a household up
by its head's name, address or phone. They cost a write on every new household (a tenth of a roster import's
insert) for nothing.

Revision ID: 0706_sqlite_search_indexes
Revises: 0704_case_undecided
Create Date: 2026-11-27 03:20:00
"""

from alembic import op

revision = '0706_sqlite_search_indexes'
down_revision = '0704_case_undecided'
branch_labels = None
depends_on = None

COLUMNS = ("head_name", "number", "address", "head_phone")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    for col in COLUMNS:
        op.drop_index(f"ix_dibao_case_{col}_trgm", table_name="dibao_case")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    for col in COLUMNS:
        op.create_index(f"ix_dibao_case_{col}_trgm", "dibao_case", [col])
