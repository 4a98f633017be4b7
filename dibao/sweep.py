"""The notice sweep: record closed windows and move their cases on.

Visibility never depends on it (an entry disappears at its closing second by itself, dibao.notices); the
sweep only writes down what already happened: ``closing_recorded_at`` on the batch, and each case without
an unresolved objection moves to its next stage (``workflow.notice_closed``). Held cases stay; a later
sweep moves them once their objection is decided and not upheld.

It runs in three ways, all safe together:

* ``dibao notices sweep`` — once, e.g. from cron: ``*/5 * * * * cd /srv/dibao && .venv/bin/dibao notices sweep``;
* by the app itself: a daemon thread per worker process, started by the WSGI entry point (``dibao.wsgi``), every
  ``DIBAO_SWEEP_INTERVAL`` seconds (default 60; ``0`` turns it off — then use cron);
* several processes at once (gunicorn workers, cron): every batch is claimed by one conditional UPDATE in
  its own short transaction, so each closing is recorded once and each case moves once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

import click
from flask import Flask
from flask.cli import with_appcontext

from dibao import clock, notices

log = logging.getLogger("dibao.sweep")


@dataclass
class SweepResult:
    closed: list[notices.Closing] = field(default_factory=list)
    released: list[int] = field(default_factory=list)

    @property
    def moved(self) -> int:
        return sum(len(c.moved) for c in self.closed) + len(self.released)

    @property
    def held(self) -> int:
        return sum(len(c.held) for c in self.closed)


def run_sweep(app: Flask, at: datetime | None = None) -> SweepResult:
    """One pass. Every batch (and every released case) is its own transaction on a fresh write session."""
    at = at or clock.now()
    make_session = app.extensions["dibao.write_sessions"]
    result = SweepResult()
    with app.extensions["dibao.sessions"]() as reader:
        due = notices.due_batch_ids(reader, at)
        released = notices.released_entry_ids(reader)
    for batch_id in due:
        with make_session() as session:
            closing = notices.close_batch(session, batch_id, at)
            session.commit()
        if closing is not None:
            result.closed.append(closing)
    for entry_id in released:
        with make_session() as session:
            if notices.release_entry(session, entry_id):
                result.released.append(entry_id)
            session.commit()
    return result


# --- the app's own periodic sweep -------------------------------------------------------------------------

_started: set[int] = set()
_lock = threading.Lock()


def _loop(app: Flask, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            with app.app_context():
                result = run_sweep(app)
                residents_pass(app)
            if result.closed or result.released:
                log.info("notice sweep: %d batches closed, %d cases moved, %d held",
                         len(result.closed), result.moved, result.held)
        except Exception:  # a failed pass is retried at the next tick; it must never kill the thread
            log.exception("notice sweep failed")


def residents_pass(app: Flask) -> None:
    """The residents' side (issue 14) on the same tick: alert the staff of kiosks gone dark, send what is due."""
    from dibao import kiosks, notify

    try:
        kiosks.run_offline_alerts(app)
    finally:
        delivered = notify.run_for_app(app)
    if delivered.sent or delivered.failed:
        log.info("notifications: %d sent, %d retried, %d failed", delivered.sent, delivered.retried, delivered.failed)


def start(app: Flask) -> threading.Thread | None:
    """Start this process's periodic sweep (the WSGI entry point ``dibao.wsgi`` calls it once per worker).

    Not under TESTING and not with DIBAO_SWEEP_INTERVAL=0; CLI commands never start it.
    """
    interval = float(app.config.get("SWEEP_INTERVAL", 60))
    if app.config.get("TESTING") or interval <= 0:
        return None
    with _lock:
        if id(app) in _started:
            return None
        _started.add(id(app))
    app.extensions["dibao.sweep_stop"] = stop = threading.Event()
    thread = threading.Thread(target=_loop, args=(app, interval, stop), name="dibao-notice-sweep", daemon=True)
    thread.start()
    return thread


# --- CLI ----------------------------------------------------------------------------------------------------

@click.group("notices", help="Notice boards (张榜公示).")
def notices_group() -> None:
    pass


@notices_group.command("sweep")
@with_appcontext
def sweep_command() -> None:
    """Record closed notice windows and move their cases on (idempotent; safe beside the app's own sweep)."""
    from flask import current_app

    result = run_sweep(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"notice sweep: {len(result.closed)} batches closed, {result.moved} cases moved, "
               f"{result.held} held by objections")
