"""Background jobs (后台任务): long work runs in a worker of a real task queue (Huey), not in the request.

The pieces:

* :data:`KINDS` — the registry: a job kind's name → the domain function that does the work,
  ``run(session, actor, params, progress) -> dict``. Register one with :func:`kind`. The function checks the
  actor's permission like any domain function, calls ``progress(done, total)`` now and then (which also raises
  :class:`Cancelled` when the user asked to stop), and returns a small JSON-able report.
* :func:`start` — a domain function creates a :class:`~dibao.models.job.Job` row for the actor; the job is
  handed to the queue when the request (or command) commits, never before, so a worker never sees a job that
  was rolled back.
* :func:`run` — what the worker executes. A job that writes runs in ONE transaction, and its ``done`` status is
  committed in that same transaction: a job that failed, was cancelled or whose worker was killed leaves the
  database as it was, and can simply be run again (:func:`rerun`).
* Live progress, the heartbeat and the cancel request live in the queue's own storage (the SQLite file beside
  the database for ``make run``, Redis with ``DIBAO_REDIS_URL``): a job that holds SQLite's write lock for its
  whole transaction can still report, and a user can still cancel it.

The worker is ``dibao worker`` (``make run`` starts it beside gunicorn). docs/architecture.md says how to add a
job kind.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app, has_app_context
from flask.cli import with_appcontext
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from dibao import clock, db
from dibao.errors import Conflict, DomainError, NotFound
from dibao.models import User
from dibao.models.job import Job, JobStatus

log = logging.getLogger("dibao.jobs")

STATUS_LABELS = {
    JobStatus.queued: _l("排队中"),
    JobStatus.running: _l("进行中"),
    JobStatus.done: _l("已完成"),
    JobStatus.failed: _l("失败"),
    JobStatus.cancelled: _l("已取消"),
}
# A running job reports at least this often; after this long without a word its worker is taken for dead.
STALE_AFTER = timedelta(minutes=2)
REPORT_EVERY = 0.25  # seconds between two writes of the progress to the queue's storage
FINISHED = frozenset({JobStatus.done, JobStatus.failed, JobStatus.cancelled})


class Cancelled(Exception):  # noqa: N818 - it is what happened, not an error
    """Raised by a job's progress callback when its user asked to cancel it."""


# --- the registry -----------------------------------------------------------------------------------------

Runner = Callable[[Session, User | None, dict, "Progress"], dict]


@dataclass(frozen=True)
class Kind:
    name: str
    label: Any  # lazy string
    run: Runner
    # False: the work only reads (an export). It then runs in a read transaction, so that SQLite's writers are
    # not held for its whole length; ``finish`` writes what must be recorded (e.g. the audit event) at the end.
    writes: bool = True
    finish: Callable[[Session, User | None, dict], None] | None = None


KINDS: dict[str, Kind] = {}


def kind(name: str, label: Any, *, writes: bool = True,
         finish: Callable[[Session, User | None, dict], None] | None = None) -> Callable[[Runner], Runner]:
    """Register ``run`` as the job kind ``name`` (a decorator)."""

    def register(run_fn: Runner) -> Runner:
        KINDS[name] = Kind(name=name, label=label, run=run_fn, writes=writes, finish=finish)
        return run_fn

    return register


# --- starting, cancelling, running again (domain functions: the caller commits) ------------------------------

_PENDING = "dibao.jobs.pending"


def start(session: Session, actor: User | None, kind_name: str, params: dict, *, title: str) -> Job:
    """A new job for ``actor``; it goes to the queue when ``session`` commits. The caller has checked that the
    actor may do the work (the kind's function checks again when it runs)."""
    if kind_name not in KINDS:
        raise NotFound(_l("没有这种后台任务。"))
    job = Job(kind=kind_name, title=title[:200], params=json.dumps(params, ensure_ascii=False),
              status=JobStatus.queued, created_by_id=actor.id if actor else None,
              created_by_name=actor.display_name if actor else "命令行", region_id=actor.region_id if actor else None,
              created_at=clock.now(), attempts=0)
    session.add(job)
    session.flush()
    session.info.setdefault(_PENDING, []).append(job.id)
    return job


def no_progress(done: int, total: int | None = None, message: str = "") -> None:
    """The progress of work run outside a job (a test, a command without a bar): heard by nobody."""


