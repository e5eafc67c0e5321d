"""Stage 2 of the contiguous partitioner: repair and diffusion refinement (stage 1, the bisection,
is :mod:`gridmgr.assign.partition`, which re-exports these names).

Part-to-part flows that remove the imbalance with the least squared movement are the solution of a
Laplacian system on the quotient graph of parts (Hu & Blake's diffusion scheme); each flow is
carried out by moving boundary pieces from the donor to the receiver, never a piece whose removal
would disconnect the donor (a local BFS check, bounded, so doubtful moves are skipped rather than
risked). A last greedy pass moves single pieces from the part furthest from its target while that
narrows the spread of the two parts involved.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> path = sp.diags([1.0, 1.0], [-1, 1], shape=(4, 4), format="csr")
>>> grow_unassigned(path, np.ones(4), np.array([0, -1, -1, 1]), np.ones(2)).tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

import heapq

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gridmgr.grid.graph import FloatArray, IntArray, label_subgraph


def grow_unassigned(
    adj: sp.csr_matrix, w: FloatArray, owner: IntArray, caps: FloatArray
) -> IntArray:
    """Give unassigned nodes (``-1``) to neighbouring parts, wave by wave.

    In each wave every unassigned node touching an assigned one joins the touching part with the
    lowest load/capacity; a node only ever joins a part it touches, so parts stay connected.
    Nodes in components without any assigned node stay ``-1``.
    """
    owner = owner.copy()
    k = len(caps)
    coo = adj.tocoo()
    loads = np.bincount(owner[owner >= 0], weights=w[owner >= 0], minlength=k)
    while True:
        free = owner < 0
        m = free[coo.row] & ~free[coo.col]
        if not m.any():
            return owner
        node, part = coo.row[m], owner[coo.col[m]]
        ratio = loads[part] / caps[part]
        pick = np.lexsort((part, ratio, node))
        node, part = node[pick], part[pick]
        first = np.concatenate([[True], node[1:] != node[:-1]])
        node, part = node[first], part[first]
        owner[node] = part
        loads += np.bincount(part, weights=w[node], minlength=k)


def repair_connectivity(
    adj: sp.csr_matrix,
    w: FloatArray,
    owner: IntArray,
    caps: FloatArray,
    locked: NDArray[np.bool_] | None = None,
) -> IntArray:
    """Keep each part's heaviest component (and any holding locked nodes); regrow the rest."""
    n = len(owner)
    locked = np.zeros(n, dtype=bool) if locked is None else locked
    valid = owner >= 0
    if not valid.any():
        return owner.copy()
    _, comp = connected_components(label_subgraph(adj, owner), directed=False)
    cw = np.bincount(comp, weights=w + 1e-9, minlength=comp.max() + 1)
    part_of_comp = np.full(comp.max() + 1, -1, dtype=np.int64)
    part_of_comp[comp[valid]] = owner[valid]
    keep = np.zeros(len(cw), dtype=bool)
    comps = np.flatnonzero(part_of_comp >= 0)
    best = np.lexsort((comps, -cw[comps], part_of_comp[comps]))
    ordered = comps[best]
    firsts = np.concatenate([[True], part_of_comp[ordered][1:] != part_of_comp[ordered][:-1]])
    keep[ordered[firsts]] = True
    keep[comp[locked & valid]] = True
    out = owner.copy()
    out[valid & ~keep[comp]] = -1
    return grow_unassigned(adj, w, out, caps)


