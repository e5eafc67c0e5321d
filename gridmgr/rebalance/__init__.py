"""Minimal-move rebalancing: the model, its solver and plans.

Public names live in :mod:`~gridmgr.rebalance.model` (re-exported here). Modules:
:mod:`~gridmgr.rebalance.store_model` (:class:`Rebalance`, ``from_store``, store inputs),
:mod:`~gridmgr.rebalance.plans` (propose/apply/undo), :mod:`~gridmgr.rebalance.core`
(``from_graph`` checks), :mod:`~gridmgr.rebalance.results`; the solver
(:mod:`~gridmgr.rebalance.solver`) runs one module per phase over
:mod:`~gridmgr.rebalance.state`: ``feasibility``, ``placement``, ``flow``, ``transfer``,
``repair``, ``metrics``.
"""

from __future__ import annotations

from gridmgr.rebalance.model import (
    PLAN_PARAMS,
    BoolArray,
    FloatArray,
    IntArray,
    Metrics,
    Miss,
    Plan,
    Rebalance,
    RebalanceResult,
    StoreInputs,
    apply_plan,
    discard_plan,
    get_plan,
    inputs_from_store,
    list_plans,
    plan_diff_geojson,
    propose,
    undo_plan,
)

__all__ = [
    "BoolArray",
    "FloatArray",
    "IntArray",
    "Metrics",
    "Miss",
    "PLAN_PARAMS",
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
