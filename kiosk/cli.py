"""``dibao kiosk …``: the kiosk registry from the command line (registered in dibao.cli)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from dibao import db, kiosks


@click.group("kiosk", help="Community kiosks (公示终端).")
def kiosk_group() -> None:
    pass


@kiosk_group.command("list")
@with_appcontext
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked kiosks.")
def kiosk_list(include_revoked: bool) -> None:
    """Print every kiosk with its status and display URL (built on DIBAO_PUBLIC_URL)."""
    items = kiosks.list_kiosks(db.session(), None, include_revoked=include_revoked)
    if not items:
        click.echo("no kiosks registered (an admin registers them at /admin/kiosks/)")
        return
    public_url = current_app.config["PUBLIC_URL"]
    for k in items:
        state = kiosks.status(k)
        url = "-" if k.revoked else kiosks.display_url(public_url, k)
        click.echo(f"{k.id:>4}  {state.value:<8} {k.region.code:<12} {k.region.name}  {k.name}\n      {url}")
