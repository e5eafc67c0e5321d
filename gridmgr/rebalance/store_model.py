"""The model over the store: :class:`Rebalance` (``from_store``) and the arrays it reads.

:func:`inputs_from_store` reads them into :class:`StoreInputs` in steps: read the scope, map pieces to communities, check the named leader ids, choose the leaders
taking part and their capacities, drop communities nobody takes part in, resolve the locks, and
build the graph and loads. Re-exported by :mod:`gridmgr.rebalance.model`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from gridmgr.errors import InfeasibleError, InputError
from gridmgr.i18n import t
from gridmgr.rebalance.core import RebalanceCore
from gridmgr.rebalance.results import BoolArray, FloatArray, IntArray
from gridmgr.settings import DEFAULT_TARGET_RATIO


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
        target_ratio: float = DEFAULT_TARGET_RATIO,
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


def split_ids(values: Sequence[str] | str | None) -> list[str]:
    """Ids from a list and/or comma-separated strings (ASCII or full-width commas).

    >>> split_ids(["G01_1, G01_2", "G02_1，G02_2"])
    ['G01_1', 'G01_2', 'G02_1', 'G02_2']
    """
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        out += [x.strip() for x in str(item).replace("，", ",").split(",") if x.strip()]
    return out


@dataclass(frozen=True, eq=False)
class _Communities:
    """Communities of the pieces in scope (sorted codes) and the unit → communities map."""

    to_comm: Callable[[str], list[str]]
    piece_comm: Any
    """Community code per piece (object array)."""
    codes: list[str]
    index: dict[str, int]

    def of_leader(self, leaders: Any, pos: int) -> list[str]:
        """Sorted communities in scope that leader ``pos``'s unit packages reach."""
        packs = leaders["unit_packages"].iloc[pos] or []
        return sorted({c for p in packs for c in self.to_comm(str(p)) if c in self.index})

    def keep(self, kept: BoolArray) -> _Communities:
        """Only the communities flagged in ``kept`` (re-indexed)."""
        codes = [c for i, c in enumerate(self.codes) if kept[i]]
        index = {c: i for i, c in enumerate(codes)}
        return _Communities(self.to_comm, self.piece_comm, codes, index)


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
    from gridmgr.assign.workload import piece_loads
    from gridmgr.grid.graph import piece_adjacency

    units, pieces, leaders, key_places = _read_scope(store, scope)
    comms = _communities(units, pieces)
    add_ids, remove_ids = split_ids(leaders_add), split_ids(leaders_remove)
    _check_leader_ids(leaders, add_ids, remove_ids, capacity)
    part = _participants(leaders, pieces, comms, add_ids, remove_ids, scope)
    ids = [str(leaders["id"].iloc[p]) for p in part]
    pos_of = {lid: i for i, lid in enumerate(ids)}
    caps = _capacities(leaders, part, pos_of, capacity, remove_ids, scope)
    holder = pieces["leader_id"].to_numpy(dtype=object)
    owner = np.array([pos_of.get(h, -1) if h is not None else -1 for h in holder], dtype=np.int64)
    # Communities with no participant stay as they are: drop them from the model.
    keep, comms = _drop_idle_communities(leaders, part, comms)
    pieces = pieces[keep].reset_index(drop=True)
    owner = owner[keep]
    g_all = np.array([comms.index[c] for c in comms.piece_comm[keep]], dtype=np.int64)
    leader_group = np.array(
        [comms.index[comms.of_leader(leaders, p)[0]] for p in part], dtype=np.int64
    )
    locked_leaders, locked_pieces = _locks(lock, pos_of, pieces, scope)
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
        group_codes=[scope] if cross_communities else comms.codes,
        leaders=leaders,
        units=units,
    )


def _read_scope(store: Any, scope: str) -> tuple[Any, Any, Any, Any]:
    """Units, pieces of ``scope`` (which must have some), leaders and key places of ``scope``."""
    units = store.units()
    pieces = store.pieces(scope)  # UnitNotFoundError when the scope is unknown
    if len(pieces) == 0:
        raise InputError(
            t(
                f"范围 {scope}：库中没有地块，请先导入图层（gridmgr load）",
                f"scope {scope}: no pieces in the store; load the layers first (gridmgr load)",
            )
        )
    return units, pieces, store.leaders(), store.key_places(scope)


def _communities(units: Any, pieces: Any) -> _Communities:
    """Community of every piece (the ``community``-level ancestor of its unit)."""
    from gridmgr.assign.inputs import _community_map

    to_comm = _community_map(units)
    comm_of_unit = {u: to_comm(u)[0] for u in pieces["unit_code"].astype(str).unique()}
    piece_comm = pieces["unit_code"].astype(str).map(comm_of_unit).to_numpy(dtype=object)
    codes = sorted(set(piece_comm.tolist()))
    return _Communities(to_comm, piece_comm, codes, {c: i for i, c in enumerate(codes)})


def _check_leader_ids(
    leaders: Any,
    add_ids: list[str],
    remove_ids: list[str],
    capacity: Mapping[str, float] | None,
) -> None:
    """Named leaders exist, none is both added and removed, and added ones are active."""
    from gridmgr.errors import ConflictError, LeaderNotFoundError

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


def _participants(
    leaders: Any,
    pieces: Any,
    comms: _Communities,
    add_ids: list[str],
    remove_ids: list[str],
    scope: str,
) -> list[int]:
    """Leader positions taking part: active grid leaders holding pieces in scope, plus the added
    and the removed ones (who need a unit package in scope)."""
    active = leaders["active"].to_numpy(dtype=bool)
    role = leaders["role"].astype(str).to_numpy()
    holders = set(pieces.loc[~pieces["fallback"].astype(bool), "leader_id"].dropna().astype(str))
    part: list[int] = []
    for pos in range(len(leaders)):
        lid = str(leaders["id"].iloc[pos])
        if not comms.of_leader(leaders, pos):
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
    return part


def _capacities(
    leaders: Any,
    part: list[int],
    pos_of: dict[str, int],
    capacity: Mapping[str, float] | None,
    remove_ids: list[str],
    scope: str,
) -> FloatArray:
    """Capacity per participant: the store's, then the overrides (> 0), then 0 for removed ones."""
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
    return caps


def _drop_idle_communities(
    leaders: Any, part: list[int], comms: _Communities
) -> tuple[BoolArray, _Communities]:
    """Mask of the pieces in communities some participant reaches, and those communities."""
    comm_has = np.zeros(len(comms.codes), dtype=bool)
    for p in part:
        for c in comms.of_leader(leaders, p):
            comm_has[comms.index[c]] = True
    g_all = np.array([comms.index[c] for c in comms.piece_comm], dtype=np.int64)
    return comm_has[g_all], comms.keep(comm_has)


def _locks(
    lock: Sequence[str] | str, pos_of: dict[str, int], pieces: Any, scope: str
) -> tuple[list[int], BoolArray]:
    """Locked participant positions and the mask of locked pieces (``lock``: ids or cells)."""
    locked_leaders: list[int] = []
    locked_pieces = np.zeros(len(pieces), dtype=bool)
    cells = pieces["cell"].astype(str).to_numpy()
    for item in split_ids(lock):
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
    return locked_leaders, locked_pieces
