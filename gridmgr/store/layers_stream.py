"""The layers load streamed from a pieces directory, part by part, in bounded memory.

:func:`load_layers_streamed` writes what :func:`gridmgr.store.layers_load.load_layers` writes
for the same layers and pieces, on the caller's one transaction, without ever holding all the
pieces:

1. departments, categories and units (small) are diffed and upserted as in the in-memory load;
2. each part of the directory (one street, see :mod:`gridmgr.grid.parquet`) is read, its whole
   pieces' hexagons filled from h3 as MultiPolygons (the store's form), diffed
   against the stored pieces *of that part's units only* (``WHERE unit_code IN (…)``), and its
   differences written: removed pieces deleted, changed ones updated, added ones inserted
   (``COPY`` on PostGIS, batched ``executemany`` on SQLite) with their empty assignments; into an
   empty store every part goes straight in without a diff;
3. stored pieces of units no part holds any more are removed last;
4. the key places are located against the pieces of their own unit, in the part holding it.

Removing pieces that still have an owner is refused (:class:`~gridmgr.errors.
OrphanedAssignmentsError`) unless ``allow_orphans``: from the first orphan on, the parts are only
diffed (to name every orphan), then the error rolls the one transaction back, so nothing is
written. The report counts what the in-memory load counts; its ``pieces_added`` and
``pieces_removed`` list the first 100 cells in ``(cell, unit_code)`` order, as the load record
keeps them.

Examples
--------
>>> _smallest([("b", "1"), ("a", "2")], [("a", "1")], limit=2)
[('a', '1'), ('a', '2')]
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select, text

from gridmgr.errors import InvalidFieldError
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._layers_input import PreparedLayers, piece_of, pieces_frame
from gridmgr.store._sql import chunks, frame, is_postgis, read_table
from gridmgr.store.bulk import insert_rows
from gridmgr.store.changesets import new_changeset
from gridmgr.store.geom import from_wkb
from gridmgr.store.layers_load import (
    CATEGORY_COLS,
    DEPARTMENT_COLS,
    KEY_PLACE_COLS,
    UNIT_COLS,
    _children_first,
    _delete,
    _Delta,
    _delta,
    _record_load,
    _refuse_orphans,
    _remove_and_update,
    _res_differs,
    _upsert,
)
from gridmgr.store.types import LoadReport, TableDiff

#: Cells kept in the report's ``pieces_added`` / ``pieces_removed`` (what the load record keeps).
REPORT_CELLS = 100
#: Stored units whose pieces are read at once when no part holds them any more.
LEFTOVER_UNITS = 200
PIECE_COLS = ["cell", "unit_code", "area_m2", "whole", "geom"]

#: Called after each part with the units and pieces it held (progress bars).
OnPart = Callable[[int, int], object]


def _smallest(
    kept: list[tuple[str, str]], more: Iterable[tuple[str, str]], *, limit: int = REPORT_CELLS
) -> list[tuple[str, str]]:
    """The ``limit`` smallest keys of ``kept`` and ``more``, in order."""
    return heapq.nsmallest(limit, [*kept, *more])


@dataclass
class _Tally:
    """What the parts did so far (mutable: one per load)."""

    added: int = 0
    removed: int = 0
    changed: int = 0
    first_added: list[tuple[str, str]] = field(default_factory=list)
    first_removed: list[tuple[str, str]] = field(default_factory=list)
    orphans: list[pd.DataFrame] = field(default_factory=list)
    refusing: bool = False
    units_seen: set[str] = field(default_factory=set)
    kp_piece: dict[int, int] = field(default_factory=dict)

    def orphan_frame(self) -> pd.DataFrame:
        """Every orphan (``id``, ``cell``, ``unit_code``, ``leader_id``, ``fallback``,
        ``version``) in ``(cell, unit_code)`` order, as the in-memory load lists them."""
        cols = ["id", "cell", "unit_code", "leader_id", "fallback", "version"]
        if not self.orphans:
            return pd.DataFrame(columns=cols)
        out = pd.concat(self.orphans, ignore_index=True)[cols]
        return out.sort_values(["cell", "unit_code"], kind="stable").reset_index(drop=True)


@dataclass
class _Load:
    """One streaming load: its connection, inputs and running tally."""

    conn: Connection
    prep: PreparedLayers
    actor: str
    allow_orphans: bool
    at: dt.datetime
    empty_store: bool
    kp_points: np.ndarray
    kp_units: np.ndarray
    tally: _Tally = field(default_factory=_Tally)
    cid: str | None = None

    def changeset(self) -> str:
        """The load's change set, made when first needed."""
        if self.cid is None:
            reason = f"load layers {self.prep.source or ''} res {self.prep.res}".strip()
            self.cid = new_changeset(
                self.conn, kind="load", actor=self.actor, reason=reason, at=self.at
            )
        return self.cid


