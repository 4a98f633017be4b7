"""Alembic environment: the engine comes from the app (dibao.migrate), the metadata from dibao.models."""

from alembic import context

import dibao.models  # noqa: F401  (registers every model on the metadata)
from dibao.db import Base
from dibao.migrate import include_object

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it; with foreign keys enforced, dropping the old copy of a table
            # that others point at fails. Off for the migration (outside any transaction), on again after.
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
            compare_type=True,
            include_object=include_object(connection.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        if sqlite:
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `dibao db upgrade`")
run_migrations_online()
