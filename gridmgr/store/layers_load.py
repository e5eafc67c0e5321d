"""Loading layers into the store (repository): diff against what is there, write only the
differences.

:func:`gridmgr.store._layers_input.prepare_layers` validates and shapes the layers in memory
first; then :func:`load_layers`, on the caller's transaction, reads the current tables, computes
the differences, refuses to orphan assignments unless told to, and writes the differences with
bulk statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Table, bindparam, delete, insert, select, text, update

from gridmgr.errors import OrphanedAssignmentsError
from gridmgr.i18n import t
from gridmgr.io.hierarchy import LEVELS
from gridmgr.store import schema as s
from gridmgr.store._layers_input import PreparedLayers
from gridmgr.store._sql import chunks, frame, is_postgis, read_table
from gridmgr.store.bulk import insert_rows, update_rows
from gridmgr.store.changesets import new_changeset, set_event_count
from gridmgr.store.geom import from_wkb
from gridmgr.store.layers import set_meta
from gridmgr.store.types import LoadReport, TableDiff

DEPARTMENT_COLS = ["name", "name_en"]
CATEGORY_COLS = ["name", "name_en", "department", "requires_package_leader", "visit_every_days"]
UNIT_COLS = ["name", "level", "parent", "name_en", "alias", "sample", "area_m2"]
KEY_PLACE_COLS = ["name", "category", "address", "sample", "unit_code", "piece_id"]


def _norm(values: pd.Series) -> np.ndarray:
    """Comparable object array: None for missing, floats rounded to 1e-6."""
    out: list[Any] = []
    for v in values:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, float | np.floating):
            out.append(round(float(v), 6))
        elif isinstance(v, np.bool_ | bool):
            out.append(bool(v))
        else:
            out.append(v)
    return np.asarray(out, dtype=object)


def _diff(
    cur: pd.DataFrame, new: pd.DataFrame, key: list[str], cols: list[str], geoms: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(added rows of ``new``, removed rows of ``cur``, changed rows of ``new`` with ``_cur_*``)."""
    # An empty side has float64 key columns; align the key dtypes so the merge never refuses.
    new = new.astype({k: object for k in key})
    cur = cur.astype({k: object for k in key})
    merged = new.merge(cur, on=key, how="outer", suffixes=("", "_cur"), indicator=True)
    added = merged[merged["_merge"] == "left_only"]
    removed = merged[merged["_merge"] == "right_only"]
    both = merged[merged["_merge"] == "both"]
    changed_mask = np.zeros(len(both), dtype=bool)
    for c in cols:
        changed_mask |= _values_differ(both[c], both[f"{c}_cur"])
    for g in geoms:
        if len(both):
            changed_mask |= _geoms_differ(both[g].to_numpy(), both[f"{g}_cur"].to_numpy())
    changed = both[changed_mask]
    cur_keys = removed[key]
    removed_rows = cur.merge(cur_keys, on=key, how="inner")
    return added[new.columns.tolist()], removed_rows, changed


def _values_differ(new: pd.Series, cur: pd.Series) -> np.ndarray:
    """Where two columns differ after :func:`_norm`; values equal as they are (most of them, in
    a reload) are not normalised one by one."""
    try:
        same = np.asarray(new.to_numpy(dtype=object) == cur.to_numpy(dtype=object), dtype=bool)
    except (TypeError, ValueError):  # pd.NA and the like: compare every value normalised
        same = np.zeros(len(new), dtype=bool)
    idx = np.flatnonzero(~same)
    differ = np.zeros(len(new), dtype=bool)
    if len(idx):
        a, b = _norm(new.iloc[idx]), _norm(cur.iloc[idx])
        differ[idx] = [x != y for x, y in zip(a, b, strict=True)]
    return differ


