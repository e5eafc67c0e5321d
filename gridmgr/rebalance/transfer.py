"""Move search (phase 3): one transport round realises the flow's transfers by peeling each donor
in layers of BFS distance from the shared border; in the last layer :func:`pick` chooses and
rounds to whole pieces."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gridmgr.rebalance.flow import flow_order, flows
from gridmgr.rebalance.graphops import unique_keep_order
from gridmgr.rebalance.results import FloatArray, IntArray
from gridmgr.rebalance.state import Problem, State, cut_edges, move_delta, violations, worse

#: Directed cut edges (piece in u, piece in v) sorted by the key u × K + v: (keys, pu, pv).
Borders = tuple[IntArray, IntArray, IntArray]


def transport_round(p: Problem, st: State) -> bool:
    """One round of transport: solve the flow, run its transfers in order; False if none moved."""
    if not violations(p, st).any():
        return False
    st.T_start = st.T.copy()
    ci, cj = cut_edges(p, st)
    src, dst, f = flows(p, st, (ci, cj))
    min_piece = float(np.min(p.m.loads[p.m.loads > 0], initial=1.0))
    keep = f > 0.5 * min_piece * 1e-3
    src, dst, f = src[keep], dst[keep], f[keep]
    if f.size == 0:
        return False
    borders = _borders(p, st, ci, cj)
    moved_any = False
    for i in flow_order(src, dst, f, p.K).tolist():
        s, d = int(src[i]), int(dst[i])
        # A territory passes on what it received (the flow order lets it receive first), but
        # never gives away more than would leave it half its fair share in one round.
        amount = min(float(f[i]), float(st.tload[s] - 0.5 * p.target[s]))
        # What must cross for the donor to get under the band, or the receiver above it:
        # that part is rounded up to whole pieces, the rest to the nearest piece.
        must = min(amount, max(st.tload[s] - p.hi[s], p.lo[d] - st.tload[d], 0.0))
        if amount > 0:
            moved_any |= transfer(p, st, borders, s, d, amount, float(must))
        if st.hit_max_moves:
            break
    return moved_any


def _borders(p: Problem, st: State, ci: NDArray[np.int32], cj: NDArray[np.int32]) -> Borders:
    """Directed cut edges (piece in u, piece in v) grouped by the territory pair (u, v)."""
    pu = np.concatenate([ci, cj]).astype(np.int64)
    pv = np.concatenate([cj, ci]).astype(np.int64)
    key = st.T[pu] * p.K + st.T[pv]
    order = np.argsort(key, kind="stable")
    return key[order], pu[order], pv[order]


def transfer(
    p: Problem, st: State, borders: Borders, s: int, d: int, amount: float, must: float = 0.0
) -> bool:
    """Move about ``amount`` (at least ``must``) load from territory ``s`` to ``d`` across their
    shared border, whole layers first; True if any piece moved."""
    loads = p.m.loads
    layer = _border_layer(p, st, borders, s, d)
    if layer.size == 0:
        return False
    sid = st.next_stamp()
    st.stamp[layer] = sid
    budget = None if p.m.max_moves is None else p.m.max_moves - st.moved_count
    cum, moved = 0.0, 0
    while layer.size:
        lload = loads[layer]
        if cum + float(lload.sum()) <= amount:
            take = layer
        else:
            take = _last_layer(p, st, layer, lload, s, d, amount - cum, must - cum)
        if budget is not None:
            take, budget = _within_budget(p, st, take, s, d, budget)
        if take.size:
            cum += _give(p, st, take, s, d)
            moved += take.size
        if take.size < layer.size or st.hit_max_moves:
            break
        layer = _next_layer(p, st, layer, s, sid)
    return moved > 0


def _border_layer(p: Problem, st: State, borders: Borders, s: int, d: int) -> IntArray:
    """Movable pieces of ``s`` on its border with ``d`` (the first layer to peel)."""
    keys, pu, pv = borders
    k = s * p.K + d
    i0, i1 = np.searchsorted(keys, k, "left"), np.searchsorted(keys, k, "right")
    cand = pu[i0:i1]
    ok = (st.T[cand] == s) & (st.T[pv[i0:i1]] == d) & p.movable[cand]
    return unique_keep_order(cand[ok], st.scratch)


def _next_layer(p: Problem, st: State, layer: IntArray, s: int, sid: int) -> IntArray:
    """The movable pieces of ``s`` one step further from the border (not yet visited)."""
    nb, _ = p.g.neighbours(layer)
    nb = nb[(st.T[nb] == s) & p.movable[nb] & (st.stamp[nb] != sid)]
    nxt = unique_keep_order(nb, st.scratch)
    st.stamp[nxt] = sid
    return nxt


def _last_layer(
    p: Problem,
    st: State,
    layer: IntArray,
    lload: FloatArray,
    s: int,
    d: int,
    rem: float,
    must: float,
) -> IntArray:
    """Part of a layer that is more than the rest ``rem``: rounded up to ``must`` unless that
    leaves the pair further outside the band, and nothing if even the nearest fit does."""
    loads = p.m.loads
    take = pick(p, st, layer, lload, rem, d, must)
    if must > 0 and worse(p, st, s, d, float(loads[take].sum())):
        take = pick(p, st, layer, lload, rem, d)  # no rounding up
    if take.size and worse(p, st, s, d, float(loads[take].sum())):
        take = take[:0]
    return take


def _within_budget(
    p: Problem, st: State, take: IntArray, s: int, d: int, budget: int
) -> tuple[IntArray, int]:
    """Cut ``take`` where it would exceed the ``max_moves`` budget; the rest of the budget."""
    cs = np.cumsum(move_delta(p, take, d, s))
    if cs.size and cs.max() > budget:
        cut_at = int(np.argmax(cs > budget))
        take = take[:cut_at]
        st.hit_max_moves = True
        cs = cs[:cut_at]
    budget -= int(cs[-1]) if cs.size else 0
    return take, budget


def _give(p: Problem, st: State, take: IntArray, s: int, d: int) -> float:
    """Hand ``take`` from ``s`` to ``d``; returns the load moved."""
    loads = p.m.loads
    st.donors[s] = True
    st.T[take] = d
    w = float(loads[take].sum())
    st.tload[s] -= w
    st.tload[d] += w
    st.moved_count += int(move_delta(p, take, d, s).sum())
    return w


def pick(
    p: Problem,
    st: State,
    layer: IntArray,
    lload: FloatArray,
    rem: float,
    d: int,
    must: float = 0.0,
) -> IntArray:
    """Pieces of one layer whose load best fits ``rem``: heavy pieces first (fewest moves),
    then pieces nestled against the receiver (compact borders), ties by the seed."""
    nb, pos = p.g.neighbours(layer)
    touch = np.bincount(pos[st.T[nb] == d], minlength=layer.size)
    med = float(np.median(lload)) or 1.0
    qload = np.floor(lload / (0.25 * med))
    order = np.lexsort((st.rng.permutation(layer.size), -touch, -qload))
    ls = lload[order]
    cs = np.cumsum(ls)
    prev = cs - ls
    # 1. the longest prefix whose every piece brings the sum closer to ``rem``
    m = int(np.count_nonzero(prev + ls / 2 < rem))
    chosen = list(order[:m])
    cum = float(cs[m - 1]) if m else 0.0
    # 2. lighter pieces further down that still bring it closer (skipping too heavy ones)
    rest = order[m:]
    for j in rest[lload[rest] < 2.0 * (rem - cum)].tolist():
        if cum + lload[j] / 2 < rem:
            chosen.append(j)
            cum += float(lload[j])
    # 3. what must cross: the lightest piece that is enough, else the heaviest, until done
    if cum < must - 1e-12:
        chosen += _round_up(lload, rest, chosen, cum, must)
    return layer[np.asarray(chosen, dtype=np.int64)]


def _round_up(
    lload: FloatArray, rest: IntArray, chosen: list[int], cum: float, must: float
) -> list[int]:
    """Pieces of ``rest`` not yet ``chosen`` that bring ``cum`` up to ``must``: the lightest
    piece that is enough, else the heaviest, repeated."""
    left = np.setdiff1d(rest, np.asarray(chosen, dtype=np.int64), assume_unique=True)
    out: list[int] = []
    while cum < must - 1e-12 and left.size:
        need = must - cum
        ll = lload[left]
        enough = np.flatnonzero(ll >= need)
        k = int(enough[np.argmin(ll[enough])]) if enough.size else int(np.argmax(ll))
        out.append(int(left[k]))
        cum += float(ll[k])
        left = np.delete(left, k)
    return out
