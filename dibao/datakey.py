"""Rotating the data key: ``dibao keys rotate-data``.

The data key (dibao.crypto) encrypts ID numbers and payment accounts at rest and keys their blind indexes. If it
leaks, every copy of the database stays readable until the values are sealed under another key. :func:`rotate`
does that in the caller's one transaction: every ``EncryptedString`` column of the metadata is re-encrypted and its
blind index (named by the column's ``info={"blind_index": …}``) recomputed under the new key. Values are read with
both keys, so a run that stopped half-way (before or after its commit) is finished by running it again; legacy
``enc1`` and unprefixed values come out as ``enc2`` too.

The command around it keeps the key files consistent with the database at every step: the new key is on disk
(``instance/data_key.next``) before any value depends on it, and ``instance/data_key`` always holds a key — the
old one until the commit, the new one after (see :func:`rotate_data_command`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, MetaData, Table, Text, bindparam, func, or_, select, text, type_coerce, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from dibao import audit, clock, crypto, db, keys
from dibao.crypto import DataKey, EncryptedString, KeyMissing
from dibao.errors import DomainError, Invalid

CHUNK = 1000  # rows read and written at a time: constant memory whatever the county's size
SAMPLE = 5  # rows per table read back after the commit, from each end
ACTION = "data_key_rotated"
KEY_FILE = "data_key"
PENDING = "data_key.next"
RETIRED = "data_key.retired-"


@dataclass(frozen=True)
class Sealed:
    """An encrypted column and, when it has one, the column holding its blind index."""

    table: Table
    column: Column
    index: Column | None

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"


def sealed_columns(metadata: MetaData | None = None) -> list[Sealed]:
    """Every ``EncryptedString`` column of the models, found by its type (a new one is rotated without being
    listed anywhere), with the blind index its ``info`` names."""
    if metadata is None:
        import dibao.models  # noqa: F401 - every model on the metadata

        metadata = db.Base.metadata
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedString):
                index = column.info.get("blind_index")
                found.append(Sealed(table, column, table.c[index] if index else None))
    return found


@dataclass
class Rotation:
    key_id: str  # the new key's public name (DataKey.id), never the key
    previous_key_ids: list[str]
    values: dict[str, int] = field(default_factory=dict)  # per table.column: values now sealed under the new key
    already_new: int = 0  # values the new key opened already: an earlier run had committed
    legacy: int = 0  # enc1 (Fernet) or unprefixed values, now enc2

    @property
    def total(self) -> int:
        return sum(self.values.values())


def _by_table(sealed: list[Sealed]) -> list[tuple[Table, list[Sealed]]]:
    tables: dict[str, tuple[Table, list[Sealed]]] = {}
    for item in sealed:
        tables.setdefault(item.table.name, (item.table, []))[1].append(item)
    return list(tables.values())


def _primary_key(table: Table) -> Column:
    (pk,) = table.primary_key.columns  # keyset pagination needs one ordered key
    return pk


def _any_value(columns: list[Sealed]):
    return or_(*(c.column.is_not(None) for c in columns))


def _open(stored: str, ring: list[DataKey], where: tuple[str, object, str]) -> tuple[str, DataKey]:
    """The plain text of ``stored`` and the key that opened it; the key that worked last is tried first (a run
    meets long stretches under one key)."""
    for n, key in enumerate(ring):
        try:
            plain = key.decrypt(stored)
        except KeyMissing:
            continue
        if n:
            ring.insert(0, ring.pop(n))
        return plain, key
    table, row_id, column = where
    raise Invalid(_l("表 %(table)s 第 %(id)s 行的 %(column)s 用现在的数据密钥和新密钥都解不开（被改动过，或用别的密钥写入）："
                     "密钥没有更换，数据没有改动。", table=table, id=row_id, column=column))


def _lock(conn: Connection, tables: list[Table]) -> None:
    """PostgreSQL: no other writer between the first chunk and the commit (one would write under the old key
    behind the rotation). SQLite: the command's transaction began IMMEDIATE, which already shuts writers out."""
    if conn.dialect.name == "postgresql" and tables:
        names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
        conn.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))


