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
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gridmgr.errors import InvalidFieldError, UnitNotFoundError
from gridmgr.i18n import t
from gridmgr.workload import parse_weights, piece_loads

# --------------------------------------------------------------------------------------------
# Kinds, severities, labels
# --------------------------------------------------------------------------------------------

GAP = "gap"
WARNING = "warning"

#: kind → (group, severity, Chinese label, English label)
KINDS: dict[str, tuple[str, str, str, str]] = {
    "jurisdiction_gap": ("dead_corner", GAP, "死角：辖区内无单元覆盖", "dead corner: area covered by no unit"),
    "unit_overlap": ("dead_corner", GAP, "重叠：两个单元重复划定", "overlap: area claimed by two units"),
    "unit_outside_parent": ("dead_corner", GAP, "越界：单元超出上级范围", "unit extends outside its parent"),
    "unpieced_area": ("dead_corner", GAP, "死角：单元内无地块（网格过期）", "dead corner: unit area with no piece (stale grid)"),
    "orphan_pieces": ("dead_corner", GAP, "地块所属单元不存在（网格过期）", "pieces of a unit that no longer exists (stale grid)"),
    "unassigned": ("blind_spot", GAP, "盲点：地块无责任人", "blind spot: piece with no leader"),
    "inactive_leader": ("blind_spot", GAP, "盲点：责任人已停用", "blind spot: piece of an inactive leader"),
    "fallback": ("blind_spot", WARNING, "属地兜底：由社区包保领导兜底", "territorial default: held by the community package leader"),
    "misplaced": ("blind_spot", GAP, "属地错配：责任人包保范围不含该地块", "territory violated: the leader's packages lie elsewhere"),
    "place_without_leader": ("key_place", GAP, "重点点位无属地责任人", "key place without a territorial leader"),
    "place_without_department": ("key_place", GAP, "重点点位无行管部门", "key place without a sector department"),
    "place_without_package_leader": ("key_place", GAP, "重点点位缺包保领导", "key place without its required package leader"),
    "place_outside": ("key_place", GAP, "重点点位在辖区外", "key place outside the jurisdiction"),
    "unit_without_package_leader": ("package", GAP, "街道/社区无包保领导", "street/community without a package leader"),
    "leader_without_duty": ("package", WARNING, "领导无属地无包保", "active leader with no territory and no package"),
    "fragmented_territory": ("shape", WARNING, "责任区不连片", "territory is not contiguous"),
    "enclave": ("shape", WARNING, "飞地：被他人责任区包围", "enclave surrounded by another leader's territory"),
    "low_compactness": ("shape", WARNING, "责任区形状不紧凑", "territory is not compact"),
    "overloaded_leader": ("workload", WARNING, "负荷过重", "overloaded leader"),
    "idle_leader": ("workload", WARNING, "负荷过轻或空闲", "idle or underused leader"),
}

#: Group labels (zh, en) for summaries.
GROUPS: dict[str, tuple[str, str]] = {
    "dead_corner": ("死角", "dead corners"),
    "blind_spot": ("盲点", "blind spots"),
    "key_place": ("重点点位", "key places"),
    "package": ("包保", "packages"),
    "shape": ("责任区形状", "territory shape"),
    "workload": ("工作负荷", "workload"),
}

_SEVERITY_RANK = {GAP: 0, WARNING: 1}

#: Areas below this (m²) are floating-point noise on shared edges, not data.
NOISE_AREA_M2 = 1e-3
#: Boundary lengths below this (m) are noise (corner contacts, rounding of clipped edges).
NOISE_LENGTH_M = 0.01
#: Snap-rounding grid (degrees, ≈ 0.1 mm) for shared boundaries of pieces cut by a unit border.
_SNAP_DEG = 1e-9

# WGS-84 ellipsoid, for ground lengths of short segments.
_A = 6378137.0
_E2 = 0.00669437999014


@dataclass(frozen=True)
class Thresholds:
    """Configurable thresholds of the warnings.

    Parameters
    ----------
    overload
        A leader is overloaded when load/capacity > ``overload`` × the community's mean
        (total load / total capacity of its leaders). Default 1.2.
    idle
        A leader is idle when load/capacity < ``idle`` × that mean, or the load is zero. Default 0.5.
    min_compactness
        Territories with a Polsby–Popper score (4πA/P²) below this are reported. Default 0.2
        (one hexagon scores 0.907, a 3×3 block of squares 0.785, a straight line of 10 hexagons
        about 0.3).
    """

    overload: float = 1.2
    idle: float = 0.5
    min_compactness: float = 0.2

    def __post_init__(self) -> None:
        if not (self.overload > 1.0 and 0.0 <= self.idle < 1.0 and 0.0 <= self.min_compactness <= 1.0):
            msg = (
                f"coverage thresholds overload={self.overload}, idle={self.idle}, "
                f"min_compactness={self.min_compactness}: need overload > 1, 0 <= idle < 1 and "
                "0 <= min_compactness <= 1"
            )
            raise InvalidFieldError(msg)


@dataclass(frozen=True)
class Finding:
    """One gap or warning, with what is needed to act on it and to draw it.

    ``count`` counts the kind's object (pieces, key places, units, parts …); ``area_m2`` is the
    ground concerned (equal-area m², 0 when not areal); ``geometry`` in EPSG:4326 or ``None``.
    """

    kind: str
    severity: str
    label_zh: str
    label_en: str
    unit_code: str | None
    count: int
    area_m2: float
    geometry: shapely.Geometry | None = None
    leader_id: str | None = None
    place_code: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return KINDS[self.kind][0]

    @property
    def label(self) -> str:
        """The label in the current UI language."""
        return t(self.label_zh, self.label_en)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without geometry)."""
        return {
            "kind": self.kind,
            "group": self.group,
            "severity": self.severity,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "unit_code": self.unit_code,
            "leader_id": self.leader_id,
            "place_code": self.place_code,
            "count": int(self.count),
            "area_m2": _r(self.area_m2),
            "detail": _jsonable(dict(self.detail)),
        }


def _finding(kind: str, *, unit_code: str | None, count: int, area_m2: float = 0.0, **kw: Any) -> Finding:
    _group, severity, zh, en = KINDS[kind]
    return Finding(kind, severity, zh, en, unit_code, int(count), float(area_m2), **kw)


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
            raise InvalidFieldError(f"coverage: unknown finding kind {kind!r}; known: {', '.join(KINDS)}")
        return int(sum(f.count for f in self.findings if f.kind == kind))

    def area(self, kind: str) -> float:
        """Summed ``area_m2`` of the findings of ``kind``."""
        if kind not in KINDS:
            raise InvalidFieldError(f"coverage: unknown finding kind {kind!r}; known: {', '.join(KINDS)}")
        return float(sum(f.area_m2 for f in self.findings if f.kind == kind))

    def to_dict(self) -> dict[str, Any]:
        """The documented machine-readable report (``gridmgr coverage --json``)."""
        out: dict[str, Any] = {"report": "gridmgr.coverage", "report_version": 1, "scope": self.scope}
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
        cols = ["kind", "group", "severity", "label_zh", "label_en", "unit_code", "leader_id",
                "place_code", "count", "area_m2"]
        frame = pd.DataFrame(data, columns=cols)
        frame["detail"] = [json.dumps(_jsonable(dict(f.detail)), ensure_ascii=False) for f in rows]
        return gpd.GeoDataFrame(frame, geometry=[f.geometry for f in rows], crs="EPSG:4326")

    def to_geojson(self, path: str | Path) -> int:
        """Write every finding with a geometry as a GeoJSON feature (property ``kind``).

        Returns the number of features written. The file is written whole or not at all.
        """
        rows = [f for f in self.findings if f.geometry is not None and not f.geometry.is_empty]
        geo = shapely.to_geojson(np.asarray([f.geometry for f in rows], dtype=object)) if rows else []
        parts = [
            '{"type":"Feature","properties":' + json.dumps(f.to_dict(), ensure_ascii=False, allow_nan=False)
            + ',"geometry":' + g + "}"
            for f, g in zip(rows, geo, strict=True)
        ]
        text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(parts) + "\n]}\n"
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        return len(parts)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _r(x: float, nd: int = 3) -> float:
    """Round for the JSON report (m² to the mm², ratios to 1e-6): identical across stores."""
    return float(round(float(x), nd))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return None if not math.isfinite(v) else v
    return obj


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    recs = frame.to_dict(orient="records")
    return [_jsonable(r) for r in recs]


def _as_list(value: Any) -> list[str]:
    """Normalise a package list cell (list, tuple, ndarray, ';'-separated str, None)."""
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    if isinstance(value, str):
        return [s.strip() for s in value.replace("；", ";").replace(",", ";").split(";") if s.strip()]
    if isinstance(value, Iterable):
        return [str(s).strip() for s in value if s is not None and str(s).strip()]
    return [str(value)]


def _str_values(values: pd.Series) -> NDArray[np.object_]:
    """Values as an object array of ``str`` (missing values kept as ``None``), without a copy
    per row when the column already holds strings (the common case at a million pieces)."""
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        arr = values.to_numpy(dtype=object, na_value=None)
        if len(arr) == 0 or isinstance(arr[0], str | type(None)):
            return np.asarray(arr, dtype=object)
    out = values.astype(object).to_numpy()
    mask = pd.isna(values).to_numpy()
    res = np.array([str(v) for v in out], dtype=object) if len(out) else out
    res[mask] = None
    return res


def _null(values: pd.Series) -> NDArray[np.bool_]:
    arr = values.to_numpy(dtype=object)
    return np.asarray(pd.isna(values).to_numpy() | (arr == ""), dtype=bool)


def _segment_lengths(lng1: NDArray[np.float64], lat1: NDArray[np.float64],
                     lng2: NDArray[np.float64], lat2: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ground lengths (m) of short lon/lat segments on the WGS-84 ellipsoid.

    Local scale at the segment's mid-latitude (meridian and prime-vertical radii): exact to well
    below a millimetre for the tens-of-metres edges of grid pieces.
    """
    phi = np.add(lat1, lat2)
    phi *= math.pi / 360.0
    w2 = np.sin(phi)
    w2 *= w2
    w2 *= -_E2
    w2 += 1.0  # 1 - e² sin²φ
    fx = np.cos(phi)
    w = np.sqrt(w2)
    fx /= w  # cos φ / w: × a gives the prime-vertical radius times cos φ
    w *= w2  # w³: a(1 - e²)/w³ is the meridian radius
    dx = np.subtract(lng2, lng1)
    dx *= fx
    dy = np.subtract(lat2, lat1)
    dy /= w
    dy *= 1.0 - _E2
    out = np.hypot(dx, dy)
    out *= _A * math.pi / 180.0
    return np.asarray(out, dtype=np.float64)


