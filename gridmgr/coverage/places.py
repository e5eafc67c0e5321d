"""Key-place checks of a coverage report: each place located in a piece and a unit, then checked.

A place needs a leader (the active holder of its piece), a department (through its category)
and, when its category requires one, an active package leader; a place in no unit lies outside
the jurisdiction. Helpers of :func:`gridmgr.coverage.report.coverage_from_frames`; nothing here is
public, the rules are in ``docs/coverage.md``.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmgr.coverage.checks import _at, _Hier, _null
from gridmgr.coverage.kinds import Finding, _finding
from gridmgr.grid.boundaries import str_values as _str_values
from gridmgr.grid.lazy import LazyGeoms, cell_array

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
ObjArray = NDArray[np.object_]

#: Checks of each place, in the order their findings are listed.
_PLACE_KINDS = (
    "place_outside",
    "place_without_leader",
    "place_without_department",
    "place_without_package_leader",
)


def _place_pieces(
    kp: gpd.GeoDataFrame, pts: ObjArray, pcs: gpd.GeoDataFrame, geoms: LazyGeoms
) -> IntArray:
    """Piece of each place: its ``piece_id``, else the piece of its cell containing its point."""
    from gridmgr.grid import h3_adapter as _h3

    m, n = len(kp), len(pcs)
    piece = np.full(m, -1, dtype=np.int64)
    if not n:
        return piece
    if "piece_id" in kp and "id" in pcs:
        pid = kp["piece_id"]
        ok = pid.notna().to_numpy()
        piece[ok] = pd.Index(pcs["id"]).get_indexer(pid[ok].astype(pcs["id"].dtype))
        return piece
    first = pcs["cell"].iat[0]
    res = _h3.cell_res(first if isinstance(first, str) else int(first))
    cell = _h3.latlng_to_cell(shapely.get_x(pts), shapely.get_y(pts), res=res)
    cand = pd.DataFrame({"k": np.arange(m), "cell": cell}).merge(
        pd.DataFrame({"cell": cell_array(pcs["cell"]), "p": np.arange(n)}), on="cell"
    )
    k = cand["k"].to_numpy(dtype=np.int64)
    p = cand["p"].to_numpy(dtype=np.int64)
    hit = shapely.intersects(geoms[p], pts[k]) if len(k) else np.zeros(0, dtype=bool)
    k, p = k[hit], p[hit]
    first = np.unique(k, return_index=True)[1]
    piece[k[first]] = p[first]
    return piece


def _place_units(
    kp: gpd.GeoDataFrame,
    pts: ObjArray,
    piece: IntArray,
    punit: IntArray,
    h: _Hier,
    unit_geoms: ObjArray,
) -> IntArray:
    """Unit of each place: its ``unit_code``, else its piece's unit, else the lowest unit under it."""
    m = len(kp)
    if "unit_code" in kp:
        uc = kp["unit_code"]
        unit = np.asarray(h.index.get_indexer(uc.astype(str)), dtype=np.int64)
        unit[_null(uc)] = -1
        return unit
    unit = np.full(m, -1, dtype=np.int64)
    found = piece >= 0
    unit[found] = punit[piece[found]]
    rest = np.flatnonzero(~found)
    if len(rest):
        low = np.flatnonzero(h.lowest)
        tr = shapely.STRtree(unit_geoms[low])
        qi, qu = tr.query(pts[rest], predicate="intersects")
        first = np.unique(qi, return_index=True)[1]
        unit[rest[qi[first]]] = low[qu[first]]
    return unit


def _category_rules(categories: pd.DataFrame | None) -> tuple[dict[str, Any], dict[str, bool]]:
    """Per category: its department (``None`` when blank) and whether it needs a package leader."""
    dept: dict[str, Any] = {}
    req: dict[str, bool] = {}
    if categories is None or not len(categories):
        return dept, req
    for c, d, r in zip(
        categories["category"].astype(str),
        categories["department"] if "department" in categories else [None] * len(categories),
        categories["requires_package_leader"]
        if "requires_package_leader" in categories
        else [False] * len(categories),
        strict=True,
    ):
        dept[c] = (
            None
            if (d is None or (isinstance(d, float) and math.isnan(d)) or str(d).strip() == "")
            else str(d)
        )
        req[c] = (
            bool(r) if r is not None and not (isinstance(r, float) and math.isnan(r)) else False
        )
    return dept, req


