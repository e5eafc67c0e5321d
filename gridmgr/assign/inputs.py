"""Inputs of the assignment model: checked arrays, and the frames -> arrays preparation.

:func:`graph_inputs` checks plain arrays (what :meth:`AutoAssign.from_graph
<gridmgr.assign.model.AutoAssign.from_graph>` takes); :func:`frame_inputs` turns the pieces and
leaders frames into the same arrays: piece loads, communities, one capacity *slot* per grid leader
and community, and the package leaders' territorial default (属地兜底) for communities without
grid leaders. Both return a :class:`ModelInputs`.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> inp = graph_inputs(sp.eye(3, format="csr"), [1, 2, 3], [1.0], group=["a", "b", "a"],
...                    leader_group=["a"])
>>> inp.group.tolist(), inp.group_names.tolist(), inp.slot_group.tolist()
([0, 1, 0], ['a', 'b'], [0])
>>> to_comm = _community_map(None)
>>> to_comm("220173001001")
['220173001001']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from gridmgr.assign.workload import piece_loads
from gridmgr.errors import InputError, InvalidFieldError
from gridmgr.grid.graph import FloatArray, IntArray, piece_adjacency
from gridmgr.i18n import t

BoolArray = NDArray[np.bool_]

#: Function mapping a unit code to the community codes it stands for.
CommunityMap = Callable[[str], list[str]]


@dataclass(frozen=True)
class ModelInputs:
    """Checked arrays the model is built from (see :class:`~gridmgr.assign.model.AutoAssign`).

    Leaders take part through *slots*: one per (leader, group) they work in, with that share of
    their capacity. ``fixed_owner``/``fixed_fallback`` hold the territorial default of pieces
    outside every slot's group (``group == -1``).
    """

    adj: sp.csr_matrix
    loads: FloatArray
    capacities: FloatArray
    group: IntArray
    group_names: NDArray[Any]
    slot_group: IntArray
    slot_leader: IntArray
    n_leaders: int
    fixed_owner: IntArray
    fixed_fallback: BoolArray
    locked: IntArray
    notes: tuple[str, ...] = field(default_factory=tuple)


class Problem(Protocol):
    """What the solve steps (:mod:`gridmgr.assign.solve`, :mod:`gridmgr.assign.result`) read of a
    model: the :class:`ModelInputs` fields and the partitioner seed. :class:`AutoAssign
    <gridmgr.assign.model.AutoAssign>` is one."""

    adj: sp.csr_matrix
    loads: FloatArray
    capacities: FloatArray
    group: IntArray
    group_names: NDArray[Any]
    slot_group: IntArray
    slot_leader: IntArray
    n_leaders: int
    fixed_owner: IntArray
    fixed_fallback: BoolArray
    locked: IntArray
    seed: int


# --------------------------------------------------------------------------------------------
# arrays (from_graph)
# --------------------------------------------------------------------------------------------


def _codes(
    values: Sequence[Any] | NDArray[Any] | None, n: int, what: str
) -> tuple[IntArray, NDArray[Any]]:
    """Integer codes (sorted labels) of one label per row, and the labels."""
    if values is None:
        return np.zeros(n, dtype=np.int64), np.array([0], dtype=object)
    arr = np.asarray(values)
    if len(arr) != n:
        raise InputError(f"{what}: {len(arr)} values for {n} rows; give one per row")
    codes, uniques = pd.factorize(pd.Series(arr, dtype=object), sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _checked_arrays(
    adj: sp.spmatrix | sp.sparray,
    loads: Sequence[float] | FloatArray,
    capacities: Sequence[float] | FloatArray,
) -> tuple[sp.csr_matrix, FloatArray, FloatArray]:
    """Square adjacency, finite loads >= 0 and finite capacities > 0, or an error naming the bad one."""
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
    return a, w, caps


def _group_codes(
    group: Sequence[Any] | NDArray[Any] | None,
    leader_group: Sequence[Any] | NDArray[Any] | None,
    n: int,
    n_leaders: int,
) -> tuple[IntArray, NDArray[Any], IntArray]:
    """Group code per piece, group labels, and group code per leader (``-1``: unknown label)."""
    if group is None:
        g = np.zeros(n, dtype=np.int64)
        names = np.array([0], dtype=object)
        if leader_group is None:
            return g, names, np.zeros(n_leaders, dtype=np.int64)
    else:
        g, names = _codes(group, n, "group")
        if leader_group is None:
            raise InputError("leader_group: required when group is given (one label per leader)")
    lab = np.asarray(leader_group, dtype=object)
    if len(lab) != n_leaders:
        raise InputError(f"leader_group: {len(lab)} labels for {n_leaders} leaders")
    lookup = {v: i for i, v in enumerate(names.tolist())}
    lg = np.array([lookup.get(v, -1) for v in lab.tolist()], dtype=np.int64)
    return g, names, lg


def _checked_locks(locked: Sequence[int] | IntArray | None, g: IntArray, lg: IntArray) -> IntArray:
    """Leader position per piece that must stay put (``-1``: free), each in the piece's group."""
    n = len(g)
    lock = np.full(n, -1, dtype=np.int64) if locked is None else np.asarray(locked, dtype=np.int64)
    if lock.shape != (n,):
        raise InputError(f"locked: {len(lock)} values for {n} pieces")
    if ((lock >= len(lg)) | (lock < -1)).any():
        raise InputError("locked: values must be leader positions or -1")
    held = lock >= 0
    if (lg[lock[held]] != g[held]).any():
        bad = int(np.flatnonzero(held)[np.flatnonzero(lg[lock[held]] != g[held])[0]])
        raise InputError(f"locked: piece {bad} is locked to leader {lock[bad]} of another group")
    return lock


