"""The frozen outcome of :meth:`AutoAssign.solve <gridmgr.assign.model.AutoAssign.solve>` and its
balance figures, computed from the final slot per piece (:func:`summarize`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from gridmgr.assign.inputs import BoolArray, Problem
from gridmgr.grid.graph import FloatArray, IntArray, connected_parts
from gridmgr.i18n import t


@dataclass(frozen=True)
class AssignResult:
    """Outcome of :meth:`AutoAssign.solve <gridmgr.assign.model.AutoAssign.solve>`.

    Attributes
    ----------
    owner
        Leader position per piece (``-1``: unassigned, a blind spot 盲点).
    fallback
        Per piece: held by the community's package leader as territorial default (属地兜底).
    loads
        Load per leader (sum of their pieces' loads).
    ratios
        Per leader: load/capacity relative to their community's total load / total capacity
        (1.0 is perfectly balanced; ``nan`` for leaders without a share in any community). A leader
        working in several communities gets the worst of their shares.
    max_ratio
        The largest of ``ratios``.
    max_mean
        The largest, over communities, of max(load/capacity) / mean(load/capacity): the figure
        pymetis and the benchmark call "max/mean load".
    disconnected
        Number of territories (leader × community) made of more than one connected region.
    split_groups
        Groups (communities) whose own pieces are not connected; their components got leaders in
        proportion to their load.
    iterations
        Refinement rounds run.
    notes
        Human-readable remarks (Chinese first, English with ``GRIDMGR_LANG=en``).
    """

    owner: IntArray
    fallback: BoolArray
    loads: FloatArray
    ratios: FloatArray
    max_ratio: float
    max_mean: float
    disconnected: int
    split_groups: tuple[Any, ...]
    iterations: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def unassigned(self) -> int:
        """Number of pieces left without owner (blind spots 盲点)."""
        return int((self.owner < 0).sum())


def _slot_ratios(model: Problem, slot_load: FloatArray) -> FloatArray:
    """Per slot: load/capacity relative to its group's total load / total capacity."""
    k = len(model.capacities)
    if not k:
        return np.zeros(0)
    g, caps, sg = model.group, model.capacities, model.slot_group
    in_model = g >= 0
    n_groups = len(model.group_names)
    glo = np.bincount(g[in_model], weights=model.loads[in_model], minlength=n_groups)
    gcap = np.bincount(sg, weights=caps, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((slot_load / caps) / (glo[sg] / gcap[sg]), dtype=np.float64)


def _max_mean(model: Problem, slot_load: FloatArray) -> float:
    """The largest per-group max/mean of load/capacity (1.0 when no group has load)."""
    max_mean = 1.0
    for gi in np.unique(model.slot_group):
        s = np.flatnonzero(model.slot_group == gi)
        per = slot_load[s] / model.capacities[s]
        if per.mean() > 0:
            max_mean = max(max_mean, float(per.max() / per.mean()))
    return max_mean


def _leader_ratios(model: Problem, slot_ratio: FloatArray) -> FloatArray:
    """Per leader: the worst ratio of their slots (``nan`` without any)."""
    ratios = np.full(model.n_leaders, np.nan)
    if len(model.capacities):
        finite = np.isfinite(slot_ratio)
        np.fmax.at(ratios, model.slot_leader[finite], slot_ratio[finite])
    return ratios


def _idle_note(idle: int) -> str:
    """Note for leader slots that got no piece."""
    return t(
        f"{idle} 名网格长未分到地块（所在社区地块数少于网格长人数）",
        f"{idle} leaders got no piece (fewer pieces than leaders in their community)",
    )


def _disconnected_note(disconnected: int) -> str:
    """Note for territories made of several regions."""
    return t(
        f"{disconnected} 个责任区不连通（所在社区地块本身不连通或被锁定）",
        f"{disconnected} territories are not connected "
        "(their community's pieces are not, or pieces were locked)",
    )


def summarize(
    model: Problem,
    adj: sp.csr_matrix,
    owner: IntArray,
    *,
    split: tuple[Any, ...],
    rounds: int,
    notes: list[str],
) -> AssignResult:
    """Result of the final slot per piece: owners as leaders, balance figures, notes.

    ``adj`` is the group graph the parts were made on; pieces outside every slot (``-1``) keep the
    model's territorial default. Notes on idle leaders and split territories are added to ``notes``.
    """
    k = len(model.capacities)
    w = model.loads
    assigned = owner >= 0
    slot_load = np.asarray(
        np.bincount(owner[assigned], weights=w[assigned], minlength=k), dtype=np.float64
    )
    slot_ratio = _slot_ratios(model, slot_load)
    max_mean = _max_mean(model, slot_load)
    disconnected = int((connected_parts(adj, owner, k) > 1).sum()) if k else 0
    idle = int((np.bincount(owner[assigned], minlength=k) == 0).sum()) if k else 0
    if idle:
        notes.append(_idle_note(idle))
    final = np.where(
        assigned, model.slot_leader[np.maximum(owner, 0)] if k else -1, model.fixed_owner
    )
    leader_load = np.asarray(
        np.bincount(final[final >= 0], weights=w[final >= 0], minlength=model.n_leaders),
        dtype=np.float64,
    )
    ratios = _leader_ratios(model, slot_ratio)
    max_ratio = float(np.nanmax(ratios)) if np.isfinite(ratios).any() else 1.0
    if disconnected:
        notes.append(_disconnected_note(disconnected))
    return AssignResult(
        owner=final.astype(np.int64),
        fallback=model.fixed_fallback & ~assigned,
        loads=leader_load,
        ratios=ratios,
        max_ratio=max_ratio,
        max_mean=max_mean,
        disconnected=disconnected,
        split_groups=split,
        iterations=rounds,
        notes=tuple(notes),
    )
