"""Fixtures in the style of the Flask tutorial: ``app``, ``client``, ``runner``, plus ``clock``.

Every test gets its own database, built by the Alembic migrations (never ``create_all``): the schema is
migrated once per backend into a template, and each test starts from a copy of it. The whole suite runs
on SQLite and, when ``TEST_DATABASE_URL`` names a PostgreSQL server, again on PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from dibao import accounts, create_app, db, migrate
from dibao import clock as app_clock
from dibao.db import make_engine

# The suite-wide checks, each recording every response and checking the whole record once the run is over: no public
# response leaks an ID or phone number (issue 4), no page renders ="None" (issue 9).
pytest_plugins = ["tests.plugins.responses", "tests.plugins.public_leaks", "tests.plugins.none_attributes", "pytester"]

PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_counter = itertools.count()

# A fixed, ordinary Wednesday morning in Shanghai (02:00 UTC = 10:00 local).
T0 = datetime(2026, 3, 18, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    # Argon2's production cost is the point in production; in tests it only slows every login down.
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    accounts._DUMMY_HASH = accounts._hasher.hash("not-a-password")


class _SharedBytecode(BytecodeCache):
    """Compiled Jinja templates, shared by every app the process creates. A production process has one app and
    compiles each template once; a test run creates thousands, and each compiled every template it rendered
    again (about half of a typical test's rendering time). Keyed by template name and source checksum, so an
    edited template is compiled anew."""

    def __init__(self):
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        code = self.store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.store[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def _compile_once_per_process():
    """What every app of the suite compiles identically is compiled once per process: its templates (above) and
    the URL builder of each route (werkzeug compiles Python source for each rule of each new app; the builder
    depends only on the rule, its defaults and its converters, and is bound to each new rule as before)."""
    from flask import Flask
    from werkzeug.routing.rules import Rule

    cache = _SharedBytecode()
    create_jinja_environment = Flask.create_jinja_environment

    def with_shared_cache(self):
        env = create_jinja_environment(self)
        env.bytecode_cache = cache
        return env

    compile_builder = Rule._compile_builder
    builders: dict[tuple, object] = {}

    def shared_builder(self, append_unknown=True):
        key = (self.rule, self.host, self.subdomain, self.merge_slashes, self.map.host_matching, append_unknown,
               repr(tuple((self.defaults or {}).items())),
               tuple((name, type(conv), conv.regex) for name, conv in self._converters.items()))
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Flask.create_jinja_environment = with_shared_cache
    Rule._compile_builder = shared_builder
    yield
    Flask.create_jinja_environment = create_jinja_environment
    Rule._compile_builder = compile_builder


def _pg_admin_engine():
    url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def _pg_url(name: str) -> str:
    return make_url(PG_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )


def _pg_prefix() -> str:
    base = make_url(PG_URL).database or "dibao_test"
    return re.sub(r"[^a-z0-9_]", "_", f"{base}_{WORKER}".lower())


class _PgCopies:
    """Copies of the migrated PostgreSQL template, one per test, made ahead and dropped behind the tests.

    ``CREATE DATABASE`` writes the whole template through the WAL and ``DROP DATABASE`` waits for a checkpoint:
    the server's disk work, which took longer than most tests. Two threads of this process do it while the tests
    run: the next test's copy is made during the present test, and a used copy is dropped after it. A test still
    gets a copy nobody has used. Its commits need not wait for the disk (``synchronous_commit`` off for the copy:
    what a crash of the server could lose is of no interest here; nothing a connection sees changes)."""

    AHEAD = 1  # copies made ahead of the test that takes one
    BEHIND = 4  # used copies waiting to be dropped before a test waits for one

    def __init__(self, template: str):
        self.template = template
        self.admin = _pg_admin_engine()
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pg-copies")
        self.ready: list[Future] = []
        self.dropping: list[Future] = []

    def _create(self) -> str:
        name = f"{_pg_prefix()}_{next(_counter)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        return name

    def _drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def take(self) -> str:
        future = self.ready.pop(0) if self.ready else self.pool.submit(self._create)
        while len(self.ready) < self.AHEAD:
            self.ready.append(self.pool.submit(self._create))
        return future.result()

    def give_back(self, name: str) -> None:
        self.dropping = [f for f in self.dropping if not f.done() or f.result()]
        self.dropping.append(self.pool.submit(self._drop, name))
        while len(self.dropping) > self.BEHIND:
            self.dropping.pop(0).result()

    def close(self) -> None:
        for future in self.ready:
            self.dropping.append(self.pool.submit(self._drop, future.result()))
        self.ready = []
        for future in self.dropping:
            future.result()  # a drop that failed fails the run here
        self.pool.shutdown()
        self.admin.dispose()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory):
    """One migrated database per backend, copied for each test."""
    templates: dict[str, str] = {}
    sqlite_path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{sqlite_path}")
    migrate.upgrade(engine)
    engine.dispose()
    templates["sqlite"] = str(sqlite_path)
    if PG_URL:
        admin = _pg_admin_engine()
        name = f"{_pg_prefix()}_tmpl"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(_pg_url(name))
        migrate.upgrade(engine)
        engine.dispose()
        templates["postgresql"] = name
    yield templates
    if PG_URL:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{templates["postgresql"]}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_copies(migrated_templates):
    copies = _PgCopies(migrated_templates["postgresql"])
    yield copies
    copies.close()


@pytest.fixture(params=BACKENDS)
def database_url(request, migrated_templates, tmp_path):
    """A fresh, migrated database for one test."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(migrated_templates["sqlite"], path)
        yield f"sqlite:///{path}"
        return
    copies = request.getfixturevalue("pg_copies")
    name = copies.take()
    yield _pg_url(name)
    copies.give_back(name)


def app_config(database_url: str, tmp_path: Path) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "MEDIA_DIR": str(tmp_path / "media"),
        "JOBS_DIR": str(tmp_path / "jobs"),
        "PUBLIC_URL": "http://dibao.test",
        "RATELIMIT_STORAGE_URI": "memory://",
        "AUDIT_KEY": "test-audit-key",
        "AUDIT_RETIRED_KEYS": (),  # never the developer's instance/retired_audit_key
        "DATA_KEY": "ZGliYW8tdGVzdC1kYXRhLWtleS0zMi1ieXRlcy14eCE=",  # never the developer's instance/data_key
        "AUDIT_CHECKPOINTS": str(tmp_path / "audit-checkpoints.log"),
    }