def graph_inputs(
    adj: sp.spmatrix | sp.sparray,
    loads: Sequence[float] | FloatArray,
    capacities: Sequence[float] | FloatArray,
    *,
    group: Sequence[Any] | NDArray[Any] | None = None,
    leader_group: Sequence[Any] | NDArray[Any] | None = None,
    locked: Sequence[int] | IntArray | None = None,
) -> ModelInputs:
    """Checked model inputs over arrays: one slot per leader, no territorial default."""
    a, w, caps = _checked_arrays(adj, loads, capacities)
    n = a.shape[0]
    g, names, lg = _group_codes(group, leader_group, n, len(caps))
    lock = _checked_locks(locked, g, lg)
    return ModelInputs(
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
    )


# --------------------------------------------------------------------------------------------
# frames (from_frames)
# --------------------------------------------------------------------------------------------


def _community_map(units: pd.DataFrame | None) -> CommunityMap:
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


def piece_communities(pieces: pd.DataFrame, to_comm: CommunityMap) -> NDArray[Any]:
    """Community code per piece (the first community its ``unit_code`` stands for)."""
    return np.array([to_comm(str(u))[0] for u in pieces["unit_code"].astype(str)], dtype=object)


def _require_columns(pieces: pd.DataFrame, leaders: pd.DataFrame) -> None:
    """Refuse frames missing a column the model reads."""
    for col in ("unit_code",):
        if col not in pieces.columns:
            raise InvalidFieldError(f"pieces: column {col!r} is missing")
    for col in ("id", "role", "capacity", "unit_packages"):
        if col not in leaders.columns:
            raise InvalidFieldError(f"leaders: column {col!r} is missing")


def _packages(value: Any) -> list[Any]:
    """A leader's ``unit_packages`` cell as a list (missing: empty)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return list(value)


@dataclass(frozen=True)
class _LeaderSlots:
    """Grid leaders' slots (leader position, community, capacity share) and package leaders."""

    leader: list[int]
    community: list[str]
    capacity: list[float]
    fallback_of: dict[str, int]


