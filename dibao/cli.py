"""The ``dibao`` command line (the same commands as ``flask --app dibao``)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import inspect, select

from dibao import audit, backup, db, migrate


def main() -> None:
    from dibao import create_app

    FlaskGroup(create_app=create_app, help="阳光低保 — Sunshine Dibao").main()


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(create_user_command)
    app.cli.add_command(check_households_command)
    app.cli.add_command(create_region_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)

    from dibao.sweep import media_group, notices_group

    app.cli.add_command(notices_group)
    app.cli.add_command(media_group)
    from dibao.retention import retention_group  # PIPL Art. 47: erasing what served its purpose

    app.cli.add_command(retention_group)
    from dibao.demo import seed_demo_command

    app.cli.add_command(seed_demo_command)
    from dibao.scale import seed_scale_command  # issue 13: a province for measuring (PostgreSQL)

    app.cli.add_command(seed_scale_command)

    from kiosk.cli import kiosk_group

    app.cli.add_command(kiosk_group)
    from dibao.notify import notify_group

    app.cli.add_command(notify_group)

    from dibao.jobs import worker_command

    app.cli.add_command(worker_command)

    from dibao.imports import import_group

    app.cli.add_command(import_group)
    from dibao.payments import payments_group

    app.cli.add_command(payments_group)

    from dibao.raises import standards_group  # issue 10: 提标

    app.cli.add_command(standards_group)
    app.cli.add_command(stats_group)  # issue 13: the monthly statistics summary
    from dibao.datakey import keys_group  # rotating the data key
    app.cli.add_command(keys_group)


@click.group("db", help="Database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@with_appcontext
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Build or update the schema (and checkpoint the audit log as it stands, unkeyed events included)."""
    migrate.upgrade(db.engine(), revision)
    click.echo(f"database at {revision}")
    if inspect(db.engine()).has_table("audit_event"):
        _checkpoint()


@db_group.command("downgrade")
@with_appcontext
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    migrate.downgrade(db.engine(), revision)


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    migrate.current(db.engine())


@db_group.command("revision")
@with_appcontext
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Write a new migration by comparing the models with the database (for developers)."""
    migrate.revision(db.engine(), message)


@click.group("audit", help="The hash-chained audit log.")
def audit_group() -> None:
    pass


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check the whole chain against its hashes, the audit key and the checkpoints outside the database;
    exit 1 and name the first broken event, or what is missing."""
    path = current_app.config["AUDIT_CHECKPOINTS"]
    checkpoints, unreadable = audit.read_checkpoints(path)
    report = audit.verify(db.session(), checkpoints=checkpoints)
    if unreadable:
        click.echo(f"checkpoint file {path}: lines {', '.join(map(str, unreadable))} cannot be read", err=True)
    if report.ok and not unreadable:
        click.echo(f"audit chain intact: {report.checked} events, {report.checkpoints} checkpoints agree")
        return
    if not report.ok:
        click.echo(f"audit chain BROKEN at event {report.broken_id}: {report.reason} "
                   f"({report.checked} events before it are intact)", err=True)
    raise SystemExit(1)


def _checkpoint() -> None:
    path = current_app.config["AUDIT_CHECKPOINTS"]
    checkpoint = audit.write_checkpoint(db.session(), path)
    db.session().rollback()  # read only
    click.echo(f"audit checkpoint written to {path}: {checkpoint.count} events, head {checkpoint.hash}")


@audit_group.command("checkpoint")
@with_appcontext
def audit_checkpoint() -> None:
    """Append the log's count and head hash to the checkpoint file (the sweep also does it every
    DIBAO_AUDIT_CHECKPOINT_MINUTES). Copy that file off the machine: it is what shows deleted events."""
    _checkpoint()


