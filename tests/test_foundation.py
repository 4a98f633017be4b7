"""Issue 2: the app, its schema, staff accounts, scoping, the audit chain and the demo county."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from dibao import db, migrate
from dibao.db import Base
from dibao.models import AuditEvent, Region, User
from tests.conftest import csrf_token


def test_models_and_migrations_agree(app):
    """A model change without its migration fails here."""
    with app.app_context():
        with db.engine().connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_object": migrate.include_object(conn.dialect.name)})
            diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_secret_key_generated_once_and_kept(tmp_path, monkeypatch):
    from dibao.config import from_environment

    monkeypatch.delenv("DIBAO_SECRET_KEY", raising=False)
    first = from_environment(tmp_path)["SECRET_KEY"]
    second = from_environment(tmp_path)["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("DIBAO_SECRET_KEY", "from-env")
    assert from_environment(tmp_path)["SECRET_KEY"] == "from-env"


def test_default_database_is_sqlite_under_instance(tmp_path, monkeypatch):
    from dibao.config import from_environment

    monkeypatch.delenv("DIBAO_DATABASE_URL", raising=False)
    cfg = from_environment(tmp_path)
    assert cfg["DATABASE_URL"] == f"sqlite:///{tmp_path / 'dibao.sqlite3'}"
    assert cfg["TIMEZONE"] == "Asia/Shanghai"


def test_a_web_worker_does_not_load_what_only_commands_and_jobs_use(tmp_path):
    """Issue 13 (memory): migrations (Alembic), the task queue (Huey, with the Redis and psycopg clients it imports)
    and the demo's Faker are loaded when a command or a job needs them, not by every gunicorn worker."""
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import sys\n"
        "from dibao import create_app\n"
        f"app = create_app({{'DATABASE_URL': 'sqlite:///{tmp_path / 'probe.sqlite3'}', 'SECRET_KEY': 'x',"
        f" 'JOBS_DIR': '{tmp_path}', 'SWEEP_INTERVAL': 0}})\n"
        "app.test_client().get('/healthz')\n"
        "print(sorted(m for m in ('alembic', 'huey', 'faker', 'psycopg') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_sqlite_runs_in_wal_mode(app):
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("PostgreSQL has no journal mode")
    with app.app_context():
        assert db.session().execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_portal_home_is_chinese(client):
    res = client.get("/")
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert 'lang="zh-CN"' in html
    assert "阳光低保公示平台" in html
    assert "12349" in html
    assert "htmx-2.0.11.min.js" in html


def test_english_catalogue(client):
    client.get("/lang/en")
    html = client.get("/admin/login").get_data(as_text=True)
    assert "Staff login" in html
    assert 'lang="en"' in html


def test_login_and_logout(client, auth, world):
    res = auth.login("staff_a1")
    assert res.status_code == 302 and res.headers["Location"].endswith("/admin/")
    page = client.get("/admin/").get_data(as_text=True)
    assert "甲一专干" in page
    auth.logout()
    assert client.get("/admin/").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part(client, auth, world):
    res = auth.login("staff_a1", "wrong-password")
    assert res.status_code == 401
    assert "用户名或密码不正确" in res.get_data(as_text=True)
    res = auth.login("nobody", "wrong-password")
    assert res.status_code == 401
    assert "用户名或密码不正确" in res.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(client, auth, world, session):
    auth.login("admin")
    before = session.scalar(select(func.count()).select_from(User))
    res = client.post("/admin/users/new", data={
        "username": "intruder", "display_name": "X", "role": "admin",
        "region_id": world.regions["county"], "password": "a-long-password",
    })
    assert res.status_code == 400
    assert "表单已过期" in res.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(User)) == before
    # The login form is protected too.
    res = client.post("/admin/login", data={"username": "admin", "password": "correct-horse-battery"})
    assert res.status_code == 400