def rotate(session: Session, current_keys: Sequence[str], new_key: str,
           progress: Callable[[int, int], None] | None = None) -> Rotation:
    """Seal every encrypted value under ``new_key`` and recompute every blind index with it, in the caller's
    transaction (the caller commits once, or rolls back: all or nothing), and record one audit event.

    Values are opened with ``current_keys`` or ``new_key``, so running it again after an interrupted run finishes
    the job whether or not that run committed. A value no key opens raises :class:`Invalid` naming its row; the
    caller must then roll back."""
    new = DataKey(new_key)
    previous = [DataKey(k) for k in dict.fromkeys(current_keys)]
    previous = [k for k in previous if k.id != new.id]
    ring = [*previous, new]
    result = Rotation(new.id, [k.id for k in previous])
    tables = _by_table(sealed_columns())
    conn = session.connection()
    _lock(conn, [t for t, _ in tables])
    total = sum(conn.execute(select(func.count()).select_from(t).where(_any_value(cols))).scalar_one()
                for t, cols in tables)
    done = 0
    if progress:
        progress(done, total)
    for table, cols in tables:
        pk = _primary_key(table)
        for c in cols:
            result.values[c.name] = 0
        # The stored text as it is: the column type would decrypt and re-encrypt with the process's key.
        read = (select(pk, *(type_coerce(c.column, Text) for c in cols)).where(_any_value(cols))
                .order_by(pk).limit(CHUNK))
        values: dict = {c.column.key: bindparam(f"v_{n}", type_=Text) for n, c in enumerate(cols)}
        values.update({c.index.key: bindparam(f"h_{n}", type_=c.index.type) for n, c in enumerate(cols)
                       if c.index is not None})
        write = update(table).where(pk == bindparam("row_id")).values(values)
        last = None
        while True:
            rows = conn.execute(read if last is None else read.where(pk > last)).all()
            if not rows:
                break
            params = []
            for row in rows:
                row_params = {"row_id": row[0]}
                for n, c in enumerate(cols):
                    stored = row[n + 1]
                    plain = None
                    if stored is not None:
                        plain, opener = _open(stored, ring, (table.name, row[0], c.column.name))
                        result.values[c.name] += 1
                        if not stored.startswith(crypto.PREFIX):
                            result.legacy += 1
                        elif opener is new:
                            result.already_new += 1
                    row_params[f"v_{n}"] = None if plain is None else new.encrypt(plain)
                    if c.index is not None:
                        row_params[f"h_{n}"] = new.blind_index(plain)
                params.append(row_params)
            conn.execute(write, params)
            last = rows[-1][0]
            done += len(rows)
            if progress:
                progress(done, total)
    audit.record(session, None, ACTION, "data_key", new.id, details={
        "key": new.id, "previous_keys": result.previous_key_ids, "values": result.values,
        "legacy": result.legacy, "already_new": result.already_new})
    return result


@dataclass
class Check:
    checked: int = 0
    problems: list[str] = field(default_factory=list)


def check(session: Session, sample: int = SAMPLE) -> Check:
    """Read back the first and last ``sample`` rows of every table with encrypted values, with the process's key:
    each value is enc2, decrypts, and its blind index matches."""
    report = Check()
    conn = session.connection()
    for table, cols in _by_table(sealed_columns()):
        pk = _primary_key(table)
        columns = [pk]
        for c in cols:
            columns += [type_coerce(c.column, Text), *([c.index] if c.index is not None else [])]
        base = select(*columns).where(_any_value(cols))
        rows = {row[0]: row for order in (pk.asc(), pk.desc())
                for row in conn.execute(base.order_by(order).limit(sample))}
        for row in rows.values():
            at = 1
            for c in cols:
                stored, digest = row[at], (row[at + 1] if c.index is not None else None)
                at += 2 if c.index is not None else 1
                if stored is None:
                    continue
                report.checked += 1
                where = f"{c.name} row {row[0]}"
                if not stored.startswith(crypto.PREFIX):
                    report.problems.append(f"{where}: not enc2")
                    continue
                try:
                    plain = crypto.decrypt(stored)
                except KeyMissing:
                    report.problems.append(f"{where}: does not decrypt with the new key")
                    continue
                if c.index is not None and crypto.blind_index(plain) != digest:
                    report.problems.append(f"{where}: its blind index {c.index.name} does not match")
    return report


# --- the key files -------------------------------------------------------------------------------------------

def _retire(instance: Path, old: str) -> Path:
    """A copy of the old key beside the new one (an earlier interrupted run's copy when there is one)."""
    for path in sorted(instance.glob(RETIRED + "*")):
        if path.read_text().strip() == old:
            return path
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")  # clock.now() is UTC
    path, n = instance / f"{RETIRED}{stamp}", 1
    while path.exists():
        n += 1
        path = instance / f"{RETIRED}{stamp}-{n}"
    keys.write_private(path, old)
    return path


