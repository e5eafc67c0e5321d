"""The array core of :class:`gridmgr.rebalance.model.Rebalance`: model, solver, metrics.

Internal module, split out of :mod:`gridmgr.rebalance.model` (see that module's docstring for the
algorithm). It depends only on numpy/scipy and :mod:`gridmgr.errors`; everything store-facing
(``from_store``, plans) stays in :mod:`gridmgr.rebalance.model`, which re-exports the public names
defined here (:class:`Metrics`, :class:`Miss`, :class:`RebalanceResult`) and subclasses
:class:`RebalanceCore` as :class:`~gridmgr.rebalance.model.Rebalance`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from gridmgr.errors import InfeasibleError, InputError
from gridmgr.i18n import t

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Cost of leaving one unit of load outside the band, against 1 per unit moved over a border.
_VIOLATION_COST = 1000.0
_FREE = -2  # territory marker of a piece that must be handed to a neighbour
_NONE = -1  # territory marker of a piece nobody holds and nobody may take (locked, unassigned)


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Metrics:
    """Balance, contiguity and compactness of one assignment state.

    Ratios are per leader: load / fair share, the fair share being capacity × (community load /
    community capacity), so 1.0 is exactly balanced. Leaders that leave are not counted.
    """

    max_ratio: float
    """Highest leader ratio (max/mean load)."""
    min_ratio: float
    """Lowest leader ratio (min/mean load)."""
    std_ratio: float
    """Standard deviation of the leader ratios."""
    disconnected: int
    """Territories (leader × community) whose pieces form more than one connected part."""
    boundary_edges_per_piece: float
    """Compactness: graph edges between pieces of different leaders, per piece (lower = more
    compact territories)."""
    unassigned_pieces: int
    """Pieces without an active leader (unassigned, or held by a leader who leaves)."""
    unassigned_load: float
    """Their load."""
    n_leaders: int
    """Leaders taking part."""

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict (JSON-safe)."""
        return {k: (float(v) if isinstance(v, float) else int(v)) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Miss:
    """A leader still outside the target band after solving, and why."""

    leader: int
    """Leader position."""
    ratio: float
    """Their ratio after the plan."""
    reason_zh: str
    reason_en: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-safe)."""
        return {
            "leader": int(self.leader),
            "ratio": float(self.ratio),
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
        }


@dataclass(frozen=True, eq=False)
class RebalanceResult:
    """Outcome of :meth:`Rebalance.solve`: the moves and the metrics before and after."""

    owner: IntArray
    """Leader position per piece after the plan (-1: nobody)."""
    move_pieces: IntArray
    """Positions of the pieces that change leader, ascending."""
    move_from: IntArray
    """Their leader before (-1: unassigned)."""
    move_to: IntArray
    """Their leader after."""
    before: Metrics
    after: Metrics
    moved_area_m2: float
    """Summed area of the moved pieces (NaN when areas were not given)."""
    ratio_before: FloatArray
    """Ratio per leader before (NaN: leader not taking part)."""
    ratio_after: FloatArray
    """Ratio per leader after (NaN: leader not taking part or leaving)."""
    missed: tuple[Miss, ...]
    """Leaders still outside ``[min_ratio, target_ratio]``, with the reason."""
    iterations: int
    """Transport rounds run."""
    seed: int

    @property
    def moved_pieces(self) -> int:
        """Number of pieces that change leader."""
        return len(self.move_pieces)

    @property
    def moves(self) -> list[tuple[int, int, int]]:
        """The moves as ``(piece, from_leader, to_leader)`` tuples."""
        return list(
            zip(
                self.move_pieces.tolist(),
                self.move_from.tolist(),
                self.move_to.tolist(),
                strict=True,
            )
        )


# --------------------------------------------------------------------------------------------
# Graph helpers


def _neighbours(indptr: IntArray, indices: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """All (neighbour, position in ``rows``) pairs of ``rows`` in a CSR graph, vectorised."""
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    offs = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(
        total, dtype=np.int64
    )
    return indices[offs], np.repeat(np.arange(rows.size, dtype=np.int64), counts)


def _components(n: int, ei: NDArray[np.int32], ej: NDArray[np.int32], label: IntArray) -> IntArray:
    """Connected-component id of every node over the edges ``ei < ej`` (sorted by ``ei``) whose
    ends share a ``label`` >= 0. Builds the CSR directly and runs a weak-components pass."""
    li = label[ei]
    keep = (li == label[ej]) & (li >= 0)
    src = ei[keep]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    g = sp.csr_matrix((np.ones(src.size, dtype=np.int8), ej[keep], indptr), shape=(n, n))
    return np.asarray(connected_components(g, directed=True, connection="weak")[1], dtype=np.int64)


def _labels_of_parts(comp: IntArray, label: IntArray) -> IntArray:
    """Label of every connected part that carries a label >= 0 (a part has a single label)."""
    has = label >= 0
    lab = np.full(int(comp.max(initial=-1)) + 1, -1, dtype=np.int64)
    lab[comp[has]] = label[has]
    return lab[lab >= 0]


def _unique_keep_order(values: IntArray, scratch: IntArray) -> IntArray:
    """Distinct ``values`` without sorting (``scratch``: an int array as long as the graph)."""
    if values.size < 2:
        return values
    idx = np.arange(values.size)
    scratch[values] = idx
    out: IntArray = values[scratch[values] == idx]
    return out


def _as_index_set(values: Iterable[int] | NDArray[Any], size: int, what: str) -> BoolArray:
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        raise InputError(f"{what}: positions must be in [0, {size}); got {arr.min()}..{arr.max()}")
    mask = np.zeros(size, dtype=bool)
    mask[arr] = True
    return mask


def _flow_order(src: IntArray, dst: IntArray, f: FloatArray, n_nodes: int) -> IntArray:
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


# --------------------------------------------------------------------------------------------
# The model


class RebalanceCore:
    """Array model and solver behind :class:`gridmgr.rebalance.model.Rebalance` (use that class)."""

    def __init__(
        self,
        *,
        adj: sp.csr_matrix,
        loads: FloatArray,
        owner: IntArray,
        capacities: FloatArray,
        group: IntArray,
        leader_group: IntArray,
        locked_leaders: BoolArray,
        locked_pieces: BoolArray,
        target_ratio: float,
        min_ratio: float,
        max_moves: int | None,
        seed: int,
        areas: FloatArray | None,
        hard_cap: bool,
        max_rounds: int,
        leader_labels: Sequence[str] | None,
        group_labels: Sequence[str] | None,
    ) -> None:
        self.adj = adj
        self.loads = loads
        self.owner = owner
        self.capacities = capacities
        self.group = group
        self.leader_group = leader_group
        self.locked_leaders = locked_leaders
        self.locked_pieces = locked_pieces
        self.target_ratio = target_ratio
        self.min_ratio = min_ratio
        self.max_moves = max_moves
        self.seed = seed
        self.areas = areas
        self.hard_cap = hard_cap
        self.max_rounds = max_rounds
        self.leader_labels = list(leader_labels) if leader_labels is not None else None
        self.group_labels = list(group_labels) if group_labels is not None else None

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def from_graph(
        cls,
        adj: sp.spmatrix | sp.sparray,
        loads: ArrayLike,
        owner: ArrayLike,
        capacities: ArrayLike,
        *,
        group: ArrayLike | None = None,
        leader_group: ArrayLike | None = None,
        locked_leaders: Iterable[int] = (),
        locked_pieces: Iterable[int] | ArrayLike = (),
        target_ratio: float = 1.02,
        min_ratio: float | None = None,
        max_moves: int | None = None,
        seed: int = 0,
        areas: ArrayLike | None = None,
        hard_cap: bool = False,
        max_rounds: int = 25,
        leader_labels: Sequence[str] | None = None,
        group_labels: Sequence[str] | None = None,
    ) -> Self:
        """Core constructor over arrays.

        Parameters
        ----------
        adj
            n×n symmetric piece adjacency (positive entries = adjacent), e.g.
            ``gridmgr.grid.graph.piece_adjacency(pieces)``.
        loads
            Load per piece (``gridmgr.assign.workload.piece_loads``), finite and >= 0.
        owner
            Leader position per piece, -1 for unassigned.
        capacities
            Capacity per leader position; 0 means the leader leaves (their pieces are handed to
            neighbours). A leader with capacity > 0 and no pieces is an added leader.
        group
            Community per piece (any integer labels); moves never cross groups. ``None``: one group.
        leader_group
            Group label per leader, needed only for added leaders when there are several groups
            (-1 or any label not in ``group`` = unknown).
        locked_leaders
            Leader positions whose territory must not change at all.
        locked_pieces
            Piece positions (or a boolean mask) that must not change leader.
        target_ratio
            Upper end of the band: every leader's load ≤ target_ratio × fair share.
        min_ratio
            Lower end of the band; default ``2 - target_ratio`` (0.98 for 1.02).
        max_moves
            At most this many pieces change leader (``None``: no limit).
        seed
            Seed of the tie-breaks.
        areas
            Area per piece in m², for the moved area.
        hard_cap
            Capacities are absolute load limits too (the band's upper end never exceeds them).
        max_rounds
            Transport rounds at most.
        leader_labels, group_labels
            Names used in messages: leader ids (positional over leaders), community codes
            (positional over the sorted distinct ``group`` labels).
        """
        adj = sp.csr_matrix(adj)
        n = adj.shape[0]
        if adj.shape != (n, n):
            raise InputError(f"adj: must be square, got shape {adj.shape}")
        loads_a = np.asarray(loads, dtype=np.float64)
        owner_a = np.asarray(owner, dtype=np.int64)
        cap_a = np.asarray(capacities, dtype=np.float64)
        if loads_a.shape != (n,) or owner_a.shape != (n,):
            raise InputError(
                f"loads/owner: need one value per piece ({n}); got {loads_a.shape}, {owner_a.shape}"
            )
        if not np.all(np.isfinite(loads_a)) or (loads_a < 0).any():
            raise InputError(
                t(
                    "loads：每个地块的工作量必须是有限值且 >= 0，请检查权重设置",
                    "loads: every piece load must be finite and >= 0; check the weights",
                )
            )
        n_leaders = len(cap_a)
        if not np.all(np.isfinite(cap_a)) or (cap_a < 0).any():
            raise InputError(
                t(
                    "capacities：必须是有限值且 >= 0（0 表示该领导退出）",
                    "capacities: must be finite and >= 0 (0 = the leader leaves)",
                )
            )
        if owner_a.size and (owner_a.min() < -1 or owner_a.max() >= n_leaders):
            raise InputError(f"owner: leader positions must be -1 or in [0, {n_leaders})")
        if not target_ratio >= 1.0:
            raise InputError(
                t(
                    f"target_ratio={target_ratio}：必须 >= 1（如 1.02）",
                    f"target_ratio={target_ratio}: must be >= 1 (e.g. 1.02)",
                )
            )
        lo = (2.0 - target_ratio) if min_ratio is None else float(min_ratio)
        lo = max(lo, 0.0)
        if lo > 1.0:
            raise InputError(
                t(f"min_ratio={min_ratio}：必须 <= 1", f"min_ratio={min_ratio}: must be <= 1")
            )
        if max_moves is not None and max_moves < 0:
            raise InputError(
                t(f"max_moves={max_moves}：必须 >= 0", f"max_moves={max_moves}: must be >= 0")
            )
        if group is None:
            group_a = np.zeros(n, dtype=np.int64)
            lg = np.zeros(n_leaders, dtype=np.int64)
        else:
            raw = np.asarray(group)
            if raw.shape != (n,):
                raise InputError(f"group: need one label per piece ({n}); got {raw.shape}")
            uniq, group_a = np.unique(raw, return_inverse=True)
            group_a = group_a.astype(np.int64)
            lg = np.full(n_leaders, -1, dtype=np.int64)
            if leader_group is not None:
                raw_lg = np.asarray(leader_group)
                if raw_lg.shape != (n_leaders,):
                    raise InputError(f"leader_group: need one label per leader ({n_leaders})")
                pos = np.searchsorted(uniq, raw_lg)
                pos = np.clip(pos, 0, len(uniq) - 1)
                ok = uniq[pos] == raw_lg
                lg[ok] = pos[ok]
        locked_l = _as_index_set(locked_leaders, n_leaders, "locked_leaders")
        lp = (
            np.asarray(locked_pieces)
            if not isinstance(locked_pieces, Iterable) or isinstance(locked_pieces, np.ndarray)
            else np.asarray(list(locked_pieces))
        )
        if lp.dtype == bool:
            if lp.shape != (n,):
                raise InputError(f"locked_pieces: a mask needs one value per piece ({n})")
            locked_p = lp.copy()
        else:
            locked_p = _as_index_set(lp.astype(np.int64), n, "locked_pieces")
        removed_locked = locked_l & (cap_a <= 0)
        if removed_locked.any():
            who = int(np.flatnonzero(removed_locked)[0])
            raise InputError(
                t(
                    f"领导 {who} 既被锁定又要退出（capacity 0），请二者去掉其一",
                    f"leader {who} is both locked and leaving (capacity 0); drop one of the two",
                )
            )
        areas_a = None if areas is None else np.asarray(areas, dtype=np.float64)
        if areas_a is not None and areas_a.shape != (n,):
            raise InputError(f"areas: need one value per piece ({n})")
        return cls(
            adj=adj,
            loads=loads_a,
            owner=owner_a,
            capacities=cap_a,
            group=group_a,
            leader_group=lg,
            locked_leaders=locked_l,
            locked_pieces=locked_p,
            target_ratio=float(target_ratio),
            min_ratio=lo,
            max_moves=max_moves,
            seed=int(seed),
            areas=areas_a,
            hard_cap=hard_cap,
            max_rounds=int(max_rounds),
            leader_labels=leader_labels,
            group_labels=group_labels,
        )

    # -- naming helpers ----------------------------------------------------------------------

    def _leader_name(self, pos: int) -> str:
        return self.leader_labels[pos] if self.leader_labels is not None else str(pos)

    def _group_name(self, g: int) -> str:
        return self.group_labels[g] if self.group_labels is not None else str(g)

    # -- solve -------------------------------------------------------------------------------

    def solve(self) -> RebalanceResult:
        """Check feasibility, move the fewest pieces into the band, return a frozen result.

        Raises
        ------
        InfeasibleError
            A locked leader holds too much, a community has no leader left, a community is split
            into parts that cannot be balanced, or (``hard_cap``) capacities sum below the load.
        """
        return _Solver(self).run()


# --------------------------------------------------------------------------------------------
# The solver (internal state of one solve)


class _Solver:
    def __init__(self, m: RebalanceCore) -> None:
        self.m = m
        self.rng = np.random.default_rng(m.seed)
        n = m.adj.shape[0]
        self.n = n
        coo = m.adj.tocoo()
        up = (coo.col > coo.row) & (coo.data > 0)
        # Upper edges (i < j), sorted by i because the CSR rows are; int32 for speed.
        self.ui_all = coo.row[up].astype(np.int32)
        self.uj_all = coo.col[up].astype(np.int32)
        same = m.group[self.ui_all] == m.group[self.uj_all]
        self.ei, self.ej = self.ui_all[same], self.uj_all[same]
        full = (coo.row != coo.col) & (coo.data > 0)
        full &= m.group[coo.row] == m.group[coo.col]
        self.indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(coo.row[full], minlength=n), out=self.indptr[1:])
        self.indices = coo.col[full].astype(np.int64)
        self.degree = np.diff(self.indptr)
        # A stamp per piece for BFS visits without O(n) resets.
        self.stamp = np.zeros(n, dtype=np.int64)
        self.stamp_id = 0
        self.scratch = np.zeros(n, dtype=np.int64)

    # ---------------------------------------------------------------------------------------
    def run(self) -> RebalanceResult:
        m = self.m
        n, loads = self.n, m.loads
        n_leaders = len(m.capacities)
        active = m.capacities > 0
        owner0 = m.owner
        owned = owner0 >= 0
        leaving_piece = owned & ~active[np.where(owned, owner0, 0)]
        bad = leaving_piece & m.locked_pieces
        if bad.any():
            p = int(np.flatnonzero(bad)[0])
            who = self._ln(int(owner0[p]))
            raise InfeasibleError(
                t(
                    f"地块 {p} 已锁定，但其领导 {who} 要退出；请解除该地块的锁定或保留该领导",
                    f"piece {p} is locked but its leader {who} leaves; unlock the piece or keep the leader",
                )
            )
        free = ~m.locked_pieces & (~owned | leaving_piece)
        stay = owned & ~leaving_piece
        # Territories: (group, leader) pairs of pieces that stay, plus added leaders.
        has_piece = np.zeros(n_leaders, dtype=bool)
        has_piece[owner0[stay]] = True
        added = np.flatnonzero(active & ~has_piece)
        n_groups = int(m.group.max(initial=-1)) + 1
        add_group = m.leader_group[added].copy()
        if n_groups == 1:
            add_group[:] = 0
        unknown = add_group < 0
        if unknown.any():
            who = self._ln(int(added[np.flatnonzero(unknown)[0]]))
            raise InputError(
                t(
                    f"领导 {who} 在此没有包保地块，且所属社区不明；请提供 leader_group"
                    "（命令行：在 unit_packages 中写明该领导的社区）",
                    f"leader {who} holds no pieces here and its community is unknown; give "
                    "leader_group (CLI: name the leader's community in unit_packages)",
                )
            )
        if n_groups == 0:
            add_group = add_group[:0]
            added = added[:0]
        keys_p = m.group[stay] * n_leaders + owner0[stay]
        keys = np.unique(np.concatenate([keys_p, add_group * n_leaders + added]))
        K = len(keys)
        tl = keys % n_leaders
        tg = keys // n_leaders
        T = np.full(n, _NONE, dtype=np.int64)
        T[stay] = np.searchsorted(keys, keys_p)
        T[free] = _FREE
        self.T, self.tl, self.tg, self.K = T, tl, tg, K
        # Fair shares: a leader in several communities splits capacity by current load there.
        tload = np.bincount(T[stay], weights=loads[stay], minlength=K)
        lead_total = np.bincount(tl, weights=tload, minlength=n_leaders)
        n_terr = np.bincount(tl, minlength=n_leaders)
        share = np.where(
            lead_total[tl] > 0,
            tload / np.where(lead_total[tl] > 0, lead_total[tl], 1.0),
            1.0 / np.maximum(n_terr[tl], 1),
        )
        capt = m.capacities[tl] * share
        counted = stay | free
        gload = np.bincount(m.group[counted], weights=loads[counted], minlength=n_groups)
        gcap = np.bincount(tg, weights=capt, minlength=n_groups)
        empty_g = np.flatnonzero(
            (gcap <= 0) & (np.bincount(m.group[counted], minlength=n_groups) > 0)
        )
        if len(empty_g):
            g = int(empty_g[0])
            gname = self._gn(g)
            raise InfeasibleError(
                t(
                    f"社区 {gname}：已没有领导包保其地块；请保留或新增该社区的领导（--leaders-add），或扩大范围",
                    f"community {gname}: no leaders left to hold its pieces; keep or add a leader "
                    "there (--leaders-add) or widen the scope",
                )
            )
        if m.hard_cap:
            over = np.flatnonzero(gload > gcap * (1 + 1e-12))
            if len(over):
                g = int(over[0])
                gname = self._gn(g)
                raise InfeasibleError(
                    t(
                        f"社区 {gname}：capacity 合计为 {gcap[g]:.1f}，但工作量为 {gload[g]:.1f}；"
                        "请提高 capacity（--capacity ID=X）或增加领导",
                        f"community {gname}: capacities sum to {gcap[g]:.1f} but the load is "
                        f"{gload[g]:.1f}; raise capacities (--capacity ID=X) or add leaders",
                    )
                )
        target = capt * gload[tg] / np.where(gcap[tg] > 0, gcap[tg], 1.0)
        target = np.where(target > 0, target, 1e-12)
        hi = m.target_ratio * target
        if m.hard_cap:
            hi = np.minimum(hi, capt)
        lo = m.min_ratio * target
        locked_t = m.locked_leaders[tl]
        self.target, self.hi, self.lo, self.locked_t = target, hi, lo, locked_t
        self.movable = ~m.locked_pieces.copy()
        self.movable[owned] &= ~m.locked_leaders[owner0[owned]]
        # Locked leaders that already hold too much cannot be fixed.
        over_locked = np.flatnonzero(locked_t & (tload > hi * (1 + 1e-9)))
        if len(over_locked):
            ti = int(over_locked[0])
            who, gname, share_x = (
                self._ln(int(tl[ti])),
                self._gn(int(tg[ti])),
                tload[ti] / target[ti],
            )
            raise InfeasibleError(
                t(
                    f"领导 {who} 已锁定，但其工作量为社区 {gname} 合理份额的 {share_x:.3f} 倍"
                    f"（目标 ≤ {m.target_ratio}）；请解除该领导的锁定、提高其 capacity，或提高 --target-ratio",
                    f"leader {who} is locked but holds {share_x:.3f}× the "
                    f"fair share in community {gname} (target ≤ {m.target_ratio}); unlock "
                    "the leader, raise their capacity, or raise --target-ratio",
                )
            )
        lead_key = np.where(owned, owner0, -1)
        before = self._metrics(lead_key, free_mask=free)
        ratio_before = self._leader_ratios(np.where(stay, owner0, -1))
        base_parts = self._territory_parts()
        base_parts[base_parts == 0] = 1
        self.moved_count = int(free.sum())
        if m.max_moves is not None and self.moved_count > m.max_moves:
            raise InfeasibleError(
                t(
                    f"max_moves={m.max_moves}，但有 {self.moved_count} 个地块必须调整（未分配或由退出的领导包保）；"
                    "请提高 --max-moves",
                    f"max_moves={m.max_moves} but {self.moved_count} pieces must move (unassigned or held "
                    "by leaders who leave); raise --max-moves",
                )
            )
        self.tload = tload
        self.owner0 = owner0
        positive = loads[loads > 0]
        self.typical_load = float(np.median(positive)) if positive.size else 0.0
        self._grow_free()
        self._seed_added(np.searchsorted(keys, add_group * n_leaders + added))
        self._check_islands()
        rounds = 0
        self.hit_max_moves = False
        self.no_give = np.zeros(self.K, dtype=bool)
        # A seed may have been an articulation piece of its host: check every territory once.
        self.donors = np.ones(self.K, dtype=bool)
        self.stuck = np.zeros(self.K, dtype=bool)
        self.T_start = self.T.copy()
        self._repair(base_parts)
        best = (self._off_band(), self.moved_count, self.T.copy(), self.tload.copy())
        stale = 0
        for _round in range(1, m.max_rounds + 1):
            self.donors = np.zeros(self.K, dtype=bool)
            self.stuck = np.zeros(self.K, dtype=bool)
            moved = self._transport_round()
            if moved and not self._repair(base_parts):
                # Some territory stayed split (locked pieces walled in): undo this round and
                # let the territories involved only receive from now on.
                self._undo_round()
                self.no_give |= self.stuck if self.stuck.any() else self.donors
                self.hit_max_moves = False
                continue
            off = self._off_band()
            stale = stale + 1 if off >= best[0] else 0
            if (off, self.moved_count) < best[:2]:
                best = (off, self.moved_count, self.T.copy(), self.tload.copy())
            if not moved or self.hit_max_moves or stale >= 3:
                break
        if (self._off_band(), self.moved_count) > best[:2]:
            # Never hand back a state worse than the best one seen (fewest moves among equals).
            self.T[:] = best[2]
            self.tload = best[3]
            self.moved_count = best[1]
        final_lead = np.where(self.T >= 0, tl[np.clip(self.T, 0, None)], -1)
        after = self._metrics(final_lead, free_mask=np.zeros(n, dtype=bool))
        ratio_after = self._leader_ratios(final_lead)
        changed = np.flatnonzero(final_lead != owner0)
        moved_area = float(m.areas[changed].sum()) if m.areas is not None else float("nan")
        missed = self._misses(ratio_after)
        return RebalanceResult(
            owner=final_lead,
            move_pieces=changed,
            move_from=owner0[changed],
            move_to=final_lead[changed],
            before=before,
            after=after,
            moved_area_m2=moved_area,
            ratio_before=ratio_before,
            ratio_after=ratio_after,
            missed=tuple(missed),
            iterations=rounds,
            seed=m.seed,
        )

    # -- names -----------------------------------------------------------------------------
    def _ln(self, pos: int) -> str:
        return self.m._leader_name(pos)

    def _gn(self, g: int) -> str:
        return self.m._group_name(g)

    # -- metrics ---------------------------------------------------------------------------
    def _leader_ratios(self, lead: IntArray) -> FloatArray:
        """Per-leader ratio load / Σ fair shares of their territories (NaN if not taking part)."""
        n_leaders = len(self.m.capacities)
        has = lead >= 0
        load_l = np.bincount(lead[has], weights=self.m.loads[has], minlength=n_leaders)
        tgt_l = np.bincount(self.tl, weights=self.target, minlength=n_leaders)
        out = np.full(n_leaders, np.nan)
        part = tgt_l > 0
        out[part] = load_l[part] / tgt_l[part]
        return out

    def _metrics(self, lead: IntArray, *, free_mask: BoolArray) -> Metrics:
        m = self.m
        n_leaders = len(m.capacities)
        ratios = self._leader_ratios(np.where(free_mask, -1, lead))
        r = ratios[~np.isnan(ratios)]
        key = np.where(lead >= 0, m.group * n_leaders + lead, -1)
        comp = _components(self.n, self.ei, self.ej, key)
        _, parts = np.unique(_labels_of_parts(comp, key), return_counts=True)
        disconnected = int((parts > 1).sum())
        a, b = lead[self.ui_all], lead[self.uj_all]
        cut = int(((a != b) & (a >= 0) & (b >= 0)).sum())
        return Metrics(
            max_ratio=float(r.max()) if r.size else float("nan"),
            min_ratio=float(r.min()) if r.size else float("nan"),
            std_ratio=float(r.std()) if r.size else float("nan"),
            disconnected=disconnected,
            boundary_edges_per_piece=cut / max(self.n, 1),
            unassigned_pieces=int((free_mask | (lead < 0)).sum()),
            unassigned_load=float(m.loads[free_mask | (lead < 0)].sum()),
            n_leaders=int(r.size),
        )

    def _territory_parts(self) -> IntArray:
        comp = _components(self.n, self.ei, self.ej, self.T)
        return np.bincount(_labels_of_parts(comp, self.T), minlength=self.K).astype(np.int64)

    # -- phase 1: vacated ground -----------------------------------------------------------
    def _grow_free(self) -> None:
        T, loads = self.T, self.m.loads
        while True:
            fp = np.flatnonzero(T == _FREE)
            if fp.size == 0:
                return
            nb, src = _neighbours(self.indptr, self.indices, fp)
            src = fp[src]
            tt = T[nb]
            ok = tt >= 0
            ok[ok] &= ~self.locked_t[tt[ok]]
            if not ok.any():
                comp = _components(self.n, self.ei, self.ej, np.where(T == _FREE, 0, -1))
                g = int(self.m.group[fp[0]])
                size = int((comp == comp[fp[0]]).sum())
                gname, start = self._gn(g), int(fp[0])
                raise InfeasibleError(
                    t(
                        f"社区 {gname}：有 {fp.size} 个地块（从地块 {start} 起相连的 {size} 个地块）"
                        "不与任何可接收的领导相邻——该社区不连通，或被已锁定的领导隔开；请在此增加领导或解除某位领导的锁定",
                        f"community {gname}: {fp.size} pieces (a connected part of {size} starting "
                        f"at piece {start}) touch no leader who may take them — the community is "
                        "disconnected or walled in by locked leaders; add a leader there or unlock one",
                    )
                )
            src, tt = src[ok], tt[ok]
            ratio = self.tload / self.target
            order = np.lexsort((tt, ratio[tt], src))
            src, tt = src[order], tt[order]
            first = np.r_[True, src[1:] != src[:-1]]
            p, to = src[first], tt[first]
            # Overloaded territories wait while someone else can still grow this round.
            full = self.tload[to] >= self.hi[to]
            if (~full).any() and full.any():
                p, to = p[~full], to[~full]
            T[p] = to
            self.tload += np.bincount(to, weights=loads[p], minlength=self.K)

    # -- phase 2: seeds of added leaders ---------------------------------------------------
    def _cut_edges(self) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """Edges (i < j) between pieces of two different territories."""
        a, b = self.T[self.ei], self.T[self.ej]
        cut = (a != b) & (a >= 0) & (b >= 0)
        return self.ei[cut], self.ej[cut]

    def _territory_pairs(
        self, cut: tuple[NDArray[np.int32], NDArray[np.int32]] | None = None
    ) -> tuple[IntArray, IntArray, IntArray]:
        """Unique adjacent territory pairs (u < v) and their shared edge counts."""
        ci, cj = self._cut_edges() if cut is None else cut
        a, b = self.T[ci], self.T[cj]
        u, v = np.minimum(a, b), np.maximum(a, b)
        key, cnt = np.unique(u * self.K + v, return_counts=True)
        return key // self.K, key % self.K, cnt

    def _seed_added(self, added_t: IntArray) -> None:
        if added_t.size == 0:
            return
        T, loads = self.T, self.m.loads
        proj = self.tload.copy()
        for a in added_t.tolist():
            g = self.tg[a]
            u, v, _ = self._territory_pairs()
            ratio = proj / self.target
            # Regional ratio: the territory's ratio averaged with its neighbours' (by fair share).
            num = self.tload.copy() * 0 + proj
            den = self.target.copy()
            np.add.at(num, u, proj[v])
            np.add.at(den, u, self.target[v])
            np.add.at(num, v, proj[u])
            np.add.at(den, v, self.target[u])
            region = num / den
            size = np.bincount(T[T >= 0], minlength=self.K)
            movable_cnt = np.bincount(T[(T >= 0) & self.movable], minlength=self.K)
            cand = (self.tg == g) & ~self.locked_t & (movable_cnt >= 2) & (size > 0)
            cand[a] = False
            if not cand.any():
                gname, who = self._gn(int(g)), self._ln(int(self.tl[a]))
                raise InfeasibleError(
                    t(
                        f"社区 {gname}：新增领导 {who} 找不到可划出地块的包保片区（均已锁定或过小）",
                        f"community {gname}: added leader {who} finds no "
                        "territory to take ground from (all locked or too small)",
                    )
                )
            score = np.where(cand, region, -np.inf)
            host = int(np.argmax(score))
            hp = np.flatnonzero((T == host) & self.movable)
            # Best seed: a host piece near a junction of many territories (the new leader then
            # takes from all of them at once), next to the most loaded one.
            nb, pos = _neighbours(self.indptr, self.indices, hp)
            nb2, pos2 = _neighbours(self.indptr, self.indices, nb)
            near_p = np.concatenate([pos, pos[pos2]])
            near_t = T[np.concatenate([nb, nb2])]
            other = (near_t >= 0) & (near_t != host)
            other[other] &= ~self.locked_t[near_t[other]]
            if other.any():
                pairs = np.unique(near_p[other] * self.K + near_t[other])
                pp, pt = pairs // self.K, pairs % self.K
                n_terr = np.bincount(pp, minlength=hp.size)
                best = np.full(hp.size, -np.inf)
                np.maximum.at(best, pp, ratio[pt])
                score = n_terr * 1e6 + np.where(np.isfinite(best), best, 0.0)
                pool = hp[score == score.max()]
            else:
                d = self.degree[hp]
                pool = hp[d == d.min()]
            seed_p = int(pool[self.rng.integers(len(pool))])
            T[seed_p] = a
            self.tload[host] -= loads[seed_p]
            self.tload[a] += loads[seed_p]
            self.moved_count += int(self.owner0[seed_p] != self.tl[a])
            proj[host] = max(proj[host] - self.target[a], 0.0)
            proj[a] = self.target[a]

    # -- feasibility of the parts of each community ----------------------------------------
    def _check_islands(self) -> None:
        """Each connected part of a community must be able to hold its load within the band."""
        T = self.T
        comp = _components(self.n, self.ei, self.ej, np.where(T >= 0, self.m.group, -1))
        held = T >= 0
        # A territory spanning parts joins them: union via a bipartite graph piece–territory.
        rows = np.flatnonzero(held)
        g = sp.coo_matrix(
            (np.ones(len(rows)), (comp[rows], self.n + T[rows])), shape=(self.n + self.K,) * 2
        )
        _, isl = connected_components(g, directed=False)
        t_isl = isl[self.n :]
        n_isl = int(t_isl.max(initial=-1)) + 1
        load_i = np.bincount(t_isl, weights=self.tload, minlength=n_isl)
        fixed = self.locked_t
        lo_i = np.bincount(t_isl, weights=np.where(fixed, self.tload, self.lo), minlength=n_isl)
        hi_i = np.bincount(t_isl, weights=np.where(fixed, self.tload, self.hi), minlength=n_isl)
        bad = np.flatnonzero((load_i > hi_i * (1 + 1e-9)) | (load_i < lo_i * (1 - 1e-9)))
        if not len(bad):
            return
        i = int(bad[0])
        terr = np.flatnonzero(t_isl == i)
        gname = self._gn(int(self.tg[terr[0]]))
        tgt = self.target[terr].sum()
        n_parts = len(np.unique(t_isl[self.tg == self.tg[terr[0]]]))
        if n_parts > 1:
            holders, share_x = (
                ", ".join(self._ln(int(x)) for x in self.tl[terr][:5]),
                load_i[i] / tgt,
            )
            raise InfeasibleError(
                t(
                    f"社区 {gname} 被分成 {n_parts} 个互不相连的部分；由 {holders} 包保的部分工作量为其合理份额的 "
                    f"{share_x:.3f} 倍，且没有地块能跨越间隔调整；请为每个部分分别指定领导，或扩大范围",
                    f"community {gname} is split into {n_parts} disconnected parts; the part held by "
                    f"{holders} carries {share_x:.3f}× "
                    "its leaders' fair share and no piece can cross the gap; assign a leader per part or "
                    "use a wider scope",
                )
            )
        lo_r, hi_r = self.m.min_ratio, self.m.target_ratio
        raise InfeasibleError(
            t(
                f"社区 {gname}：已锁定的领导包保的工作量过少或过多，其他领导无法调整到 [{lo_r}, {hi_r}] 范围内；"
                "请解除部分领导的锁定",
                f"community {gname}: the locked leaders hold so little or so much that the others cannot "
                f"get within [{lo_r}, {hi_r}]; unlock some leaders",
            )
        )

    # -- phase 3: transport ----------------------------------------------------------------
    def _violations(self) -> BoolArray:
        free_t = ~self.locked_t
        out: BoolArray = free_t & (
            (self.tload > self.hi * (1 + 1e-9)) | (self.tload < self.lo * (1 - 1e-9))
        )
        return out

    def _flows(
        self, cut: tuple[NDArray[np.int32], NDArray[np.int32]]
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """Min-cost flow on the territory graph: how much load crosses each border, and which way."""
        u, v, cnt = self._territory_pairs(cut)
        ok = ~self.locked_t[u] & ~self.locked_t[v]
        u, v, cnt = u[ok], v[ok], cnt[ok]
        E, K = len(u), self.K
        if E == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        src = np.concatenate([u, v])
        dst = np.concatenate([v, u])
        gives = ~self.no_give[src]
        src, dst = src[gives], dst[gives]
        cnt = np.concatenate([cnt, cnt])[gives]
        E2 = len(src)
        # 1 per unit of load per border crossed; a hair more over short borders (compactness).
        cost = 1.0 + 1e-3 / cnt.astype(np.float64)
        rows_t = np.flatnonzero(~self.locked_t)
        pos = np.full(K, -1, dtype=np.int64)
        pos[rows_t] = np.arange(len(rows_t))
        k = len(rows_t)
        e = np.arange(E2)
        # net_t = out - in; row A(t): net - under <= load - lo; row B(t): -net - over <= hi - load
        r_a = np.concatenate([pos[src], pos[dst], np.arange(k)])
        c_a = np.concatenate([e, e, E2 + k + np.arange(k)])
        d_a = np.concatenate([np.ones(E2), -np.ones(E2), -np.ones(k)])
        r_b = k + np.concatenate([pos[src], pos[dst], np.arange(k)])
        c_b = np.concatenate([e, e, E2 + np.arange(k)])
        d_b = np.concatenate([-np.ones(E2), np.ones(E2), -np.ones(k)])
        A = sp.csr_matrix(
            (np.concatenate([d_a, d_b]), (np.concatenate([r_a, r_b]), np.concatenate([c_a, c_b]))),
            shape=(2 * k, E2 + 2 * k),
        )
        load, scale = self.tload[rows_t], float(np.mean(self.target[rows_t]))
        # Aim half a typical piece inside the band (when it is wide enough): pieces are whole, so
        # a transfer lands within half a piece of its amount, and then still inside the band.
        lo, hi, tgt = self.lo[rows_t], self.hi[rows_t], self.target[rows_t]
        margin = np.minimum(0.5 * self.typical_load, 0.45 * np.minimum(hi - tgt, tgt - lo))
        margin = np.maximum(margin, 0.0)
        b = np.concatenate([load - (lo + margin), (hi - margin) - load]) / scale
        c = np.concatenate([cost, np.full(2 * k, _VIOLATION_COST)])
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

    def _transport_round(self) -> bool:
        if not self._violations().any():
            return False
        T = self.T
        self.T_start = T.copy()
        ci, cj = self._cut_edges()
        src, dst, f = self._flows((ci, cj))
        min_piece = float(np.min(self.m.loads[self.m.loads > 0], initial=1.0))
        keep = f > 0.5 * min_piece * 1e-3
        src, dst, f = src[keep], dst[keep], f[keep]
        if f.size == 0:
            return False
        # Directed cut edges (piece in u, piece in v) grouped by (u, v), for the borders.
        pu = np.concatenate([ci, cj]).astype(np.int64)
        pv = np.concatenate([cj, ci]).astype(np.int64)
        key = T[pu] * self.K + T[pv]
        order = np.argsort(key, kind="stable")
        self._cut = (key[order], pu[order], pv[order])
        moved_any = False
        for i in _flow_order(src, dst, f, self.K).tolist():
            s, d = int(src[i]), int(dst[i])
            # A territory passes on what it received (the flow order lets it receive first), but
            # never gives away more than would leave it half its fair share in one round.
            amount = min(float(f[i]), float(self.tload[s] - 0.5 * self.target[s]))
            # What must cross for the donor to get under the band, or the receiver above it:
            # that part is rounded up to whole pieces, the rest to the nearest piece.
            must = min(amount, max(self.tload[s] - self.hi[s], self.lo[d] - self.tload[d], 0.0))
            if amount > 0:
                moved_any |= self._transfer(s, d, amount, float(must))
            if self.hit_max_moves:
                break
        return moved_any

    def _transfer(self, s: int, d: int, amount: float, must: float = 0.0) -> bool:
        """Move about ``amount`` (at least ``must``) load from territory ``s`` to ``d`` across their
        shared border."""
        T, loads, movable = self.T, self.m.loads, self.movable
        keys, pu, pv = self._cut
        k = s * self.K + d
        i0, i1 = np.searchsorted(keys, k, "left"), np.searchsorted(keys, k, "right")
        cand = pu[i0:i1]
        ok = (T[cand] == s) & (T[pv[i0:i1]] == d) & movable[cand]
        layer = _unique_keep_order(cand[ok], self.scratch)
        if layer.size == 0:
            return False
        self.stamp_id += 1
        sid = self.stamp_id
        self.stamp[layer] = sid
        ls_, ld_ = self.tl[s], self.tl[d]
        budget = None if self.m.max_moves is None else self.m.max_moves - self.moved_count
        cum, moved = 0.0, 0
        while layer.size:
            lload = loads[layer]
            tot = float(lload.sum())
            if cum + tot <= amount:
                take = layer
            else:
                take = self._pick(layer, lload, amount - cum, d, must - cum)
                if must > cum and self._worse(s, d, float(loads[take].sum())):
                    take = self._pick(layer, lload, amount - cum, d)  # no rounding up
                if take.size and self._worse(s, d, float(loads[take].sum())):
                    take = take[:0]
            if budget is not None:
                delta = (self.owner0[take] != ld_).astype(np.int64) - (self.owner0[take] != ls_)
                cs = np.cumsum(delta)
                if cs.size and cs.max() > budget:
                    cut_at = int(np.argmax(cs > budget))
                    take = take[:cut_at]
                    self.hit_max_moves = True
                    cs = cs[:cut_at]
                budget -= int(cs[-1]) if cs.size else 0
            if take.size:
                self.donors[s] = True
                T[take] = d
                w = float(loads[take].sum())
                self.tload[s] -= w
                self.tload[d] += w
                cum += w
                moved += take.size
                self.moved_count += int(
                    ((self.owner0[take] != ld_).astype(np.int64) - (self.owner0[take] != ls_)).sum()
                )
            if take.size < layer.size or self.hit_max_moves:
                break
            nb, _ = _neighbours(self.indptr, self.indices, layer)
            nb = nb[(T[nb] == s) & movable[nb] & (self.stamp[nb] != sid)]
            layer = _unique_keep_order(nb, self.scratch)
            self.stamp[layer] = sid
        return moved > 0

    def _worse(self, s: int, d: int, w: float) -> bool:
        """Would moving load ``w`` from ``s`` to ``d`` leave the pair further outside the band?"""

        def off(x: float, t: int) -> float:
            return max(0.0, x - float(self.hi[t])) + max(0.0, float(self.lo[t]) - x)

        a, b = float(self.tload[s]), float(self.tload[d])
        return off(a - w, s) + off(b + w, d) > off(a, s) + off(b, d) + 1e-12

    def _pick(
        self, layer: IntArray, lload: FloatArray, rem: float, d: int, must: float = 0.0
    ) -> IntArray:
        """Pieces of one layer whose load best fits ``rem``: heavy pieces first (fewest moves),
        then pieces nestled against the receiver (compact borders), ties by the seed."""
        nb, pos = _neighbours(self.indptr, self.indices, layer)
        touch = np.bincount(pos[self.T[nb] == d], minlength=layer.size)
        med = float(np.median(lload)) or 1.0
        qload = np.floor(lload / (0.25 * med))
        order = np.lexsort((self.rng.permutation(layer.size), -touch, -qload))
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
            left = np.setdiff1d(rest, np.asarray(chosen, dtype=np.int64), assume_unique=True)
            while cum < must - 1e-12 and left.size:
                need = must - cum
                ll = lload[left]
                enough = np.flatnonzero(ll >= need)
                k = int(enough[np.argmin(ll[enough])]) if enough.size else int(np.argmax(ll))
                chosen.append(int(left[k]))
                cum += float(ll[k])
                left = np.delete(left, k)
        return layer[np.asarray(chosen, dtype=np.int64)]

    # -- contiguity repair -----------------------------------------------------------------
    def _repair(self, base_parts: IntArray) -> bool:
        """Territories split by this round keep their largest parts; fragments join a neighbour.

        Returns False when some territory could not be made whole again (the caller then undoes
        the round)."""
        T, loads = self.T, self.m.loads
        for _ in range(8):
            # Only territories that gave pieces away can have been split: look at those alone.
            pm = T >= 0
            pm[pm] = self.donors[T[pm]]
            held = np.flatnonzero(pm)
            if held.size == 0:
                return True
            k = pm[self.ei] & (T[self.ei] == T[self.ej])
            idx = np.full(self.n, -1, dtype=np.int64)
            idx[held] = np.arange(held.size)
            si, sj = idx[self.ei[k]], idx[self.ej[k]]
            indptr = np.zeros(held.size + 1, dtype=np.int64)
            np.cumsum(np.bincount(si, minlength=held.size), out=indptr[1:])
            g = sp.csr_matrix((np.ones(si.size, dtype=np.int8), sj, indptr), shape=(held.size,) * 2)
            c = np.asarray(
                connected_components(g, directed=True, connection="weak")[1], dtype=np.int64
            )
            comp = np.full(self.n, -1, dtype=np.int64)
            comp[held] = c
            m_ = int(c.max()) + 1
            lab = np.empty(m_, dtype=np.int64)
            lab[c] = T[held]  # every part lies in one territory
            parts = np.bincount(lab, minlength=self.K)
            bad_t = parts > base_parts
            if not bad_t.any():
                return True
            split = bad_t
            pc = np.flatnonzero(bad_t[lab])  # the parts of split territories
            pt, psize = lab[pc], np.bincount(c, minlength=m_)[pc]
            order = np.lexsort((pc, -psize, pt))
            pt, pc = pt[order], pc[order]
            first = np.searchsorted(pt, pt, "left")
            rank = np.arange(len(pt)) - first
            frag = rank >= base_parts[pt]
            frag_comp = pc[frag]
            if frag_comp.size == 0:
                return True
            is_frag = np.zeros(m_, dtype=bool)
            is_frag[frag_comp] = True
            fp = held[is_frag[c]]
            stuck = np.unique(comp[fp[~self.movable[fp]]])
            # A big fragment would swing its new owner out of the band: reconnect it instead.
            fl = np.bincount(comp[fp], weights=loads[fp])
            nb, src = _neighbours(self.indptr, self.indices, fp)
            src = fp[src]
            tt = T[nb]
            ok = (tt >= 0) & (tt != T[src])
            ok[ok] &= ~self.locked_t[tt[ok]]
            ratio = self.tload / self.target
            fc, tt = comp[src[ok]], tt[ok]
            o = np.lexsort((tt, ratio[tt], fc))
            fc, tt = fc[o], tt[o]
            firstc = np.r_[True, fc[1:] != fc[:-1]] if fc.size else np.zeros(0, dtype=bool)
            heavy = [
                int(c_)
                for c_, w_ in zip(fc[firstc].tolist(), tt[firstc].tolist(), strict=True)
                if self._worse(int(T[fp[comp[fp] == c_][0]]), int(w_), float(fl[c_]))
            ]
            stuck = np.union1d(stuck, np.asarray(heavy, dtype=np.int64))
            if stuck.size:
                # A fragment with locked pieces cannot move: hand back the pieces that cut it off.
                for cid in stuck.tolist():
                    piece = fp[comp[fp] == cid]
                    self.stuck[T[piece[0]]] = True
                    self._reconnect(piece)
                continue
            nb, src = _neighbours(self.indptr, self.indices, fp)
            src = fp[src]
            tt = T[nb]
            ok = (tt >= 0) & (tt != T[src])
            ok[ok] &= ~self.locked_t[tt[ok]]
            src, tt = src[ok], tt[ok]
            if src.size == 0:
                self.stuck |= split
                return False
            ratio = self.tload / self.target
            fc = comp[src]
            o = np.lexsort((tt, ratio[tt], fc))
            fc, tt = fc[o], tt[o]
            firstc = np.r_[True, fc[1:] != fc[:-1]]
            dest = np.full(self.n, -1, dtype=np.int64)
            dest[fc[firstc]] = tt[firstc]
            go = fp[dest[comp[fp]] >= 0]
            new_t = dest[comp[go]]
            old_t = T[go]
            self.moved_count += int(
                (
                    (self.owner0[go] != self.tl[new_t]).astype(np.int64)
                    - (self.owner0[go] != self.tl[old_t])
                ).sum()
            )
            T[go] = new_t
            self.tload -= np.bincount(old_t, weights=loads[go], minlength=self.K)
            self.tload += np.bincount(new_t, weights=loads[go], minlength=self.K)
        self.stuck |= split
        return False

    def _off_band(self) -> float:
        """Summed distance of the free territories' loads to the band, in fair shares."""
        free_t = ~self.locked_t
        over = np.maximum(self.tload - self.hi, 0.0) + np.maximum(self.lo - self.tload, 0.0)
        return round(float((over[free_t] / self.target[free_t]).sum()), 9)

    def _undo_round(self) -> None:
        """Put every piece back where it was at the start of the round."""
        T, loads = self.T, self.m.loads
        T[:] = self.T_start
        held = T >= 0
        self.tload = np.bincount(T[held], weights=loads[held], minlength=self.K)
        lead = np.where(held, self.tl[np.maximum(T, 0)], -1)
        self.moved_count = int((lead != self.owner0).sum())

    def _reconnect(self, frag: IntArray) -> None:
        """Return to ``frag``'s territory, ring by ring, the pieces it gave away this round around
        ``frag``, until ``frag`` touches the rest of its territory again."""
        T, loads = self.T, self.m.loads
        t = int(T[frag[0]])
        self.stamp_id += 1
        sid = self.stamp_id
        self.stamp[frag] = sid
        frontier = frag
        for _ in range(self.n):
            nb, _ = _neighbours(self.indptr, self.indices, frontier)
            if ((T[nb] == t) & (self.stamp[nb] != sid)).any():
                return
            ring = nb[(self.T_start[nb] == t) & (T[nb] != t) & (T[nb] >= 0) & self.movable[nb]]
            ring = _unique_keep_order(ring, self.scratch)
            if ring.size == 0:
                # Walled in some other way: give the territory back all it lost this round.
                ring = np.flatnonzero((self.T_start == t) & (T != t) & (T >= 0) & self.movable)
                if ring.size == 0:
                    return
            old = T[ring]
            self.tload -= np.bincount(old, weights=loads[ring], minlength=self.K)
            self.tload[t] += float(loads[ring].sum())
            self.moved_count += int(
                (
                    (self.owner0[ring] != self.tl[t]).astype(np.int64)
                    - (self.owner0[ring] != self.tl[old])
                ).sum()
            )
            self.donors[old] = True
            T[ring] = t
            self.stamp[ring] = sid
            frontier = ring

    # -- reasons ---------------------------------------------------------------------------
    def _misses(self, ratio_after: FloatArray) -> list[Miss]:
        m = self.m
        out: list[Miss] = []
        bad = np.flatnonzero(
            ~np.isnan(ratio_after)
            & ((ratio_after > m.target_ratio + 1e-9) | (ratio_after < m.min_ratio - 1e-9))
        )
        if bad.size == 0:
            return out
        u, v, _ = self._territory_pairs()
        has_free_nb = np.zeros(self.K, dtype=bool)
        ok = ~self.locked_t[u] & ~self.locked_t[v]
        has_free_nb[u[ok]] = True
        has_free_nb[v[ok]] = True
        held = self.T >= 0
        own_max = np.zeros(self.K)
        np.maximum.at(own_max, self.T[held], m.loads[held])
        max_piece = own_max.copy()  # the biggest piece it could give or take
        np.maximum.at(max_piece, u, own_max[v])
        np.maximum.at(max_piece, v, own_max[u])
        tgt_l = np.bincount(self.tl, weights=self.target, minlength=len(m.capacities))
        for leader in bad.tolist():
            terr = np.flatnonzero(self.tl == leader)
            r = float(ratio_after[leader])
            edge = m.target_ratio if r > m.target_ratio else m.min_ratio
            dev = abs(r - edge) * tgt_l[leader]
            if self.locked_t[terr].all():
                zh, en = "已锁定，按要求未调整", "locked, left unchanged as asked"
            elif self.hit_max_moves:
                zh, en = (
                    f"已达到最大调整数 {m.max_moves}，未继续调整",
                    f"max_moves {m.max_moves} reached before this leader was balanced",
                )
            elif not has_free_nb[terr].any():
                zh, en = (
                    "周边没有可调整的相邻领导（相邻者均已锁定或没有相邻者）",
                    "no adjustable neighbouring territory (all neighbours locked, or none)",
                )
            elif dev <= max_piece[terr].max() + 1e-9:
                big = float(max_piece[terr].max())
                zh, en = (
                    f"剩余偏差（{dev:.2f}）小于单个地块的负载（最大 {big:.2f}），地块不可再分",
                    (
                        f"the remaining deviation ({dev:.2f}) is below one piece's load (max "
                        f"{big:.2f}); pieces cannot be split"
                    ),
                )
            else:
                zh, en = (
                    "多轮调整后仍未达到目标（边界地块被锁定或相邻区域已满载）",
                    (
                        "not within the target after the adjustment rounds (locked border "
                        "pieces or full neighbours)"
                    ),
                )
            out.append(Miss(leader=int(leader), ratio=r, reason_zh=zh, reason_en=en))
        return out
