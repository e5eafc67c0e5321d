"""The prepared arrays of a coverage report: units in scope, leaders, pieces and their statuses.

Phases of :func:`gridmgr.coverage.report.coverage_from_frames` that turn the frames into small
frozen bundles of positional arrays (units by hierarchy position, leaders by row, pieces in scope
by row) which the finding phases then read. Nothing here is public.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridmgr.coverage.checks import (
    _FALLBACK,
    _INACTIVE,
    _OK,
    _UNASSIGNED,
    _at,
    _Hier,
    _hierarchy,
    _leaders_frame,
    _null,
    _packages_frame,
    _PieceKeys,
    _positions,
)
from gridmgr.errors import UnitNotFoundError
from gridmgr.grid.lazy import LazyGeoms

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
ObjArray = NDArray[np.object_]


@dataclass(frozen=True)
class _Scope:
    """The units: hierarchy, which are in scope, their geometries and equal-area areas."""

    h: _Hier
    in_scope: BoolArray
    root_scope: bool
    lowest_in: BoolArray
    unit_geoms: ObjArray
    unit_area: FloatArray

    @property
    def n_units(self) -> int:
        """Number of units (in scope or not)."""
        return len(self.h.codes)


@dataclass(frozen=True)
class _Leaders:
    """The leaders frame and its per-leader arrays, with the packages as rows."""

    L: pd.DataFrame
    lid_index: pd.Index
    active: BoolArray
    is_pkg_role: BoolArray
    capacity: FloatArray
    P: pd.DataFrame

    @property
    def n_lead(self) -> int:
        """Number of leaders."""
        return len(self.L)


@dataclass(frozen=True)
class _Pieces:
    """The pieces in scope (on lowest units in scope) and who holds them."""

    pcs: gpd.GeoDataFrame
    punit: IntArray
    geoms: LazyGeoms
    parea: FloatArray
    pkeys: _PieceKeys
    raw_lid: pd.Series
    no_leader: BoolArray
    holder: IntArray
    unknown_leader: BoolArray
    flag_fb: BoolArray
    active_holder: BoolArray

    @property
    def n(self) -> int:
        """Number of pieces in scope."""
        return len(self.pcs)


@dataclass(frozen=True)
class _UnitPackages:
    """Unit packages (leader, unit) and the active package leaders of each unit."""

    upk_l: IntArray
    upk_u: IntArray
    unit_pkg_leaders: list[list[str]]
    has_pkg: BoolArray


@dataclass(frozen=True)
class _Status:
    """Per piece in scope: its status, the fallback leader and the blind/misplaced/covered masks."""

    status: NDArray[np.int8]
    rescued: BoolArray
    misplaced: BoolArray
    fb_leader: IntArray
    blind: BoolArray
    covered: BoolArray


def _scope_units(units: gpd.GeoDataFrame, scope: str | None) -> _Scope:
    """The unit hierarchy, the units in ``scope`` (all when ``None``) and their areas."""
    from gridmgr.grid.units import area_m2 as _area_m2

    h = _hierarchy(units)
    n_units = len(h.codes)
    if scope is not None:
        if scope not in h.index:
            raise UnitNotFoundError(
                f"coverage --scope {scope!r}: no such unit; give a unit code from the units layer"
            )
        in_scope = np.zeros(n_units, dtype=bool)
        in_scope[h.subtree(int(h.index.get_loc(scope)))] = True
        root_scope = bool(h.parents[int(h.index.get_loc(scope))] < 0)
    else:
        in_scope = np.ones(n_units, dtype=bool)
        root_scope = True
    unit_geoms = np.asarray(units.geometry.values, dtype=object)
    unit_area = np.zeros(n_units, dtype=np.float64)
    unit_area[in_scope] = _area_m2(unit_geoms[in_scope])
    return _Scope(h, in_scope, root_scope, h.lowest & in_scope, unit_geoms, unit_area)


def _leader_arrays(leaders: pd.DataFrame | None, packages: pd.DataFrame | None) -> _Leaders:
    """The normalised leaders frame, its per-leader arrays and the packages rows."""
    L = _leaders_frame(leaders)
    return _Leaders(
        L,
        pd.Index(L["id"]),
        L["active"].to_numpy(dtype=bool),
        L["role"].to_numpy(dtype=object) == "package_leader",
        L["capacity"].to_numpy(dtype=float),
        _packages_frame(L, packages),
    )


def _scope_pieces(
    pieces: gpd.GeoDataFrame, punit_all: IntArray, orphan: BoolArray, sc: _Scope, ld: _Leaders
) -> _Pieces:
    """The pieces on lowest units in scope, their holders and fallback flags."""
    keep = ~orphan
    keep[keep] = sc.lowest_in[punit_all[keep]]
    pcs = pieces if keep.all() else pieces[keep]  # no copy of millions of rows when all are kept
    n = len(pcs)
    raw_lid = (
        pcs["leader_id"]
        if "leader_id" in pcs
        else pd.Series([None] * n, index=pcs.index, dtype=object)
    )
    no_leader = _null(raw_lid)
    holder = _positions(ld.lid_index, raw_lid)
    holder[no_leader] = -1
    flag_fb = (
        pcs["fallback"].fillna(False).to_numpy(dtype=bool)
        if "fallback" in pcs
        else np.zeros(n, dtype=bool)
    )
    active_holder = _at(ld.active, holder, False)
    return _Pieces(
        pcs,
        punit_all[keep],
        LazyGeoms(
            pcs["cell"] if "cell" in pcs else None,
            pcs.geometry.values,
            pcs["whole"].to_numpy(dtype=bool) if "whole" in pcs else np.zeros(n, dtype=bool),
        ),
        pcs["area_m2"].to_numpy(dtype=float),
        _PieceKeys(pcs),
        raw_lid,
        no_leader,
        holder,
        ~no_leader & (holder < 0),
        flag_fb,
        active_holder,
    )


def _unit_packages(sc: _Scope, ld: _Leaders) -> _UnitPackages:
    """Unit packages, and per unit its active package leaders (role ``package_leader``)."""
    upk = ld.P[ld.P["kind"] == "unit"]
    upk_l = np.asarray(ld.lid_index.get_indexer(upk["leader_id"]), dtype=np.int64)
    upk_u = np.asarray(sc.h.index.get_indexer(upk["target"]), dtype=np.int64)
    good = (upk_l >= 0) & (upk_u >= 0)
    upk_l, upk_u = upk_l[good], upk_u[good]
    pkg_ok = _at(ld.is_pkg_role, upk_l, False) & _at(ld.active, upk_l, False)
    unit_pkg_leaders: list[list[str]] = [[] for _ in range(sc.n_units)]
    for li, ui in zip(upk_l[pkg_ok], upk_u[pkg_ok], strict=True):
        unit_pkg_leaders[int(ui)].append(str(ld.L["id"].iat[int(li)]))
    has_pkg = np.array([bool(x) for x in unit_pkg_leaders], dtype=bool)
    return _UnitPackages(upk_l, upk_u, unit_pkg_leaders, has_pkg)


def _allowed_units(sc: _Scope, ld: _Leaders, pk: _UnitPackages) -> BoolArray:
    """Leader × lowest unit: the unit lies in (or is) one of the leader's unit packages (属地)."""
    a_anc, a_low = sc.h.anc_pairs
    allowed = np.zeros((max(ld.n_lead, 1), sc.n_units), dtype=bool)
    if len(pk.upk_l):
        # unit package u → every lowest unit below it
        m = pd.DataFrame({"l": pk.upk_l, "a": pk.upk_u}).merge(
            pd.DataFrame({"a": a_anc, "low": a_low}), on="a"
        )
        allowed[m["l"].to_numpy(dtype=np.int64), m["low"].to_numpy(dtype=np.int64)] = True
    return allowed


