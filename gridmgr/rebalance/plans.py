"""Rebalance plans: :func:`propose` solves over the store and saves a plan; :func:`apply_plan`,
:func:`undo_plan` and :func:`discard_plan` change its status through the store; reading with
:func:`get_plan`, :func:`list_plans` and :func:`plan_diff_geojson`.

Re-exported by :mod:`gridmgr.rebalance.model` and :mod:`gridmgr.rebalance`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridmgr.errors import InfeasibleError, NothingToMoveError
from gridmgr.i18n import t
from gridmgr.rebalance.results import IntArray, RebalanceResult
from gridmgr.rebalance.store_model import Rebalance, StoreInputs, split_ids
from gridmgr.settings import DEFAULT_TARGET_RATIO

PLAN_PARAMS = (
    "weights",
    "leaders_add",
    "leaders_remove",
    "capacity",
    "lock",
    "cross_communities",
    "target_ratio",
    "min_ratio",
    "max_moves",
    "seed",
    "hard_cap",
)


def _json_safe(value: Any) -> Any:
    """Recursively turn numpy scalars into Python ones and NaN/inf into ``None``."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Plan:
    """A stored rebalance plan (see :func:`propose`)."""

    id: str
    scope: str | None
    status: str
    """``proposed``, ``applied``, ``discarded`` or ``undone``."""
    params: dict[str, Any]
    moves: list[dict[str, Any]]
    """``piece_id``, ``cell``, ``unit_code``, ``from_leader``, ``to_leader``, ``version`` (the
    piece's version when proposed), ``area_m2``."""
    metrics: dict[str, Any]
    """``before``/``after`` (:class:`Metrics` as dicts), ``moved_pieces``, ``moved_area_m2``,
    ``leaders`` (per leader ratio before/after), ``missed`` (leader, ratio, reasons)."""
    actor: str
    created_at: Any = None
    changeset_id: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Plan:
        """Build from :meth:`gridmgr.store.Store.get_plan`'s dict."""

        def load(v: Any) -> Any:
            return json.loads(v) if isinstance(v, str) else v

        return cls(
            id=str(row["id"]),
            scope=row.get("scope"),
            status=str(row["status"]),
            params=load(row.get("params")) or {},
            moves=load(row.get("moves")) or [],
            metrics=load(row.get("metrics")) or {},
            actor=str(row.get("actor") or ""),
            created_at=row.get("created_at"),
            changeset_id=row.get("changeset_id"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``gridmgr rebalance propose --json`` prints)."""
        created = (
            self.created_at.isoformat()
            if hasattr(self.created_at, "isoformat")
            else self.created_at
        )
        out: dict[str, Any] = _json_safe(
            {
                "id": self.id,
                "scope": self.scope,
                "status": self.status,
                "params": self.params,
                "metrics": self.metrics,
                "moves": self.moves,
                "actor": self.actor,
                "created_at": created,
                "changeset_id": self.changeset_id,
            }
        )
        return out


def propose(
    store: Any,
    *,
    scope: str,
    actor: str = "system",
    weights: Mapping[str, float] | str | None = None,
    leaders_add: Sequence[str] | str = (),
    leaders_remove: Sequence[str] | str = (),
    capacity: Mapping[str, float] | None = None,
    lock: Sequence[str] | str = (),
    cross_communities: bool = False,
    target_ratio: float = DEFAULT_TARGET_RATIO,
    min_ratio: float | None = None,
    max_moves: int | None = None,
    seed: int = 0,
    hard_cap: bool = False,
) -> Plan:
    """Solve a rebalance over the store and save it as a plan (status ``proposed``).

    The plan keeps the moves with each piece's current version, so :func:`apply_plan` refuses it
    when any of those pieces changed meanwhile. Parameters as in :meth:`Rebalance.from_store`.

    Examples
    --------
    >>> plan = propose(store, scope="220173001001", leaders_add=["G01_3"])  # doctest: +SKIP
    >>> apply_plan(store, plan.id, actor="planner")                         # doctest: +SKIP
    """
    from gridmgr.assign.workload import parse_weights

    w = parse_weights(weights)
    add_ids, remove_ids, locks = split_ids(leaders_add), split_ids(leaders_remove), split_ids(lock)
    model = Rebalance.from_store(
        store,
        scope=scope,
        weights=w,
        leaders_add=add_ids,
        leaders_remove=remove_ids,
        capacity=capacity,
        lock=locks,
        cross_communities=cross_communities,
        target_ratio=target_ratio,
        min_ratio=min_ratio,
        max_moves=max_moves,
        seed=seed,
        hard_cap=hard_cap,
    )
    inp: StoreInputs = model.inputs
    res = model.solve()
    moves = _plan_moves(inp, res, check_packages=cross_communities)
    if not moves:
        _nothing_to_move(scope, res)
    metrics = _plan_metrics(inp, res, add_ids, remove_ids)
    metrics["target_ratio"] = model.target_ratio
    metrics["min_ratio"] = model.min_ratio
    params = {
        "weights": w,
        "leaders_add": add_ids,
        "leaders_remove": remove_ids,
        "capacity": dict(capacity or {}),
        "lock": locks,
        "cross_communities": cross_communities,
        "target_ratio": target_ratio,
        "min_ratio": min_ratio,
        "max_moves": max_moves,
        "seed": seed,
        "hard_cap": hard_cap,
    }
    pid = store.save_plan(
        scope=scope,
        params=_json_safe(params),
        moves=_json_safe(moves),
        metrics=_json_safe(metrics),
        actor=actor,
    )
    return get_plan(store, pid)


def _nothing_to_move(scope: str, res: RebalanceResult) -> None:
    """Refuse to save a plan that moves nothing, saying where the scope stands."""
    ratio = res.before.max_ratio
    raise NothingToMoveError(
        t(
            f"范围 {scope} 无需调整：最大负载比 {ratio:.3f} 已在目标之内，或没有地块可以移动；未保存方案",
            f"scope {scope} needs no change: max load ratio {ratio:.3f} is within the target, "
            "or no piece can move; no plan saved",
        )
    )


def _plan_moves(
    inp: StoreInputs, res: RebalanceResult, *, check_packages: bool
) -> list[dict[str, Any]]:
    """The moves of ``res`` as plan rows (piece id, cell, unit, leaders, version, area)."""
    import pandas as pd

    pieces = inp.pieces
    ids = np.asarray(inp.leader_ids, dtype=object)
    mp = res.move_pieces
    from_id: list[Any] = [None if f < 0 else ids[f] for f in res.move_from.tolist()]
    to_id: list[Any] = [ids[t] for t in res.move_to.tolist()]
    if check_packages and len(mp):
        _check_packages(inp, mp, to_id)
    moves: list[dict[str, Any]] = pd.DataFrame(
        {
            "piece_id": pieces["id"].to_numpy(dtype=np.int64)[mp],
            "cell": pieces["cell"].astype(str).to_numpy()[mp],
            "unit_code": pieces["unit_code"].astype(str).to_numpy()[mp],
            "from_leader": list(from_id),
            "to_leader": list(to_id),
            "version": pieces["version"].to_numpy(dtype=np.int64)[mp],
            "area_m2": np.round(inp.areas[mp], 3),
        }
    ).to_dict("records")
    return moves


def _plan_metrics(
    inp: StoreInputs, res: RebalanceResult, add_ids: list[str], remove_ids: list[str]
) -> dict[str, Any]:
    """Before/after metrics, moved counts, per-leader ratios and the missed leaders."""
    removed, added = set(remove_ids), set(add_ids)
    locked = {inp.leader_ids[i] for i in inp.locked_leaders.tolist()}
    leaders = [
        {
            "leader_id": lid,
            "ratio_before": res.ratio_before[i],
            "ratio_after": res.ratio_after[i],
            "pieces_after": int((res.owner == i).sum()),
            "removed": lid in removed,
            "added": lid in added,
            "locked": lid in locked,
        }
        for i, lid in enumerate(inp.leader_ids)
    ]
    return {
        "before": res.before.to_dict(),
        "after": res.after.to_dict(),
        "moved_pieces": res.moved_pieces,
        "moved_area_m2": res.moved_area_m2,
        "pieces": len(inp.pieces),
        "iterations": res.iterations,
        "leaders": leaders,
        "missed": [{**m.to_dict(), "leader_id": inp.leader_ids[m.leader]} for m in res.missed],
    }


def _check_packages(inp: StoreInputs, mp: IntArray, to_id: Any) -> None:
    """Across communities, a receiver must hold the piece's unit (or an ancestor) as a package."""
    from gridmgr.assign.inputs import _community_map

    to_comm = _community_map(inp.units)
    packs = dict(zip(inp.leaders["id"].astype(str), inp.leaders["unit_packages"], strict=True))
    comm = inp.pieces["unit_code"].astype(str).to_numpy()[mp]
    bad = [
        (str(c), str(to))
        for c, to in zip(comm, to_id, strict=True)
        if to_comm(c)[0] not in {x for p in (packs.get(str(to)) or []) for x in to_comm(str(p))}
    ]
    if bad:
        c, to = bad[0]
        raise InfeasibleError(
            t(
                f"{len(bad)} 项调整会使领导包保其包保单位以外的地块，例如单位 {c} 分给 {to}；"
                "请将该单位加入其 unit_packages，或按社区分别调整",
                f"{len(bad)} move(s) would give leaders pieces outside their unit packages, e.g. unit {c} "
                f"to {to}; add the unit to their unit_packages or rebalance per community",
            )
        )


def get_plan(store: Any, plan_id: str) -> Plan:
    """The stored plan ``plan_id`` (:class:`~gridmgr.errors.PlanNotFoundError` if unknown)."""
    return Plan.from_row(store.get_plan(plan_id))


def list_plans(store: Any, *, status: str | None = None) -> Any:
    """Plans without their moves, newest first (a DataFrame)."""
    return store.list_plans(status=status)


def _require_status(plan: Plan, wanted: str, action: str) -> None:
    from gridmgr.errors import ConflictError

    if plan.status != wanted:
        action_zh = {"applied": "应用", "discarded": "舍弃", "undone": "撤销"}.get(action, action)
        raise ConflictError(
            t(
                f"方案 {plan.id} 的状态为 {plan.status}；只有状态为 {wanted} 的方案才能{action_zh}",
                f"plan {plan.id} is {plan.status}; only a {wanted} plan can be {action}",
            )
        )


def apply_plan(store: Any, plan_id: str, *, actor: str, reason: str | None = None) -> Any:
    """Apply a proposed plan in one transaction (change set id = plan id, kind ``plan``).

    Raises :class:`~gridmgr.errors.StaleVersionError` naming the cells when any moved piece
    changed since the plan was proposed (nothing is written then), and
    :class:`~gridmgr.errors.ConflictError` when the plan is not ``proposed``.
    Returns the store's :class:`~gridmgr.store.ChangeResult`.
    """
    import pandas as pd

    from gridmgr.store import ChangeResult

    plan = get_plan(store, plan_id)
    plan_id = plan.id  # a short id names the full one from here on
    _require_status(plan, "proposed", "applied")
    if not plan.moves:
        store.set_plan_status(plan_id, "applied")
        return ChangeResult(None, 0, 0, ())
    moves = pd.DataFrame(plan.moves)
    changes = pd.DataFrame(
        {
            "piece_id": moves["piece_id"].astype("int64"),
            "leader_id": moves["to_leader"].astype(str),
            "expected_version": moves["version"].astype("int64"),
            "fallback": False,
        }
    )
    return store.apply_changes(
        changes,
        actor=actor,
        reason=reason or f"rebalance plan {plan_id}",
        kind="plan",
        changeset_id=plan_id,
        plan_id=plan_id,
    )


def discard_plan(store: Any, plan_id: str, *, actor: str) -> Plan:
    """Mark a proposed plan ``discarded`` (it can no longer be applied)."""
    plan = get_plan(store, plan_id)
    plan_id = plan.id  # a short id names the full one from here on
    _require_status(plan, "proposed", "discarded")
    store.set_plan_status(plan_id, "discarded")
    return get_plan(store, plan_id)


def undo_plan(store: Any, plan_id: str, *, actor: str, reason: str | None = None) -> Any:
    """Reverse an applied plan in one transaction (the store's undo of its change set).

    Refused (:class:`~gridmgr.errors.StaleVersionError`) when a moved piece changed again after
    the plan was applied.
    """
    plan = get_plan(store, plan_id)
    plan_id = plan.id  # a short id names the full one from here on
    _require_status(plan, "applied", "undone")
    if not plan.changeset_id:
        store.set_plan_status(plan_id, "undone")
        from gridmgr.store import ChangeResult

        return ChangeResult(None, 0, 0, ())
    return store.undo_changeset(
        plan.changeset_id, actor=actor, reason=reason or f"undo rebalance plan {plan_id}"
    )


def plan_diff_geojson(store: Any, plan_id: str) -> dict[str, Any]:
    """GeoJSON FeatureCollection of the pieces a plan moves.

    Properties ``piece_id``, ``cell``, ``unit_code``, ``from_leader``, ``to_leader``, ``area_m2``;
    geometry in EPSG:4326 (the pieces as stored).
    """
    import geopandas as gpd
    import pandas as pd

    plan = get_plan(store, plan_id)
    cols = ["piece_id", "cell", "unit_code", "from_leader", "to_leader", "area_m2"]
    if not plan.moves:
        return {"type": "FeatureCollection", "features": []}
    moves = pd.DataFrame(plan.moves)[cols]
    pieces = store.pieces(plan.scope)[["id", "geometry"]].rename(columns={"id": "piece_id"})
    gdf = gpd.GeoDataFrame(
        moves.merge(pieces, on="piece_id", how="inner"), geometry="geometry", crs="EPSG:4326"
    )
    out = dict(gdf.to_geo_dict(drop_id=True))
    return out