def test_idle_session_expires(client, auth, world, clock):
    auth.login("staff_a1")
    clock.advance(minutes=29)
    assert client.get("/admin/").status_code == 200
    clock.advance(minutes=31)
    res = client.get("/admin/")
    assert res.status_code == 302 and "/admin/login" in res.headers["Location"]
    assert client.get("/admin/").status_code == 302


def test_admin_creates_user_and_it_is_audited(client, auth, world, session):
    auth.login("admin")
    token = csrf_token(client, "/admin/users/new")
    res = client.post("/admin/users/new", data={
        "csrf_token": token, "username": "newstaff", "display_name": "新专干", "role": "community_staff",
        "region_id": world.regions["comm_a2"], "password": "a-long-password",
    })
    assert res.status_code == 302
    user = session.scalar(select(User).where(User.username == "newstaff"))
    assert user.region_id == world.regions["comm_a2"]
    assert user.password_hash.startswith("$argon2")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "user_created",
                                                    AuditEvent.object_id == str(user.id)))
    assert event.actor_name == "管理员"


def test_role_must_fit_the_region_level(client, auth, world, session):
    auth.login("admin")
    token = csrf_token(client, "/admin/users/new")
    res = client.post("/admin/users/new", data={
        "csrf_token": token, "username": "wrongplace", "display_name": "某某", "role": "county_approver",
        "region_id": world.regions["comm_a1"], "password": "a-long-password",
    })
    assert res.status_code == 400
    assert "该角色不能设在这一级行政区划" in res.get_data(as_text=True)
    assert session.scalar(select(User).where(User.username == "wrongplace")) is None


def listed_usernames(client) -> set[str]:
    html = client.get("/admin/users/").get_data(as_text=True)
    return set(re.findall(r'href="/admin/users/\d+">([^<]+)</a>', html))


def test_community_staff_cannot_read_or_change_another_communitys_users(client, auth, world, session):
    auth.login("staff_a1")
    assert listed_usernames(client) == {"staff_a1"}
    other = world.users["staff_b1"]
    assert client.get(f"/admin/users/{other}").status_code == 404
    token = csrf_token(client, "/admin/")
    res = client.post(f"/admin/users/{other}/edit", data={
        "csrf_token": token, "username": "staff_b1", "display_name": "被改了", "role": "admin",
        "region_id": world.regions["comm_b1"], "active": "y",
    })
    # Not an administrator: refused for the role (403) before the account's region is even looked at.
    assert res.status_code == 403
    assert client.post(f"/admin/users/{other}/unlock", data={"csrf_token": token}).status_code == 403
    assert client.get(f"/admin/regions/{world.regions['comm_b1']}").status_code == 404
    session.expire_all()
    assert session.get(User, other).display_name == "乙一专干"


def test_town_reviewer_sees_only_their_towns_subtree(client, auth, world):
    auth.login("town_a")
    assert listed_usernames(client) == {"town_a", "staff_a1", "staff_a2"}
    assert client.get(f"/admin/users/{world.users['staff_a2']}").status_code == 200
    assert client.get(f"/admin/users/{world.users['staff_b1']}").status_code == 404


def test_non_admin_cannot_manage_regions(client, auth, world, session):
    auth.login("county")
    token = csrf_token(client, "/admin/regions/")
    res = client.post("/admin/regions/", data={"csrf_token": token, "code": "100002009", "name": "新社区",
                                               "parent_id": world.regions["town_b"]})
    assert res.status_code == 403
    assert session.scalar(select(Region).where(Region.code == "100002009")) is None


def test_admin_adds_a_community(client, auth, world, session):
    auth.login("admin")
    token = csrf_token(client, "/admin/regions/")
    res = client.post("/admin/regions/", data={"csrf_token": token, "code": "100002009", "name": "新社区",
                                               "parent_id": world.regions["town_b"]})
    assert res.status_code == 302
    region = session.scalar(select(Region).where(Region.code == "100002009"))
    assert region.level.value == "community" and region.path == "/100/100002/100002009/"
    res = client.post("/admin/regions/", data={"csrf_token": token, "code": "100002009", "name": "重复",
                                               "parent_id": world.regions["town_b"]})
    assert res.status_code == 409
    assert "区划代码已被使用" in res.get_data(as_text=True)


