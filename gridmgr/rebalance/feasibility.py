"""Setting up a solve: territories, fair shares and bands, and the checks that make it infeasible.

:func:`setup` turns a :class:`~gridmgr.rebalance.arrays.ModelArrays` into the
:class:`~gridmgr.rebalance.state.Problem` and the starting assignment (:class:`Start`), raising
:class:`~gridmgr.errors.InfeasibleError` (or :class:`~gridmgr.errors.InputError`) with the fix
when no plan can exist. :func:`check_forced_moves` and :func:`check_islands` run later, once the
forced moves are known and the vacated ground is held.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gridmgr.errors import InfeasibleError, InputError
from gridmgr.i18n import t
from gridmgr.rebalance.arrays import ModelArrays
from gridmgr.rebalance.graphops import components
from gridmgr.rebalance.results import BoolArray, FloatArray, IntArray
from gridmgr.rebalance.state import FREE, NONE, PieceGraph, Problem, State


@dataclass(frozen=True, eq=False)
class Start:
    """The assignment before solving, in territories."""

    free: BoolArray
    """Pieces that must be handed out (unassigned, or held by a leader who leaves)."""
    stay: BoolArray
    """Pieces held by a leader who stays."""
    T: IntArray
    """Territory per piece (:data:`~gridmgr.rebalance.state.FREE` for ``free`` pieces)."""
    tload: FloatArray
    """Load per territory."""
    added_t: IntArray
    """Territories of the added leaders (no pieces yet)."""


def setup(m: ModelArrays, g: PieceGraph) -> tuple[Problem, Start]:
    """Territories, fair shares and bands of ``m``; raises when the inputs cannot be balanced."""
    loads = m.loads
    n_leaders = len(m.capacities)
    free, stay = _piece_roles(m)
    keys, T, added_keys = _territories(m, stay, free)
    tl = keys % n_leaders
    tg = keys // n_leaders
    K = len(keys)
    # Fair shares: a leader in several communities splits capacity by current load there.
    tload = np.asarray(np.bincount(T[stay], weights=loads[stay], minlength=K), dtype=np.float64)
    capt = _territory_capacities(m, tl, tload)
    target, hi, lo = _bands(m, tg, capt, stay | free)
    locked_t = m.locked_leaders[tl]
    movable = ~m.locked_pieces.copy()
    owned = m.owner >= 0
    movable[owned] &= ~m.locked_leaders[m.owner[owned]]
    p = Problem(
        m=m,
        g=g,
        owner0=m.owner,
        K=K,
        tl=tl,
        tg=tg,
        target=target,
        hi=hi,
        lo=lo,
        locked_t=locked_t,
        movable=movable,
        typical_load=_typical_load(loads),
    )
    _check_locked_shares(p, tload)
    start = Start(free=free, stay=stay, T=T, tload=tload, added_t=np.searchsorted(keys, added_keys))
    return p, start


def _piece_roles(m: ModelArrays) -> tuple[BoolArray, BoolArray]:
    """Pieces to hand out and pieces that stay; a locked piece of a leaving leader is an error."""
    active = m.capacities > 0
    owner0 = m.owner
    owned = owner0 >= 0
    leaving_piece = owned & ~active[np.where(owned, owner0, 0)]
    bad = leaving_piece & m.locked_pieces
    if bad.any():
        p = int(np.flatnonzero(bad)[0])
        who = m._leader_name(int(owner0[p]))
        raise InfeasibleError(
            t(
                f"地块 {p} 已锁定，但其领导 {who} 要退出；请解除该地块的锁定或保留该领导",
                f"piece {p} is locked but its leader {who} leaves; unlock the piece or keep the leader",
            )
        )
    free = ~m.locked_pieces & (~owned | leaving_piece)
    stay = owned & ~leaving_piece
    return free, stay


def _territories(
    m: ModelArrays, stay: BoolArray, free: BoolArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Territory keys (group × n_leaders + leader, sorted) of the pieces that stay and of the
    added leaders, the territory per piece, and the added leaders' keys."""
    n_leaders = len(m.capacities)
    owner0 = m.owner
    has_piece = np.zeros(n_leaders, dtype=bool)
    has_piece[owner0[stay]] = True
    added = np.flatnonzero((m.capacities > 0) & ~has_piece)
    n_groups = int(m.group.max(initial=-1)) + 1
    add_group = m.leader_group[added].copy()
    if n_groups == 1:
        add_group[:] = 0
    unknown = add_group < 0
    if unknown.any():
        who = m._leader_name(int(added[np.flatnonzero(unknown)[0]]))
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
    added_keys = add_group * n_leaders + added
    keys = np.unique(np.concatenate([keys_p, added_keys]))
    T = np.full(len(m.loads), NONE, dtype=np.int64)
    T[stay] = np.searchsorted(keys, keys_p)
    T[free] = FREE
    return keys, T, added_keys


