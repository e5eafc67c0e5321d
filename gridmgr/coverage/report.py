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
from gridmgr.coverage.checks import _positions
from gridmgr.coverage.gaps import (
    _blind_spot_findings,
    _concerned_leaders,
    _dead_corners,
    _duty_findings,
    _held_pieces,
    _orphan_findings,
    _package_findings,
)
from gridmgr.coverage.kinds import GAP, GROUPS, KINDS, WARNING, Finding, Thresholds, _jsonable
from gridmgr.coverage.loads import _workload
from gridmgr.coverage.places import _key_place_checks
from gridmgr.coverage.prepare import (
    IntArray,
    _leader_arrays,
    _Leaders,
    _piece_status,
    _Pieces,
    _Scope,
    _scope_pieces,
    _scope_units,
    _Status,
    _unit_packages,
    _UnitPackages,
)
from gridmgr.coverage.tables import _KeyPlaceRows, _sort_findings, _summary, _unit_rows
from gridmgr.coverage.territory import _shape
from gridmgr.errors import InvalidFieldError, UnitNotFoundError
from gridmgr.grid.distributed import Mapper, serial_map
from gridmgr.grid.lazy import cell_array
from gridmgr.grid.piece_graph import NOISE_LENGTH_M, PieceGraph, piece_graph
from gridmgr.grid.piece_graph_chunks import chunks_by_unit, piece_graph_by_chunks
from gridmgr.i18n import t

#: Above this many pieces the piece graph is built per chunk of units of about this size
#: (the same graph; ≈ 0.2 GB at a time instead of ≈ 700 bytes a piece at once).
GRAPH_CHUNK_PIECES = 250_000


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
        shaped = [(f, f.geometry) for f in self.findings if f.has_geometry]
        rows = [f for f, g in shaped if g is not None and not g.is_empty]
        geoms = [g for _, g in shaped if g is not None and not g.is_empty]
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
        return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")

    def to_geojson(self, path: str | Path) -> int:
        """Write every finding with a geometry as a GeoJSON feature (property ``kind``).

        Returns the number of features written. The file is written whole or not at all, one
        finding at a time: a finding's shape over its pieces is built, written and dropped.
        """
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        n = 0
        with tmp.open("w", encoding="utf-8") as out:
            out.write('{"type":"FeatureCollection","features":[\n')
            for f in self.findings:
                g = f.geometry if f.has_geometry else None
                if g is None or g.is_empty:
                    continue
                out.write(",\n" if n else "")
                props = json.dumps(f.to_dict(), ensure_ascii=False, allow_nan=False)
                out.write(f'{{"type":"Feature","properties":{props},"geometry":')
                out.write(shapely.to_geojson(g) + "}")
                n += 1
            out.write("\n]}\n")
        tmp.replace(target)
        return n


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
    mapper: Mapper = serial_map,
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
    mapper
        Runs the per-unit geometry checks (:func:`gridmgr.grid.distributed.serial_map`, or
        :func:`~gridmgr.grid.distributed.dask_mapper` for ``--workers``); same report either way.

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
    th = thresholds or Thresholds()
    w = parse_weights(weights)
    scope = str(scope) if scope is not None else None
    sc = _scope_units(units, scope)
    ld = _leader_arrays(leaders, packages)
    punit_all = _positions(sc.h.index, pieces["unit_code"])
    orphan = punit_all < 0
    findings = _orphan_findings(pieces, orphan, sc.root_scope)
    pc = _scope_pieces(pieces, punit_all, orphan, sc, ld)
    pk = _unit_packages(sc, ld)
    st = _piece_status(sc, ld, pc, pk)
    findings += _blind_spot_findings(sc, ld, pc, st)
    dc = _dead_corners(units, sc, pc, mapper)
    findings += dc.findings
    kp_piece, kp_unit, kp_frame, kp_findings = _key_places_phase(
        key_places, categories, sc, ld, pc, st
    )
    findings += kp_findings
    findings += _package_findings(sc, pk)
    held = _held_pieces(ld, pc)
    leader_rel = _concerned_leaders(sc, ld, pk, held)
    findings += _duty_findings(sc, ld, held, kp_frame)
    shape_rows, shape_findings = _shape_phase(sc, ld, pc, th)
    findings += shape_findings
    wl_rows, wl_unit, wl_findings = _workload_phase(sc, ld, pc, pk, th, w, kp_piece, leader_rel)
    findings += wl_findings
    kp = _KeyPlaceRows(kp_unit, kp_frame)
    rows = _unit_rows(sc, pc, st, dc, pk, kp, wl_unit)
    leaders_rows = wl_rows.merge(shape_rows, on="id", how="left")
    leaders_rows = leaders_rows[leader_rel].reset_index(drop=True) if ld.n_lead else leaders_rows
    _sort_findings(findings)
    summary = _summary(
        sc, ld, pc, st, findings, dc.unpieced_total, kp, leaders_rows, wl_unit, leader_rel
    )
    return CoverageReport(
        scope=scope,
        weights=w,
        thresholds=th,
        summary=summary,
        units=rows,
        leaders=leaders_rows,
        findings=tuple(findings),
    )


