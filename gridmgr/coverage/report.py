"""Coverage gaps: every dead corner and blind spot (不留死角、不留盲点).

The campaign's rule is carpet-style coverage: no ground without a responsible leader, no key place
without its department and package leader, no leader overloaded while a neighbour idles. This
module turns the rule into a report over the frames of the data contracts
(``docs/architecture.md``): :func:`coverage_from_frames` is pure (frames in, a frozen
:class:`CoverageReport` out); :func:`coverage_from_store` reads the frames from a store.

Finding kinds (``KINDS``), grouped as in the issue:

1. dead corners 死角 — ``jurisdiction_gap``, ``unit_overlap``, ``unit_outside_parent``,
   ``unpieced_area``, ``orphan_pieces``;
2. blind spots 盲点 — ``unassigned``, ``inactive_leader``, ``fallback`` (属地兜底), ``misplaced``;
3. key places — ``place_without_leader``, ``place_without_department``,
   ``place_without_package_leader``, ``place_outside``;
4. packages — ``unit_without_package_leader``, ``leader_without_duty``;
5. territory shape — ``fragmented_territory``, ``enclave``, ``low_compactness``;
6. workload — ``overloaded_leader``, ``idle_leader``.

Each finding has a severity: ``gap`` (ground, a key place or a unit without its responsible
person — what ``gridmgr coverage --fail-on-gaps`` fails on) or ``warning`` (worth acting on but
nobody is missing: the territorial default, shape, workload, unused leaders). The exact rules are in
``docs/coverage.md``.

Hot paths are vectorised: piece statuses are array operations, territory perimeters come from the
piece adjacency (piece perimeters minus twice the shared boundary lengths; whole hexagons are
matched by their exactly shared edges, only border pieces use shapely), connected parts from
scipy's ``connected_components``; no territory is dissolved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmgr.assign.workload import parse_weights, piece_loads
from gridmgr.coverage.checks import (
    _FALLBACK,
    _INACTIVE,
    _OK,
    _UNASSIGNED,
    _group_findings,
    _hierarchy,
    _key_place_checks,
    _leaders_frame,
    _multipolygon,
    _null,
    _packages_frame,
    _PieceKeys,
    _rollup,
    _shape,
    _to_ancestors,
    _workload,
)
from gridmgr.coverage.kinds import (
    _SEVERITY_RANK,
    GAP,
    GROUPS,
    KINDS,
    NOISE_AREA_M2,
    WARNING,
    Finding,
    Thresholds,
    _finding,
    _jsonable,
    _r,
)
from gridmgr.errors import InvalidFieldError, UnitNotFoundError
from gridmgr.grid.piece_graph import NOISE_LENGTH_M, PieceGraph, _str_values, piece_graph


@dataclass(frozen=True)
class CoverageReport:
    """The coverage report: summary figures, per-unit and per-leader rows, findings.

    ``summary`` holds the flat figures documented in ``docs/coverage.md``; ``units`` one row per
    unit in scope (district → street → community (→ grid)); ``leaders`` one row per leader
    concerned; ``findings`` worst first (gaps before warnings, then by area and count).
    """

    scope: str | None
    weights: Mapping[str, float]
    thresholds: Thresholds
    summary: Mapping[str, Any]
    units: pd.DataFrame
    leaders: pd.DataFrame
    findings: tuple[Finding, ...]

    @property
    def gaps(self) -> tuple[Finding, ...]:
        """Findings of severity ``gap``."""
        return tuple(f for f in self.findings if f.severity == GAP)

    @property
    def has_gaps(self) -> bool:
        """True when any gap exists (what ``--fail-on-gaps`` checks)."""
        return any(f.severity == GAP for f in self.findings)

    def count(self, kind: str) -> int:
        """Summed ``count`` of the findings of ``kind``."""
        if kind not in KINDS:
            raise InvalidFieldError(
                f"coverage: unknown finding kind {kind!r}; known: {', '.join(KINDS)}"
            )
        return int(sum(f.count for f in self.findings if f.kind == kind))

    def area(self, kind: str) -> float:
        """Summed ``area_m2`` of the findings of ``kind``."""
        if kind not in KINDS:
            raise InvalidFieldError(
                f"coverage: unknown finding kind {kind!r}; known: {', '.join(KINDS)}"
            )
        return float(sum(f.area_m2 for f in self.findings if f.kind == kind))

    def to_dict(self) -> dict[str, Any]:
        """The documented machine-readable report (``gridmgr coverage --json``)."""
        out: dict[str, Any] = {
            "report": "gridmgr.coverage",
            "report_version": 1,
            "scope": self.scope,
        }
        out["weights"] = dict(self.weights)
        out["thresholds"] = {
            "overload": self.thresholds.overload,
            "idle": self.thresholds.idle,
            "min_compactness": self.thresholds.min_compactness,
        }
        out.update(_jsonable(dict(self.summary)))
        out["units"] = _records(self.units)
        out["leaders"] = _records(self.leaders)
        out["findings"] = [f.to_dict() for f in self.findings]
        return out

    def findings_frame(self) -> gpd.GeoDataFrame:
        """Findings that have a geometry as a GeoDataFrame (EPSG:4326), worst first."""
        rows = [f for f in self.findings if f.geometry is not None and not f.geometry.is_empty]
        data = [{k: v for k, v in f.to_dict().items() if k != "detail"} for f in rows]
        cols = [
            "kind",
            "group",
            "severity",
            "label_zh",
            "label_en",
            "unit_code",
            "leader_id",
            "place_code",
            "count",
            "area_m2",
        ]
        frame = pd.DataFrame(data, columns=cols)
        frame["detail"] = [json.dumps(_jsonable(dict(f.detail)), ensure_ascii=False) for f in rows]
        return gpd.GeoDataFrame(frame, geometry=[f.geometry for f in rows], crs="EPSG:4326")

    def to_geojson(self, path: str | Path) -> int:
        """Write every finding with a geometry as a GeoJSON feature (property ``kind``).

        Returns the number of features written. The file is written whole or not at all.
        """
        rows = [f for f in self.findings if f.geometry is not None and not f.geometry.is_empty]
        geo = (
            shapely.to_geojson(np.asarray([f.geometry for f in rows], dtype=object)) if rows else []
        )
        parts = [
            '{"type":"Feature","properties":'
            + json.dumps(f.to_dict(), ensure_ascii=False, allow_nan=False)
            + ',"geometry":'
            + g
            + "}"
            for f, g in zip(rows, geo, strict=True)
        ]
        text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(parts) + "\n]}\n"
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        return len(parts)


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    recs = frame.to_dict(orient="records")
    return [_jsonable(r) for r in recs]


def coverage_from_frames(
    units: gpd.GeoDataFrame,
    pieces: gpd.GeoDataFrame,
    leaders: pd.DataFrame | None,
    key_places: gpd.GeoDataFrame | None = None,
    categories: pd.DataFrame | None = None,
    packages: pd.DataFrame | None = None,
    *,
    scope: str | None = None,
    weights: Mapping[str, float] | str | None = None,
    thresholds: Thresholds | None = None,
) -> CoverageReport:
    """Every coverage gap of the data, as a :class:`CoverageReport`.

    Parameters
    ----------
    units, pieces, leaders, key_places, categories
        Frames of the data contracts (``docs/architecture.md``). ``pieces`` must carry
        ``leader_id`` and ``fallback`` (missing columns mean unassigned / not fallback).
    packages
        Optional explicit packages (``leader_id``, ``kind`` = ``unit``|``place``, ``target``);
        by default taken from the leaders' ``unit_packages`` / ``place_packages`` and the key
        places' ``package_leader_id``.
    scope
        A unit code: report only that unit and what lies below it.
    weights
        Workload weights (``gridmgr.assign.workload``), e.g. ``"area=1,key_places=5"``.
    thresholds
        Warning thresholds (:class:`Thresholds`).

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> from gridmgr.grid.pieces import pieces_from_units
    >>> u = gpd.GeoDataFrame({"code": ["C"], "name": ["c"], "level": ["community"], "parent": [None]},
    ...     geometry=[box(125.30, 43.80, 125.31, 43.81)], crs="EPSG:4326")
    >>> p = pieces_from_units(u, res=9)
    >>> rep = coverage_from_frames(u, p, None)
    >>> rep.summary["blind_spot_pieces"] == len(p)
    True
    """
    from gridmgr.grid.units import area_m2 as _area_m2
    from gridmgr.grid.units import check_hierarchy

    th = thresholds or Thresholds()
    w = parse_weights(weights)
    h = _hierarchy(units)
    n_units = len(h.codes)
    if scope is not None:
        scope = str(scope)
        if scope not in h.index:
            raise UnitNotFoundError(
                f"coverage --scope {scope!r}: no such unit; give a unit code from the units layer"
            )
        in_scope = np.zeros(n_units, dtype=bool)
        in_scope[h.subtree(int(h.index.get_loc(scope)))] = True
        root_scope = bool(h.parents[int(h.index.get_loc(scope))] < 0)
    else:
        in_scope = np.ones(n_units, dtype=bool)
        root_scope = True
    lowest_in = h.lowest & in_scope
    unit_geoms = np.asarray(units.geometry.values, dtype=object)
    unit_area = np.zeros(n_units, dtype=np.float64)
    unit_area[in_scope] = _area_m2(unit_geoms[in_scope])

    L = _leaders_frame(leaders)
    n_lead = len(L)
    lid_index = pd.Index(L["id"])
    active = L["active"].to_numpy(dtype=bool)
    is_pkg_role = L["role"].to_numpy(dtype=object) == "package_leader"
    capacity = L["capacity"].to_numpy(dtype=float)
    P = _packages_frame(L, packages)

    findings: list[Finding] = []

    # ---- pieces in scope -----------------------------------------------------------------
    punit_all = np.asarray(h.index.get_indexer(_str_values(pieces["unit_code"])), dtype=np.int64)
    orphan = punit_all < 0
    orphan_area = (
        float(pieces["area_m2"].to_numpy(dtype=float)[orphan].sum()) if orphan.any() else 0.0
    )
    if orphan.any() and root_scope:
        og = np.asarray(pieces.geometry.values, dtype=object)[orphan]
        codes_o = sorted(set(pieces["unit_code"].astype(str)[orphan]))
        findings.append(
            _finding(
                "orphan_pieces",
                unit_code=None,
                count=int(orphan.sum()),
                area_m2=orphan_area,
                geometry=_multipolygon(og),
                detail={"unit_codes": codes_o},
            )
        )
    keep = ~orphan
    keep[keep] = lowest_in[punit_all[keep]]
    pcs = pieces[keep]
    n = len(pcs)
    punit = punit_all[keep]
    geoms = np.asarray(pcs.geometry.values, dtype=object)
    parea = pcs["area_m2"].to_numpy(dtype=float)
    pkeys = _PieceKeys(pcs)
    raw_lid = (
        pcs["leader_id"]
        if "leader_id" in pcs
        else pd.Series([None] * n, index=pcs.index, dtype=object)
    )
    no_leader = _null(raw_lid)
    holder = np.asarray(lid_index.get_indexer(_str_values(raw_lid)), dtype=np.int64)
    holder[no_leader] = -1
    unknown_leader = ~no_leader & (holder < 0)
    flag_fb = (
        pcs["fallback"].fillna(False).to_numpy(dtype=bool)
        if "fallback" in pcs
        else np.zeros(n, dtype=bool)
    )
    active_holder = (
        (holder >= 0) & active[np.maximum(holder, 0)] if n_lead else np.zeros(n, dtype=bool)
    )

    # community package leaders (active, role package_leader, unit package = the community)
    upk = P[P["kind"] == "unit"]
    upk_l = np.asarray(lid_index.get_indexer(upk["leader_id"]), dtype=np.int64)
    upk_u = np.asarray(h.index.get_indexer(upk["target"]), dtype=np.int64)
    good = (upk_l >= 0) & (upk_u >= 0)
    upk_l, upk_u = upk_l[good], upk_u[good]
    pkg_ok = is_pkg_role[upk_l] & active[upk_l] if len(upk_l) else np.zeros(0, dtype=bool)
    unit_pkg_leaders: list[list[str]] = [[] for _ in range(n_units)]
    for li, ui in zip(upk_l[pkg_ok], upk_u[pkg_ok], strict=True):
        unit_pkg_leaders[int(ui)].append(str(L["id"].iat[int(li)]))
    has_pkg = np.array([bool(x) for x in unit_pkg_leaders], dtype=bool)
    pcomm = h.community[punit] if n else np.zeros(0, dtype=np.int64)
    comm_pkg = has_pkg[pcomm] if n else np.zeros(0, dtype=bool)

    status = np.full(n, _OK, dtype=np.int8)
    status[~active_holder & no_leader] = _UNASSIGNED
    status[~active_holder & ~no_leader] = _INACTIVE
    rescued = ~active_holder & comm_pkg
    status[rescued | (active_holder & flag_fb)] = _FALLBACK

    # 属地: the holder's unit packages must contain the piece's unit or an ancestor
    a_anc, a_low = h.anc_pairs
    allowed = np.zeros((max(n_lead, 1), n_units), dtype=bool)  # leader × lowest unit
    if len(upk_l):
        # unit package u → every lowest unit below it
        m = pd.DataFrame({"l": upk_l, "a": upk_u}).merge(
            pd.DataFrame({"a": a_anc, "low": a_low}), on="a"
        )
        allowed[m["l"].to_numpy(dtype=np.int64), m["low"].to_numpy(dtype=np.int64)] = True
    misplaced = (
        active_holder & ~allowed[np.maximum(holder, 0), punit] if n else np.zeros(0, dtype=bool)
    )

    fb_leader = np.full(n, -1, dtype=np.int64)
    fb_leader[active_holder] = holder[active_holder]
    if rescued.any():
        first_pkg = np.full(n_units, -1, dtype=np.int64)
        for ui in range(n_units):
            if unit_pkg_leaders[ui]:
                first_pkg[ui] = int(lid_index.get_loc(min(unit_pkg_leaders[ui])))
        fb_leader[rescued] = first_pkg[pcomm[rescued]]
    findings += _group_findings(
        "unassigned", status == _UNASSIGNED, punit, np.full(n, -1), h, L, geoms, parea, pkeys
    )
    findings += _group_findings(
        "inactive_leader", status == _INACTIVE, punit, holder, h, L, geoms, parea, pkeys, extra=None
    )
    if unknown_leader.any():
        unknown_ids = sorted(set(raw_lid.astype(str).to_numpy()[unknown_leader]))
        for f in findings:
            if f.kind == "inactive_leader" and f.leader_id is None:
                f.detail["unknown_leader_ids"] = unknown_ids  # type: ignore[index]
    findings += _group_findings(
        "fallback", status == _FALLBACK, punit, fb_leader, h, L, geoms, parea, pkeys
    )
    findings += _group_findings("misplaced", misplaced, punit, holder, h, L, geoms, parea, pkeys)

    blind = (status == _UNASSIGNED) | (status == _INACTIVE)
    covered = ~blind & ~misplaced

    # ---- dead corners ---------------------------------------------------------------------
    hrep = check_hierarchy(units[in_scope])
    dead_unit = np.zeros(n_units, dtype=np.float64)
    overlap_unit = np.zeros(n_units, dtype=np.float64)
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
            findings.append(
                _finding(
                    kind,
                    unit_code=code,
                    count=1,
                    area_m2=float(rec["area_m2"]),
                    geometry=g,
                    detail=detail,
                )
            )
            ui = int(h.index.get_loc(str(rec["parent"])))
            if kind == "jurisdiction_gap":
                dead_unit[ui] += float(rec["area_m2"])
            elif kind == "unit_overlap":
                overlap_unit[ui] += float(rec["area_m2"])
    piece_sum = (
        np.bincount(punit, weights=parea, minlength=n_units).astype(np.float64)
        if n
        else np.zeros(n_units)
    )
    np.bincount(punit, minlength=n_units) if n else np.zeros(n_units, dtype=np.int64)
    tol = np.maximum(1e-6 * unit_area, 0.01)
    stale = np.flatnonzero(lowest_in & (np.abs(unit_area - piece_sum) > tol))
    unpieced_total = 0.0
    if len(stale):
        order = np.argsort(punit, kind="stable")
        bounds = np.searchsorted(punit[order], np.arange(n_units + 1))
        for ui in stale:
            sel = order[bounds[ui] : bounds[ui + 1]]
            union = shapely.union_all(geoms[sel]) if len(sel) else shapely.Polygon()
            diff = shapely.difference(unit_geoms[ui], union)
            diff_parts = shapely.get_parts(diff)
            diff_parts = diff_parts[shapely.get_type_id(diff_parts) == 3]
            a = float(_area_m2(diff_parts).sum()) if len(diff_parts) else 0.0
            if a >= NOISE_AREA_M2:
                findings.append(
                    _finding(
                        "unpieced_area",
                        unit_code=str(h.codes[ui]),
                        count=1,
                        area_m2=a,
                        geometry=_multipolygon(diff_parts),
                        detail={
                            "unit_area_m2": _r(unit_area[ui]),
                            "piece_area_m2": _r(piece_sum[ui]),
                        },
                    )
                )
                dead_unit[ui] += a
                unpieced_total += a

    # ---- key places ------------------------------------------------------------------------
    kp_rows = _key_place_checks(
        key_places,
        categories,
        P,
        pcs,
        geoms,
        punit,
        h,
        lowest_in,
        root_scope,
        L,
        lid_index,
        active,
        blind,
        unit_geoms,
    )
    kp_piece, kp_unit, kp_frame, kp_findings = kp_rows
    findings += kp_findings

    # ---- packages ----------------------------------------------------------------------------
    need_pkg = in_scope & np.isin(h.levels, ["street", "community"])
    for ui in np.flatnonzero(need_pkg & ~has_pkg):
        findings.append(
            _finding(
                "unit_without_package_leader",
                unit_code=str(h.codes[ui]),
                count=1,
                area_m2=float(unit_area[ui]),
                geometry=unit_geoms[ui],
                detail={"level": str(h.levels[ui])},
            )
        )
    held = (
        np.bincount(holder[holder >= 0], minlength=n_lead)
        if n_lead
        else np.zeros(0, dtype=np.int64)
    )
    kp_pkg = (
        set(kp_frame["package_leader_id"].dropna().astype(str))
        if kp_frame is not None and "package_leader_id" in kp_frame
        else set()
    )
    leader_rel = np.zeros(n_lead, dtype=bool)  # leaders concerned by this scope
    if n_lead:
        leader_rel[held > 0] = True
        if len(upk_l):
            leader_rel[upk_l[in_scope[upk_u]]] = True
        if root_scope:
            leader_rel[:] = True
    if root_scope:
        for li in range(n_lead):
            if not active[li] or held[li] > 0:
                continue
            unit_duty = bool(L["unit_packages"].iat[li]) and is_pkg_role[li]
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

    # ---- shape ---------------------------------------------------------------------------------
    graph = piece_graph(pcs)
    territory = np.where(active_holder & ~flag_fb, holder, -1)
    shape_rows, shape_findings = _shape(graph, territory, parea, geoms, L, th, punit, h, pkeys)
    findings += shape_findings

    # ---- workload --------------------------------------------------------------------------------
    kp_pos = kp_piece[kp_piece >= 0] if kp_piece is not None else np.empty(0, dtype=np.int64)
    loads = (
        piece_loads(
            pd.DataFrame({"area_m2": parea, "id": np.arange(n)}),
            pd.DataFrame({"piece_id": kp_pos}),
            w,
        )
        if n
        else np.zeros(0)
    )
    wl_rows, wl_unit, wl_findings = _workload(
        loads,
        holder,
        flag_fb,
        active,
        is_pkg_role,
        capacity,
        L,
        h,
        punit,
        in_scope,
        th,
        upk_l,
        upk_u,
        leader_rel,
        parea,
    )
    findings += wl_findings

    # ---- per-unit rows --------------------------------------------------------------------------
    def per_lowest(
        mask: NDArray[np.bool_], weights_: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        if not n:
            return np.zeros(n_units)
        return np.bincount(
            punit[mask], weights=None if weights_ is None else weights_[mask], minlength=n_units
        ).astype(float)

    cov_area = _rollup(h, per_lowest(covered, parea))
    rows = pd.DataFrame(
        {
            "code": h.codes,
            "name": h.names,
            "level": h.levels,
            "parent": [str(h.codes[p]) if p >= 0 else None for p in h.parents],
            "area_m2": unit_area,
            "pieces": _rollup(h, per_lowest(np.ones(n, dtype=bool))).astype(np.int64),
            "piece_area_m2": _rollup(h, piece_sum),
            "covered_area_m2": cov_area,
            "coverage_pct": np.where(
                unit_area > 0, 100.0 * cov_area / np.where(unit_area > 0, unit_area, 1.0), 0.0
            ),
            "blind_spot_pieces": _rollup(h, per_lowest(blind)).astype(np.int64),
            "blind_spot_area_m2": _rollup(h, per_lowest(blind, parea)),
            "fallback_pieces": _rollup(h, per_lowest(status == _FALLBACK)).astype(np.int64),
            "fallback_area_m2": _rollup(h, per_lowest(status == _FALLBACK, parea)),
            "misplaced_pieces": _rollup(h, per_lowest(misplaced)).astype(np.int64),
            "dead_corner_area_m2": _to_ancestors(h, dead_unit),
            "overlap_area_m2": _to_ancestors(h, overlap_unit),
        }
    )
    kp_in = np.zeros(n_units)
    kp_nol = np.zeros(n_units)
    if kp_unit is not None and kp_frame is not None and len(kp_unit):
        ok_u = kp_unit >= 0
        kp_in = _rollup(h, np.bincount(kp_unit[ok_u], minlength=n_units).astype(float))
        nol = ok_u & kp_frame["_without_leader"].to_numpy(dtype=bool)
        kp_nol = _rollup(h, np.bincount(kp_unit[nol], minlength=n_units).astype(float))
    rows["key_places"] = kp_in.astype(np.int64)
    rows["key_places_without_leader"] = kp_nol.astype(np.int64)
    rows["package_leaders"] = [sorted(x) for x in unit_pkg_leaders]
    for c in ("leaders", "max_load_per_capacity", "mean_load_per_capacity", "max_load_ratio"):
        rows[c] = wl_unit[c]
    rows = rows[in_scope].reset_index(drop=True)
    for c in (
        "area_m2",
        "piece_area_m2",
        "covered_area_m2",
        "blind_spot_area_m2",
        "fallback_area_m2",
        "dead_corner_area_m2",
        "overlap_area_m2",
    ):
        rows[c] = rows[c].map(_r)
    rows["coverage_pct"] = rows["coverage_pct"].map(lambda v: _r(v, 4))

    leaders_rows = wl_rows.merge(shape_rows, on="id", how="left")
    leaders_rows = leaders_rows[leader_rel].reset_index(drop=True) if n_lead else leaders_rows

    # ---- summary ------------------------------------------------------------------------------------
    roots = np.flatnonzero(in_scope & ((h.parents < 0) | ~in_scope[np.maximum(h.parents, 0)]))
    juris_area = float(unit_area[roots].sum())
    lvl_mask = in_scope & np.isin(h.levels, ["street", "community"])
    if not lvl_mask.any():
        lvl_mask = in_scope
    findings.sort(
        key=lambda f: (
            _SEVERITY_RANK[f.severity],
            -f.area_m2,
            -f.count,
            f.kind,
            f.unit_code or "",
            f.leader_id or "",
            f.place_code or "",
        )
    )

    def cnt(kind: str) -> int:
        return int(sum(f.count for f in findings if f.kind == kind))

    def area(kind: str) -> float:
        return float(sum(f.area_m2 for f in findings if f.kind == kind))

    summary: dict[str, Any] = {
        "jurisdiction_area_m2": _r(juris_area),
        "pieces": int(n),
        "piece_area_m2": _r(parea.sum() if n else 0.0),
        "covered_area_m2": _r(parea[covered].sum() if n else 0.0),
        "coverage_pct": _r(
            100.0 * parea[covered].sum() / juris_area if juris_area > 0 and n else 0.0, 4
        ),
        "dead_corner_area_m2": _r(area("jurisdiction_gap") + unpieced_total),
        "jurisdiction_gap_area_m2": _r(area("jurisdiction_gap")),
        "unpieced_area_m2": _r(unpieced_total),
        "overlap_area_m2": _r(area("unit_overlap")),
        "outside_parent_area_m2": _r(area("unit_outside_parent")),
        "orphan_pieces": cnt("orphan_pieces"),
        "blind_spot_pieces": int(blind.sum()),
        "blind_spot_area_m2": _r(parea[blind].sum() if n else 0.0),
        "unassigned_pieces": int((status == _UNASSIGNED).sum()),
        "inactive_leader_pieces": int((status == _INACTIVE).sum()),
        "fallback_pieces": int((status == _FALLBACK).sum()),
        "fallback_area_m2": _r(parea[status == _FALLBACK].sum() if n else 0.0),
        "misplaced_pieces": int(misplaced.sum()),
        "misplaced_area_m2": _r(parea[misplaced].sum() if n else 0.0),
        "key_places": int(0 if kp_frame is None else len(kp_frame)),
        "key_places_without_leader": cnt("place_without_leader"),
        "key_places_without_department": cnt("place_without_department"),
        "key_places_without_package_leader": cnt("place_without_package_leader"),
        "key_places_outside": cnt("place_outside"),
        "streets_without_package_leader": int(
            sum(
                1
                for f in findings
                if f.kind == "unit_without_package_leader" and f.detail.get("level") == "street"
            )
        ),
        "communities_without_package_leader": int(
            sum(
                1
                for f in findings
                if f.kind == "unit_without_package_leader" and f.detail.get("level") == "community"
            )
        ),
        "leaders_without_duty": cnt("leader_without_duty"),
        "fragmented_leaders": int(sum(1 for f in findings if f.kind == "fragmented_territory")),
        "enclaves": int(sum(1 for f in findings if f.kind == "enclave")),
        "low_compactness_leaders": int(sum(1 for f in findings if f.kind == "low_compactness")),
        "min_compactness": _r(
            float(np.nanmin(leaders_rows["compactness"]))
            if len(leaders_rows) and leaders_rows["compactness"].notna().any()
            else float("nan"),
            6,
        ),
        "max_load_ratio": _r(
            float(np.nanmax(wl_unit["max_load_ratio"][lvl_mask]))
            if np.isfinite(wl_unit["max_load_ratio"][lvl_mask]).any()
            else float("nan"),
            6,
        ),
        "max_load_per_capacity": _r(
            float(leaders_rows["load_per_capacity"].max())
            if len(leaders_rows) and leaders_rows["load_per_capacity"].notna().any()
            else float("nan"),
            6,
        ),
        "overloaded_leaders": cnt("overloaded_leader"),
        "idle_leaders": cnt("idle_leader"),
        "active_leaders": int(active[leader_rel].sum()) if n_lead else 0,
        "gaps": int(sum(1 for f in findings if f.severity == GAP)),
        "warnings": int(sum(1 for f in findings if f.severity == WARNING)),
    }
    summary["has_gaps"] = summary["gaps"] > 0
    return CoverageReport(
        scope=scope,
        weights=w,
        thresholds=th,
        summary=summary,
        units=rows,
        leaders=leaders_rows,
        findings=tuple(findings),
    )


def coverage_from_store(
    store: Any,
    *,
    scope: str | None = None,
    weights: Mapping[str, float] | str | None = None,
    thresholds: Thresholds | None = None,
) -> CoverageReport:
    """The coverage report of the data in ``store`` (a :class:`gridmgr.store.Store`).

    Reads units, pieces (of ``scope``), key places, categories and leaders, then calls
    :func:`coverage_from_frames`. Identical on SQLite and PostGIS for the same data.
    """
    units = store.units()
    if scope is not None and str(scope) not in set(units["code"].astype(str)):
        raise UnitNotFoundError(
            f"coverage --scope {scope!r}: no such unit in the store; see `gridmgr units`"
        )
    pieces = store.pieces(scope)
    key_places = store.key_places()
    categories = store.categories()
    leaders = store.leaders()
    return coverage_from_frames(
        units,
        pieces,
        leaders,
        key_places,
        categories,
        scope=scope,
        weights=weights,
        thresholds=thresholds,
    )


__all__: Sequence[str] = [
    "GAP",
    "GROUPS",
    "KINDS",
    "NOISE_LENGTH_M",
    "WARNING",
    "CoverageReport",
    "Finding",
    "PieceGraph",
    "Thresholds",
    "coverage_from_frames",
    "coverage_from_store",
    "piece_graph",
]
