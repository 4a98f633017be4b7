"""Issue 9, item 13: `dibao backup PATH` and `dibao restore PATH`, round trip on SQLite and PostgreSQL.

The source deployment has staff, a household with a photo in the media directory, key files under instance/
and audit checkpoints; its backup is restored into a second, empty deployment (a database that went through
`dibao db upgrade` and nothing else), which must then hold the same rows, the same files and an audit chain
that verifies against the same key and checkpoints.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import tarfile
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, inspect, select, table, text
from sqlalchemy.exc import DBAPIError

from dibao import create_app, db, media
from dibao.models import Region
from tests import conftest
from tests.factories import make_case


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def deployment(app, world, tmp_path):
    """The source: world, a household with a photo, key files (data_key too) and a checkpoint."""
    instance = tmp_path / "instance"
    instance.mkdir()
    app.instance_path = str(instance)
    for name, value in (("secret_key", "test-secret-key"), ("audit_key", app.config["AUDIT_KEY"]),
                        ("data_key", app.config["DATA_KEY"])):
        (instance / name).write_text(value)
    (instance / "not_a_key.txt").write_text("left out")
    with app.app_context():
        sess = db.session()
        stored = media.store_image(_png(), app.config["MEDIA_DIR"])
        case = make_case(sess, sess.get(Region, world.regions["comm_a1"]), photo_key=stored.key, photo_consent=True)
        from dibao import audit

        audit.record(sess, None, "photo_added", "case", case.id)
        sess.commit()
    assert app.test_cli_runner().invoke(args=["audit", "checkpoint"]).exit_code == 0
    return app


@pytest.fixture
def empty_target(database_url, migrated_templates, tmp_path):
    """A second deployment on the same engine: migrated, no rows, its own media, instance and checkpoints."""
    root = tmp_path / "target"
    (root / "instance").mkdir(parents=True)
    if database_url.startswith("sqlite"):
        path = root / "restored.sqlite3"
        shutil.copyfile(migrated_templates["sqlite"], path)
        url = f"sqlite:///{path}"
        name = None
    else:
        name = f"{conftest._pg_prefix()}_restore_{next(conftest._counter)}"
        admin = conftest._pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_templates["postgresql"]}"'))
        url = conftest._pg_url(name)
    target = create_app({**conftest.app_config(url, root), "MEDIA_DIR": str(root / "media"),
                         "AUDIT_CHECKPOINTS": str(root / "instance" / "audit-checkpoints.log")})
    target.instance_path = str(root / "instance")
    (root / "instance" / "secret_key").write_text("generated-on-first-start")  # what a fresh start leaves
    yield target
    target.extensions["dibao.engine"].dispose()
    if name:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _rows(app) -> dict[str, int]:
    engine = app.extensions["dibao.engine"]
    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
                for name in sorted(inspect(conn).get_table_names())}


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("archive", [False, True], ids=["directory", "tar.gz"])
def test_round_trip(deployment, empty_target, tmp_path, archive):
    path = tmp_path / ("backup.tar.gz" if archive else "backup")
    made = deployment.test_cli_runner().invoke(args=["backup", str(path)])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0  # keys and personal data: owner only

    done = empty_target.test_cli_runner().invoke(args=["restore", str(path)])
    assert done.exit_code == 0, done.output
    assert "audit chain intact" in done.output

    source_rows, target_rows = _rows(deployment), _rows(empty_target)
    assert target_rows == source_rows and source_rows["dibao_case"] == 1 and source_rows["audit_event"] > 5
    assert _tree(Path(empty_target.config["MEDIA_DIR"])) == _tree(Path(deployment.config["MEDIA_DIR"]))
    assert len(_tree(Path(empty_target.config["MEDIA_DIR"]))) >= 2  # the photo and its renditions
    target_instance = Path(empty_target.instance_path)
    for name in ("secret_key", "audit_key", "data_key"):
        assert (target_instance / name).read_text() == (Path(deployment.instance_path) / name).read_text()
        assert stat.S_IMODE((target_instance / name).stat().st_mode) == 0o600
    assert not (target_instance / "not_a_key.txt").exists()
    verify = empty_target.test_cli_runner().invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert "2 checkpoints agree" in verify.output  # the source's checkpoint and the backup's own head
    with empty_target.app_context():  # the append-only triggers came back with the schema
        statement = "TRUNCATE audit_event" if db.engine().dialect.name == "postgresql" else "DELETE FROM audit_event"
        with pytest.raises(DBAPIError, match="append-only"):
            db.session().execute(text(statement))


def test_manifest_describes_the_backup(deployment, tmp_path):
    path = tmp_path / "backup"
    assert deployment.test_cli_runner().invoke(args=["backup", str(path)]).exit_code == 0
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["revision"] and manifest["tables"] == _rows(deployment)
    with deployment.app_context():
        from dibao import audit

        head = audit.head(db.session())
    assert manifest["audit_head"] == {"count": head.count, "last_id": head.last_id, "hash": head.hash}
    files = {f["path"]: f for f in manifest["files"]}
    assert {"instance/secret_key", "instance/audit_key", "instance/data_key",
            "instance/audit-checkpoints.log"} <= set(files)
    assert any(p.startswith("media/") for p in files)
    assert ("database.sqlite3" if manifest["engine"] == "sqlite" else "database.pgdump") in files
    for rel, item in files.items():
        assert hashlib.sha256((path / rel).read_bytes()).hexdigest() == item["sha256"]


def test_backup_refuses_to_overwrite(deployment, tmp_path):
    path = tmp_path / "taken"
    path.mkdir()
    (path / "something").write_text("x")
    result = deployment.test_cli_runner().invoke(args=["backup", str(path)])
    assert result.exit_code == 1 and "已经存在" in result.output


def test_restore_refuses_a_database_with_data_and_changes_nothing(deployment, tmp_path):
    path = tmp_path / "backup"
    assert deployment.test_cli_runner().invoke(args=["backup", str(path)]).exit_code == 0
    before = _rows(deployment)
    result = deployment.test_cli_runner().invoke(args=["restore", str(path)])
    assert result.exit_code == 1 and "不是空的" in result.output
    assert _rows(deployment) == before


def test_restore_refuses_a_damaged_backup(deployment, empty_target, tmp_path):
    path = tmp_path / "backup"
    assert deployment.test_cli_runner().invoke(args=["backup", str(path)]).exit_code == 0
    photo = next((path / "media").rglob("*.jpg"))
    photo.write_bytes(photo.read_bytes()[:-10])
    result = empty_target.test_cli_runner().invoke(args=["restore", str(path)])
    assert result.exit_code == 1 and "已损坏" in result.output
    assert _rows(empty_target)["region"] == 0 and not Path(empty_target.config["MEDIA_DIR"]).exists()


def test_restore_reports_a_chain_that_does_not_verify(deployment, empty_target, tmp_path):
    """A backup whose audit key is lost: the restore says so instead of claiming success."""
    path = tmp_path / "backup.tar.gz"
    assert deployment.test_cli_runner().invoke(args=["backup", str(path)]).exit_code == 0
    unpacked = tmp_path / "unpacked"
    with tarfile.open(path) as tar:
        tar.extractall(unpacked, filter="data")
    root = unpacked / "dibao-backup"
    (root / "instance" / "audit_key").unlink()
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"] = [f for f in manifest["files"] if f["path"] != "instance/audit_key"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    empty_target.config["AUDIT_KEY"] = "a-different-deployment-key"
    from dibao import audit

    audit.set_key("a-different-deployment-key")
    result = empty_target.test_cli_runner().invoke(args=["restore", str(root)])
    assert result.exit_code == 1 and "审计日志校验失败" in result.output


def test_restore_verifies_a_rotated_chain_with_the_backups_retired_key(deployment, empty_target, tmp_path):
    """After `dibao audit rotate-key` the old key signed the chain's first stretch: the backup carries it
    (instance/retired_audit_key), and the restore's check uses it."""
    from dibao import audit

    old = deployment.config["AUDIT_KEY"]
    rotated = deployment.test_cli_runner().invoke(args=["audit", "rotate-key", "--yes"])
    assert rotated.exit_code == 0, rotated.output
    assert (Path(deployment.instance_path) / "retired_audit_key").read_text().split() == [old]
    path = tmp_path / "backup"
    assert deployment.test_cli_runner().invoke(args=["backup", str(path)]).exit_code == 0
    assert (path / "instance" / "retired_audit_key").exists()

    audit.set_key(empty_target.config["AUDIT_KEY"])  # the target process: a key of its own, no retired ones
    done = empty_target.test_cli_runner().invoke(args=["restore", str(path)])
    assert done.exit_code == 0, done.output
    assert "audit chain intact" in done.output
    assert (Path(empty_target.instance_path) / "retired_audit_key").read_text().split() == [old]