def in_progress(session: Session, kind_name: str, params: dict) -> bool:
    """Whether a job of this kind with these very parameters is queued or running (so a second click does not
    start the same work twice)."""
    return session.scalar(select(func.count(Job.id)).where(
        Job.kind == kind_name, Job.params == json.dumps(params, ensure_ascii=False),
        Job.status.in_((JobStatus.queued, JobStatus.running)))) > 0


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids and has_app_context() and "dibao.jobs" in current_app.extensions:
        queue: Queue = current_app.extensions["dibao.jobs"]
        for job_id in ids:
            queue.enqueue(job_id)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def get_job(session: Session, user: User, job_id: int) -> Job:
    """One of the user's own jobs (another's is not found: its parameters and results are theirs)."""
    job = db.get_record(session, Job, job_id)
    if job is None or job.created_by_id != user.id:
        raise NotFound(_l("没有找到该任务。"))
    return job


def recent(session: Session, user: User, kinds: tuple[str, ...] | None = None, limit: int = 20) -> list[Job]:
    stmt = select(Job).where(Job.created_by_id == user.id)
    if kinds:
        stmt = stmt.where(Job.kind.in_(kinds))
    return list(session.scalars(stmt.order_by(Job.id.desc()).limit(limit)))


def cancel(session: Session, actor: User, job: Job, queue: Queue) -> None:
    """Stop a job: a queued one at once; a running one at its next progress report (the worker then rolls its
    transaction back, so nothing of it stays)."""
    if job.created_by_id != actor.id:
        raise NotFound(_l("没有找到该任务。"))
    if job.status in FINISHED:
        raise Conflict(_l("任务已经结束，不能取消。"))
    if job.status == JobStatus.running and not is_stale(queue, job):
        queue.request_cancel(job.id)
        return
    # Queued, or running on a worker that died: nobody is working on it, so it is cancelled now.
    changed = session.execute(update(Job).where(Job.id == job.id, Job.status == job.status)
                              .values(status=JobStatus.cancelled, finished_at=clock.now(),
                                      error=str(_l("已由本人取消。")))).rowcount
    if not changed:
        raise Conflict(_l("任务的状态刚刚变化了，请刷新页面后再试。"))
    session.refresh(job)


def rerun(session: Session, actor: User, job: Job, queue: Queue) -> Job:
    """Run a failed, cancelled or interrupted job again with the same parameters (safe: it left nothing)."""
    if job.created_by_id != actor.id:
        raise NotFound(_l("没有找到该任务。"))
    if not (job.status in (JobStatus.failed, JobStatus.cancelled) or is_stale(queue, job)):
        raise Conflict(_l("只有失败、已取消或中断的任务可以重新运行。"))
    job.status = JobStatus.queued
    job.error = None
    job.result = None
    job.started_at = job.finished_at = None
    queue.clear(job.id)
    session.flush()
    session.info.setdefault(_PENDING, []).append(job.id)
    return job


# --- live state in the queue's storage ---------------------------------------------------------------------

@dataclass(frozen=True)
class Live:
    done: int
    total: int | None
    message: str
    at: datetime  # last word from the worker (heartbeat)


class Queue:
    """The app's task queue: Huey, plus the small key-value state of running jobs in Huey's storage.

    Huey is set up when a job is first started, shown or run, not when the app is created: a web worker that never
    meets a job does not load it (with the Redis and psycopg clients its storages import, ~17 MB a worker)."""

    def __init__(self, app: Flask):
        self.app = app
        self._made: tuple[Any, Any] | None = None  # (Huey, the task that runs a job), made on first use
        self._lock = threading.Lock()

    def _make(self) -> tuple[Any, Any]:
        if self._made is None:
            with self._lock:
                if self._made is None:
                    huey, app = _make_huey(self.app), self.app

                    def run_job(job_id: int) -> None:
                        with app.app_context():
                            run(app, job_id)

                    self._made = (huey, huey.task(name="dibao.jobs.run")(run_job))
        return self._made

    @property
    def huey(self):
        return self._make()[0]

    def enqueue(self, job_id: int) -> None:
        self._make()[1](job_id)

    def drain(self) -> int:
        """Run every queued task in this process, one after the other (``dibao worker --burst``, the tests)."""
        count = 0
        while (task := self.huey.dequeue()) is not None:
            self.huey.execute(task)
            count += 1
        return count

    def _key(self, job_id: int, what: str) -> str:
        return f"dibao:job:{job_id}:{what}"

    def report(self, job_id: int, done: int, total: int | None, message: str = "") -> None:
        self.huey.put(self._key(job_id, "live"), (done, total, message, clock.now()))

    def live(self, job_id: int) -> Live | None:
        value = self.huey.get(self._key(job_id, "live"), peek=True)
        return Live(*value) if value else None

    def request_cancel(self, job_id: int) -> None:
        self.huey.put(self._key(job_id, "cancel"), True)

    def cancel_requested(self, job_id: int) -> bool:
        return bool(self.huey.get(self._key(job_id, "cancel"), peek=True))

    def clear(self, job_id: int) -> None:
        for what in ("live", "cancel"):
            self.huey.delete(self._key(job_id, what))


