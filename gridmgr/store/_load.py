"""Loading layers into the store: diff against what is there, write only the differences.

Everything is prepared and validated in memory first (units, pieces, key places with their unit
and piece found by a vectorised point-in-polygon join), then one transaction reads the current
tables, computes the differences, refuses to orphan assignments unless told to, and writes the
differences with bulk statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, bindparam, delete, insert, select, text, update

from gridmgr import settings
from gridmgr.errors import InvalidFieldError, OrphanedAssignmentsError
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._bulk import insert_rows, update_rows
from gridmgr.store._geom import as_array, from_wkb, to_multipolygons, to_wkb
from gridmgr.store._types import LoadReport, TableDiff

if TYPE_CHECKING:
    from sqlalchemy import Table

    from gridmgr.store._store import Store

LEVELS = ("district", "street", "community", "grid")


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    out = str(value).strip()
    return out or None


def _flag(value: Any) -> bool:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return False
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "是"}
    return bool(value)


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    return list(frame[name]) if name in frame.columns else [None] * len(frame)


@dataclass
class _Prepared:
    res: int
    source: str | None
    departments: pd.DataFrame
    categories: pd.DataFrame
    units: pd.DataFrame
    pieces: pd.DataFrame
    key_places: pd.DataFrame


def _prepare(layers: Any, *, res: int, pieces: pd.DataFrame | None, progress: bool) -> _Prepared:
    from gridmgr.grid.units import area_m2, lowest_units

    source = getattr(layers, "source", None)
    where = str(source) if source is not None else t("图层", "layers")

    dep_in = getattr(layers, "departments", None)
    dep_in = pd.DataFrame(dep_in if dep_in is not None else [], columns=None)
    departments = pd.DataFrame(
        {
            "code": [_text(v) for v in _column(dep_in, "code")],
            "name": [_text(v) for v in _column(dep_in, "name")],
            "name_en": [_text(v) for v in _column(dep_in, "name_en")],
        }
    )
    if departments["code"].isna().any() or departments["code"].duplicated().any():
        raise InvalidFieldError(
            t(
                f"{where}：部门代码不能为空且不能重复",
                f"{where}: departments need unique, non-empty codes",
            )
        )
    departments["name"] = departments["name"].fillna(departments["code"])

    cat_in = getattr(layers, "categories", None)
    cat_in = pd.DataFrame(cat_in if cat_in is not None else [])
    categories = pd.DataFrame(
        {
            "category": [_text(v) for v in _column(cat_in, "category")],
            "name": [_text(v) for v in _column(cat_in, "name")],
            "name_en": [_text(v) for v in _column(cat_in, "name_en")],
            "department": [_text(v) for v in _column(cat_in, "department")],
            "requires_package_leader": [
                _flag(v) for v in _column(cat_in, "requires_package_leader")
            ],
        }
    )
    if categories["category"].isna().any() or categories["category"].duplicated().any():
        raise InvalidFieldError(
            t(
                f"{where}：类别键不能为空且不能重复",
                f"{where}: categories need unique, non-empty keys",
            )
        )
    categories["name"] = categories["name"].fillna(categories["category"])
    bad_dep = categories["department"].notna() & ~categories["department"].isin(departments["code"])
    if bad_dep.any():
        row = categories[bad_dep].iloc[0]
        msg = t(
            f"{where}：类别 {row.category!r} 所属部门 {row.department!r} 不在部门列表中，"
            "请将其添加到 departments.json",
            f"{where}: category {row.category!r} names department {row.department!r}, which is "
            "not among the departments; add it to departments.json",
        )
        raise InvalidFieldError(msg)

    uin = layers.units
    codes = [_text(v) for v in uin["code"]]
    units = pd.DataFrame(
        {
            "code": codes,
            "name": [_text(v) for v in _column(uin, "name")],
            "level": [_text(v) for v in _column(uin, "level")],
            "parent": [_text(v) for v in _column(uin, "parent")],
            "name_en": [_text(v) for v in _column(uin, "name_en")],
            "alias": [_text(v) for v in _column(uin, "alias")],
            "sample": [_flag(v) for v in _column(uin, "sample")],
        }
    )
    if units["code"].isna().any():
        i = int(np.flatnonzero(units["code"].isna().to_numpy())[0])
        raise InvalidFieldError(
            t(
                f"{where}：第 {i} 个单位要素缺少代码（code）",
                f"{where}: unit feature {i} has no code",
            )
        )
    dup = units["code"].duplicated()
    if dup.any():
        ucode = units["code"][dup].iloc[0]
        raise InvalidFieldError(
            t(
                f"{where}：单位代码 {ucode!r} 重复出现",
                f"{where}: unit code {ucode!r} appears twice",
            )
        )
    bad_level = ~units["level"].isin(LEVELS)
    if bad_level.any():
        i = int(np.flatnonzero(bad_level.to_numpy())[0])
        ucode, ulevel, levels = units["code"][i], units["level"][i], ", ".join(LEVELS)
        msg = t(
            f"{where}：第 {i} 个单位要素（code={ucode!r}）的层级为 {ulevel!r}，请使用 {levels} 之一",
            f"{where}: unit feature {i} (code={ucode!r}) has level {ulevel!r}; use one of {levels}",
        )
        raise InvalidFieldError(msg)
    units["name"] = units["name"].fillna(units["code"])
    bad_parent = units["parent"].notna() & ~units["parent"].isin(units["code"])
    if bad_parent.any():
        i = int(np.flatnonzero(bad_parent.to_numpy())[0])
        ucode, uparent = units["code"][i], units["parent"][i]
        msg = t(
            f"{where}：第 {i} 个单位要素（code={ucode!r}）的上级 {uparent!r} 不在单位列表中",
            f"{where}: unit feature {i} (code={ucode!r}) names parent {uparent!r}, "
            "which is not among the units",
        )
        raise InvalidFieldError(msg)
    ugeom = to_multipolygons(uin.geometry, what=f"{where}: units")
    units["area_m2"] = area_m2(ugeom)
    units["geom"] = to_wkb(ugeom)

    if pieces is None:
        from gridmgr.grid.pieces import pieces_from_units

        pieces = pieces_from_units(uin, res=res, progress=progress)
    pgeom = to_multipolygons(pieces.geometry, what=f"{where}: pieces")
    pframe = pd.DataFrame(
        {
            "cell": pieces["cell"].astype(str).to_numpy(),
            "unit_code": pieces["unit_code"].astype(str).to_numpy(),
            "area_m2": pieces["area_m2"].astype(float).to_numpy(),
            "whole": pieces["whole"].astype(bool).to_numpy(),
            "geom": to_wkb(pgeom),
        }
    )
    pframe["_geom"] = pgeom
    if pframe.duplicated(["cell", "unit_code"]).any():
        raise InvalidFieldError(
            t(
                f"{where}：地块中 (cell, unit_code) 组合重复",
                f"{where}: pieces repeat a (cell, unit_code) pair",
            )
        )
    unknown_units = ~pframe["unit_code"].isin(units["code"])
    if unknown_units.any():
        code = pframe["unit_code"][unknown_units].iloc[0]
        raise InvalidFieldError(
            t(
                f"{where}：地块所属单位 {code!r} 不在单位列表中",
                f"{where}: pieces name unit {code!r}, which is not among the units",
            )
        )

    kin = getattr(layers, "key_places", None)
    if kin is None or len(kin) == 0:
        key_places = pd.DataFrame(
            columns=[
                "code",
                "name",
                "category",
                "address",
                "sample",
                "unit_code",
                "geom",
                "point",
                "_piece",
            ]
        )
    else:
        kcodes = [_text(v) for v in kin["code"]]
        key_places = pd.DataFrame(
            {
                "code": kcodes,
                "name": [_text(v) for v in _column(kin, "name")],
                "category": [_text(v) for v in _column(kin, "category")],
                "address": [_text(v) for v in _column(kin, "address")],
                "sample": [_flag(v) for v in _column(kin, "sample")],
            }
        )
        if key_places["code"].isna().any():
            i = int(np.flatnonzero(key_places["code"].isna().to_numpy())[0])
            raise InvalidFieldError(
                t(
                    f"{where}：第 {i} 个重点场所要素缺少代码（code）",
                    f"{where}: key place feature {i} has no code",
                )
            )
        dupk = key_places["code"].duplicated()
        if dupk.any():
            code = key_places["code"][dupk].iloc[0]
            raise InvalidFieldError(
                t(
                    f"{where}：重点场所代码 {code!r} 重复出现",
                    f"{where}: key place code {code!r} appears twice",
                )
            )
        key_places["name"] = key_places["name"].fillna(key_places["code"])
        badc = ~key_places["category"].isin(categories["category"])
        if badc.any():
            i = int(np.flatnonzero(badc.to_numpy())[0])
            kcode, kcat = key_places["code"][i], key_places["category"][i]
            msg = t(
                f"{where}：第 {i} 个重点场所要素（code={kcode!r}）的类别 {kcat!r} 不在 departments.json 中，"
                "请在该文件中添加或更正该场所",
                f"{where}: key place feature {i} (code={kcode!r}) has category {kcat!r}, which is "
                "not in departments.json; add it there or correct the place",
            )
            raise InvalidFieldError(msg)
        kgeom = as_array(kin.geometry)
        empty = shapely.is_missing(kgeom) | shapely.is_empty(kgeom)
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            kcode = key_places["code"][i]
            msg = t(
                f"{where}：第 {i} 个重点场所要素（code={kcode!r}）没有几何图形",
                f"{where}: key place feature {i} (code={kcode!r}) has no geometry",
            )
            raise InvalidFieldError(msg)
        points = shapely.point_on_surface(kgeom)
        low = lowest_units(uin)
        tree = shapely.STRtree(as_array(low.geometry))
        pi, ui = tree.query(points, predicate="intersects")
        _, first = np.unique(pi, return_index=True)
        unit_of = np.full(len(points), None, dtype=object)
        unit_of[pi[first]] = low["code"].astype(str).to_numpy()[ui[first]]
        key_places["unit_code"] = unit_of
        # The piece holding the point: among the pieces of the same unit when it has one.
        ptree = shapely.STRtree(pgeom)
        qi, qj = ptree.query(points, predicate="intersects")
        same_unit = pframe["unit_code"].to_numpy()[qj] == unit_of[qi]
        order = np.lexsort((~same_unit, qi))
        qi, qj = qi[order], qj[order]
        _, firstp = np.unique(qi, return_index=True)
        piece_of = np.full(len(points), -1, dtype=np.int64)
        piece_of[qi[firstp]] = qj[firstp]
        key_places["_piece"] = piece_of
        key_places["geom"] = to_wkb(kgeom)
        key_places["point"] = to_wkb(points)
    return _Prepared(
        res=res,
        source=str(source) if source is not None else None,
        departments=departments,
        categories=categories,
        units=units,
        pieces=pframe,
        key_places=key_places,
    )


def _read(conn: Connection, table: Table, cols: list[str]) -> pd.DataFrame:
    rows = conn.execute(select(*[table.c[c] for c in cols])).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=cols)


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
        a, b = _norm(both[c]), _norm(both[f"{c}_cur"])
        changed_mask |= np.array([x != y for x, y in zip(a, b, strict=True)], dtype=bool)
    for g in geoms:
        if len(both):
            ga = from_wkb(both[g].tolist())
            gb = from_wkb(both[f"{g}_cur"].tolist())
            changed_mask |= ~shapely.equals_exact(ga, gb, tolerance=0.0)
    changed = both[changed_mask]
    cur_keys = removed[key]
    removed_rows = cur.merge(cur_keys, on=key, how="inner")
    return added[new.columns.tolist()], removed_rows, changed


def _records(frame: pd.DataFrame, cols: list[str]) -> list[dict[str, Any]]:
    out = []
    for row in frame[cols].itertuples(index=False, name=None):
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
    from gridmgr.store._store import chunks

    for part in chunks(values):
        conn.execute(delete(table).where(table.c[key].in_(list(part))))


def load_layers(
    store: Store,
    layers: Any,
    *,
    res: int | None,
    actor: str,
    allow_orphans: bool,
    pieces: pd.DataFrame | None,
    progress: bool,
) -> LoadReport:
    """See :meth:`gridmgr.store.Store.load_layers`."""
    from gridmgr.grid.pieces import check_res

    store.require_schema()
    if res is None:
        res = store.res or settings.DEFAULT_RES
    res = check_res(res)
    prep = _prepare(layers, res=res, pieces=pieces, progress=progress)
    at = s.utcnow()
    with store.transaction() as conn:
        if store.is_postgis:
            # Edits wait while a load decides which pieces (and assignments) survive; SQLite's
            # BEGIN IMMEDIATE already serialises writers.
            conn.execute(text("LOCK TABLE assignments IN SHARE ROW EXCLUSIVE MODE"))
        # --- read and diff
        cur_dep = _read(conn, s.departments, ["code", "name", "name_en"])
        dep_add, dep_rem, dep_chg = _diff(
            cur_dep, prep.departments, ["code"], ["name", "name_en"], []
        )
        cat_cols = ["name", "name_en", "department", "requires_package_leader"]
        cur_cat = _read(conn, s.categories, ["category", *cat_cols])
        cat_add, cat_rem, cat_chg = _diff(cur_cat, prep.categories, ["category"], cat_cols, [])
        unit_cols = ["name", "level", "parent", "name_en", "alias", "sample", "area_m2"]
        cur_units = _read(conn, s.units, ["code", *unit_cols, "geom"])
        u_add, u_rem, u_chg = _diff(cur_units, prep.units, ["code"], unit_cols, ["geom"])
        cur_pieces = _read(conn, s.pieces, ["id", "cell", "unit_code", "area_m2", "whole", "geom"])
        new_pieces = prep.pieces.drop(columns=["_geom"])
        p_add, p_rem, p_chg = _diff(
            cur_pieces, new_pieces, ["cell", "unit_code"], ["area_m2", "whole"], ["geom"]
        )
        # --- orphans: removed pieces that still have an owner
        a = s.assignments
        owners = pd.DataFrame(
            [
                tuple(r)
                for r in conn.execute(
                    select(a.c.piece_id, a.c.leader_id, a.c.fallback, a.c.version).where(
                        a.c.leader_id.is_not(None)
                    )
                ).all()
            ],
            columns=["id", "leader_id", "fallback", "version"],
        )
        orphans = p_rem.merge(owners, on="id", how="inner")
        orphan_list = tuple(
            {"cell": r.cell, "unit_code": r.unit_code, "leader_id": r.leader_id}
            for r in orphans.itertuples(index=False)
        )
        report_args: dict[str, Any] = {
            "res": res,
            "source": prep.source,
            "departments": TableDiff(len(dep_add), len(dep_rem), len(dep_chg)),
            "categories": TableDiff(len(cat_add), len(cat_rem), len(cat_chg)),
            "units": TableDiff(len(u_add), len(u_rem), len(u_chg)),
            "pieces": TableDiff(len(p_add), len(p_rem), len(p_chg)),
            "pieces_added": tuple(p_add["cell"]),
            "pieces_removed": tuple(p_rem["cell"]),
            "orphaned": orphan_list,
        }
        if len(orphans) and not allow_orphans:
            shown = "; ".join(
                t(
                    f"{o['cell']}（单位 {o['unit_code']}，领导 {o['leader_id']}）",
                    f"{o['cell']} (unit {o['unit_code']}, leader {o['leader_id']})",
                )
                for o in orphan_list[:10]
            )
            extra = len(orphan_list) - 10
            more = t(f" ……（另有 {extra} 处）", f" … (+{extra} more)") if extra > 0 else ""
            msg = t(
                f"导入 {prep.source or '这些图层'} 将删除 {len(p_rem)} 个地块，并使 {len(orphans)} 条"
                f"包保分配失去归属：{shown}{more}。未做任何更改。请先重新分配这些地块，或使用 "
                "--force（allow_orphans=True）导入以结束这些分配（会记入历史记录）",
                f"loading {prep.source or 'these layers'} would remove {len(p_rem)} piece(s) and "
                f"orphan {len(orphans)} assignment(s): {shown}{more}. Nothing was changed. "
                "Reassign those pieces first, or load with --force (allow_orphans=True) to end "
                "the assignments (recorded in the history)",
            )
            raise OrphanedAssignmentsError(msg)

        # --- key places need piece ids: compute after pieces are written
        kcols = ["name", "category", "address", "sample", "unit_code", "piece_id"]
        cur_kp = _read(conn, s.key_places, ["code", *kcols, "geom", "point"])
        nothing = (
            sum(
                len(x)
                for x in (
                    dep_add,
                    dep_rem,
                    dep_chg,
                    cat_add,
                    cat_rem,
                    cat_chg,
                    u_add,
                    u_rem,
                    u_chg,
                    p_add,
                    p_rem,
                    p_chg,
                )
            )
            == 0
        )
        if nothing:
            new_kp = _with_piece_ids(prep, cur_pieces)
            k_add, k_rem, k_chg = _diff(cur_kp, new_kp, ["code"], kcols, ["geom", "point"])
            if len(k_add) + len(k_rem) + len(k_chg) == 0 and not _res_differs(conn, res):
                return LoadReport(changeset_id=None, key_places=TableDiff(), **report_args)

        # --- write, parents before children; removals children first
        cid = store._new_changeset(
            conn,
            kind="load",
            actor=actor,
            reason=f"load layers {prep.source or ''} res {res}".strip(),
            at=at,
        )
        _upsert(conn, s.departments, ["code"], ["name", "name_en"], dep_add, dep_chg)
        _upsert(conn, s.categories, ["category"], cat_cols, cat_add, cat_chg)
        _upsert(conn, s.units, ["code"], [*unit_cols, "geom"], u_add, u_chg)
        # key places removed first (they may point at removed categories)
        if len(orphans):
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
        removed_ids = [int(i) for i in p_rem["id"]]
        _delete(conn, s.assignments, "piece_id", removed_ids)
        _delete(conn, s.pieces, "id", removed_ids)
        if len(p_chg):
            update_rows(
                conn,
                s.pieces,
                ["id"],
                ["area_m2", "whole", "geom"],
                list(
                    zip(
                        [int(i) for i in p_chg["id"]],
                        [float(x) for x in p_chg["area_m2"]],
                        [bool(x) for x in p_chg["whole"]],
                        list(p_chg["geom"]),
                        strict=True,
                    )
                ),
            )
        if len(p_add):
            insert_rows(
                conn,
                s.pieces,
                ["cell", "unit_code", "area_m2", "whole", "geom"],
                list(
                    zip(
                        [str(x) for x in p_add["cell"]],
                        [str(x) for x in p_add["unit_code"]],
                        [float(x) for x in p_add["area_m2"]],
                        [bool(x) for x in p_add["whole"]],
                        list(p_add["geom"]),
                        strict=True,
                    )
                ),
            )
            new_ids = pd.DataFrame(
                [
                    tuple(r)
                    for r in conn.execute(
                        select(s.pieces.c.id, s.pieces.c.cell, s.pieces.c.unit_code)
                    ).all()
                ],
                columns=["id", "cell", "unit_code"],
            ).merge(p_add[["cell", "unit_code"]], on=["cell", "unit_code"])
            insert_rows(
                conn,
                s.assignments,
                ["piece_id", "leader_id", "fallback", "version", "changeset_id", "updated_at"],
                [(int(i), None, False, 0, cid, at) for i in new_ids["id"]],
            )
        all_pieces = _read(conn, s.pieces, ["id", "cell", "unit_code"])
        new_kp = _with_piece_ids(prep, all_pieces)
        k_add, k_rem, k_chg = _diff(cur_kp, new_kp, ["code"], kcols, ["geom", "point"])
        _delete(conn, s.key_places, "code", list(k_rem["code"]))
        _upsert(conn, s.key_places, ["code"], [*kcols, "geom", "point"], k_add, k_chg)
        _delete(conn, s.categories, "category", list(cat_rem["category"]))
        _delete(conn, s.units, "code", _children_first(u_rem))
        _delete(conn, s.departments, "code", list(dep_rem["code"]))
        report = LoadReport(
            changeset_id=cid,
            key_places=TableDiff(len(k_add), len(k_rem), len(k_chg)),
            **report_args,
        )
        conn.execute(
            update(s.changesets).where(s.changesets.c.id == cid).values(n_events=len(orphans))
        )
        conn.execute(
            insert(s.loads).values(
                changeset_id=cid,
                source=prep.source,
                res=res,
                actor=actor,
                at=at,
                report=report.to_dict(),
            )
        )
        store._set_meta(conn, "res", str(res))
    return report


def _res_differs(conn: Connection, res: int) -> bool:
    """True when the store records another resolution (or none) than ``res``."""
    row = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "res")).first()
    return row is None or row[0] != str(res)


def _with_piece_ids(prep: _Prepared, pieces_now: pd.DataFrame) -> pd.DataFrame:
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
