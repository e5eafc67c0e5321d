"""Initial assignment: contiguous, capacity-balanced leader territories, and grid codes.

Each community's pieces are split among that community's grid leaders so that every leader's
pieces form one connected region (whenever the community's pieces do) and every leader's
workload is proportional to their capacity. Pieces of a community without grid leaders fall to
the community's package leader (属地兜底). The piece graph is in :mod:`gridmgr.grid.graph`, the
partitioner in :mod:`gridmgr.assign.partition`, grid codes in :mod:`gridmgr.assign.grid_codes` (re-exported
here); the algorithm and its measured quality are described in ``docs/assign.md``.

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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gridmgr.assign.grid_codes import grid_codes
from gridmgr.assign.partition import bisection_partition, refine_partition, repair_connectivity
from gridmgr.errors import InfeasibleError, InputError, InvalidFieldError
from gridmgr.grid.graph import (
    FloatArray,
    IntArray,
    connected_parts,
    label_subgraph,
    piece_adjacency,
)
from gridmgr.i18n import t

if TYPE_CHECKING:
    from gridmgr.store import Store

BoolArray = NDArray[np.bool_]

#: Balance the refinement aims for (every part within 1 ± this of its target).
REFINE_TOL = 0.004


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignResult:
    """Outcome of :meth:`AutoAssign.solve`.

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


# --------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------


