"""Donor/receiver selection: a min-cost flow on the territory graph says how much load crosses
each border and which way (:func:`flows`); :func:`flow_order` orders the transfers.

Leaders' territories are the nodes, the distance to the band is supply/demand, one unit of load
over one border costs 1 (a hair more over short borders) and leaving load outside the band costs
:data:`VIOLATION_COST`; solved by HiGHS (``scipy.optimize.linprog``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from gridmgr.errors import InfeasibleError
from gridmgr.i18n import t
from gridmgr.rebalance.results import FloatArray, IntArray
from gridmgr.rebalance.state import Edges, Problem, State, territory_pairs

#: Cost of leaving one unit of load outside the band, against 1 per unit moved over a border.
VIOLATION_COST = 1000.0


def flows(p: Problem, st: State, cut: Edges) -> tuple[IntArray, IntArray, FloatArray]:
    """Min-cost flow on the territory graph: how much load crosses each border, and which way."""
    borders = _directed_borders(p, st, cut)
    if borders is None:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    src, dst, cnt = borders
    E2 = len(src)
    # 1 per unit of load per border crossed; a hair more over short borders (compactness).
    cost = 1.0 + 1e-3 / cnt.astype(np.float64)
    rows_t = np.flatnonzero(~p.locked_t)
    k = len(rows_t)
    A = _constraints(src, dst, rows_t, p.K)
    scale = float(np.mean(p.target[rows_t]))
    b = _bounds(p, st, rows_t) / scale
    c = np.concatenate([cost, np.full(2 * k, VIOLATION_COST)])
    res = linprog(c, A_ub=A, b_ub=b, bounds=(0, None), method="highs")
    if res.status != 0:  # pragma: no cover - the soft LP is always feasible and bounded
        raise InfeasibleError(
            t(
                f"调整方案的流量模型无法求解：{res.message}",
                f"rebalance flow could not be solved: {res.message}",
            )
        )
    f = np.asarray(res.x[:E2]) * scale
    return src, dst, f


def _directed_borders(
    p: Problem, st: State, cut: Edges
) -> tuple[IntArray, IntArray, IntArray] | None:
    """Both directions (giver, receiver) of every border between free territories with the
    shared edge count; ``None`` when there is no such border at all."""
    u, v, cnt = territory_pairs(p, st, cut)
    ok = ~p.locked_t[u] & ~p.locked_t[v]
    u, v, cnt = u[ok], v[ok], cnt[ok]
    if len(u) == 0:
        return None
    src = np.concatenate([u, v])
    dst = np.concatenate([v, u])
    gives = ~st.no_give[src]
    src, dst = src[gives], dst[gives]
    cnt = np.concatenate([cnt, cnt])[gives]
    return src, dst, cnt


def _constraints(src: IntArray, dst: IntArray, rows_t: IntArray, K: int) -> sp.csr_matrix:
    """Constraint matrix over [flows, over, under]: per free territory t with net_t = out - in,
    row A(t): net - under <= load - lo; row B(t): -net - over <= hi - load."""
    pos = np.full(K, -1, dtype=np.int64)
    pos[rows_t] = np.arange(len(rows_t))
    k = len(rows_t)
    E2 = len(src)
    e = np.arange(E2)
    r_a = np.concatenate([pos[src], pos[dst], np.arange(k)])
    c_a = np.concatenate([e, e, E2 + k + np.arange(k)])
    d_a = np.concatenate([np.ones(E2), -np.ones(E2), -np.ones(k)])
    r_b = k + np.concatenate([pos[src], pos[dst], np.arange(k)])
    c_b = np.concatenate([e, e, E2 + np.arange(k)])
    d_b = np.concatenate([-np.ones(E2), np.ones(E2), -np.ones(k)])
    return sp.csr_matrix(
        (np.concatenate([d_a, d_b]), (np.concatenate([r_a, r_b]), np.concatenate([c_a, c_b]))),
        shape=(2 * k, E2 + 2 * k),
    )


def _bounds(p: Problem, st: State, rows_t: IntArray) -> FloatArray:
    """Right-hand sides (unscaled) of the rows A and B of :func:`_constraints`.

    They aim half a typical piece inside the band (when it is wide enough): pieces are whole, so
    a transfer lands within half a piece of its amount, and then still inside the band.
    """
    load = st.tload[rows_t]
    lo, hi, tgt = p.lo[rows_t], p.hi[rows_t], p.target[rows_t]
    margin = np.minimum(0.5 * p.typical_load, 0.45 * np.minimum(hi - tgt, tgt - lo))
    margin = np.maximum(margin, 0.0)
    out: FloatArray = np.concatenate([load - (lo + margin), (hi - margin) - load])
    return out


def flow_order(src: IntArray, dst: IntArray, f: FloatArray, n_nodes: int) -> IntArray:
    """Transfers in topological order of the flow (a territory receives before it passes on),
    larger flows first among those ready; any cycle left by rounding is broken by flow size."""
    order_f = np.lexsort((dst, src, -f))
    indeg = np.bincount(dst, minlength=n_nodes)
    out_edges: dict[int, list[int]] = {}
    for i in order_f.tolist():
        out_edges.setdefault(int(src[i]), []).append(i)
    done = np.zeros(len(src), dtype=bool)
    result: list[int] = []
    ready = [int(v) for v in np.unique(src) if indeg[v] == 0]
    while len(result) < len(src):
        if not ready:  # a cycle: release the source of the largest remaining flow
            rest = order_f[~done[order_f]]
            ready = [int(src[rest[0]])]
            indeg[ready[0]] = 0
        nxt: list[int] = []
        for v in ready:
            for i in out_edges.pop(v, []):
                done[i] = True
                result.append(i)
                d = int(dst[i])
                indeg[d] -= 1
                if indeg[d] == 0:
                    nxt.append(d)
        ready = nxt
    return np.asarray(result, dtype=np.int64)