def _piece_status(sc: _Scope, ld: _Leaders, pc: _Pieces, pk: _UnitPackages) -> _Status:
    """Status of every piece (ok, unassigned, inactive leader, fallback) and misplaced pieces."""
    n = pc.n
    pcomm = _at(sc.h.community, pc.punit, -1)
    comm_pkg = _at(pk.has_pkg, pcomm, False)
    active_holder = pc.active_holder
    status = np.full(n, _OK, dtype=np.int8)
    status[~active_holder & pc.no_leader] = _UNASSIGNED
    status[~active_holder & ~pc.no_leader] = _INACTIVE
    rescued = ~active_holder & comm_pkg
    status[rescued | (active_holder & pc.flag_fb)] = _FALLBACK
    # 属地: the holder's unit packages must contain the piece's unit or an ancestor
    allowed = _allowed_units(sc, ld, pk)
    misplaced = (
        active_holder & ~allowed[np.maximum(pc.holder, 0), pc.punit]
        if n
        else np.zeros(0, dtype=bool)
    )
    fb_leader = np.full(n, -1, dtype=np.int64)
    fb_leader[active_holder] = pc.holder[active_holder]
    if rescued.any():
        first_pkg = np.full(sc.n_units, -1, dtype=np.int64)
        for ui in range(sc.n_units):
            if pk.unit_pkg_leaders[ui]:
                first_pkg[ui] = int(ld.lid_index.get_loc(min(pk.unit_pkg_leaders[ui])))
        fb_leader[rescued] = first_pkg[pcomm[rescued]]
    blind = (status == _UNASSIGNED) | (status == _INACTIVE)
    return _Status(status, rescued, misplaced, fb_leader, blind, ~blind & ~misplaced)


__all__: list[str] = []