def _lines_length(geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    """Ground length (m) of each geometry's linework (polygon rings or lines), vectorised."""
    n = len(geoms)
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    parts, pidx = shapely.get_parts(geoms, return_index=True)
    tid = shapely.get_type_id(parts)
    poly = (tid == 3)
    rings_src = parts[poly]
    rings, ridx = shapely.get_rings(rings_src, return_index=True)
    owner_r = pidx[poly][ridx]
    lines = parts[(tid == 1) | (tid == 2)]
    owner_l = pidx[(tid == 1) | (tid == 2)]
    chains = np.concatenate([rings, lines]).astype(object)
    owner = np.concatenate([owner_r, owner_l]).astype(np.int64)
    if len(chains) == 0:
        return out
    xy, cidx = shapely.get_coordinates(chains, return_index=True)
    if len(xy) < 2:
        return out
    same = cidx[1:] == cidx[:-1]
    seg = _segment_lengths(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    np.add.at(out, owner[cidx[1:][same]], seg[same])
    return out


# --------------------------------------------------------------------------------------------
# The unit hierarchy in index form
# --------------------------------------------------------------------------------------------


@dataclass
class _Hier:
    codes: NDArray[np.object_]
    names: NDArray[np.object_]
    levels: NDArray[np.object_]
    parents: NDArray[np.int64]  # -1 for roots / unknown parents
    lowest: NDArray[np.bool_]
    index: pd.Index
    anc_pairs: tuple[NDArray[np.int64], NDArray[np.int64]]  # (ancestor-or-self, lowest unit)
    community: NDArray[np.int64]  # per unit: nearest community ancestor-or-self, else self

    chains: list[list[int]]  # per unit: itself, its parent, … up to the root

    def subtree(self, i: int) -> NDArray[np.int64]:
        """``i`` and every unit below it."""
        return np.asarray([j for j, ch in enumerate(self.chains) if i in ch], dtype=np.int64)


def _hierarchy(units: pd.DataFrame) -> _Hier:
    codes = units["code"].astype(str).to_numpy(dtype=object)
    index = pd.Index(codes)
    if not index.is_unique:
        dup = index[index.duplicated()].unique().tolist()[:5]
        raise InvalidFieldError(f"units: duplicate code(s) {dup}; unit codes must be unique")
    par = units["parent"].where(units["parent"].notna(), None).to_numpy(dtype=object)
    parents = np.asarray(index.get_indexer([str(p) if p is not None else "" for p in par]), dtype=np.int64)
    levels = units["level"].astype(str).to_numpy(dtype=object)
    names = units["name"].astype(str).to_numpy(dtype=object) if "name" in units else codes.copy()
    n = len(codes)
    lowest = np.ones(n, dtype=bool)
    lowest[parents[parents >= 0]] = False
    anc_a: list[int] = []
    anc_l: list[int] = []
    community = np.arange(n, dtype=np.int64)
    chains: list[list[int]] = []
    for j in range(n):
        ch = [j]
        while parents[ch[-1]] >= 0 and len(ch) <= n:
            ch.append(int(parents[ch[-1]]))
        chains.append(ch)
        comm = [c for c in ch if levels[c] == "community"]
        if comm:
            community[j] = comm[0]
        if lowest[j]:
            anc_a.extend(ch)
            anc_l.extend([j] * len(ch))
    return _Hier(codes, names, levels, parents, lowest, index,
                 (np.asarray(anc_a, dtype=np.int64), np.asarray(anc_l, dtype=np.int64)), community,
                 chains)


def _rollup(h: _Hier, per_lowest: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum a per-unit array (non-zero on lowest units) up to every ancestor."""
    a, low = h.anc_pairs
    out = np.zeros(len(h.codes), dtype=np.float64)
    np.add.at(out, a, per_lowest[low])
    return out


def _to_ancestors(h: _Hier, per_unit: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum a per-unit array (any level) onto each unit and all its ancestors."""
    out = np.zeros(len(h.codes), dtype=np.float64)
    for j in np.flatnonzero(per_unit):
        k = int(j)
        seen = 0
        while k >= 0 and seen <= len(h.codes):
            out[k] += per_unit[j]
            k = int(h.parents[k])
            seen += 1
    return out


# --------------------------------------------------------------------------------------------
# Territory shape from the piece adjacency
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PieceGraph:
    """Adjacency of pieces with shared boundary lengths.

    ``i < j`` positional pairs sharing a boundary of positive length and ``exposed_m`` per piece:
    the part of its boundary (ground metres) shared with no other piece — it lies on the edge of
    the covered ground. ``shared_m`` (per pair) and ``perimeter_m`` (per piece), in ground metres,
    are computed on first use; :meth:`shared_for` measures only the pairs a caller needs (most
    pairs are two whole hexagons, whose shared edge is measured from its two vertices).
    """

    i: NDArray[np.int64]
    j: NDArray[np.int64]
    exposed_m: NDArray[np.float64]
    n_simple: int = 0
    _simple_rec: NDArray[np.uint64] = field(default_factory=lambda: np.empty(0, dtype=np.uint64), repr=False)
    _shared_rest: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    _fx: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 7)), repr=False)
    _fy: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 7)), repr=False)
    _fidx: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64), repr=False)
    _perimeter_slow: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)

    def _simple_lengths(self, rec: NDArray[np.uint64]) -> NDArray[np.float64]:
        k, e = rec // np.uint64(6), rec % np.uint64(6)
        return _segment_lengths(self._fx[k, e], self._fy[k, e], self._fx[k, e + np.uint64(1)], self._fy[k, e + np.uint64(1)])

    def shared_for(self, mask: NDArray[np.bool_] | None = None) -> NDArray[np.float64]:
        """Shared boundary lengths (m) of the pairs in ``mask`` (all pairs when ``None``)."""
        if mask is None:
            return self.shared_m
        out = np.empty(int(mask.sum()), dtype=np.float64)
        ms, mr = mask[: self.n_simple], mask[self.n_simple:]
        n_s = int(ms.sum())
        out[:n_s] = self._simple_lengths(self._simple_rec[ms])
        out[n_s:] = self._shared_rest[mr]
        return out

    @cached_property
    def shared_m(self) -> NDArray[np.float64]:
        """Shared boundary length (m) of every pair."""
        return np.concatenate([self._simple_lengths(self._simple_rec), self._shared_rest])

    @cached_property
    def perimeter_m(self) -> NDArray[np.float64]:
        """Perimeter (m) of every piece, holes included."""
        out = self._perimeter_slow.copy()
        if len(self._fidx):
            fx, fy = self._fx, self._fy
            out[self._fidx] = _segment_lengths(fx[:, :6], fy[:, :6], fx[:, 1:], fy[:, 1:]).sum(axis=1)
        return out

    def csr(self, n: int, mask: NDArray[np.bool_] | None = None) -> sp.csr_matrix:
        i, j = (self.i, self.j) if mask is None else (self.i[mask], self.j[mask])
        data = np.ones(2 * len(i), dtype=np.int8)
        return sp.csr_matrix((data, (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))


def _edge_keys(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.uint64], NDArray[np.float64],
                                                                        NDArray[np.float64]]:
    """Keys of the edges of closed hexagon rings given as ``x``, ``y`` of shape (m, 7).

    Returns per edge (m, 6) a 64-bit key and the exact sums of its endpoints' coordinates
    ``sx``, ``sy`` (twice the midpoint: the same bits from either side of the edge, whatever the
    orientation). Equal keys are confirmed on ``sx``, ``sy``.
    """
    sx = x[:, :6] + x[:, 1:]
    sy = y[:, :6] + y[:, 1:]
    with np.errstate(over="ignore"):
        # sy mixed by a multiply into the high bits, sx as is: the low bits (where the record
        # number goes when sorting) are not needed to tell edges apart
        key = sy.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        key ^= sx.view(np.uint64)
    return key, sx, sy