def test_audit_verify_passes_on_fresh_and_seeded_database(runner, world):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_audit_log_refuses_updates(app, world):
    import pytest
    from sqlalchemy.exc import DBAPIError

    with app.app_context():
        sess = db.session()
        with pytest.raises(DBAPIError):
            sess.execute(text("UPDATE audit_event SET action = 'x'"))
        sess.rollback()


def test_audit_verify_names_the_tampered_row(app, runner, world):
    with app.app_context():
        sess = db.session()
        ids = sess.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        target = ids[len(ids) // 2]
        # Someone with the database owner's powers gets past the append-only trigger...
        if sess.get_bind().dialect.name == "postgresql":
            sess.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        else:
            sess.execute(text("DROP TRIGGER audit_event_no_update"))
        sess.execute(text("UPDATE audit_event SET details = '{\"role\": \"admin\"}' WHERE id = :id"), {"id": target})
        sess.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"event {target}" in result.output


def test_audit_verify_notices_a_deleted_row(app, runner, world):
    with app.app_context():
        sess = db.session()
        ids = sess.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        if sess.get_bind().dialect.name == "postgresql":
            sess.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        else:
            sess.execute(text("DROP TRIGGER audit_event_no_delete"))
        sess.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[2]})
        sess.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"event {ids[3]}" in result.output


def test_create_user_command(runner, world, session):
    result = runner.invoke(args=["create-user", "--username", "cli_user", "--name", "命令行用户", "--role",
                                 "town_reviewer", "--region", "100002", "--password", "another-long-pw"])
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "cli_user"))
    assert user.region.code == "100002"
    result = runner.invoke(args=["create-user", "--username", "cli_user", "--name", "重复", "--role",
                                 "town_reviewer", "--region", "100002", "--password", "another-long-pw"])
    assert result.exit_code != 0 and "用户名已被使用" in result.output


def test_seed_demo_is_deterministic(app, tmp_path, migrated_templates):
    """Two databases seeded with the same seed hold the same people."""
    import shutil

    from dibao import create_app
    from tests.conftest import app_config

    names = []
    for i in range(2):
        path = tmp_path / f"s{i}.sqlite3"
        shutil.copyfile(migrated_templates["sqlite"], path)
        other = create_app(app_config(f"sqlite:///{path}", tmp_path))
        assert other.test_cli_runner().invoke(args=["seed-demo", "--seed", "11"]).exit_code == 0
        with other.app_context():
            names.append(db.session().scalars(select(User.display_name).order_by(User.username)).all())
        other.extensions["dibao.engine"].dispose()
    assert names[0] == names[1]


def test_unknown_page_is_a_chinese_404(client):
    res = client.get("/no/such/page")
    assert res.status_code == 404
    assert "您要找的页面不存在" in res.get_data(as_text=True)


def test_reading_public_pages_sets_no_cookie(client):
    """A resident who only reads gets no session (and no stray remember-cookie clearing)."""
    for path in ("/", "/notices/", "/policies/", "/"):
        res = client.get(path)
        assert res.status_code == 200
        assert res.headers.getlist("Set-Cookie") == [], path


def test_proxy_headers_are_trusted_only_when_configured(database_url, tmp_path):
    from flask import request

    from dibao import create_app
    from tests.conftest import app_config

    for count, expected in ((0, "127.0.0.1"), (1, "203.0.113.9")):
        application = create_app({**app_config(database_url, tmp_path), "PROXY_COUNT": count})
        application.add_url_rule("/_who", "who", lambda: request.remote_addr)
        res = application.test_client().get("/_who", headers={"X-Forwarded-For": "203.0.113.9"})
        assert res.get_data(as_text=True) == expected
        application.extensions["dibao.engine"].dispose()
