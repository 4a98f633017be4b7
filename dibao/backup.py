"""Backup and restore of a whole deployment: ``dibao backup PATH`` and ``dibao restore PATH``.

A backup is one directory (or, for a PATH ending in ``.tar.gz``, one archive of it)::

    manifest.json              what is in it: schema revision, rows per table, audit head, every file's SHA-256
    database.sqlite3           SQLite: a consistent copy made with SQLite's online backup API
    database.pgdump            PostgreSQL: ``pg_dump --format=custom`` of the snapshot the row counts were read in
    media/…                    the uploaded photos and documents
    instance/*_key             secret_key, audit_key and every other key file (data_key …)
    instance/audit-checkpoints.log   the audit checkpoints outside the database

The checkpoints are copied before the database is read, so they never claim more events than the backup holds;
the database before the media, so every file a row names was there when it was copied. A restore goes only into
an empty deployment (no rows, no media), then checks the row counts, every file and the audit chain.
See docs/operations.md for when and where.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, Engine, MetaData, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from dibao import audit, clock, keys
from dibao.errors import Conflict, Invalid

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
CHECKPOINTS = "instance/audit-checkpoints.log"
KEY_PATTERN = "*_key"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


@dataclass
class Locations:
    """Where the deployment keeps what is not in the database (from its configuration)."""

    media_dir: Path
    instance_dir: Path
    checkpoints: Path
    pg_bindir: str | None = None
    audit_key_from_env: str | None = None  # DIBAO_AUDIT_KEY, when the key is not a file
    audit_retired_from_env: str | None = None  # DIBAO_AUDIT_RETIRED_KEYS, when they are not a file


@dataclass
class RestoreReport:
    manifest: dict
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chain: audit.ChainReport | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


# --- helpers -----------------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                yield path


def _private_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o600)


def _is_archive(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


def _pg_tool(name: str, bindir: str | None) -> str:
    """pg_dump/pg_restore: DIBAO_PG_BINDIR, else PATH (Debian's wrapper), else the newest postgresql-client."""
    candidates = [Path(bindir) / name] if bindir else []
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    candidates += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                         key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0, reverse=True)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise Invalid(_l("找不到 %(name)s：请安装 postgresql-client，或用 DIBAO_PG_BINDIR 指明它所在的目录。", name=name))


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The database as a libpq URL without the password (which goes in the environment, not on the command line)."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)  # noqa: S603 - our own arguments
    if done.returncode != 0:
        raise Invalid(_l("%(tool)s 失败：%(err)s", tool=Path(args[0]).name, err=done.stderr.strip()[-2000:]))


def _table_counts(conn: Connection) -> dict[str, int]:
    names = sorted(inspect(conn).get_table_names())
    return {name: conn.execute(select(func.count()).select_from(table(name))).scalar_one() for name in names}


def _revision(conn: Connection) -> list[str]:
    if not inspect(conn).has_table("alembic_version"):
        return []
    return sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _head(conn: Connection) -> dict:
    row = conn.execute(text("SELECT id, hash, (SELECT count(*) FROM audit_event) FROM audit_event "
                            "ORDER BY id DESC LIMIT 1")).first()
    if row is None:
        return {"count": 0, "last_id": None, "hash": audit.GENESIS}
    return {"count": row[2], "last_id": row[0], "hash": row[1]}


# --- backup --------------------------------------------------------------------------------------------------

