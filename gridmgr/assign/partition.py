"""The contiguous partitioner: connected parts of a piece graph with loads proportional to capacities.

Works on plain arrays (a symmetric 0/1 ``scipy.sparse.csr_matrix`` adjacency, ``float`` loads and
capacities); :mod:`gridmgr.assign.model` builds the domain model on top. Stage 1 is here, stage 2
in :mod:`gridmgr.assign.refine` (its names are re-exported here). Graphs and connectivity are in
:mod:`gridmgr.grid.graph`.


1. **Recursive bisection along a graph-distance sweep.** For a connected (sub)graph, two
   pseudo-peripheral poles ``a`` and ``b`` are found by repeated BFS; nodes are ordered by
   ``d_a - d_b`` (ties by ``d_a``) and cut where the running load reaches the left half's share of
   the capacity. Every node except ``a`` has a neighbour earlier in that order (its predecessor on
   a shortest path to ``a``), so the left side is connected by construction; stray components of the
   right side (rare: inlets of a ragged outline) are handed to the left side, which stays connected
   because they touch nothing else, and the cut position is corrected for the weight they carry.
2. **Diffusion refinement.** Part-to-part flows that remove the imbalance with the least squared
   movement are the solution of a Laplacian system on the quotient graph of parts (Hu & Blake's
   diffusion scheme); each flow is carried out by moving boundary pieces from the donor to the
   receiver, never a piece whose removal would disconnect the donor (a local BFS check, bounded, so
   doubtful moves are skipped rather than risked). A last greedy pass moves single pieces from the
   most loaded part to a less loaded neighbour while that lowers the pair's maximum.

Both stages keep every part connected, so a connected graph always yields connected parts.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gridmgr.assign.refine import grow_unassigned, refine_partition, repair_connectivity
from gridmgr.grid.graph import FloatArray, IntArray, _bfs_depth

# --------------------------------------------------------------------------------------------
# stage 1: recursive bisection
# --------------------------------------------------------------------------------------------


def _sweep_cut(
    sub: sp.csr_matrix, w: FloatArray, share: float, lo: int, hi: int, pole: int
) -> tuple[NDArray[np.bool_], int, int]:
    """Split a connected graph into two connected sides, the left carrying ``share`` of the load.

    ``lo``/``hi`` bound the number of nodes on the left (so each side can give every leader of its
    half at least one piece). ``pole`` is a node near the periphery (the caller passes the parent
    cut's pole, or the far end of a BFS from a seeded start). Returns the mask of the left side and
    the two poles used (left pole, right pole).
    """
    n = sub.shape[0]
    a = pole
    order_a, d_a = _bfs_depth(sub, a)
    b = int(order_a[-1])
    _, d_b = _bfs_depth(sub, b)
    wmax = float(w.max()) if n else 0.0
    coo = sub.tocoo()

    # Candidate sweeps: the a–b "perpendicular bisector" sweep, a ball grown from a (the small
    # side as a compact cap rather than a strip), and a ball grown from b for the right side.
    # The one whose plain prefix cuts fewest edges is refined (stray components, exact load);
    # should that miss the load by more than a piece, the bisector sweep is the fallback.
    big = n + 1  # composite integer keys: one stable argsort instead of a lexsort
    sweeps = [
        (np.argsort((d_a - d_b) * big + d_a, kind="stable"), share, lo, hi, False),
        (np.argsort(d_a * big + (n - d_b), kind="stable"), share, lo, hi, False),
        (np.argsort(d_b * big + (n - d_a), kind="stable"), 1.0 - share, n - hi, n - lo, True),
    ]
    raw = []
    for order, sh, lo_, hi_, _ in sweeps:
        cum = np.cumsum(w[order])
        m = min(max(int(np.searchsorted(cum, sh * cum[-1])), lo_), hi_)
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        inside = rank < m
        raw.append(int((inside[coo.row] != inside[coo.col]).sum()))
    best_left, best_err = None, np.inf
    for i in sorted(range(len(sweeps)), key=lambda i: (raw[i], i)):
        order, sh, lo_, hi_, flip = sweeps[i]
        left, err = _prefix_cut(sub, w, order, sh, lo_, hi_, wmax)
        if flip:
            left = ~left
        if best_left is None or err < best_err:
            best_left, best_err = left, err
        if err <= 0.5 * wmax:
            break
    assert best_left is not None
    return best_left, a, b


def _prefix_cut(
    sub: sp.csr_matrix,
    w: FloatArray,
    order: IntArray,
    share: float,
    lo: int,
    hi: int,
    wmax: float,
) -> tuple[NDArray[np.bool_], float]:
    """Left side = a prefix of ``order`` carrying ``share`` of the load, plus the right side's stray
    components; returns the side and its absolute load error. Every node of ``order`` must have a
    neighbour earlier in it, so that prefixes are connected."""
    n = sub.shape[0]
    cum = np.cumsum(w[order])
    target = share * cum[-1]

    def side(m: int) -> tuple[NDArray[np.bool_], float]:
        left = np.zeros(n, dtype=bool)
        left[order[:m]] = True
        right = ~left
        ncomp, comp = connected_components(sub[right][:, right], directed=False)
        if ncomp > 1:
            ridx = np.flatnonzero(right)
            sizes = np.bincount(comp, weights=w[ridx] + 1e-9)
            left[ridx[comp != int(np.argmax(sizes))]] = True
        return left, float(w[left].sum())

    def position(t: float) -> int:
        m = int(np.searchsorted(cum, t))
        if m < n and (m == 0 or abs(cum[m] - t) < abs(cum[m - 1] - t)):
            m += 1
        return min(max(m, lo), hi)

    m = position(target)
    best_left, best_w = side(m)
    # A side too small or too large to give each of its leaders a piece is a last resort only.
    best_err = abs(best_w - target) if lo <= best_left.sum() <= hi else np.inf
    tried = {m}
    tgt = target
    for _ in range(6):
        if best_err <= 0.5 * wmax:
            break
        if np.isfinite(best_err):
            tgt = tgt - (best_w - target)
            m = position(tgt)
        else:  # stray components pushed the left side out of bounds: shift the cut by the excess
            count = int(best_left.sum())
            m = max(1, min(n - 1, m - (count - hi) if count > hi else m + (lo - count)))
        if m in tried:
            break
        tried.add(m)
        left, lw = side(m)
        if lo <= left.sum() <= hi and abs(lw - target) < best_err:
            best_left, best_w, best_err = left, lw, abs(lw - target)
    return best_left, best_err


def bisection_partition(
    adj: sp.csr_matrix, w: FloatArray, caps: FloatArray, *, seed: int = 0
) -> IntArray:
    """Connected parts of a connected graph with loads proportional to ``caps``.

    Parameters
    ----------
    adj
        Symmetric adjacency of a connected graph.
    w
        Load per node (>= 0).
    caps
        Capacity per part (> 0); part ``p`` gets about ``caps[p] / caps.sum()`` of the load.
    seed
        Seed for the BFS start nodes; the same seed gives the same parts.

    Returns
    -------
    numpy.ndarray
        Part index per node. When there are fewer nodes than parts, the last parts stay empty.
    """
    n = adj.shape[0]
    k = len(caps)
    owner = np.full(n, -1, dtype=np.int64)
    if n == 0 or k == 0:
        return owner
    rng = np.random.default_rng(seed)
    adj = sp.csr_matrix(adj, dtype=np.float64)  # csgraph's own dtype: no conversion per call
    w_eff = np.asarray(w, dtype=float)
    if w_eff.sum() <= 0:
        w_eff = np.ones(n)
    # Seeded start, then the far end of a BFS from it: a pseudo-peripheral first pole.
    first = int(_bfs_depth(adj, int(rng.integers(n)))[0][-1])
    stack: list[tuple[IntArray, IntArray, int]] = [
        (np.arange(n, dtype=np.int64), np.arange(k, dtype=np.int64), first)
    ]
    while stack:
        idx, parts, pole = stack.pop()
        if len(parts) == 1 or len(idx) == 1:
            owner[idx] = parts[0]
            continue
        if len(idx) <= len(parts):
            owner[idx] = parts[: len(idx)]
            continue
        k1 = len(parts) // 2
        p1, p2 = parts[:k1], parts[k1:]
        share = float(caps[p1].sum() / caps[parts].sum())
        sub = adj[idx][:, idx]
        local = int(np.searchsorted(idx, pole))
        left, a, b = _sweep_cut(sub, w_eff[idx], share, len(p1), len(idx) - len(p2), local)
        # Each side's pole for its own cut: the parent's pole on that side, when it stayed there.
        right_idx, left_idx = idx[~left], idx[left]
        right_pole = int(idx[b]) if not left[b] else int(right_idx[0])
        left_pole = int(idx[a]) if left[a] else int(left_idx[0])
        stack.append((right_idx, p2, right_pole))
        stack.append((left_idx, p1, left_pole))
    return owner


__all__ = [
    "bisection_partition",
    "grow_unassigned",
    "refine_partition",
    "repair_connectivity",
]
