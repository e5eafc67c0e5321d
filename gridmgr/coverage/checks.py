"""The coverage checks, one group of findings at a time, on arrays of the report's frames.

Helpers of :func:`gridmgr.coverage.report.coverage_from_frames`: the unit hierarchy in index form and
roll-ups, the leader/package frames, blind-spot findings grouped per unit and leader, the key-place
checks, territory shape (perimeters, parts and enclaves from the piece graph, no dissolve) and
workload. Nothing here is public; the rules are in ``docs/coverage.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gridmgr.coverage.kinds import Finding, Thresholds, _finding, _r
from gridmgr.errors import InvalidFieldError
from gridmgr.grid.boundaries import str_values as _str_values
from gridmgr.grid.piece_graph import PieceGraph


def _as_list(value: Any) -> list[str]:
    """Normalise a package list cell (list, tuple, ndarray, ';'-separated str, None)."""
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    if isinstance(value, str):
        return [
            s.strip() for s in value.replace("；", ";").replace(",", ";").split(";") if s.strip()
        ]
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
    parents = np.asarray(
        index.get_indexer([str(p) if p is not None else "" for p in par]), dtype=np.int64
    )
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
    return _Hier(
        codes,
        names,
        levels,
        parents,
        lowest,
        index,
        (np.asarray(anc_a, dtype=np.int64), np.asarray(anc_l, dtype=np.int64)),
        community,
        chains,
    )


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
# Piece statuses, leaders and packages, blind-spot findings
# --------------------------------------------------------------------------------------------

_UNASSIGNED, _INACTIVE, _FALLBACK, _OK = 0, 1, 2, 3


def _leaders_frame(leaders: pd.DataFrame | None) -> pd.DataFrame:
    cols = [
        "id",
        "name",
        "role",
        "department",
        "capacity",
        "active",
        "unit_packages",
        "place_packages",
    ]
    if leaders is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    if "id" not in leaders.columns:
        raise InvalidFieldError(
            "leaders: column 'id' is missing; see docs/architecture.md (leaders)"
        )
    out = pd.DataFrame({"id": leaders["id"].astype(str).to_numpy(dtype=object)})
    out["name"] = leaders["name"].astype(str).to_numpy() if "name" in leaders else out["id"]
    out["role"] = leaders["role"].astype(str).to_numpy() if "role" in leaders else "grid_leader"
    out["department"] = (
        leaders["department"].to_numpy(dtype=object) if "department" in leaders else None
    )
    cap = (
        pd.to_numeric(leaders["capacity"], errors="coerce")
        if "capacity" in leaders
        else pd.Series(1.0, index=leaders.index)
    )
    out["capacity"] = cap.fillna(1.0).to_numpy(dtype=float)
    out["active"] = (
        leaders["active"].fillna(False).astype(bool).to_numpy() if "active" in leaders else True
    )
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
            raise InvalidFieldError(
                f"packages: column(s) {sorted(missing)} missing; need leader_id, kind, target"
            )
        return pd.DataFrame(
            {
                "leader_id": packages["leader_id"].astype(str).to_numpy(dtype=object),
                "kind": packages["kind"].astype(str).to_numpy(dtype=object),
                "target": packages["target"].astype(str).to_numpy(dtype=object),
            }
        )
    rows: list[tuple[str, str, str]] = []
    for lid, ups, pps in zip(
        leaders["id"], leaders["unit_packages"], leaders["place_packages"], strict=True
    ):
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


def _group_findings(
    kind: str,
    mask: NDArray[np.bool_],
    unit_idx: NDArray[np.int64],
    leader_idx: NDArray[np.int64],
    h: _Hier,
    leaders: pd.DataFrame,
    geoms: NDArray[np.object_],
    area: NDArray[np.float64],
    piece_keys: _PieceKeys,
    extra: Mapping[str, Any] | None = None,
) -> list[Finding]:
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
        out.append(
            _finding(
                kind,
                unit_code=str(h.codes[ui]) if ui >= 0 else None,
                count=len(grp),
                area_m2=float(area[grp].sum()),
                geometry=_multipolygon(geoms[grp]),
                leader_id=str(leaders["id"].iat[li]) if li >= 0 else None,
                detail=detail,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Key places, territory shape (from the piece graph), workload
# --------------------------------------------------------------------------------------------


def _key_place_checks(
    key_places: gpd.GeoDataFrame | None,
    categories: pd.DataFrame | None,
    P: pd.DataFrame,
    pcs: gpd.GeoDataFrame,
    geoms: NDArray[np.object_],
    punit: NDArray[np.int64],
    h: _Hier,
    lowest_in: NDArray[np.bool_],
    root_scope: bool,
    L: pd.DataFrame,
    lid_index: pd.Index,
    active: NDArray[np.bool_],
    blind: NDArray[np.bool_],
    unit_geoms: NDArray[np.object_],
) -> tuple[NDArray[np.int64] | None, NDArray[np.int64] | None, pd.DataFrame | None, list[Finding]]:
    """Locate key places in pieces and check leader, department, package leader, jurisdiction."""
    from gridmgr.grid import h3_adapter as _h3

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
            cell = _h3.cells_to_str(
                _h3.latlng_to_cell(shapely.get_x(pts), shapely.get_y(pts), res=res)
            )
            cand = pd.DataFrame({"k": np.arange(m), "cell": cell}).merge(
                pd.DataFrame({"cell": _str_values(pcs["cell"]), "p": np.arange(n)}), on="cell"
            )
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
    dept: dict[str, Any] = {}
    req: dict[str, bool] = {}
    if categories is not None and len(categories):
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
    # places with an active package leader (place packages, or the place's package_leader_id)
    ppk = P[P["kind"] == "place"]
    pl_l = np.asarray(lid_index.get_indexer(ppk["leader_id"]), dtype=np.int64)
    ok_l = (pl_l >= 0) & active[np.maximum(pl_l, 0)] if len(pl_l) else np.zeros(0, dtype=bool)
    targets = ppk["target"].to_numpy(dtype=object)[ok_l]
    has_pkg = (
        np.asarray(pd.Index(codes).isin(targets), dtype=bool) if m else np.zeros(0, dtype=bool)
    )
    if "package_leader_id" in kp and m:
        li = np.asarray(lid_index.get_indexer(_str_values(kp["package_leader_id"])), dtype=np.int64)
        has_pkg |= (li >= 0) & active[np.maximum(li, 0)]
    outside = unit < 0
    without_leader = (
        ~outside & ((piece < 0) | blind[np.maximum(piece, 0)]) if m else np.zeros(0, dtype=bool)
    )
    if m and not len(blind):
        without_leader = ~outside
    no_dept = ~outside & np.array([dept.get(str(c)) is None for c in cats], dtype=bool)
    need_pkg = ~outside & np.array([req.get(str(c), False) for c in cats], dtype=bool) & ~has_pkg
    findings: list[Finding] = []
    geoms_kp = np.asarray(kp.geometry.values, dtype=object)
    names = _str_values(kp["name"]) if "name" in kp else codes
    for kind, mask in (
        ("place_outside", outside),
        ("place_without_leader", without_leader),
        ("place_without_department", no_dept),
        ("place_without_package_leader", need_pkg),
    ):
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
    out = pd.DataFrame({"code": codes, "_without_leader": without_leader})
    out["package_leader_id"] = (
        kp["package_leader_id"].to_numpy(dtype=object) if "package_leader_id" in kp else None
    )
    return piece, unit, out, findings


def _shape(
    graph: PieceGraph,
    territory: NDArray[np.int64],
    parea: NDArray[np.float64],
    geoms: NDArray[np.object_],
    L: pd.DataFrame,
    th: Thresholds,
    punit: NDArray[np.int64],
    h: _Hier,
    pkeys: _PieceKeys,
) -> tuple[pd.DataFrame, list[Finding]]:
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
    perim = np.bincount(territory[own], weights=graph.exposed_m[own], minlength=n_lead).astype(
        np.float64
    )
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
    first_of = (
        np.r_[True, lab_owner[ol][1:] != lab_owner[ol][:-1]] if len(ol) else np.zeros(0, dtype=bool)
    )
    main_label = np.full(n_lead, -1, dtype=np.int64)
    main_label[lab_owner[ol][first_of]] = ol[first_of]
    piece_order = np.argsort(label, kind="stable")
    lab_bounds = np.searchsorted(label[piece_order], np.arange(n_lab + 1))

    def pieces_of(labels: Iterable[int]) -> NDArray[np.int64]:
        return np.concatenate([piece_order[lab_bounds[lb] : lab_bounds[lb + 1]] for lb in labels])

    def unit_of(sel: NDArray[np.int64]) -> str | None:
        us = np.unique(h.community[punit[sel]])
        return str(h.codes[us[0]]) if len(us) == 1 else None

    for li in np.flatnonzero(parts > 1):
        frag_labels = [int(lb) for lb in ol[lab_owner[ol] == li] if lb != main_label[li]]
        sel = pieces_of(frag_labels)
        findings.append(
            _finding(
                "fragmented_territory",
                unit_code=unit_of(sel),
                count=int(parts[li]),
                area_m2=float(parea[sel].sum()),
                geometry=_multipolygon(geoms[sel]),
                leader_id=str(ids[li]),
                detail={
                    "parts": int(parts[li]),
                    "detached_pieces": len(sel),
                    "part_sizes": sorted(
                        (int(lab_size[lb]) for lb in ol[lab_owner[ol] == li]), reverse=True
                    ),
                },
            )
        )
    for lb in np.flatnonzero(enclave):
        sel = pieces_of([int(lb)])
        findings.append(
            _finding(
                "enclave",
                unit_code=unit_of(sel),
                count=int(lab_size[lb]),
                area_m2=float(lab_area[lb]),
                geometry=_multipolygon(geoms[sel]),
                leader_id=str(ids[lab_owner[lb]]),
                detail={"surrounded_by": str(ids[nb_min[lb]]), "pieces": pkeys[sel]},
            )
        )
    low = np.flatnonzero(ok & (comp < th.min_compactness))
    if len(low):
        for li in low:
            sel = np.flatnonzero(territory == li)
            findings.append(
                _finding(
                    "low_compactness",
                    unit_code=unit_of(sel),
                    count=int(t_count[li]),
                    area_m2=float(t_area[li]),
                    geometry=_multipolygon(geoms[sel]),
                    leader_id=str(ids[li]),
                    detail={
                        "compactness": _r(comp[li], 6),
                        "perimeter_m": _r(perim[li]),
                        "threshold": th.min_compactness,
                    },
                )
            )
    rows["territory_pieces"] = t_count.astype(np.int64)
    rows["territory_area_m2"] = [_r(a) for a in t_area]
    rows["perimeter_m"] = [_r(p) if c > 0 else np.nan for p, c in zip(perim, t_count, strict=True)]
    rows["parts"] = parts.astype(np.int64)
    rows["compactness"] = [_r(c, 6) if np.isfinite(c) else np.nan for c in comp]
    rows["enclaves"] = enclaves_per.astype(np.int64)
    return rows, findings


def _workload(
    loads: NDArray[np.float64],
    holder: NDArray[np.int64],
    flag_fb: NDArray[np.bool_],
    active: NDArray[np.bool_],
    is_pkg_role: NDArray[np.bool_],
    capacity: NDArray[np.float64],
    L: pd.DataFrame,
    h: _Hier,
    punit: NDArray[np.int64],
    in_scope: NDArray[np.bool_],
    th: Thresholds,
    upk_l: NDArray[np.int64],
    upk_u: NDArray[np.int64],
    leader_rel: NDArray[np.bool_],
    parea: NDArray[np.float64],
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
    held_own = (
        np.bincount(holder[nonfb], minlength=n_lead) if n_lead else np.zeros(0, dtype=np.int64)
    )
    # home community: where most of the leader's load lies; else their first unit package
    home = np.full(n_lead, -1, dtype=np.int64)
    if has.any():
        g = pd.DataFrame({"l": holder[has], "c": h.community[punit[has]], "w": loads[has] + 1e-12})
        s = g.groupby(["l", "c"], sort=True)["w"].sum().reset_index()
        s = s.sort_values(
            ["l", "w", "c"], ascending=[True, False, True], kind="stable"
        ).drop_duplicates("l")
        home[s["l"].to_numpy(dtype=np.int64)] = s["c"].to_numpy(dtype=np.int64)
    for li, ui in zip(upk_l, upk_u, strict=True):
        if home[li] < 0:
            home[li] = h.community[ui]
    pop = (
        active & (~is_pkg_role | (held_own > 0)) & (home >= 0) & in_scope[np.maximum(home, 0)]
        if n_lead
        else np.zeros(0, dtype=bool)
    )
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
    ratio_u = np.divide(
        max_lpc, mean, out=np.full(n_units, np.nan), where=(mean > 0) & np.isfinite(max_lpc)
    )
    ref = np.where(home >= 0, mean[np.maximum(home, 0)], np.nan)
    ratio = np.divide(lpc, ref, out=np.full(n_lead, np.nan), where=np.isfinite(ref) & (ref > 0))
    over = pop & np.isfinite(ratio) & (ratio > th.overload)
    idle = pop & ((load <= 0) | (np.isfinite(ratio) & (ratio < th.idle)))
    findings: list[Finding] = []
    for kind, mask in (("overloaded_leader", over), ("idle_leader", idle)):
        for li in np.flatnonzero(mask):
            findings.append(
                _finding(
                    kind,
                    unit_code=str(h.codes[home[li]]),
                    count=1,
                    area_m2=float(area[li]),
                    leader_id=str(ids[li]),
                    detail={
                        "load": _r(load[li], 4),
                        "capacity": _r(capacity[li], 4),
                        "load_per_capacity": _r(lpc[li], 6),
                        "community_mean": _r(ref[li], 6) if np.isfinite(ref[li]) else None,
                        "ratio": _r(ratio[li], 6) if np.isfinite(ratio[li]) else None,
                    },
                )
            )
    status = np.where(over, "overloaded", np.where(idle, "idle", np.where(pop, "ok", "")))
    rows = pd.DataFrame(
        {
            "id": ids,
            "name": L["name"].to_numpy(dtype=object),
            "role": L["role"].to_numpy(dtype=object),
            "active": active,
            "capacity": capacity,
            "pieces": cnt.astype(np.int64),
            "area_m2": [_r(a) for a in area],
            "load": [_r(x, 4) for x in load],
            "load_per_capacity": [_r(x, 6) for x in lpc],
            "home_unit": [str(h.codes[u]) if u >= 0 else None for u in home],
            "load_ratio": [_r(x, 6) if np.isfinite(x) else np.nan for x in ratio],
            "workload_status": status,
        }
    )
    wl_unit = {
        "leaders": n_in.astype(np.int64),
        "max_load_per_capacity": np.array(
            [_r(x, 6) if np.isfinite(x) else np.nan for x in max_lpc]
        ),
        "mean_load_per_capacity": np.array([_r(x, 6) if np.isfinite(x) else np.nan for x in mean]),
        "max_load_ratio": np.array([_r(x, 6) if np.isfinite(x) else np.nan for x in ratio_u]),
    }
    return rows, wl_unit, findings
