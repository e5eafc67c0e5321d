"""The coverage checks, one group of findings at a time, on arrays of the report's frames.

Helpers of :func:`gridmgr.coverage.report.coverage_from_frames`: the unit hierarchy in index form and
roll-ups, the leader/package frames and blind-spot findings grouped per unit and leader. The
key-place checks are in :mod:`gridmgr.coverage.places`, territory shape in
:mod:`gridmgr.coverage.territory`, workload in :mod:`gridmgr.coverage.loads`. Nothing here is
public; the rules are in ``docs/coverage.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridmgr.coverage.kinds import Finding, PieceIds, PieceShapes, _finding
from gridmgr.errors import InvalidFieldError
from gridmgr.grid.boundaries import str_values as _str_values
from gridmgr.grid.lazy import LazyGeoms


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


def _at(values: NDArray[Any], idx: NDArray[np.int64], fill: Any) -> NDArray[Any]:
    """``values[idx]`` where ``idx >= 0``, else ``fill``: the one lookup of "-1 means none".

    Safe on the empty states (no leaders, no pieces, no places): an empty ``values`` with every
    ``idx`` at ``-1`` gives ``fill`` everywhere instead of an ``IndexError``.

    >>> _at(np.array([True, False]), np.array([1, -1, 0]), False).tolist()
    [False, False, True]
    >>> _at(np.zeros(0, dtype=bool), np.array([-1, -1]), False).tolist()
    [False, False]
    """
    idx = np.asarray(idx, dtype=np.int64)
    out = np.full(idx.shape, fill, dtype=values.dtype)
    hit = idx >= 0
    out[hit] = values[idx[hit]]
    return out


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


def _positions(index: pd.Index, values: pd.Series) -> NDArray[np.int64]:
    """Position in ``index`` of each value as a string (-1: not there or missing), through the
    column's distinct values: no Python string per row for a column of millions."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keys = pd.Index([None if pd.isna(u) else str(u) for u in uniques], dtype=object)
    at = np.empty(len(uniques) + 1, dtype=np.int64)
    at[:-1] = index.get_indexer(keys) if len(keys) else []
    at[-1] = -1  # code -1 (missing) → the last entry
    return np.asarray(at[codes], dtype=np.int64)


class _PieceKeys:
    """Piece keys for findings (store ids, or ``cell@unit`` for frames without ids), made only
    for the pieces a finding names."""

    def __init__(self, pieces: pd.DataFrame) -> None:
        self._ids = pieces["id"].to_numpy() if "id" in pieces else None
        self._cells = None if self._ids is not None else _str_values(pieces["cell"])
        self._units = None if self._ids is not None else _str_values(pieces["unit_code"])

    def __getitem__(self, sel: NDArray[np.int64]) -> Sequence[str]:
        if self._ids is not None:
            return PieceIds(self._ids[sel])
        assert self._cells is not None and self._units is not None
        return [f"{c}@{u}" for c, u in zip(self._cells[sel], self._units[sel], strict=True)]


def _group_findings(
    kind: str,
    mask: NDArray[np.bool_],
    unit_idx: NDArray[np.int64],
    leader_idx: NDArray[np.int64],
    h: _Hier,
    leaders: pd.DataFrame,
    geoms: LazyGeoms,
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
                geometry=PieceShapes(geoms, grp),
                leader_id=str(leaders["id"].iat[li]) if li >= 0 else None,
                detail=detail,
            )
        )
    return out
