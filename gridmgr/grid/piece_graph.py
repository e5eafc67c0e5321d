"""The piece graph: adjacency of pieces with shared boundary lengths and perimeters.

The single source of truth for "which pieces touch, and along how much boundary":
:func:`piece_graph` decomposes every piece boundary onto the edges of its H3 hexagon and matches
edges by the exact bits of their endpoints (no overlay per pair);
:func:`gridmgr.grid.graph.piece_adjacency` (the 0/1 matrix of the data contract) and
:mod:`gridmgr.coverage.report` (territory perimeters, parts, enclaves) are both built on it.

Rule (``docs/architecture.md``): two pieces are adjacent when they share a boundary of positive
length, i.e. longer than :data:`NOISE_LENGTH_M` (0.01 m, ground metres on the WGS-84 ellipsoid).
Pieces touching at a point, or separated by a sliver gap wider than the 0.1 mm snap-rounding grid
(:data:`_SNAP_DEG`), are not adjacent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray

#: Boundary lengths below this (m) are noise (corner contacts, rounding of clipped edges); two
#: pieces are adjacent when they share more than this.
NOISE_LENGTH_M = 0.01
#: Snap-rounding grid (degrees, ≈ 0.1 mm) for shared boundaries of pieces cut by a unit border.
_SNAP_DEG = 1e-9

# WGS-84 ellipsoid, for ground lengths of short segments.
_A = 6378137.0
_E2 = 0.00669437999014


def _str_values(values: pd.Series) -> NDArray[np.object_]:
    """Values as an object array of ``str`` (missing values kept as ``None``), without a copy
    per row when the column already holds strings (the common case at a million pieces)."""
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        arr = values.to_numpy(dtype=object, na_value=None)
        if len(arr) == 0 or isinstance(arr[0], str | type(None)):
            return np.asarray(arr, dtype=object)
    out = values.astype(object).to_numpy()
    mask = pd.isna(values).to_numpy()
    res = np.array([str(v) for v in out], dtype=object) if len(out) else out
    res[mask] = None
    return res


def _cell_strings(values: pd.Series) -> NDArray[np.object_]:
    """H3 cells of a ``cell`` column as strings (the contract's form; ``uint64`` columns converted)."""
    if values.dtype.kind in "iu":
        from gridmgr.grid import h3_adapter as _h3

        return np.asarray(_h3.cells_to_str(values.to_numpy().astype(np.uint64)), dtype=object)
    return _str_values(values)


def _segment_lengths(
    lng1: NDArray[np.float64],
    lat1: NDArray[np.float64],
    lng2: NDArray[np.float64],
    lat2: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Ground lengths (m) of short lon/lat segments on the WGS-84 ellipsoid.

    Local scale at the segment's mid-latitude (meridian and prime-vertical radii): exact to well
    below a millimetre for the tens-of-metres edges of grid pieces.
    """
    phi = np.add(lat1, lat2)
    phi *= math.pi / 360.0
    w2 = np.sin(phi)
    w2 *= w2
    w2 *= -_E2
    w2 += 1.0  # 1 - e² sin²φ
    fx = np.cos(phi)
    w = np.sqrt(w2)
    fx /= w  # cos φ / w: × a gives the prime-vertical radius times cos φ
    w *= w2  # w³: a(1 - e²)/w³ is the meridian radius
    dx = np.subtract(lng2, lng1)
    dx *= fx
    dy = np.subtract(lat2, lat1)
    dy /= w
    dy *= 1.0 - _E2
    out = np.hypot(dx, dy)
    out *= _A * math.pi / 180.0
    return np.asarray(out, dtype=np.float64)


def _lines_length(geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    """Ground length (m) of each geometry's linework (polygon rings or lines), vectorised."""
    n = len(geoms)
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    parts, pidx = shapely.get_parts(geoms, return_index=True)
    tid = shapely.get_type_id(parts)
    poly = tid == 3
    rings_src = parts[poly]
    rings, ridx = shapely.get_rings(rings_src, return_index=True)
    owner_r = pidx[poly][ridx]
    lines = parts[(tid == 1) | (tid == 2)]
    owner_l = pidx[(tid == 1) | (tid == 2)]
    chains = np.concatenate([rings, lines]).astype(object)
    owner = np.concatenate([owner_r, owner_l]).astype(np.int64)
    if len(chains) == 0:
        return out
    xy, cidx = shapely.get_coordinates(chains, return_index=True)
    if len(xy) < 2:
        return out
    same = cidx[1:] == cidx[:-1]
    seg = _segment_lengths(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    np.add.at(out, owner[cidx[1:][same]], seg[same])
    return out


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
        return _segment_lengths(
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
            out[self._fidx] = _segment_lengths(fx[:, :6], fy[:, :6], fx[:, 1:], fy[:, 1:]).sum(
                axis=1
            )
        return out

    def csr(self, n: int, mask: NDArray[np.bool_] | None = None) -> sp.csr_matrix:
        i, j = (self.i, self.j) if mask is None else (self.i[mask], self.j[mask])
        data = np.ones(2 * len(i), dtype=np.int8)
        return sp.csr_matrix((data, (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))


def _edge_keys(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.uint64], NDArray[np.float64], NDArray[np.float64]]:
    """Keys of the edges of closed hexagon rings given as ``x``, ``y`` of shape (m, 7).

    Returns per edge (m, 6) a 64-bit key and the exact sums of its endpoints' coordinates
    ``sx``, ``sy`` (twice the midpoint: the same bits from either side of the edge, whatever the
    orientation). Equal keys are confirmed on ``sx``, ``sy``.
    """
    sx = x[:, :6] + x[:, 1:]
    sy = y[:, :6] + y[:, 1:]
    with np.errstate(over="ignore"):
        # sy mixed by a multiply into the high bits, sx as is: the low bits (where the record
        # number goes when sorting) are not needed to tell edges apart
        key = sy.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        key ^= sx.view(np.uint64)
    return key, sx, sy


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
    measured with shapely (boundary intersection snap-rounded to :data:`_SNAP_DEG`).

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
    from gridmgr.grid import h3_adapter as _h3

    geoms = np.asarray(pieces.geometry.values, dtype=object)
    n = len(geoms)
    empty_i = np.empty(0, dtype=np.int64)
    if n == 0:
        z = np.zeros(0)
        return PieceGraph(empty_i, empty_i, z)
    whole = pieces["whole"].to_numpy(dtype=bool) if "whole" in pieces else np.zeros(n, dtype=bool)
    tid = shapely.get_type_id(geoms)
    ncoord = shapely.get_num_coordinates(geoms)
    polys = geoms.copy()
    polys[tid != 3] = None
    nint = shapely.get_num_interior_rings(polys)
    fast = whole & (tid == 3) & (ncoord == 7) & (np.nan_to_num(nint, nan=1) == 0)
    fidx = np.flatnonzero(fast)
    perimeter = np.zeros(n, dtype=np.float64)
    # edge records: fast pieces' six edges first (record r = 6 * k + e), then the pieces cut by a
    # unit border (their boundary segments lying on their cell's hexagon edges, as intervals)
    m_fast = len(fidx)
    n_fast_rec = 6 * m_fast
    fx = fy = np.zeros((0, 7))
    key_f = np.empty(0, dtype=np.uint64)
    sx_f = sy_f = np.zeros(0)
    if m_fast:
        xy = shapely.get_coordinates(geoms[fidx])
        fx = xy[:, 0].reshape(m_fast, 7)
        fy = xy[:, 1].reshape(m_fast, 7)
        k2, s2x, s2y = _edge_keys(fx, fy)
        key_f, sx_f, sy_f = k2.ravel(), s2x.ravel(), s2y.ravel()
    # ground lengths of the fast edges that are not simply shared by two whole hexagons (those
    # are only measured when asked for: most are inside a territory and cancel out)
    edge_len = np.full(n_fast_rec, np.nan)
    simple_rec = np.empty(0, dtype=np.uint64)
    r_key: list[NDArray[np.uint64]] = []
    r_piece: list[NDArray[np.int64]] = []
    r_t0: list[NDArray[np.float64]] = []
    r_t1: list[NDArray[np.float64]] = []
    r_len: list[NDArray[np.float64]] = []
    r_sx: list[NDArray[np.float64]] = []
    r_sy: list[NDArray[np.float64]] = []
    slow = np.flatnonzero(~fast)
    odd: list[NDArray[np.int64]] = []  # pieces measured with shapely against their candidates
    hex_len = np.zeros(n, dtype=np.float64)  # length of each slow piece's boundary on hexagon edges
    # boundary segments of the slow pieces not on a hexagon edge: owner piece and the exact sums of
    # their endpoints' coordinates (the same bits from either side of a segment both pieces share)
    in_piece = empty_i
    in_sx = in_sy = np.zeros(0)
    cells = _cell_strings(pieces["cell"]) if len(slow) else np.empty(0, dtype=object)
    if len(slow):
        perimeter[slow] = _lines_length(geoms[slow])
        slow_cells, slow_cell_idx = np.unique(cells[slow], return_inverse=True)
        cpoly = _h3.cell_polygons(_h3.str_to_cells(slow_cells))
        hexagon = shapely.get_num_coordinates(cpoly) == 7
        h_idx = np.flatnonzero(hexagon)
        hx = np.zeros((len(slow_cells), 7, 2))
        if len(h_idx):
            hx[h_idx] = shapely.get_coordinates(cpoly[h_idx]).reshape(len(h_idx), 7, 2)
        key, hsx, hsy = _edge_keys(hx[..., 0], hx[..., 1])
        elen = _segment_lengths(hx[:, :6, 0], hx[:, :6, 1], hx[:, 1:, 0], hx[:, 1:, 1])
        # canonical direction of each edge (from its lexicographically smaller end), so that the
        # interval parameter runs the same way seen from both cells
        p0, p1 = hx[:, :6], hx[:, 1:]
        fwd = (p0[..., 0] < p1[..., 0]) | ((p0[..., 0] == p1[..., 0]) & (p0[..., 1] < p1[..., 1]))
        a = np.where(fwd[..., None], p0, p1)
        d = np.where(fwd[..., None], p1, p0) - a
        ok_piece = hexagon[slow_cell_idx]
        odd.append(slow[~ok_piece])
        sp_ = slow[ok_piece]
        sp_cell = slow_cell_idx[ok_piece]
        # boundary segments of the slow pieces
        parts, pidx = shapely.get_parts(geoms[sp_], return_index=True)
        rings, ridx = shapely.get_rings(parts[shapely.get_type_id(parts) == 3], return_index=True)
        owner_local = pidx[shapely.get_type_id(parts) == 3][ridx]
        sxy, sidx = shapely.get_coordinates(rings, return_index=True)
        same = sidx[1:] == sidx[:-1]
        seg_owner = owner_local[sidx[1:][same]]
        q0 = sxy[:-1][same]
        q1 = sxy[1:][same]
        seg_len = _segment_lengths(q0[:, 0], q0[:, 1], q1[:, 0], q1[:, 1])
        c = sp_cell[seg_owner]
        A = a[c]  # (S, 6, 2)
        D = d[c]
        dd = (D**2).sum(-1)
        dd = np.where(dd > 0, dd, 1.0)
        scale = np.sqrt(dd)
        t0 = ((q0[:, None, :] - A) * D).sum(-1) / dd
        t1 = ((q1[:, None, :] - A) * D).sum(-1) / dd
        c0 = (
            np.abs(
                (q0[:, None, 0] - A[..., 0]) * D[..., 1] - (q0[:, None, 1] - A[..., 1]) * D[..., 0]
            )
            / scale
        )
        c1 = (
            np.abs(
                (q1[:, None, 0] - A[..., 0]) * D[..., 1] - (q1[:, None, 1] - A[..., 1]) * D[..., 0]
            )
            / scale
        )
        tol_deg = 1e-10
        eps_t = 1e-9
        on = (
            (c0 < tol_deg)
            & (c1 < tol_deg)
            & (np.minimum(t0, t1) > -eps_t)
            & (np.maximum(t0, t1) < 1 + eps_t)
        )
        seg_i, edge_j = np.nonzero(on)
        # a segment lies on at most one edge (corners: keep the first match)
        seg_i, first = np.unique(seg_i, return_index=True)
        edge_j = edge_j[first]
        lo_t = np.clip(np.minimum(t0[seg_i, edge_j], t1[seg_i, edge_j]), 0.0, 1.0)
        hi_t = np.clip(np.maximum(t0[seg_i, edge_j], t1[seg_i, edge_j]), 0.0, 1.0)
        r_key.append(key[c[seg_i], edge_j])
        r_sx.append(hsx[c[seg_i], edge_j])
        r_sy.append(hsy[c[seg_i], edge_j])
        r_piece.append(sp_[seg_owner[seg_i]].astype(np.int64))
        r_t0.append(lo_t)
        r_t1.append(hi_t)
        r_len.append(elen[c[seg_i], edge_j])
        np.add.at(hex_len, sp_[seg_owner[seg_i]], seg_len[seg_i])
        inner = np.ones(len(seg_owner), dtype=bool)
        inner[seg_i] = False
        in_piece = sp_[seg_owner[inner]].astype(np.int64)
        in_sx = q0[inner, 0] + q1[inner, 0]
        in_sy = q0[inner, 1] + q1[inner, 1]
    key_s = np.concatenate(r_key) if r_key else np.empty(0, dtype=np.uint64)
    sx_s = np.concatenate(r_sx) if r_sx else np.zeros(0)
    sy_s = np.concatenate(r_sy) if r_sy else np.zeros(0)
    piece_s = np.concatenate(r_piece) if r_piece else empty_i
    t0_s = np.concatenate(r_t0) if r_t0 else np.zeros(0)
    t1_s = np.concatenate(r_t1) if r_t1 else np.zeros(0)
    len_s = np.concatenate(r_len) if r_len else np.zeros(0)
    n_rec = n_fast_rec + len(key_s)
    pi: list[NDArray[np.int64]] = []
    pj: list[NDArray[np.int64]] = []
    pl: list[NDArray[np.float64]] = []
    if not n_rec:
        pi.append(empty_i)  # the (empty) list of whole-hexagon pairs comes first
        pj.append(empty_i)
        pl.append(np.zeros(0))
    else:
        # sort the keys with the record number packed into their low bits (a plain sort is about
        # twice as fast as an argsort); records of one edge end up next to each other
        bits = max(int(n_rec).bit_length(), 1)
        low = np.uint64((1 << bits) - 1)
        packed = np.concatenate([key_f, key_s]) & ~low
        packed |= np.arange(n_rec, dtype=np.uint64)
        packed.sort()
        rec = packed & low  # uint64 record numbers (indexing accepts them as they are)
        # a new edge starts where the key bits above the record number change
        starts = np.flatnonzero(np.r_[True, (packed[1:] ^ packed[:-1]) > low])
        del packed
        gsize = np.diff(np.r_[starts, n_rec])
        gslow = np.zeros(len(starts), dtype=bool)
        gslow[
            np.searchsorted(starts, np.flatnonzero(rec >= np.uint64(n_fast_rec)), side="right") - 1
        ] = True
        # the common case: an edge shared by exactly two whole hexagons (confirmed on the exact
        # endpoint sums, which also rules out hash collisions)
        simple = starts[(gsize == 2) & ~gslow]
        ra, rb = rec[simple], rec[simple + 1]
        ok = sx_f[ra] == sx_f[rb]  # with equal keys, equal sx leaves no room for a collision
        ra, rb = ra[ok], rb[ok]
        simple_rec = ra
        u, v = fidx[ra // 6], fidx[rb // 6]
        pi.append(np.minimum(u, v))
        pj.append(np.maximum(u, v))
        pl.append(np.zeros(0))  # whole-hexagon pairs are measured lazily (PieceGraph.shared_for)
        in_simple = np.zeros(n_fast_rec, dtype=bool)
        in_simple[ra] = True
        in_simple[rb] = True
        ns = np.flatnonzero(~in_simple)
        k, e = ns // 6, ns % 6
        edge_len[ns] = _segment_lengths(fx[k, e], fy[k, e], fx[k, e + 1], fy[k, e + 1])
        # edges with a piece cut by a unit border (or a hash collision): interval overlaps
        gs = np.flatnonzero((gslow | (gsize > 2)) & (gsize > 1))
        if len(gs):
            g_s = np.repeat(gs, gsize[gs])
            first = np.cumsum(gsize[gs]) - gsize[gs]
            r_ = rec[np.repeat(starts[gs] - first, gsize[gs]) + np.arange(len(g_s))].astype(
                np.int64
            )
            is_s = r_ >= n_fast_rec
            rs = np.maximum(r_ - n_fast_rec, 0)
            rf = np.minimum(r_, max(n_fast_rec - 1, 0))
            a0 = np.where(is_s, t0_s[rs] if len(t0_s) else 0.0, 0.0)
            a1 = np.where(is_s, t1_s[rs] if len(t1_s) else 0.0, 1.0)
            p_s = np.where(is_s, piece_s[rs] if len(piece_s) else 0, fidx[rf // 6] if m_fast else 0)
            ln = np.where(is_s, len_s[rs] if len(len_s) else 0.0, edge_len[rf] if m_fast else 0.0)
            qx = np.where(is_s, sx_s[rs] if len(sx_s) else 0.0, sx_f[rf] if m_fast else 0.0)
            qy = np.where(is_s, sy_s[rs] if len(sy_s) else 0.0, sy_f[rf] if m_fast else 0.0)
            u, v = _run_pairs(g_s)
            ov = np.minimum(a1[u], a1[v]) - np.maximum(a0[u], a0[v])
            keep = (ov > 1e-9) & (p_s[u] != p_s[v]) & (qx[u] == qx[v]) & (qy[u] == qy[v])
            pi.append(np.minimum(p_s[u], p_s[v])[keep])
            pj.append(np.maximum(p_s[u], p_s[v])[keep])
            pl.append(ov[keep] * ln[u][keep])
    # pieces of the same cell: the border between them
    if len(slow):
        _, inv, cnt = np.unique(cells[slow], return_inverse=True, return_counts=True)
        nonhex = np.maximum(perimeter - hex_len, 0.0)
        two = cnt[inv] == 2
        o2 = np.argsort(inv[two], kind="stable")
        pairs2 = slow[two][o2].reshape(-1, 2)
        flagged = cnt > 2  # three units meet in the cell
        if len(pairs2):
            na, nb = nonhex[pairs2[:, 0]], nonhex[pairs2[:, 1]]
            agree = np.abs(na - nb) <= 1e-6 * np.maximum(na, nb) + 1e-4
            # equal lengths are not enough (two borders a sliver apart have them too): the inner
            # segments must be the same on both sides, else shapely measures the cell
            agree &= _same_inner_segments(pairs2, in_piece, in_sx, in_sy)
            good = agree & (np.minimum(na, nb) > NOISE_LENGTH_M)
            pi.append(np.minimum(pairs2[good, 0], pairs2[good, 1]))
            pj.append(np.maximum(pairs2[good, 0], pairs2[good, 1]))
            pl.append(0.5 * (na[good] + nb[good]))
            # both sides disagree: the cell is also cut by the edge of the covered ground
            flagged[inv[two][o2].reshape(-1, 2)[~agree, 0]] = True
        members = np.flatnonzero(flagged[inv])
        if len(members):
            o = np.argsort(inv[members], kind="stable")
            mp, mg = slow[members][o], inv[members][o]
            u, v = _run_pairs(mg)
            if len(u):
                a_, b_ = mp[u], mp[v]
                length = _shared_lengths(geoms, a_, b_)
                pi.append(np.minimum(a_, b_))
                pj.append(np.maximum(a_, b_))
                pl.append(length)
    odd_idx = np.unique(np.concatenate(odd)) if odd else empty_i  # pieces of pentagons
    n_sh = 0
    if len(odd_idx):
        oi, oj, ol = _shapely_pairs(pieces, geoms, odd_idx, cells, fast)
        pi.append(oi)
        pj.append(oj)
        pl.append(ol)
        n_sh = len(oi)
    # pairs of whole hexagons (first list, unique by construction) and the others (measured)
    si, sj = (pi[0], pj[0]) if pi else (empty_i, empty_i)
    ri = np.concatenate(pi[1:]) if len(pi) > 1 else empty_i
    rj = np.concatenate(pj[1:]) if len(pj) > 1 else empty_i
    rest_s = np.concatenate(pl[1:]) if len(pl) > 1 else np.zeros(0)
    if n_sh:
        # shapely measured every pair with a pentagon piece: drop the other measurements of them
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
    n_simple = len(si)
    i = np.concatenate([si, ri])
    j = np.concatenate([sj, rj])
    # exposed boundary: every boundary part not shared with another piece; edges simply shared
    # by two whole hexagons cancel out and need no measuring
    base = np.zeros(n, dtype=np.float64)
    base[slow] = perimeter[slow]
    if m_fast:
        nsl = np.flatnonzero(~np.isnan(edge_len))
        np.add.at(base, fidx[nsl // 6], edge_len[nsl])
    tot = np.zeros(n, dtype=np.float64)
    np.add.at(tot, ri, rest_s)
    np.add.at(tot, rj, rest_s)
    exposed = np.maximum(base - tot, 0.0)
    exposed[exposed < NOISE_LENGTH_M] = 0.0
    perimeter_slow = np.zeros(n, dtype=np.float64)
    perimeter_slow[slow] = perimeter[slow]
    return PieceGraph(
        i, j, exposed, n_simple, simple_rec, rest_s, fx, fy, fidx.astype(np.int64), perimeter_slow
    )


def _run_pairs(groups: NDArray[np.generic]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """All position pairs ``u < v`` inside runs of equal values of a grouped (sorted) array, by
    offset: one vectorised comparison per offset, as many offsets as the longest run."""
    us: list[NDArray[np.int64]] = [np.empty(0, dtype=np.int64)]
    off = 1
    while off < len(groups):
        m = np.flatnonzero(groups[off:] == groups[:-off])
        if len(m) == 0:
            break
        us.append(m)
        off += 1
    u = np.concatenate(us)
    v = u + np.repeat(np.arange(len(us), dtype=np.int64), [len(x) for x in us])
    return u, v


def _same_inner_segments(
    pairs: NDArray[np.int64],
    piece: NDArray[np.int64],
    sx: NDArray[np.float64],
    sy: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """Per pair ``(a, b)`` of pieces of one cell: do ``a`` and ``b`` have exactly the same segments
    inside the cell (as multisets of endpoint sums, so orientation does not matter)?"""
    n_pairs = len(pairs)
    if n_pairs == 0:
        return np.zeros(0, dtype=bool)
    slot = np.full(int(max(pairs.max(), piece.max() if len(piece) else 0)) + 1, -1, dtype=np.int64)
    slot[pairs[:, 0]] = 2 * np.arange(n_pairs)
    slot[pairs[:, 1]] = 2 * np.arange(n_pairs) + 1
    s = slot[piece]
    sel = s >= 0
    s = s[sel]
    frame = pd.DataFrame(
        {"pair": s // 2, "x": sx[sel], "y": sy[sel], "side": np.where(s % 2 == 0, 1, -1)}
    )
    # every segment must occur as often on one side as on the other
    net = frame.groupby(["pair", "x", "y"], sort=False)["side"].sum()
    bad = np.unique(net.index.get_level_values(0)[net.to_numpy() != 0])
    has = np.zeros(n_pairs, dtype=bool)
    has[frame["pair"].to_numpy()] = True
    out = has.copy()
    out[bad] = False
    return out


def _shapely_pairs(
    pieces: pd.DataFrame,
    geoms: NDArray[np.object_],
    odd_idx: NDArray[np.int64],
    cells: NDArray[np.object_],
    fast: NDArray[np.bool_],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Shared lengths of every pair involving one of ``odd_idx`` (shapely, snap-rounded)."""
    from gridmgr.grid import h3_adapter as _h3

    n = len(geoms)
    all_cells = cells if len(cells) else _cell_strings(pieces["cell"])
    odd_cells = np.unique(all_cells[odd_idx])
    ring = _h3.cells_to_str(_h3.grid_disk(_h3.str_to_cells(odd_cells), 1))
    ring = ring[pd.Index(ring).isin(all_cells)]
    pos = pd.DataFrame({"cell": all_cells, "p": np.arange(n, dtype=np.int64)})
    pos = pos[pos["cell"].isin(ring)]
    cand = pos.merge(pos, on="cell", suffixes=("a", "b"))  # same cell
    ci, cj = _h3.neighbour_pairs(_h3.str_to_cells(ring))
    cp = pd.DataFrame({"ca": ring[ci], "cb": ring[cj]})
    nb = cp.merge(pos.rename(columns={"cell": "ca", "p": "pa"}), on="ca").merge(
        pos.rename(columns={"cell": "cb", "p": "pb"}), on="cb"
    )
    a = np.concatenate([cand["pa"].to_numpy(dtype=np.int64), nb["pa"].to_numpy(dtype=np.int64)])
    b = np.concatenate([cand["pb"].to_numpy(dtype=np.int64), nb["pb"].to_numpy(dtype=np.int64)])
    is_odd = np.zeros(n, dtype=bool)
    is_odd[odd_idx] = True
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = (lo != hi) & (is_odd[lo] | is_odd[hi])
    if not keep.any():
        e = np.empty(0, dtype=np.int64)
        return e, e, np.zeros(0)
    pairs = np.unique(np.column_stack([lo[keep], hi[keep]]), axis=0)
    return pairs[:, 0], pairs[:, 1], _shared_lengths(geoms, pairs[:, 0], pairs[:, 1])


def _shared_lengths(
    geoms: NDArray[np.object_], a: NDArray[np.int64], b: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Ground length (m) of the common boundary of each pair ``(a[k], b[k])`` (shapely, boundaries
    snap-rounded to :data:`_SNAP_DEG`, each piece's boundary built once)."""
    if len(a) == 0:
        return np.zeros(0, dtype=np.float64)
    used, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    bnd = shapely.boundary(geoms[used])
    inter = shapely.intersection(bnd[inv[: len(a)]], bnd[inv[len(a) :]], grid_size=_SNAP_DEG)
    return _lines_length(np.asarray(inter, dtype=object))


def boundary_pairs(
    geoms: NDArray[np.object_],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Pairs ``i < j`` of intersecting geometries and their shared boundary length (ground metres).

    The geometry-only path (pieces without a ``cell`` column): an STRtree ``intersects`` search,
    then :func:`_shared_lengths` over the candidates.
    """
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep].astype(np.int64), j[keep].astype(np.int64)
    return i, j, _shared_lengths(geoms, i, j)


__all__ = ["NOISE_LENGTH_M", "PieceGraph", "boundary_pairs", "piece_graph"]
