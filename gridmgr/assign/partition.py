"""The contiguous partitioner: connected parts of a piece graph with loads proportional to capacities.

Works on plain arrays (a symmetric 0/1 ``scipy.sparse.csr_matrix`` adjacency, ``float`` loads and
capacities); :mod:`gridmgr.assign.auto` builds the domain model on top. Split out of
:mod:`gridmgr.grid.graph` (graphs and connectivity), which still exposes these names.


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

import heapq

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gridmgr.grid.graph import FloatArray, IntArray, _bfs_depth, label_subgraph

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


# --------------------------------------------------------------------------------------------
# stage 2: repair and diffusion refinement
# --------------------------------------------------------------------------------------------


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
    """
    k = len(caps)
    n = len(owner)
    owner = owner.copy()
    if n == 0 or k <= 1:
        return owner, 0
    coo = adj.tocoo()
    rows, cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
    ind: list[int] = adj.indices.tolist()
    ptr: list[int] = adj.indptr.tolist()
    wl: list[float] = np.asarray(w, dtype=float).tolist()
    lock: list[bool] = (np.zeros(n, bool) if locked is None else np.asarray(locked, bool)).tolist()
    own: list[int] = owner.tolist()
    size: list[int] = np.bincount(owner[owner >= 0], minlength=k).tolist()
    loads = np.asarray(
        np.bincount(owner[owner >= 0], weights=w[owner >= 0], minlength=k), dtype=np.float64
    )
    wmax = float(np.max(w)) if n else 0.0

    def can_leave(v: int, i: int) -> bool:
        if size[i] <= 1:
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

    def in_part(v: int, j: int) -> int:
        return sum(1 for u in ind[ptr[v] : ptr[v + 1]] if own[u] == j)

    rounds = 0
    for rounds in range(1, max_rounds + 1):
        cur = np.asarray(own, dtype=np.int64)
        m = (cur[rows] != cur[cols]) & (cur[rows] >= 0) & (cur[cols] >= 0)
        ou, ov, node = cur[rows[m]], cur[cols[m]], rows[m]
        q = sp.csr_matrix((np.ones(len(ou)), (ou, ov)), shape=(k, k))
        q.data[:] = 1.0
        active = np.asarray(size) > 0
        target, block = _block_targets(q, loads, caps, active)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(active & (target > 0), loads / target, 1.0)
        if np.all(np.abs(ratio - 1.0) <= tol):
            rounds -= 1
            break
        x = _diffusion_flows(q, loads - target, block, active)
        qc = sp.triu(q, k=1).tocoo()
        flow = x[qc.row] - x[qc.col]
        src = np.where(flow > 0, qc.row, qc.col)
        dst = np.where(flow > 0, qc.col, qc.row)
        amount = np.abs(flow)
        big = amount > 0.5 * wmax * 0.1
        src, dst, amount = src[big], dst[big], amount[big]
        if len(src) == 0:
            break
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
            heap = [(-in_part(v, j), v) for v in cand]
            heapq.heapify(heap)
            done = 0.0
            pushed = set(cand)
            while heap and done < want:
                _, v = heapq.heappop(heap)
                if own[v] != i or lock[v]:
                    continue
                wv = wl[v]
                if done + 0.5 * wv > want:
                    continue
                if in_part(v, j) == 0 or not can_leave(v, i):
                    continue
                own[v] = j
                size[i] -= 1
                size[j] += 1
                loads[i] -= wv
                loads[j] += wv
                done += wv
                moved_any = True
                for u in ind[ptr[v] : ptr[v + 1]]:
                    if own[u] == i and u not in pushed:
                        pushed.add(u)
                        heapq.heappush(heap, (-in_part(u, j), u))
        if not moved_any:
            break

    # Greedy finish: diffusion stalls when the flows are smaller than half a piece (few, heavy
    # pieces per part). Take the part furthest from its target and make the single boundary move
    # (out of it when heavy, into it when light) that best narrows the pair's spread.
    own_arr = np.asarray(own, dtype=np.int64)
    m = (own_arr[rows] != own_arr[cols]) & (own_arr[rows] >= 0) & (own_arr[cols] >= 0)
    q = sp.csr_matrix((np.ones(int(m.sum())), (own_arr[rows[m]], own_arr[cols[m]])), shape=(k, k))
    active = np.asarray(size) > 0
    target, _ = _block_targets(q, loads, caps, active)
    tgt_arr = np.where(target > 0, target, np.inf)
    tgt: list[float] = tgt_arr.tolist()
    ld: list[float] = loads.tolist()
    ld_arr = loads.copy()
    stuck = np.zeros(k, dtype=bool)
    for _ in range(4 * k + 100):
        dev = np.where(stuck, -1.0, np.abs(ld_arr / tgt_arr - 1.0))
        p = int(np.argmax(dev))
        if dev[p] <= tol:
            break
        heavy = ld[p] / tgt[p] > 1.0
        cands: list[tuple[float, int, int, int]] = []  # (new spread, node, from, to)
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
        moved = False
        for _spread, mv, src, dst in sorted(set(cands))[:20]:
            if can_leave(mv, src):
                own[mv] = dst
                own_arr[mv] = dst
                size[src] -= 1
                size[dst] += 1
                ld[src] -= wl[mv]
                ld[dst] += wl[mv]
                ld_arr[src], ld_arr[dst] = ld[src], ld[dst]
                stuck[src] = stuck[dst] = False
                moved = True
                break
        if not moved:
            stuck[p] = True
    return np.asarray(own, dtype=np.int64), rounds