@pytest.fixture
def clock():
    """The app's one clock, frozen at ``T0``; tests move it with ``clock.set`` / ``clock.advance``."""
    app_clock.set_now(T0)

    class _Clock:
        t0 = T0

        @staticmethod
        def now():
            return app_clock.now()

        @staticmethod
        def set(instant):
            app_clock.set_now(instant)

        @staticmethod
        def advance(delta=None, **kwargs):
            from datetime import timedelta

            return app_clock.advance(delta if delta is not None else timedelta(**kwargs))

    yield _Clock()
    app_clock.set_now(None)


@pytest.fixture
def app(database_url, tmp_path, clock):
    application = create_app(app_config(database_url, tmp_path))
    yield application
    application.extensions["dibao.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A database session of the test's own, outside any request, for arranging and checking data.

    It holds no app context, so requests made by the test client get their own session as in production.
    """
    sess = Session(app.extensions["dibao.engine"], expire_on_commit=False)
    yield sess
    sess.close()


# --- a small world: one county, two towns, three communities, a user of every role -----------------

PASSWORD = "correct-horse-battery"


@pytest.fixture
def world(app):
    from types import SimpleNamespace

    from dibao import regions
    from dibao.models import Role

    with app.app_context():
        sess = db.session()
        county = regions.create_region(sess, None, code="100", name="测试县", parent=None)
        town_a = regions.create_region(sess, None, code="100001", name="甲镇", parent=county)
        town_b = regions.create_region(sess, None, code="100002", name="乙街道", parent=county)
        comm_a1 = regions.create_region(sess, None, code="100001001", name="甲一社区", parent=town_a)
        comm_a2 = regions.create_region(sess, None, code="100001002", name="甲二社区", parent=town_a)
        comm_b1 = regions.create_region(sess, None, code="100002001", name="乙一社区", parent=town_b)

        def user(username, name, role, region):
            return accounts.create_user(sess, None, username=username, display_name=name, password=PASSWORD,
                                        role=role, region=region)

        users = {
            "admin": user("admin", "管理员", Role.admin, county),
            "county": user("county", "县审批", Role.county_approver, county),
            "town_a": user("town_a", "甲镇审核", Role.town_reviewer, town_a),
            "town_b": user("town_b", "乙街道审核", Role.town_reviewer, town_b),
            "staff_a1": user("staff_a1", "甲一专干", Role.community_staff, comm_a1),
            "staff_a2": user("staff_a2", "甲二专干", Role.community_staff, comm_a2),
            "staff_b1": user("staff_b1", "乙一专干", Role.community_staff, comm_b1),
        }
        sess.commit()
        ids = {k: v.id for k, v in users.items()}
        regs = {
            "county": county.id, "town_a": town_a.id, "town_b": town_b.id,
            "comm_a1": comm_a1.id, "comm_a2": comm_a2.id, "comm_b1": comm_b1.id,
        }
    return SimpleNamespace(users=ids, regions=regs, password=PASSWORD)


@pytest.fixture
def make_region(session):
    """Factory: ``make_region("200", "邻县")`` or ``make_region("200001", "丙镇", parent="200")`` — a region
    beside the world's county, committed (the one way tests add regions outside ``world``)."""
    from dibao import regions
    from dibao.models import Region

    def make(code: str, name: str, *, parent: str | None = None) -> Region:
        above = session.scalar(select(Region).where(Region.code == parent)) if parent else None
        region = regions.create_region(session, None, code=code, name=name, parent=above)
        session.commit()
        return region

    return make


@pytest.fixture
def make_user(session):
    """Factory: ``make_user("county2", Role.county_approver, region)`` — a staff account with the suite's
    password, committed; returns the username (what ``auth.login`` takes)."""
    def make(username: str, role, region, *, display_name: str | None = None) -> str:
        accounts.create_user(session, None, username=username, display_name=display_name or username,
                             password=PASSWORD, role=role, region=region)
        session.commit()
        return username

    return make


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str = "/admin/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


class Auth:
    def __init__(self, client):
        self._client = client

    def login(self, username: str, password: str = PASSWORD):
        token = csrf_token(self._client)
        return self._client.post("/admin/login", data={"username": username, "password": password,
                                                       "csrf_token": token})

    def logout(self):
        token = csrf_token(self._client, "/admin/")
        return self._client.post("/admin/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return Auth(client)