@audit_group.command("rotate-key")
@click.option("--new-key", help="The new key, from your secret store (required when DIBAO_AUDIT_KEY is set).")
@click.option("--yes", is_flag=True, help="Do not ask: every web and worker process is stopped.")
@with_appcontext
def audit_rotate_key(new_key: str | None, yes: bool) -> None:
    """Hand the audit chain to a new key, e.g. after the key may have been exposed. Stop the service first.

    The old key is kept as a retired key (instance/retired_audit_key): `audit verify` needs it for the events it
    signed. Run it again to finish a rotation that was interrupted."""
    import os
    import secrets
    from pathlib import Path

    from dibao import keys
    from dibao.errors import DomainError

    instance = Path(current_app.instance_path)
    from_env = bool(os.environ.get("DIBAO_AUDIT_KEY"))
    pending, key_file, retired_file = instance / "audit_key.next", instance / "audit_key", instance / "retired_audit_key"
    session = db.session()
    last = audit.last_rotation(session)
    if not from_env and pending.exists() and last and last["to"] == audit.key_id(pending.read_text().strip()):
        # The rotation was committed but the key not installed: install it, and nothing else.
        os.replace(pending, key_file)
        click.echo(f"finished the interrupted rotation: instance/audit_key is now key {last['to']}")
        return
    if from_env and not new_key:
        raise click.ClickException("DIBAO_AUDIT_KEY is set: make a new key in your secret store and pass it with "
                                   "--new-key (at least 32 characters)")
    if not yes:
        click.confirm("Every web server and worker must be stopped (a process left running would go on signing "
                      "with the old key). Rotate the audit key now?", abort=True)
    checkpoints, _unreadable = audit.read_checkpoints(current_app.config["AUDIT_CHECKPOINTS"])
    report = audit.verify(session, checkpoints=checkpoints)
    if not report.ok:
        raise click.ClickException(f"the audit chain does not verify (event {report.broken_id}: {report.reason}); "
                                   "investigate before rotating the key (docs/operations.md)")
    old = current_app.config["AUDIT_KEY"]
    new = new_key or secrets.token_urlsafe(48)
    try:
        if not from_env:
            # Both keys on disk before the database depends on them: the new one beside the old, and the old one
            # among the retired (harmless if the rotation then fails: a retired key that is still in use).
            keys.write_private(pending, new)
            if old not in keys.retired_keys(instance, retired_file.name, None):
                keys.write_private(retired_file, old + "\n", append=True)
        event = audit.rotate(session, new)
        session.commit()
    except DomainError as err:
        session.rollback()
        pending.unlink(missing_ok=True)
        raise click.ClickException(str(err.message)) from None
    if not from_env:
        os.replace(pending, key_file)
    retired = (*current_app.config["AUDIT_RETIRED_KEYS"], old)
    audit.set_key(new, retired)
    current_app.config.update(AUDIT_KEY=new, AUDIT_RETIRED_KEYS=retired)
    _checkpoint()  # the rotation in the file outside, at once
    click.echo(f"audit key rotated at event {event.id}: key {audit.key_id(old)} retired, key {audit.key_id(new)} "
               "signs from now on")
    if from_env:
        click.echo("now, on every node: set DIBAO_AUDIT_KEY to the new key, add the old one to "
                   "DIBAO_AUDIT_RETIRED_KEYS, and keep both in the secret store", err=True)
    else:
        click.echo("copy instance/audit_key and instance/retired_audit_key to every other node before starting it")


@click.group("stats", help="The monthly statistics and roster summaries (derived data: refresh and check).")
def stats_group() -> None:
    pass


def _county(code: str | None):
    from dibao import regions
    from dibao.errors import NotFound

    if code is None:
        return None
    try:
        return regions.by_code(db.session(), code)
    except NotFound as err:
        raise click.ClickException(f"{code}: {err.message}") from None


@stats_group.command("refresh")
@with_appcontext
@click.option("--county", "code", default=None, help="区划代码 (any region); default: every region")
@click.option("--months", type=click.IntRange(min=0, max=120), default=None,
              help="months before the current one to summarise (default 24; the current and next one always)")
