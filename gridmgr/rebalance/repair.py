"""Contiguity repair after a transport round (phase 4), and undoing a round that cannot be repaired.

Only territories that gave pieces can have been split. A split territory keeps its largest parts;
fragments join the adjacent territory with the lowest ratio. A fragment that cannot move (locked
pieces) or whose load would swing its new owner out of the band is reconnected instead: the
pieces around it that left it this round are handed back ring by ring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gridmgr.rebalance.graphops import unique_keep_order
from gridmgr.rebalance.results import BoolArray, IntArray
from gridmgr.rebalance.state import Problem, State, move_delta, worse


@dataclass(frozen=True, eq=False)
class _Parts:
    """Connected parts of the donor territories."""

    held: IntArray
    """Pieces of donor territories."""
    comp: IntArray
    """Part per piece (-1: not in a donor territory)."""
    c: IntArray
    """Part per ``held`` piece."""
    lab: IntArray
    """Territory per part."""


def repair(p: Problem, st: State, base_parts: IntArray) -> bool:
    """Territories split by this round keep their largest parts; fragments join a neighbour.

    Returns False when some territory could not be made whole again (the caller then undoes
    the round)."""
    split = np.zeros(p.K, dtype=bool)
    for _ in range(8):
        parts = _donor_parts(p, st)
        if parts is None:
            return True
        split = np.bincount(parts.lab, minlength=p.K) > base_parts
        if not split.any():
            return True
        fp = _fragment_pieces(parts, split, base_parts)
        if fp.size == 0:
            return True
        stuck = _stuck_fragments(p, st, parts.comp, fp)
        if stuck.size:
            # A fragment with locked pieces cannot move: hand back the pieces that cut it off.
            for cid in stuck.tolist():
                piece = fp[parts.comp[fp] == cid]
                st.stuck[st.T[piece[0]]] = True
                reconnect(p, st, piece)
            continue
        if not _hand_out(p, st, parts.comp, fp):
            st.stuck |= split
            return False
    st.stuck |= split
    return False


def _donor_parts(p: Problem, st: State) -> _Parts | None:
    """Connected parts of the territories that gave pieces (``None``: there are none)."""
    T, n = st.T, p.g.n
    ei, ej = p.g.ei, p.g.ej
    pm = T >= 0
    pm[pm] = st.donors[T[pm]]
    held = np.flatnonzero(pm)
    if held.size == 0:
        return None
    k = pm[ei] & (T[ei] == T[ej])
    idx = np.full(n, -1, dtype=np.int64)
    idx[held] = np.arange(held.size)
    si, sj = idx[ei[k]], idx[ej[k]]
    indptr = np.zeros(held.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(si, minlength=held.size), out=indptr[1:])
    g = sp.csr_matrix((np.ones(si.size, dtype=np.int8), sj, indptr), shape=(held.size,) * 2)
    c = np.asarray(connected_components(g, directed=True, connection="weak")[1], dtype=np.int64)
    comp = np.full(n, -1, dtype=np.int64)
    comp[held] = c
    lab = np.empty(int(c.max()) + 1, dtype=np.int64)
    lab[c] = T[held]  # every part lies in one territory
    return _Parts(held=held, comp=comp, c=c, lab=lab)


def _fragment_pieces(parts: _Parts, split: BoolArray, base_parts: IntArray) -> IntArray:
    """Pieces of the parts beyond the ``base_parts`` largest of each split territory."""
    c, lab = parts.c, parts.lab
    m_ = len(lab)
    pc = np.flatnonzero(split[lab])  # the parts of split territories
    pt, psize = lab[pc], np.bincount(c, minlength=m_)[pc]
    order = np.lexsort((pc, -psize, pt))
    pt, pc = pt[order], pc[order]
    first = np.searchsorted(pt, pt, "left")
    rank = np.arange(len(pt)) - first
    frag_comp = pc[rank >= base_parts[pt]]
    if frag_comp.size == 0:
        return frag_comp
    is_frag = np.zeros(m_, dtype=bool)
    is_frag[frag_comp] = True
    out: IntArray = parts.held[is_frag[c]]
    return out


def _stuck_fragments(p: Problem, st: State, comp: IntArray, fp: IntArray) -> IntArray:
    """Fragments that must be reconnected: those holding locked pieces, and those whose load
    would swing the neighbour they would join out of the band."""
    T = st.T
    stuck = np.unique(comp[fp[~p.movable[fp]]])
    fl = np.bincount(comp[fp], weights=p.m.loads[fp])
    fc, tt = _lowest_neighbours(p, st, comp, fp)
    heavy = [
        int(c_)
        for c_, w_ in zip(fc.tolist(), tt.tolist(), strict=True)
        if worse(p, st, int(T[fp[comp[fp] == c_][0]]), int(w_), float(fl[c_]))
    ]
    out: IntArray = np.union1d(stuck, np.asarray(heavy, dtype=np.int64))
    return out


def _lowest_neighbours(
    p: Problem, st: State, comp: IntArray, fp: IntArray
) -> tuple[IntArray, IntArray]:
    """Per fragment touching another free territory: the fragment and that neighbour with the
    lowest ratio (ties by territory)."""
    T = st.T
    nb, src = p.g.neighbours(fp)
    src = fp[src]
    tt = T[nb]
    ok = (tt >= 0) & (tt != T[src])
    ok[ok] &= ~p.locked_t[tt[ok]]
    ratio = st.tload / p.target
    fc, tt = comp[src[ok]], tt[ok]
    o = np.lexsort((tt, ratio[tt], fc))
    fc, tt = fc[o], tt[o]
    firstc = np.r_[True, fc[1:] != fc[:-1]] if fc.size else np.zeros(0, dtype=bool)
    return fc[firstc], tt[firstc]


def _hand_out(p: Problem, st: State, comp: IntArray, fp: IntArray) -> bool:
    """Fragments join their adjacent territory with the lowest ratio; False if none can."""
    T, loads = st.T, p.m.loads
    fc, tt = _lowest_neighbours(p, st, comp, fp)
    if fc.size == 0:
        return False
    dest = np.full(p.g.n, -1, dtype=np.int64)
    dest[fc] = tt
    go = fp[dest[comp[fp]] >= 0]
    new_t = dest[comp[go]]
    old_t = T[go]
    st.moved_count += int(move_delta(p, go, new_t, old_t).sum())
    T[go] = new_t
    st.tload -= np.bincount(old_t, weights=loads[go], minlength=p.K)
    st.tload += np.bincount(new_t, weights=loads[go], minlength=p.K)
    return True


def reconnect(p: Problem, st: State, frag: IntArray) -> None:
    """Return to ``frag``'s territory, ring by ring, the pieces it gave away this round around
    ``frag``, until ``frag`` touches the rest of its territory again."""
    T, loads = st.T, p.m.loads
    t = int(T[frag[0]])
    sid = st.next_stamp()
    st.stamp[frag] = sid
    frontier = frag
    for _ in range(p.g.n):
        nb, _ = p.g.neighbours(frontier)
        if ((T[nb] == t) & (st.stamp[nb] != sid)).any():
            return
        ring = nb[(st.T_start[nb] == t) & (T[nb] != t) & (T[nb] >= 0) & p.movable[nb]]
        ring = unique_keep_order(ring, st.scratch)
        if ring.size == 0:
            # Walled in some other way: give the territory back all it lost this round.
            ring = np.flatnonzero((st.T_start == t) & (T != t) & (T >= 0) & p.movable)
            if ring.size == 0:
                return
        old = T[ring]
        st.tload -= np.bincount(old, weights=loads[ring], minlength=p.K)
        st.tload[t] += float(loads[ring].sum())
        st.moved_count += int(move_delta(p, ring, t, old).sum())
        st.donors[old] = True
        T[ring] = t
        st.stamp[ring] = sid
        frontier = ring


def undo_round(p: Problem, st: State) -> None:
    """Put every piece back where it was at the start of the round."""
    T, loads = st.T, p.m.loads
    T[:] = st.T_start
    held = T >= 0
    st.tload = np.asarray(
        np.bincount(T[held], weights=loads[held], minlength=p.K), dtype=np.float64
    )
    lead = np.where(held, p.tl[np.maximum(T, 0)], -1)
    st.moved_count = int((lead != p.owner0).sum())
