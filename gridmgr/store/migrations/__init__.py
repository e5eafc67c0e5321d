"""Alembic migrations of the gridmgr store (run by ``Store.upgrade()`` / ``gridmgr db upgrade``).

This package is Alembic's script location (``env.py``, ``versions/``); the functions below run
it programmatically on an engine, without an ``alembic.ini``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from gridmgr.errors import SchemaError
from gridmgr.i18n import t
from gridmgr.store.engine import read_connection, write_transaction
from gridmgr.store.schema import HEAD_REVISION

SCRIPT_LOCATION = Path(__file__).resolve().parent


def revision(engine: Engine) -> str | None:
    """The schema revision of the database (``None`` when it has none)."""
    with read_connection(engine) as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


def check_revision(rev: str | None, label: str) -> None:
    """Raise :class:`SchemaError` (naming the store ``label``) unless ``rev`` is the head."""
    if rev == HEAD_REVISION:
        return
    head = HEAD_REVISION
    if rev is None:
        msg = t(
            f"{label} 中没有 gridmgr 数据库结构（应为 {head}），请运行 `gridmgr db upgrade`",
            f"{label} has no gridmgr schema (expected {head}); run `gridmgr db upgrade`",
        )
    else:
        msg = t(
            f"{label} 的数据库结构版本为 {rev}（应为 {head}），请运行 `gridmgr db upgrade`",
            f"{label} has schema revision {rev} (expected {head}); run `gridmgr db upgrade`",
        )
    raise SchemaError(msg)


def _ensure_postgis(conn: Connection, label: str) -> None:
    """Create the ``postgis`` extension when missing, or explain how to get it."""
    have = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first()
    if have is not None:
        return
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except Exception as exc:
        ename = type(exc).__name__
        msg = t(
            f"{label}：未安装 PostGIS 扩展且无法创建（{ename}）；请安装 "
            "postgresql-15-postgis-3（scripts/system-deps.sh），或请数据库管理员执行 "
            "CREATE EXTENSION postgis",
            f"{label}: the PostGIS extension is not installed and could not be "
            f"created ({ename}); install postgresql-15-postgis-3 "
            "(scripts/system-deps.sh) or ask the DBA to run CREATE EXTENSION postgis",
        )
        raise SchemaError(msg) from exc


def upgrade(engine: Engine, label: str) -> None:
    """Run every migration up to the head in one transaction (PostGIS created when missing)."""
    # Alembic is only needed here: imported on use, not with the store.
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            _ensure_postgis(conn, label)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