@click.option("--all", "everything", is_flag=True, help="recompute summarised months too (after a failed verify)")
def stats_refresh(code: str | None, months: int | None, everything: bool) -> None:
    """Summarise every (community, month) not summarised yet; a community being changed right now is left for
    the next run (the sweep also refreshes a few on every tick). Idempotent."""
    import time

    from dibao import roster_summary, stats_summary

    started = time.monotonic()
    wanted = stats_summary.summary_months(back=months) if months is not None else None
    done = stats_summary.refresh(db.session(), _county(code), months=wanted, everything=everything)
    click.echo(f"statistics summary: {done.regions} regions refreshed ({done.pairs} region-months) in "
               f"{time.monotonic() - started:.1f} s" + _busy(done.busy))
    started = time.monotonic()
    roster = roster_summary.refresh(db.session(), _county(code), everything=everything)
    click.echo(f"roster summary: {roster.regions} regions refreshed in {time.monotonic() - started:.1f} s"
               + _busy(roster.busy))


def _busy(busy: list[int]) -> str:
    return f"; {len(busy)} busy, left for the next run" if busy else ""


@stats_group.command("verify")
@with_appcontext
@click.option("--county", "code", default=None, help="区划代码 (any region); default: every region")
def stats_verify(code: str | None) -> None:
    """Recompute every summarised (community, month) live and compare; exit 1 on any difference."""
    from dibao import roster_summary, stats_summary

    differences, checked = stats_summary.verify(db.session(), _county(code))
    roster_differences, roster_checked = roster_summary.verify(db.session(), _county(code))
    if not differences:
        click.echo(f"statistics summary agrees with the live figures: {checked} region-months checked")
    if not roster_differences:
        click.echo(f"roster summary agrees with the live figures: {roster_checked} regions checked")
    if not differences and not roster_differences:
        return
    for d in differences[:50]:
        click.echo(f"DIFFERENT {d.region} {d.month.isoformat()[:7]} category {d.category}: "
                   f"summary {d.summary}, live {d.live}", err=True)
    for r in roster_differences[:50]:
        click.echo(f"DIFFERENT roster {r.region}: summary {r.summary}, live {r.live}", err=True)
    if differences:
        click.echo(f"{len(differences)} differences in {checked} region-months", err=True)
    if roster_differences:
        click.echo(f"{len(roster_differences)} roster differences in {roster_checked} regions", err=True)
    click.echo("`dibao stats refresh --all` once the cause is known", err=True)
    raise SystemExit(1)


# The option of each form field a refusal names (the domain's problems are named by the admin form's fields).
USER_OPTIONS = {"username": "--username", "display_name": "--name", "password": "--password", "role": "--role",
                "region_id": "--region"}
REGION_OPTIONS = {"code": "--code", "name": "--name", "parent_id": "--parent"}


def _refusal(err, options: dict[str, str]) -> str:
    """A domain refusal for the terminal: every problem on its own line, after the option it is about."""
    problems = err.field_problems
    if len(problems) == 1:
        return str(err.message)
    return "\n".join(f"{options.get(field or '', '')} {message}".strip() for field, message in problems)


@click.command("check-households")
@with_appcontext
def check_households_command() -> None:
    """List every person who is the head or a member of more than one open case (一人只能属于一户; data from
    before the rule or an old system); exit 1 if there is any. ID numbers are masked."""
    from dibao import cases

    shared = cases.people_in_several_households(db.session())
    if not shared:
        click.echo("every person is in one open household at most")
        return
    for person in shared:
        click.echo(f"{person.masked_id}: {', '.join(person.numbers)}")
    click.echo(f"{len(shared)} people in more than one open household: check each with the communities concerned",
               err=True)
    raise SystemExit(1)


@click.command("create-user")
@with_appcontext
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="姓名")
@click.option("--role", type=click.Choice(["community_staff", "town_reviewer", "county_approver", "admin"]),
              required=True)
