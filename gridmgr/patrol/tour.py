"""The tour engine behind patrol routes: visit order over a metric cost matrix, in numpy.

1. nearest-neighbour construction from the start;
2. local search with neighbour lists (the ``k`` nearest nodes of every node): 2-opt (both
   orientations) and Or-opt (move a run of 1–3 nodes next to one of its neighbours, either way
   round). Each round evaluates every candidate move of the *active* nodes as numpy arrays and
   applies a batch of improving moves that touch disjoint stretches of the tour (don't-look bits:
   a node stays active until none of its candidate moves gains);
3. iterated local search until the time (or kick) budget runs out: a local double-bridge kick
   (swap two adjacent runs), local search around the changed edges, keep the result when shorter.

A tour is a closed cycle stored as a permutation array whose position 0 is the start node; the
start never moves. Open paths are solved as cycles through a dummy node. The public names are
re-exported by :mod:`gridmgr.patrol.route` and :mod:`gridmgr.patrol`; ``benchmarks/bench_patrol.py`` compares the engine with
OR-Tools' guided local search.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_EPS = 1e-7
#: Kicks of the iterated local search swap two runs within this many consecutive positions.
_KICK_WINDOW = 100


def tour_length(dist: FloatArray, tour: npt.ArrayLike, *, closed: bool = True) -> float:
    """Length of ``tour`` over ``dist``; ``closed`` adds the edge back to the first node."""
    t = np.asarray(tour, dtype=np.int64)
    if len(t) < 2:
        return 0.0
    total = float(dist[t[:-1], t[1:]].sum())
    if closed:
        total += float(dist[t[-1], t[0]])
    return total


def nearest_neighbour_tour(dist: FloatArray, start: int = 0) -> IntArray:
    """Nearest-neighbour tour from ``start`` (one vectorised ``argmin`` per step).

    Examples
    --------
    >>> import numpy as np
    >>> pts = np.array([[0, 0], [3, 0], [1, 0], [2, 0]], dtype=float)
    >>> d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    >>> nearest_neighbour_tour(d).tolist()
    [0, 2, 3, 1]
    """
    n = dist.shape[0]
    tour = np.empty(n, dtype=np.int64)
    visited = np.zeros(n, dtype=bool)
    cur = int(start)
    for k in range(n):
        tour[k] = cur
        visited[cur] = True
        if k == n - 1:
            break
        row = np.where(visited, np.inf, dist[cur])
        cur = int(np.argmin(row))
    return tour


def _knn(dist: FloatArray, k: int) -> IntArray:
    n = dist.shape[0]
    k = max(1, min(k, n - 1))
    d = dist.copy()
    np.fill_diagonal(d, np.inf)
    part = np.argpartition(d, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1).astype(np.int64)


class _Search:
    """Mutable local-search state over one tour (private; used by :func:`solve_tour`)."""

    def __init__(self, dist: FloatArray, tour: IntArray, knn: IntArray) -> None:
        self.d = dist
        self.t = tour.copy()
        self.n = len(tour)
        self.knn = knn
        self.k = knn.shape[1]
        self.pos = np.empty(self.n, dtype=np.int64)
        self.pos[self.t] = np.arange(self.n)
        self.active = np.ones(self.n, dtype=bool)
        self.active[self.t[0]] = True

    # -- candidate moves -------------------------------------------------------------------
    def _two_opt(self, a: IntArray) -> tuple[FloatArray, IntArray, IntArray, IntArray]:
        """Gains and (lo, hi) reversal ranges of 2-opt moves of active nodes ``a``."""
        n, d, t, pos = self.n, self.d, self.t, self.pos
        c = self.knn[a].ravel()
        a = np.repeat(a, self.k)
        pa, pc = pos[a], pos[c]
        sa, sc = t[(pa + 1) % n], t[(pc + 1) % n]
        qa, qc = t[(pa - 1) % n], t[(pc - 1) % n]
        # successor type: new edges (a, c), (succ a, succ c); reverse (min+1 .. max)
        g1 = d[a, sa] + d[c, sc] - d[a, c] - d[sa, sc]
        lo1 = np.minimum(pa, pc) + 1
        hi1 = np.maximum(pa, pc)
        # predecessor type: new edges (a, c), (pred a, pred c); reverse (min .. max-1)
        g2 = d[qa, a] + d[qc, c] - d[a, c] - d[qa, qc]
        lo2 = np.minimum(pa, pc)
        hi2 = np.maximum(pa, pc) - 1
        gain = np.concatenate([g1, g2])
        lo = np.concatenate([lo1, lo2])
        hi = np.concatenate([hi1, hi2])
        ok = (gain > _EPS) & (lo >= 1) & (hi > lo)
        src = np.concatenate([a, a])
        return gain[ok], lo[ok], hi[ok], src[ok]

    def _or_opt(
        self, a: IntArray
    ) -> tuple[FloatArray, IntArray, IntArray, IntArray, IntArray, IntArray, IntArray]:
        """Gains of Or-opt moves of runs starting at the active nodes ``a`` (lengths 1–3).

        A run ``f … l`` (positions ``i … j``) is moved next to a neighbour ``c`` of one of its
        ends, into the gap after ``c`` or before it, in the orientation that puts that end next
        to ``c``. All (node, length, end, neighbour, gap) combinations are evaluated at once.

        Returns gain, run start position, run length, position ``x`` of the node before the
        gap, reversed flag, the touched stretch ``[lo, hi]`` (2 × k) and the source node.
        """
        n, d, t, pos = self.n, self.d, self.t, self.pos
        lens = np.arange(1, 4)
        i = np.repeat(pos[a][:, None], 3, axis=1)  # (m, 3)
        j = i + lens[None, :] - 1
        ok = (i >= 1) & (j <= n - 1) & ((n - lens[None, :]) >= 3)
        jc = np.minimum(j, n - 1)
        f, last = t[i], t[jc]
        p, q = t[i - 1], t[(jc + 1) % n]
        g_remove = d[p, f] + d[last, q] - d[p, q]  # (m, 3)
        near = np.stack([f, last], axis=-1)  # (m, 3, 2): the end placed next to c
        far = np.stack([last, f], axis=-1)
        c = self.knn[near]  # (m, 3, 2, k)
        pc = pos[c]
        i4, j4 = i[:, :, None, None], jc[:, :, None, None]
        near4, far4 = near[..., None], far[..., None]
        inside = (pc >= i4) & (pc <= j4)
        psc, ppc = (pc + 1) % n, (pc - 1) % n
        sc, pcn = t[psc], t[ppc]
        # gap (c, succ c): c - near … far - succ c ; gap (pred c, c): pred c - far … near - c
        cost_a = d[c, near4] + d[far4, sc] - d[c, sc]
        cost_b = d[pcn, far4] + d[near4, c] - d[pcn, c]
        bad_a = inside | ((psc >= i4) & (psc <= j4))
        bad_b = inside | ((ppc >= i4) & (ppc <= j4))
        gain = g_remove[:, :, None, None, None] - np.stack([cost_a, cost_b], axis=-1)
        good = np.stack([bad_a, bad_b], axis=-1)
        np.logical_not(good, out=good)
        good &= ok[:, :, None, None, None]
        good &= gain > _EPS
        mi, li, ei, ki, gi = np.nonzero(good)
        if len(mi) == 0:
            e = np.empty(0, dtype=np.int64)
            return np.empty(0), e, e, e, e, np.empty((2, 0), dtype=np.int64), e
        g = gain[mi, li, ei, ki, gi]
        st = i[mi, li]
        ln = (li + 1).astype(np.int64)
        # end 0: the run's first node sits next to c; gap after c keeps the run forward
        r = np.where(gi == 0, ei, 1 - ei).astype(np.int64)
        pcg = pc[mi, li, ei, ki]
        x = np.where(gi == 0, pcg, (pcg - 1) % n)
        sr = a[mi]
        lo = np.minimum(st - 1, x)
        hi = np.maximum(st + ln, x + 1)
        return g, st, ln, x, r, np.stack([lo, hi]), sr

    # -- one round ---------------------------------------------------------------------------
    def round(self, max_moves: int = 64) -> float:
        """Evaluate moves of the active nodes, apply a batch of disjoint improving moves."""
        a = np.flatnonzero(self.active).astype(np.int64)
        if len(a) == 0:
            return 0.0
        g2, lo2, hi2, src2 = self._two_opt(a)
        go, so, lno, xo, ro, span, srco = self._or_opt(a)
        n_two = len(g2)
        gain = np.concatenate([g2, go])
        if len(gain) == 0:
            self.active[a] = False
            return 0.0
        lo = np.concatenate([lo2 - 1, span[0]])
        hi = np.concatenate([hi2 + 1, span[1]])
        top = np.argsort(-gain)[: max_moves * 4]
        chosen: list[int] = []
        spans: list[tuple[int, int]] = []
        for m, lo_m, hi_m in zip(top.tolist(), lo[top].tolist(), hi[top].tolist(), strict=True):
            if any(lo_m <= h and lo_c <= hi_m for lo_c, h in spans):
                continue
            spans.append((lo_m, hi_m))
            chosen.append(m)
            if len(chosen) >= max_moves:
                break
        # nodes whose candidate lists had no improving move go to sleep
        t = self.t
        self.active[a] = False
        self.active[src2] = True
        self.active[srco] = True
        total = 0.0
        touched: list[int] = []
        for m in chosen:
            if m < n_two:
                i, j = int(lo2[m]), int(hi2[m])
                touched += [int(t[i - 1]), int(t[i]), int(t[j]), int(t[(j + 1) % self.n])]
                t[i : j + 1] = t[i : j + 1][::-1].copy()
            else:
                k = m - n_two
                s, ln, x, rev = int(so[k]), int(lno[k]), int(xo[k]), bool(ro[k])
                touched += [
                    int(t[s - 1]),
                    int(t[(s + ln) % self.n]),
                    int(t[x]),
                    int(t[(x + 1) % self.n]),
                    int(t[s]),
                    int(t[s + ln - 1]),
                ]
                seg = t[s : s + ln].copy()
                if rev:
                    seg = seg[::-1]
                if x < s:
                    # ... x | x+1 .. s-1 | seg | rest  ->  ... x | seg | x+1 .. s-1 | rest
                    mid = t[x + 1 : s].copy()
                    t[x + 1 : x + 1 + ln] = seg
                    t[x + 1 + ln : s + ln] = mid
                else:
                    # ... s-1 | seg | s+ln .. x | x+1 ...  ->  ... s-1 | s+ln .. x | seg | x+1
                    mid = t[s + ln : x + 1].copy()
                    t[s : s + len(mid)] = mid
                    t[s + len(mid) : x + 1] = seg
            total += float(gain[m])
        if chosen:
            self.pos[t] = np.arange(self.n)
            self.active[np.asarray(touched, dtype=np.int64)] = True
        return total

    def descend(self) -> float:
        """Run rounds until no active node has an improving move; returns the total gain."""
        total = 0.0
        while self.active.any():
            total += self.round()
        return total


def solve_tour(
    dist: FloatArray,
    *,
    start: int = 0,
    closed: bool = True,
    time_limit_s: float = 0.4,
    neighbours: int = 10,
    seed: int = 0,
    improve: bool = True,
    max_kicks: int | None = None,
) -> IntArray:
    """Order the nodes of ``dist`` into a short tour beginning at ``start``.

    Parameters
    ----------
    dist
        Square, symmetric matrix of non-negative costs (metres).
    start
        Index of the first node (the patrol's start).
    closed
        Return to ``start`` at the end (a loop) or end at the last stop (a path).
    time_limit_s
        Budget of the iterated local search after the first local optimum (0 stops there).
    neighbours
        Size of the candidate lists.
    seed
        Seed of the kicks (the result is reproducible for a given budget and machine speed; with
        ``time_limit_s=0`` it is fully deterministic).
    improve
        ``False`` returns the nearest-neighbour tour.
    max_kicks
        Stop the iterated local search after this many kicks (whichever of this and
        ``time_limit_s`` comes first); with ``time_limit_s=math.inf`` the result depends only on
        ``seed`` and ``max_kicks``.

    Returns
    -------
    numpy.ndarray
        Node indices, first ``start``; for a closed tour the return edge is implicit.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> pts = rng.random((30, 2))
    >>> d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    >>> t = solve_tour(d, time_limit_s=0.0)
    >>> tour_length(d, t) <= tour_length(d, nearest_neighbour_tour(d))
    True
    """
    d = np.asarray(dist, dtype=np.float64)
    n = d.shape[0]
    if n <= 2 or not improve:
        return nearest_neighbour_tour(d, start)
    if not closed:
        return _solve_path(
            d,
            start=start,
            time_limit_s=time_limit_s,
            neighbours=neighbours,
            seed=seed,
            max_kicks=max_kicks,
        )
    deadline = time.perf_counter() + max(0.0, time_limit_s)
    s = _Search(d, nearest_neighbour_tour(d, start), _knn(d, neighbours))
    s.descend()
    best = _iterated_local_search(s, deadline=deadline, seed=seed, max_kicks=max_kicks)
    # rotate so that the start comes first (it never moved, but be explicit)
    k = int(np.flatnonzero(best == start)[0])
    return np.roll(best, -k).astype(np.int64)


def _solve_path(
    d: FloatArray,
    *,
    start: int,
    time_limit_s: float,
    neighbours: int,
    seed: int,
    max_kicks: int | None,
) -> IntArray:
    """An open path from ``start``: a closed tour through a dummy node, or a cut loop if shorter."""
    n = d.shape[0]
    # a path from ``start`` = a cycle through a dummy node that costs 0 to ``start`` and a
    # constant C to everyone else: every cycle pays C once if the dummy sits next to
    # ``start`` and twice otherwise, and C exceeds what any move can save elsewhere
    big = np.empty((n + 1, n + 1))
    big[:n, :n] = d
    c = 4.0 * float(d.max()) + 1.0
    big[n, :] = c
    big[:, n] = c
    big[n, start] = big[start, n] = 0.0
    big[n, n] = 0.0
    t = solve_tour(
        big,
        start=n,
        closed=True,
        time_limit_s=time_limit_s,
        neighbours=neighbours,
        seed=seed,
        max_kicks=max_kicks,
    )
    path = (t[1:] if t[1] == start else t[1:][::-1]).astype(np.int64)
    # A loop through ``start`` cut at one of start's two edges is also a path from ``start``;
    # the local search on the dummy graph can end in a worse optimum than that, so keep the
    # best of the three (one extra descent, no extra kicks).
    loop = solve_tour(
        d, start=start, closed=True, time_limit_s=0.0, neighbours=neighbours, seed=seed
    )
    for cand in (loop, np.concatenate([loop[:1], loop[1:][::-1]])):
        if tour_length(d, cand, closed=False) < tour_length(d, path, closed=False) - 1e-9:
            path = cand.astype(np.int64)
    return path


def _iterated_local_search(
    s: _Search, *, deadline: float, seed: int, max_kicks: int | None
) -> IntArray:
    """Kick and re-descend ``s`` until the deadline or ``max_kicks``; returns the best tour."""
    d, n = s.d, s.n
    best = s.t.copy()
    best_len = tour_length(d, best)
    rng = np.random.default_rng(seed)
    window = max(4, min(n - 1, _KICK_WINDOW))
    kicks = 0
    while time.perf_counter() < deadline and n > 8 and (max_kicks is None or kicks < max_kicks):
        kicks += 1
        if not _double_bridge_kick(s, rng, window):
            continue
        s.descend()
        cur_len = tour_length(d, s.t)
        if cur_len < best_len - _EPS:
            best_len = cur_len
            best = s.t.copy()
        else:
            s.t[:] = best
            s.pos[best] = np.arange(n)
    return best


def _double_bridge_kick(s: _Search, rng: np.random.Generator, window: int) -> bool:
    """Swap two adjacent runs of ``s.t`` within ``window`` positions; ``False`` when too short."""
    n = s.n
    # local double bridge: swap the runs [p0, p1) and [p1, p2), 1 <= p0 < p1 < p2 <= n,
    # within a window of consecutive positions
    p0 = int(rng.integers(1, n - 3))
    span = min(window, n - p0)
    if span < 4:
        return False
    cuts = np.sort(rng.choice(np.arange(1, span), size=2, replace=False)) + p0
    p1, p2 = int(cuts[0]), int(cuts[1])
    t = s.t
    t[p0:p2] = np.concatenate([t[p1:p2], t[p0:p1]])
    q = p0 + (p2 - p1)  # where the first run now starts
    s.pos[t] = np.arange(n)
    s.active[:] = False
    s.active[t[[p0 - 1, p0, q - 1, q, p2 - 1, p2 % n]]] = True
    return True
