"""State shared by the phases of one rebalance solve.

* :class:`PieceGraph` -- edge arrays of the piece graph (built once per solve, read-only);
* :class:`Problem` -- the territories, their fair shares and bands (read-only);
* :class:`State` -- the assignment being changed: territory per piece, load per territory,
  move count and the per-round flags (mutable, passed explicitly to every phase);
* helpers every phase uses: territory borders and the distance to the band.

A *territory* is one (community, leader) pair; pieces carry a territory index in ``State.T``
(:data:`FREE`: must be handed out, :data:`NONE`: nobody holds it and nobody may take it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from gridmgr.rebalance.arrays import ModelArrays
from gridmgr.rebalance.graphops import neighbours
from gridmgr.rebalance.results import BoolArray, FloatArray, IntArray

FREE = -2  # territory marker of a piece that must be handed to a neighbour
NONE = -1  # territory marker of a piece nobody holds and nobody may take (locked, unassigned)

Edges = tuple[NDArray[np.int32], NDArray[np.int32]]


@dataclass(frozen=True, eq=False)
class PieceGraph:
    """Edge arrays of the piece graph; moves never cross communities, so most are per community."""

    n: int
    """Number of pieces."""
    ui_all: NDArray[np.int32]
    """Upper edges (i < j) over all communities, sorted by i (int32 for speed)."""
    uj_all: NDArray[np.int32]
    ei: NDArray[np.int32]
    """Upper edges (i < j) inside one community, sorted by i."""
    ej: NDArray[np.int32]
    indptr: IntArray
    """CSR of the neighbours inside the same community."""
    indices: IntArray
    degree: IntArray

    @classmethod
    def build(cls, adj: sp.csr_matrix, group: IntArray) -> PieceGraph:
        """Edge arrays of ``adj`` (positive entries) with the community of every piece."""
        n = adj.shape[0]
        coo = adj.tocoo()
        up = (coo.col > coo.row) & (coo.data > 0)
        ui_all = coo.row[up].astype(np.int32)
        uj_all = coo.col[up].astype(np.int32)
        same = group[ui_all] == group[uj_all]
        full = (coo.row != coo.col) & (coo.data > 0)
        full &= group[coo.row] == group[coo.col]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(coo.row[full], minlength=n), out=indptr[1:])
        return cls(
            n=n,
            ui_all=ui_all,
            uj_all=uj_all,
            ei=ui_all[same],
            ej=uj_all[same],
            indptr=indptr,
            indices=coo.col[full].astype(np.int64),
            degree=np.diff(indptr),
        )

    def neighbours(self, rows: IntArray) -> tuple[IntArray, IntArray]:
        """(neighbour, position in ``rows``) pairs of ``rows`` inside their community."""
        return neighbours(self.indptr, self.indices, rows)


@dataclass(frozen=True, eq=False)
class Problem:
    """Territories of one solve with their fair shares and bands (fixed while solving)."""

    m: ModelArrays
    """The model (loads, groups, locks, band ends, labels)."""
    g: PieceGraph
    owner0: IntArray
    """Leader per piece before the plan (-1: unassigned)."""
    K: int
    """Number of territories."""
    tl: IntArray
    """Leader of each territory."""
    tg: IntArray
    """Community of each territory."""
    target: FloatArray
    """Fair share of each territory."""
    hi: FloatArray
    """Upper end of each territory's band."""
    lo: FloatArray
    """Lower end of each territory's band."""
    locked_t: BoolArray
    """Territories of locked leaders (neither give nor receive)."""
    movable: BoolArray
    """Pieces that may change leader."""
    typical_load: float
    """Median positive piece load."""

    def leader_name(self, pos: int) -> str:
        """Leader label used in messages."""
        return self.m._leader_name(pos)

    def group_name(self, g: int) -> str:
        """Community label used in messages."""
        return self.m._group_name(g)