def _stored_pieces(conn: Connection, unit_codes: Sequence[str], *, geom: bool) -> pd.DataFrame:
    """Stored pieces of ``unit_codes`` (``id``, ``cell``, ``unit_code``, … ``geom``)."""
    p = s.pieces
    cols = ["id", "cell", "unit_code"] + (["area_m2", "whole", "geom"] if geom else [])
    rows: list[Any] = []
    for part in chunks(list(unit_codes)):
        stmt = select(*[p.c[c] for c in cols]).where(p.c.unit_code.in_(list(part)))
        rows.extend(conn.execute(stmt).all())
    return frame(rows, cols)


def _owners(conn: Connection, removed: pd.DataFrame) -> pd.DataFrame:
    """Removed pieces that still have an owner, with ``leader_id``, ``fallback``, ``version``."""
    a = s.assignments
    rows: list[Any] = []
    for part in chunks([int(i) for i in removed["id"]]):
        stmt = select(a.c.piece_id, a.c.leader_id, a.c.fallback, a.c.version).where(
            a.c.piece_id.in_(list(part)), a.c.leader_id.is_not(None)
        )
        rows.extend(conn.execute(stmt).all())
    owners = frame(rows, ["id", "leader_id", "fallback", "version"])
    return removed[["id", "cell", "unit_code"]].merge(owners, on="id", how="inner")


def _insert(load: _Load, added: pd.DataFrame, unit_codes: Sequence[str]) -> pd.DataFrame:
    """Insert ``added`` pieces and their empty assignments; returns their ``id``, ``cell``,
    ``unit_code``."""
    conn = load.conn
    insert_rows(
        conn,
        s.pieces,
        PIECE_COLS,
        list(
            zip(
                added["cell"].astype(str).tolist(),  # tolist: no Python loop over arrow scalars
                added["unit_code"].astype(str).tolist(),
                added["area_m2"].astype(float).tolist(),
                added["whole"].astype(bool).tolist(),
                list(added["geom"]),
                strict=True,
            )
        ),
    )
    now = _stored_pieces(conn, unit_codes, geom=False)
    ids = now.merge(added[["cell", "unit_code"]], on=["cell", "unit_code"])
    cid = load.changeset()
    insert_rows(
        conn,
        s.assignments,
        ["piece_id", "leader_id", "fallback", "version", "changeset_id", "updated_at"],
        [(int(i), None, False, 0, cid, load.at) for i in ids["id"]],
    )
    return ids


def _write(
    load: _Load, d: _Delta, orphans: pd.DataFrame, unit_codes: Sequence[str]
) -> pd.DataFrame:
    """Write one part's differences; returns the ids of the added pieces."""
    _remove_and_update(load.conn, d, orphans, load.changeset, load.actor, load.at)
    if len(d.added):
        return _insert(load, d.added, unit_codes)
    return frame([], ["id", "cell", "unit_code"])


def _tally_part(load: _Load, d: _Delta, orphans: pd.DataFrame) -> None:
    tally = load.tally
    tally.added += len(d.added)
    tally.removed += len(d.removed)
    tally.changed += len(d.changed)
    keys = zip(d.added["cell"].astype(str), d.added["unit_code"].astype(str), strict=True)
    tally.first_added = _smallest(tally.first_added, keys)
    keys = zip(d.removed["cell"].astype(str), d.removed["unit_code"].astype(str), strict=True)
    tally.first_removed = _smallest(tally.first_removed, keys)
    if len(orphans):
        tally.orphans.append(orphans)
        tally.refusing = tally.refusing or not load.allow_orphans


def _part_delta(
    load: _Load, new: pd.DataFrame, unit_codes: Sequence[str]
) -> tuple[_Delta, pd.DataFrame]:
    """One part's differences from the stored pieces of its units (no read into an empty
    store), and the stored pieces' ``id``, ``cell``, ``unit_code``."""
    store_new = new[PIECE_COLS]
    if load.empty_store:
        cur = pd.DataFrame(columns=["id", *PIECE_COLS])
        return _Delta(added=store_new, removed=cur, changed=cur), cur[["id", "cell", "unit_code"]]
    cur = _stored_pieces(load.conn, unit_codes, geom=True)
    d = _delta(cur, store_new, ["cell", "unit_code"], ["area_m2", "whole"], ["geom"])
    return d, cur[["id", "cell", "unit_code"]]