def piece_graph(pieces: gpd.GeoDataFrame) -> PieceGraph:
    """Adjacency of ``pieces`` with shared boundary lengths, vectorised, no overlay per pair.

    Every piece boundary is decomposed onto the edges of its H3 hexagon: a whole hexagon covers
    its six edges entirely; a piece cut by a unit border covers parts of some edges (parameter
    intervals along the edge) plus border segments inside the cell. Neighbouring cells share their
    edge vertices bit for bit, so an edge keyed by its endpoints is found from both sides; the
    shared length of two pieces across a hexagon edge is the overlap of their intervals. Two
    pieces of the same cell share the border running through it: with two pieces in the cell,
    that is the length of their boundaries not on hexagon edges; rarer cases (three units meeting
    in one cell, a cell also cut by the jurisdiction's edge, pentagons) are measured with shapely
    (snap-rounded boundary intersection).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from gridmgr.grid import pieces_from_units
    >>> u = gpd.GeoDataFrame({"code": ["A"], "name": ["a"], "level": ["community"], "parent": [None]},
    ...     geometry=[box(125.30, 43.80, 125.31, 43.81)], crs="EPSG:4326")
    >>> g = piece_graph(pieces_from_units(u, res=10))
    >>> bool(abs(g.exposed_m.sum() - (g.perimeter_m.sum() - 2 * g.shared_m.sum())) < 1e-6)
    True
    """
    from gridmgr import _h3

    geoms = np.asarray(pieces.geometry.values, dtype=object)
    n = len(geoms)
    empty_i = np.empty(0, dtype=np.int64)
    if n == 0:
        z = np.zeros(0)
        return PieceGraph(empty_i, empty_i, z)
    whole = pieces["whole"].to_numpy(dtype=bool) if "whole" in pieces else np.zeros(n, dtype=bool)
    tid = shapely.get_type_id(geoms)
    ncoord = shapely.get_num_coordinates(geoms)
    polys = geoms.copy()
    polys[tid != 3] = None
    nint = shapely.get_num_interior_rings(polys)
    fast = whole & (tid == 3) & (ncoord == 7) & (np.nan_to_num(nint, nan=1) == 0)
    fidx = np.flatnonzero(fast)
    perimeter = np.zeros(n, dtype=np.float64)
    # edge records: fast pieces' six edges first (record r = 6 * k + e), then the pieces cut by a
    # unit border (their boundary segments lying on their cell's hexagon edges, as intervals)
    m_fast = len(fidx)
    n_fast_rec = 6 * m_fast
    fx = fy = np.zeros((0, 7))
    key_f = np.empty(0, dtype=np.uint64)
    sx_f = sy_f = np.zeros(0)
    if m_fast:
        xy = shapely.get_coordinates(geoms[fidx])
        fx = xy[:, 0].reshape(m_fast, 7)
        fy = xy[:, 1].reshape(m_fast, 7)
        k2, s2x, s2y = _edge_keys(fx, fy)
        key_f, sx_f, sy_f = k2.ravel(), s2x.ravel(), s2y.ravel()
    # ground lengths of the fast edges that are not simply shared by two whole hexagons (those
    # are only measured when asked for: most are inside a territory and cancel out)
    edge_len = np.full(n_fast_rec, np.nan)
    simple_rec = np.empty(0, dtype=np.uint64)
    r_key: list[NDArray[np.uint64]] = []
    r_piece: list[NDArray[np.int64]] = []
    r_t0: list[NDArray[np.float64]] = []
    r_t1: list[NDArray[np.float64]] = []
    r_len: list[NDArray[np.float64]] = []
    r_sx: list[NDArray[np.float64]] = []
    r_sy: list[NDArray[np.float64]] = []
    slow = np.flatnonzero(~fast)
    odd: list[NDArray[np.int64]] = []  # pieces measured with shapely against their candidates
    hex_len = np.zeros(n, dtype=np.float64)  # length of each slow piece's boundary on hexagon edges
    cells = _str_values(pieces["cell"]) if len(slow) else np.empty(0, dtype=object)
    if len(slow):
        perimeter[slow] = _lines_length(geoms[slow])
        slow_cells, slow_cell_idx = np.unique(cells[slow], return_inverse=True)
        cpoly = _h3.cell_polygons(_h3.str_to_cells(slow_cells))
        hexagon = shapely.get_num_coordinates(cpoly) == 7
        h_idx = np.flatnonzero(hexagon)
        hx = np.zeros((len(slow_cells), 7, 2))
        if len(h_idx):
            hx[h_idx] = shapely.get_coordinates(cpoly[h_idx]).reshape(len(h_idx), 7, 2)
        key, hsx, hsy = _edge_keys(hx[..., 0], hx[..., 1])
        elen = _segment_lengths(hx[:, :6, 0], hx[:, :6, 1], hx[:, 1:, 0], hx[:, 1:, 1])
        # canonical direction of each edge (from its lexicographically smaller end), so that the
        # interval parameter runs the same way seen from both cells
        p0, p1 = hx[:, :6], hx[:, 1:]
        fwd = (p0[..., 0] < p1[..., 0]) | ((p0[..., 0] == p1[..., 0]) & (p0[..., 1] < p1[..., 1]))
        a = np.where(fwd[..., None], p0, p1)
        d = np.where(fwd[..., None], p1, p0) - a
        ok_piece = hexagon[slow_cell_idx]
        odd.append(slow[~ok_piece])
        sp_ = slow[ok_piece]
        sp_cell = slow_cell_idx[ok_piece]
        # boundary segments of the slow pieces
        parts, pidx = shapely.get_parts(geoms[sp_], return_index=True)
        rings, ridx = shapely.get_rings(parts[shapely.get_type_id(parts) == 3], return_index=True)
        owner_local = pidx[shapely.get_type_id(parts) == 3][ridx]
        sxy, sidx = shapely.get_coordinates(rings, return_index=True)
        same = sidx[1:] == sidx[:-1]
        seg_owner = owner_local[sidx[1:][same]]
        q0 = sxy[:-1][same]
        q1 = sxy[1:][same]
        seg_len = _segment_lengths(q0[:, 0], q0[:, 1], q1[:, 0], q1[:, 1])
        c = sp_cell[seg_owner]
        A = a[c]  # (S, 6, 2)
        D = d[c]
        dd = (D**2).sum(-1)
        dd = np.where(dd > 0, dd, 1.0)
        scale = np.sqrt(dd)
        t0 = ((q0[:, None, :] - A) * D).sum(-1) / dd
        t1 = ((q1[:, None, :] - A) * D).sum(-1) / dd
        c0 = np.abs((q0[:, None, 0] - A[..., 0]) * D[..., 1] - (q0[:, None, 1] - A[..., 1]) * D[..., 0]) / scale
        c1 = np.abs((q1[:, None, 0] - A[..., 0]) * D[..., 1] - (q1[:, None, 1] - A[..., 1]) * D[..., 0]) / scale
        tol_deg = 1e-10
        eps_t = 1e-9
        on = (c0 < tol_deg) & (c1 < tol_deg) & (np.minimum(t0, t1) > -eps_t) & (np.maximum(t0, t1) < 1 + eps_t)
        seg_i, edge_j = np.nonzero(on)
        # a segment lies on at most one edge (corners: keep the first match)
        seg_i, first = np.unique(seg_i, return_index=True)
        edge_j = edge_j[first]
        lo_t = np.clip(np.minimum(t0[seg_i, edge_j], t1[seg_i, edge_j]), 0.0, 1.0)
        hi_t = np.clip(np.maximum(t0[seg_i, edge_j], t1[seg_i, edge_j]), 0.0, 1.0)
        r_key.append(key[c[seg_i], edge_j])
        r_sx.append(hsx[c[seg_i], edge_j])
        r_sy.append(hsy[c[seg_i], edge_j])
        r_piece.append(sp_[seg_owner[seg_i]].astype(np.int64))
        r_t0.append(lo_t)
        r_t1.append(hi_t)
        r_len.append(elen[c[seg_i], edge_j])
        np.add.at(hex_len, sp_[seg_owner[seg_i]], seg_len[seg_i])
    key_s = np.concatenate(r_key) if r_key else np.empty(0, dtype=np.uint64)
    sx_s = np.concatenate(r_sx) if r_sx else np.zeros(0)
    sy_s = np.concatenate(r_sy) if r_sy else np.zeros(0)
    piece_s = np.concatenate(r_piece) if r_piece else empty_i
    t0_s = np.concatenate(r_t0) if r_t0 else np.zeros(0)
    t1_s = np.concatenate(r_t1) if r_t1 else np.zeros(0)
    len_s = np.concatenate(r_len) if r_len else np.zeros(0)
    n_rec = n_fast_rec + len(key_s)
    pi: list[NDArray[np.int64]] = []
    pj: list[NDArray[np.int64]] = []
    pl: list[NDArray[np.float64]] = []
    if not n_rec:
        pi.append(empty_i)  # the (empty) list of whole-hexagon pairs comes first
        pj.append(empty_i)
        pl.append(np.zeros(0))
    else:
        # sort the keys with the record number packed into their low bits (a plain sort is about
        # twice as fast as an argsort); records of one edge end up next to each other
        bits = max(int(n_rec).bit_length(), 1)
        low = np.uint64((1 << bits) - 1)
        packed = np.concatenate([key_f, key_s]) & ~low
        packed |= np.arange(n_rec, dtype=np.uint64)
        packed.sort()
        rec = packed & low  # uint64 record numbers (indexing accepts them as they are)
        # a new edge starts where the key bits above the record number change
        starts = np.flatnonzero(np.r_[True, (packed[1:] ^ packed[:-1]) > low])
        del packed
        gsize = np.diff(np.r_[starts, n_rec])
        gslow = np.zeros(len(starts), dtype=bool)
        gslow[np.searchsorted(starts, np.flatnonzero(rec >= np.uint64(n_fast_rec)), side="right") - 1] = True
        # the common case: an edge shared by exactly two whole hexagons (confirmed on the exact
        # endpoint sums, which also rules out hash collisions)
        simple = starts[(gsize == 2) & ~gslow]
        ra, rb = rec[simple], rec[simple + 1]
        ok = sx_f[ra] == sx_f[rb]  # with equal keys, equal sx leaves no room for a collision
        ra, rb = ra[ok], rb[ok]
        simple_rec = ra
        u, v = fidx[ra // 6], fidx[rb // 6]
        pi.append(np.minimum(u, v))
        pj.append(np.maximum(u, v))
        pl.append(np.zeros(0))  # whole-hexagon pairs are measured lazily (PieceGraph.shared_for)
        in_simple = np.zeros(n_fast_rec, dtype=bool)
        in_simple[ra] = True
        in_simple[rb] = True
        ns = np.flatnonzero(~in_simple)
        k, e = ns // 6, ns % 6
        edge_len[ns] = _segment_lengths(fx[k, e], fy[k, e], fx[k, e + 1], fy[k, e + 1])
        # edges with a piece cut by a unit border (or a hash collision): interval overlaps
        gs = np.flatnonzero((gslow | (gsize > 2)) & (gsize > 1))
        if len(gs):
            g_s = np.repeat(gs, gsize[gs])
            first = np.cumsum(gsize[gs]) - gsize[gs]
            r_ = rec[np.repeat(starts[gs] - first, gsize[gs]) + np.arange(len(g_s))].astype(np.int64)
            is_s = r_ >= n_fast_rec
            rs = np.maximum(r_ - n_fast_rec, 0)
            rf = np.minimum(r_, max(n_fast_rec - 1, 0))
            a0 = np.where(is_s, t0_s[rs] if len(t0_s) else 0.0, 0.0)
            a1 = np.where(is_s, t1_s[rs] if len(t1_s) else 0.0, 1.0)
            p_s = np.where(is_s, piece_s[rs] if len(piece_s) else 0, fidx[rf // 6] if m_fast else 0)
            ln = np.where(is_s, len_s[rs] if len(len_s) else 0.0, edge_len[rf] if m_fast else 0.0)
            qx = np.where(is_s, sx_s[rs] if len(sx_s) else 0.0, sx_f[rf] if m_fast else 0.0)
            qy = np.where(is_s, sy_s[rs] if len(sy_s) else 0.0, sy_f[rf] if m_fast else 0.0)
            off = 1
            while off < len(g_s):
                m = np.flatnonzero(g_s[off:] == g_s[:-off])
                if len(m) == 0:
                    break
                u, v = m, m + off
                ov = np.minimum(a1[u], a1[v]) - np.maximum(a0[u], a0[v])
                keep = (ov > 1e-9) & (p_s[u] != p_s[v]) & (qx[u] == qx[v]) & (qy[u] == qy[v])
                pi.append(np.minimum(p_s[u], p_s[v])[keep])
                pj.append(np.maximum(p_s[u], p_s[v])[keep])
                pl.append(ov[keep] * ln[u][keep])
                off += 1
    # pieces of the same cell: the border between them
    if len(slow):
        _, inv, cnt = np.unique(cells[slow], return_inverse=True, return_counts=True)
        nonhex = np.maximum(perimeter - hex_len, 0.0)
        two = cnt[inv] == 2
        o2 = np.argsort(inv[two], kind="stable")
        pairs2 = slow[two][o2].reshape(-1, 2)
        flagged = cnt > 2  # three units meet in the cell
        if len(pairs2):
            na, nb = nonhex[pairs2[:, 0]], nonhex[pairs2[:, 1]]
            agree = np.abs(na - nb) <= 1e-6 * np.maximum(na, nb) + 1e-4
            good = agree & (np.minimum(na, nb) > NOISE_LENGTH_M)
            pi.append(np.minimum(pairs2[good, 0], pairs2[good, 1]))
            pj.append(np.maximum(pairs2[good, 0], pairs2[good, 1]))
            pl.append(0.5 * (na[good] + nb[good]))
            # both sides disagree: the cell is also cut by the edge of the covered ground
            flagged[inv[two][o2].reshape(-1, 2)[~agree, 0]] = True
        members = np.flatnonzero(flagged[inv])
        if len(members):
            o = np.argsort(inv[members], kind="stable")
            mp, mg = slow[members][o], inv[members][o]
            ca: list[NDArray[np.int64]] = []
            cb: list[NDArray[np.int64]] = []
            off = 1
            while off < len(mp):
                m = np.flatnonzero(mg[off:] == mg[:-off])
                if len(m) == 0:
                    break
                ca.append(mp[m])
                cb.append(mp[m + off])
                off += 1
            if ca:
                a_, b_ = np.concatenate(ca), np.concatenate(cb)
                bnd_a, bnd_b = shapely.boundary(geoms[a_]), shapely.boundary(geoms[b_])
                length = _lines_length(np.asarray(shapely.intersection(bnd_a, bnd_b, grid_size=_SNAP_DEG), dtype=object))
                pi.append(np.minimum(a_, b_))
                pj.append(np.maximum(a_, b_))
                pl.append(length)
    odd_idx = np.unique(np.concatenate(odd)) if odd else empty_i  # pieces of pentagons
    n_sh = 0
    if len(odd_idx):
        oi, oj, ol = _shapely_pairs(pieces, geoms, odd_idx, cells, fast)
        pi.append(oi)
        pj.append(oj)
        pl.append(ol)
        n_sh = len(oi)
    # pairs of whole hexagons (first list, unique by construction) and the others (measured)
    si, sj = (pi[0], pj[0]) if pi else (empty_i, empty_i)
    ri = np.concatenate(pi[1:]) if len(pi) > 1 else empty_i
    rj = np.concatenate(pj[1:]) if len(pj) > 1 else empty_i
    rest_s = np.concatenate(pl[1:]) if len(pl) > 1 else np.zeros(0)
    if n_sh:
        # shapely measured every pair with a pentagon piece: drop the other measurements of them
        is_odd = np.zeros(n, dtype=bool)
        is_odd[odd_idx] = True
        keep = np.ones(len(ri), dtype=bool)
        keep[: len(ri) - n_sh] = ~(is_odd[ri[: len(ri) - n_sh]] | is_odd[rj[: len(ri) - n_sh]])
        ri, rj, rest_s = ri[keep], rj[keep], rest_s[keep]
    if len(ri):
        # merge duplicates (a multi-part piece may meet a neighbour on two stretches of an edge)
        frame = pd.DataFrame({"i": ri, "j": rj, "s": rest_s}).groupby(["i", "j"], sort=True)["s"].sum()
        ri = frame.index.get_level_values(0).to_numpy(dtype=np.int64)
        rj = frame.index.get_level_values(1).to_numpy(dtype=np.int64)
        rest_s = frame.to_numpy(dtype=np.float64)
        pos = rest_s > NOISE_LENGTH_M
        ri, rj, rest_s = ri[pos], rj[pos], rest_s[pos]
    n_simple = len(si)
    i = np.concatenate([si, ri])
    j = np.concatenate([sj, rj])
    # exposed boundary: every boundary part not shared with another piece; edges simply shared
    # by two whole hexagons cancel out and need no measuring
    base = np.zeros(n, dtype=np.float64)
    base[slow] = perimeter[slow]
    if m_fast:
        nsl = np.flatnonzero(~np.isnan(edge_len))
        np.add.at(base, fidx[nsl // 6], edge_len[nsl])
    tot = np.zeros(n, dtype=np.float64)
    np.add.at(tot, ri, rest_s)
    np.add.at(tot, rj, rest_s)
    exposed = np.maximum(base - tot, 0.0)
    exposed[exposed < NOISE_LENGTH_M] = 0.0
    perimeter_slow = np.zeros(n, dtype=np.float64)
    perimeter_slow[slow] = perimeter[slow]
    return PieceGraph(i, j, exposed, n_simple, simple_rec, rest_s, fx, fy, fidx.astype(np.int64), perimeter_slow)


def _shapely_pairs(pieces: pd.DataFrame, geoms: NDArray[np.object_], odd_idx: NDArray[np.int64],
                   cells: NDArray[np.object_], fast: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Shared lengths of every pair involving one of ``odd_idx`` (shapely, snap-rounded)."""
    from gridmgr import _h3

    n = len(geoms)
    all_cells = cells if len(cells) else _str_values(pieces["cell"])
    odd_cells = np.unique(all_cells[odd_idx])
    ring = _h3.cells_to_str(_h3.grid_disk(_h3.str_to_cells(odd_cells), 1))
    ring = ring[pd.Index(ring).isin(all_cells)]
    pos = pd.DataFrame({"cell": all_cells, "p": np.arange(n, dtype=np.int64)})
    pos = pos[pos["cell"].isin(ring)]
    cand = pos.merge(pos, on="cell", suffixes=("a", "b"))  # same cell
    ci, cj = _h3.neighbour_pairs(_h3.str_to_cells(ring))
    cp = pd.DataFrame({"ca": ring[ci], "cb": ring[cj]})
    nb = cp.merge(pos.rename(columns={"cell": "ca", "p": "pa"}), on="ca").merge(
        pos.rename(columns={"cell": "cb", "p": "pb"}), on="cb")
    a = np.concatenate([cand["pa"].to_numpy(dtype=np.int64), nb["pa"].to_numpy(dtype=np.int64)])
    b = np.concatenate([cand["pb"].to_numpy(dtype=np.int64), nb["pb"].to_numpy(dtype=np.int64)])
    is_odd = np.zeros(n, dtype=bool)
    is_odd[odd_idx] = True
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = (lo != hi) & (is_odd[lo] | is_odd[hi])
    if not keep.any():
        e = np.empty(0, dtype=np.int64)
        return e, e, np.zeros(0)
    pairs = np.unique(np.column_stack([lo[keep], hi[keep]]), axis=0)
    bnd = shapely.boundary(geoms[np.unique(pairs)])
    lookup = np.full(n, -1, dtype=np.int64)
    lookup[np.unique(pairs)] = np.arange(len(bnd))
    inter = shapely.intersection(bnd[lookup[pairs[:, 0]]], bnd[lookup[pairs[:, 1]]], grid_size=_SNAP_DEG)
    length = _lines_length(np.asarray(inter, dtype=object))
    return pairs[:, 0], pairs[:, 1], length


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------

_UNASSIGNED, _INACTIVE, _FALLBACK, _OK = 0, 1, 2, 3


def _leaders_frame(leaders: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["id", "name", "role", "department", "capacity", "active", "unit_packages", "place_packages"]
    if leaders is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    if "id" not in leaders.columns:
        raise InvalidFieldError("leaders: column 'id' is missing; see docs/architecture.md (leaders)")
    out = pd.DataFrame({"id": leaders["id"].astype(str).to_numpy(dtype=object)})
    out["name"] = leaders["name"].astype(str).to_numpy() if "name" in leaders else out["id"]
    out["role"] = leaders["role"].astype(str).to_numpy() if "role" in leaders else "grid_leader"
    out["department"] = leaders["department"].to_numpy(dtype=object) if "department" in leaders else None
    cap = pd.to_numeric(leaders["capacity"], errors="coerce") if "capacity" in leaders else pd.Series(1.0, index=leaders.index)
    out["capacity"] = cap.fillna(1.0).to_numpy(dtype=float)
    out["active"] = leaders["active"].fillna(False).astype(bool).to_numpy() if "active" in leaders else True
    for c in ("unit_packages", "place_packages"):
        vals = leaders[c].tolist() if c in leaders else [None] * len(leaders)
        out[c] = [_as_list(v) for v in vals]
    if not pd.Index(out["id"]).is_unique:
        dup = out["id"][out["id"].duplicated()].unique().tolist()[:5]
        raise InvalidFieldError(f"leaders: duplicate id(s) {dup}; leader ids must be unique")
    return out


def _packages_frame(leaders: pd.DataFrame, packages: pd.DataFrame | None) -> pd.DataFrame:
    """Packages as rows ``leader_id, kind ('unit'|'place'), target``."""
    if packages is not None:
        missing = {"leader_id", "kind", "target"} - set(packages.columns)
        if missing:
            raise InvalidFieldError(f"packages: column(s) {sorted(missing)} missing; need leader_id, kind, target")
        return pd.DataFrame({
            "leader_id": packages["leader_id"].astype(str).to_numpy(dtype=object),
            "kind": packages["kind"].astype(str).to_numpy(dtype=object),
            "target": packages["target"].astype(str).to_numpy(dtype=object),
        })
    rows: list[tuple[str, str, str]] = []
    for lid, ups, pps in zip(leaders["id"], leaders["unit_packages"], leaders["place_packages"], strict=True):
        rows.extend((lid, "unit", u) for u in ups)
        rows.extend((lid, "place", p) for p in pps)
    return pd.DataFrame(rows, columns=["leader_id", "kind", "target"])


class _PieceKeys:
    """Piece keys for findings (store ids, or ``cell@unit`` for frames without ids), made only
    for the pieces a finding names."""

    def __init__(self, pieces: pd.DataFrame) -> None:
        self._ids = pieces["id"].to_numpy() if "id" in pieces else None
        self._cells = None if self._ids is not None else _str_values(pieces["cell"])
        self._units = None if self._ids is not None else _str_values(pieces["unit_code"])

    def __getitem__(self, sel: NDArray[np.int64]) -> list[str]:
        if self._ids is not None:
            return [str(v) for v in self._ids[sel]]
        assert self._cells is not None and self._units is not None
        return [f"{c}@{u}" for c, u in zip(self._cells[sel], self._units[sel], strict=True)]


def _multipolygon(geoms: NDArray[np.object_]) -> shapely.Geometry:
    parts = shapely.get_parts(geoms)
    parts = parts[shapely.get_type_id(parts) == 3]
    if len(parts) == 1:
        return parts[0]
    return shapely.multipolygons(parts)


def _group_findings(kind: str, mask: NDArray[np.bool_], unit_idx: NDArray[np.int64], leader_idx: NDArray[np.int64],
                    h: _Hier, leaders: pd.DataFrame, geoms: NDArray[np.object_], area: NDArray[np.float64],
                    piece_keys: _PieceKeys, extra: Mapping[str, Any] | None = None) -> list[Finding]:
    """One finding per (lowest unit, leader) of the pieces in ``mask``."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    u, lv = unit_idx[idx], leader_idx[idx]
    order = np.lexsort((lv, u))
    idx, u, lv = idx[order], u[order], lv[order]
    brk = np.flatnonzero((u[1:] != u[:-1]) | (lv[1:] != lv[:-1])) + 1
    out = []
    for grp in np.split(idx, brk):
        ui, li = int(unit_idx[grp[0]]), int(leader_idx[grp[0]])
        detail: dict[str, Any] = {"pieces": piece_keys[grp]}
        if extra:
            detail.update(extra)
        out.append(_finding(
            kind,
            unit_code=str(h.codes[ui]) if ui >= 0 else None,
            count=len(grp),
            area_m2=float(area[grp].sum()),
            geometry=_multipolygon(geoms[grp]),
            leader_id=str(leaders["id"].iat[li]) if li >= 0 else None,
            detail=detail,
        ))
    return out


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
        Workload weights (``gridmgr.workload``), e.g. ``"area=1,key_places=5"``.
    thresholds
        Warning thresholds (:class:`Thresholds`).

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> from gridmgr.grid import pieces_from_units
    >>> u = gpd.GeoDataFrame({"code": ["C"], "name": ["c"], "level": ["community"], "parent": [None]},
    ...     geometry=[box(125.30, 43.80, 125.31, 43.81)], crs="EPSG:4326")
    >>> p = pieces_from_units(u, res=9)
    >>> rep = coverage_from_frames(u, p, None)
    >>> rep.summary["blind_spot_pieces"] == len(p)
    True
    """
    from gridmgr.units import area_m2 as _area_m2
    from gridmgr.units import check_hierarchy

    th = thresholds or Thresholds()
    w = parse_weights(weights)
    h = _hierarchy(units)
    n_units = len(h.codes)
    if scope is not None:
        scope = str(scope)
        if scope not in h.index:
            raise UnitNotFoundError(f"coverage --scope {scope!r}: no such unit; give a unit code from the units layer")
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
    is_pkg_role = (L["role"].to_numpy(dtype=object) == "package_leader")
    capacity = L["capacity"].to_numpy(dtype=float)
    P = _packages_frame(L, packages)

    findings: list[Finding] = []

    # ---- pieces in scope -----------------------------------------------------------------
    punit_all = np.asarray(h.index.get_indexer(_str_values(pieces["unit_code"])), dtype=np.int64)
    orphan = punit_all < 0
    orphan_area = float(pieces["area_m2"].to_numpy(dtype=float)[orphan].sum()) if orphan.any() else 0.0
    if orphan.any() and root_scope:
        og = np.asarray(pieces.geometry.values, dtype=object)[orphan]
        codes_o = sorted(set(pieces["unit_code"].astype(str)[orphan]))
        findings.append(_finding("orphan_pieces", unit_code=None, count=int(orphan.sum()), area_m2=orphan_area,
                                 geometry=_multipolygon(og), detail={"unit_codes": codes_o}))
    keep = ~orphan
    keep[keep] = lowest_in[punit_all[keep]]
    pcs = pieces[keep]
    n = len(pcs)
    punit = punit_all[keep]
    geoms = np.asarray(pcs.geometry.values, dtype=object)
    parea = pcs["area_m2"].to_numpy(dtype=float)
    pkeys = _PieceKeys(pcs)
    raw_lid = pcs["leader_id"] if "leader_id" in pcs else pd.Series([None] * n, index=pcs.index, dtype=object)
    no_leader = _null(raw_lid)
    holder = np.asarray(lid_index.get_indexer(_str_values(raw_lid)), dtype=np.int64)
    holder[no_leader] = -1
    unknown_leader = ~no_leader & (holder < 0)
    flag_fb = pcs["fallback"].fillna(False).to_numpy(dtype=bool) if "fallback" in pcs else np.zeros(n, dtype=bool)
    active_holder = (holder >= 0) & active[np.maximum(holder, 0)] if n_lead else np.zeros(n, dtype=bool)

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
        m = pd.DataFrame({"l": upk_l, "a": upk_u}).merge(pd.DataFrame({"a": a_anc, "low": a_low}), on="a")
        allowed[m["l"].to_numpy(dtype=np.int64), m["low"].to_numpy(dtype=np.int64)] = True
    misplaced = active_holder & ~allowed[np.maximum(holder, 0), punit] if n else np.zeros(0, dtype=bool)

    fb_leader = np.full(n, -1, dtype=np.int64)
    fb_leader[active_holder] = holder[active_holder]
    if rescued.any():
        first_pkg = np.full(n_units, -1, dtype=np.int64)
        for ui in range(n_units):
            if unit_pkg_leaders[ui]:
                first_pkg[ui] = int(lid_index.get_loc(min(unit_pkg_leaders[ui])))
        fb_leader[rescued] = first_pkg[pcomm[rescued]]
    findings += _group_findings("unassigned", status == _UNASSIGNED, punit, np.full(n, -1), h, L, geoms, parea, pkeys)
    findings += _group_findings("inactive_leader", status == _INACTIVE, punit, holder, h, L, geoms, parea, pkeys,
                                extra=None)
    if unknown_leader.any():
        unknown_ids = sorted(set(raw_lid.astype(str).to_numpy()[unknown_leader]))
        for f in findings:
            if f.kind == "inactive_leader" and f.leader_id is None:
                f.detail["unknown_leader_ids"] = unknown_ids  # type: ignore[index]
    findings += _group_findings("fallback", status == _FALLBACK, punit, fb_leader, h, L, geoms, parea, pkeys)
    findings += _group_findings("misplaced", misplaced, punit, holder, h, L, geoms, parea, pkeys)

    blind = (status == _UNASSIGNED) | (status == _INACTIVE)
    covered = ~blind & ~misplaced

    # ---- dead corners ---------------------------------------------------------------------
    hrep = check_hierarchy(units[in_scope])
    dead_unit = np.zeros(n_units, dtype=np.float64)
    overlap_unit = np.zeros(n_units, dtype=np.float64)
    for frame, kind in ((hrep.gaps, "jurisdiction_gap"), (hrep.overlaps, "unit_overlap"), (hrep.outside, "unit_outside_parent")):
        for rec, g in zip(frame.drop(columns="geometry").to_dict(orient="records"), frame.geometry.values, strict=True):
            code = str(rec.get("code") or rec["parent"]) if kind == "unit_outside_parent" else str(rec["parent"])
            detail: dict[str, Any] = {"codes": str(rec["codes"]).split(",")} if kind == "unit_overlap" else {}
            if kind == "unit_outside_parent":
                detail = {"parent": str(rec["parent"])}
            findings.append(_finding(kind, unit_code=code, count=1, area_m2=float(rec["area_m2"]), geometry=g, detail=detail))
            ui = int(h.index.get_loc(str(rec["parent"])))
            if kind == "jurisdiction_gap":
                dead_unit[ui] += float(rec["area_m2"])
            elif kind == "unit_overlap":
                overlap_unit[ui] += float(rec["area_m2"])
    piece_sum = np.bincount(punit, weights=parea, minlength=n_units).astype(np.float64) if n else np.zeros(n_units)
    np.bincount(punit, minlength=n_units) if n else np.zeros(n_units, dtype=np.int64)
    tol = np.maximum(1e-6 * unit_area, 0.01)
    stale = np.flatnonzero(lowest_in & (np.abs(unit_area - piece_sum) > tol))
    unpieced_total = 0.0
    if len(stale):
        order = np.argsort(punit, kind="stable")
        bounds = np.searchsorted(punit[order], np.arange(n_units + 1))
        for ui in stale:
            sel = order[bounds[ui]:bounds[ui + 1]]
            union = shapely.union_all(geoms[sel]) if len(sel) else shapely.Polygon()
            diff = shapely.difference(unit_geoms[ui], union)
            diff_parts = shapely.get_parts(diff)
            diff_parts = diff_parts[shapely.get_type_id(diff_parts) == 3]
            a = float(_area_m2(diff_parts).sum()) if len(diff_parts) else 0.0
            if a >= NOISE_AREA_M2:
                findings.append(_finding("unpieced_area", unit_code=str(h.codes[ui]), count=1, area_m2=a,
                                         geometry=_multipolygon(diff_parts),
                                         detail={"unit_area_m2": _r(unit_area[ui]), "piece_area_m2": _r(piece_sum[ui])}))
                dead_unit[ui] += a
                unpieced_total += a

    # ---- key places ------------------------------------------------------------------------
    kp_rows = _key_place_checks(key_places, categories, P, pcs, geoms, punit, h, lowest_in, root_scope,
                                L, lid_index, active, blind, unit_geoms)
    kp_piece, kp_unit, kp_frame, kp_findings = kp_rows
    findings += kp_findings

    # ---- packages ----------------------------------------------------------------------------
    need_pkg = in_scope & np.isin(h.levels, ["street", "community"])
    for ui in np.flatnonzero(need_pkg & ~has_pkg):
        findings.append(_finding("unit_without_package_leader", unit_code=str(h.codes[ui]), count=1,
                                 area_m2=float(unit_area[ui]), geometry=unit_geoms[ui],
                                 detail={"level": str(h.levels[ui])}))
    held = np.bincount(holder[holder >= 0], minlength=n_lead) if n_lead else np.zeros(0, dtype=np.int64)
    kp_pkg = set(kp_frame["package_leader_id"].dropna().astype(str)) if kp_frame is not None and "package_leader_id" in kp_frame else set()
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
                findings.append(_finding("leader_without_duty", unit_code=None, count=1,
                                         leader_id=str(L["id"].iat[li]),
                                         detail={"role": str(L["role"].iat[li]), "name": str(L["name"].iat[li])}))

    # ---- shape ---------------------------------------------------------------------------------
    graph = piece_graph(pcs)
    territory = np.where(active_holder & ~flag_fb, holder, -1)
    shape_rows, shape_findings = _shape(graph, territory, parea, geoms, L, th, punit, h, pkeys)
    findings += shape_findings

    # ---- workload --------------------------------------------------------------------------------
    kp_pos = kp_piece[kp_piece >= 0] if kp_piece is not None else np.empty(0, dtype=np.int64)
    loads = piece_loads(pd.DataFrame({"area_m2": parea, "id": np.arange(n)}),
                        pd.DataFrame({"piece_id": kp_pos}), w) if n else np.zeros(0)
    wl_rows, wl_unit, wl_findings = _workload(loads, holder, flag_fb, active, is_pkg_role, capacity, L, h, punit,
                                              in_scope, th, upk_l, upk_u, leader_rel, parea)
    findings += wl_findings

    # ---- per-unit rows --------------------------------------------------------------------------
    def per_lowest(mask: NDArray[np.bool_], weights_: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        if not n:
            return np.zeros(n_units)
        return np.bincount(punit[mask], weights=None if weights_ is None else weights_[mask], minlength=n_units).astype(float)

    cov_area = _rollup(h, per_lowest(covered, parea))
    rows = pd.DataFrame({
        "code": h.codes, "name": h.names, "level": h.levels,
        "parent": [str(h.codes[p]) if p >= 0 else None for p in h.parents],
        "area_m2": unit_area,
        "pieces": _rollup(h, per_lowest(np.ones(n, dtype=bool))).astype(np.int64),
        "piece_area_m2": _rollup(h, piece_sum),
        "covered_area_m2": cov_area,
        "coverage_pct": np.where(unit_area > 0, 100.0 * cov_area / np.where(unit_area > 0, unit_area, 1.0), 0.0),
        "blind_spot_pieces": _rollup(h, per_lowest(blind)).astype(np.int64),
        "blind_spot_area_m2": _rollup(h, per_lowest(blind, parea)),
        "fallback_pieces": _rollup(h, per_lowest(status == _FALLBACK)).astype(np.int64),
        "fallback_area_m2": _rollup(h, per_lowest(status == _FALLBACK, parea)),
        "misplaced_pieces": _rollup(h, per_lowest(misplaced)).astype(np.int64),
        "dead_corner_area_m2": _to_ancestors(h, dead_unit),
        "overlap_area_m2": _to_ancestors(h, overlap_unit),
    })
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
    for c in ("area_m2", "piece_area_m2", "covered_area_m2", "blind_spot_area_m2", "fallback_area_m2",
              "dead_corner_area_m2", "overlap_area_m2"):
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
    findings.sort(key=lambda f: (_SEVERITY_RANK[f.severity], -f.area_m2, -f.count, f.kind, f.unit_code or "", f.leader_id or "", f.place_code or ""))

    def cnt(kind: str) -> int:
        return int(sum(f.count for f in findings if f.kind == kind))

    def area(kind: str) -> float:
        return float(sum(f.area_m2 for f in findings if f.kind == kind))

    summary: dict[str, Any] = {
        "jurisdiction_area_m2": _r(juris_area),
        "pieces": int(n),
        "piece_area_m2": _r(parea.sum() if n else 0.0),
        "covered_area_m2": _r(parea[covered].sum() if n else 0.0),
        "coverage_pct": _r(100.0 * parea[covered].sum() / juris_area if juris_area > 0 and n else 0.0, 4),
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
        "streets_without_package_leader": int(sum(1 for f in findings if f.kind == "unit_without_package_leader" and f.detail.get("level") == "street")),
        "communities_without_package_leader": int(sum(1 for f in findings if f.kind == "unit_without_package_leader" and f.detail.get("level") == "community")),
        "leaders_without_duty": cnt("leader_without_duty"),
        "fragmented_leaders": int(sum(1 for f in findings if f.kind == "fragmented_territory")),
        "enclaves": int(sum(1 for f in findings if f.kind == "enclave")),
        "low_compactness_leaders": int(sum(1 for f in findings if f.kind == "low_compactness")),
        "min_compactness": _r(float(np.nanmin(leaders_rows["compactness"])) if len(leaders_rows) and leaders_rows["compactness"].notna().any() else float("nan"), 6),
        "max_load_ratio": _r(float(np.nanmax(wl_unit["max_load_ratio"][lvl_mask])) if np.isfinite(wl_unit["max_load_ratio"][lvl_mask]).any() else float("nan"), 6),
        "max_load_per_capacity": _r(float(leaders_rows["load_per_capacity"].max()) if len(leaders_rows) and leaders_rows["load_per_capacity"].notna().any() else float("nan"), 6),
        "overloaded_leaders": cnt("overloaded_leader"),
        "idle_leaders": cnt("idle_leader"),
        "active_leaders": int(active[leader_rel].sum()) if n_lead else 0,
        "gaps": int(sum(1 for f in findings if f.severity == GAP)),
        "warnings": int(sum(1 for f in findings if f.severity == WARNING)),
    }
    summary["has_gaps"] = summary["gaps"] > 0
    return CoverageReport(scope=scope, weights=w, thresholds=th, summary=summary, units=rows,
                          leaders=leaders_rows, findings=tuple(findings))


def _key_place_checks(
    key_places: gpd.GeoDataFrame | None, categories: pd.DataFrame | None, P: pd.DataFrame,
    pcs: gpd.GeoDataFrame, geoms: NDArray[np.object_], punit: NDArray[np.int64], h: _Hier,
    lowest_in: NDArray[np.bool_], root_scope: bool, L: pd.DataFrame, lid_index: pd.Index,
    active: NDArray[np.bool_], blind: NDArray[np.bool_], unit_geoms: NDArray[np.object_],
) -> tuple[NDArray[np.int64] | None, NDArray[np.int64] | None, pd.DataFrame | None, list[Finding]]:
    """Locate key places in pieces and check leader, department, package leader, jurisdiction."""
    from gridmgr import _h3

    if key_places is None or len(key_places) == 0:
        return None, None, None, []
    kp = key_places.reset_index(drop=True)
    m = len(kp)
    pts = shapely.point_on_surface(np.asarray(kp.geometry.values, dtype=object))
    n = len(pcs)
    piece = np.full(m, -1, dtype=np.int64)
    if n:
        if "piece_id" in kp and "id" in pcs:
            pid = kp["piece_id"]
            ok = pid.notna().to_numpy()
            piece[ok] = pd.Index(pcs["id"]).get_indexer(pid[ok].astype(pcs["id"].dtype))
        else:
            res = _h3.cell_res(str(pcs["cell"].iat[0]))
            cell = _h3.cells_to_str(_h3.latlng_to_cell(shapely.get_x(pts), shapely.get_y(pts), res=res))
            cand = pd.DataFrame({"k": np.arange(m), "cell": cell}).merge(
                pd.DataFrame({"cell": _str_values(pcs["cell"]), "p": np.arange(n)}), on="cell")
            k = cand["k"].to_numpy(dtype=np.int64)
            p = cand["p"].to_numpy(dtype=np.int64)
            hit = shapely.intersects(geoms[p], pts[k]) if len(k) else np.zeros(0, dtype=bool)
            k, p = k[hit], p[hit]
            first = np.unique(k, return_index=True)[1]
            piece[k[first]] = p[first]
    if "unit_code" in kp:
        uc = kp["unit_code"]
        unit = np.asarray(h.index.get_indexer(uc.astype(str)), dtype=np.int64)
        unit[_null(uc)] = -1
    else:
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
    inside = unit >= 0
    sel = (inside & lowest_in[np.maximum(unit, 0)]) | (~inside & root_scope)
    kp, pts, piece, unit = kp[sel].reset_index(drop=True), pts[sel], piece[sel], unit[sel]
    m = len(kp)
    codes = kp["code"].astype(str).to_numpy(dtype=object) if "code" in kp else np.arange(m).astype(str).astype(object)
    cats = kp["category"].astype(str).to_numpy(dtype=object) if "category" in kp else np.full(m, "", dtype=object)
    dept: dict[str, Any] = {}
    req: dict[str, bool] = {}
    if categories is not None and len(categories):
        for c, d, r in zip(categories["category"].astype(str),
                           categories["department"] if "department" in categories else [None] * len(categories),
                           categories["requires_package_leader"] if "requires_package_leader" in categories else [False] * len(categories),
                           strict=True):
            dept[c] = None if (d is None or (isinstance(d, float) and math.isnan(d)) or str(d).strip() == "") else str(d)
            req[c] = bool(r) if r is not None and not (isinstance(r, float) and math.isnan(r)) else False
    # places with an active package leader (place packages, or the place's package_leader_id)
    ppk = P[P["kind"] == "place"]
    pl_l = np.asarray(lid_index.get_indexer(ppk["leader_id"]), dtype=np.int64)
    ok_l = (pl_l >= 0) & active[np.maximum(pl_l, 0)] if len(pl_l) else np.zeros(0, dtype=bool)
    targets = ppk["target"].to_numpy(dtype=object)[ok_l]
    has_pkg = np.asarray(pd.Index(codes).isin(targets), dtype=bool) if m else np.zeros(0, dtype=bool)
    if "package_leader_id" in kp and m:
        li = np.asarray(lid_index.get_indexer(_str_values(kp["package_leader_id"])), dtype=np.int64)
        has_pkg |= (li >= 0) & active[np.maximum(li, 0)]
    outside = unit < 0
    without_leader = ~outside & ((piece < 0) | blind[np.maximum(piece, 0)]) if m else np.zeros(0, dtype=bool)
    if m and not len(blind):
        without_leader = ~outside
    no_dept = ~outside & np.array([dept.get(str(c)) is None for c in cats], dtype=bool)
    need_pkg = ~outside & np.array([req.get(str(c), False) for c in cats], dtype=bool) & ~has_pkg
    findings: list[Finding] = []
    geoms_kp = np.asarray(kp.geometry.values, dtype=object)
    names = _str_values(kp["name"]) if "name" in kp else codes
    for kind, mask in (("place_outside", outside), ("place_without_leader", without_leader),
                       ("place_without_department", no_dept), ("place_without_package_leader", need_pkg)):
        for i in np.flatnonzero(mask):
            detail: dict[str, Any] = {"name": str(names[i]), "category": str(cats[i])}
            if kind == "place_without_department":
                detail["known_category"] = str(cats[i]) in dept
            findings.append(_finding(kind, unit_code=str(h.codes[unit[i]]) if unit[i] >= 0 else None, count=1,
                                     geometry=geoms_kp[i], place_code=str(codes[i]), detail=detail))
    out = pd.DataFrame({"code": codes, "_without_leader": without_leader})
    out["package_leader_id"] = kp["package_leader_id"].to_numpy(dtype=object) if "package_leader_id" in kp else None
    return piece, unit, out, findings


def _shape(graph: PieceGraph, territory: NDArray[np.int64], parea: NDArray[np.float64], geoms: NDArray[np.object_],
           L: pd.DataFrame, th: Thresholds, punit: NDArray[np.int64], h: _Hier,
           pkeys: _PieceKeys) -> tuple[pd.DataFrame, list[Finding]]:
    """Contiguity, enclaves and Polsby–Popper compactness of every territory (no dissolve)."""
    n = len(territory)
    n_lead = len(L)
    ids = L["id"].to_numpy(dtype=object)
    rows = pd.DataFrame({"id": ids})
    findings: list[Finding] = []
    if n == 0 or n_lead == 0:
        for c in ("territory_pieces", "parts", "enclaves"):
            rows[c] = 0
        for c in ("territory_area_m2", "perimeter_m", "compactness"):
            rows[c] = np.nan
        return rows, findings
    ti, tj = territory[graph.i], territory[graph.j]
    internal = (ti == tj) & (ti >= 0)
    _, label = connected_components(graph.csr(n, internal), directed=False)
    label = np.asarray(label, dtype=np.int64)
    own = territory >= 0
    t_area = np.bincount(territory[own], weights=parea[own], minlength=n_lead).astype(np.float64)
    t_count = np.bincount(territory[own], minlength=n_lead)
    # perimeter of the dissolved territory = its exposed boundary + what it shares with others
    perim = np.bincount(territory[own], weights=graph.exposed_m[own], minlength=n_lead).astype(np.float64)
    cross = ~internal
    cross_len = graph.shared_for(cross)
    ci, cj = ti[cross], tj[cross]
    perim += np.bincount(ci[ci >= 0], weights=cross_len[ci >= 0], minlength=n_lead)
    perim += np.bincount(cj[cj >= 0], weights=cross_len[cj >= 0], minlength=n_lead)
    comp = np.full(n_lead, np.nan)
    ok = (t_count > 0) & (perim > 0)
    comp[ok] = 4.0 * math.pi * t_area[ok] / perim[ok] ** 2
    # components of each territory
    n_lab = int(label.max()) + 1
    lab_owner = np.full(n_lab, -1, dtype=np.int64)
    lab_owner[label[own]] = territory[own]
    lab_area = np.bincount(label, weights=parea, minlength=n_lab).astype(np.float64)
    lab_size = np.bincount(label, minlength=n_lab)
    lab_exposed = np.bincount(label, weights=graph.exposed_m, minlength=n_lab).astype(np.float64)
    owned_labels = np.flatnonzero(lab_owner >= 0)
    parts = np.bincount(lab_owner[owned_labels], minlength=n_lead)
    # neighbours across territory borders, per component
    li_, lj_ = label[graph.i[cross]], label[graph.j[cross]]
    nb_of = np.concatenate([li_, lj_])
    nb_t = np.concatenate([tj[cross], ti[cross]])
    big = np.iinfo(np.int64).max
    nb_min = np.full(n_lab, big, dtype=np.int64)
    nb_max = np.full(n_lab, -2, dtype=np.int64)
    np.minimum.at(nb_min, nb_of, nb_t)
    np.maximum.at(nb_max, nb_of, nb_t)
    enclave = (lab_owner >= 0) & (nb_min == nb_max) & (nb_min >= 0) & (lab_exposed <= 0)
    enclaves_per = np.bincount(lab_owner[enclave], minlength=n_lead)
    # largest part per leader (by area) → the other parts are the fragments
    order = np.lexsort((-lab_area[owned_labels], lab_owner[owned_labels]))
    ol = owned_labels[order]
    first_of = np.r_[True, lab_owner[ol][1:] != lab_owner[ol][:-1]] if len(ol) else np.zeros(0, dtype=bool)
    main_label = np.full(n_lead, -1, dtype=np.int64)
    main_label[lab_owner[ol][first_of]] = ol[first_of]
    piece_order = np.argsort(label, kind="stable")
    lab_bounds = np.searchsorted(label[piece_order], np.arange(n_lab + 1))

    def pieces_of(labels: Iterable[int]) -> NDArray[np.int64]:
        return np.concatenate([piece_order[lab_bounds[lb]:lab_bounds[lb + 1]] for lb in labels])

    def unit_of(sel: NDArray[np.int64]) -> str | None:
        us = np.unique(h.community[punit[sel]])
        return str(h.codes[us[0]]) if len(us) == 1 else None

    for li in np.flatnonzero(parts > 1):
        frag_labels = [int(lb) for lb in ol[lab_owner[ol] == li] if lb != main_label[li]]
        sel = pieces_of(frag_labels)
        findings.append(_finding(
            "fragmented_territory", unit_code=unit_of(sel), count=int(parts[li]),
            area_m2=float(parea[sel].sum()), geometry=_multipolygon(geoms[sel]), leader_id=str(ids[li]),
            detail={"parts": int(parts[li]), "detached_pieces": len(sel),
                    "part_sizes": sorted((int(lab_size[lb]) for lb in ol[lab_owner[ol] == li]), reverse=True)}))
    for lb in np.flatnonzero(enclave):
        sel = pieces_of([int(lb)])
        findings.append(_finding(
            "enclave", unit_code=unit_of(sel), count=int(lab_size[lb]), area_m2=float(lab_area[lb]),
            geometry=_multipolygon(geoms[sel]), leader_id=str(ids[lab_owner[lb]]),
            detail={"surrounded_by": str(ids[nb_min[lb]]), "pieces": pkeys[sel]}))
    low = np.flatnonzero(ok & (comp < th.min_compactness))
    if len(low):
        for li in low:
            sel = np.flatnonzero(territory == li)
            findings.append(_finding(
                "low_compactness", unit_code=unit_of(sel), count=int(t_count[li]), area_m2=float(t_area[li]),
                geometry=_multipolygon(geoms[sel]), leader_id=str(ids[li]),
                detail={"compactness": _r(comp[li], 6), "perimeter_m": _r(perim[li]),
                        "threshold": th.min_compactness}))
    rows["territory_pieces"] = t_count.astype(np.int64)
    rows["territory_area_m2"] = [_r(a) for a in t_area]
    rows["perimeter_m"] = [_r(p) if c > 0 else np.nan for p, c in zip(perim, t_count, strict=True)]
    rows["parts"] = parts.astype(np.int64)
    rows["compactness"] = [_r(c, 6) if np.isfinite(c) else np.nan for c in comp]
    rows["enclaves"] = enclaves_per.astype(np.int64)
    return rows, findings


def _workload(
    loads: NDArray[np.float64], holder: NDArray[np.int64], flag_fb: NDArray[np.bool_], active: NDArray[np.bool_],
    is_pkg_role: NDArray[np.bool_], capacity: NDArray[np.float64], L: pd.DataFrame, h: _Hier,
    punit: NDArray[np.int64], in_scope: NDArray[np.bool_], th: Thresholds, upk_l: NDArray[np.int64],
    upk_u: NDArray[np.int64], leader_rel: NDArray[np.bool_], parea: NDArray[np.float64],
) -> tuple[pd.DataFrame, dict[str, NDArray[np.float64]], list[Finding]]:
    """Loads against capacity; max/mean per unit; overloaded and idle leaders."""
    n_lead = len(L)
    n_units = len(h.codes)
    ids = L["id"].to_numpy(dtype=object)
    has = holder >= 0
    load = np.bincount(holder[has], weights=loads[has], minlength=n_lead).astype(np.float64)
    cnt = np.bincount(holder[has], minlength=n_lead)
    area = np.bincount(holder[has], weights=parea[has], minlength=n_lead).astype(np.float64)
    nonfb = has & ~flag_fb
    held_own = np.bincount(holder[nonfb], minlength=n_lead) if n_lead else np.zeros(0, dtype=np.int64)
    # home community: where most of the leader's load lies; else their first unit package
    home = np.full(n_lead, -1, dtype=np.int64)
    if has.any():
        g = pd.DataFrame({"l": holder[has], "c": h.community[punit[has]], "w": loads[has] + 1e-12})
        s = g.groupby(["l", "c"], sort=True)["w"].sum().reset_index()
        s = s.sort_values(["l", "w", "c"], ascending=[True, False, True], kind="stable").drop_duplicates("l")
        home[s["l"].to_numpy(dtype=np.int64)] = s["c"].to_numpy(dtype=np.int64)
    for li, ui in zip(upk_l, upk_u, strict=True):
        if home[li] < 0:
            home[li] = h.community[ui]
    pop = active & (~is_pkg_role | (held_own > 0)) & (home >= 0) & in_scope[np.maximum(home, 0)] if n_lead else np.zeros(0, dtype=bool)
    lpc = np.divide(load, capacity, out=np.zeros(n_lead), where=capacity > 0)
    sum_load = np.zeros(n_units)
    sum_cap = np.zeros(n_units)
    max_lpc = np.full(n_units, -np.inf)
    n_in = np.zeros(n_units)
    for li in np.flatnonzero(pop):
        for u in h.chains[int(home[li])]:
            sum_load[u] += load[li]
            sum_cap[u] += capacity[li]
            max_lpc[u] = max(max_lpc[u], lpc[li])
            n_in[u] += 1
    mean = np.divide(sum_load, sum_cap, out=np.full(n_units, np.nan), where=sum_cap > 0)
    max_lpc[n_in == 0] = np.nan
    ratio_u = np.divide(max_lpc, mean, out=np.full(n_units, np.nan), where=(mean > 0) & np.isfinite(max_lpc))
    ref = np.where(home >= 0, mean[np.maximum(home, 0)], np.nan)
    ratio = np.divide(lpc, ref, out=np.full(n_lead, np.nan), where=np.isfinite(ref) & (ref > 0))
    over = pop & np.isfinite(ratio) & (ratio > th.overload)
    idle = pop & ((load <= 0) | (np.isfinite(ratio) & (ratio < th.idle)))
    findings: list[Finding] = []
    for kind, mask in (("overloaded_leader", over), ("idle_leader", idle)):
        for li in np.flatnonzero(mask):
            findings.append(_finding(
                kind, unit_code=str(h.codes[home[li]]), count=1, area_m2=float(area[li]), leader_id=str(ids[li]),
                detail={"load": _r(load[li], 4), "capacity": _r(capacity[li], 4),
                        "load_per_capacity": _r(lpc[li], 6),
                        "community_mean": _r(ref[li], 6) if np.isfinite(ref[li]) else None,
                        "ratio": _r(ratio[li], 6) if np.isfinite(ratio[li]) else None}))
    status = np.where(over, "overloaded", np.where(idle, "idle", np.where(pop, "ok", "")))
    rows = pd.DataFrame({
        "id": ids, "name": L["name"].to_numpy(dtype=object), "role": L["role"].to_numpy(dtype=object),
        "active": active, "capacity": capacity, "pieces": cnt.astype(np.int64),
        "area_m2": [_r(a) for a in area], "load": [_r(x, 4) for x in load],
        "load_per_capacity": [_r(x, 6) for x in lpc],
        "home_unit": [str(h.codes[u]) if u >= 0 else None for u in home],
        "load_ratio": [_r(x, 6) if np.isfinite(x) else np.nan for x in ratio],
        "workload_status": status,
    })
    wl_unit = {
        "leaders": n_in.astype(np.int64),
        "max_load_per_capacity": np.array([_r(x, 6) if np.isfinite(x) else np.nan for x in max_lpc]),
        "mean_load_per_capacity": np.array([_r(x, 6) if np.isfinite(x) else np.nan for x in mean]),
        "max_load_ratio": np.array([_r(x, 6) if np.isfinite(x) else np.nan for x in ratio_u]),
    }
    return rows, wl_unit, findings


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
        raise UnitNotFoundError(f"coverage --scope {scope!r}: no such unit in the store; see `gridmgr units`")
    pieces = store.pieces(scope)
    key_places = store.key_places()
    categories = store.categories()
    leaders = store.leaders()
    return coverage_from_frames(units, pieces, leaders, key_places, categories, scope=scope, weights=weights,
                                thresholds=thresholds)


__all__: Sequence[str] = [
    "GAP",
    "GROUPS",
    "KINDS",
    "WARNING",
    "CoverageReport",
    "Finding",
    "PieceGraph",
    "Thresholds",
    "coverage_from_frames",
    "coverage_from_store",
    "piece_graph",
]