def _leader_slots(leaders: pd.DataFrame, to_comm: CommunityMap, comm_set: set[str]) -> _LeaderSlots:
    """Slots of the active grid leaders in the communities with pieces; the package leaders.

    A grid leader in several communities gets an equal share of capacity in each; a community's
    package leader (lowest id when several) is only one holding a package of the community itself.
    """
    active = (
        leaders["active"].to_numpy(dtype=bool)
        if "active" in leaders.columns
        else np.ones(len(leaders), bool)
    )
    role = leaders["role"].astype(str).to_numpy()
    slots = _LeaderSlots([], [], [], {})
    for pos in range(len(leaders)):
        if not active[pos]:
            continue
        packs = _packages(leaders["unit_packages"].iloc[pos])
        if role[pos] == "grid_leader":
            cap = float(leaders["capacity"].iloc[pos])
            if not np.isfinite(cap) or cap <= 0:
                lid = leaders["id"].iloc[pos]
                raise InvalidFieldError(f"leaders: {lid}: capacity {cap!r} must be > 0")
            comms = sorted({c for p in packs for c in to_comm(str(p))})
            for c in (c for c in comms if c in comm_set):
                slots.leader.append(pos)
                slots.community.append(c)
                slots.capacity.append(cap / max(len(comms), 1))
        elif role[pos] == "package_leader":
            ids = leaders["id"].astype(str)
            for c in (str(p) for p in packs):
                if c in comm_set and (
                    c not in slots.fallback_of or ids.iloc[pos] < ids.iloc[slots.fallback_of[c]]
                ):
                    slots.fallback_of[c] = pos
    return slots


def _territorial_default(
    leaders: pd.DataFrame,
    g: IntArray,
    names: NDArray[Any],
    has_slot: BoolArray,
    fallback_of: dict[str, int],
) -> tuple[IntArray, BoolArray, list[str]]:
    """Pieces of communities without grid leader go to the package leader, else stay blind spots.

    Returns the fixed owner and fallback flag per piece and a note per such community.
    """
    n = len(g)
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
    return fixed_owner, fixed_fb, notes


def frame_inputs(
    pieces: pd.DataFrame,
    leaders: pd.DataFrame,
    key_places: pd.DataFrame | None = None,
    *,
    weights: Mapping[str, float] | str | None = None,
    units: pd.DataFrame | None = None,
    adjacency: sp.csr_matrix | None = None,
) -> ModelInputs:
    """Model inputs over the pieces and leaders frames (rules in :meth:`AutoAssign.from_frames
    <gridmgr.assign.model.AutoAssign.from_frames>`)."""
    n = len(pieces)
    _require_columns(pieces, leaders)
    w = piece_loads(pieces, key_places, weights)
    adj = piece_adjacency(pieces) if adjacency is None else sp.csr_matrix(adjacency)
    to_comm = _community_map(units)
    piece_comm = piece_communities(pieces, to_comm)
    comm_set = set(piece_comm.tolist())
    slots = _leader_slots(leaders, to_comm, comm_set)

    names = np.array(sorted(comm_set), dtype=object)
    lookup = {c: i for i, c in enumerate(names.tolist())}
    g = (
        np.array([lookup[c] for c in piece_comm.tolist()], dtype=np.int64)
        if n
        else np.zeros(0, np.int64)
    )
    sg = np.array([lookup[c] for c in slots.community], dtype=np.int64)
    has_slot = np.zeros(len(names), dtype=bool)
    has_slot[sg] = True
    fixed_owner, fixed_fb, notes = _territorial_default(
        leaders, g, names, has_slot, slots.fallback_of
    )
    return ModelInputs(
        adj,
        w,
        np.asarray(slots.capacity, dtype=float),
        group=np.where(has_slot[g], g, -1) if n else g,
        group_names=names,
        slot_group=sg,
        slot_leader=np.asarray(slots.leader, dtype=np.int64),
        n_leaders=len(leaders),
        fixed_owner=fixed_owner,
        fixed_fallback=fixed_fb,
        locked=np.full(n, -1, dtype=np.int64),
        notes=tuple(notes),
    )