def _geoms_differ(new: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Where two WKB columns differ as geometries (``equals_exact``, tolerance 0); equal bytes
    are equal geometries, so only the others are parsed."""
    a = [None if v is None else bytes(v) for v in new]
    b = [None if v is None else bytes(v) for v in cur]
    differ = np.array([x is None or x != y for x, y in zip(a, b, strict=True)], dtype=bool)
    if differ.any():
        idx = np.flatnonzero(differ)
        ga = from_wkb([a[i] for i in idx])
        gb = from_wkb([b[i] for i in idx])
        differ[idx] = ~shapely.equals_exact(ga, gb, tolerance=0.0)
    return differ


def _records(rows: pd.DataFrame, cols: list[str]) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (numpy scalars unwrapped, missing as ``None``)."""
    out = []
    for row in rows[cols].itertuples(index=False, name=None):
        rec: dict[str, Any] = {}
        for c, v in zip(cols, row, strict=True):
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                rec[c] = None
            elif isinstance(v, np.integer):
                rec[c] = int(v)
            elif isinstance(v, np.floating):
                rec[c] = float(v)
            elif isinstance(v, np.bool_):
                rec[c] = bool(v)
            else:
                rec[c] = v
        out.append(rec)
    return out


def _upsert(
    conn: Connection,
    table: Table,
    key: list[str],
    cols: list[str],
    added: pd.DataFrame,
    changed: pd.DataFrame,
) -> None:
    """Insert the added rows and update the changed ones (by key)."""
    if len(added):
        conn.execute(insert(table), _records(added, key + cols))
    if len(changed):
        recs = [{f"b_{k}": v for k, v in r.items()} for r in _records(changed, key + cols)]
        stmt = (
            update(table)
            .where(*[table.c[k] == bindparam(f"b_{k}") for k in key])
            .values({c: bindparam(f"b_{c}") for c in cols})
        )
        conn.execute(stmt, recs)


def _delete(conn: Connection, table: Table, key: str, values: list[Any]) -> None:
    """Delete the rows whose ``key`` is in ``values`` (chunked)."""
    for part in chunks(values):
        conn.execute(delete(table).where(table.c[key].in_(list(part))))


@dataclass(frozen=True)
class _Delta:
    """Rows added (of the new table), removed (of the stored one) and changed in one table."""

    added: pd.DataFrame
    removed: pd.DataFrame
    changed: pd.DataFrame

    @property
    def count(self) -> int:
        """Rows touched."""
        return len(self.added) + len(self.removed) + len(self.changed)

    def table_diff(self) -> TableDiff:
        """The counts, for the report."""
        return TableDiff(len(self.added), len(self.removed), len(self.changed))


def _delta(
    cur: pd.DataFrame, new: pd.DataFrame, key: list[str], cols: list[str], geoms: list[str]
) -> _Delta:
    """:func:`_diff` as a :class:`_Delta`."""
    return _Delta(*_diff(cur, new, key, cols, geoms))


@dataclass(frozen=True)
class _LayerDeltas:
    """Differences of the layer tables written before the key places, and the stored pieces."""

    departments: _Delta
    categories: _Delta
    units: _Delta
    pieces: _Delta
    cur_pieces: pd.DataFrame

    @property
    def count(self) -> int:
        """Rows touched in these tables."""
        return sum(d.count for d in (self.departments, self.categories, self.units, self.pieces))


def _diff_layers(conn: Connection, prep: PreparedLayers) -> _LayerDeltas:
    """Read departments, categories, units and pieces and diff them against ``prep``."""
    cur_dep = read_table(conn, s.departments, ["code", *DEPARTMENT_COLS])
    cur_cat = read_table(conn, s.categories, ["category", *CATEGORY_COLS])
    cur_units = read_table(conn, s.units, ["code", *UNIT_COLS, "geom"])
    cur_pieces = read_table(conn, s.pieces, ["id", "cell", "unit_code", "area_m2", "whole", "geom"])
    new_pieces = prep.pieces.drop(columns=["_geom"])
    return _LayerDeltas(
        departments=_delta(cur_dep, prep.departments, ["code"], DEPARTMENT_COLS, []),
        categories=_delta(cur_cat, prep.categories, ["category"], CATEGORY_COLS, []),
        units=_delta(cur_units, prep.units, ["code"], UNIT_COLS, ["geom"]),
        pieces=_delta(
            cur_pieces, new_pieces, ["cell", "unit_code"], ["area_m2", "whole"], ["geom"]
        ),
        cur_pieces=cur_pieces,
    )


def _orphans(conn: Connection, removed_pieces: pd.DataFrame) -> pd.DataFrame:
    """Removed pieces that still have an owner, with ``leader_id``, ``fallback``, ``version``."""
    a = s.assignments
    stmt = select(a.c.piece_id, a.c.leader_id, a.c.fallback, a.c.version).where(
        a.c.leader_id.is_not(None)
    )
    owners = frame(conn.execute(stmt).all(), ["id", "leader_id", "fallback", "version"])
    return removed_pieces.merge(owners, on="id", how="inner")


def _refuse_orphans(
    prep: PreparedLayers, removed: int, orphan_list: tuple[dict[str, Any], ...]
) -> None:
    """:class:`OrphanedAssignmentsError` naming up to 10 orphaned pieces."""
    shown = "; ".join(
        t(
            f"{o['cell']}（单位 {o['unit_code']}，领导 {o['leader_id']}）",
            f"{o['cell']} (unit {o['unit_code']}, leader {o['leader_id']})",
        )
        for o in orphan_list[:10]
    )
    extra = len(orphan_list) - 10
    more = t(f" ……（另有 {extra} 处）", f" … (+{extra} more)") if extra > 0 else ""
    n = len(orphan_list)
    msg = t(
        f"导入 {prep.source or '这些图层'} 将删除 {removed} 个地块，并使 {n} 条"
        f"包保分配失去归属：{shown}{more}。未做任何更改。请先重新分配这些地块，或使用 "
        "--force（allow_orphans=True）导入以结束这些分配（会记入历史记录）",
        f"loading {prep.source or 'these layers'} would remove {removed} piece(s) and "
        f"orphan {n} assignment(s): {shown}{more}. Nothing was changed. "
        "Reassign those pieces first, or load with --force (allow_orphans=True) to end "
        "the assignments (recorded in the history)",
    )
    raise OrphanedAssignmentsError(msg)


def _report_args(
    prep: PreparedLayers, deltas: _LayerDeltas, orphan_list: tuple[dict[str, Any], ...]
) -> dict[str, Any]:
    """The :class:`LoadReport` fields known before the key places are written."""
    p = deltas.pieces
    return {
        "res": prep.res,
        "source": prep.source,
        "departments": deltas.departments.table_diff(),
        "categories": deltas.categories.table_diff(),
        "units": deltas.units.table_diff(),
        "pieces": p.table_diff(),
        "pieces_added": tuple(p.added["cell"]),
        "pieces_removed": tuple(p.removed["cell"]),
        "orphaned": orphan_list,
    }


def _nothing_to_load(
    conn: Connection, prep: PreparedLayers, deltas: _LayerDeltas, cur_kp: pd.DataFrame
) -> bool:
    """True when no table, no key place and not the resolution would change."""
    if deltas.count:
        return False
    new_kp = _with_piece_ids(prep, deltas.cur_pieces)
    kp = _delta(cur_kp, new_kp, ["code"], KEY_PLACE_COLS, ["geom", "point"])
    return kp.count == 0 and not _res_differs(conn, prep.res)


def _write_orphan_events(
    conn: Connection, orphans: pd.DataFrame, cid: str, actor: str, at: dt.datetime
) -> None:
    """One ``orphan`` event per ended assignment of a removed piece."""
    events = [
        {
            "changeset_id": cid,
            "kind": "orphan",
            "piece_id": int(r.id),
            "cell": r.cell,
            "unit_code": r.unit_code,
            "from_leader": r.leader_id,
            "to_leader": None,
            "from_fallback": bool(r.fallback),
            "to_fallback": False,
            "from_version": int(r.version),
            "to_version": int(r.version) + 1,
            "actor": actor,
            "reason": "piece removed by a layers load (--force)",
            "at": at,
        }
        for r in orphans.itertuples(index=False)
    ]
    conn.execute(insert(s.assignment_events), events)


def _insert_pieces(conn: Connection, added: pd.DataFrame, cid: str, at: dt.datetime) -> None:
    """Insert new pieces and an empty assignment row (version 0) for each."""
    insert_rows(
        conn,
        s.pieces,
        ["cell", "unit_code", "area_m2", "whole", "geom"],
        list(
            zip(
                [str(x) for x in added["cell"]],
                [str(x) for x in added["unit_code"]],
                [float(x) for x in added["area_m2"]],
                [bool(x) for x in added["whole"]],
                list(added["geom"]),
                strict=True,
            )
        ),
    )
    p = s.pieces
    new_ids = frame(
        conn.execute(select(p.c.id, p.c.cell, p.c.unit_code)).all(), ["id", "cell", "unit_code"]
    ).merge(added[["cell", "unit_code"]], on=["cell", "unit_code"])
    insert_rows(
        conn,
        s.assignments,
        ["piece_id", "leader_id", "fallback", "version", "changeset_id", "updated_at"],
        [(int(i), None, False, 0, cid, at) for i in new_ids["id"]],
    )


def _remove_and_update(
    conn: Connection,
    p: _Delta,
    orphans: pd.DataFrame,
    changeset: Callable[[], str],
    actor: str,
    at: dt.datetime,
) -> None:
    """End orphaned assignments (with events, in the change set ``changeset()`` makes only when
    there are orphans), delete removed pieces and their assignments, update changed pieces."""
    if len(orphans):
        _write_orphan_events(conn, orphans, changeset(), actor, at)
    removed_ids = [int(i) for i in p.removed["id"]]
    _delete(conn, s.assignments, "piece_id", removed_ids)
    _delete(conn, s.pieces, "id", removed_ids)
    if len(p.changed):
        update_rows(
            conn,
            s.pieces,
            ["id"],
            ["area_m2", "whole", "geom"],
            list(
                zip(
                    [int(i) for i in p.changed["id"]],
                    [float(x) for x in p.changed["area_m2"]],
                    [bool(x) for x in p.changed["whole"]],
                    list(p.changed["geom"]),
                    strict=True,
                )
            ),
        )


def _write_pieces(
    conn: Connection, p: _Delta, orphans: pd.DataFrame, cid: str, actor: str, at: dt.datetime
) -> None:
    """:func:`_remove_and_update`, then insert the new pieces."""
    _remove_and_update(conn, p, orphans, lambda: cid, actor, at)
    if len(p.added):
        _insert_pieces(conn, p.added, cid, at)


def _write_key_places(conn: Connection, prep: PreparedLayers, cur_kp: pd.DataFrame) -> _Delta:
    """Diff the key places against the pieces now stored and write the differences."""
    all_pieces = read_table(conn, s.pieces, ["id", "cell", "unit_code"])
    new_kp = _with_piece_ids(prep, all_pieces)
    kp = _delta(cur_kp, new_kp, ["code"], KEY_PLACE_COLS, ["geom", "point"])
    _delete(conn, s.key_places, "code", list(kp.removed["code"]))
    _upsert(conn, s.key_places, ["code"], [*KEY_PLACE_COLS, "geom", "point"], kp.added, kp.changed)
    return kp


def _write_layers(
    conn: Connection,
    prep: PreparedLayers,
    deltas: _LayerDeltas,
    orphans: pd.DataFrame,
    cur_kp: pd.DataFrame,
    cid: str,
    actor: str,
    at: dt.datetime,
) -> _Delta:
    """Write every difference: parents before children, removals children first."""
    dep, cat, units = deltas.departments, deltas.categories, deltas.units
    _upsert(conn, s.departments, ["code"], DEPARTMENT_COLS, dep.added, dep.changed)
    _upsert(conn, s.categories, ["category"], CATEGORY_COLS, cat.added, cat.changed)
    _upsert(conn, s.units, ["code"], [*UNIT_COLS, "geom"], units.added, units.changed)
    _write_pieces(conn, deltas.pieces, orphans, cid, actor, at)
    # key places before categories: removed ones may point at removed categories
    kp = _write_key_places(conn, prep, cur_kp)
    _delete(conn, s.categories, "category", list(cat.removed["category"]))
    _delete(conn, s.units, "code", _children_first(units.removed))
    _delete(conn, s.departments, "code", list(dep.removed["code"]))
    return kp


def _record_load(
    conn: Connection, report: LoadReport, n_orphans: int, actor: str, at: dt.datetime
) -> None:
    """Finish the change set, keep the report in ``loads`` and the resolution in ``meta``."""
    cid = str(report.changeset_id)
    set_event_count(conn, cid, n_orphans)
    conn.execute(
        insert(s.loads).values(
            changeset_id=cid,
            source=report.source,
            res=report.res,
            actor=actor,
            at=at,
            report=report.to_dict(),
        )
    )
    set_meta(conn, "res", str(report.res))


def load_layers(
    conn: Connection, prep: PreparedLayers, *, actor: str, allow_orphans: bool
) -> LoadReport:
    """Write the differences between ``prep`` and the store on ``conn``.

    Loading the same layers again changes nothing (``report.changes == 0``, no change set).
    Loading changed layers updates what changed; pieces keep their id (and assignment) while
    their ``(cell, unit_code)`` stays. When pieces that still have an owner would disappear it
    raises :class:`~gridmgr.errors.OrphanedAssignmentsError` naming them, unless
    ``allow_orphans`` (then their assignments end, with ``orphan`` events). ``actor`` is
    recorded in the change set.
    """
    at = s.utcnow()
    if is_postgis(conn):
        # Edits wait while a load decides which pieces (and assignments) survive; SQLite's
        # BEGIN IMMEDIATE already serialises writers.
        conn.execute(text("LOCK TABLE assignments IN SHARE ROW EXCLUSIVE MODE"))
    deltas = _diff_layers(conn, prep)
    orphans = _orphans(conn, deltas.pieces.removed)
    orphan_list = tuple(
        {"cell": r.cell, "unit_code": r.unit_code, "leader_id": r.leader_id}
        for r in orphans.itertuples(index=False)
    )
    report_args = _report_args(prep, deltas, orphan_list)
    if len(orphans) and not allow_orphans:
        _refuse_orphans(prep, len(deltas.pieces.removed), orphan_list)
    cur_kp = read_table(conn, s.key_places, ["code", *KEY_PLACE_COLS, "geom", "point"])
    if _nothing_to_load(conn, prep, deltas, cur_kp):
        return LoadReport(changeset_id=None, key_places=TableDiff(), **report_args)
    reason = f"load layers {prep.source or ''} res {prep.res}".strip()
    cid = new_changeset(conn, kind="load", actor=actor, reason=reason, at=at)
    kp = _write_layers(conn, prep, deltas, orphans, cur_kp, cid, actor, at)
    report = LoadReport(changeset_id=cid, key_places=kp.table_diff(), **report_args)
    _record_load(conn, report, len(orphans), actor, at)
    return report


def _res_differs(conn: Connection, res: int) -> bool:
    """True when the store records another resolution (or none) than ``res``."""
    row = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "res")).first()
    return row is None or row[0] != str(res)