@dataclass(eq=False)
class State:
    """The assignment while solving; every phase reads and updates it in place."""

    T: IntArray
    """Territory per piece (or :data:`FREE` / :data:`NONE`); changed in place only."""
    tload: FloatArray
    """Load per territory."""
    moved_count: int
    """Pieces whose leader differs from the one before the plan."""
    rng: np.random.Generator
    """Tie-breaks (seeded)."""
    stamp: IntArray
    """A visit stamp per piece for BFS without O(n) resets (see :meth:`next_stamp`)."""
    scratch: IntArray
    """Scratch int array as long as the graph (``unique_keep_order``)."""
    T_start: IntArray
    """``T`` at the start of the current round (for hand-backs and undo)."""
    no_give: BoolArray
    """Territories that only receive from now on (a round they gave in had to be undone)."""
    donors: BoolArray
    """Territories that gave pieces this round (the ones repair checks)."""
    stuck: BoolArray
    """Territories whose split this round could not be repaired by handing out fragments."""
    stamp_id: int = 0
    hit_max_moves: bool = False

    @classmethod
    def start(cls, p: Problem, T: IntArray, tload: FloatArray, moved_count: int) -> State:
        """Initial state over territories ``T`` with loads ``tload``."""
        n = p.g.n
        return cls(
            T=T,
            tload=tload,
            moved_count=moved_count,
            rng=np.random.default_rng(p.m.seed),
            stamp=np.zeros(n, dtype=np.int64),
            scratch=np.zeros(n, dtype=np.int64),
            T_start=T.copy(),
            no_give=np.zeros(p.K, dtype=bool),
            donors=np.zeros(p.K, dtype=bool),
            stuck=np.zeros(p.K, dtype=bool),
        )

    def next_stamp(self) -> int:
        """A fresh visit stamp."""
        self.stamp_id += 1
        return self.stamp_id


# --------------------------------------------------------------------------------------------
# Borders and the band


def cut_edges(p: Problem, st: State) -> Edges:
    """Edges (i < j) between pieces of two different territories."""
    a, b = st.T[p.g.ei], st.T[p.g.ej]
    cut = (a != b) & (a >= 0) & (b >= 0)
    return p.g.ei[cut], p.g.ej[cut]


def territory_pairs(
    p: Problem, st: State, cut: Edges | None = None
) -> tuple[IntArray, IntArray, IntArray]:
    """Unique adjacent territory pairs (u < v) and their shared edge counts."""
    ci, cj = cut_edges(p, st) if cut is None else cut
    a, b = st.T[ci], st.T[cj]
    u, v = np.minimum(a, b), np.maximum(a, b)
    key, cnt = np.unique(u * p.K + v, return_counts=True)
    return key // p.K, key % p.K, cnt


def move_delta(
    p: Problem, pieces: IntArray, new_t: IntArray | int, old_t: IntArray | int
) -> IntArray:
    """Per piece, the change of the move count when it goes from territory ``old_t`` to ``new_t``."""
    owner = p.owner0[pieces]
    out: IntArray = (owner != p.tl[new_t]).astype(np.int64) - (owner != p.tl[old_t])
    return out


def worse(p: Problem, st: State, s: int, d: int, w: float) -> bool:
    """Would moving load ``w`` from ``s`` to ``d`` leave the pair further outside the band?"""

    def off(x: float, t: int) -> float:
        return max(0.0, x - float(p.hi[t])) + max(0.0, float(p.lo[t]) - x)

    a, b = float(st.tload[s]), float(st.tload[d])
    return off(a - w, s) + off(b + w, d) > off(a, s) + off(b, d) + 1e-12


def off_band(p: Problem, st: State) -> float:
    """Summed distance of the free territories' loads to the band, in fair shares."""
    free_t = ~p.locked_t
    over = np.maximum(st.tload - p.hi, 0.0) + np.maximum(p.lo - st.tload, 0.0)
    return round(float((over[free_t] / p.target[free_t]).sum()), 9)


def violations(p: Problem, st: State) -> BoolArray:
    """Free territories outside their band."""
    free_t = ~p.locked_t
    out: BoolArray = free_t & ((st.tload > p.hi * (1 + 1e-9)) | (st.tload < p.lo * (1 - 1e-9)))
    return out
