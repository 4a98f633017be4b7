"""The notice sweep: record closed windows and move their cases on.

Visibility never depends on it (an entry disappears at its closing second by itself, dibao.notices); the
sweep only writes down what already happened: ``closing_recorded_at`` on the batch, and each case without
an unresolved objection moves to its next stage (``workflow.notice_closed``). Held cases stay; a later
sweep moves them once their objection is decided and not upheld. It also erases personal information whose
purpose ended (``dibao retention run``) and deletes the media files nothing references any more
(``dibao media gc``), both in the app's own sweep at most hourly.

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
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import click
from flask import Flask
from flask.cli import with_appcontext

from dibao import audit, clock, media, notices

log = logging.getLogger("dibao.sweep")


@dataclass
class SweepResult:
    closed: list[notices.Closing] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    media_deleted: list[str] = field(default_factory=list)  # files nothing references any more (media gc)
    erased: int = 0  # items whose personal information was erased (dibao.retention)

    @property
    def moved(self) -> int:
        return sum(len(c.moved) for c in self.closed) + len(self.released)

    @property
    def held(self) -> int:
        return sum(len(c.held) for c in self.closed)


def run_media_gc(app: Flask, grace_seconds: float = media.GC_GRACE_SECONDS) -> list[str]:
    """Delete the media files nothing references any more (withdrawn photo consent, deleted photos)."""
    with app.extensions["dibao.sessions"]() as reader:
        keep = media.referenced_keys(reader)
    deleted = media.collect_garbage(app.config["MEDIA_DIR"], keep, grace_seconds=grace_seconds)
    if deleted:
        log.info("media gc: %d unreferenced files deleted", len(deleted))
    return deleted


def run_sweep(app: Flask, at: datetime | None = None, *, media_gc: bool = True) -> SweepResult:
    """One pass. Every batch (and every released case) is its own transaction on a fresh write session;
    then, with ``media_gc``, the unreferenced media files go."""
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
    from dibao import reviews  # issue 10: grace periods that ended, standards whose date came (提标)

    reviews.run_pass(app)
    _audit_checkpoint(app)
    _stats_summary(app)
    if media_gc:
        result.erased = _retention(app)
        result.media_deleted = run_media_gc(app)
        _purge_job_files(app)
    return result


def _retention(app: Flask) -> int:
    """Personal information whose purpose ended (PIPL Art. 47), with the media gc (at most hourly in the app's own
    sweep): nothing is due by the minute. A failure never stops the sweep; the next pass tries again."""
    from dibao import retention

    try:
        return len(retention.run(app).erased)
    except Exception:  # noqa: BLE001
        log.exception("erasing expired personal information failed")
        return 0


def _purge_job_files(app: Flask) -> None:
    """Uploaded rosters and exports hold ID numbers and bank accounts: kept only as long as they are needed."""
    from dibao import jobs

    try:
        with app.extensions["dibao.sessions"]() as reader:
            gone = jobs.purge_files(reader, jobs.files_dir(app))
        if gone:
            log.info("job files deleted: %d", gone)
    except Exception:  # noqa: BLE001 - never stops the sweep; the next pass tries again
        log.exception("deleting old job files failed")


def _stats_summary(app: Flask) -> None:
    """A bounded number of statistics and roster summary refreshes (issue 13); a failure never stops the rest of
    the sweep (the figures are right without the summaries, only slower)."""
    from dibao import roster_summary, stats_summary

    for summary in (stats_summary, roster_summary):
        try:
            summary.run_pass(app)
        except Exception:  # noqa: BLE001
            log.exception("%s refresh failed", summary.__name__)


def _audit_checkpoint(app: Flask) -> None:
    """The audit log's count and head, outside the database, every DIBAO_AUDIT_CHECKPOINT_MINUTES (when it moved)."""
    with app.extensions["dibao.sessions"]() as reader:
        audit.write_checkpoint(reader, app.config["AUDIT_CHECKPOINTS"],
                               every=timedelta(minutes=app.config["AUDIT_CHECKPOINT_MINUTES"]))


# --- the app's own periodic sweep -------------------------------------------------------------------------

_started: set[int] = set()
_lock = threading.Lock()


MEDIA_GC_INTERVAL = 3600.0  # the app's own sweep walks the media folder at most this often


def _loop(app: Flask, interval: float, stop: threading.Event) -> None:
    last_gc = 0.0
    while not stop.wait(interval):
        try:
            media_gc = time.monotonic() - last_gc >= MEDIA_GC_INTERVAL
            with app.app_context():
                result = run_sweep(app, media_gc=media_gc)
                residents_pass(app)
            if media_gc:
                last_gc = time.monotonic()
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
               f"{result.held} held by objections, {len(result.media_deleted)} unreferenced media files deleted, "
               f"personal information of {result.erased} items erased")


@click.group("media", help="Stored photos and documents.")
def media_group() -> None:
    pass


@media_group.command("gc")
@click.option("--grace-minutes", type=click.IntRange(min=0), default=int(media.GC_GRACE_SECONDS // 60),
              show_default=True, help="keep files younger than this (an upload may not be committed yet)")
@with_appcontext
def media_gc_command(grace_minutes: int) -> None:
    """Delete the media files nothing references any more (withdrawn consent, deleted photos)."""
    from flask import current_app

    deleted = run_media_gc(current_app._get_current_object(), grace_seconds=grace_minutes * 60)  # type: ignore[attr-defined]
    click.echo(f"media gc: {len(deleted)} unreferenced files deleted")