def _key_places_phase(
    key_places: gpd.GeoDataFrame | None,
    categories: pd.DataFrame | None,
    sc: _Scope,
    ld: _Leaders,
    pc: _Pieces,
    st: _Status,
) -> tuple[IntArray | None, IntArray | None, pd.DataFrame | None, list[Finding]]:
    """Key places located in pieces and units, and their findings."""
    return _key_place_checks(
        key_places,
        categories,
        ld.P,
        pc.pcs,
        pc.geoms,
        pc.punit,
        sc.h,
        sc.lowest_in,
        sc.root_scope,
        ld.L,
        ld.lid_index,
        ld.active,
        st.blind,
        sc.unit_geoms,
    )


def _shape_phase(
    sc: _Scope, ld: _Leaders, pc: _Pieces, th: Thresholds
) -> tuple[pd.DataFrame, list[Finding]]:
    """Territory shape of every leader (own, non-fallback pieces) over the piece graph (built
    chunk by chunk of units above :data:`GRAPH_CHUNK_PIECES` pieces: bounded memory)."""
    territory = np.where(pc.active_holder & ~pc.flag_fb, pc.holder, -1).astype(np.int32)
    if ld.n_lead == 0 or pc.n == 0:  # no territory to measure: the graph is not needed
        graph = PieceGraph(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.zeros(0))
    elif pc.n > GRAPH_CHUNK_PIECES:
        graph = piece_graph_by_chunks(pc.pcs, chunks_by_unit(pc.punit, GRAPH_CHUNK_PIECES))
    else:
        graph = piece_graph(pc.pcs)
    return _shape(graph, territory, pc.parea, pc.geoms, ld.L, th, pc.punit, sc.h, pc.pkeys)


def _workload_phase(
    sc: _Scope,
    ld: _Leaders,
    pc: _Pieces,
    pk: _UnitPackages,
    th: Thresholds,
    w: Mapping[str, float],
    kp_piece: IntArray | None,
    leader_rel: NDArray[np.bool_],
) -> tuple[pd.DataFrame, dict[str, NDArray[Any]], list[Finding]]:
    """Piece loads (area, key places) against the leaders' capacities."""
    n = pc.n
    kp_pos = kp_piece[kp_piece >= 0] if kp_piece is not None else np.empty(0, dtype=np.int64)
    loads = (
        piece_loads(
            pd.DataFrame({"area_m2": pc.parea, "id": np.arange(n)}),
            pd.DataFrame({"piece_id": kp_pos}),
            w,
        )
        if n
        else np.zeros(0)
    )
    return _workload(
        loads,
        pc.holder,
        pc.flag_fb,
        ld.active,
        ld.is_pkg_role,
        ld.capacity,
        ld.L,
        sc.h,
        pc.punit,
        sc.in_scope,
        th,
        pk.upk_l,
        pk.upk_u,
        leader_rel,
        pc.parea,
    )


def _compact(pieces: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The store's pieces as the report needs them, smaller: cells as ``uint64`` (8 bytes, not a
    string), unit codes as a category, no ``version`` (≈ 45 bytes a piece less: 0.8 GB for a
    province)."""
    out = pieces.drop(columns=["version"])
    out["cell"] = cell_array(pieces["cell"])
    out["unit_code"] = pieces["unit_code"].astype("category")
    return out


def coverage_from_store(
    store: Any,
    *,
    scope: str | None = None,
    weights: Mapping[str, float] | str | None = None,
    thresholds: Thresholds | None = None,
    mapper: Mapper = serial_map,
) -> CoverageReport:
    """The coverage report of the data in ``store`` (a :class:`gridmgr.store.Store`).

    Reads units, pieces (of ``scope``, in the lazy form: only border pieces' geometry, see
    :mod:`gridmgr.grid.lazy`), key places, categories and leaders, then calls
    :func:`coverage_from_frames`. Identical on SQLite and PostGIS for the same data, and to the
    report over the full frames.
    """
    units = store.units()
    if scope is not None and str(scope) not in set(units["code"].astype(str)):
        raise UnitNotFoundError(
            t(
                f"coverage --scope {scope!r}：库中没有这个单位；用 `gridmgr units` 查看单位代码",
                f"coverage --scope {scope!r}: no such unit in the store; see `gridmgr units`",
            )
        )
    pieces = _compact(store.pieces(scope, geometry="border"))
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
        mapper=mapper,
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
