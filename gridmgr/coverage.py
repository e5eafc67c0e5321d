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
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gridmgr._piece_graph import NOISE_LENGTH_M, PieceGraph, _str_values, piece_graph
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


def _null(values: pd.Series) -> NDArray[np.bool_]:
    arr = values.to_numpy(dtype=object)
    return np.asarray(pd.isna(values).to_numpy() | (arr == ""), dtype=bool)


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
