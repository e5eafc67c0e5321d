"""Persistence of gridmgr: SQLite by default, PostgreSQL + PostGIS in production, one code path.

SQLAlchemy 2 Core tables (:mod:`gridmgr.store.schema`), geometry as PostGIS typmod columns or
WKB blobs, Alembic migrations shipped in the package (``Store.upgrade()``; ``gridmgr db
upgrade``). Every write is one transaction that also writes its history rows.

Public API (full reference in ``docs/store.md``)
-----------------------------------------------
``open_store(url=None, **engine_kwargs) -> Store``; on the store:
``upgrade()``, ``load_layers(layers, *, res=None, actor="system", allow_orphans=False,
pieces=None) -> LoadReport``, ``units()``, ``pieces(scope=None, *, geometry=True)``,
``key_places(scope=None)``, ``categories()``, ``departments()``,
``leaders(*, include_phone=False, active=None)``, ``get_leader(id)``,
``import_leaders(path, *, actor, reason=None) -> LeadersImportReport``,
``deactivate_leader(id, *, reason, actor) -> changeset id``,
``apply_changes(changes, *, actor, reason, kind="edit", changeset_id=None, plan_id=None,
conn=None) -> ChangeResult`` (:class:`Change` items or a frame), ``undo_changeset(id, *, actor,
reason=None)``, ``history(*, leader, cell, piece_id, since, until, changeset, limit)``,
``changesets()``, ``leader_events(id=None)``, ``owners_at(when)``,
``export_assignments(out, *, scope=None)``, ``import_assignments(path, *, actor, reason)``,
``save_grid_codes(frame)``, ``grid_codes()``, plans (``save_plan``, ``get_plan``,
``list_plans``, ``set_plan_status``), users and tokens (``add_user``, ``get_user``, ``users``,
``add_token``, ``user_for_token``, ``revoke_token``), ``transaction()``, ``dump()``.

Examples
--------
>>> from gridmgr.store import open_store
>>> store = open_store("sqlite:///:memory:")
>>> store.backend
'sqlite'
"""

from __future__ import annotations

from gridmgr.store._store import Store, open_store
from gridmgr.store.types import (
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
