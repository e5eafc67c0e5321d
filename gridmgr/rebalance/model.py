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
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from gridmgr.errors import InfeasibleError, InputError
from gridmgr.i18n import t
from gridmgr.rebalance.solver import (
    BoolArray,
    FloatArray,
    IntArray,
    Metrics,
    Miss,
    RebalanceCore,
    RebalanceResult,
)

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


# --------------------------------------------------------------------------------------------
# The model (array core: gridmgr.rebalance.solver.RebalanceCore)


class Rebalance(RebalanceCore):
    """Minimal-move rebalancing model (construct with :meth:`from_graph` or :meth:`from_store`).

    Examples
    --------
    Six pieces in a row, leader 0 holds four of them, leader 1 two: one move balances them.

    >>> import numpy as np, scipy.sparse as sp
    >>> adj = sp.diags([np.ones(5), np.ones(5)], [-1, 1], format="csr")
    >>> model = Rebalance.from_graph(adj, np.ones(6), [0, 0, 0, 0, 1, 1], [1.0, 1.0])
    >>> result = model.solve()
    >>> result.moves
    [(3, 0, 1)]
    >>> result.after.max_ratio
    1.0
    """

    @classmethod
    def from_store(
        cls,
        store: Any,
        *,
        scope: str,
        weights: Mapping[str, float] | str | None = None,
        leaders_add: Sequence[str] = (),
        leaders_remove: Sequence[str] = (),
        capacity: Mapping[str, float] | None = None,
        lock: Sequence[str] = (),
        cross_communities: bool = False,
        target_ratio: float = 1.02,
        min_ratio: float | None = None,
        max_moves: int | None = None,
        seed: int = 0,
        hard_cap: bool = False,
    ) -> Rebalance:
        """Convenience constructor over the store's pieces, leaders and key places in ``scope``.

        Pieces are grouped by community (the ``community``-level ancestor of their unit); moves
        stay inside a community unless ``cross_communities`` (then the whole scope is one group,
        and every receiver must still have the piece's unit among its ``unit_packages``). Taking
        part: the active grid leaders who hold pieces in scope, plus ``leaders_add`` (imported,
        active leaders; they join the first community of their packages in scope),
        minus ``leaders_remove`` (their pieces go to neighbours). Pieces held by anyone else in
        such a community (a package leader's territorial default 属地兜底, a deactivated leader)
        are handed to the grid leaders like unassigned ones; communities without any grid leader
        taking part are left as they are.

        Parameters
        ----------
        store
            An open :class:`gridmgr.store.Store` with layers, leaders and assignments.
        scope
            Unit code (district, street or community).
        weights
            Workload weights (``gridmgr.assign.workload.parse_weights``).
        leaders_add, leaders_remove
            Leader ids joining / leaving.
        capacity
            Capacity overrides ``{leader_id: capacity}``.
        lock
            Leader ids (their territory stays as is) or cells (their pieces stay), mixed.
        cross_communities
            Let moves cross communities inside the scope.
        target_ratio, min_ratio, max_moves, seed, hard_cap
            As in :meth:`from_graph`.
        """
        inp = inputs_from_store(
            store,
            scope=scope,
            weights=weights,
            leaders_add=leaders_add,
            leaders_remove=leaders_remove,
            capacity=capacity,
            lock=lock,
            cross_communities=cross_communities,
        )
        model = cls.from_graph(
            inp.adj,
            inp.loads,
            inp.owner,
            inp.capacities,
            group=inp.group,
            leader_group=inp.leader_group,
            locked_leaders=inp.locked_leaders,
            locked_pieces=inp.locked_pieces,
            target_ratio=target_ratio,
            min_ratio=min_ratio,
            max_moves=max_moves,
            seed=seed,
            areas=inp.areas,
            hard_cap=hard_cap,
            leader_labels=inp.leader_ids,
            group_labels=inp.group_codes,
        )
        model.inputs = inp
        return model

    inputs: Any = None


# --------------------------------------------------------------------------------------------
# Store inputs


@dataclass(frozen=True, eq=False)
class StoreInputs:
    """Arrays :meth:`Rebalance.from_store` reads from the store, positional over ``pieces``."""

    pieces: Any
    """Pieces frame of the model (store ``id``, ``cell``, ``unit_code``, ``version``, geometry)."""
    adj: sp.csr_matrix
    loads: FloatArray
    owner: IntArray
    capacities: FloatArray
    group: IntArray
    leader_group: IntArray
    locked_leaders: IntArray
    locked_pieces: BoolArray
    areas: FloatArray
    leader_ids: list[str]
    group_codes: list[str]
    leaders: Any
    """Leaders frame of the store (for package checks)."""
    units: Any


def _split_ids(values: Sequence[str] | str | None) -> list[str]:
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        out += [x.strip() for x in str(item).replace("，", ",").split(",") if x.strip()]
    return out


