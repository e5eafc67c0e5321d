"""Measuring an assignment: leader ratios, :class:`~gridmgr.rebalance.results.Metrics`, territory
parts, and the reasons of the leaders a plan leaves outside the band (:class:`Miss`)."""

from __future__ import annotations

import numpy as np

from gridmgr.rebalance.graphops import components, labels_of_parts
from gridmgr.rebalance.results import BoolArray, FloatArray, IntArray, Metrics, Miss
from gridmgr.rebalance.state import Problem, State, territory_pairs


def leader_ratios(p: Problem, lead: IntArray) -> FloatArray:
    """Per-leader ratio load / Σ fair shares of their territories (NaN if not taking part)."""
    n_leaders = len(p.m.capacities)
    has = lead >= 0
    load_l = np.bincount(lead[has], weights=p.m.loads[has], minlength=n_leaders)
    tgt_l = np.bincount(p.tl, weights=p.target, minlength=n_leaders)
    out = np.full(n_leaders, np.nan)
    part = tgt_l > 0
    out[part] = load_l[part] / tgt_l[part]
    return out


def assignment_metrics(p: Problem, lead: IntArray, *, free_mask: BoolArray) -> Metrics:
    """Balance, contiguity and compactness of leader-per-piece ``lead`` (``free_mask``: pieces
    counted as unassigned)."""
    m, g = p.m, p.g
    n_leaders = len(m.capacities)
    ratios = leader_ratios(p, np.where(free_mask, -1, lead))
    r = ratios[~np.isnan(ratios)]
    key = np.where(lead >= 0, m.group * n_leaders + lead, -1)
    comp = components(g.n, g.ei, g.ej, key)
    _, parts = np.unique(labels_of_parts(comp, key), return_counts=True)
    disconnected = int((parts > 1).sum())
    a, b = lead[g.ui_all], lead[g.uj_all]
    cut = int(((a != b) & (a >= 0) & (b >= 0)).sum())
    return Metrics(
        max_ratio=float(r.max()) if r.size else float("nan"),
        min_ratio=float(r.min()) if r.size else float("nan"),
        std_ratio=float(r.std()) if r.size else float("nan"),
        disconnected=disconnected,
        boundary_edges_per_piece=cut / max(g.n, 1),
        unassigned_pieces=int((free_mask | (lead < 0)).sum()),
        unassigned_load=float(m.loads[free_mask | (lead < 0)].sum()),
        n_leaders=int(r.size),
    )


def territory_parts(p: Problem, T: IntArray) -> IntArray:
    """Connected parts per territory of the assignment ``T``."""
    comp = components(p.g.n, p.g.ei, p.g.ej, T)
    return np.bincount(labels_of_parts(comp, T), minlength=p.K).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Reasons


def misses(p: Problem, st: State, ratio_after: FloatArray) -> list[Miss]:
    """The leaders outside ``[min_ratio, target_ratio]`` after the plan, each with its reason."""
    m = p.m
    bad = np.flatnonzero(
        ~np.isnan(ratio_after)
        & ((ratio_after > m.target_ratio + 1e-9) | (ratio_after < m.min_ratio - 1e-9))
    )
    if bad.size == 0:
        return []
    has_free_nb, max_piece = _neighbourhood(p, st)
    tgt_l = np.bincount(p.tl, weights=p.target, minlength=len(m.capacities))
    out: list[Miss] = []
    for leader in bad.tolist():
        terr = np.flatnonzero(p.tl == leader)
        r = float(ratio_after[leader])
        edge = m.target_ratio if r > m.target_ratio else m.min_ratio
        dev = abs(r - edge) * tgt_l[leader]
        zh, en = _reason(p, st, terr, float(dev), has_free_nb, max_piece)
        out.append(Miss(leader=int(leader), ratio=r, reason_zh=zh, reason_en=en))
    return out


def _neighbourhood(p: Problem, st: State) -> tuple[BoolArray, FloatArray]:
    """Per territory: has it an adjustable neighbour, and the biggest piece it could give or take."""
    u, v, _ = territory_pairs(p, st)
    has_free_nb = np.zeros(p.K, dtype=bool)
    ok = ~p.locked_t[u] & ~p.locked_t[v]
    has_free_nb[u[ok]] = True
    has_free_nb[v[ok]] = True
    held = st.T >= 0
    own_max = np.zeros(p.K)
    np.maximum.at(own_max, st.T[held], p.m.loads[held])
    max_piece = own_max.copy()
    np.maximum.at(max_piece, u, own_max[v])
    np.maximum.at(max_piece, v, own_max[u])
    return has_free_nb, max_piece


def _reason(
    p: Problem,
    st: State,
    terr: IntArray,
    dev: float,
    has_free_nb: BoolArray,
    max_piece: FloatArray,
) -> tuple[str, str]:
    """Why a leader with territories ``terr`` is still ``dev`` load outside the band (zh, en)."""
    m = p.m
    if p.locked_t[terr].all():
        return "已锁定，按要求未调整", "locked, left unchanged as asked"
    if st.hit_max_moves:
        return (
            f"已达到最大调整数 {m.max_moves}，未继续调整",
            f"max_moves {m.max_moves} reached before this leader was balanced",
        )
    if not has_free_nb[terr].any():
        return (
            "周边没有可调整的相邻领导（相邻者均已锁定或没有相邻者）",
            "no adjustable neighbouring territory (all neighbours locked, or none)",
        )
    if dev <= max_piece[terr].max() + 1e-9:
        big = float(max_piece[terr].max())
        return (
            f"剩余偏差（{dev:.2f}）小于单个地块的负载（最大 {big:.2f}），地块不可再分",
            (
                f"the remaining deviation ({dev:.2f}) is below one piece's load (max "
                f"{big:.2f}); pieces cannot be split"
            ),
        )
    return (
        "多轮调整后仍未达到目标（边界地块被锁定或相邻区域已满载）",
        (
            "not within the target after the adjustment rounds (locked border "
            "pieces or full neighbours)"
        ),
    )
