"""The :class:`Store`: one code path over SQLite and PostgreSQL + PostGIS."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import pandas as pd
from sqlalchemy import Connection, Engine, and_, func, insert, select, text, update

from gridmgr import settings
from gridmgr.errors import (
    ConflictError,
    InputError,
    LeaderNotFoundError,
    PlanNotFoundError,
    SchemaError,
    UnitNotFoundError,
)
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._engine import create_store_engine, read_connection, write_transaction
from gridmgr.store._geom import from_wkb
from gridmgr.store._types import (
    AssignmentsImportReport,
    Change,
    ChangeResult,
    LeadersImportReport,
    LoadReport,
)

if TYPE_CHECKING:
    import geopandas as gpd

#: Rows per chunk for ``IN (...)`` lists.
CHUNK = 900

CHANGESET_KINDS = ("edit", "auto", "plan", "undo", "import", "load", "leaders", "deactivate")
PLAN_STATUSES = ("proposed", "applied", "discarded", "undone")
USER_ROLES = ("admin", "planner", "leader", "viewer")


def chunks(seq: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Consecutive slices of ``seq`` of at most ``size`` items."""
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def new_id() -> str:
    """A new change-set / plan id (32 hex digits)."""
    return uuid.uuid4().hex


def _names(items: Iterable[Any], limit: int = 10) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" … (+{len(items) - limit})" if len(items) > limit else "")