def _has_package_leader(
    kp: gpd.GeoDataFrame,
    codes: ObjArray,
    P: pd.DataFrame,
    lid_index: pd.Index,
    active: BoolArray,
) -> BoolArray:
    """Places with an active package leader (place packages, or the place's package_leader_id)."""
    m = len(kp)
    ppk = P[P["kind"] == "place"]
    pl_l = np.asarray(lid_index.get_indexer(ppk["leader_id"]), dtype=np.int64)
    ok_l = _at(active, pl_l, False)
    targets = ppk["target"].to_numpy(dtype=object)[ok_l]
    has_pkg = (
        np.asarray(pd.Index(codes).isin(targets), dtype=bool) if m else np.zeros(0, dtype=bool)
    )
    if "package_leader_id" in kp and m:
        li = np.asarray(lid_index.get_indexer(_str_values(kp["package_leader_id"])), dtype=np.int64)
        has_pkg |= _at(active, li, False)
    return has_pkg


def _place_findings(
    kp: gpd.GeoDataFrame,
    codes: ObjArray,
    cats: ObjArray,
    unit: IntArray,
    h: _Hier,
    masks: tuple[BoolArray, ...],
    dept: dict[str, Any],
) -> list[Finding]:
    """One finding per place and failed check (``masks`` in the order of ``_PLACE_KINDS``)."""
    findings: list[Finding] = []
    geoms_kp = np.asarray(kp.geometry.values, dtype=object)
    names = _str_values(kp["name"]) if "name" in kp else codes
    for kind, mask in zip(_PLACE_KINDS, masks, strict=True):
        for i in np.flatnonzero(mask):
            detail: dict[str, Any] = {"name": str(names[i]), "category": str(cats[i])}
            if kind == "place_without_department":
                detail["known_category"] = str(cats[i]) in dept
            findings.append(
                _finding(
                    kind,
                    unit_code=str(h.codes[unit[i]]) if unit[i] >= 0 else None,
                    count=1,
                    geometry=geoms_kp[i],
                    place_code=str(codes[i]),
                    detail=detail,
                )
            )
    return findings


def _key_place_checks(
    key_places: gpd.GeoDataFrame | None,
    categories: pd.DataFrame | None,
    P: pd.DataFrame,
    pcs: gpd.GeoDataFrame,
    geoms: LazyGeoms,
    punit: IntArray,
    h: _Hier,
    lowest_in: BoolArray,
    root_scope: bool,
    L: pd.DataFrame,
    lid_index: pd.Index,
    active: BoolArray,
    blind: BoolArray,
    unit_geoms: ObjArray,
) -> tuple[IntArray | None, IntArray | None, pd.DataFrame | None, list[Finding]]:
    """Locate key places in pieces and check leader, department, package leader, jurisdiction."""
    if key_places is None or len(key_places) == 0:
        return None, None, None, []
    kp = key_places.reset_index(drop=True)
    pts = shapely.point_on_surface(np.asarray(kp.geometry.values, dtype=object))
    piece = _place_pieces(kp, pts, pcs, geoms)
    unit = _place_units(kp, pts, piece, punit, h, unit_geoms)
    inside = unit >= 0
    sel = _at(lowest_in, unit, False) | (~inside & root_scope)
    kp, piece, unit = kp[sel].reset_index(drop=True), piece[sel], unit[sel]
    m = len(kp)
    codes = (
        kp["code"].astype(str).to_numpy(dtype=object)
        if "code" in kp
        else np.arange(m).astype(str).astype(object)
    )
    cats = (
        kp["category"].astype(str).to_numpy(dtype=object)
        if "category" in kp
        else np.full(m, "", dtype=object)
    )
    dept, req = _category_rules(categories)
    has_pkg = _has_package_leader(kp, codes, P, lid_index, active)
    outside = unit < 0
    without_leader = ~outside & ((piece < 0) | _at(blind, piece, True))
    no_dept = ~outside & np.array([dept.get(str(c)) is None for c in cats], dtype=bool)
    need_pkg = ~outside & np.array([req.get(str(c), False) for c in cats], dtype=bool) & ~has_pkg
    masks = (outside, without_leader, no_dept, need_pkg)
    findings = _place_findings(kp, codes, cats, unit, h, masks, dept)
    out = pd.DataFrame({"code": codes, "_without_leader": without_leader})
    out["package_leader_id"] = (
        kp["package_leader_id"].to_numpy(dtype=object) if "package_leader_id" in kp else None
    )
    return piece, unit, out, findings


__all__: list[str] = []
