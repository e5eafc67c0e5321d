"""Initial assignment of a store: :func:`auto_assign`, one change set plus grid codes.

The model is :class:`~gridmgr.assign.model.AutoAssign` (inputs in :mod:`gridmgr.assign.inputs`,
solve steps in :mod:`gridmgr.assign.solve` and :mod:`gridmgr.assign.result`, the partitioner in
:mod:`gridmgr.assign.partition`), grid codes are in :mod:`gridmgr.assign.grid_codes`; all are
re-exported here. The algorithm and its measured quality are described in ``docs/assign.md``.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> path = sp.diags([1.0, 1.0], [-1, 1], shape=(6, 6), format="csr")
>>> res = AutoAssign.from_graph(path, np.ones(6), np.ones(2)).solve()
>>> res.owner.tolist()
[0, 0, 0, 1, 1, 1]
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridmgr.assign.grid_codes import grid_codes
from gridmgr.assign.inputs import _community_map, piece_communities
from gridmgr.assign.model import AutoAssign
from gridmgr.assign.result import AssignResult
from gridmgr.assign.solve import REFINE_TOL
from gridmgr.assign.workload import parse_weights

if TYPE_CHECKING:
    from gridmgr.store import ChangeResult, Store


@dataclass(frozen=True)
class AutoAssignReport:
    """What :func:`auto_assign` did."""

    scope: str | None
    seed: int
    weights: dict[str, float]
    changeset_id: str | None
    pieces: int
    assigned: int
    fallback: int
    unassigned: int
    changed: int
    max_ratio: float
    max_mean: float
    disconnected: int
    split_communities: tuple[str, ...]
    communities: tuple[dict[str, Any], ...]
    grid_codes: tuple[dict[str, Any], ...]
    unassigned_cells: tuple[str, ...]
    notes: tuple[str, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: tuples become lists, the cell list is truncated to 100."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        out["unassigned_cells"] = list(self.unassigned_cells[:100])
        return out


def _owner_ids(res: AssignResult, leader_ids: NDArray[Any], n: int) -> NDArray[Any]:
    """Leader id per piece (``None``: unassigned)."""
    none = np.full(n, None)
    if not len(leader_ids):
        return none
    return np.where(res.owner >= 0, leader_ids[np.maximum(res.owner, 0)], none)


def _write(
    store: Store,
    pieces: pd.DataFrame,
    owner_id: NDArray[Any],
    res: AssignResult,
    codes: pd.DataFrame,
    *,
    actor: str,
    reason: str,
) -> ChangeResult:
    """Write the owners (one change set of kind ``auto``) and the grid codes in one transaction."""
    changes = pd.DataFrame(
        {
            "piece_id": pieces["id"].astype("int64").to_numpy(),
            "leader_id": owner_id,
            "expected_version": pieces["version"].astype("int64").to_numpy(),
            "fallback": res.fallback,
        }
    )
    with store.transaction() as conn:
        out = store.apply_changes(changes, actor=actor, reason=reason, kind="auto", conn=conn)
        store.save_grid_codes(codes, conn=conn)
    return out


def _community_rows(
    model: AutoAssign, res: AssignResult, piece_comm: NDArray[Any], leader_ids: NDArray[Any]
) -> tuple[dict[str, Any], ...]:
    """Per community: pieces, load, leaders holding pieces, fallback, unassigned, worst ratio."""
    rows: list[dict[str, Any]] = []
    for c in model.group_names.tolist():
        m = piece_comm == c
        owners = res.owner[m]
        held = np.unique(owners[owners >= 0])
        ratios = res.ratios[held] if len(held) else np.zeros(0)
        rows.append(
            {
                "community": c,
                "pieces": int(m.sum()),
                "load": float(model.loads[m].sum()),
                "leaders": [str(leader_ids[i]) for i in held],
                "fallback": bool(res.fallback[m].any()),
                "unassigned": int((owners < 0).sum()),
                "max_ratio": float(np.nanmax(ratios)) if np.isfinite(ratios).any() else None,
            }
        )
    return tuple(rows)


def auto_assign(
    store: Store,
    *,
    scope: str | None = None,
    weights: Mapping[str, float] | str | None = None,
    seed: int = 0,
    actor: str = "system",
    reason: str | None = None,
) -> AutoAssignReport:
    """Initial assignment of the store's pieces, written as one change set (kind ``auto``).

    Per community, pieces are split among the active grid leaders whose ``unit_packages`` contain
    that community (contiguous, workload balanced to capacity, see :class:`AutoAssign`); pieces of a
    community without grid leaders go to its package leader with ``fallback=True``; pieces with
    neither stay unassigned and are listed. Grid codes of all territories in the communities
    touched are written in the same transaction.

    Parameters
    ----------
    store
        An open, upgraded store with layers and leaders loaded.
    scope
        A unit code (street or community); ``None``: everything.
    weights
        Workload weights, e.g. ``"area=1,key_places=5"``.
    seed
        Partitioner seed (same store, same seed: same result).
    actor
        Who runs it (recorded in the history).
    reason
        Why (recorded); a default text names the seed and weights.

    Returns
    -------
    AutoAssignReport
    """
    t0 = time.perf_counter()
    w = parse_weights(weights)
    pieces = store.pieces(scope)
    leaders = store.leaders()
    key_places = store.key_places(scope)
    units = store.units()
    model = AutoAssign.from_frames(pieces, leaders, key_places, weights=w, seed=seed, units=units)
    res = model.solve()
    lid = leaders["id"].astype(str).to_numpy()
    owner_id = _owner_ids(res, lid, len(pieces))
    piece_comm = piece_communities(pieces, _community_map(units))
    codes = grid_codes(pieces, owner_id, community=piece_comm)
    text = reason or f"auto-assign seed={seed} weights=" + ",".join(
        f"{k}={v:g}" for k, v in w.items()
    )
    out = _write(store, pieces, owner_id, res, codes, actor=actor, reason=text)
    cells = pieces["cell"].astype(str).to_numpy()
    return AutoAssignReport(
        scope=scope,
        seed=seed,
        weights=w,
        changeset_id=out.changeset_id,
        pieces=len(pieces),
        assigned=int((res.owner >= 0).sum()),
        fallback=int(res.fallback.sum()),
        unassigned=res.unassigned,
        changed=out.changed,
        max_ratio=res.max_ratio,
        max_mean=res.max_mean,
        disconnected=res.disconnected,
        split_communities=tuple(str(s) for s in res.split_groups),
        communities=_community_rows(model, res, piece_comm, lid),
        grid_codes=tuple(codes[["leader_id", "unit_code", "grid_code"]].to_dict("records")),
        unassigned_cells=tuple(sorted(set(cells[res.owner < 0].tolist()))),
        notes=res.notes,
        seconds=time.perf_counter() - t0,
    )


__all__ = [
    "REFINE_TOL",
    "AssignResult",
    "AutoAssign",
    "AutoAssignReport",
    "auto_assign",
    "grid_codes",
]