def inputs_from_store(
    store: Any,
    *,
    scope: str,
    weights: Mapping[str, float] | str | None = None,
    leaders_add: Sequence[str] | str = (),
    leaders_remove: Sequence[str] | str = (),
    capacity: Mapping[str, float] | None = None,
    lock: Sequence[str] | str = (),
    cross_communities: bool = False,
) -> StoreInputs:
    """Read pieces, leaders and key places of ``scope`` into the arrays of the model.

    See :meth:`Rebalance.from_store` for the rules; raises :class:`~gridmgr.errors.InputError`,
    :class:`~gridmgr.errors.LeaderNotFoundError` or :class:`~gridmgr.errors.ConflictError` naming
    the offending id.
    """
    from gridmgr.assign.auto import _community_map
    from gridmgr.assign.workload import piece_loads
    from gridmgr.errors import ConflictError, LeaderNotFoundError
    from gridmgr.grid.graph import piece_adjacency

    units = store.units()
    pieces = store.pieces(scope)  # UnitNotFoundError when the scope is unknown
    if len(pieces) == 0:
        raise InputError(
            t(
                f"范围 {scope}：库中没有地块，请先导入图层（gridmgr load）",
                f"scope {scope}: no pieces in the store; load the layers first (gridmgr load)",
            )
        )
    leaders = store.leaders()
    key_places = store.key_places(scope)
    to_comm = _community_map(units)
    comm_of_unit = {u: to_comm(u)[0] for u in pieces["unit_code"].astype(str).unique()}
    piece_comm = pieces["unit_code"].astype(str).map(comm_of_unit).to_numpy(dtype=object)
    comm_codes = sorted(set(piece_comm.tolist()))
    comm_index = {c: i for i, c in enumerate(comm_codes)}
    add_ids, remove_ids = _split_ids(leaders_add), _split_ids(leaders_remove)
    known = dict(zip(leaders["id"].astype(str), range(len(leaders)), strict=True))
    for lid in add_ids + remove_ids + list((capacity or {}).keys()):
        if lid not in known:
            raise LeaderNotFoundError(
                t(
                    f"领导 {lid!r} 不在库中，请先导入（gridmgr leaders import FILE）",
                    f"leader {lid!r} is not in the store; import it first (gridmgr leaders import FILE)",
                )
            )
    both = set(add_ids) & set(remove_ids)
    if both:
        both_ids = ", ".join(sorted(both))
        raise InputError(
            t(
                f"领导 {both_ids} 同时被列为新增和移除，请只选其一",
                f"leader(s) {both_ids} are both added and removed; choose one",
            )
        )
    active = leaders["active"].to_numpy(dtype=bool)
    for lid in add_ids:
        if not active[known[lid]]:
            raise ConflictError(
                t(
                    f"领导 {lid} 已停用；请先重新启用（重新导入）再新增",
                    f"leader {lid} is inactive; reactivate (re-import) before adding them",
                )
            )

    def comms_of(pos: int) -> list[str]:
        packs = leaders["unit_packages"].iloc[pos] or []
        return sorted({c for p in packs for c in to_comm(str(p)) if c in comm_index})

    role = leaders["role"].astype(str).to_numpy()
    holders = set(pieces.loc[~pieces["fallback"].astype(bool), "leader_id"].dropna().astype(str))
    part: list[int] = []  # leader positions taking part
    for pos in range(len(leaders)):
        lid = str(leaders["id"].iloc[pos])
        if not comms_of(pos):
            if lid in add_ids:
                raise InputError(
                    t(
                        f"领导 {lid} 在范围 {scope} 内没有包保单位；请先在领导名单文件中将该社区加入其 "
                        "unit_packages",
                        f"leader {lid} has no unit package in scope {scope}; add the community to their "
                        "unit_packages (leaders file) first",
                    )
                )
            continue
        holds = active[pos] and role[pos] == "grid_leader" and lid in holders
        if holds or lid in add_ids or lid in remove_ids:
            part.append(pos)
    if not part:
        raise InfeasibleError(
            t(
                f"范围 {scope}：没有网格长包保这里的地块，也没有新增领导；请先分配"
                "（gridmgr assign auto），或用 --leaders-add 指定新增领导",
                f"scope {scope}: no grid leader holds pieces here and none is added; assign first "
                "(gridmgr assign auto) or name newcomers with --leaders-add",
            )
        )
    ids = [str(leaders["id"].iloc[p]) for p in part]
    pos_of = {lid: i for i, lid in enumerate(ids)}
    caps = np.array([float(leaders["capacity"].iloc[p]) for p in part], dtype=np.float64)
    for lid, x in (capacity or {}).items():
        if lid not in pos_of:
            raise InputError(
                t(
                    f"--capacity {lid}={x}：领导 {lid} 不参与范围 {scope} 的调整",
                    f"--capacity {lid}={x}: leader {lid} takes no part in scope {scope}",
                )
            )
        if not np.isfinite(float(x)) or float(x) <= 0:
            raise InputError(
                t(
                    f"--capacity {lid}={x}：capacity 必须大于 0（如需移除，请用 --leaders-remove）",
                    f"--capacity {lid}={x}: capacity must be > 0 (use --leaders-remove to drop)",
                )
            )
        caps[pos_of[lid]] = float(x)
    for lid in remove_ids:
        if lid not in pos_of:
            raise InputError(
                t(
                    f"--leaders-remove {lid}：该领导不参与范围 {scope} 的调整",
                    f"--leaders-remove {lid}: leader takes no part in scope {scope}",
                )
            )
        caps[pos_of[lid]] = 0.0
    holder = pieces["leader_id"].to_numpy(dtype=object)
    owner = np.array([pos_of.get(h, -1) if h is not None else -1 for h in holder], dtype=np.int64)
    # Communities with no participant stay as they are: drop them from the model.
    comm_has = np.zeros(len(comm_codes), dtype=bool)
    for p in part:
        for c in comms_of(p):
            comm_has[comm_index[c]] = True
    g_all = np.array([comm_index[c] for c in piece_comm], dtype=np.int64)
    keep = comm_has[g_all]
    pieces = pieces[keep].reset_index(drop=True)
    owner = owner[keep]
    comm_codes = [c for i, c in enumerate(comm_codes) if comm_has[i]]
    comm_index = {c: i for i, c in enumerate(comm_codes)}
    g_all = np.array([comm_index[c] for c in piece_comm[keep]], dtype=np.int64)
    leader_group = np.array([comm_index[comms_of(p)[0]] for p in part], dtype=np.int64)
    # Locks: leader ids or cells.
    locked_leaders: list[int] = []
    locked_pieces = np.zeros(len(pieces), dtype=bool)
    cells = pieces["cell"].astype(str).to_numpy()
    for item in _split_ids(lock):
        if item in pos_of:
            locked_leaders.append(pos_of[item])
            continue
        hit = cells == item
        if not hit.any():
            raise InputError(
                t(
                    f"--lock {item}：既不是参与调整的领导，也不是范围 {scope} 内的网格单元",
                    f"--lock {item}: neither a leader taking part nor a cell in scope {scope}",
                )
            )
        locked_pieces |= hit
    adj = piece_adjacency(pieces)
    loads = piece_loads(pieces, key_places, weights)
    group = np.zeros(len(pieces), dtype=np.int64) if cross_communities else g_all
    return StoreInputs(
        pieces=pieces,
        adj=adj,
        loads=np.asarray(loads, dtype=np.float64),
        owner=owner,
        capacities=caps,
        group=group,
        leader_group=np.zeros(len(part), dtype=np.int64) if cross_communities else leader_group,
        locked_leaders=np.asarray(locked_leaders, dtype=np.int64),
        locked_pieces=locked_pieces,
        areas=pieces["area_m2"].to_numpy(dtype=np.float64),
        leader_ids=ids,
        group_codes=[scope] if cross_communities else comm_codes,
        leaders=leaders,
        units=units,
    )


