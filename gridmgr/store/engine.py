"""Engine creation and the one transaction helper of the store.

SQLite: WAL journal, foreign keys on, a 60 s busy timeout and ``BEGIN IMMEDIATE`` for write
transactions, so concurrent writers queue instead of failing and a read-then-write transaction
cannot be overtaken. PostgreSQL: psycopg2 (imported by SQLAlchemy only when a PostgreSQL URL is
opened), batched ``executemany``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from gridmgr.errors import InputError
from gridmgr.i18n import t


def create_store_engine(url: str, **kwargs: Any) -> Engine:
    """Create the SQLAlchemy engine for a store URL (``sqlite:///…`` or ``postgresql+psycopg2://…``).

    Parameters
    ----------
    url
        Database URL.
    **kwargs
        Extra arguments for :func:`sqlalchemy.create_engine` (e.g. ``pool_size``).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            parent = Path(database).expanduser().resolve().parent
            if not parent.exists():
                msg = t(
                    f"数据库 {url}：目录 {parent} 不存在，请先创建该目录",
                    f"database {url}: directory {parent} does not exist; create it first",
                )
                raise InputError(msg)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", 60)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event below emit BEGIN itself.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if database and database != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = "BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN"
            conn.exec_driver_sql(mode)

        return engine
    if backend == "postgresql":
        kwargs.setdefault("executemany_mode", "values_plus_batch")
        kwargs.setdefault("insertmanyvalues_page_size", 5000)
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    msg = t(
        f"数据库 {url}：不支持的后端 {backend!r}，请使用 sqlite:/// 或 postgresql+psycopg2://",
        f"database {url}: unsupported backend {backend!r}; use sqlite:/// or postgresql+psycopg2://",
    )
    raise InputError(msg)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: commit on success, roll back on any exception."""
    with engine.connect() as conn:
        conn.info["write"] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info.pop("write", None)


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads (one consistent snapshot on PostgreSQL)."""
    with engine.connect() as conn, conn.begin():
        yield conn