def _install(instance: Path, old: str) -> Path:
    """After the commit: the old key aside, then data_key.next → data_key in one rename, so data_key always
    holds a key (a missing one would be generated afresh at the next start)."""
    retired = _retire(instance, old)
    os.replace(instance / PENDING, instance / KEY_FILE)
    keys.sync_dir(instance)
    return retired


# --- the command -------------------------------------------------------------------------------------------

@click.group("keys", help="Keys kept outside the database.")
def keys_group() -> None:
    pass


@keys_group.command("rotate-data")
@click.option("--new-key", default=None,
              help="The new data key, from your secret store (required, and only allowed, when DIBAO_DATA_KEY is "
                   "set). Make one with: python -c 'from cryptography.fernet import Fernet; "
                   "print(Fernet.generate_key().decode())'")
@click.option("--yes", is_flag=True, help="Do not ask: the service (every web and worker process) is stopped.")
@with_appcontext
def rotate_data_command(new_key: str | None, yes: bool) -> None:
    """Re-encrypt every ID number and payment account under a new data key and recompute their blind indexes,
    in one transaction. Stop the service first and back up. Run it again to finish an interrupted rotation."""
    instance = Path(current_app.instance_path)
    old = current_app.config["DATA_KEY"]
    from_env = bool(os.environ.get("DIBAO_DATA_KEY"))
    pending = instance / PENDING
    if from_env:
        if not new_key:
            raise click.UsageError("DIBAO_DATA_KEY is set, so the new key comes from your secret store: make one "
                                   "there and pass it with --new-key (see --help)")
        problem = crypto.key_problem(new_key)
        if problem:
            raise click.BadParameter(f"not a data key: {problem}; nothing was changed", param_hint="--new-key")
        if new_key == old:
            raise click.BadParameter("this is the key in use now (DIBAO_DATA_KEY); make a new one",
                                     param_hint="--new-key")
    else:
        if new_key:
            raise click.UsageError("--new-key is for a key set in DIBAO_DATA_KEY; with instance/data_key the "
                                   "command makes the new key itself")
        if (instance / KEY_FILE).read_text().strip() != old:
            raise click.ClickException("instance/data_key is not the key this process started with; nothing was "
                                       "changed")
    if not yes:
        click.confirm("Every web server and worker must be stopped: each holds the data key in memory, and one left "
                      "running would write ID numbers under the old key, which nothing reads after the rotation. "
                      "Back up first (dibao backup). Re-encrypt everything under a new data key now?", abort=True)
    if not from_env:
        new_key = pending.read_text().strip() if pending.exists() else None
        if new_key is not None and crypto.key_problem(new_key) is None:
            if new_key == old:
                raise click.ClickException(f"{pending} holds the key in use; remove it and run again")
            click.echo(f"resuming: {pending} from an earlier run is the new key")
        else:
            # Absent, or cut short before it was synced: then nothing was ever sealed with it.
            pending.unlink(missing_ok=True)
            new_key = crypto.new_key()
            keys.write_private(pending, new_key)
    assert new_key is not None
    session = db.session()
    try:
        with click.progressbar(length=1, label="re-encrypting", file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            result = rotate(session, [old], new_key, progress)
        session.commit()
    except DomainError as err:
        session.rollback()
        kept = "" if from_env else f" ({pending} is kept: the next run uses it)"
        raise click.ClickException(f"{err.message}{kept}") from None
    retired = None if from_env else _install(instance, old)
    crypto.use_key(new_key)
    current_app.config["DATA_KEY"] = new_key
    checked = check(session)
    session.rollback()  # read only
    click.echo(f"data key rotated: {result.total} values re-encrypted under key {result.key_id} "
               f"(previous key {', '.join(result.previous_key_ids) or '-'})")
    for name, count in result.values.items():
        click.echo(f"  {name}: {count}")
    if result.legacy:
        click.echo(f"  of which {result.legacy} were written before enc2 and are enc2 now")
    if result.already_new:
        click.echo(f"  of which {result.already_new} were under the new key already (an earlier run had committed)")
    if checked.problems:
        for problem in checked.problems:
            click.echo(f"PROBLEM: {problem}", err=True)
        raise SystemExit(1)
    click.echo(f"checked: {checked.checked} values read back with the new key, blind indexes match")
    if from_env:
        click.echo("now set DIBAO_DATA_KEY to the new key in the secret store and on every node BEFORE starting the "
                   "service: with the old one nothing can be read", err=True)
    else:
        click.echo(f"instance/data_key is the new key; the old one is in {retired} (mode 600). Backups made "
                   "before now carry their own data_key, so you may delete it (shred -u). Copy instance/data_key "
                   "to every other node before starting it.")
