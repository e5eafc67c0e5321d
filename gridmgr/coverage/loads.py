"""Workload checks of a coverage report: loads against capacity, per leader and per unit.

Each leader is compared with the capacity-weighted mean load of their home community (where most
of their load lies, else their first unit package): above ``Thresholds.overload`` times the mean
they are overloaded, below ``Thresholds.idle`` (or with no load) idle. Helpers of
:func:`gridmgr.coverage.report.coverage_from_frames`; nothing here is public, the rules are in
``docs/coverage.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridmgr.coverage.checks import _at, _Hier
from gridmgr.coverage.kinds import Finding, Thresholds, _finding, _r

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class _UnitLoads:
    """Per unit: leaders at home below it, the max and mean load per capacity, their ratio."""

    n_in: FloatArray
    max_lpc: FloatArray
    mean: FloatArray
    ratio_u: FloatArray


def _home_communities(
    loads: FloatArray,
    holder: IntArray,
    h: _Hier,
    punit: IntArray,
    upk_l: IntArray,
    upk_u: IntArray,
    n_lead: int,
) -> IntArray:
    """Home community of each leader: where most of their load lies; else their first package."""
    has = holder >= 0
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
    return home


def _unit_loads(
    h: _Hier,
    pop: BoolArray,
    home: IntArray,
    load: FloatArray,
    capacity: FloatArray,
    lpc: FloatArray,
) -> _UnitLoads:
    """Load statistics of the leaders in ``pop`` on their home community and its ancestors."""
    n_units = len(h.codes)
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
    return _UnitLoads(n_in, max_lpc, mean, ratio_u)


def _unit_max_ratio(h: _Hier, pop: BoolArray, home: IntArray, ratio: FloatArray) -> FloatArray:
    """Per unit, the largest load ratio of a leader at home below it.

    A leader's ratio is against their own community's mean (the balance assignment and
    rebalancing aim at), so a street's figure is the worst community's, not a comparison of
    leaders who never share ground.
    """
    out = np.full(len(h.codes), np.nan)
    for li in np.flatnonzero(pop & np.isfinite(ratio)):
        for u in h.chains[int(home[li])]:
            if not out[u] >= ratio[li]:  # NaN-aware max
                out[u] = ratio[li]
    return out


def _load_findings(
    masks: tuple[BoolArray, BoolArray],
    h: _Hier,
    home: IntArray,
    ids: NDArray[np.object_],
    figures: dict[str, FloatArray],
) -> list[Finding]:
    """Overloaded and idle leaders (``masks``), with their load figures."""
    load, capacity, lpc = figures["load"], figures["capacity"], figures["lpc"]
    ref, ratio, area = figures["ref"], figures["ratio"], figures["area"]
    findings: list[Finding] = []
    for kind, mask in zip(("overloaded_leader", "idle_leader"), masks, strict=True):
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
    return findings


def _rounded(values: FloatArray, nd: int = 6) -> FloatArray:
    """Values rounded for the report, NaN where not finite."""
    return np.array([_r(x, nd) if np.isfinite(x) else np.nan for x in values])


def _workload(
    loads: FloatArray,
    holder: IntArray,
    flag_fb: BoolArray,
    active: BoolArray,
    is_pkg_role: BoolArray,
    capacity: FloatArray,
    L: pd.DataFrame,
    h: _Hier,
    punit: IntArray,
    in_scope: BoolArray,
    th: Thresholds,
    upk_l: IntArray,
    upk_u: IntArray,
    leader_rel: BoolArray,
    parea: FloatArray,
) -> tuple[pd.DataFrame, dict[str, NDArray[Any]], list[Finding]]:
    """Loads against capacity; max/mean per unit; overloaded and idle leaders."""
    n_lead = len(L)
    ids = L["id"].to_numpy(dtype=object)
    has = holder >= 0
    load = np.bincount(holder[has], weights=loads[has], minlength=n_lead).astype(np.float64)
    cnt = np.bincount(holder[has], minlength=n_lead)
    area = np.bincount(holder[has], weights=parea[has], minlength=n_lead).astype(np.float64)
    nonfb = has & ~flag_fb
    held_own = (
        np.bincount(holder[nonfb], minlength=n_lead) if n_lead else np.zeros(0, dtype=np.int64)
    )
    home = _home_communities(loads, holder, h, punit, upk_l, upk_u, n_lead)
    pop = active & (~is_pkg_role | (held_own > 0)) & _at(in_scope, home, False)
    lpc = np.divide(load, capacity, out=np.zeros(n_lead), where=capacity > 0)
    ul = _unit_loads(h, pop, home, load, capacity, lpc)
    ref = _at(ul.mean, home, np.nan)
    ratio = np.divide(lpc, ref, out=np.full(n_lead, np.nan), where=np.isfinite(ref) & (ref > 0))
    over = pop & np.isfinite(ratio) & (ratio > th.overload)
    idle = pop & ((load <= 0) | (np.isfinite(ratio) & (ratio < th.idle)))
    figures = {
        "load": load,
        "capacity": capacity,
        "lpc": lpc,
        "ref": ref,
        "ratio": ratio,
        "area": area,
    }
    findings = _load_findings((over, idle), h, home, ids, figures)
    unit_ratio = _unit_max_ratio(h, pop, home, ratio)
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
        "leaders": ul.n_in.astype(np.int64),
        "max_load_per_capacity": _rounded(ul.max_lpc),
        "mean_load_per_capacity": _rounded(ul.mean),
        "max_load_ratio": _rounded(unit_ratio),
    }
    return rows, wl_unit, findings


__all__: list[str] = []
