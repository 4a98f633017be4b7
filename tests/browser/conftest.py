"""Browser tests: Playwright driving Debian's Chromium against the app served on a local port.

Never `playwright install`: the browser is /usr/bin/chromium (`make test` installs it with apt-get).
Without it these tests skip, except in CI (DIBAO_REQUIRE_BROWSER=1), where they fail.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from dibao import create_app
from tests.conftest import app_config

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("DIBAO_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"browser tests are required but {CHROMIUM} is missing (run `make test`)")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not installed")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


class LiveServer:
    def __init__(self, app):
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        if self._thread:
            self._thread.join(5)


@pytest.fixture
def live_app(migrated_templates, tmp_path, clock):
    """The app on a fresh SQLite copy (browser tests exercise the browser, not the database engine)."""
    path = tmp_path / "live.sqlite3"
    shutil.copyfile(migrated_templates["sqlite"], path)
    application = create_app(app_config(f"sqlite:///{path}", tmp_path))
    yield application
    application.extensions["dibao.engine"].dispose()


@pytest.fixture
def app(live_app):
    # Lets the shared fixtures (world, session, runner) work on the live server's database.
    return live_app


@pytest.fixture
def live_server(live_app):
    server = LiveServer(live_app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def screenshot_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def worker(live_app):
    """A worker thread on the live app's queue (in memory under TESTING), as `dibao worker` would run."""
    from dibao import jobs

    queue: jobs.Queue = live_app.extensions["dibao.jobs"]
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            if not queue.drain():
                stop.wait(0.1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield queue
    stop.set()
    thread.join(5)
