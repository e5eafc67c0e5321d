"""The steps of :meth:`AutoAssign.solve <gridmgr.assign.model.AutoAssign.solve>` up to the final parts.

1. :func:`check_leaders` — every group with pieces has a leader slot;
2. :func:`group_graph` — the adjacency without edges between groups (or to pieces outside);
3. :func:`partition_groups` — per group: its separate regions get slots by load
   (:func:`allocate_regions`), each region is bisected among its slots, regions left without a slot
   join the group's least loaded slot;
4. :func:`finish_partition` — locked pieces back to their slot, then diffusion refinement.

Parts are *slots* (positions in the model's ``capacities``), not leaders.

Examples
--------
>>> import numpy as np
>>> allocate_regions(np.array([3.0, 1.0]), np.array([5, 5]), np.arange(3), np.ones(3))
[array([0, 2]), array([1])]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gridmgr.assign.inputs import Problem
from gridmgr.assign.partition import bisection_partition
from gridmgr.assign.refine import refine_partition, repair_connectivity
from gridmgr.errors import InfeasibleError
from gridmgr.grid.graph import FloatArray, IntArray, label_subgraph
from gridmgr.i18n import t

#: Balance the refinement aims for (every part within 1 ± this of its target).
REFINE_TOL = 0.004


@dataclass(frozen=True)
class GroupParts:
    """Outcome of :func:`partition_groups`: slot per piece, split groups and their notes."""

    owner: IntArray
    split: tuple[Any, ...]
    notes: tuple[str, ...]


def slots_of_groups(model: Problem) -> list[IntArray]:
    """Slot positions of every group (index: group code)."""
    return [np.flatnonzero(model.slot_group == gi) for gi in range(len(model.group_names))]


def check_leaders(model: Problem) -> None:
    """Raise :class:`InfeasibleError` naming the groups that have pieces but no leader."""
    g = model.group
    slots_of = slots_of_groups(model)
    empty = [gi for gi in np.unique(g[g >= 0]) if len(slots_of[gi]) == 0]
    if empty:
        names = ", ".join(str(model.group_names[gi]) for gi in empty[:10])
        msg = (
            f"group(s) {names} have pieces but no leader; give them a leader "
            "(or a package leader for the territorial fallback)"
        )
        raise InfeasibleError(msg)


def group_graph(model: Problem) -> sp.csr_matrix:
    """The pieces' adjacency restricted to edges inside one group (pieces outside: no edges)."""
    g = model.group
    return label_subgraph(model.adj, np.where(g >= 0, g, -1))


def allocate_regions(
    comp_load: FloatArray, comp_size: IntArray, slots: IntArray, caps: FloatArray
) -> list[IntArray]:
    """Give a group's leaders to its separate regions in proportion to load (D'Hondt on capacity).

    Leaders are taken by descending capacity; each goes to the region with the highest load per
    capacity already given (a region without leader first), never more leaders than pieces.
    Regions left without a leader get an empty array (their pieces join the least loaded leader).
    """
    order = slots[np.lexsort((slots, -caps[slots]))]
    given = np.zeros(len(comp_load))
    count = np.zeros(len(comp_load), dtype=np.int64)
    out: list[list[int]] = [[] for _ in comp_load]
    for s in order.tolist():
        with np.errstate(divide="ignore", invalid="ignore"):
            prio = np.where(given > 0, comp_load / given, np.inf)
        prio = np.where(count < comp_size, prio, -1.0)
        # Prefer heavier regions among those without a leader yet.
        key = np.lexsort((np.arange(len(prio)), -comp_load, -prio))
        c = int(key[0])
        if prio[c] < 0:
            break
        out[c].append(s)
        given[c] += caps[s]
        count[c] += 1
    return [np.asarray(o, dtype=np.int64) for o in out]


def _bisect_regions(
    model: Problem,
    adj: sp.csr_matrix,
    owner: IntArray,
    nodes: IntArray,
    inv: IntArray,
    alloc: list[IntArray],
) -> list[IntArray]:
    """Split every region of one group among its slots (in ``owner``); return slotless regions."""
    w, caps = model.loads, model.capacities
    orphans = []
    for ci in range(len(alloc)):
        idx = nodes[inv == ci]
        part_slots = alloc[ci]
        if len(part_slots) == 0:
            orphans.append(idx)
            continue
        sub = adj[idx][:, idx]
        local = bisection_partition(sub, w[idx], caps[part_slots], seed=model.seed)
        owner[idx] = np.where(local >= 0, part_slots[np.maximum(local, 0)], -1)
    return orphans


def _orphans_to_least_loaded(
    model: Problem, owner: IntArray, orphans: list[IntArray], slots: IntArray
) -> None:
    """Give each slotless region (heaviest first) to the group's least loaded slot, in ``owner``."""
    w, caps = model.loads, model.capacities
    k = len(caps)
    for idx in sorted(orphans, key=lambda a: (-w[a].sum(), int(a[0]))):
        cur = np.bincount(owner[owner >= 0], weights=w[owner >= 0], minlength=k)
        best = slots[np.lexsort((slots, cur[slots] / caps[slots]))[0]]
        owner[idx] = best


def _split_note(name: Any, regions: int) -> str:
    """Note for a group whose pieces form several separate regions."""
    return t(
        f"{name} 的地块分成 {regions} 个互不相连的部分，按负荷分配网格长",
        f"{name}: pieces form {regions} separate regions; leaders allotted to them by load",
    )


def partition_groups(model: Problem, adj: sp.csr_matrix) -> GroupParts:
    """Initial parts: each group's pieces split among its slots, region by region.

    ``adj`` is :func:`group_graph` of the model; a group's connected components are its regions.
    """
    n = adj.shape[0]
    g, w = model.group, model.loads
    owner = np.full(n, -1, dtype=np.int64)  # slot per piece
    slots_of = slots_of_groups(model)
    _, comp = connected_components(adj, directed=False)
    split: list[Any] = []
    notes: list[str] = []
    for gi in np.unique(g[g >= 0]):
        nodes = np.flatnonzero(g == gi)
        slots = slots_of[gi]
        comps, inv = np.unique(comp[nodes], return_inverse=True)
        if len(comps) == 1:
            alloc = [slots]
        else:
            split.append(model.group_names[gi])
            alloc = allocate_regions(
                np.asarray(np.bincount(inv, weights=w[nodes]), dtype=np.float64),
                np.bincount(inv).astype(np.int64),
                slots,
                model.capacities,
            )
            notes.append(_split_note(model.group_names[gi], len(comps)))
        orphans = _bisect_regions(model, adj, owner, nodes, inv, alloc)
        _orphans_to_least_loaded(model, owner, orphans, slots)
    return GroupParts(owner, tuple(split), tuple(notes))


def finish_partition(model: Problem, adj: sp.csr_matrix, owner: IntArray) -> tuple[IntArray, int]:
    """Put locked pieces back to their slot (repairing the parts), then refine the balance.

    Returns the final slot per piece and the number of refinement rounds.
    """
    w, caps, lock = model.loads, model.capacities, model.locked
    held: NDArray[np.bool_] = lock >= 0
    if held.any():
        owner = owner.copy()
        owner[held] = lock[held]
        owner = repair_connectivity(adj, w, owner, caps, locked=held)
    return refine_partition(adj, w, owner, caps, tol=REFINE_TOL, locked=held)
