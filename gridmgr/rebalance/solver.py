"""The rebalance solver: runs the phases of one solve over a
:class:`~gridmgr.rebalance.arrays.ModelArrays` and returns a
:class:`~gridmgr.rebalance.results.RebalanceResult`.

Phases (one module each, sharing :mod:`~gridmgr.rebalance.state`):

1. set-up and feasibility (:mod:`~gridmgr.rebalance.feasibility`): territories, fair shares,
   bands; infeasible inputs raise with the fix;
2. placement (:mod:`~gridmgr.rebalance.placement`): vacated ground is grown into, added leaders
   are seeded;
3. transport rounds: the flow picks donors and receivers (:mod:`~gridmgr.rebalance.flow`), the
   transfers peel pieces layer by layer (:mod:`~gridmgr.rebalance.transfer`), and contiguity is
   repaired or the round undone (:mod:`~gridmgr.rebalance.repair`);
4. metrics and reasons (:mod:`~gridmgr.rebalance.metrics`).

The best state seen is kept (least summed distance to the band, then fewest moves).
"""

from __future__ import annotations

import numpy as np

from gridmgr.rebalance.arrays import ModelArrays
from gridmgr.rebalance.feasibility import check_forced_moves, check_islands, setup
from gridmgr.rebalance.metrics import assignment_metrics, leader_ratios, misses, territory_parts
from gridmgr.rebalance.placement import grow_free, seed_added
from gridmgr.rebalance.repair import repair, undo_round
from gridmgr.rebalance.results import FloatArray, IntArray, Metrics, RebalanceResult
from gridmgr.rebalance.state import PieceGraph, Problem, State, off_band
from gridmgr.rebalance.transfer import transport_round

#: Rounds without improvement of the best state before stopping.
_PATIENCE = 3


def solve(m: ModelArrays) -> RebalanceResult:
    """Check feasibility, move the fewest pieces into the band, return a frozen result."""
    g = PieceGraph.build(m.adj, m.group)
    p, start = setup(m, g)
    owner0 = m.owner
    before = assignment_metrics(p, np.where(owner0 >= 0, owner0, -1), free_mask=start.free)
    ratio_before = leader_ratios(p, np.where(start.stay, owner0, -1))
    st = State.start(p, start.T, start.tload, int(start.free.sum()))
    base_parts = territory_parts(p, st.T)
    base_parts[base_parts == 0] = 1
    check_forced_moves(m, st.moved_count)
    grow_free(p, st)
    seed_added(p, st, start.added_t)
    check_islands(p, st)
    _transport(p, st, base_parts)
    return _result(p, st, before, ratio_before)


def _transport(p: Problem, st: State, base_parts: IntArray) -> None:
    """Transport rounds with repair until in the band, stuck, out of moves or rounds; leaves
    ``st`` at the best state seen."""
    st.hit_max_moves = False
    st.no_give = np.zeros(p.K, dtype=bool)
    # A seed may have been an articulation piece of its host: check every territory once.
    st.donors = np.ones(p.K, dtype=bool)
    st.stuck = np.zeros(p.K, dtype=bool)
    st.T_start = st.T.copy()
    repair(p, st, base_parts)
    best = (off_band(p, st), st.moved_count, st.T.copy(), st.tload.copy())
    stale = 0
    for _round in range(1, p.m.max_rounds + 1):
        st.donors = np.zeros(p.K, dtype=bool)
        st.stuck = np.zeros(p.K, dtype=bool)
        moved = transport_round(p, st)
        if moved and not repair(p, st, base_parts):
            # Some territory stayed split (locked pieces walled in): undo this round and
            # let the territories involved only receive from now on.
            undo_round(p, st)
            st.no_give |= st.stuck if st.stuck.any() else st.donors
            st.hit_max_moves = False
            continue
        off = off_band(p, st)
        stale = stale + 1 if off >= best[0] else 0
        if (off, st.moved_count) < best[:2]:
            best = (off, st.moved_count, st.T.copy(), st.tload.copy())
        if not moved or st.hit_max_moves or stale >= _PATIENCE:
            break
    if (off_band(p, st), st.moved_count) > best[:2]:
        # Never hand back a state worse than the best one seen (fewest moves among equals).
        st.T[:] = best[2]
        st.tload = best[3]
        st.moved_count = best[1]


def _result(p: Problem, st: State, before: Metrics, ratio_before: FloatArray) -> RebalanceResult:
    """The frozen result of the final state."""
    m, owner0 = p.m, p.owner0
    final_lead = np.where(st.T >= 0, p.tl[np.clip(st.T, 0, None)], -1)
    after = assignment_metrics(p, final_lead, free_mask=np.zeros(p.g.n, dtype=bool))
    ratio_after = leader_ratios(p, final_lead)
    changed = np.flatnonzero(final_lead != owner0)
    moved_area = float(m.areas[changed].sum()) if m.areas is not None else float("nan")
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
        missed=tuple(misses(p, st, ratio_after)),
        iterations=0,  # rounds were never counted (kept as before the split into phases)
        seed=m.seed,
    )
