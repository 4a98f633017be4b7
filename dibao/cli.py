"""The ``dibao`` command line (the same commands as ``flask --app dibao``)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from dibao import audit, db, migrate


def main() -> None:
    from dibao import create_app

    FlaskGroup(create_app=create_app, help="阳光低保 — Sunshine Dibao").main()


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(create_user_command)
    app.cli.add_command(create_region_command)

    from dibao.sweep import notices_group

    app.cli.add_command(notices_group)
    from dibao.demo import seed_demo_command

    app.cli.add_command(seed_demo_command)

    from kiosk.cli import kiosk_group

    app.cli.add_command(kiosk_group)
    from dibao.notify import notify_group

    app.cli.add_command(notify_group)


@click.group("db", help="Database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@with_appcontext
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Build or update the schema."""
    migrate.upgrade(db.engine(), revision)
    click.echo(f"database at {revision}")


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
    """Check the whole chain; exit 1 and name the first broken event if it was tampered with."""
    report = audit.verify(db.session())
    if report.ok:
        click.echo(f"audit chain intact: {report.checked} events")
        return
    click.echo(f"audit chain BROKEN at event {report.broken_id}: {report.reason} "
               f"({report.checked} events before it are intact)", err=True)
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
        raise click.ClickException(str(err.message)) from None
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
        raise click.ClickException(str(err.message)) from None
    session.commit()
    click.echo(f"created {region.level.value} {region.code} {region.name}")
