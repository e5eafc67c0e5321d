"""The finding phases of a coverage report over the prepared arrays (:mod:`gridmgr.coverage.prepare`).

Orphan pieces, blind spots (unassigned, inactive leader, fallback, misplaced), dead corners
(jurisdiction gaps, overlaps, units outside their parent, ground without pieces), units without a
package leader and leaders without duty. Nothing here is public; the rules are in
``docs/coverage.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmgr.coverage.checks import (
    _FALLBACK,
    _INACTIVE,
    _UNASSIGNED,
    _group_findings,
)
from gridmgr.coverage.kinds import NOISE_AREA_M2, Finding, PieceShapes, _finding, _multipolygon, _r
from gridmgr.coverage.prepare import _Leaders, _Pieces, _Scope, _Status, _UnitPackages
from gridmgr.grid.distributed import Mapper, serial_map
from gridmgr.grid.lazy import LazyGeoms

ObjArray = NDArray[np.object_]

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class _DeadCorners:
    """Dead-corner findings and their areas per unit (gaps and unpieced ground; overlaps)."""

    findings: list[Finding]
    dead_unit: FloatArray
    overlap_unit: FloatArray
    piece_sum: FloatArray
    unpieced_total: float


def _orphan_findings(
    pieces: gpd.GeoDataFrame, orphan: BoolArray, root_scope: bool
) -> list[Finding]:
    """Pieces whose unit is not in the units frame (reported for the whole jurisdiction only)."""
    orphan_area = (
        float(pieces["area_m2"].to_numpy(dtype=float)[orphan].sum()) if orphan.any() else 0.0
    )
    if not (orphan.any() and root_scope):
        return []
    sel = np.flatnonzero(orphan)
    whole = pieces["whole"].to_numpy(dtype=bool)[sel] if "whole" in pieces else np.zeros(len(sel))
    cells = pieces["cell"].iloc[sel] if "cell" in pieces else None
    og = LazyGeoms(cells, pieces.geometry.values[sel], whole)
    codes_o = sorted(set(pieces["unit_code"].astype(str)[orphan]))
    return [
        _finding(
            "orphan_pieces",
            unit_code=None,
            count=int(orphan.sum()),
            area_m2=orphan_area,
            geometry=PieceShapes(og, np.arange(len(sel))),
            detail={"unit_codes": codes_o},
        )
    ]


def _blind_spot_findings(sc: _Scope, ld: _Leaders, pc: _Pieces, st: _Status) -> list[Finding]:
    """Unassigned, inactive-leader, fallback and misplaced pieces, per unit and leader."""
    n, h, L = pc.n, sc.h, ld.L
    punit, geoms, parea, pkeys = pc.punit, pc.geoms, pc.parea, pc.pkeys
    status = st.status
    findings = _group_findings(
        "unassigned", status == _UNASSIGNED, punit, np.full(n, -1), h, L, geoms, parea, pkeys
    )
    inactive = _group_findings(
        "inactive_leader", status == _INACTIVE, punit, pc.holder, h, L, geoms, parea, pkeys
    )
    if pc.unknown_leader.any():
        unknown_ids = sorted(set(pc.raw_lid.astype(str).to_numpy()[pc.unknown_leader]))
        for f in inactive:
            if f.leader_id is None:
                f.detail["unknown_leader_ids"] = unknown_ids  # type: ignore[index]
    findings += inactive
    findings += _group_findings(
        "fallback", status == _FALLBACK, punit, st.fb_leader, h, L, geoms, parea, pkeys
    )
    findings += _group_findings(
        "misplaced", st.misplaced, punit, pc.holder, h, L, geoms, parea, pkeys
    )
    return findings


def _hierarchy_findings(
    units: gpd.GeoDataFrame, sc: _Scope
) -> tuple[list[Finding], FloatArray, FloatArray]:
    """Jurisdiction gaps, unit overlaps and units outside their parent, with areas per unit."""
    from gridmgr.grid.units import check_hierarchy

    hrep = check_hierarchy(units[sc.in_scope])
    dead_unit = np.zeros(sc.n_units, dtype=np.float64)
    overlap_unit = np.zeros(sc.n_units, dtype=np.float64)
    findings: list[Finding] = []
    for frame, kind in (
        (hrep.gaps, "jurisdiction_gap"),
        (hrep.overlaps, "unit_overlap"),
        (hrep.outside, "unit_outside_parent"),
    ):
        for rec, g in zip(
            frame.drop(columns="geometry").to_dict(orient="records"),
            frame.geometry.values,
            strict=True,
        ):
            findings.append(_hierarchy_finding(kind, rec, g))
            ui = int(sc.h.index.get_loc(str(rec["parent"])))
            if kind == "jurisdiction_gap":
                dead_unit[ui] += float(rec["area_m2"])
            elif kind == "unit_overlap":
                overlap_unit[ui] += float(rec["area_m2"])
    return findings, dead_unit, overlap_unit


def _hierarchy_finding(kind: str, rec: dict[str, Any], g: shapely.Geometry) -> Finding:
    """One finding of a row of :func:`gridmgr.grid.units.check_hierarchy`."""
    code = (
        str(rec.get("code") or rec["parent"])
        if kind == "unit_outside_parent"
        else str(rec["parent"])
    )
    detail: dict[str, Any] = (
        {"codes": str(rec["codes"]).split(",")} if kind == "unit_overlap" else {}
    )
    if kind == "unit_outside_parent":
        detail = {"parent": str(rec["parent"])}
    return _finding(
        kind,
        unit_code=code,
        count=1,
        area_m2=float(rec["area_m2"]),
        geometry=g,
        detail=detail,
    )


def unpieced_parts(unit_geom: shapely.Geometry, piece_geoms: ObjArray) -> tuple[float, ObjArray]:
    """Ground of one unit that none of its pieces covers: (equal-area m², polygons).

    A per-unit check: pure, so ``gridmgr coverage --workers`` runs it as one dask task per unit.
    """
    from gridmgr.grid.units import area_m2 as _area_m2

    union = shapely.union_all(piece_geoms) if len(piece_geoms) else shapely.Polygon()
    parts = shapely.get_parts(shapely.difference(unit_geom, union))
    parts = parts[shapely.get_type_id(parts) == 3]
    return (float(_area_m2(parts).sum()) if len(parts) else 0.0), parts


def _dead_corners(
    units: gpd.GeoDataFrame, sc: _Scope, pc: _Pieces, mapper: Mapper = serial_map
) -> _DeadCorners:
    """Dead corners: hierarchy findings, then ground of lowest units that no piece covers.

    Only units whose pieces' areas do not add up to the unit's area are overlaid (per unit,
    through ``mapper``)."""
    findings, dead_unit, overlap_unit = _hierarchy_findings(units, sc)
    n, n_units, punit = pc.n, sc.n_units, pc.punit
    piece_sum = (
        np.bincount(punit, weights=pc.parea, minlength=n_units).astype(np.float64)
        if n
        else np.zeros(n_units)
    )
    tol = np.maximum(1e-6 * sc.unit_area, 0.01)
    stale = np.flatnonzero(sc.lowest_in & (np.abs(sc.unit_area - piece_sum) > tol))
    order = np.argsort(punit, kind="stable")
    bounds = np.searchsorted(punit[order], np.arange(n_units + 1))
    tasks = ((sc.unit_geoms[ui], pc.geoms[order[bounds[ui] : bounds[ui + 1]]]) for ui in stale)
    unpieced_total = 0.0
    for ui, (a, parts) in zip(stale, mapper(unpieced_parts, tasks), strict=True):
        if a < NOISE_AREA_M2:
            continue
        detail = {"unit_area_m2": _r(sc.unit_area[ui]), "piece_area_m2": _r(piece_sum[ui])}
        findings.append(
            _finding(
                "unpieced_area",
                unit_code=str(sc.h.codes[ui]),
                count=1,
                area_m2=a,
                geometry=_multipolygon(parts),
                detail=detail,
            )
        )
        dead_unit[ui] += a
        unpieced_total += a
    return _DeadCorners(findings, dead_unit, overlap_unit, piece_sum, unpieced_total)


def _package_findings(sc: _Scope, pk: _UnitPackages) -> list[Finding]:
    """Streets and communities in scope without an active package leader."""
    need_pkg = sc.in_scope & np.isin(sc.h.levels, ["street", "community"])
    return [
        _finding(
            "unit_without_package_leader",
            unit_code=str(sc.h.codes[ui]),
            count=1,
            area_m2=float(sc.unit_area[ui]),
            geometry=sc.unit_geoms[ui],
            detail={"level": str(sc.h.levels[ui])},
        )
        for ui in np.flatnonzero(need_pkg & ~pk.has_pkg)
    ]


def _held_pieces(ld: _Leaders, pc: _Pieces) -> IntArray:
    """Pieces in scope held by each leader."""
    if not ld.n_lead:
        return np.zeros(0, dtype=np.int64)
    return np.bincount(pc.holder[pc.holder >= 0], minlength=ld.n_lead)


def _concerned_leaders(sc: _Scope, ld: _Leaders, pk: _UnitPackages, held: IntArray) -> BoolArray:
    """Leaders concerned by this scope: holders, unit packages in scope (all at the root)."""
    leader_rel = np.zeros(ld.n_lead, dtype=bool)
    if ld.n_lead:
        leader_rel[held > 0] = True
        if len(pk.upk_l):
            leader_rel[pk.upk_l[sc.in_scope[pk.upk_u]]] = True
        if sc.root_scope:
            leader_rel[:] = True
    return leader_rel


def _duty_findings(
    sc: _Scope, ld: _Leaders, held: IntArray, kp_frame: pd.DataFrame | None
) -> list[Finding]:
    """Active leaders holding no piece, no unit package (as package leader) and no place."""
    if not sc.root_scope:
        return []
    kp_pkg = (
        set(kp_frame["package_leader_id"].dropna().astype(str))
        if kp_frame is not None and "package_leader_id" in kp_frame
        else set()
    )
    L = ld.L
    findings: list[Finding] = []
    for li in range(ld.n_lead):
        if not ld.active[li] or held[li] > 0:
            continue
        unit_duty = bool(L["unit_packages"].iat[li]) and ld.is_pkg_role[li]
        place_duty = bool(L["place_packages"].iat[li]) or str(L["id"].iat[li]) in kp_pkg
        if not unit_duty and not place_duty:
            findings.append(
                _finding(
                    "leader_without_duty",
                    unit_code=None,
                    count=1,
                    leader_id=str(L["id"].iat[li]),
                    detail={"role": str(L["role"].iat[li]), "name": str(L["name"].iat[li])},
                )
            )
    return findings


__all__: list[str] = []
