"""Plan workflow used by the plans router and the rebalance pages: thin calls into
:mod:`gridmgr.rebalance` (``propose``, ``apply_plan``, ``discard_plan``, ``undo_plan``; one
transaction each; stale pieces → ``StaleVersionError`` naming them), and hand-made plans.
"""

from __future__ import annotations

from typing import Any


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
    """Propose a rebalance with ``params`` (see :class:`api.schemas.RebalanceIn`); returns the id.

    A plan that would move nothing is not saved: :class:`~gridmgr.errors.ConflictError` says so.
    """
    from gridmgr import rebalance

    return str(rebalance.propose(store, actor=actor, **params).id)


def apply(store: Any, plan_id: str, *, actor: str, reason: str | None = None) -> dict[str, Any]:
    """Apply a proposed plan in one transaction; returns the change result as a dict."""
    from gridmgr import rebalance

    return _result(rebalance.apply_plan(store, plan_id, actor=actor, reason=reason))


def discard(store: Any, plan_id: str, *, actor: str) -> None:
    """Discard a proposed plan (nothing else changes)."""
    from gridmgr import rebalance

    rebalance.discard_plan(store, plan_id, actor=actor)


def undo(store: Any, plan_id: str, *, actor: str, reason: str | None = None) -> dict[str, Any]:
    """Undo an applied plan in one transaction (refused when a piece changed again since)."""
    from gridmgr import rebalance

    return _result(rebalance.undo_plan(store, plan_id, actor=actor, reason=reason))


def _result(res: Any) -> dict[str, Any]:
    d = res.to_dict()
    return {
        "changeset_id": d.get("changeset_id"),
        "changed": int(d.get("changed", 0)),
        "unchanged": int(d.get("unchanged", 0)),
        "cells": list(d.get("cells", [])),
    }