def _make_huey(app: Flask):
    from huey import MemoryHuey, RedisHuey, SqliteHuey

    setting = app.config.get("JOBS_QUEUE") or ("memory" if app.config.get("TESTING") else None)
    if setting == "memory":
        return MemoryHuey("dibao", results=False, utc=True)
    redis_url = app.config.get("REDIS_URL")
    if setting is None and redis_url:
        return RedisHuey("dibao", results=False, url=redis_url)
    path = Path(setting or Path(app.config["JOBS_DIR"]) / "queue.sqlite3")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("dibao", results=False, filename=str(path))


def init_app(app: Flask) -> None:
    app.extensions["dibao.jobs"] = Queue(app)


def queue() -> Queue:
    return current_app.extensions["dibao.jobs"]


def files_dir(app: Flask) -> Path:
    """The jobs' folder: uploaded rosters (ID numbers, bank accounts) and exports — the service user's only."""
    path = Path(app.config["JOBS_DIR"])
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Create (or empty) a job's file readable by the service user only, in a folder of the same kind, before
    anything is written into it: a file of personal data is never readable by others, not even for a moment."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    path.chmod(0o600)
    return path


FILES_KEPT_DAYS = 7  # an export's file, and an upload not imported, are deleted this long after the job ended
FINISHED = (JobStatus.done, JobStatus.failed, JobStatus.cancelled)


def job_files(job: Job) -> list[str]:
    """The files a job left under the jobs folder (relative names): an upload, an export."""
    try:
        params = json.loads(job.params or "{}")
    except ValueError:
        params = {}
    return [name for name in (params.get("upload"), job.file_name) if isinstance(name, str) and name]


def purge_files(session: Session, files: Path, *, days: int = FILES_KEPT_DAYS) -> int:
    """Delete what no one needs any more: a roster whose import is done at once (its data is in the database
    now, and the file holds every bank account), anything else a finished job left once ``days`` have passed.
    Returns how many files went."""
    cutoff = clock.now() - timedelta(days=days)
    root = files.resolve()
    gone = 0
    for job in session.scalars(select(Job).where(Job.status.in_(FINISHED))):
        expired = job.finished_at is not None and job.finished_at < cutoff
        imported = job.kind == "roster_import" and job.status == JobStatus.done
        if not (expired or imported):
            continue
        names = job_files(job)
        if not expired:
            names = names[:1]  # the imported roster only (job_files names the upload first)
        for name in names:
            path = (root / name).resolve()
            if path.is_relative_to(root) and path.is_file():
                path.unlink()
                gone += 1
    return gone


# --- progress and the run ----------------------------------------------------------------------------------

class Progress:
    """What a job's function calls: ``progress(done, total)``. Writes at most every REPORT_EVERY seconds (and
    always the last step), and raises :class:`Cancelled` once the user asked to stop."""

    def __init__(self, queue: Queue, job: Job, files: Path):
        self.queue = queue
        self.job_id = job.id
        self.files = files  # where a job writes its output file
        self._last = 0.0

    def __call__(self, done: int, total: int | None = None, message: str = "") -> None:
        now = time.monotonic()
        if now - self._last < REPORT_EVERY and (total is None or done < total):
            return
        self._last = now
        self.queue.report(self.job_id, done, total, message)
        if self.queue.cancel_requested(self.job_id):
            raise Cancelled


def _claim(app: Flask, job_id: int) -> Job | None:
    """queued → running, by one worker only (a conditional UPDATE)."""
    with app.extensions["dibao.write_sessions"]() as session:
        job = session.get(Job, job_id)
        if job is None or job.status != JobStatus.queued:
            return None  # cancelled before it started, or already taken
        claimed = session.execute(
            update(Job).where(Job.id == job_id, Job.status == JobStatus.queued)
            .values(status=JobStatus.running, started_at=clock.now(), attempts=Job.attempts + 1)).rowcount
        session.commit()
        if not claimed:
            return None
        session.refresh(job)
        session.expunge(job)
        return job


def _close(session: Session, job: Job, status: JobStatus, *, result: dict | None = None,
           error: str | None = None) -> bool:
    """Write the final status, but only for this attempt (a newer run of the same job wins)."""
    values: dict[str, Any] = {"status": status, "finished_at": clock.now(), "error": error}
    if result is not None:
        values["result"] = json.dumps(result, ensure_ascii=False, default=str)
        values["file_name"] = result.get("file_name")
    changed = session.execute(update(Job).where(Job.id == job.id, Job.attempts == job.attempts,
                                                Job.status == JobStatus.running).values(**values)).rowcount
    return bool(changed)