def create(engine: Engine, target: Path, where: Locations) -> dict:
    """Write a backup of the deployment to ``target`` (a new directory, or a ``.tar.gz``); returns the manifest."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Conflict(_l("%(path)s 已经存在：备份只写进新的目录或文件，不会覆盖。", path=str(target)))
    if _is_archive(target):
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".dibao-backup-") as tmp:
            manifest = _write_backup(engine, Path(tmp) / "backup", where)
            partial = target.with_name(target.name + ".partial")
            with tarfile.open(partial, "w:gz") as tar:
                tar.add(Path(tmp) / "backup", arcname="dibao-backup")
            os.chmod(partial, 0o600)
            os.replace(partial, target)
        return manifest
    return _write_backup(engine, target, where)


def _write_backup(engine: Engine, root: Path, where: Locations) -> dict:
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    if where.checkpoints.exists():
        _private_copy(where.checkpoints, root / CHECKPOINTS)
    if engine.dialect.name == "sqlite":
        state = _backup_sqlite(engine, root / SQLITE_FILE)
    elif engine.dialect.name == "postgresql":
        state = _backup_postgresql(engine, root / PG_FILE, where.pg_bindir)
    else:  # pragma: no cover - the app runs on these two
        raise Invalid(_l("不支持的数据库：%(name)s", name=engine.dialect.name))
    for path in _files(where.media_dir):
        _private_copy(path, root / "media" / path.relative_to(where.media_dir))
    for path in sorted(where.instance_dir.glob(KEY_PATTERN)):
        if path.is_file():
            _private_copy(path, root / "instance" / path.name)
    manifest = {
        "format": FORMAT,
        "created_at": clock.now().isoformat(),
        "engine": engine.dialect.name,
        **state,
        "audit_key": "environment (DIBAO_AUDIT_KEY), not in this backup" if where.audit_key_from_env else "file",
        "files": [{"path": path.relative_to(root).as_posix(), "size": path.stat().st_size, "sha256": _sha256(path)}
                  for path in _files(root)],
    }
    (root / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.chmod(root / MANIFEST, 0o600)
    return manifest


def _backup_sqlite(engine: Engine, dest: Path) -> dict:
    raw = engine.raw_connection()
    try:
        copy = sqlite3.connect(dest)
        try:
            raw.driver_connection.backup(copy)  # online: a consistent copy while the app keeps writing
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            copy.commit()
        finally:
            copy.close()
    finally:
        raw.close()
    os.chmod(dest, 0o600)
    reader = create_engine(f"sqlite:///{dest}")  # a plain engine: no WAL pragma on the copy
    try:
        with reader.connect() as conn:
            return {"revision": _revision(conn), "tables": _table_counts(conn), "audit_head": _head(conn)}
    finally:
        reader.dispose()


def _backup_postgresql(engine: Engine, dest: Path, bindir: str | None) -> dict:
    pg_dump = _pg_tool("pg_dump", bindir)
    url, env = _libpq(engine)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            # pg_dump reads the very snapshot the counts and the audit head come from.
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            state = {"revision": _revision(conn), "tables": _table_counts(conn), "audit_head": _head(conn)}
            _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  f"--file={dest}", f"--dbname={url}"], env)
    os.chmod(dest, 0o600)
    return state


# --- restore -------------------------------------------------------------------------------------------------

def read_manifest(root: Path) -> dict:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise Invalid(_l("%(path)s 不是阳光低保的备份（没有可读的 manifest.json）。", path=str(root))) from None
    if manifest.get("format") != FORMAT:
        raise Invalid(_l("备份格式 %(format)s 不认识。", format=manifest.get("format")))
    return manifest


def check_files(root: Path, manifest: dict) -> list[str]:
    """Every file the manifest lists, with its size and SHA-256; the problems found (empty: all there)."""
    problems = []
    for item in manifest["files"]:
        path = root / item["path"]
        if not path.is_file():
            problems.append(str(_l("缺少文件 %(path)s", path=item["path"])))
        elif path.stat().st_size != item["size"] or _sha256(path) != item["sha256"]:
            problems.append(str(_l("文件 %(path)s 与清单不符（已损坏或被改动）", path=item["path"])))
    return problems


def _non_empty_tables(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [f"{name}（{n}）" for name, n in _table_counts(conn).items() if n and name != "alembic_version"]


def restore(engine: Engine, source: Path, where: Locations) -> RestoreReport:
    """Restore the backup at ``source`` into this (empty) deployment, then check it."""
    source = Path(source)
    if _is_archive(source) and source.is_file():
        with tempfile.TemporaryDirectory(prefix=".dibao-restore-", dir=source.parent) as tmp:
            with tarfile.open(source, "r:gz") as tar:
                tar.extractall(tmp, filter="data")
            return _restore_dir(engine, Path(tmp) / "dibao-backup", where)
    return _restore_dir(engine, source, where)


def _restore_dir(engine: Engine, root: Path, where: Locations) -> RestoreReport:
    manifest = read_manifest(root)
    broken = check_files(root, manifest)
    if broken:
        raise Invalid(_l("备份不完整或已损坏，没有恢复任何内容：%(problems)s", problems="；".join(broken)))
    if manifest["engine"] != engine.dialect.name:
        raise Invalid(_l("这是 %(source)s 数据库的备份，不能恢复到 %(target)s。", source=manifest["engine"],
                         target=engine.dialect.name))
    busy = _non_empty_tables(engine)
    if busy:
        raise Conflict(_l("目标数据库不是空的（%(tables)s）：恢复只能装进空的部署，没有改动任何数据。",
                          tables="、".join(busy[:5])))
    if any(True for _ in _files(where.media_dir)):
        raise Conflict(_l("媒体目录 %(path)s 里已有文件：恢复只能装进空的部署，没有改动任何数据。",
                          path=str(where.media_dir)))
    report = RestoreReport(manifest)
    if engine.dialect.name == "sqlite":
        _restore_sqlite(engine, root / SQLITE_FILE)
    else:
        _restore_postgresql(engine, root / PG_FILE, where.pg_bindir)
    for path in _files(root / "media"):
        _private_copy(path, where.media_dir / path.relative_to(root / "media"))
    restored_key = None
    restored_retired: tuple[str, ...] = ()
    for path in sorted((root / "instance").glob(KEY_PATTERN)):
        _private_copy(path, where.instance_dir / path.name)
        report.notes.append(str(_l("已恢复密钥文件 %(name)s", name=path.name)))
        if path.name == "audit_key":
            restored_key = path.read_text().strip()
        if path.name == "retired_audit_key":  # the keys of the chain's stretches before a rotation
            restored_retired = keys.retired_keys(path.parent, path.name, None)
    _restore_checkpoints(root, manifest, where.checkpoints, report)
    _check(engine, root, manifest, where, restored_key, restored_retired, report)
    return report


def _restore_sqlite(engine: Engine, dump: Path) -> None:
    engine.dispose()
    target = make_url(str(engine.url)).database
    if not target or target == ":memory:":
        raise Invalid(_l("SQLite 的数据库必须是一个文件。"))
    source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)  # replaces every page of the (empty) target, schema included
    finally:
        source.close()
        dest.close()
    os.chmod(target, 0o600)
    engine.dispose()


def _restore_postgresql(engine: Engine, dump: Path, bindir: str | None) -> None:
    pg_restore = _pg_tool("pg_restore", bindir)
    # The target holds no rows: any schema in it (an earlier `db upgrade`) goes, so the backup's own revision
    # comes back exactly; `dibao db upgrade` afterwards brings it to the code's.
    with engine.begin() as conn:
        meta = MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)
        conn.execute(text("DROP FUNCTION IF EXISTS audit_event_append_only() CASCADE"))
    engine.dispose()
    url, env = _libpq(engine)
    _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--clean",
          "--if-exists", f"--dbname={url}", str(dump)], env)


def _restore_checkpoints(root: Path, manifest: dict, path: Path, report: RestoreReport) -> None:
    """The backup's checkpoints and its own head become this deployment's checkpoints. A file left by another
    chain (its counts would not match this one) is kept aside, not mixed in."""
    existing, _ = audit.read_checkpoints(path)
    if path.exists() and any(cp.count for cp in existing):
        aside = path.with_name(f"{path.name}.before-restore-{clock.now():%Y%m%d%H%M%S}")
        os.replace(path, aside)
        report.notes.append(str(_l("原有的审计检查点文件已移到 %(path)s", path=str(aside))))
    lines = []
    if (root / CHECKPOINTS).exists():
        lines.append((root / CHECKPOINTS).read_text(encoding="utf-8"))
    head = manifest["audit_head"]
    lines.append(audit.Checkpoint(manifest["created_at"], head["count"], head["last_id"], head["hash"]).line())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("".join(line if line.endswith("\n") else line + "\n" for line in lines if line))


def _check(engine: Engine, root: Path, manifest: dict, where: Locations, restored_key: str | None,
           restored_retired: tuple[str, ...], report: RestoreReport) -> None:
    with engine.connect() as conn:
        counts = _table_counts(conn)
    for name, expected in manifest["tables"].items():
        if counts.get(name) != expected:
            report.problems.append(str(_l("表 %(table)s：备份 %(expected)s 行，恢复后 %(got)s 行", table=name,
                                          expected=expected, got=counts.get(name))))
    for item in manifest["files"]:
        if item["path"].startswith("media/"):
            path = where.media_dir / item["path"].removeprefix("media/")
        elif item["path"].startswith("instance/") and item["path"] != CHECKPOINTS:
            path = where.instance_dir / Path(item["path"]).name
        else:
            continue
        if not path.is_file() or _sha256(path) != item["sha256"]:
            report.problems.append(str(_l("文件 %(path)s 没有完整恢复", path=item["path"])))
    key = where.audit_key_from_env or restored_key
    checkpoints, unreadable = audit.read_checkpoints(where.checkpoints)
    with Session(engine) as session:
        retired = keys.retired_keys(where.instance_dir, "", where.audit_retired_from_env) \
            if where.audit_retired_from_env else restored_retired
        report.chain = audit.verify(session, key=key, retired=retired, checkpoints=checkpoints)
    if unreadable:
        report.problems.append(str(_l("审计检查点文件第 %(lines)s 行无法读取", lines=unreadable)))
    if not report.chain.ok:
        report.problems.append(str(_l("审计日志校验失败：事件 %(id)s，%(reason)s", id=report.chain.broken_id,
                                      reason=report.chain.reason)))