class Store:
    """The gridmgr store: layers, leaders, assignments with full history, plans and users.

    Open it with :func:`open_store`. Every write method runs in one transaction (or in the
    caller's, when ``conn`` is given — see :meth:`transaction`), writes its history rows in that
    same transaction and binds every parameter.

    Examples
    --------
    >>> store = open_store("sqlite:///:memory:")  # doctest: +SKIP
    >>> store.upgrade()  # doctest: +SKIP
    >>> store.pieces().empty  # doctest: +SKIP
    True
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
        """The one write-transaction helper: commit on success, roll back on any error.

        Store write methods accept ``conn=`` to run inside a caller's transaction, so several
        of them commit or fail together::

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
        self.require_schema()
        with read_connection(self.engine) as conn:
            yield conn

    def _lock(self, stmt: Any) -> Any:
        """``SELECT … FOR UPDATE`` on PostgreSQL (SQLite holds the write lock already)."""
        return stmt.with_for_update() if self.is_postgis else stmt

    # ------------------------------------------------------------------ schema

    def upgrade(self) -> str:
        """Create or migrate the schema to the newest revision; returns that revision.

        On PostgreSQL the ``postgis`` extension is created when missing (needs the right to
        create extensions).
        """
        if self.revision() == s.HEAD_REVISION:
            self._schema_ok = True
            return s.HEAD_REVISION
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
        with write_transaction(self.engine) as conn:
            if self.is_postgis:
                have = conn.execute(
                    text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
                ).first()
                if have is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
                    except Exception as exc:
                        ename = type(exc).__name__
                        msg = t(
                            f"{self!r}：未安装 PostGIS 扩展且无法创建（{ename}）；请安装 "
                            "postgresql-15-postgis-3（scripts/system-deps.sh），或请数据库管理员执行 "
                            "CREATE EXTENSION postgis",
                            f"{self!r}: the PostGIS extension is not installed and could not be "
                            f"created ({ename}); install postgresql-15-postgis-3 "
                            "(scripts/system-deps.sh) or ask the DBA to run CREATE EXTENSION postgis",
                        )
                        raise SchemaError(msg) from exc
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        self._schema_ok = False
        self.require_schema()
        return s.HEAD_REVISION

    def revision(self) -> str | None:
        """The schema revision of the database (``None`` when it has none)."""
        from sqlalchemy import inspect

        with read_connection(self.engine) as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])

    def require_schema(self) -> None:
        """Raise :class:`SchemaError` unless the database is at the newest revision."""
        if self._schema_ok:
            return
        rev = self.revision()
        if rev != s.HEAD_REVISION:
            head = s.HEAD_REVISION
            if rev is None:
                msg = t(
                    f"{self!r} 中没有 gridmgr 数据库结构（应为 {head}），请运行 `gridmgr db upgrade`",
                    f"{self!r} has no gridmgr schema (expected {head}); run `gridmgr db upgrade`",
                )
            else:
                msg = t(
                    f"{self!r} 的数据库结构版本为 {rev}（应为 {head}），请运行 `gridmgr db upgrade`",
                    f"{self!r} has schema revision {rev} (expected {head}); run `gridmgr db upgrade`",
                )
            raise SchemaError(msg)
        self._schema_ok = True

    def get_meta(self, key: str) -> str | None:
        """A value of the ``meta`` table (e.g. ``res``)."""
        with self._read() as conn:
            row = conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).first()
        return None if row is None else row[0]

    def _set_meta(self, conn: Connection, key: str, value: str) -> None:
        cur = conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).first()
        if cur is None:
            conn.execute(insert(s.meta).values(key=key, value=value))
        elif cur[0] != value:
            conn.execute(update(s.meta).where(s.meta.c.key == key).values(value=value))

    @property
    def res(self) -> int | None:
        """H3 resolution of the loaded grid (``None`` before the first load)."""
        value = self.get_meta("res")
        return None if value is None else int(value)

    def _new_changeset(
        self,
        conn: Connection,
        *,
        kind: str,
        actor: str,
        reason: str,
        at: dt.datetime,
        changeset_id: str | None = None,
        plan_id: str | None = None,
        undoes: str | None = None,
    ) -> str:
        if kind not in CHANGESET_KINDS:
            kinds = ", ".join(CHANGESET_KINDS)
            msg = t(
                f"未知的变更集类型 {kind!r}，请使用 {kinds} 之一",
                f"change set kind {kind!r} is unknown; use one of {kinds}",
            )
            raise InputError(msg)
        cid = changeset_id or new_id()
        conn.execute(
            insert(s.changesets).values(
                id=cid,
                kind=kind,
                actor=actor,
                reason=reason,
                at=at,
                n_events=0,
                plan_id=plan_id,
                undoes=undoes,
            )
        )
        return cid

    # ------------------------------------------------------------------ reads

    def units(self) -> gpd.GeoDataFrame:
        """Units: ``id``, ``code``, ``name``, ``level``, ``parent``, ``name_en``, ``alias``,
        ``sample``, ``area_m2`` and geometry (EPSG:4326)."""
        import geopandas as gpd

        with self._read() as conn:
            df = pd.DataFrame(conn.execute(select(s.units).order_by(s.units.c.id)).mappings().all())
        if df.empty:
            df = pd.DataFrame(columns=[c.name for c in s.units.columns])
        geom = from_wkb(df.pop("geom").tolist())
        return gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326")

    def _unit_parents(self, conn: Connection) -> dict[str, str | None]:
        rows = conn.execute(select(s.units.c.code, s.units.c.parent)).all()
        return {str(c): (None if p is None else str(p)) for c, p in rows}

    @staticmethod
    def _descendants(parents: Mapping[str, str | None], code: str) -> set[str]:
        if code not in parents:
            msg = t(
                f"单位 {code!r} 不在库中；请用 `gridmgr units` 查看单位列表，或先导入图层",
                f"unit {code!r} is not in the store; list the units with `gridmgr units` or load layers",
            )
            raise UnitNotFoundError(msg)
        children: dict[str, list[str]] = {}
        for c, p in parents.items():
            if p is not None:
                children.setdefault(p, []).append(c)
        out: set[str] = set()
        stack = [code]
        while stack:
            c = stack.pop()
            if c not in out:
                out.add(c)
                stack.extend(children.get(c, []))
        return out

    @staticmethod
    def _ancestors(parents: Mapping[str, str | None], code: str) -> list[str]:
        chain = [code]
        seen = {code}
        while (p := parents.get(chain[-1])) is not None and p not in seen:
            chain.append(p)
            seen.add(p)
        return chain

    def pieces(self, scope: str | None = None, *, geometry: bool = True) -> pd.DataFrame:
        """Pieces with their current owner.

        Columns ``id``, ``cell``, ``unit_code``, ``area_m2``, ``whole``, ``leader_id`` (None:
        blind spot), ``fallback``, ``version`` and (``geometry=True``) geometry as a
        GeoDataFrame in EPSG:4326. ``scope`` is a unit code of any level.
        """
        import geopandas as gpd

        p, a = s.pieces, s.assignments
        cols = [
            p.c.id,
            p.c.cell,
            p.c.unit_code,
            p.c.area_m2,
            p.c.whole,
            a.c.leader_id,
            a.c.fallback,
            a.c.version,
        ]
        if geometry:
            cols.append(p.c.geom)
        stmt = select(*cols).select_from(p.outerjoin(a, a.c.piece_id == p.c.id)).order_by(p.c.id)
        with self._read() as conn:
            if scope is not None:
                codes = self._descendants(self._unit_parents(conn), scope)
                stmt = stmt.where(p.c.unit_code.in_(sorted(codes)))
            rows = conn.execute(stmt).all()
        names = [c.name for c in cols]
        df = pd.DataFrame([tuple(r) for r in rows], columns=names)
        df["id"] = df["id"].astype("int64")
        df["area_m2"] = df["area_m2"].astype(float)
        df["whole"] = df["whole"].astype(bool)
        df["fallback"] = df["fallback"].fillna(False).astype(bool)
        df["version"] = df["version"].fillna(0).astype("int64")
        df["leader_id"] = pd.Series(
            [None if pd.isna(v) else str(v) for v in df["leader_id"]], index=df.index, dtype=object
        )
        if not geometry:
            return df
        geom = from_wkb(df.pop("geom").tolist())
        return gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326")

    def key_places(self, scope: str | None = None) -> gpd.GeoDataFrame:
        """Key places: ``id``, ``code``, ``name``, ``category``, ``address``, ``sample``,
        ``unit_code``, ``piece_id``, ``department`` (of the category), ``package_leader_id``
        (None when no leader packages it) and geometry."""
        import geopandas as gpd

        k, c, pk = s.key_places, s.categories, s.packages
        leader = (
            select(func.min(pk.c.leader_id))
            .where(and_(pk.c.kind == "place", pk.c.target == k.c.code))
            .scalar_subquery()
        )
        stmt = (
            select(
                k.c.id,
                k.c.code,
                k.c.name,
                k.c.category,
                k.c.address,
                k.c.sample,
                k.c.unit_code,
                k.c.piece_id,
                c.c.department,
                leader.label("package_leader_id"),
                k.c.geom,
            )
            .select_from(k.join(c, c.c.category == k.c.category))
            .order_by(k.c.id)
        )
        with self._read() as conn:
            if scope is not None:
                codes = self._descendants(self._unit_parents(conn), scope)
                stmt = stmt.where(k.c.unit_code.in_(sorted(codes)))
            rows = conn.execute(stmt).all()
        cols = [
            "id",
            "code",
            "name",
            "category",
            "address",
            "sample",
            "unit_code",
            "piece_id",
            "department",
            "package_leader_id",
            "geom",
        ]
        df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        df["piece_id"] = df["piece_id"].astype("Int64")
        geom = from_wkb(df.pop("geom").tolist())
        return gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326")

    def categories(self) -> pd.DataFrame:
        """Key-place categories: ``category``, ``name``, ``name_en``, ``department``,
        ``requires_package_leader``."""
        with self._read() as conn:
            rows = conn.execute(select(s.categories).order_by(s.categories.c.category)).all()
        return pd.DataFrame(
            [tuple(r) for r in rows], columns=[c.name for c in s.categories.columns]
        )

    def departments(self) -> pd.DataFrame:
        """Departments (行管部门): ``code``, ``name``, ``name_en``."""
        with self._read() as conn:
            rows = conn.execute(select(s.departments).order_by(s.departments.c.code)).all()
        return pd.DataFrame(
            [tuple(r) for r in rows], columns=[c.name for c in s.departments.columns]
        )

    def leaders(self, *, include_phone: bool = False, active: bool | None = None) -> pd.DataFrame:
        """Leaders: ``id``, ``name``, ``role``, ``department``, ``capacity``, ``active``,
        ``unit_packages`` (list of unit codes), ``place_packages`` (list of key-place codes).

        ``phone`` is personal data and is only included with ``include_phone=True``.
        """
        ld, pk = s.leaders, s.packages
        cols = [
            ld.c.pk,
            ld.c.id,
            ld.c.name,
            ld.c.role,
            ld.c.department,
            ld.c.capacity,
            ld.c.active,
            ld.c.created_at,
            ld.c.updated_at,
        ]
        if include_phone:
            cols.insert(5, ld.c.phone)
        stmt = select(*cols).order_by(ld.c.id)
        if active is not None:
            stmt = stmt.where(ld.c.active == active)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            packs = conn.execute(
                select(pk.c.leader_id, pk.c.kind, pk.c.target).order_by(pk.c.id)
            ).all()
        df = pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in cols])
        units: dict[str, list[str]] = {}
        places: dict[str, list[str]] = {}
        for leader_id, kind, target in packs:
            (units if kind == "unit" else places).setdefault(leader_id, []).append(target)
        df["unit_packages"] = [units.get(i, []) for i in df["id"]]
        df["place_packages"] = [places.get(i, []) for i in df["id"]]
        df["capacity"] = df["capacity"].astype(float)
        df["active"] = df["active"].astype(bool)
        for col in ("department", "phone"):
            if col in df.columns:
                df[col] = pd.Series(
                    [None if pd.isna(v) else str(v) for v in df[col]], index=df.index, dtype=object
                )
        return df

    def get_leader(self, leader_id: str, *, include_phone: bool = False) -> dict[str, Any]:
        """One leader as a dict (see :meth:`leaders`); :class:`LeaderNotFoundError` if unknown."""
        df = self.leaders(include_phone=include_phone)
        hit = df[df["id"] == leader_id]
        if hit.empty:
            msg = t(
                f"领导 {leader_id!r} 不在库中；请用 `gridmgr leaders list` 查看领导名单",
                f"leader {leader_id!r} is not in the store; list them with `gridmgr leaders list`",
            )
            raise LeaderNotFoundError(msg)
        return dict(hit.iloc[0].to_dict())

    # ------------------------------------------------------------------ layers

    def load_layers(
        self,
        layers: Any,
        *,
        res: int | None = None,
        actor: str = "system",
        allow_orphans: bool = False,
        pieces: pd.DataFrame | None = None,
        progress: bool = False,
    ) -> LoadReport:
        """Put units, pieces, key places, departments and categories into the store.

        One transaction. Loading the same layers again changes nothing (``report.changes ==
        0``). Loading changed layers updates what changed; when pieces that still have an owner
        would disappear it raises :class:`~gridmgr.errors.OrphanedAssignmentsError` naming them,
        unless ``allow_orphans=True`` (then their assignments are ended, with events).

        Parameters
        ----------
        layers
            A :class:`gridmgr.io.layers.Layers` (``units``, ``key_places``, ``departments``,
            ``categories``, ``source``).
        res
            H3 resolution (default: the store's current one, else ``settings.DEFAULT_RES``).
        actor
            Who loads (recorded in the change set).
        allow_orphans
            End assignments of removed pieces instead of refusing.
        pieces
            Pieces already cut by :func:`gridmgr.grid.pieces.pieces_from_units` (saves recomputing).
        progress
            Show a rich progress bar while cutting the grid.
        """
        from gridmgr.store._load import load_layers

        return load_layers(
            self,
            layers,
            res=res,
            actor=actor,
            allow_orphans=allow_orphans,
            pieces=pieces,
            progress=progress,
        )

    # ------------------------------------------------------------------ leaders

    def import_leaders(
        self, path: str | Path, *, actor: str, reason: str | None = None
    ) -> LeadersImportReport:
        """Import (create or update) leaders from a CSV/XLSX file; all-or-nothing.

        See :func:`gridmgr.store.leaders.import_leaders` for the checks.
        """
        from gridmgr.store.leaders import import_leaders

        return import_leaders(self, path, actor=actor, reason=reason)

    def deactivate_leader(
        self, leader_id: str, *, reason: str, actor: str, conn: Connection | None = None
    ) -> str:
        """Retire a leader (``active = false``); history and assignments stay untouched.

        Their pieces keep them as owner and are reported as blind spots by coverage until
        someone reassigns them. Returns the change set id.
        """
        if not reason or not reason.strip():
            raise InputError(
                t(
                    "deactivate：必须填写 --reason（该领导为何停止包保？）",
                    "deactivate: --reason is required (why is this leader retired?)",
                )
            )
        at = s.utcnow()
        with self.transaction(conn) as c:
            row = c.execute(
                self._lock(select(s.leaders.c.active).where(s.leaders.c.id == leader_id))
            ).first()
            if row is None:
                raise LeaderNotFoundError(
                    t(f"领导 {leader_id!r} 不在库中", f"leader {leader_id!r} is not in the store")
                )
            if not row[0]:
                raise ConflictError(
                    t(
                        f"领导 {leader_id!r} 已是停用状态",
                        f"leader {leader_id!r} is already inactive",
                    )
                )
            cid = self._new_changeset(c, kind="deactivate", actor=actor, reason=reason, at=at)
            c.execute(
                update(s.leaders)
                .where(s.leaders.c.id == leader_id)
                .values(active=False, updated_at=at)
            )
            c.execute(
                insert(s.leader_events).values(
                    changeset_id=cid,
                    leader_id=leader_id,
                    kind="deactivated",
                    actor=actor,
                    reason=reason,
                    at=at,
                    detail=None,
                )
            )
        return cid

    def leader_events(self, leader_id: str | None = None) -> pd.DataFrame:
        """Leader history (created / updated / deactivated), oldest first."""
        le = s.leader_events
        stmt = select(le).order_by(le.c.id)
        if leader_id is not None:
            stmt = stmt.where(le.c.leader_id == leader_id)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in le.columns])

    # ------------------------------------------------------------------ edits

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
        """Apply assignment changes in one transaction, with optimistic concurrency.

        Each change names a piece (id) or a cell, the new owner (or ``None``), optionally the
        version the caller saw, and the fallback flag (see :class:`Change`). A frame with columns
        ``piece_id`` (or ``cell``), ``leader_id`` and optional ``expected_version``,
        ``fallback`` is accepted too (faster for many rows).

        Every row is checked first: pieces exist, leaders exist, are active and work in the
        piece's unit (one of its ancestors is among their unit packages). Then the rows are
        locked and every expected version compared; if any piece moved on, nothing is written
        and :class:`~gridmgr.errors.StaleVersionError` names the pieces. Changes that leave the
        owner as it is write nothing. One event per changed piece, in the same transaction.

        Parameters
        ----------
        kind
            ``edit``, ``auto``, ``plan``, ``import`` or ``undo``.
        plan_id
            Mark this plan ``applied`` (with this change set) in the same transaction.
        check_leaders
            Check leaders as above (undo turns it off to restore former owners as they were).

        Returns
        -------
        ChangeResult
        """
        from gridmgr.store._edits import apply_changes

        return apply_changes(
            self,
            changes,
            actor=actor,
            reason=reason,
            kind=kind,
            changeset_id=changeset_id,
            plan_id=plan_id,
            check_leaders=check_leaders,
            conn=conn,
        )

    def undo_changeset(
        self, changeset_id: str, *, actor: str, reason: str | None = None
    ) -> ChangeResult:
        """Undo a change set: every piece it touched goes back to its former owner.

        Refused (:class:`StaleVersionError`) when a piece changed again afterwards, and
        (:class:`ConflictError`) when the change set was already undone.
        """
        from gridmgr.store._edits import undo_changeset

        return undo_changeset(self, changeset_id, actor=actor, reason=reason)

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
        """Assignment events, oldest first, filtered by any combination of the arguments.

        With ``limit``, the oldest ``limit`` events, or with ``newest=True`` the most recent ones.

        Columns ``id``, ``changeset_id``, ``kind``, ``changeset_kind``, ``piece_id``, ``cell``,
        ``unit_code``, ``from_leader``, ``to_leader``, ``from_fallback``, ``to_fallback``,
        ``from_version``, ``to_version``, ``actor``, ``reason``, ``at`` (UTC).
        """
        from gridmgr.store._edits import history

        return history(
            self,
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
        """Change sets, newest first: ``id``, ``kind``, ``actor``, ``reason``, ``at``,
        ``n_events``, ``undone_by``, ``undoes``, ``plan_id``."""
        cs = s.changesets
        stmt = select(cs).order_by(cs.c.at.desc(), cs.c.id)
        if kind is not None:
            stmt = stmt.where(cs.c.kind == kind)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in cs.columns])

    def owners_at(self, at: dt.datetime | str) -> pd.DataFrame:
        """Owner of every piece at time ``at``, reconstructed from the events alone.

        Returns a frame ``piece_id``, ``cell``, ``unit_code``, ``leader_id``, ``fallback`` with
        one row per piece that had an event up to ``at`` or exists now (no event yet: no owner).
        Replaying up to now gives exactly the current assignments (tested).
        """
        from gridmgr.store._edits import owners_at

        return owners_at(self, at)

    # ------------------------------------------------------------------ round trips

    def export_assignments(self, out: str | Path, *, scope: str | None = None) -> Path:
        """Write the assignment table to ``.csv`` or ``.geojson`` for editing in QGIS/Excel.

        Columns ``cell``, ``unit_code``, ``leader_id``, ``grid_code``, ``fallback``, ``version``,
        ``piece_id``, ``area_m2`` (+ geometry in GeoJSON).
        """
        from gridmgr.store._roundtrip import export_assignments

        return export_assignments(self, out, scope=scope)

    def import_assignments(
        self, path: str | Path, *, actor: str, reason: str
    ) -> AssignmentsImportReport:
        """Load an edited export back, with the checks of every other edit; all-or-nothing."""
        from gridmgr.store._roundtrip import import_assignments

        return import_assignments(self, path, actor=actor, reason=reason)

    # ------------------------------------------------------------------ grid codes

    def save_grid_codes(self, codes: pd.DataFrame, *, conn: Connection | None = None) -> int:
        """Replace the grid codes of the units named in ``codes``.

        ``codes`` has columns ``leader_id``, ``unit_code`` (the community) and ``grid_code``
        (15 digits). Returns the number of rows written.
        """
        need = {"leader_id", "unit_code", "grid_code"}
        missing = need - set(codes.columns)
        if missing:
            miss = ", ".join(sorted(missing))
            raise InputError(t(f"网格编码：缺少列 {miss}", f"grid codes: missing column(s) {miss}"))
        at = s.utcnow()
        rows: list[dict[str, Any]] = [
            {
                "leader_id": str(r.leader_id),
                "unit_code": str(r.unit_code),
                "grid_code": str(r.grid_code),
                "updated_at": at,
            }
            for r in codes[["leader_id", "unit_code", "grid_code"]].itertuples(index=False)
        ]
        units = sorted({str(r["unit_code"]) for r in rows})
        with self.transaction(conn) as c:
            for part in chunks(units):
                c.execute(s.territories.delete().where(s.territories.c.unit_code.in_(part)))
            if rows:
                c.execute(insert(s.territories), rows)
        return len(rows)

    def grid_codes(self) -> pd.DataFrame:
        """Grid codes of leader territories: ``leader_id``, ``unit_code``, ``grid_code``."""
        t = s.territories
        with self._read() as conn:
            rows = conn.execute(
                select(t.c.leader_id, t.c.unit_code, t.c.grid_code, t.c.updated_at).order_by(
                    t.c.grid_code
                )
            ).all()
        return pd.DataFrame(
            [tuple(r) for r in rows], columns=["leader_id", "unit_code", "grid_code", "updated_at"]
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
        """Store a proposed rebalance plan (status ``proposed``); returns its id.

        ``moves`` is a list of JSON-ready dicts (e.g. ``piece_id``, ``cell``, ``from_leader``,
        ``to_leader``, ``version``); ``params`` and ``metrics`` JSON-ready dicts.
        """
        pid = plan_id or new_id()
        at = s.utcnow()
        with self.transaction(conn) as c:
            c.execute(
                insert(s.plans).values(
                    id=pid,
                    scope=scope,
                    params=dict(params),
                    moves=[dict(m) for m in moves],
                    metrics=dict(metrics),
                    status="proposed",
                    actor=actor,
                    created_at=at,
                    updated_at=at,
                    changeset_id=None,
                )
            )
        return pid

    def get_plan(self, plan_id: str) -> dict[str, Any]:
        """A plan as a dict (``id``, ``scope``, ``params``, ``moves``, ``metrics``, ``status``,
        ``actor``, ``created_at``, ``updated_at``, ``changeset_id``)."""
        with self._read() as conn:
            row = conn.execute(select(s.plans).where(s.plans.c.id == plan_id)).mappings().first()
        if row is None:
            msg = t(
                f"方案 {plan_id!r} 不在库中；请用 `gridmgr rebalance list` 查看方案列表",
                f"plan {plan_id!r} is not in the store; list plans with `gridmgr rebalance list`",
            )
            raise PlanNotFoundError(msg)
        return dict(row)

    def list_plans(self, *, status: str | None = None) -> pd.DataFrame:
        """Plans without their moves, newest first."""
        p = s.plans
        cols = [
            p.c.id,
            p.c.scope,
            p.c.status,
            p.c.actor,
            p.c.created_at,
            p.c.updated_at,
            p.c.changeset_id,
            p.c.metrics,
        ]
        stmt = select(*cols).order_by(p.c.created_at.desc())
        if status is not None:
            stmt = stmt.where(p.c.status == status)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in cols])

    def set_plan_status(
        self,
        plan_id: str,
        status: str,
        *,
        changeset_id: str | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Set a plan's status (``proposed|applied|discarded|undone``)."""
        if status not in PLAN_STATUSES:
            statuses = ", ".join(PLAN_STATUSES)
            raise InputError(
                t(
                    f"未知的方案状态 {status!r}，请使用 {statuses}",
                    f"plan status {status!r} is unknown; use {statuses}",
                )
            )
        values: dict[str, Any] = {"status": status, "updated_at": s.utcnow()}
        if changeset_id is not None:
            values["changeset_id"] = changeset_id
        with self.transaction(conn) as c:
            n = c.execute(update(s.plans).where(s.plans.c.id == plan_id).values(**values)).rowcount
            if n != 1:
                raise PlanNotFoundError(
                    t(f"方案 {plan_id!r} 不在库中", f"plan {plan_id!r} is not in the store")
                )

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
        if role not in USER_ROLES:
            roles = ", ".join(USER_ROLES)
            raise InputError(
                t(
                    f"用户 {name!r}：未知角色 {role!r}，请使用 {roles}",
                    f"user {name!r}: role {role!r} is unknown; use {roles}",
                )
            )
        if role == "leader" and not leader_id:
            raise InputError(
                t(
                    f"用户 {name!r}：角色 leader 需要填写 leader_id",
                    f"user {name!r}: role leader needs leader_id",
                )
            )
        with self.transaction(conn) as c:
            if (
                leader_id is not None
                and c.execute(select(s.leaders.c.pk).where(s.leaders.c.id == leader_id)).first()
                is None
            ):
                raise LeaderNotFoundError(
                    t(
                        f"用户 {name!r}：领导 {leader_id!r} 不在库中",
                        f"user {name!r}: leader {leader_id!r} is not in the store",
                    )
                )
            if c.execute(select(s.users.c.id).where(s.users.c.name == name)).first() is not None:
                raise ConflictError(t(f"用户 {name!r} 已存在", f"user {name!r} already exists"))
            res = c.execute(
                insert(s.users)
                .values(
                    name=name,
                    role=role,
                    leader_id=leader_id,
                    password_hash=password_hash,
                    created_at=s.utcnow(),
                    active=True,
                )
                .returning(s.users.c.id)
            )
            return int(res.scalar_one())

    def get_user(self, name: str) -> dict[str, Any] | None:
        """A user by name (with ``password_hash``), or ``None``."""
        with self._read() as conn:
            row = conn.execute(select(s.users).where(s.users.c.name == name)).mappings().first()
        return None if row is None else dict(row)

    def users(self) -> pd.DataFrame:
        """Users without password hashes."""
        u = s.users
        cols = [u.c.id, u.c.name, u.c.role, u.c.leader_id, u.c.created_at, u.c.active]
        with self._read() as conn:
            rows = conn.execute(select(*cols).order_by(u.c.id)).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in cols])

    def add_token(
        self,
        user_id: int,
        token_hash: str,
        *,
        name: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Record an API token (store only its hash); returns the token row id."""
        with self.transaction(conn) as c:
            res = c.execute(
                insert(s.api_tokens)
                .values(
                    user_id=user_id,
                    name=name,
                    token_hash=token_hash,
                    created_at=s.utcnow(),
                    active=True,
                )
                .returning(s.api_tokens.c.id)
            )
            return int(res.scalar_one())

    def user_for_token(self, token_hash: str) -> dict[str, Any] | None:
        """The active user owning an active token with this hash, or ``None``."""
        u, tk = s.users, s.api_tokens
        stmt = (
            select(u.c.id, u.c.name, u.c.role, u.c.leader_id)
            .select_from(u.join(tk, tk.c.user_id == u.c.id))
            .where(tk.c.token_hash == token_hash, tk.c.active.is_(True), u.c.active.is_(True))
        )
        with self._read() as conn:
            row = conn.execute(stmt).mappings().first()
        return None if row is None else dict(row)

    def revoke_token(self, token_hash: str, *, conn: Connection | None = None) -> bool:
        """Deactivate a token; returns whether one was active."""
        with self.transaction(conn) as c:
            n = c.execute(
                update(s.api_tokens)
                .where(s.api_tokens.c.token_hash == token_hash, s.api_tokens.c.active.is_(True))
                .values(active=False)
            ).rowcount
        return bool(n)

    # ------------------------------------------------------------------ dumps (tests, backups)

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every data table as sorted row tuples (geometry as WKB): for comparisons in tests."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self._read() as conn:
            for table in s.DATA_TABLES:
                rows = conn.execute(select(table)).all()
                out[table.name] = sorted((tuple(r) for r in rows), key=repr)
        return out


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