def _block_targets(
    q: sp.csr_matrix, loads: FloatArray, caps: FloatArray, active: NDArray[np.bool_]
) -> tuple[FloatArray, IntArray]:
    """Targets of parts: each connected block of the part graph shares its own load by capacity."""
    _, block = connected_components(q, directed=False)
    bl = np.bincount(block, weights=np.where(active, loads, 0.0))
    bc = np.bincount(block, weights=np.where(active, caps, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(active, caps * bl[block] / bc[block], 0.0)
    return t, block


def _diffusion_flows(
    q: sp.csr_matrix, excess: FloatArray, block: IntArray, active: NDArray[np.bool_]
) -> FloatArray:
    """Potentials ``x`` with ``L x = excess`` on each block (one grounded part per block)."""
    from scipy.sparse.linalg import spsolve

    k = q.shape[0]
    lap = sp.csgraph.laplacian(q.astype(float)).tocsr()
    grounded = np.zeros(k, dtype=bool)
    _, first = np.unique(block, return_index=True)
    grounded[first] = True
    free = ~grounded & active
    x = np.zeros(k)
    if free.any():
        sol = spsolve(lap[free][:, free].tocsc(), excess[free])
        x[free] = np.atleast_1d(sol)
    return x


class _Parts:
    """Parts under refinement, as plain lists (fast single-node moves): owner, size and load per
    part, with the adjacency's CSR arrays for the neighbourhood checks."""

    def __init__(
        self,
        adj: sp.csr_matrix,
        w: FloatArray,
        owner: IntArray,
        k: int,
        locked: NDArray[np.bool_] | None,
    ) -> None:
        n = len(owner)
        self.ind: list[int] = adj.indices.tolist()
        self.ptr: list[int] = adj.indptr.tolist()
        self.wl: list[float] = np.asarray(w, dtype=float).tolist()
        self.lock: list[bool] = (
            np.zeros(n, bool) if locked is None else np.asarray(locked, bool)
        ).tolist()
        self.own: list[int] = owner.tolist()
        self.size: list[int] = np.bincount(owner[owner >= 0], minlength=k).tolist()
        self.loads = np.asarray(
            np.bincount(owner[owner >= 0], weights=w[owner >= 0], minlength=k), dtype=np.float64
        )

    def can_leave(self, v: int, i: int) -> bool:
        """Whether ``v`` may leave part ``i``: its neighbours in ``i`` stay connected (BFS of <= 80
        nodes inside ``i``; doubtful means no)."""
        ind, ptr, own = self.ind, self.ptr, self.own
        if self.size[i] <= 1:
            return False
        nb = [u for u in ind[ptr[v] : ptr[v + 1]] if own[u] == i]
        if len(nb) <= 1:
            return True
        targets = set(nb[1:])
        seen = {nb[0], v}
        frontier = [nb[0]]
        budget = 80
        while frontier and budget > 0:
            nxt = []
            for x in frontier:
                for y in ind[ptr[x] : ptr[x + 1]]:
                    if y not in seen and own[y] == i:
                        seen.add(y)
                        targets.discard(y)
                        if not targets:
                            return True
                        nxt.append(y)
                        budget -= 1
            frontier = nxt
        return False

    def in_part(self, v: int, j: int) -> int:
        """Number of ``v``'s neighbours in part ``j``."""
        own = self.own
        return sum(1 for u in self.ind[self.ptr[v] : self.ptr[v + 1]] if own[u] == j)

    def owner(self) -> IntArray:
        """Part per node, as an array."""
        return np.asarray(self.own, dtype=np.int64)


def _quotient(
    own: IntArray, rows: IntArray, cols: IntArray, k: int
) -> tuple[sp.csr_matrix, IntArray, IntArray, IntArray]:
    """0/1 graph of parts touching each other, and its edges' (part, other part, boundary node)."""
    m = (own[rows] != own[cols]) & (own[rows] >= 0) & (own[cols] >= 0)
    ou, ov, node = own[rows[m]], own[cols[m]], rows[m]
    q = sp.csr_matrix((np.ones(len(ou)), (ou, ov)), shape=(k, k))
    q.data[:] = 1.0
    return q, ou, ov, node


def _flows(
    q: sp.csr_matrix,
    loads: FloatArray,
    target: FloatArray,
    block: IntArray,
    active: NDArray[np.bool_],
    min_flow: float,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Diffusion flows larger than ``min_flow`` between touching parts: (donor, receiver, load)."""
    x = _diffusion_flows(q, loads - target, block, active)
    qc = sp.triu(q, k=1).tocoo()
    flow = x[qc.row] - x[qc.col]
    src = np.where(flow > 0, qc.row, qc.col)
    dst = np.where(flow > 0, qc.col, qc.row)
    amount = np.abs(flow)
    big = amount > min_flow
    return src[big], dst[big], amount[big]


def _carry_flow(parts: _Parts, i: int, j: int, want: float, cand: list[int]) -> bool:
    """Move boundary nodes of part ``i`` (most neighbours in ``j`` first) to ``j`` until about
    ``want`` load has moved, never disconnecting ``i``; whether anything moved."""
    ind, ptr, own, lock, wl = parts.ind, parts.ptr, parts.own, parts.lock, parts.wl
    size, loads = parts.size, parts.loads
    heap = [(-parts.in_part(v, j), v) for v in cand]
    heapq.heapify(heap)
    done = 0.0
    pushed = set(cand)
    moved = False
    while heap and done < want:
        _, v = heapq.heappop(heap)
        if own[v] != i or lock[v]:
            continue
        wv = wl[v]
        if done + 0.5 * wv > want:
            continue
        if parts.in_part(v, j) == 0 or not parts.can_leave(v, i):
            continue
        own[v] = j
        size[i] -= 1
        size[j] += 1
        loads[i] -= wv
        loads[j] += wv
        done += wv
        moved = True
        for u in ind[ptr[v] : ptr[v + 1]]:
            if own[u] == i and u not in pushed:
                pushed.add(u)
                heapq.heappush(heap, (-parts.in_part(u, j), u))
    return moved


def _diffusion_round(
    parts: _Parts, rows: IntArray, cols: IntArray, caps: FloatArray, tol: float, wmax: float
) -> str:
    """One diffusion round: ``"balanced"`` (nothing to do), ``"moved"`` or ``"stalled"``."""
    k = len(caps)
    q, ou, ov, node = _quotient(parts.owner(), rows, cols, k)
    active = np.asarray(parts.size) > 0
    target, block = _block_targets(q, parts.loads, caps, active)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(active & (target > 0), parts.loads / target, 1.0)
    if np.all(np.abs(ratio - 1.0) <= tol):
        return "balanced"
    src, dst, amount = _flows(q, parts.loads, target, block, active, 0.5 * wmax * 0.1)
    if len(src) == 0:
        return "stalled"
    # Boundary nodes of part i touching part j, grouped by (i, j).
    key = ou * k + ov
    srt = np.lexsort((node, key))
    key_s, node_s = key[srt], node[srt]
    moved_any = False
    for f in np.argsort(-amount, kind="stable"):
        i, j, want = int(src[f]), int(dst[f]), float(amount[f])
        kk = i * k + j
        lo_, hi_ = np.searchsorted(key_s, kk), np.searchsorted(key_s, kk, side="right")
        cand = np.unique(node_s[lo_:hi_]).tolist()
        moved_any = _carry_flow(parts, i, j, want, cand) or moved_any
    return "moved" if moved_any else "stalled"


def _greedy_candidates(
    parts: _Parts, own_arr: IntArray, p: int, ld: list[float], tgt: list[float]
) -> list[tuple[float, int, int, int]]:
    """Single boundary moves out of part ``p`` (heavy) or into it (light) that narrow the spread
    of the two parts involved: (new spread, node, from, to)."""
    ind, ptr, own, lock, wl = parts.ind, parts.ptr, parts.own, parts.lock, parts.wl
    heavy = ld[p] / tgt[p] > 1.0
    cands: list[tuple[float, int, int, int]] = []
    for v in np.flatnonzero(own_arr == p).tolist():
        for u in ind[ptr[v] : ptr[v + 1]]:
            o = own[u]
            if o == p or o < 0:
                continue
            # heavy: move v from p to o; light: move u from o to p
            src, dst, mv = (p, o, v) if heavy else (o, p, u)
            if lock[mv]:
                continue
            wx = wl[mv]
            r_src, r_dst = ld[src] / tgt[src], ld[dst] / tgt[dst]
            n_src, n_dst = (ld[src] - wx) / tgt[src], (ld[dst] + wx) / tgt[dst]
            if max(n_src, n_dst) >= max(r_src, r_dst) or min(n_src, n_dst) <= min(r_src, r_dst):
                continue
            cands.append((abs(n_src - n_dst), mv, src, dst))
    return cands


def _greedy_finish(
    parts: _Parts, rows: IntArray, cols: IntArray, caps: FloatArray, tol: float
) -> None:
    """Single boundary moves from the part furthest from its target, while one narrows the spread.

    Diffusion stalls when the flows are smaller than half a piece (few, heavy pieces per part).
    Parts without such a move are set aside until a neighbour changes.
    """
    k = len(caps)
    own_arr = parts.owner()
    q, _, _, _ = _quotient(own_arr, rows, cols, k)
    target, _ = _block_targets(q, parts.loads, caps, np.asarray(parts.size) > 0)
    tgt_arr = np.where(target > 0, target, np.inf)
    tgt: list[float] = tgt_arr.tolist()
    ld: list[float] = parts.loads.tolist()
    ld_arr = parts.loads.copy()
    stuck = np.zeros(k, dtype=bool)
    for _ in range(4 * k + 100):
        dev = np.where(stuck, -1.0, np.abs(ld_arr / tgt_arr - 1.0))
        p = int(np.argmax(dev))
        if dev[p] <= tol:
            break
        cands = _greedy_candidates(parts, own_arr, p, ld, tgt)
        moved = False
        for _spread, mv, src, dst in sorted(set(cands))[:20]:
            if parts.can_leave(mv, src):
                parts.own[mv] = dst
                own_arr[mv] = dst
                parts.size[src] -= 1
                parts.size[dst] += 1
                ld[src] -= parts.wl[mv]
                ld[dst] += parts.wl[mv]
                ld_arr[src], ld_arr[dst] = ld[src], ld[dst]
                stuck[src] = stuck[dst] = False
                moved = True
                break
        if not moved:
            stuck[p] = True


def refine_partition(
    adj: sp.csr_matrix,
    w: FloatArray,
    owner: IntArray,
    caps: FloatArray,
    *,
    tol: float = 0.004,
    max_rounds: int = 12,
    locked: NDArray[np.bool_] | None = None,
) -> tuple[IntArray, int]:
    """Balance load/capacity across adjacent parts by moving boundary nodes; parts stay connected.

    Diffusion rounds (:func:`_diffusion_round`) until balanced, stalled or ``max_rounds``, then a
    greedy finish of single moves (:func:`_greedy_finish`).

    Parameters
    ----------
    adj
        Symmetric adjacency.
    w
        Load per node.
    owner
        Part per node (``-1``: unassigned, never touched).
    caps
        Capacity per part.
    tol
        Stop when every part's load/target lies within ``1 ± tol``.
    max_rounds
        Maximum number of diffusion rounds.
    locked
        Nodes that must not move.

    Returns
    -------
    owner, rounds
        The refined parts and the number of rounds run.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> path = sp.diags([1.0, 1.0], [-1, 1], shape=(6, 6), format="csr")
    >>> parts, rounds = refine_partition(path, np.ones(6), np.array([0, 0, 0, 0, 1, 1]), np.ones(2))
    >>> parts.tolist()
    [0, 0, 0, 1, 1, 1]
    """
    k = len(caps)
    n = len(owner)
    owner = owner.copy()
    if n == 0 or k <= 1:
        return owner, 0
    coo = adj.tocoo()
    rows, cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
    parts = _Parts(adj, w, owner, k, locked)
    wmax = float(np.max(w)) if n else 0.0
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        step = _diffusion_round(parts, rows, cols, caps, tol, wmax)
        if step == "balanced":
            rounds -= 1
            break
        if step == "stalled":
            break
    _greedy_finish(parts, rows, cols, caps, tol)
    return parts.owner(), rounds
