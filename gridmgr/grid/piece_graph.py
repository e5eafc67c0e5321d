"""The piece graph: adjacency of pieces with shared boundary lengths and perimeters.

The single source of truth for "which pieces touch, and along how much boundary":
:func:`piece_graph` decomposes every piece boundary onto the edges of its H3 hexagon and matches
edges by the exact bits of their endpoints (no overlay per pair);
:func:`gridmgr.grid.graph.piece_adjacency` (the 0/1 matrix of the data contract) and
:mod:`gridmgr.coverage.report` (territory perimeters, parts, enclaves) are both built on it.

Rule (``docs/architecture.md``): two pieces are adjacent when they share a boundary of positive
length, i.e. longer than :data:`NOISE_LENGTH_M` (0.01 m, ground metres on the WGS-84 ellipsoid).
Pieces touching at a point, or separated by a sliver gap wider than the 0.1 mm snap-rounding grid
(:data:`~gridmgr.grid.boundaries.SNAP_DEG`), are not adjacent.

:func:`piece_graph` runs in phases: whole hexagons and their edge keys, the pieces cut by a unit
border decomposed onto their cell's edges, edge matching (whole-hexagon pairs and interval
overlaps), pairs inside a cell, pentagon pieces with shapely, then merging and the exposed
boundary. The geometry helpers are in :mod:`gridmgr.grid.boundaries`, the cut pieces in
:mod:`gridmgr.grid.cut_pieces`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray

from gridmgr.grid.boundaries import (
    boundary_pairs,
    cell_strings,
    edge_keys,
    run_pairs,
    same_inner_segments,
    segment_lengths,
    shapely_pairs,
    shared_lengths,
)
from gridmgr.grid.cut_pieces import CutEdges, cut_edges
from gridmgr.grid.lazy import cell_array, fill_geometries, hexagon_rings

#: Boundary lengths below this (m) are noise (corner contacts, rounding of clipped edges); two
#: pieces are adjacent when they share more than this.
NOISE_LENGTH_M = 0.01

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
ObjArray = NDArray[np.object_]
#: Lists of pair arrays ``(i, j, shared length)``: the first entry holds the whole-hexagon pairs
#: (measured lazily), the others measured pairs, in the order they were found.
_Pairs = tuple[list[IntArray], list[IntArray], list[FloatArray]]


@dataclass(frozen=True)
class PieceGraph:
    """Adjacency of pieces with shared boundary lengths.

    ``i < j`` positional pairs sharing a boundary of positive length and ``exposed_m`` per piece:
    the part of its boundary (ground metres) shared with no other piece — it lies on the edge of
    the covered ground. ``shared_m`` (per pair) and ``perimeter_m`` (per piece), in ground metres,
    are computed on first use; :meth:`shared_for` measures only the pairs a caller needs (most
    pairs are two whole hexagons, whose shared edge is measured from its two vertices).
    """

    i: NDArray[np.int64]
    j: NDArray[np.int64]
    exposed_m: NDArray[np.float64]
    n_simple: int = 0
    _simple_rec: NDArray[np.uint64] = field(
        default_factory=lambda: np.empty(0, dtype=np.uint64), repr=False
    )
    _shared_rest: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    _fx: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 7)), repr=False)
    _fy: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 7)), repr=False)
    _fidx: NDArray[np.int64] = field(
        default_factory=lambda: np.empty(0, dtype=np.int64), repr=False
    )
    _perimeter_slow: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)

    def _simple_lengths(self, rec: NDArray[np.uint64]) -> NDArray[np.float64]:
        k, e = rec // np.uint64(6), rec % np.uint64(6)
        return segment_lengths(
            self._fx[k, e],
            self._fy[k, e],
            self._fx[k, e + np.uint64(1)],
            self._fy[k, e + np.uint64(1)],
        )

    def shared_for(self, mask: NDArray[np.bool_] | None = None) -> NDArray[np.float64]:
        """Shared boundary lengths (m) of the pairs in ``mask`` (all pairs when ``None``)."""
        if mask is None:
            return self.shared_m
        out = np.empty(int(mask.sum()), dtype=np.float64)
        ms, mr = mask[: self.n_simple], mask[self.n_simple :]
        n_s = int(ms.sum())
        out[:n_s] = self._simple_lengths(self._simple_rec[ms])
        out[n_s:] = self._shared_rest[mr]
        return out

    @cached_property
    def shared_m(self) -> NDArray[np.float64]:
        """Shared boundary length (m) of every pair."""
        return np.concatenate([self._simple_lengths(self._simple_rec), self._shared_rest])

    @cached_property
    def perimeter_m(self) -> NDArray[np.float64]:
        """Perimeter (m) of every piece, holes included."""
        out = self._perimeter_slow.copy()
        if len(self._fidx):
            fx, fy = self._fx, self._fy
            out[self._fidx] = segment_lengths(fx[:, :6], fy[:, :6], fx[:, 1:], fy[:, 1:]).sum(
                axis=1
            )
        return out

    def csr(self, n: int, mask: NDArray[np.bool_] | None = None) -> sp.csr_matrix:
        i, j = (self.i, self.j) if mask is None else (self.i[mask], self.j[mask])
        data = np.ones(2 * len(i), dtype=np.int8)
        return sp.csr_matrix((data, (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))


@dataclass(frozen=True)
class _WholeHexagons:
    """The pieces that are whole hexagons (7 coordinates, no hole): rings and edge keys.

    Edge record ``r = 6 * k + e`` is edge ``e`` of the ``k``-th whole hexagon.
    """

    fidx: IntArray
    fx: FloatArray
    fy: FloatArray
    key: NDArray[np.uint64]
    sx: FloatArray
    sy: FloatArray

    @property
    def n_rec(self) -> int:
        """Number of edge records (six per hexagon)."""
        return 6 * len(self.fidx)


def piece_graph(pieces: gpd.GeoDataFrame) -> PieceGraph:
    """Adjacency of ``pieces`` with shared boundary lengths, vectorised, no overlay per pair.

    Every piece boundary is decomposed onto the edges of its H3 hexagon: a whole hexagon covers
    its six edges entirely; a piece cut by a unit border covers parts of some edges (parameter
    intervals along the edge) plus border segments inside the cell. Neighbouring cells share their
    edge vertices bit for bit, so an edge keyed by its endpoints is found from both sides; the
    shared length of two pieces across a hexagon edge is the overlap of their intervals. Two
    pieces of the same cell share the border running through it: with two pieces in the cell whose
    segments inside the cell are the same (bit for bit, either orientation), that is the length of
    their boundaries not on hexagon edges. Cells where they differ (units a sliver apart, a cell
    also cut by the jurisdiction's edge), three units meeting in one cell, and pentagons are
    measured with shapely (boundary intersection snap-rounded to :data:`~gridmgr.grid.boundaries.SNAP_DEG`).

    Parameters
    ----------
    pieces
        Pieces frame (EPSG:4326) with ``geometry``, ``cell`` (H3 strings or ``uint64``; needed
        when some piece is not a whole hexagon) and, optionally, ``whole``.

    Returns
    -------
    PieceGraph
        Pairs ``i < j`` (positional) sharing more than :data:`NOISE_LENGTH_M`, exposed boundary
        per piece, shared lengths and perimeters on demand.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from gridmgr.grid.pieces import pieces_from_units
    >>> u = gpd.GeoDataFrame({"code": ["A"], "name": ["a"], "level": ["community"], "parent": [None]},
    ...     geometry=[box(125.30, 43.80, 125.31, 43.81)], crs="EPSG:4326")
    >>> g = piece_graph(pieces_from_units(u, res=10))
    >>> bool(abs(g.exposed_m.sum() - (g.perimeter_m.sum() - 2 * g.shared_m.sum())) < 1e-6)
    True
    """

    geoms = np.asarray(pieces.geometry.values, dtype=object)
    n = len(geoms)
    if n == 0:
        return PieceGraph(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.zeros(0))
    geoms, lazy = _lazy_rings(pieces, geoms)
    fast = _whole_hexagon_mask(pieces, geoms)
    fast[lazy.idx] = True
    slow = np.flatnonzero(~fast)
    wh = _whole_hexagons(geoms, np.flatnonzero(fast), lazy)
    cells = cell_strings(pieces["cell"]) if len(slow) else np.empty(0, dtype=object)
    cut = cut_edges(geoms, slow, cells)
    # ground lengths of the whole hexagons' edges that are not simply shared by two whole
    # hexagons (those are only measured when asked for: most are inside a territory and cancel)
    edge_len = np.full(wh.n_rec, np.nan)
    simple_rec, pairs = _edge_pairs(wh, cut, edge_len)
    _same_cell_pairs(geoms, slow, cells, cut, pairs)
    odd_idx = np.unique(cut.odd)  # pieces of pentagons
    n_sh = 0
    if len(odd_idx):
        oi, oj, ol = shapely_pairs(pieces, geoms, odd_idx, cells, fast)
        _append(pairs, oi, oj, ol)
        n_sh = len(oi)
    pi, pj, pl = pairs
    ri, rj, rest_s = _measured_pairs(pi[1:], pj[1:], pl[1:], odd_idx, n_sh, n)
    exposed = _exposed(n, slow, wh, cut, edge_len, ri, rj, rest_s)
    perimeter_slow = np.zeros(n, dtype=np.float64)
    perimeter_slow[slow] = cut.perimeter[slow]
    si, sj = pi[0], pj[0]
    return PieceGraph(
        np.concatenate([si, ri]),
        np.concatenate([sj, rj]),
        exposed,
        len(si),
        simple_rec,
        rest_s,
        wh.fx,
        wh.fy,
        wh.fidx.astype(np.int64),
        perimeter_slow,
    )


def _append(pairs: _Pairs, i: IntArray, j: IntArray, length: FloatArray) -> None:
    """Add pair arrays to the lists of ``pairs``."""
    pairs[0].append(i)
    pairs[1].append(j)
    pairs[2].append(length)


@dataclass(frozen=True)
class _LazyRings:
    """Whole pieces without geometry (the lazy form) whose hexagon rings came from h3."""

    idx: IntArray
    x: FloatArray
    y: FloatArray


def _lazy_rings(pieces: gpd.GeoDataFrame, geoms: ObjArray) -> tuple[ObjArray, _LazyRings]:
    """Rings of the lazy form's whole pieces straight from h3 (no shapely objects); the few that
    are not plain hexagons (pentagons, distorted cells) get their geometry filled instead."""
    none = np.empty(0, dtype=np.int64)
    empty = _LazyRings(none, np.zeros((0, 7)), np.zeros((0, 7)))
    if "whole" not in pieces:
        return geoms, empty
    missing = np.flatnonzero(shapely.is_missing(geoms) & pieces["whole"].to_numpy(dtype=bool))
    if not len(missing):
        return geoms, empty
    cells = cell_array(pieces["cell"])
    x, y, ok = hexagon_rings(cells[missing])
    odd = missing[~ok]
    if len(odd):
        geoms = geoms.copy()
        geoms[odd] = fill_geometries(cells[odd], geoms[odd], np.ones(len(odd), dtype=bool))
    return geoms, _LazyRings(missing[ok], x, y)


def _whole_hexagon_mask(pieces: gpd.GeoDataFrame, geoms: ObjArray) -> NDArray[np.bool_]:
    """Pieces flagged ``whole`` that are simple hexagons (one 7-coordinate ring, no hole), as a
    Polygon or as a one-part MultiPolygon (the store's form)."""
    n = len(geoms)
    whole = pieces["whole"].to_numpy(dtype=bool) if "whole" in pieces else np.zeros(n, dtype=bool)
    tid = shapely.get_type_id(geoms)
    one_part = (tid == 3) | ((tid == 6) & (shapely.get_num_geometries(geoms) == 1))
    ncoord = shapely.get_num_coordinates(geoms)
    polys = geoms.copy()
    polys[~one_part] = None
    polys[tid == 6] = shapely.get_geometry(polys[tid == 6], 0)
    nint = shapely.get_num_interior_rings(polys)
    return np.asarray(
        whole & one_part & (ncoord == 7) & (np.nan_to_num(nint, nan=1) == 0), dtype=bool
    )


def _whole_hexagons(geoms: ObjArray, fidx: IntArray, lazy: _LazyRings) -> _WholeHexagons:
    """Rings (m, 7) and edge keys of the whole hexagons ``fidx`` (those of ``lazy`` from h3)."""
    m_fast = len(fidx)
    if not m_fast:
        z = np.zeros(0)
        return _WholeHexagons(
            fidx, np.zeros((0, 7)), np.zeros((0, 7)), np.empty(0, np.uint64), z, z
        )
    fx = np.empty((m_fast, 7), dtype=np.float64)
    fy = np.empty((m_fast, 7), dtype=np.float64)
    at_lazy = np.searchsorted(fidx, lazy.idx)
    fx[at_lazy], fy[at_lazy] = lazy.x, lazy.y
    shaped = np.ones(m_fast, dtype=bool)
    shaped[at_lazy] = False
    if shaped.any():
        xy = shapely.get_coordinates(geoms[fidx[shaped]])
        fx[shaped] = xy[:, 0].reshape(-1, 7)
        fy[shaped] = xy[:, 1].reshape(-1, 7)
    k2, s2x, s2y = edge_keys(fx, fy)
    return _WholeHexagons(fidx, fx, fy, k2.ravel(), s2x.ravel(), s2y.ravel())


@dataclass(frozen=True)
class _EdgeGroups:
    """Edge records sorted by key: record numbers and the groups of records of one edge."""

    rec: NDArray[np.uint64]
    starts: IntArray
    gsize: IntArray
    gslow: NDArray[np.bool_]  # the group holds a record of a cut piece


def _edge_groups(wh: _WholeHexagons, cut: CutEdges, n_rec: int) -> _EdgeGroups:
    """Sort the edge records by key, grouping the records of one edge."""
    # sort the keys with the record number packed into their low bits (a plain sort is about
    # twice as fast as an argsort); records of one edge end up next to each other
    bits = max(int(n_rec).bit_length(), 1)
    low = np.uint64((1 << bits) - 1)
    packed = np.concatenate([wh.key, cut.key]) & ~low
    packed |= np.arange(n_rec, dtype=np.uint64)
    packed.sort()
    rec = packed & low  # uint64 record numbers (indexing accepts them as they are)
    # a new edge starts where the key bits above the record number change
    starts = np.flatnonzero(np.r_[True, (packed[1:] ^ packed[:-1]) > low])
    del packed
    gsize = np.diff(np.r_[starts, n_rec])
    gslow = np.zeros(len(starts), dtype=bool)
    gslow[np.searchsorted(starts, np.flatnonzero(rec >= np.uint64(wh.n_rec)), side="right") - 1] = (
        True
    )
    return _EdgeGroups(rec, starts, gsize, gslow)


def _edge_pairs(
    wh: _WholeHexagons, cut: CutEdges, edge_len: FloatArray
) -> tuple[NDArray[np.uint64], _Pairs]:
    """Pairs across hexagon edges: whole-hexagon pairs (first entry), then interval overlaps.

    Fills ``edge_len`` for the whole hexagons' edges not simply shared by two whole hexagons.
    """
    pairs: _Pairs = ([], [], [])
    n_rec = wh.n_rec + len(cut.key)
    if not n_rec:
        e = np.empty(0, dtype=np.int64)
        _append(pairs, e, e, np.zeros(0))  # the (empty) list of whole-hexagon pairs comes first
        return np.empty(0, dtype=np.uint64), pairs
    eg = _edge_groups(wh, cut, n_rec)
    simple_rec = _simple_pairs(wh, eg, edge_len, pairs)
    # edges with a piece cut by a unit border (or a hash collision): interval overlaps
    gs = np.flatnonzero((eg.gslow | (eg.gsize > 2)) & (eg.gsize > 1))
    if len(gs):
        _interval_pairs(wh, cut, eg, gs, edge_len, pairs)
    return simple_rec, pairs


def _simple_pairs(
    wh: _WholeHexagons, eg: _EdgeGroups, edge_len: FloatArray, pairs: _Pairs
) -> NDArray[np.uint64]:
    """Edges shared by exactly two whole hexagons (the common case), measured lazily.

    Confirmed on the exact endpoint sums, which also rules out hash collisions; the other edges
    of whole hexagons are measured into ``edge_len``. Returns the first record of each pair.
    """
    rec, starts = eg.rec, eg.starts
    simple = starts[(eg.gsize == 2) & ~eg.gslow]
    ra, rb = rec[simple], rec[simple + 1]
    ok = wh.sx[ra] == wh.sx[rb]  # with equal keys, equal sx leaves no room for a collision
    ra, rb = ra[ok], rb[ok]
    u, v = wh.fidx[ra // 6], wh.fidx[rb // 6]
    # whole-hexagon pairs are measured lazily (PieceGraph.shared_for)
    _append(pairs, np.minimum(u, v), np.maximum(u, v), np.zeros(0))
    in_simple = np.zeros(wh.n_rec, dtype=bool)
    in_simple[ra] = True
    in_simple[rb] = True
    ns = np.flatnonzero(~in_simple)
    k, e = ns // 6, ns % 6
    fx, fy = wh.fx, wh.fy
    edge_len[ns] = segment_lengths(fx[k, e], fy[k, e], fx[k, e + 1], fy[k, e + 1])
    return np.asarray(ra, dtype=np.uint64)


def _interval_pairs(
    wh: _WholeHexagons,
    cut: CutEdges,
    eg: _EdgeGroups,
    gs: IntArray,
    edge_len: FloatArray,
    pairs: _Pairs,
) -> None:
    """Pairs of pieces whose intervals overlap on the edges of groups ``gs``."""
    n_fast_rec, m_fast = wh.n_rec, len(wh.fidx)
    gsize = eg.gsize
    g_s = np.repeat(gs, gsize[gs])
    first = np.cumsum(gsize[gs]) - gsize[gs]
    r_ = eg.rec[np.repeat(eg.starts[gs] - first, gsize[gs]) + np.arange(len(g_s))].astype(np.int64)
    is_s = r_ >= n_fast_rec
    rs = np.maximum(r_ - n_fast_rec, 0)
    rf = np.minimum(r_, max(n_fast_rec - 1, 0))
    a0 = np.where(is_s, cut.t0[rs] if len(cut.t0) else 0.0, 0.0)
    a1 = np.where(is_s, cut.t1[rs] if len(cut.t1) else 0.0, 1.0)
    p_s = np.where(is_s, cut.piece[rs] if len(cut.piece) else 0, wh.fidx[rf // 6] if m_fast else 0)
    ln = np.where(is_s, cut.length[rs] if len(cut.length) else 0.0, edge_len[rf] if m_fast else 0.0)
    qx = np.where(is_s, cut.sx[rs] if len(cut.sx) else 0.0, wh.sx[rf] if m_fast else 0.0)
    qy = np.where(is_s, cut.sy[rs] if len(cut.sy) else 0.0, wh.sy[rf] if m_fast else 0.0)
    u, v = run_pairs(g_s)
    ov = np.minimum(a1[u], a1[v]) - np.maximum(a0[u], a0[v])
    keep = (ov > 1e-9) & (p_s[u] != p_s[v]) & (qx[u] == qx[v]) & (qy[u] == qy[v])
    _append(
        pairs,
        np.minimum(p_s[u], p_s[v])[keep],
        np.maximum(p_s[u], p_s[v])[keep],
        ov[keep] * ln[u][keep],
    )


def _same_cell_pairs(
    geoms: ObjArray, slow: IntArray, cells: ObjArray, cut: CutEdges, pairs: _Pairs
) -> None:
    """Pieces of the same cell: the border between them.

    Two pieces whose segments inside the cell agree share their boundary off hexagon edges;
    cells where they disagree, or where three units meet, are measured with shapely.
    """
    if not len(slow):
        return
    _, inv, cnt = np.unique(cells[slow], return_inverse=True, return_counts=True)
    nonhex = np.maximum(cut.perimeter - cut.hex_len, 0.0)
    two = cnt[inv] == 2
    o2 = np.argsort(inv[two], kind="stable")
    pairs2 = slow[two][o2].reshape(-1, 2)
    flagged = cnt > 2  # three units meet in the cell
    if len(pairs2):
        na, nb = nonhex[pairs2[:, 0]], nonhex[pairs2[:, 1]]
        agree = np.abs(na - nb) <= 1e-6 * np.maximum(na, nb) + 1e-4
        # equal lengths are not enough (two borders a sliver apart have them too): the inner
        # segments must be the same on both sides, else shapely measures the cell
        agree &= same_inner_segments(pairs2, cut.in_piece, cut.in_sx, cut.in_sy)
        good = agree & (np.minimum(na, nb) > NOISE_LENGTH_M)
        _append(
            pairs,
            np.minimum(pairs2[good, 0], pairs2[good, 1]),
            np.maximum(pairs2[good, 0], pairs2[good, 1]),
            0.5 * (na[good] + nb[good]),
        )
        # both sides disagree: the cell is also cut by the edge of the covered ground
        flagged[inv[two][o2].reshape(-1, 2)[~agree, 0]] = True
    members = np.flatnonzero(flagged[inv])
    if len(members):
        o = np.argsort(inv[members], kind="stable")
        mp, mg = slow[members][o], inv[members][o]
        u, v = run_pairs(mg)
        if len(u):
            a_, b_ = mp[u], mp[v]
            _append(pairs, np.minimum(a_, b_), np.maximum(a_, b_), shared_lengths(geoms, a_, b_))


def _measured_pairs(
    pi: list[IntArray],
    pj: list[IntArray],
    pl: list[FloatArray],
    odd_idx: IntArray,
    n_sh: int,
    n: int,
) -> tuple[IntArray, IntArray, FloatArray]:
    """The measured pairs, merged per pair and longer than :data:`NOISE_LENGTH_M`.

    The last ``n_sh`` pairs were measured with shapely for every pair with a pentagon piece:
    other measurements of those pairs are dropped.
    """
    ri = np.concatenate(pi) if pi else np.empty(0, dtype=np.int64)
    rj = np.concatenate(pj) if pj else np.empty(0, dtype=np.int64)
    rest_s = np.concatenate(pl) if pl else np.zeros(0)
    if n_sh:
        is_odd = np.zeros(n, dtype=bool)
        is_odd[odd_idx] = True
        keep = np.ones(len(ri), dtype=bool)
        keep[: len(ri) - n_sh] = ~(is_odd[ri[: len(ri) - n_sh]] | is_odd[rj[: len(ri) - n_sh]])
        ri, rj, rest_s = ri[keep], rj[keep], rest_s[keep]
    if len(ri):
        # merge duplicates (a multi-part piece may meet a neighbour on two stretches of an edge)
        frame = (
            pd.DataFrame({"i": ri, "j": rj, "s": rest_s}).groupby(["i", "j"], sort=True)["s"].sum()
        )
        ri = frame.index.get_level_values(0).to_numpy(dtype=np.int64)
        rj = frame.index.get_level_values(1).to_numpy(dtype=np.int64)
        rest_s = frame.to_numpy(dtype=np.float64)
        pos = rest_s > NOISE_LENGTH_M
        ri, rj, rest_s = ri[pos], rj[pos], rest_s[pos]
    return ri, rj, rest_s


def _exposed(
    n: int,
    slow: IntArray,
    wh: _WholeHexagons,
    cut: CutEdges,
    edge_len: FloatArray,
    ri: IntArray,
    rj: IntArray,
    rest_s: FloatArray,
) -> FloatArray:
    """Exposed boundary of every piece: the parts shared with no other piece.

    Edges simply shared by two whole hexagons cancel out and need no measuring.
    """
    base = np.zeros(n, dtype=np.float64)
    base[slow] = cut.perimeter[slow]
    if len(wh.fidx):
        nsl = np.flatnonzero(~np.isnan(edge_len))
        np.add.at(base, wh.fidx[nsl // 6], edge_len[nsl])
    tot = np.zeros(n, dtype=np.float64)
    np.add.at(tot, ri, rest_s)
    np.add.at(tot, rj, rest_s)
    exposed = np.maximum(base - tot, 0.0)
    exposed[exposed < NOISE_LENGTH_M] = 0.0
    return exposed


__all__ = ["NOISE_LENGTH_M", "PieceGraph", "boundary_pairs", "piece_graph"]
