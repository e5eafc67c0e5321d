"""The tables of a coverage report: per-unit rows, the summary figures and the findings order.

Phases of :func:`gridmgr.coverage.report.coverage_from_frames` run after every finding is known.
Nothing here is public; the columns and figures are documented in ``docs/coverage.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridmgr.coverage.checks import _FALLBACK, _INACTIVE, _UNASSIGNED, _rollup, _to_ancestors
from gridmgr.coverage.gaps import _DeadCorners
from gridmgr.coverage.kinds import _SEVERITY_RANK, GAP, WARNING, Finding, _r
from gridmgr.coverage.prepare import _Leaders, _Pieces, _Scope, _Status, _UnitPackages

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

_ROUNDED_AREAS = (
    "area_m2",
    "piece_area_m2",
    "covered_area_m2",
    "blind_spot_area_m2",
    "fallback_area_m2",
    "dead_corner_area_m2",
    "overlap_area_m2",
)


@dataclass(frozen=True)
class _KeyPlaceRows:
    """What the key-place checks return for the tables: unit of each place and the places."""

    kp_unit: IntArray | None
    kp_frame: pd.DataFrame | None


def _per_lowest(sc: _Scope, pc: _Pieces) -> Callable[..., FloatArray]:
    """Sum over the pieces of each lowest unit (counts, or ``weights``) of a piece mask."""

    def per_lowest(mask: BoolArray, weights_: FloatArray | None = None) -> FloatArray:
        if not pc.n:
            return np.zeros(sc.n_units)
        return np.bincount(
            pc.punit[mask],
            weights=None if weights_ is None else weights_[mask],
            minlength=sc.n_units,
        ).astype(float)

    return per_lowest


def _piece_columns(
    sc: _Scope, pc: _Pieces, st: _Status, dc: _DeadCorners
) -> dict[str, FloatArray | IntArray]:
    """Per-unit piece figures rolled up the hierarchy (pieces, coverage, blind spots …)."""
    h, parea, unit_area = sc.h, pc.parea, sc.unit_area
    per_lowest = _per_lowest(sc, pc)
    fallback = st.status == _FALLBACK
    cov_area = _rollup(h, per_lowest(st.covered, parea))
    return {
        "area_m2": unit_area,
        "pieces": _rollup(h, per_lowest(np.ones(pc.n, dtype=bool))).astype(np.int64),
        "piece_area_m2": _rollup(h, dc.piece_sum),
        "covered_area_m2": cov_area,
        "coverage_pct": np.where(
            unit_area > 0, 100.0 * cov_area / np.where(unit_area > 0, unit_area, 1.0), 0.0
        ),
        "blind_spot_pieces": _rollup(h, per_lowest(st.blind)).astype(np.int64),
        "blind_spot_area_m2": _rollup(h, per_lowest(st.blind, parea)),
        "fallback_pieces": _rollup(h, per_lowest(fallback)).astype(np.int64),
        "fallback_area_m2": _rollup(h, per_lowest(fallback, parea)),
        "misplaced_pieces": _rollup(h, per_lowest(st.misplaced)).astype(np.int64),
        "dead_corner_area_m2": _to_ancestors(h, dc.dead_unit),
        "overlap_area_m2": _to_ancestors(h, dc.overlap_unit),
    }


def _key_place_counts(sc: _Scope, kp: _KeyPlaceRows) -> tuple[FloatArray, FloatArray]:
    """Key places per unit, and those without a leader, rolled up the hierarchy."""
    h, n_units = sc.h, sc.n_units
    kp_in = np.zeros(n_units)
    kp_nol = np.zeros(n_units)
    kp_unit, kp_frame = kp.kp_unit, kp.kp_frame
    if kp_unit is not None and kp_frame is not None and len(kp_unit):
        ok_u = kp_unit >= 0
        kp_in = _rollup(h, np.bincount(kp_unit[ok_u], minlength=n_units).astype(float))
        nol = ok_u & kp_frame["_without_leader"].to_numpy(dtype=bool)
        kp_nol = _rollup(h, np.bincount(kp_unit[nol], minlength=n_units).astype(float))
    return kp_in, kp_nol


def _unit_rows(
    sc: _Scope,
    pc: _Pieces,
    st: _Status,
    dc: _DeadCorners,
    pk: _UnitPackages,
    kp: _KeyPlaceRows,
    wl_unit: dict[str, NDArray[Any]],
) -> pd.DataFrame:
    """One row per unit in scope (figures rounded for the report)."""
    h = sc.h
    rows = pd.DataFrame(
        {
            "code": h.codes,
            "name": h.names,
            "level": h.levels,
            "parent": [str(h.codes[p]) if p >= 0 else None for p in h.parents],
            **_piece_columns(sc, pc, st, dc),
        }
    )
    kp_in, kp_nol = _key_place_counts(sc, kp)
    rows["key_places"] = kp_in.astype(np.int64)
    rows["key_places_without_leader"] = kp_nol.astype(np.int64)
    rows["package_leaders"] = [sorted(x) for x in pk.unit_pkg_leaders]
    for c in ("leaders", "max_load_per_capacity", "mean_load_per_capacity", "max_load_ratio"):
        rows[c] = wl_unit[c]
    rows = rows[sc.in_scope].reset_index(drop=True)
    for c in _ROUNDED_AREAS:
        rows[c] = rows[c].map(_r)
    rows["coverage_pct"] = rows["coverage_pct"].map(lambda v: _r(v, 4))
    return rows


def _sort_findings(findings: list[Finding]) -> None:
    """Worst first: gaps before warnings, then by area, count, kind, unit, leader, place."""
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


def _nan_or(value: Callable[[], float], ok: bool) -> float:
    """``value()`` when ``ok``, else NaN, rounded to 1e-6."""
    return _r(value() if ok else float("nan"), 6)


def _finding_figures(findings: list[Finding], unpieced_total: float) -> dict[str, Any]:
    """Summary figures counted off the findings."""

    def cnt(kind: str) -> int:
        return int(sum(f.count for f in findings if f.kind == kind))

    def area(kind: str) -> float:
        return float(sum(f.area_m2 for f in findings if f.kind == kind))

    def n_of(kind: str, level: str | None = None) -> int:
        return int(
            sum(
                1
                for f in findings
                if f.kind == kind and (level is None or f.detail.get("level") == level)
            )
        )

    return {
        "dead_corner_area_m2": _r(area("jurisdiction_gap") + unpieced_total),
        "jurisdiction_gap_area_m2": _r(area("jurisdiction_gap")),
        "unpieced_area_m2": _r(unpieced_total),
        "overlap_area_m2": _r(area("unit_overlap")),
        "outside_parent_area_m2": _r(area("unit_outside_parent")),
        "orphan_pieces": cnt("orphan_pieces"),
        "key_places_without_leader": cnt("place_without_leader"),
        "key_places_without_department": cnt("place_without_department"),
        "key_places_without_package_leader": cnt("place_without_package_leader"),
        "key_places_outside": cnt("place_outside"),
        "streets_without_package_leader": n_of("unit_without_package_leader", "street"),
        "communities_without_package_leader": n_of("unit_without_package_leader", "community"),
        "leaders_without_duty": cnt("leader_without_duty"),
        "fragmented_leaders": n_of("fragmented_territory"),
        "enclaves": n_of("enclave"),
        "low_compactness_leaders": n_of("low_compactness"),
        "overloaded_leaders": cnt("overloaded_leader"),
        "idle_leaders": cnt("idle_leader"),
        "gaps": int(sum(1 for f in findings if f.severity == GAP)),
        "warnings": int(sum(1 for f in findings if f.severity == WARNING)),
    }


def _piece_figures(sc: _Scope, pc: _Pieces, st: _Status) -> dict[str, Any]:
    """Summary figures of the pieces in scope: coverage, blind spots, fallback, misplaced."""
    n, parea, status = pc.n, pc.parea, st.status
    roots = np.flatnonzero(
        sc.in_scope & ((sc.h.parents < 0) | ~sc.in_scope[np.maximum(sc.h.parents, 0)])
    )
    juris_area = float(sc.unit_area[roots].sum())
    covered, blind, misplaced = st.covered, st.blind, st.misplaced
    return {
        "jurisdiction_area_m2": _r(juris_area),
        "pieces": int(n),
        "piece_area_m2": _r(parea.sum() if n else 0.0),
        "covered_area_m2": _r(parea[covered].sum() if n else 0.0),
        "coverage_pct": _r(
            100.0 * parea[covered].sum() / juris_area if juris_area > 0 and n else 0.0, 4
        ),
        "blind_spot_pieces": int(blind.sum()),
        "blind_spot_area_m2": _r(parea[blind].sum() if n else 0.0),
        "unassigned_pieces": int((status == _UNASSIGNED).sum()),
        "inactive_leader_pieces": int((status == _INACTIVE).sum()),
        "fallback_pieces": int((status == _FALLBACK).sum()),
        "fallback_area_m2": _r(parea[status == _FALLBACK].sum() if n else 0.0),
        "misplaced_pieces": int(misplaced.sum()),
        "misplaced_area_m2": _r(parea[misplaced].sum() if n else 0.0),
    }


def _leader_figures(
    sc: _Scope,
    ld: _Leaders,
    leaders_rows: pd.DataFrame,
    wl_unit: dict[str, NDArray[Any]],
    leader_rel: BoolArray,
) -> dict[str, Any]:
    """Summary figures of the leaders: compactness, load ratios, active leaders."""
    lvl_mask = sc.in_scope & np.isin(sc.h.levels, ["street", "community"])
    if not lvl_mask.any():
        lvl_mask = sc.in_scope
    ratio = wl_unit["max_load_ratio"][lvl_mask]
    has_rows = len(leaders_rows) > 0
    return {
        "min_compactness": _nan_or(
            lambda: float(np.nanmin(leaders_rows["compactness"])),
            has_rows and bool(leaders_rows["compactness"].notna().any()),
        ),
        "max_load_ratio": _nan_or(lambda: float(np.nanmax(ratio)), bool(np.isfinite(ratio).any())),
        "max_load_per_capacity": _nan_or(
            lambda: float(leaders_rows["load_per_capacity"].max()),
            has_rows and bool(leaders_rows["load_per_capacity"].notna().any()),
        ),
        "active_leaders": int(ld.active[leader_rel].sum()) if ld.n_lead else 0,
    }


_SUMMARY_ORDER = (
    "jurisdiction_area_m2",
    "pieces",
    "piece_area_m2",
    "covered_area_m2",
    "coverage_pct",
    "dead_corner_area_m2",
    "jurisdiction_gap_area_m2",
    "unpieced_area_m2",
    "overlap_area_m2",
    "outside_parent_area_m2",
    "orphan_pieces",
    "blind_spot_pieces",
    "blind_spot_area_m2",
    "unassigned_pieces",
    "inactive_leader_pieces",
    "fallback_pieces",
    "fallback_area_m2",
    "misplaced_pieces",
    "misplaced_area_m2",
    "key_places",
    "key_places_without_leader",
    "key_places_without_department",
    "key_places_without_package_leader",
    "key_places_outside",
    "streets_without_package_leader",
    "communities_without_package_leader",
    "leaders_without_duty",
    "fragmented_leaders",
    "enclaves",
    "low_compactness_leaders",
    "min_compactness",
    "max_load_ratio",
    "max_load_per_capacity",
    "overloaded_leaders",
    "idle_leaders",
    "active_leaders",
    "gaps",
    "warnings",
)


def _summary(
    sc: _Scope,
    ld: _Leaders,
    pc: _Pieces,
    st: _Status,
    findings: list[Finding],
    unpieced_total: float,
    kp: _KeyPlaceRows,
    leaders_rows: pd.DataFrame,
    wl_unit: dict[str, NDArray[Any]],
    leader_rel: BoolArray,
) -> dict[str, Any]:
    """The flat summary figures of the report (in their documented order), over sorted findings."""
    figures: dict[str, Any] = {
        **_piece_figures(sc, pc, st),
        **_finding_figures(findings, unpieced_total),
        **_leader_figures(sc, ld, leaders_rows, wl_unit, leader_rel),
        "key_places": int(0 if kp.kp_frame is None else len(kp.kp_frame)),
    }
    summary = {k: figures[k] for k in _SUMMARY_ORDER}
    summary["has_gaps"] = summary["gaps"] > 0
    return summary


__all__: list[str] = []