def run(app: Flask, job_id: int) -> JobStatus | None:
    """Run one job to its end (the worker's task). Returns the status it ended with (None: nothing to do)."""
    job = _claim(app, job_id)
    if job is None:
        return None
    q: Queue = app.extensions["dibao.jobs"]
    q.clear(job_id)
    q.report(job_id, 0, None)
    spec = KINDS.get(job.kind)
    params = json.loads(job.params or "{}")
    writer = app.extensions["dibao.write_sessions"]
    make = writer if spec is None or spec.writes else app.extensions["dibao.sessions"]
    outcome: tuple[JobStatus, dict | None, str | None]
    with make() as session:
        try:
            if spec is None:
                raise NotFound(_l("没有这种后台任务。"))
            actor = _actor(session, job)
            result = spec.run(session, actor, params, Progress(q, job, files_dir(app)))
            if spec.writes:
                # The job's changes and its "done" commit together: done means all of it, anything else none.
                if not _close(session, job, JobStatus.done, result=result):
                    session.rollback()
                    return None
                session.commit()
                q.clear(job_id)
                return JobStatus.done
            session.rollback()
            outcome = (JobStatus.done, result, None)
        except Cancelled:
            session.rollback()
            outcome = (JobStatus.cancelled, None, str(_l("已由本人取消，没有留下任何改动。")))
        except DomainError as err:
            session.rollback()
            outcome = (JobStatus.failed, None, str(err.message))
        except Exception:
            session.rollback()
            log.exception("job %s (%s) failed", job.id, job.kind)
            outcome = (JobStatus.failed, None,
                       str(_l("系统出错，任务没有完成，也没有留下任何改动。请稍后重新运行；如仍失败，请把任务编号 %(id)d 告诉系统管理员。",
                              id=job.id)))
    status, result, error = outcome
    with writer() as session:
        if status == JobStatus.done and spec is not None and spec.finish is not None:
            spec.finish(session, _actor(session, job), result or {})
        if _close(session, job, status, result=result, error=error):
            session.commit()
    q.clear(job_id)
    return status


def _actor(session: Session, job: Job) -> User | None:
    """The job runs as the user who started it, as they are now (a disabled account may no longer work)."""
    if job.created_by_id is None:
        return None
    user = session.get(User, job.created_by_id)
    if user is None or not user.active:
        raise DomainError(_l("启动任务的账号已停用，任务不能运行。"))
    return user


# --- what a page shows of a job ----------------------------------------------------------------------------

def is_stale(queue: Queue, job: Job) -> bool:
    """Running, but its worker has said nothing for STALE_AFTER: the worker was stopped or killed."""
    if job.status != JobStatus.running:
        return False
    live = queue.live(job.id)
    last = live.at if live else job.started_at
    return last is None or clock.now() - last > STALE_AFTER


@dataclass(frozen=True)
class View:
    job: Job
    label: str
    done: int
    total: int | None
    message: str
    stale: bool
    cancelling: bool
    result: dict

    @property
    def percent(self) -> int | None:
        if self.job.status == JobStatus.done:
            return 100
        if not self.total:
            return None
        return min(100, int(self.done * 100 / self.total))

    @property
    def finished(self) -> bool:
        return self.job.status in FINISHED

    @property
    def may_cancel(self) -> bool:
        return not self.finished and not self.cancelling

    @property
    def may_rerun(self) -> bool:
        return self.job.status in (JobStatus.failed, JobStatus.cancelled) or self.stale


def view(queue: Queue, job: Job) -> View:
    live = queue.live(job.id) if job.status == JobStatus.running else None
    stale = is_stale(queue, job)
    label = str(_l("已中断（后台进程停止）")) if stale else str(STATUS_LABELS[job.status])
    return View(job=job, label=label, done=live.done if live else 0, total=live.total if live else None,
                message=live.message if live else "", stale=stale,
                cancelling=job.status == JobStatus.running and queue.cancel_requested(job.id),
                result=json.loads(job.result) if job.result else {})


# --- the worker ----------------------------------------------------------------------------------------------

@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="threads running jobs at once")
@click.option("--burst", is_flag=True, help="run the jobs already queued, then exit")
@with_appcontext
def worker_command(workers: int, burst: bool) -> None:
    """Run background jobs (imports, exports …) from the task queue until stopped."""
    q = queue()
    if burst:
        click.echo(f"ran {q.drain()} jobs")
        return
    click.echo(f"dibao worker: {type(q.huey).__name__}, {workers} threads")
    q.huey.create_consumer(workers=workers, worker_type="thread", periodic=False).run()