# --------------------------------------------------------------------------------------------
# Plans


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
    target_ratio: float = 1.02,
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
    add_ids, remove_ids, locks = (
        _split_ids(leaders_add),
        _split_ids(leaders_remove),
        _split_ids(lock),
    )
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
    pieces = inp.pieces
    ids = np.asarray(inp.leader_ids, dtype=object)
    mp = res.move_pieces
    from_id: list[Any] = [None if f < 0 else ids[f] for f in res.move_from.tolist()]
    to_id: list[Any] = [ids[t] for t in res.move_to.tolist()]
    if cross_communities and len(mp):
        _check_packages(inp, mp, to_id)
    import pandas as pd

    moves = pd.DataFrame(
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
    metrics = {
        "before": res.before.to_dict(),
        "after": res.after.to_dict(),
        "moved_pieces": res.moved_pieces,
        "moved_area_m2": res.moved_area_m2,
        "pieces": len(pieces),
        "iterations": res.iterations,
        "leaders": leaders,
        "missed": [{**m.to_dict(), "leader_id": inp.leader_ids[m.leader]} for m in res.missed],
        "target_ratio": model.target_ratio,
        "min_ratio": model.min_ratio,
    }
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


def _check_packages(inp: StoreInputs, mp: IntArray, to_id: Any) -> None:
    """Across communities, a receiver must hold the piece's unit (or an ancestor) as a package."""
    from gridmgr.assign.auto import _community_map

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
    _require_status(plan, "proposed", "discarded")
    store.set_plan_status(plan_id, "discarded")
    return get_plan(store, plan_id)


def undo_plan(store: Any, plan_id: str, *, actor: str, reason: str | None = None) -> Any:
    """Reverse an applied plan in one transaction (the store's undo of its change set).

    Refused (:class:`~gridmgr.errors.StaleVersionError`) when a moved piece changed again after
    the plan was applied.
    """
    plan = get_plan(store, plan_id)
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