def _load_part(load: _Load, new: pd.DataFrame, unit_codes: Sequence[str]) -> None:
    """Diff one part (``new``: the store's columns plus ``_geom``) and write its differences
    (not once an orphan is refused); locate the key places of its units."""
    d, cur_ids = _part_delta(load, new, unit_codes)
    orphans = _owners(load.conn, d.removed) if len(d.removed) else d.removed.iloc[:0]
    _tally_part(load, d, orphans)
    if load.tally.refusing:
        return
    added_ids = _write(load, d, orphans, unit_codes)
    # the part's pieces now: those kept (their stored ids) and those just added
    ids = pd.concat([cur_ids, added_ids], ignore_index=True) if len(added_ids) else cur_ids
    _locate_part(load, new, unit_codes, ids)


def _locate_part(
    load: _Load, new: pd.DataFrame, unit_codes: Sequence[str], ids: pd.DataFrame
) -> None:
    """Piece ids (from ``ids``: ``id``, ``cell``, ``unit_code``) of the key places whose unit
    is one of ``unit_codes``."""
    sel = np.flatnonzero(np.isin(load.kp_units, np.asarray(unit_codes, dtype=object)))
    if not len(sel) or not len(new):
        return
    pos = piece_of(
        load.kp_points[sel],
        load.kp_units[sel],
        new["_geom"].to_numpy(),
        new["unit_code"].to_numpy(dtype=object),
    )
    hit = pos >= 0
    keys = new[["cell", "unit_code"]].iloc[pos[hit]]
    found = keys.merge(ids, on=["cell", "unit_code"], how="left")["id"].to_numpy()
    for kp, pid in zip(sel[hit], found, strict=True):
        if not pd.isna(pid):
            load.tally.kp_piece[int(kp)] = int(pid)


def _unit_codes(new: pd.DataFrame, seen: set[str], where: str) -> list[str]:
    """The part's unit codes; :class:`InvalidFieldError` when an earlier part held one."""
    codes = sorted(set(new["unit_code"].astype(str)))
    again = [c for c in codes if c in seen]
    if again:
        raise InvalidFieldError(
            t(
                f"{where}：单位 {again[0]!r} 的地块出现在多个分片中；请重新生成地块目录",
                f"{where}: the pieces of unit {again[0]!r} are in more than one part; "
                "rebuild the pieces directory",
            )
        )
    seen.update(codes)
    return codes


def _owns_pieces(conn: Connection) -> bool:
    """Whether the current role may drop the pieces table's indexes (owner or member)."""
    sql = "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = 'pieces'::regclass"
    return bool(conn.execute(text(sql)).scalar())


@contextmanager
def _spatial_index_deferred(load: _Load) -> Iterator[None]:
    """On a first load into an empty PostGIS store, drop the pieces' GiST index for the COPYs and
    build it once at the end (same transaction): one sorted build instead of millions of
    inserts into the tree. A no-op elsewhere."""
    if not (load.empty_store and is_postgis(load.conn) and _owns_pieces(load.conn)):
        yield  # SQLite, a store with pieces, or a role that may write but not alter the table
        return
    conn = load.conn
    rows = conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'pieces' AND indexdef ILIKE '%USING gist%'"
        )
    ).all()
    quote = conn.dialect.identifier_preparer.quote
    for name, _ in rows:
        conn.execute(text(f"DROP INDEX {quote(name)}"))
    yield
    for _, definition in rows:
        conn.execute(text(definition))
    conn.execute(text("ANALYZE pieces"))
    conn.execute(text("ANALYZE assignments"))


def _stream_parts(load: _Load, directory: Path, on_part: OnPart | None) -> None:
    """Every part of ``directory``, then the stored units no part holds."""
    with _spatial_index_deferred(load):
        _each_part(load, directory, on_part)


def _each_part(load: _Load, directory: Path, on_part: OnPart | None) -> None:
    from gridmgr.grid import parquet  # heavy (geopandas, pyarrow): only when loading

    stored_units = set() if load.empty_store else _stored_unit_codes(load.conn)
    for entry, path in zip(
        parquet.part_entries(directory), parquet.part_files(directory), strict=True
    ):
        part = parquet.read_part(path, lazy=True)  # hexagons filled as MultiPolygons
        new = pieces_frame(part, load.prep.units, str(path))
        del part
        codes = _unit_codes(new, load.tally.units_seen, str(path))
        if codes:
            _load_part(load, new, codes)
        if on_part is not None:
            on_part(int(entry.get("units", len(codes))), len(new))
    gone = sorted(stored_units - load.tally.units_seen)
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in [*PIECE_COLS, "_geom"]})
    for leftover in chunks(gone, LEFTOVER_UNITS):
        _load_part(load, empty, list(leftover))


def _stored_unit_codes(conn: Connection) -> set[str]:
    rows = conn.execute(select(s.pieces.c.unit_code).distinct()).all()
    return {str(r[0]) for r in rows}


