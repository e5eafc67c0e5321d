"""The :class:`Store` facade: opens transactions and delegates to the repository modules.

Every method is a thin wrapper: it opens one write transaction (:meth:`Store.transaction`) or
one read connection and calls a function of :mod:`~gridmgr.store.layers`,
:mod:`~gridmgr.store.layers_load`, :mod:`~gridmgr.store.leaders`,
:mod:`~gridmgr.store.assignments`, :mod:`~gridmgr.store.history`,
:mod:`~gridmgr.store.changesets`, :mod:`~gridmgr.store.roundtrip`, :mod:`~gridmgr.store.plans`
or :mod:`~gridmgr.store.users` with that connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, Self, TypeVar

import pandas as pd
from sqlalchemy import Connection, Engine, select

from gridmgr import settings
from gridmgr.store import (
    assignments,
    changesets,
    history,
    layers,
    layers_load,
    layers_stream,
    leaders,
    migrations,
    plans,
    roundtrip,
    users,
)
from gridmgr.store import schema as s
from gridmgr.store._layers_input import prepare_layers
from gridmgr.store.engine import create_store_engine, read_connection, write_transaction
from gridmgr.store.types import (
    AssignmentsImportReport,
    Change,
    ChangeResult,
    LeadersImportReport,
    LoadReport,
)

if TYPE_CHECKING:
    import geopandas as gpd

P = ParamSpec("P")
R = TypeVar("R")


class Store:
    """The gridmgr store: layers, leaders, assignments with full history, plans and users.

    Open it with :func:`open_store`. Every write method runs in one transaction (or in the
    caller's, when ``conn`` is given — see :meth:`transaction`), writes its history rows in that
    same transaction and binds every parameter.

    Examples
    --------
    >>> store = open_store("sqlite:///:memory:")
    >>> store.backend, store.is_postgis
    ('sqlite', False)
    """

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._schema_ok = False

    # ------------------------------------------------------------------ plumbing

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def is_postgis(self) -> bool:
        """True on PostgreSQL + PostGIS."""
        return self.backend == "postgresql"

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, conn: Connection | None = None) -> Iterator[Connection]:
        """The one write transaction (commit, or roll back on any error); write methods take
        ``conn=`` to share a caller's, so they commit or fail together::

            with store.transaction() as conn:
                store.apply_changes(changes, actor="a", reason="r", kind="plan", conn=conn)
                store.save_grid_codes(codes, conn=conn)
        """
        if conn is not None:
            yield conn
            return
        self.require_schema()
        with write_transaction(self.engine) as new:
            yield new

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read connection on a migrated database."""
        self.require_schema()
        with read_connection(self.engine) as conn:
            yield conn

    def _reading(
        self, fn: Callable[Concatenate[Connection, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """``fn(conn, *args, **kwargs)`` on a read connection."""
        with self._read() as conn:
            return fn(conn, *args, **kwargs)

    def _writing(
        self,
        conn: Connection | None,
        fn: Callable[Concatenate[Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """``fn(c, *args, **kwargs)`` in one write transaction (or the caller's ``conn``)."""
        with self.transaction(conn) as c:
            return fn(c, *args, **kwargs)

    # ------------------------------------------------------------------ schema

    def upgrade(self) -> str:
        """Create or migrate the schema to the newest revision (PostGIS created when missing)."""
        if self.revision() != s.HEAD_REVISION:
            migrations.upgrade(self.engine, repr(self))
        self._schema_ok = False
        self.require_schema()
        return s.HEAD_REVISION

    def revision(self) -> str | None:
        """The schema revision of the database (``None`` when it has none)."""
        return migrations.revision(self.engine)

    def require_schema(self) -> None:
        """Raise :class:`SchemaError` unless the database is at the newest revision."""
        if not self._schema_ok:
            migrations.check_revision(self.revision(), repr(self))
            self._schema_ok = True

    def get_meta(self, key: str) -> str | None:
        """A value of the ``meta`` table (e.g. ``res``)."""
        return self._reading(layers.get_meta, key)

    @property
    def res(self) -> int | None:
        """H3 resolution of the loaded grid (``None`` before the first load)."""
        value = self.get_meta("res")
        return None if value is None else int(value)

    # ------------------------------------------------------------------ layers

    def units(self) -> gpd.GeoDataFrame:
        """Units with geometry (:func:`gridmgr.store.layers.units`)."""
        return self._reading(layers.units)

    def pieces(
        self, scope: str | None = None, *, geometry: bool | Literal["border"] = True
    ) -> pd.DataFrame:
        """Pieces of ``scope`` (a unit code) with their owner (:func:`~.layers.pieces`);
        ``geometry="border"``: the lazy form, geometry only on pieces cut by a unit border."""
        return self._reading(layers.pieces, scope, geometry=geometry)

    def key_places(self, scope: str | None = None) -> gpd.GeoDataFrame:
        """Key places of ``scope`` with geometry (:func:`~.layers.key_places`)."""
        return self._reading(layers.key_places, scope)

    def categories(self) -> pd.DataFrame:
        """Key-place categories (``category``, ``name``, ``name_en``, ``department``, …)."""
        return self._reading(layers.categories)

    def departments(self) -> pd.DataFrame:
        """Departments (行管部门): ``code``, ``name``, ``name_en``."""
        return self._reading(layers.departments)

    def load_layers(
        self,
        layers: Any,
        *,
        res: int | None = None,
        actor: str = "system",
        allow_orphans: bool = False,
        pieces: pd.DataFrame | None = None,
        progress: bool = False,
        allow_overlaps: bool = False,
    ) -> LoadReport:
        """Load a :class:`gridmgr.io.Layers` in one transaction, writing only what changed
        (:func:`~.layers_load.load_layers`; ``res`` default: the store's, else the setting).
        Overlapping siblings and units outside their parent are refused unless
        ``allow_overlaps``."""
        self.require_schema()
        res = res if res is not None else (self.res or settings.DEFAULT_RES)
        prep = prepare_layers(
            layers, res=res, pieces=pieces, progress=progress, allow_overlaps=allow_overlaps
        )
        return self._writing(
            None, layers_load.load_layers, prep, actor=actor, allow_orphans=allow_orphans
        )

    def load_layers_from_parts(
        self,
        layers: Any,
        pieces_dir: str | Path,
        *,
        res: int | None = None,
        actor: str = "system",
        allow_orphans: bool = False,
        allow_overlaps: bool = False,
        on_part: layers_stream.OnPart | None = None,
    ) -> LoadReport:
        """:meth:`load_layers` with the pieces of a ``grid build --parquet`` directory, streamed
        part by part in one transaction (:func:`~.layers_stream.load_layers_streamed`): memory
        holds one part, not the grid. ``res`` must be the parts' resolution when given;
        ``on_part(units, pieces)`` is called after each part."""
        from gridmgr.grid.parquet import pieces_dir_for_load  # heavy: only when loading

        self.require_schema()
        directory, built = pieces_dir_for_load(Path(pieces_dir), res)
        prep = prepare_layers(
            layers,
            res=built,
            pieces=None,
            progress=False,
            allow_overlaps=allow_overlaps,
            streamed=True,
        )
        return self._writing(
            None,
            layers_stream.load_layers_streamed,
            prep,
            directory,
            actor=actor,
            allow_orphans=allow_orphans,
            on_part=on_part,
        )

    def save_grid_codes(self, codes: pd.DataFrame, *, conn: Connection | None = None) -> int:
        """Replace the grid codes of the units in ``codes`` (``leader_id``, ``unit_code``,
        ``grid_code``); returns the rows written."""
        return self._writing(conn, layers.save_grid_codes, codes)

    def layers_source(self) -> str | None:
        """The directory the latest layers load came from (``None`` before any load)."""
        return self._reading(layers.last_layers_source)

    def grid_codes(self) -> pd.DataFrame:
        """Grid codes of leader territories: ``leader_id``, ``unit_code``, ``grid_code``."""
        return self._reading(layers.grid_codes)

    # ------------------------------------------------------------------ leaders

    def leaders(self, *, include_phone: bool = False, active: bool | None = None) -> pd.DataFrame:
        """Leaders with their packages; ``phone`` only with ``include_phone=True``."""
        return self._reading(leaders.list_leaders, include_phone=include_phone, active=active)

    def get_leader(self, leader_id: str, *, include_phone: bool = False) -> dict[str, Any]:
        """One leader as a dict (see :meth:`leaders`); :class:`LeaderNotFoundError` if unknown."""
        return self._reading(leaders.get_leader, leader_id, include_phone=include_phone)

    def import_leaders(
        self,
        path: str | Path,
        *,
        actor: str,
        reason: str | None = None,
        encoding: str | None = None,
    ) -> LeadersImportReport:
        """Create or update leaders from a CSV/XLSX file; all-or-nothing
        (:func:`~.leaders.import_leaders`; ``encoding`` of a CSV that declares none)."""
        _, rows = leaders.read_table(path, encoding=encoding)
        return self._writing(None, leaders.import_leaders, path, rows, actor=actor, reason=reason)

    def deactivate_leader(
        self, leader_id: str, *, reason: str, actor: str, conn: Connection | None = None
    ) -> str:
        """Retire a leader (``active = false``; assignments and history stay); returns the
        change set id."""
        return self._writing(conn, leaders.deactivate_leader, leader_id, reason=reason, actor=actor)

    def leader_events(self, leader_id: str | None = None) -> pd.DataFrame:
        """Leader history (created / updated / deactivated), oldest first."""
        return self._reading(leaders.leader_events, leader_id)

    # ------------------------------------------------------------------ assignments

    def apply_changes(
        self,
        changes: Iterable[Change | tuple[Any, ...]] | pd.DataFrame,
        *,
        actor: str,
        reason: str,
        kind: str = "edit",
        changeset_id: str | None = None,
        plan_id: str | None = None,
        check_leaders: bool = True,
        conn: Connection | None = None,
    ) -> ChangeResult:
        """Apply assignment changes in one transaction, with optimistic concurrency
        (:func:`~.assignments.apply_changes`)."""
        with self.transaction(conn) as c:
            return assignments.apply_changes(
                c,
                changes,
                actor=actor,
                reason=reason,
                kind=kind,
                changeset_id=changeset_id,
                plan_id=plan_id,
                check_leaders=check_leaders,
            )

    def undo_changeset(
        self, changeset_id: str, *, actor: str, reason: str | None = None
    ) -> ChangeResult:
        """Put every piece of a change set back to its former owner
        (:func:`~.assignments.undo_changeset`)."""
        return self._writing(
            None, assignments.undo_changeset, changeset_id, actor=actor, reason=reason
        )

    def history(
        self,
        *,
        leader: str | None = None,
        cell: str | None = None,
        piece_id: int | None = None,
        since: dt.datetime | str | None = None,
        until: dt.datetime | str | None = None,
        changeset: str | None = None,
        limit: int | None = None,
        newest: bool = False,
    ) -> pd.DataFrame:
        """Assignment events, oldest first, filtered (:func:`~.history.history`)."""
        with self._read() as conn:
            return history.history(
                conn,
                leader=leader,
                cell=cell,
                piece_id=piece_id,
                since=since,
                until=until,
                changeset=changeset,
                limit=limit,
                newest=newest,
            )

    def changesets(self, *, kind: str | None = None, limit: int | None = None) -> pd.DataFrame:
        """Change sets, newest first (:func:`~.changesets.list_changesets`)."""
        return self._reading(changesets.list_changesets, kind=kind, limit=limit)

    def owners_at(self, at: dt.datetime | str) -> pd.DataFrame:
        """Owner of every piece at time ``at``, replayed from the events alone."""
        return self._reading(history.owners_at, at)

    def export_assignments(self, out: str | Path, *, scope: str | None = None) -> Path:
        """Write the assignments to ``.csv`` or ``.geojson`` for QGIS/Excel."""
        return self._reading(roundtrip.export_assignments, out, scope=scope)

    def import_assignments(
        self, path: str | Path, *, actor: str, reason: str, encoding: str | None = None
    ) -> AssignmentsImportReport:
        """Load an edited export back, with the checks of every other edit; all-or-nothing."""
        return self._writing(
            None, roundtrip.import_assignments, path, actor=actor, reason=reason, encoding=encoding
        )

    # ------------------------------------------------------------------ plans

    def save_plan(
        self,
        *,
        scope: str | None,
        params: Mapping[str, Any],
        moves: Sequence[Mapping[str, Any]],
        metrics: Mapping[str, Any],
        actor: str,
        plan_id: str | None = None,
        conn: Connection | None = None,
    ) -> str:
        """Store a proposed rebalance plan; returns its id (:func:`~.plans.save_plan`)."""
        with self.transaction(conn) as c:
            return plans.save_plan(
                c,
                scope=scope,
                params=params,
                moves=moves,
                metrics=metrics,
                actor=actor,
                plan_id=plan_id,
            )

    def get_plan(self, plan_id: str) -> dict[str, Any]:
        """A plan as a dict; :class:`PlanNotFoundError` when unknown."""
        return self._reading(plans.get_plan, plan_id)

    def list_plans(self, *, status: str | None = None) -> pd.DataFrame:
        """Plans without their moves, newest first."""
        return self._reading(plans.list_plans, status=status)

    def set_plan_status(
        self,
        plan_id: str,
        status: str,
        *,
        changeset_id: str | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Set a plan's status (``proposed|applied|discarded|undone``)."""
        self._writing(conn, plans.set_plan_status, plan_id, status, changeset_id=changeset_id)

    # ------------------------------------------------------------------ users and tokens

    def add_user(
        self,
        name: str,
        role: str,
        *,
        leader_id: str | None = None,
        password_hash: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Create a user (role ``admin|planner|leader|viewer``); returns its integer id."""
        return self._writing(
            conn, users.add_user, name, role, leader_id=leader_id, password_hash=password_hash
        )

    def get_user(self, name: str) -> dict[str, Any] | None:
        """A user by name (with ``password_hash``), or ``None``."""
        return self._reading(users.get_user, name)

    def users(self) -> pd.DataFrame:
        """Users without password hashes."""
        return self._reading(users.list_users)

    def add_token(
        self,
        user_id: int,
        token_hash: str,
        *,
        name: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Record an API token (store only its hash); returns the token row id."""
        return self._writing(conn, users.add_token, user_id, token_hash, name=name)

    def user_for_token(self, token_hash: str) -> dict[str, Any] | None:
        """The active user owning an active token with this hash, or ``None``."""
        return self._reading(users.user_for_token, token_hash)

    def revoke_token(self, token_hash: str, *, conn: Connection | None = None) -> bool:
        """Deactivate a token; returns whether one was active."""
        return self._writing(conn, users.revoke_token, token_hash)

    # ------------------------------------------------------------------ dumps (tests, backups)

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every data table as sorted row tuples (geometry as WKB): for comparisons in tests."""
        with self._read() as conn:
            rows = {table.name: conn.execute(select(table)).all() for table in s.DATA_TABLES}
        return {name: sorted((tuple(r) for r in got), key=repr) for name, got in rows.items()}


def open_store(url: str | None = None, **engine_kwargs: Any) -> Store:
    """Open the store at ``url`` (``None``: ``GRIDMGR_DATABASE_URL`` or ``./gridmgr.db``).

    No connection is made until the store is first used. Call :meth:`Store.upgrade` once on a
    new database (``gridmgr db upgrade``).

    Examples
    --------
    >>> store = open_store("sqlite:///:memory:")
    >>> store.backend
    'sqlite'
    """
    url = url or settings.database_url()
    return Store(create_store_engine(url, **engine_kwargs), url)