def _with_piece_ids(prep: PreparedLayers, pieces_now: pd.DataFrame) -> pd.DataFrame:
    """The prepared key places with the store ids of their pieces (``piece_id``)."""
    kp = prep.key_places.copy()
    if kp.empty:
        return pd.DataFrame(
            columns=[
                "code",
                "name",
                "category",
                "address",
                "sample",
                "unit_code",
                "piece_id",
                "geom",
                "point",
            ]
        )
    pos = kp["_piece"].to_numpy()
    keys = prep.pieces[["cell", "unit_code"]].copy()
    keys["_pos"] = np.arange(len(keys))
    ids = keys.merge(pieces_now, on=["cell", "unit_code"], how="left").sort_values("_pos")["id"]
    idarr = ids.to_numpy()
    piece_id = [None if p < 0 or pd.isna(idarr[p]) else int(idarr[p]) for p in pos]
    kp["piece_id"] = pd.array(piece_id, dtype="Int64")
    return kp.drop(columns=["_piece"])


def _children_first(removed_units: pd.DataFrame) -> list[str]:
    """Removed unit codes, deepest level first (no FK between units, but tidy)."""
    if removed_units.empty:
        return []
    order = {lvl: i for i, lvl in enumerate(LEVELS)}
    df = removed_units.assign(_o=removed_units["level"].map(order).fillna(0))
    return list(df.sort_values("_o", ascending=False)["code"])
