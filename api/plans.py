"""Plan workflow used by the plans router and the rebalance pages.

Thin: proposing calls :mod:`gridmgr.rebalance` (``propose`` when the library provides it, else
``Rebalance.from_store(...).solve()``); applying, discarding and undoing use the library's
``apply_plan``/``discard_plan``/``undo_plan`` when present and otherwise the store's plan and
change-set API directly (one transaction each; stale pieces → ``StaleVersionError`` naming them).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np


def _lib(name: str) -> Any:
    import gridmgr.rebalance as rb

    return getattr(rb, name, None)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with the keyword arguments it accepts."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return fn(*args, **kwargs)
    return fn(*args, **{k: v for k, v in kwargs.items() if k in params})


def _plan_id(result: Any) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, dict):
        return str(result["id"])
    return str(getattr(result, "id", None) or result.plan_id)


def manual_plan(
    store: Any, *, scope: str | None, reason: str, moves: list[tuple[str, str | None]], actor: str
) -> str:
    """Store a hand-made plan moving whole cells; returns its id.

    Each move records the piece version seen now, so applying it later refuses pieces that moved
    on in between (409 naming them).
    """
    from gridmgr.errors import InputError, NotFoundError

    frame = store.pieces(scope, geometry=False)
    by_cell = {c: g for c, g in frame.groupby(frame["cell"].astype(str))}
    out: list[dict[str, Any]] = []
    missing = [c for c, _ in moves if c not in by_cell]
    if missing:
        where = f" in unit {scope}" if scope else ""
        raise NotFoundError(f"plan: cell(s) {', '.join(missing[:10])} not in the store{where}")
    seen: set[str] = set()
    for cell, to in moves:
        if cell in seen:
            raise InputError(f"plan: cell {cell} is moved twice; name each cell once")
        seen.add(cell)
        for r in by_cell[cell].to_dict("records"):
            out.append(
                {
                    "piece_id": int(r["id"]),
                    "cell": cell,
                    "unit_code": str(r["unit_code"]),
                    "from_leader": r["leader_id"],
                    "to_leader": to,
                    "version": int(r["version"]),
                }
            )
    metrics = {
        "moved_pieces": sum(1 for m in out if m["from_leader"] != m["to_leader"]),
        "cells": len(moves),
    }
    return str(
        store.save_plan(
            scope=scope,
            params={"kind": "manual", "reason": reason},
            moves=out,
            metrics=metrics,
            actor=actor,
        )
    )


def propose(store: Any, params: dict[str, Any], *, actor: str) -> str:
    """Propose a rebalance with ``params`` (see :class:`api.schemas.RebalanceIn`); returns the id."""
    fn = _lib("propose")
    if fn is not None:
        return _plan_id(_call(fn, store, actor=actor, **params))
    from gridmgr.rebalance import Rebalance

    model = _call(
        Rebalance.from_store, store, **{k: v for k, v in params.items() if k not in {"reason"}}
    )
    res = model.solve()
    inp = model.inputs
    pieces = np.asarray(inp.piece_ids)
    leaders = list(inp.leader_ids)
    frame = store.pieces(params["scope"], geometry=False).set_index("id")
    moves = []
    for p, a, b in res.moves:
        pid = int(pieces[p])
        moves.append(
            {
                "piece_id": pid,
                "cell": str(frame.at[pid, "cell"]),
                "from_leader": None if a < 0 else leaders[a],
                "to_leader": leaders[b],
                "version": int(frame.at[pid, "version"]),
            }
        )
    metrics = {
        "before": res.before.to_dict(),
        "after": res.after.to_dict(),
        "moved_pieces": res.moved_pieces,
        "moved_area_m2": float(res.moved_area_m2),
        "missed": [m.to_dict() for m in res.missed],
    }
    return str(
        store.save_plan(
            scope=params["scope"], params=params, moves=moves, metrics=metrics, actor=actor
        )
    )


def _status(store: Any, plan_id: str, want: str, verb: str) -> dict[str, Any]:
    from gridmgr.errors import ConflictError

    plan: dict[str, Any] = store.get_plan(plan_id)
    if plan["status"] != want:
        raise ConflictError(f"plan {plan_id} is {plan['status']}; only a {want} plan can be {verb}")
    return plan


def apply(store: Any, plan_id: str, *, actor: str) -> dict[str, Any]:
    """Apply a proposed plan in one transaction; returns the change result as a dict."""
    fn = _lib("apply_plan")
    if fn is not None:
        res = _call(fn, store, plan_id, actor=actor)
    else:
        from gridmgr.store import Change

        plan = _status(store, plan_id, "proposed", "applied")
        changes = [
            Change(int(m["piece_id"]), m["to_leader"], m.get("version")) for m in plan["moves"]
        ]
        reason = (plan.get("params") or {}).get("reason") or f"rebalance plan {plan_id}"
        res = store.apply_changes(
            changes, actor=actor, reason=str(reason), kind="plan", plan_id=plan_id
        )
    return _result(res)


def discard(store: Any, plan_id: str, *, actor: str) -> None:
    """Discard a proposed plan (nothing else changes)."""
    fn = _lib("discard_plan")
    if fn is not None:
        _call(fn, store, plan_id, actor=actor)
        return
    _status(store, plan_id, "proposed", "discarded")
    store.set_plan_status(plan_id, "discarded")


def undo(store: Any, plan_id: str, *, actor: str) -> dict[str, Any]:
    """Undo an applied plan in one transaction (refused when a piece changed again since)."""
    fn = _lib("undo_plan")
    if fn is not None:
        return _result(_call(fn, store, plan_id, actor=actor))
    plan = _status(store, plan_id, "applied", "undone")
    res = store.undo_changeset(plan["changeset_id"], actor=actor, reason=f"undo plan {plan_id}")
    store.set_plan_status(plan_id, "undone")
    return _result(res)


def _result(res: Any) -> dict[str, Any]:
    if res is None:
        return {"changeset_id": None, "changed": 0, "unchanged": 0, "cells": []}
    if hasattr(res, "to_dict"):
        d = res.to_dict()
    elif isinstance(res, dict):
        d = dict(res)
    else:
        d = {"changeset_id": str(res), "changed": 0, "unchanged": 0, "cells": []}
    return {
        "changeset_id": d.get("changeset_id"),
        "changed": int(d.get("changed", 0)),
        "unchanged": int(d.get("unchanged", 0)),
        "cells": list(d.get("cells", [])),
    }