def _territory_capacities(m: ModelArrays, tl: IntArray, tload: FloatArray) -> FloatArray:
    """Capacity per territory: a leader's capacity split over their territories by load."""
    n_leaders = len(m.capacities)
    lead_total = np.bincount(tl, weights=tload, minlength=n_leaders)
    n_terr = np.bincount(tl, minlength=n_leaders)
    share = np.where(
        lead_total[tl] > 0,
        tload / np.where(lead_total[tl] > 0, lead_total[tl], 1.0),
        1.0 / np.maximum(n_terr[tl], 1),
    )
    out: FloatArray = m.capacities[tl] * share
    return out


def _bands(
    m: ModelArrays, tg: IntArray, capt: FloatArray, counted: BoolArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Fair share, upper and lower band end per territory; raises for a community without
    capacity (or, with ``hard_cap``, with less capacity than load)."""
    loads = m.loads
    n_groups = int(m.group.max(initial=-1)) + 1
    gload = np.asarray(
        np.bincount(m.group[counted], weights=loads[counted], minlength=n_groups), dtype=np.float64
    )
    gcap = np.asarray(np.bincount(tg, weights=capt, minlength=n_groups), dtype=np.float64)
    empty_g = np.flatnonzero((gcap <= 0) & (np.bincount(m.group[counted], minlength=n_groups) > 0))
    if len(empty_g):
        gname = m._group_name(int(empty_g[0]))
        raise InfeasibleError(
            t(
                f"社区 {gname}：已没有领导包保其地块；请保留或新增该社区的领导（--leaders-add），或扩大范围",
                f"community {gname}: no leaders left to hold its pieces; keep or add a leader "
                "there (--leaders-add) or widen the scope",
            )
        )
    if m.hard_cap:
        _check_hard_cap(m, gload, gcap)
    target = capt * gload[tg] / np.where(gcap[tg] > 0, gcap[tg], 1.0)
    target = np.where(target > 0, target, 1e-12)
    hi = m.target_ratio * target
    if m.hard_cap:
        hi = np.minimum(hi, capt)
    lo = m.min_ratio * target
    return target, hi, lo


def _check_hard_cap(m: ModelArrays, gload: FloatArray, gcap: FloatArray) -> None:
    """With ``hard_cap``, every community's capacities must cover its load."""
    over = np.flatnonzero(gload > gcap * (1 + 1e-12))
    if len(over):
        g = int(over[0])
        gname = m._group_name(g)
        raise InfeasibleError(
            t(
                f"社区 {gname}：capacity 合计为 {gcap[g]:.1f}，但工作量为 {gload[g]:.1f}；"
                "请提高 capacity（--capacity ID=X）或增加领导",
                f"community {gname}: capacities sum to {gcap[g]:.1f} but the load is "
                f"{gload[g]:.1f}; raise capacities (--capacity ID=X) or add leaders",
            )
        )


def _check_locked_shares(p: Problem, tload: FloatArray) -> None:
    """Locked leaders that already hold too much cannot be fixed."""
    m = p.m
    over_locked = np.flatnonzero(p.locked_t & (tload > p.hi * (1 + 1e-9)))
    if len(over_locked):
        ti = int(over_locked[0])
        who, gname, share_x = (
            p.leader_name(int(p.tl[ti])),
            p.group_name(int(p.tg[ti])),
            tload[ti] / p.target[ti],
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


def _typical_load(loads: FloatArray) -> float:
    """Median positive piece load (0 when there is none)."""
    positive = loads[loads > 0]
    return float(np.median(positive)) if positive.size else 0.0


def check_forced_moves(m: ModelArrays, moved_count: int) -> None:
    """The pieces that must move (unassigned, of leaving leaders) must fit in ``max_moves``."""
    if m.max_moves is not None and moved_count > m.max_moves:
        raise InfeasibleError(
            t(
                f"max_moves={m.max_moves}，但有 {moved_count} 个地块必须调整（未分配或由退出的领导包保）；"
                "请提高 --max-moves",
                f"max_moves={m.max_moves} but {moved_count} pieces must move (unassigned or held "
                "by leaders who leave); raise --max-moves",
            )
        )


def check_islands(p: Problem, st: State) -> None:
    """Each connected part of a community must be able to hold its load within the band."""
    T, n = st.T, p.g.n
    comp = components(n, p.g.ei, p.g.ej, np.where(T >= 0, p.m.group, -1))
    held = T >= 0
    # A territory spanning parts joins them: union via a bipartite graph piece–territory.
    rows = np.flatnonzero(held)
    gr = sp.coo_matrix((np.ones(len(rows)), (comp[rows], n + T[rows])), shape=(n + p.K,) * 2)
    _, isl = connected_components(gr, directed=False)
    t_isl = isl[n:]
    n_isl = int(t_isl.max(initial=-1)) + 1
    load_i = np.bincount(t_isl, weights=st.tload, minlength=n_isl)
    fixed = p.locked_t
    lo_i = np.bincount(t_isl, weights=np.where(fixed, st.tload, p.lo), minlength=n_isl)
    hi_i = np.bincount(t_isl, weights=np.where(fixed, st.tload, p.hi), minlength=n_isl)
    bad = np.flatnonzero((load_i > hi_i * (1 + 1e-9)) | (load_i < lo_i * (1 - 1e-9)))
    if len(bad):
        raise _island_error(p, t_isl, int(bad[0]), float(load_i[bad[0]]))


def _island_error(p: Problem, t_isl: IntArray, i: int, load: float) -> InfeasibleError:
    """The error for island ``i`` (its territories ``t_isl == i``) that cannot be balanced."""
    terr = np.flatnonzero(t_isl == i)
    gname = p.group_name(int(p.tg[terr[0]]))
    tgt = p.target[terr].sum()
    n_parts = len(np.unique(t_isl[p.tg == p.tg[terr[0]]]))
    if n_parts > 1:
        holders, share_x = (
            ", ".join(p.leader_name(int(x)) for x in p.tl[terr][:5]),
            load / tgt,
        )
        return InfeasibleError(
            t(
                f"社区 {gname} 被分成 {n_parts} 个互不相连的部分；由 {holders} 包保的部分工作量为其合理份额的 "
                f"{share_x:.3f} 倍，且没有地块能跨越间隔调整；请为每个部分分别指定领导，或扩大范围",
                f"community {gname} is split into {n_parts} disconnected parts; the part held by "
                f"{holders} carries {share_x:.3f}× "
                "its leaders' fair share and no piece can cross the gap; assign a leader per part or "
                "use a wider scope",
            )
        )
    lo_r, hi_r = p.m.min_ratio, p.m.target_ratio
    return InfeasibleError(
        t(
            f"社区 {gname}：已锁定的领导包保的工作量过少或过多，其他领导无法调整到 [{lo_r}, {hi_r}] 范围内；"
            "请解除部分领导的锁定",
            f"community {gname}: the locked leaders hold so little or so much that the others cannot "
            f"get within [{lo_r}, {hi_r}]; unlock some leaders",
        )
    )