def _small_deltas(conn: Connection, prep: PreparedLayers) -> tuple[_Delta, _Delta, _Delta]:
    """Departments, categories and units: diffed in memory as the in-memory load does."""
    cur_dep = read_table(conn, s.departments, ["code", *DEPARTMENT_COLS])
    cur_cat = read_table(conn, s.categories, ["category", *CATEGORY_COLS])
    cur_units = read_table(conn, s.units, ["code", *UNIT_COLS, "geom"])
    return (
        _delta(cur_dep, prep.departments, ["code"], DEPARTMENT_COLS, []),
        _delta(cur_cat, prep.categories, ["category"], CATEGORY_COLS, []),
        _delta(cur_units, prep.units, ["code"], UNIT_COLS, ["geom"]),
    )


def _key_places(load: _Load) -> _Delta:
    """Diff the key places (piece ids found part by part) and write the differences."""
    conn = load.conn
    kp = load.prep.key_places.copy()
    piece_id = [load.tally.kp_piece.get(i) for i in range(len(kp))]
    kp["piece_id"] = pd.array(piece_id, dtype="Int64")
    new_kp = kp.drop(columns=["_piece"])[["code", *KEY_PLACE_COLS, "geom", "point"]]
    cur_kp = read_table(conn, s.key_places, ["code", *KEY_PLACE_COLS, "geom", "point"])
    d = _delta(cur_kp, new_kp, ["code"], KEY_PLACE_COLS, ["geom", "point"])
    _delete(conn, s.key_places, "code", list(d.removed["code"]))
    _upsert(conn, s.key_places, ["code"], [*KEY_PLACE_COLS, "geom", "point"], d.added, d.changed)
    return d


def _report(
    load: _Load, small: tuple[_Delta, _Delta, _Delta], kp: TableDiff, cid: str | None
) -> LoadReport:
    tally = load.tally
    orphans = tally.orphan_frame()
    return LoadReport(
        res=load.prep.res,
        source=load.prep.source,
        changeset_id=cid,
        departments=small[0].table_diff(),
        categories=small[1].table_diff(),
        units=small[2].table_diff(),
        pieces=TableDiff(tally.added, tally.removed, tally.changed),
        key_places=kp,
        pieces_added=tuple(c for c, _ in tally.first_added),
        pieces_removed=tuple(c for c, _ in tally.first_removed),
        orphaned=tuple(
            {"cell": r.cell, "unit_code": r.unit_code, "leader_id": r.leader_id}
            for r in orphans.itertuples(index=False)
        ),
    )


def load_layers_streamed(
    conn: Connection,
    prep: PreparedLayers,
    directory: Path,
    *,
    actor: str,
    allow_orphans: bool,
    on_part: OnPart | None = None,
) -> LoadReport:
    """Write the differences between ``prep`` plus the pieces of ``directory`` and the store,
    part by part, on ``conn`` (one transaction; see the module docstring).

    ``prep`` comes from :func:`~gridmgr.store._layers_input.prepare_layers` with
    ``streamed=True``. Same results as :func:`~gridmgr.store.layers_load.load_layers` given all
    the pieces at once; ``on_part(units, pieces)`` is called after each part.
    """
    at = s.utcnow()
    if is_postgis(conn):
        conn.execute(text("LOCK TABLE assignments IN SHARE ROW EXCLUSIVE MODE"))
    empty = conn.execute(select(s.pieces.c.id).limit(1)).first() is None
    load = _Load(
        conn=conn,
        prep=prep,
        actor=actor,
        allow_orphans=allow_orphans,
        at=at,
        empty_store=empty,
        kp_points=from_wkb(list(prep.key_places["point"])),
        kp_units=prep.key_places["unit_code"].to_numpy(dtype=object),
    )
    dep, cat, units = small = _small_deltas(conn, prep)
    _upsert(conn, s.departments, ["code"], DEPARTMENT_COLS, dep.added, dep.changed)
    _upsert(conn, s.categories, ["category"], CATEGORY_COLS, cat.added, cat.changed)
    _upsert(conn, s.units, ["code"], [*UNIT_COLS, "geom"], units.added, units.changed)
    _stream_parts(load, directory, on_part)
    if load.tally.refusing:
        report = _report(load, small, TableDiff(), None)
        _refuse_orphans(prep, load.tally.removed, report.orphaned)
    kp = _key_places(load)
    _delete(conn, s.categories, "category", list(cat.removed["category"]))
    _delete(conn, s.units, "code", _children_first(units.removed))
    _delete(conn, s.departments, "code", list(dep.removed["code"]))
    pieces_touched = load.tally.added + load.tally.removed + load.tally.changed
    touched = sum(d.count for d in small) + pieces_touched + kp.count
    if touched == 0 and load.cid is None and not _res_differs(conn, prep.res):
        return _report(load, small, kp.table_diff(), None)
    report = _report(load, small, kp.table_diff(), load.changeset())
    _record_load(conn, report, len(load.tally.orphan_frame()), actor, at)
    return report
