"""Persistence of gridmgr: SQLite by default, PostgreSQL + PostGIS in production, one code path.

SQLAlchemy 2 Core tables (:mod:`gridmgr.store.schema`), geometry as PostGIS typmod columns or
WKB blobs, Alembic migrations shipped in the package (``Store.upgrade()``; ``gridmgr db
upgrade``). Every write is one transaction that also writes its history rows.

Examples
--------
>>> from gridmgr.store import open_store
>>> store = open_store("sqlite:///:memory:")
>>> store.backend
'sqlite'
"""

from __future__ import annotations

from gridmgr.store._store import Store, open_store
from gridmgr.store._types import (
    AssignmentsImportReport,
    Change,
    ChangeResult,
    LeadersImportReport,
    LoadReport,
    TableDiff,
)

__all__ = [
    "AssignmentsImportReport",
    "Change",
    "ChangeResult",
    "LeadersImportReport",
    "LoadReport",
    "Store",
    "TableDiff",
    "open_store",
]
