"""Alembic drift: after ``Store.upgrade()`` the database is exactly ``schema.py``'s MetaData.

Compared with ``alembic.autogenerate.compare_metadata`` on both backends (SQLite and PostGIS);
only differences that are genuinely the backend's own are filtered (each filter says why).
A second test proves the comparison can fail.
"""

from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, Text

from gridmgr.store import open_store
from gridmgr.store import schema as s

# PostGIS's own tables: ``spatial_ref_sys`` comes with ``CREATE EXTENSION postgis`` in the
# default schema; ``topology`` and ``tiger`` (postgis_topology, postgis_tiger_geocoder) only
# appear where those extensions are installed. None of them belongs to gridmgr.
POSTGIS_TABLES = {"spatial_ref_sys", "topology", "layer"}
POSTGIS_SCHEMAS = {"topology", "tiger", "tiger_data"}

# GiST spatial indexes: ``Geom`` sets ``spatial_index=False`` so GeoAlchemy2 adds no index of
# its own to the MetaData, and the migration creates one GiST index per geometry column on
# PostGIS only (SQLite keeps WKB blobs, no spatial index). Exactly these are expected.
GIST_INDEXES = {f"gix_{table}_{column}" for table, column, _ in s.GEOMETRY_COLUMNS}

# Monthly partitions of ``patrol_points`` (declarative partitioning on PostGIS, created on demand
# by ``gridmgr.store.patrols``): reflected as tables of their own, but they are the parent's.
PARTITION = re.compile(r"^patrol_points_y\d{4}m\d{2}$")


def _compare(url: str, metadata: MetaData) -> list[Any]:
    """The differences Alembic autogenerate finds between the database at ``url`` and
    ``metadata`` (types and server defaults compared too)."""
    store = open_store(url)
    try:
        store.upgrade()
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(ctx, metadata))
    finally:
        store.close()


def _backend_noise(diff: Any, backend: str) -> str | None:
    """The name of a backend-owned object the entry ``diff`` is about, else ``None``."""
    if backend != "postgresql" or not isinstance(diff, tuple):
        return None
    kind, obj = diff[0], diff[1]
    if kind == "remove_table" and (obj.name in POSTGIS_TABLES or obj.schema in POSTGIS_SCHEMAS):
        return str(obj.name)
    if kind == "remove_table" and PARTITION.match(str(obj.name)):
        return str(obj.name)
    if kind == "remove_index" and PARTITION.match(str(obj.table.name)):
        return str(obj.name)
    if kind == "remove_index" and obj.name in GIST_INDEXES:
        return str(obj.name)
    return None


def test_migrated_database_equals_the_metadata(store_url: str) -> None:
    backend = "postgresql" if store_url.startswith("postgresql") else "sqlite"
    diffs = _compare(store_url, s.metadata)
    noise = {name for d in diffs if (name := _backend_noise(d, backend)) is not None}
    real = [d for d in diffs if _backend_noise(d, backend) is None]
    assert real == []
    if backend == "postgresql":
        # every geometry column has its GiST index (a missing one is a migration bug)
        assert GIST_INDEXES <= noise


def test_the_comparison_reports_a_column_the_database_lacks(store_url: str) -> None:
    copy = MetaData(naming_convention=s.NAMING)
    for table in s.metadata.sorted_tables:
        table.to_metadata(copy)
    copy.tables["leaders"].append_column(Column("drift_probe", Text, nullable=True))
    diffs = _compare(store_url, copy)
    added = [d for d in diffs if isinstance(d, tuple) and d[0] == "add_column"]
    assert [(d[2], d[3].name) for d in added] == [("leaders", "drift_probe")]
