"""Alembic, driven from the app: ``dibao db upgrade`` and the tests use the same entry points.

Alembic is imported when a command runs, not when the app is created: the CLI module (and so this one) is loaded
by every web worker, which never migrates, and Alembic's import alone is ~11 MB of each worker's memory (issue 13).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def include_object(dialect: str):
    """Autogenerate's filter for ``dialect``: an index a model declares for other databases only
    (``info={"dialects": (…)}``, with the matching ``ddl_if``) is neither expected nor missing here."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        dialects = getattr(obj, "info", {}).get("dialects") if type_ == "index" and not reflected else None
        return dialects is None or dialect in dialects

    return include


def upgrade(engine: Engine, revision: str = "heads") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def revision(engine: Engine, message: str, autogenerate: bool = True) -> None:
    from alembic import command

    command.revision(alembic_config(engine), message=message, autogenerate=autogenerate)


def current(engine: Engine) -> None:
    from alembic import command

    command.current(alembic_config(engine))
