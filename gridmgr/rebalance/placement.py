"""Before transport: hand out vacated ground (phase 1) and seed the added leaders (phase 2)."""

from __future__ import annotations

import numpy as np

from gridmgr.errors import InfeasibleError
from gridmgr.i18n import t
from gridmgr.rebalance.graphops import components
from gridmgr.rebalance.results import FloatArray, IntArray
from gridmgr.rebalance.state import FREE, Problem, State, territory_pairs

# --------------------------------------------------------------------------------------------
# Phase 1: vacated ground


def grow_free(p: Problem, st: State) -> None:
    """Adjacent territories grow into the free pieces layer by layer: each frontier piece goes to
    the adjacent territory with the lowest ratio; overloaded ones wait while others can grow."""
    T, loads = st.T, p.m.loads
    while True:
        fp = np.flatnonzero(T == FREE)
        if fp.size == 0:
            return
        nb, src = p.g.neighbours(fp)
        src = fp[src]
        tt = T[nb]
        ok = tt >= 0
        ok[ok] &= ~p.locked_t[tt[ok]]
        if not ok.any():
            raise _walled_in_error(p, st, fp)
        src, tt = src[ok], tt[ok]
        ratio = st.tload / p.target
        order = np.lexsort((tt, ratio[tt], src))
        src, tt = src[order], tt[order]
        first = np.r_[True, src[1:] != src[:-1]]
        pc, to = src[first], tt[first]
        # Overloaded territories wait while someone else can still grow this round.
        full = st.tload[to] >= p.hi[to]
        if (~full).any() and full.any():
            pc, to = pc[~full], to[~full]
        T[pc] = to
        st.tload += np.bincount(to, weights=loads[pc], minlength=p.K)


def _walled_in_error(p: Problem, st: State, fp: IntArray) -> InfeasibleError:
    """The error for free pieces ``fp`` that touch no territory that may take them."""
    comp = components(p.g.n, p.g.ei, p.g.ej, np.where(st.T == FREE, 0, -1))
    g = int(p.m.group[fp[0]])
    size = int((comp == comp[fp[0]]).sum())
    gname, start = p.group_name(g), int(fp[0])
    return InfeasibleError(
        t(
            f"社区 {gname}：有 {fp.size} 个地块（从地块 {start} 起相连的 {size} 个地块）"
            "不与任何可接收的领导相邻——该社区不连通，或被已锁定的领导隔开；请在此增加领导或解除某位领导的锁定",
            f"community {gname}: {fp.size} pieces (a connected part of {size} starting "
            f"at piece {start}) touch no leader who may take them — the community is "
            "disconnected or walled in by locked leaders; add a leader there or unlock one",
        )
    )


# --------------------------------------------------------------------------------------------
# Phase 2: seeds of added leaders


def seed_added(p: Problem, st: State, added_t: IntArray) -> None:
    """Give each added territory one seed piece in the most overloaded region of its community."""
    if added_t.size == 0:
        return
    loads = p.m.loads
    proj = st.tload.copy()  # projected loads once the added leaders have grown
    for a in added_t.tolist():
        ratio = proj / p.target
        host = _host(p, st, a, _regional_ratio(p, st, proj))
        seed_p = _seed_piece(p, st, host, ratio)
        st.T[seed_p] = a
        st.tload[host] -= loads[seed_p]
        st.tload[a] += loads[seed_p]
        st.moved_count += int(p.owner0[seed_p] != p.tl[a])
        proj[host] = max(proj[host] - p.target[a], 0.0)
        proj[a] = p.target[a]


def _regional_ratio(p: Problem, st: State, proj: FloatArray) -> FloatArray:
    """A territory's projected ratio averaged with its neighbours' (weighted by fair share)."""
    u, v, _ = territory_pairs(p, st)
    num = st.tload.copy() * 0 + proj
    den = p.target.copy()
    np.add.at(num, u, proj[v])
    np.add.at(den, u, p.target[v])
    np.add.at(num, v, proj[u])
    np.add.at(den, v, p.target[u])
    out: FloatArray = num / den
    return out


def _host(p: Problem, st: State, a: int, region: FloatArray) -> int:
    """The territory of ``a``'s community with the highest regional ratio that can spare ground."""
    T = st.T
    size = np.bincount(T[T >= 0], minlength=p.K)
    movable_cnt = np.bincount(T[(T >= 0) & p.movable], minlength=p.K)
    cand = (p.tg == p.tg[a]) & ~p.locked_t & (movable_cnt >= 2) & (size > 0)
    cand[a] = False
    if not cand.any():
        gname, who = p.group_name(int(p.tg[a])), p.leader_name(int(p.tl[a]))
        raise InfeasibleError(
            t(
                f"社区 {gname}：新增领导 {who} 找不到可划出地块的包保片区（均已锁定或过小）",
                f"community {gname}: added leader {who} finds no "
                "territory to take ground from (all locked or too small)",
            )
        )
    score = np.where(cand, region, -np.inf)
    return int(np.argmax(score))


def _seed_piece(p: Problem, st: State, host: int, ratio: FloatArray) -> int:
    """A host piece near a junction of many territories (the new leader then takes from all of
    them at once), next to the most loaded one; ties by the seed."""
    T = st.T
    hp = np.flatnonzero((T == host) & p.movable)
    nb, pos = p.g.neighbours(hp)
    nb2, pos2 = p.g.neighbours(nb)
    near_p = np.concatenate([pos, pos[pos2]])
    near_t = T[np.concatenate([nb, nb2])]
    other = (near_t >= 0) & (near_t != host)
    other[other] &= ~p.locked_t[near_t[other]]
    if other.any():
        pairs = np.unique(near_p[other] * p.K + near_t[other])
        pp, pt = pairs // p.K, pairs % p.K
        n_terr = np.bincount(pp, minlength=hp.size)
        best = np.full(hp.size, -np.inf)
        np.maximum.at(best, pp, ratio[pt])
        score = n_terr * 1e6 + np.where(np.isfinite(best), best, 0.0)
        pool = hp[score == score.max()]
    else:
        d = p.g.degree[hp]
        pool = hp[d == d.min()]
    return int(pool[st.rng.integers(len(pool))])