@click.option("--region", "region_code", required=True, help="区划代码")
@click.password_option()
def create_user_command(username: str, display_name: str, role: str, region_code: str, password: str) -> None:
    """Create a staff account."""
    from dibao import accounts, regions
    from dibao.errors import DomainError
    from dibao.models import Role

    session = db.session()
    try:
        region = regions.by_code(session, region_code)
        user = accounts.create_user(session, None, username=username, display_name=display_name,
                                    password=password, role=Role(role), region=region)
    except DomainError as err:
        raise click.ClickException(_refusal(err, USER_OPTIONS)) from None
    session.commit()
    click.echo(f"created {user.username} ({role}) in {region.full_name}")


@click.command("create-region")
@with_appcontext
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--parent", "parent_code", default=None, help="上级区划代码; omit for a county")
def create_region_command(code: str, name: str, parent_code: str | None) -> None:
    """Create a region (a county when no parent is given)."""
    from dibao import regions
    from dibao.errors import DomainError
    from dibao.models import Region

    session = db.session()
    try:
        parent = None
        if parent_code:
            parent = session.scalar(select(Region).where(Region.code == parent_code))
            if parent is None:
                raise click.ClickException(f"no region {parent_code}")
        region = regions.create_region(session, None, code=code, name=name, parent=parent)
    except DomainError as err:
        raise click.ClickException(_refusal(err, REGION_OPTIONS)) from None
    session.commit()
    click.echo(f"created {region.level.value} {region.code} {region.name}")


def _locations() -> backup.Locations:
    import os
    from pathlib import Path

    cfg = current_app.config
    return backup.Locations(media_dir=Path(cfg["MEDIA_DIR"]), instance_dir=Path(current_app.instance_path),
                            checkpoints=Path(cfg["AUDIT_CHECKPOINTS"]), pg_bindir=cfg["PG_BINDIR"],
                            audit_key_from_env=os.environ.get("DIBAO_AUDIT_KEY") or None,
                            audit_retired_from_env=os.environ.get("DIBAO_AUDIT_RETIRED_KEYS") or None)


@click.command("backup")
@with_appcontext
@click.argument("path", type=click.Path())
def backup_command(path: str) -> None:
    """Back up the database, media, key files and audit checkpoints to PATH (a new directory, or .tar.gz)."""
    from dibao.errors import DomainError

    where = _locations()
    try:
        manifest = backup.create(db.engine(), path, where)
    except DomainError as err:
        raise click.ClickException(str(err.message)) from None
    head = manifest["audit_head"]
    click.echo(f"backup written to {path}: {manifest['engine']} at {', '.join(manifest['revision'])}, "
               f"{sum(manifest['tables'].values())} rows in {len(manifest['tables'])} tables, "
               f"{len(manifest['files'])} files, audit {head['count']} events (head {head['hash'][:16]}…)")
    if where.audit_key_from_env:
        click.echo("the audit key comes from DIBAO_AUDIT_KEY and is NOT in the backup: keep it in your secret store",
                   err=True)
    click.echo("it holds the keys and personal data: keep it encrypted, off this machine (docs/operations.md)")


@click.command("restore")
@with_appcontext
@click.argument("path", type=click.Path(exists=True))
def restore_command(path: str) -> None:
    """Restore a backup into this empty deployment, then check row counts, files and the audit chain."""
    from dibao.errors import DomainError

    try:
        report = backup.restore(db.engine(), path, _locations())
    except DomainError as err:
        raise click.ClickException(str(err.message)) from None
    manifest = report.manifest
    for note in report.notes:
        click.echo(note)
    click.echo(f"restored {manifest['engine']} backup of {manifest['created_at']} "
               f"(revision {', '.join(manifest['revision'])}): {sum(manifest['tables'].values())} rows, "
               f"{len(manifest['files'])} files")
    if not report.ok:
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}", err=True)
        raise SystemExit(1)
    click.echo(f"checked: row counts of {len(manifest['tables'])} tables, every file, "
               f"audit chain intact ({report.chain.checked} events)")
    click.echo("next: `dibao db upgrade` (brings the schema to this code's revision), then start the service")
