"""clean stored names: person names written before dibao.text, rewritten as they are stored today

A clerk's search for 张三 did not find 张　三 (full-width space), 王\\u200b五 (zero-width space) or 李\\u202e四
(bidi override): names are normalised where they enter since dibao.text, but rows written before were not. The
working records are rewritten: households (head, members, member changes), online applications (head, proxy,
members), payment account holders, review panel members, staff display names; region names lose their control
characters. Never rewritten: notice entries (their batch's fingerprint covers the name), audit events (hash
chain), issued documents and the records of visits and meetings (what was signed) — the mask and the screens
already count only the characters a reader sees there.

A name with nothing left after cleaning (or longer than its column after NFKC) is left as it is and counted:
an empty name is worse than a padded one; staff correct it by hand.

Revision ID: 0708_clean_stored_names
Revises: 0707_roster_summary
Create Date: 2026-11-28 09:00:00
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0708_clean_stored_names'
down_revision = '0707_roster_summary'
branch_labels = None
depends_on = None

# --- dibao.text as of this revision, frozen: a migration must do tomorrow what it did today -------------------

_MIDDLE_DOT = "\u00b7"
_DOT_LOOKALIKES = frozenset("\u30fb\u2022\u2027\uff65\u2219\u22c5")
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u2800\u17b4\u17b5")
_CONTROL = ("Cc", "Cf")
_SPACES = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x1f\x85")


def _alphabetic(ch: str) -> bool:
    code = ord(ch)
    return ch.isalpha() and (code < 0x0590 or 0x1E00 <= code <= 0x1FFF)


def normalise_name(value: str | None) -> str:
    text = unicodedata.normalize("NFKC", value or "")
    if text.isalnum() and _INVISIBLE.isdisjoint(text):
        return text
    out: list[str] = []
    gap = False
    for ch in text:
        if ch.isspace():
            gap = True
            continue
        if ch in _INVISIBLE or unicodedata.category(ch) in _CONTROL:
            continue
        if ch in _DOT_LOOKALIKES:
            ch = _MIDDLE_DOT
        if ch == _MIDDLE_DOT:
            if out and out[-1] != _MIDDLE_DOT:
                out.append(ch)
        else:
            if gap and out and _alphabetic(out[-1]) and _alphabetic(ch):
                out.append(" ")
            out.append(ch)
        gap = False
    while out and out[-1] == _MIDDLE_DOT:
        out.pop()
    return "".join(out)


def clean_line(value: str | None) -> str:
    if not value:
        return ""
    if value.isprintable():
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for ch in value:
        if ch in _SPACES:
            out.append(" ")
        elif unicodedata.category(ch) not in _CONTROL:
            out.append(ch)
    return "".join(out)


def _clean_region_name(value: str | None) -> str:
    return clean_line(value).strip()


# table, column, length, cleaning
COLUMNS = (
    ("dibao_case", "head_name", 50, normalise_name),
    ("case_member", "name", 50, normalise_name),
    ("member_change", "member_name", 50, normalise_name),
    ("application", "head_name", 50, normalise_name),
    ("application", "proxy_name", 50, normalise_name),
    ("application_member", "name", 50, normalise_name),
    ("payment_account", "holder_name", 50, normalise_name),
    ("panel_member", "name", 50, normalise_name),
    ("user_account", "display_name", 100, normalise_name),
    ("region", "name", 100, _clean_region_name),
)
BATCH = 1000


def upgrade() -> None:
    conn = op.get_bind()
    cleaned, kept = 0, []
    for table, column, length, clean in COLUMNS:
        t = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.String))
        col = t.c[column]
        changes = []
        rows = conn.execute(sa.select(t.c.id, col).where(col.is_not(None)).execution_options(yield_per=BATCH))
        for row_id, value in rows:
            new = clean(value)
            if new == value:
                continue
            if not new or len(new) > length:
                kept.append(f"{table}.{column} #{row_id}")
                continue
            changes.append({"row_id": row_id, "value": new})
        update = t.update().where(t.c.id == sa.bindparam("row_id")).values({column: sa.bindparam("value")})
        for start in range(0, len(changes), BATCH):
            conn.execute(update, changes[start:start + BATCH])
        cleaned += len(changes)
    if cleaned:
        # Core statements skip dibao.cache's ORM listeners: a new version for every county, so no cached page outlives it.
        conn.execute(sa.text("INSERT INTO public_version (scope, version) VALUES ('', 1) "
                             "ON CONFLICT (scope) DO UPDATE SET version = public_version.version + 1"))
    if cleaned or kept:
        listed = ", ".join(kept[:20]) + (" …" if len(kept) > 20 else "")
        print(f"clean stored names: {cleaned} cleaned; {len(kept)} left as they are (nothing left after "
              f"cleaning, or too long){': ' + listed if kept else ''}")


def downgrade() -> None:
    pass  # nothing to undo: the padding and invisible characters removed were never part of a name
