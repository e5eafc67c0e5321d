"""Minimal-move rebalancing: the model, its solver and plans.

Modules: :mod:`~gridmgr.rebalance.model` (the :class:`Rebalance` model, plans),
:mod:`~gridmgr.rebalance.solver` (the array solver).
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
