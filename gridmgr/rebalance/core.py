"""The array model :class:`RebalanceCore`: validated inputs of a solve (``from_graph``).

:class:`gridmgr.rebalance.model.Rebalance` subclasses it with ``from_store``; :meth:`solve`
runs :func:`gridmgr.rebalance.solver.solve`. Depends only on numpy/scipy and
:mod:`gridmgr.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from gridmgr.errors import InputError
from gridmgr.i18n import t
from gridmgr.rebalance.arrays import ModelArrays
from gridmgr.rebalance.results import BoolArray, FloatArray, IntArray, RebalanceResult
from gridmgr.rebalance.solver import solve
from gridmgr.settings import DEFAULT_TARGET_RATIO


class RebalanceCore(ModelArrays):
    """Array model and solver behind :class:`gridmgr.rebalance.model.Rebalance` (use that class)."""

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
        target_ratio: float = DEFAULT_TARGET_RATIO,
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
        adj, loads_a, owner_a, cap_a = _check_arrays(adj, loads, owner, capacities)
        lo = _check_band(target_ratio, min_ratio, max_moves)
        n, n_leaders = len(loads_a), len(cap_a)
        group_a, lg = _group_labels(group, leader_group, n, n_leaders)
        locked_l, locked_p = _locks(locked_leaders, locked_pieces, cap_a, n)
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

    # -- solve -------------------------------------------------------------------------------

    def solve(self) -> RebalanceResult:
        """Check feasibility, move the fewest pieces into the band, return a frozen result.

        Raises
        ------
        InfeasibleError
            A locked leader holds too much, a community has no leader left, a community is split
            into parts that cannot be balanced, or (``hard_cap``) capacities sum below the load.
        """
        return solve(self)


# --------------------------------------------------------------------------------------------
# Input checks of from_graph (in the order they are reported)


def _check_arrays(
    adj: sp.spmatrix | sp.sparray, loads: ArrayLike, owner: ArrayLike, capacities: ArrayLike
) -> tuple[sp.csr_matrix, FloatArray, IntArray, FloatArray]:
    """Square adjacency, one finite load >= 0 and one owner per piece, finite capacities >= 0."""
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
    return adj, loads_a, owner_a, cap_a


def _check_band(target_ratio: float, min_ratio: float | None, max_moves: int | None) -> float:
    """Valid band ends and move limit; returns the lower end (default ``2 - target_ratio``)."""
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
    return lo


def _group_labels(
    group: ArrayLike | None, leader_group: ArrayLike | None, n: int, n_leaders: int
) -> tuple[IntArray, IntArray]:
    """Community index per piece (0.. over the sorted labels) and per leader (-1: unknown)."""
    if group is None:
        return np.zeros(n, dtype=np.int64), np.zeros(n_leaders, dtype=np.int64)
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
    return group_a, lg


def _locks(
    locked_leaders: Iterable[int],
    locked_pieces: Iterable[int] | ArrayLike,
    cap_a: FloatArray,
    n: int,
) -> tuple[BoolArray, BoolArray]:
    """Masks of the locked leaders and pieces; a locked leader may not leave."""
    n_leaders = len(cap_a)
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
    return locked_l, locked_p


def _as_index_set(values: Iterable[int] | NDArray[Any], size: int, what: str) -> BoolArray:
    """Boolean mask of positions ``values`` in ``range(size)`` (InputError naming ``what``)."""
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        raise InputError(f"{what}: positions must be in [0, {size}); got {arr.min()}..{arr.max()}")
    mask = np.zeros(size, dtype=bool)
    mask[arr] = True
    return mask
