"""The jobs' files hold personal data (an uploaded roster: every ID number and bank account; an export: the
case list with ID numbers and phones): readable by the service user only, and deleted once no one needs them —
an imported roster at the next sweep, anything else a finished job left after jobs.FILES_KEPT_DAYS days."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from dibao import jobs
from dibao.models.job import Job, JobStatus
from dibao.sweep import run_sweep
from tests.case_helpers import register, standard, user
from tests.conftest import csrf_token
from tests.roster_files import clean_rows, write
from tests.test_imports import _job_id, _upload


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(app) -> Path:
    return Path(app.config["JOBS_DIR"])


def _checked(app, client, tmp_path, name: str = "roster.xlsx") -> int:
    rows = clean_rows(3, ["100001001"])
    check_id = _job_id(_upload(client, write(tmp_path / name, rows)))
    app.extensions["dibao.jobs"].drain()
    return check_id


def _upload_of(session, job_id: int) -> Path:
    session.rollback()
    job = session.get(Job, job_id)
    return jobs.job_files(job)[0]


def test_uploads_and_exports_are_the_service_users_only(app, client, auth, world, session, tmp_path):
    standard(session, world)
    register(session, user(session, world, "staff_a1"), head_name="周一户")
    session.commit()
    auth.login("county")
    check_id = _checked(app, client, tmp_path)
    upload = _files(app) / _upload_of(session, check_id)
    assert upload.is_file() and _mode(upload) == 0o600
    assert _mode(upload.parent) == 0o700 and _mode(_files(app)) == 0o700

    response = client.post("/admin/data/exports/cases", data={"csrf_token": csrf_token(client, "/admin/data/")})
    export_id = _job_id(response)
    app.extensions["dibao.jobs"].drain()
    session.rollback()
    exported = _files(app) / session.get(Job, export_id).file_name
    assert exported.is_file() and _mode(exported) == 0o600 and _mode(exported.parent) == 0o700


def test_an_imported_roster_is_deleted_at_the_next_sweep_and_the_rest_after_the_days_kept(
        app, client, auth, world, session, tmp_path, clock):
    standard(session, world)
    session.commit()
    auth.login("county")
    imported_check = _checked(app, client, tmp_path)
    imported = _files(app) / _upload_of(session, imported_check)
    only_checked = _checked(app, client, tmp_path, "another.xlsx")  # checked clean, never confirmed
    kept = _files(app) / _upload_of(session, only_checked)
    import_id = _job_id(client.post(f"/admin/jobs/{imported_check}/confirm",
                                    data={"csrf_token": csrf_token(client, "/admin/data/")}))
    app.extensions["dibao.jobs"].drain()
    export_id = _job_id(client.post("/admin/data/exports/cases",
                                    data={"csrf_token": csrf_token(client, "/admin/data/")}))
    app.extensions["dibao.jobs"].drain()
    session.rollback()
    assert session.get(Job, import_id).status == JobStatus.done
    exported = _files(app) / session.get(Job, export_id).file_name

    run_sweep(app, media_gc=True)
    assert not imported.exists()  # its households are in the database now
    assert kept.exists() and exported.exists()  # still wanted: an import to confirm, a file to download
    page = client.get(f"/admin/jobs/{export_id}").get_data(as_text=True)
    assert "下载 Excel" in page and "保留 7 天" in page

    clock.advance(days=jobs.FILES_KEPT_DAYS - 1)
    run_sweep(app, media_gc=True)
    assert kept.exists() and exported.exists()
    clock.advance(days=1, minutes=1)
    run_sweep(app, media_gc=True)
    assert not kept.exists() and not exported.exists()
    auth.login("county")  # a week later: a new sign-in
    page = client.get(f"/admin/jobs/{export_id}").get_data(as_text=True)
    assert "下载 Excel" not in page and "已超过保留期限（7 天）" in page
    assert client.get(f"/admin/jobs/{export_id}/file").status_code == 404

    # The check's file is gone: confirming it fails with a message saying so, and nothing is imported.
    again = _job_id(client.post(f"/admin/jobs/{only_checked}/confirm",
                                data={"csrf_token": csrf_token(client, "/admin/data/")}))
    app.extensions["dibao.jobs"].drain()
    session.rollback()
    failed = session.get(Job, again)
    assert failed.status == JobStatus.failed and "超过保留期限" in failed.error
    assert "请重新上传" in client.get(f"/admin/jobs/{again}").get_data(as_text=True)


def test_purging_never_leaves_the_jobs_folder(app, session, world, tmp_path):
    """A job row naming a path outside the folder (a tampered row) deletes nothing there."""
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    with app.app_context():
        from dibao import db

        sess = db.session()
        sess.add(Job(kind="export", title="t", params="{}", status=JobStatus.done, created_by_name="x",
                     created_at=jobs.clock.now() - timedelta(days=30), finished_at=jobs.clock.now() - timedelta(days=30),
                     file_name="../../outside.txt"))
        sess.commit()
        assert jobs.purge_files(sess, jobs.files_dir(app)) == 0
    assert outside.read_text() == "keep me"
    assert session.scalar(select(Job.file_name)) == "../../outside.txt"
