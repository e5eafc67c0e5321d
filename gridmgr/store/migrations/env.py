"""Alembic environment: runs on the connection handed over by :meth:`gridmgr.store.Store.upgrade`.

No ``alembic.ini`` is needed: the store builds the Alembic ``Config`` in code and passes an open
connection in ``config.attributes["connection"]``. Running ``alembic`` by hand also works with
``-x url=...`` (or ``GRIDMGR_DATABASE_URL``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from gridmgr import settings
from gridmgr.store.schema import metadata


def _run(connection: Connection) -> None:
    """Configure Alembic on ``connection`` (batch mode on SQLite) and run the migrations."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    """Migrate on the connection the store handed over, else on ``-x url=…`` (command line)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:  # pragma: no cover - command-line alembic
        url = context.get_x_argument(as_dictionary=True).get("url") or settings.database_url()
        engine = create_engine(url)
        with engine.begin() as conn:
            _run(conn)
        engine.dispose()


# Alembic installs ``context.config`` while it runs this script; imported any other way (e.g. by
# ``pytest --doctest-modules``) there is nothing to run.
if hasattr(context, "config"):
    _main()
