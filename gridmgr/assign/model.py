"""The assignment model: contiguous, capacity-balanced leader territories.

Each community's pieces are split among that community's grid leaders so that every leader's
pieces form one connected region (whenever the community's pieces do) and every leader's
workload is proportional to their capacity. Pieces of a community without grid leaders fall to
the community's package leader (属地兜底). Inputs are prepared in :mod:`gridmgr.assign.inputs`, the
solve steps are in :mod:`gridmgr.assign.solve` and :mod:`gridmgr.assign.result`, the partitioner
in :mod:`gridmgr.assign.partition`; the algorithm and its measured quality are described in
``docs/assign.md``.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> path = sp.diags([1.0, 1.0], [-1, 1], shape=(6, 6), format="csr")
>>> res = AutoAssign.from_graph(path, np.ones(6), np.ones(2)).solve()
>>> res.owner.tolist()
[0, 0, 0, 1, 1, 1]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from gridmgr.assign.inputs import BoolArray, ModelInputs, frame_inputs, graph_inputs
from gridmgr.assign.result import AssignResult, summarize
from gridmgr.assign.solve import check_leaders, finish_partition, group_graph, partition_groups
from gridmgr.grid.graph import FloatArray, IntArray


class AutoAssign:
    """Contiguous, capacity-balanced split of pieces among leaders.

    Build it with :meth:`from_graph` (arrays) or :meth:`from_frames` (GeoDataFrames of pieces and
    leaders), then call :meth:`solve`. Nothing is computed until :meth:`solve`.
    """

    def __init__(
        self,
        adj: sp.csr_matrix,
        loads: FloatArray,
        capacities: FloatArray,
        *,
        group: IntArray,
        group_names: NDArray[Any],
        slot_group: IntArray,
        slot_leader: IntArray,
        n_leaders: int,
        fixed_owner: IntArray,
        fixed_fallback: BoolArray,
        locked: IntArray,
        seed: int,
        notes: Sequence[str] = (),
    ) -> None:
        self.adj = adj
        self.loads = loads
        self.capacities = capacities
        self.group = group
        self.group_names = group_names
        self.slot_group = slot_group
        self.slot_leader = slot_leader
        self.n_leaders = n_leaders
        self.fixed_owner = fixed_owner
        self.fixed_fallback = fixed_fallback
        self.locked = locked
        self.seed = seed
        self._notes = list(notes)

    # ---------------------------------------------------------------- constructors

    @classmethod
    def _of(cls, inp: ModelInputs, seed: int) -> AutoAssign:
        """Model over prepared inputs."""
        return cls(
            inp.adj,
            inp.loads,
            inp.capacities,
            group=inp.group,
            group_names=inp.group_names,
            slot_group=inp.slot_group,
            slot_leader=inp.slot_leader,
            n_leaders=inp.n_leaders,
            fixed_owner=inp.fixed_owner,
            fixed_fallback=inp.fixed_fallback,
            locked=inp.locked,
            seed=seed,
            notes=inp.notes,
        )

    @classmethod
    def from_graph(
        cls,
        adj: sp.spmatrix | sp.sparray,
        loads: Sequence[float] | FloatArray,
        capacities: Sequence[float] | FloatArray,
        *,
        group: Sequence[Any] | NDArray[Any] | None = None,
        leader_group: Sequence[Any] | NDArray[Any] | None = None,
        seed: int = 0,
        locked: Sequence[int] | IntArray | None = None,
    ) -> AutoAssign:
        """Model over arrays.

        Parameters
        ----------
        adj
            Symmetric adjacency of the pieces (``n × n``).
        loads
            Load per piece (finite, >= 0).
        capacities
            Capacity per leader (finite, > 0).
        group
            Community (any label) per piece; pieces are only ever given to leaders of their own
            group and edges between groups are ignored. ``None``: one group.
        leader_group
            Group label per leader (same labels as ``group``).
        seed
            Seed of the partitioner; the same inputs and seed give the same result.
        locked
            Leader position per piece that must stay with that leader, ``-1`` for free pieces.

        Examples
        --------
        >>> import numpy as np, scipy.sparse as sp
        >>> ring = sp.csr_matrix(np.roll(np.eye(8), 1, axis=1) + np.roll(np.eye(8), -1, axis=1))
        >>> r = AutoAssign.from_graph(ring, np.ones(8), [1.0, 3.0]).solve()
        >>> r.loads.tolist()
        [2.0, 6.0]
        """
        inp = graph_inputs(
            adj, loads, capacities, group=group, leader_group=leader_group, locked=locked
        )
        return cls._of(inp, seed)

    @classmethod
    def from_frames(
        cls,
        pieces: pd.DataFrame,
        leaders: pd.DataFrame,
        key_places: pd.DataFrame | None = None,
        *,
        weights: Mapping[str, float] | str | None = None,
        seed: int = 0,
        units: pd.DataFrame | None = None,
        adjacency: sp.csr_matrix | None = None,
    ) -> AutoAssign:
        """Model over the pieces and leaders frames (contracts in ``docs/architecture.md``).

        Pieces are grouped by community: the ``community``-level ancestor of their ``unit_code``
        when ``units`` is given, else ``unit_code`` itself. Active grid leaders share the
        communities named in their ``unit_packages`` (a package below community level counts for
        its community, one above for all its communities); a leader in several communities gets
        an equal share of their capacity in each. Pieces of a community without grid leaders go
        to the community's active package leader (lowest id when there are several) with
        ``fallback=True``; without one they stay unassigned and are reported.

        Parameters
        ----------
        pieces
            Pieces frame (``cell``, ``unit_code``, ``area_m2``, ``whole``, geometry).
        leaders
            Leaders frame (``id``, ``role``, ``capacity``, ``active``, ``unit_packages``).
        key_places
            Key places (points or polygons), counted into the workload.
        weights
            Workload weights (see :func:`gridmgr.assign.workload.parse_weights`).
        seed
            Partitioner seed.
        units
            Units frame, to map lowest-level units to their communities.
        adjacency
            Precomputed :func:`gridmgr.grid.graph.piece_adjacency` of ``pieces``.
        """
        inp = frame_inputs(
            pieces, leaders, key_places, weights=weights, units=units, adjacency=adjacency
        )
        return cls._of(inp, seed)

    # ---------------------------------------------------------------- solve

    def solve(self) -> AssignResult:
        """Split every group's pieces among its leaders; contiguous and balanced.

        Raises
        ------
        InfeasibleError
            A group has pieces but no leader (use :meth:`from_frames` for the package-leader
            fallback), naming the group.
        """
        check_leaders(self)
        adj = group_graph(self)
        parts = partition_groups(self, adj)
        owner, rounds = finish_partition(self, adj, parts.owner)
        notes = [*self._notes, *parts.notes]
        return summarize(self, adj, owner, split=parts.split, rounds=rounds, notes=notes)


__all__ = ["AssignResult", "AutoAssign"]
