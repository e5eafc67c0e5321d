"""Minimal-move rebalancing of piece assignments, and plans that apply it safely.

Tools that exist (METIS, spopt's regionalisation, GerryChain) redraw territories from scratch. A
district office needs the opposite: keep everyone's familiar ground and move the *fewest* pieces
that bring every leader's load within the target band, with territories that stay contiguous and
inside their community.

The model (:class:`Rebalance`) works in four phases over the piece graph:

1. **Vacated ground** (pieces of removed leaders, unassigned pieces) is taken by the neighbouring
   territories growing into it layer by layer; in each layer a piece goes to the adjacent territory
   with the lowest load ratio, and overloaded territories wait while others can still grow.
2. **Added leaders** are seeded on a border piece of the most overloaded region (a territory's
   ratio averaged with its neighbours'), next to its most loaded neighbour.
3. **Transport**: a small min-cost flow on the *territory* graph (leaders are nodes, excess and
   deficit against the band ``[min_ratio, target_ratio]`` are supply and demand, one unit of load
   over one shared border costs 1) says how much load must cross each border. Each transfer is
   realised by peeling the donor's pieces in layers of BFS distance from the shared border (so the
   receiver stays contiguous), whole layers first, then in the last layer the highest-load pieces
   (fewest moves) with the best-fitting last piece. Donors that a transfer splits keep their
   largest parts; cut-off fragments join the adjacent territory with the lowest ratio.
4. Repeat 3 until every leader is within the band, nothing more can move, or ``max_moves`` is hit.

Locked pieces and all pieces of locked leaders never move; locked leaders neither give nor
receive. Moves never cross communities (``group``). Everything is vectorised with numpy and
scipy.sparse; the flow is solved with HiGHS (``scipy.optimize.linprog``). Deterministic for a
given ``seed`` (which only breaks ties).

This module is the public face: it re-exports :class:`Rebalance` and the store inputs
(:mod:`~gridmgr.rebalance.store_model`), the plans (:mod:`~gridmgr.rebalance.plans`) and the
result types (:mod:`~gridmgr.rebalance.results`). The phases above live in
:mod:`~gridmgr.rebalance.solver` and the modules it names.
"""

from __future__ import annotations

from gridmgr.rebalance.plans import (
    PLAN_PARAMS,
    Plan,
    apply_plan,
    discard_plan,
    get_plan,
    list_plans,
    plan_diff_geojson,
    propose,
    undo_plan,
)
from gridmgr.rebalance.results import (
    BoolArray,
    FloatArray,
    IntArray,
    Metrics,
    Miss,
    RebalanceResult,
)
from gridmgr.rebalance.store_model import Rebalance, StoreInputs, inputs_from_store

__all__ = [
    "PLAN_PARAMS",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "Metrics",
    "Miss",
    "Plan",
    "Rebalance",
    "RebalanceResult",
    "StoreInputs",
    "apply_plan",
    "discard_plan",
    "get_plan",
    "inputs_from_store",
    "list_plans",
    "plan_diff_geojson",
    "propose",
    "undo_plan",
]