def _codes(
    values: Sequence[Any] | NDArray[Any] | None, n: int, what: str
) -> tuple[IntArray, NDArray[Any]]:
    if values is None:
        return np.zeros(n, dtype=np.int64), np.array([0], dtype=object)
    arr = np.asarray(values)
    if len(arr) != n:
        raise InputError(f"{what}: {len(arr)} values for {n} rows; give one per row")
    codes, uniques = pd.factorize(pd.Series(arr, dtype=object), sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


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
        a = sp.csr_matrix(adj)
        n = a.shape[0]
        if a.shape != (n, n):
            raise InputError(f"adjacency: shape {a.shape} is not square")
        w = np.asarray(loads, dtype=float)
        caps = np.asarray(capacities, dtype=float)
        if w.shape != (n,):
            raise InputError(f"loads: {w.shape[0] if w.ndim else 0} values for {n} pieces")
        if not np.all(np.isfinite(w)) or (w < 0).any():
            bad = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
            raise InvalidFieldError(
                f"loads: piece {bad} has load {w[bad]!r}; loads must be finite and >= 0"
            )
        if not np.all(np.isfinite(caps)) or (caps <= 0).any():
            bad = int(np.flatnonzero(~np.isfinite(caps) | (caps <= 0))[0])
            raise InvalidFieldError(
                f"capacities: leader {bad} has capacity {caps[bad]!r}; "
                "capacities must be finite and > 0"
            )
        if group is None:
            g = np.zeros(n, dtype=np.int64)
            names = np.array([0], dtype=object)
            lg = np.zeros(len(caps), dtype=np.int64) if leader_group is None else None
        else:
            g, names = _codes(group, n, "group")
            lg = None
        if lg is None:
            if leader_group is None:
                raise InputError(
                    "leader_group: required when group is given (one label per leader)"
                )
            lab = np.asarray(leader_group, dtype=object)
            if len(lab) != len(caps):
                raise InputError(f"leader_group: {len(lab)} labels for {len(caps)} leaders")
            lookup = {v: i for i, v in enumerate(names.tolist())}
            lg = np.array([lookup.get(v, -1) for v in lab.tolist()], dtype=np.int64)
        lock = (
            np.full(n, -1, dtype=np.int64) if locked is None else np.asarray(locked, dtype=np.int64)
        )
        if lock.shape != (n,):
            raise InputError(f"locked: {len(lock)} values for {n} pieces")
        if ((lock >= len(caps)) | (lock < -1)).any():
            raise InputError("locked: values must be leader positions or -1")
        held = lock >= 0
        if (lg[lock[held]] != g[held]).any():
            bad = int(np.flatnonzero(held)[np.flatnonzero(lg[lock[held]] != g[held])[0]])
            raise InputError(
                f"locked: piece {bad} is locked to leader {lock[bad]} of another group"
            )
        return cls(
            a,
            w,
            caps,
            group=g,
            group_names=names,
            slot_group=lg,
            slot_leader=np.arange(len(caps), dtype=np.int64),
            n_leaders=len(caps),
            fixed_owner=np.full(n, -1, dtype=np.int64),
            fixed_fallback=np.zeros(n, dtype=bool),
            locked=lock,
            seed=seed,
        )

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
        from gridmgr.assign.workload import piece_loads

        n = len(pieces)
        for col in ("unit_code",):
            if col not in pieces.columns:
                raise InvalidFieldError(f"pieces: column {col!r} is missing")
        for col in ("id", "role", "capacity", "unit_packages"):
            if col not in leaders.columns:
                raise InvalidFieldError(f"leaders: column {col!r} is missing")
        w = piece_loads(pieces, key_places, weights)
        adj = piece_adjacency(pieces) if adjacency is None else sp.csr_matrix(adjacency)
        to_comm = _community_map(units)
        piece_comm = np.array(
            [to_comm(str(u))[0] for u in pieces["unit_code"].astype(str)], dtype=object
        )

        active = (
            leaders["active"].to_numpy(dtype=bool)
            if "active" in leaders.columns
            else np.ones(len(leaders), bool)
        )
        role = leaders["role"].astype(str).to_numpy()
        comm_set = set(piece_comm.tolist())
        slot_leader: list[int] = []
        slot_comm: list[str] = []
        slot_cap: list[float] = []
        fallback_of: dict[str, int] = {}
        for pos in range(len(leaders)):
            if not active[pos]:
                continue
            packs = leaders["unit_packages"].iloc[pos]
            packs = (
                []
                if packs is None or (isinstance(packs, float) and np.isnan(packs))
                else list(packs)
            )
            comms = sorted({c for p in packs for c in to_comm(str(p))})
            if role[pos] == "grid_leader":
                cap = float(leaders["capacity"].iloc[pos])
                if not np.isfinite(cap) or cap <= 0:
                    lid = leaders["id"].iloc[pos]
                    raise InvalidFieldError(f"leaders: {lid}: capacity {cap!r} must be > 0")
                here = [c for c in comms if c in comm_set]
                for c in here:
                    slot_leader.append(pos)
                    slot_comm.append(c)
                    slot_cap.append(cap / max(len(comms), 1))
            elif role[pos] == "package_leader":
                # Only a package of the community itself makes the community's territorial default.
                for p in packs:
                    c = str(p)
                    if c not in comm_set:
                        continue
                    ids = leaders["id"].astype(str)
                    if c not in fallback_of or ids.iloc[pos] < ids.iloc[fallback_of[c]]:
                        fallback_of[c] = pos

        names = np.array(sorted(comm_set), dtype=object)
        lookup = {c: i for i, c in enumerate(names.tolist())}
        g = (
            np.array([lookup[c] for c in piece_comm.tolist()], dtype=np.int64)
            if n
            else np.zeros(0, np.int64)
        )
        sg = np.array([lookup[c] for c in slot_comm], dtype=np.int64)
        has_slot = np.zeros(len(names), dtype=bool)
        has_slot[sg] = True
        fixed_owner = np.full(n, -1, dtype=np.int64)
        fixed_fb = np.zeros(n, dtype=bool)
        notes: list[str] = []
        for gi in np.flatnonzero(~has_slot):
            c = str(names[gi])
            mask = g == gi
            if c in fallback_of:
                fixed_owner[mask] = fallback_of[c]
                fixed_fb[mask] = True
                lid = leaders["id"].iloc[fallback_of[c]]
                notes.append(
                    t(
                        f"社区 {c} 没有网格长：{int(mask.sum())} 块由包保领导 {lid} 属地兜底",
                        f"community {c} has no grid leader: {int(mask.sum())} pieces fall to "
                        f"its package leader {lid} (fallback)",
                    )
                )
            else:
                notes.append(
                    t(
                        f"社区 {c} 既无网格长也无包保领导：{int(mask.sum())} 块无人负责（盲点）",
                        f"community {c} has neither grid nor package leader: "
                        f"{int(mask.sum())} pieces left unassigned (blind spots)",
                    )
                )
        model = cls(
            adj,
            w,
            np.asarray(slot_cap, dtype=float),
            group=np.where(has_slot[g], g, -1) if n else g,
            group_names=names,
            slot_group=sg,
            slot_leader=np.asarray(slot_leader, dtype=np.int64),
            n_leaders=len(leaders),
            fixed_owner=fixed_owner,
            fixed_fallback=fixed_fb,
            locked=np.full(n, -1, dtype=np.int64),
            seed=seed,
            notes=notes,
        )
        return model

    # ---------------------------------------------------------------- solve

    def solve(self) -> AssignResult:
        """Split every group's pieces among its leaders; contiguous and balanced.

        Raises
        ------
        InfeasibleError
            A group has pieces but no leader (use :meth:`from_frames` for the package-leader
            fallback), naming the group.
        """
        n = self.adj.shape[0]
        k = len(self.capacities)
        g = self.group
        w = self.loads
        caps = self.capacities
        notes = list(self._notes)
        owner = np.full(n, -1, dtype=np.int64)  # slot per piece
        in_model = g >= 0
        slots_of = [np.flatnonzero(self.slot_group == gi) for gi in range(len(self.group_names))]
        empty = [gi for gi in np.unique(g[in_model]) if len(slots_of[gi]) == 0]
        if empty:
            names = ", ".join(str(self.group_names[gi]) for gi in empty[:10])
            msg = (
                f"group(s) {names} have pieces but no leader; give them a leader "
                "(or a package leader for the territorial fallback)"
            )
            raise InfeasibleError(msg)
        adj = label_subgraph(self.adj, np.where(in_model, g, -1))
        _, comp = connected_components(adj, directed=False)
        split: list[Any] = []
        for gi in np.unique(g[in_model]):
            nodes = np.flatnonzero(g == gi)
            slots = slots_of[gi]
            comps, inv = np.unique(comp[nodes], return_inverse=True)
            if len(comps) == 1:
                alloc = [slots]
            else:
                split.append(self.group_names[gi])
                alloc = _allocate(
                    np.asarray(np.bincount(inv, weights=w[nodes]), dtype=np.float64),
                    np.bincount(inv).astype(np.int64),
                    slots,
                    caps,
                )
                notes.append(
                    t(
                        f"{self.group_names[gi]} 的地块分成 {len(comps)} 个互不相连的部分，"
                        "按负荷分配网格长",
                        f"{self.group_names[gi]}: pieces form {len(comps)} separate regions; "
                        "leaders allotted to them by load",
                    )
                )
            orphans = []
            for ci in range(len(comps)):
                idx = nodes[inv == ci]
                part_slots = alloc[ci]
                if len(part_slots) == 0:
                    orphans.append(idx)
                    continue
                sub = adj[idx][:, idx]
                local = bisection_partition(sub, w[idx], caps[part_slots], seed=self.seed)
                owner[idx] = np.where(local >= 0, part_slots[np.maximum(local, 0)], -1)
            for idx in sorted(orphans, key=lambda a: (-w[a].sum(), int(a[0]))):
                cur = np.bincount(owner[owner >= 0], weights=w[owner >= 0], minlength=k)
                best = slots[np.lexsort((slots, cur[slots] / caps[slots]))[0]]
                owner[idx] = best
        lock = self.locked
        if (lock >= 0).any():
            owner[lock >= 0] = lock[lock >= 0]
            owner = repair_connectivity(adj, w, owner, caps, locked=lock >= 0)
        owner, rounds = refine_partition(adj, w, owner, caps, tol=REFINE_TOL, locked=lock >= 0)

        # metrics per slot, then per leader
        assigned = owner >= 0
        slot_load = np.bincount(owner[assigned], weights=w[assigned], minlength=k)
        glo = np.bincount(g[in_model], weights=w[in_model], minlength=len(self.group_names))
        gcap = (
            np.bincount(self.slot_group, weights=caps, minlength=len(self.group_names))
            if k
            else np.zeros(0)
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            slot_ratio = (
                (slot_load / caps) / (glo[self.slot_group] / gcap[self.slot_group])
                if k
                else np.zeros(0)
            )
        max_mean = 1.0
        for gi in np.unique(self.slot_group):
            s = np.flatnonzero(self.slot_group == gi)
            per = slot_load[s] / caps[s]
            if per.mean() > 0:
                max_mean = max(max_mean, float(per.max() / per.mean()))
        disconnected = int((connected_parts(adj, owner, k) > 1).sum()) if k else 0
        idle = int((np.bincount(owner[assigned], minlength=k) == 0).sum()) if k else 0
        if idle:
            notes.append(
                t(
                    f"{idle} 名网格长未分到地块（所在社区地块数少于网格长人数）",
                    f"{idle} leaders got no piece (fewer pieces than leaders in their community)",
                )
            )
        final = np.where(
            assigned, self.slot_leader[np.maximum(owner, 0)] if k else -1, self.fixed_owner
        )
        fb = self.fixed_fallback & ~assigned
        leader_load = np.asarray(
            np.bincount(final[final >= 0], weights=w[final >= 0], minlength=self.n_leaders),
            dtype=np.float64,
        )
        ratios = np.full(self.n_leaders, np.nan)
        if k:
            finite = np.isfinite(slot_ratio)
            np.fmax.at(ratios, self.slot_leader[finite], slot_ratio[finite])
        max_ratio = float(np.nanmax(ratios)) if np.isfinite(ratios).any() else 1.0
        if disconnected:
            notes.append(
                t(
                    f"{disconnected} 个责任区不连通（所在社区地块本身不连通或被锁定）",
                    f"{disconnected} territories are not connected "
                    "(their community's pieces are not, or pieces were locked)",
                )
            )
        return AssignResult(
            owner=final.astype(np.int64),
            fallback=fb,
            loads=leader_load,
            ratios=ratios,
            max_ratio=max_ratio,
            max_mean=max_mean,
            disconnected=disconnected,
            split_groups=tuple(split),
            iterations=rounds,
            notes=tuple(notes),
        )


def _allocate(
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


def _community_map(units: pd.DataFrame | None) -> Any:
    """Function mapping a unit code to the community codes it stands for."""
    if units is None or len(units) == 0:
        return lambda code: [code]
    codes = units["code"].astype(str).tolist()
    level = dict(zip(codes, units["level"].astype(str), strict=True))
    parent = {
        c: (None if p is None or (isinstance(p, float) and np.isnan(p)) else str(p))
        for c, p in zip(codes, units["parent"], strict=True)
    }
    children: dict[str, list[str]] = {}
    for c, p in parent.items():
        if p is not None:
            children.setdefault(p, []).append(c)
    rank = {"district": 0, "street": 1, "community": 2, "grid": 3}
    cache: dict[str, list[str]] = {}

    def up(code: str) -> list[str]:
        if code in cache:
            return cache[code]
        lv = rank.get(level.get(code, "community"), 2)
        if code not in level or lv == 2:
            res = [code]
        elif lv > 2:
            cur: str | None = code
            while cur is not None and rank.get(level.get(cur, ""), 2) > 2:
                cur = parent.get(cur)
            res = [cur if cur is not None else code]
        else:
            stack, res = [code], []
            while stack:
                x = stack.pop()
                kids = children.get(x, [])
                if rank.get(level.get(x, ""), 0) >= 2 or not kids:
                    res.append(x)
                else:
                    stack.extend(kids)
            res = sorted(res)
        cache[code] = res
        return res

    return up


# --------------------------------------------------------------------------------------------
# store workflow
# --------------------------------------------------------------------------------------------


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
    from gridmgr.assign.workload import parse_weights

    t0 = time.perf_counter()
    w = parse_weights(weights)
    pieces = store.pieces(scope)
    leaders = store.leaders()
    key_places = store.key_places(scope)
    units = store.units()
    model = AutoAssign.from_frames(pieces, leaders, key_places, weights=w, seed=seed, units=units)
    res = model.solve()
    lid = leaders["id"].astype(str).to_numpy()
    owner_id = (
        np.where(res.owner >= 0, lid[np.maximum(res.owner, 0)], None)
        if len(lid)
        else np.full(len(pieces), None)
    )
    comm_names = model.group_names
    to_comm = _community_map(units)
    piece_comm = np.array(
        [to_comm(str(u))[0] for u in pieces["unit_code"].astype(str)], dtype=object
    )
    changes = pd.DataFrame(
        {
            "piece_id": pieces["id"].astype("int64").to_numpy(),
            "leader_id": owner_id,
            "expected_version": pieces["version"].astype("int64").to_numpy(),
            "fallback": res.fallback,
        }
    )
    codes = grid_codes(pieces, owner_id, community=piece_comm)
    text = reason or f"auto-assign seed={seed} weights=" + ",".join(
        f"{k}={v:g}" for k, v in w.items()
    )
    with store.transaction() as conn:
        out = store.apply_changes(changes, actor=actor, reason=text, kind="auto", conn=conn)
        store.save_grid_codes(codes, conn=conn)

    # per-community summary
    comm_rows: list[dict[str, Any]] = []
    loads = model.loads
    for c in comm_names.tolist():
        m = piece_comm == c
        owners = res.owner[m]
        held = np.unique(owners[owners >= 0])
        ratios = res.ratios[held] if len(held) else np.zeros(0)
        comm_rows.append(
            {
                "community": c,
                "pieces": int(m.sum()),
                "load": float(loads[m].sum()),
                "leaders": [str(lid[i]) for i in held],
                "fallback": bool(res.fallback[m].any()),
                "unassigned": int((owners < 0).sum()),
                "max_ratio": float(np.nanmax(ratios)) if np.isfinite(ratios).any() else None,
            }
        )
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
        communities=tuple(comm_rows),
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
