"""The validated arrays and settings of a rebalance model (:class:`ModelArrays`).

Base class of :class:`~gridmgr.rebalance.core.RebalanceCore`; the solver phases read a model
through this class only, so they do not depend on the constructors.
"""

from __future__ import annotations

from collections.abc import Sequence

import scipy.sparse as sp

from gridmgr.rebalance.results import BoolArray, FloatArray, IntArray


class ModelArrays:
    """Inputs of one solve, already checked (build them with ``Rebalance.from_graph``)."""

    def __init__(
        self,
        *,
        adj: sp.csr_matrix,
        loads: FloatArray,
        owner: IntArray,
        capacities: FloatArray,
        group: IntArray,
        leader_group: IntArray,
        locked_leaders: BoolArray,
        locked_pieces: BoolArray,
        target_ratio: float,
        min_ratio: float,
        max_moves: int | None,
        seed: int,
        areas: FloatArray | None,
        hard_cap: bool,
        max_rounds: int,
        leader_labels: Sequence[str] | None,
        group_labels: Sequence[str] | None,
    ) -> None:
        self.adj = adj
        self.loads = loads
        self.owner = owner
        self.capacities = capacities
        self.group = group
        self.leader_group = leader_group
        self.locked_leaders = locked_leaders
        self.locked_pieces = locked_pieces
        self.target_ratio = target_ratio
        self.min_ratio = min_ratio
        self.max_moves = max_moves
        self.seed = seed
        self.areas = areas
        self.hard_cap = hard_cap
        self.max_rounds = max_rounds
        self.leader_labels = list(leader_labels) if leader_labels is not None else None
        self.group_labels = list(group_labels) if group_labels is not None else None

    # -- naming helpers ----------------------------------------------------------------------

    def _leader_name(self, pos: int) -> str:
        return self.leader_labels[pos] if self.leader_labels is not None else str(pos)

    def _group_name(self, g: int) -> str:
        return self.group_labels[g] if self.group_labels is not None else str(g)
