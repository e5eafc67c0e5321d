"""Pieces cut by a unit border, decomposed onto the edges of their cell's hexagon.

A phase of :func:`gridmgr.grid.piece_graph.piece_graph`: every boundary segment of a cut piece
that lies on a hexagon edge becomes an interval record (edge key, parameter interval, edge
length) that the edge matching pairs with the neighbouring cell's records; the segments inside
the cell are kept (endpoint sums) to compare the two pieces of a cell. Pieces of pentagon cells
are set aside for shapely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from gridmgr.grid.boundaries import edge_keys, lines_length, segment_lengths

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
ObjArray = NDArray[np.object_]


@dataclass(frozen=True)
class _CellHexagons:
    """The hexagons of the cells of the cut pieces, with canonical edge directions."""

    hexagon: NDArray[np.bool_]  # per cell: a hexagon (not a pentagon)
    key: NDArray[np.uint64]  # (cells, 6) edge keys
    sx: FloatArray
    sy: FloatArray
    length: FloatArray  # (cells, 6) ground length of each edge
    a: FloatArray  # (cells, 6, 2) start of each edge (its lexicographically smaller end)
    d: FloatArray  # (cells, 6, 2) direction of each edge


@dataclass(frozen=True)
class CutEdges:
    """The pieces cut by a unit border, decomposed onto their cell's hexagon edges.

    Per record (a boundary segment lying on a hexagon edge): the edge key and endpoint sums, the
    piece, the parameter interval ``t0..t1`` along the edge and the edge's ground length. Per
    piece: its perimeter and the part of it on hexagon edges; the segments inside the cell
    (owner, endpoint sums) and the pieces of pentagon cells.
    """

    key: NDArray[np.uint64]
    sx: FloatArray
    sy: FloatArray
    piece: IntArray
    t0: FloatArray
    t1: FloatArray
    length: FloatArray
    perimeter: FloatArray
    hex_len: FloatArray
    in_piece: IntArray
    in_sx: FloatArray
    in_sy: FloatArray
    odd: IntArray


def _cell_hexagons(slow_cells: ObjArray) -> _CellHexagons:
    """Hexagons of ``slow_cells`` (pentagons flagged), edge keys, lengths and directions."""
    from gridmgr.grid import h3_adapter as _h3

    cpoly = _h3.cell_polygons(_h3.str_to_cells(slow_cells))
    hexagon = shapely.get_num_coordinates(cpoly) == 7
    h_idx = np.flatnonzero(hexagon)
    hx = np.zeros((len(slow_cells), 7, 2))
    if len(h_idx):
        hx[h_idx] = shapely.get_coordinates(cpoly[h_idx]).reshape(len(h_idx), 7, 2)
    key, hsx, hsy = edge_keys(hx[..., 0], hx[..., 1])
    elen = segment_lengths(hx[:, :6, 0], hx[:, :6, 1], hx[:, 1:, 0], hx[:, 1:, 1])
    # canonical direction of each edge (from its lexicographically smaller end), so that the
    # interval parameter runs the same way seen from both cells
    p0, p1 = hx[:, :6], hx[:, 1:]
    fwd = (p0[..., 0] < p1[..., 0]) | ((p0[..., 0] == p1[..., 0]) & (p0[..., 1] < p1[..., 1]))
    a = np.where(fwd[..., None], p0, p1)
    d = np.where(fwd[..., None], p1, p0) - a
    return _CellHexagons(np.asarray(hexagon, dtype=bool), key, hsx, hsy, elen, a, d)


def _ring_segments(geoms: ObjArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """Segments of the polygon rings of ``geoms``: owner position, start and end points."""
    parts, pidx = shapely.get_parts(geoms, return_index=True)
    rings, ridx = shapely.get_rings(parts[shapely.get_type_id(parts) == 3], return_index=True)
    owner_local = pidx[shapely.get_type_id(parts) == 3][ridx]
    sxy, sidx = shapely.get_coordinates(rings, return_index=True)
    same = sidx[1:] == sidx[:-1]
    return owner_local[sidx[1:][same]], sxy[:-1][same], sxy[1:][same]


def _on_edges(
    q0: FloatArray, q1: FloatArray, a: FloatArray, d: FloatArray
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Segments ``q0→q1`` lying on one of their cell's edges (start ``a``, direction ``d``).

    Returns the segment and edge positions and the segment's parameter interval on the edge.
    """
    dd = (d**2).sum(-1)
    dd = np.where(dd > 0, dd, 1.0)
    scale = np.sqrt(dd)
    t0 = ((q0[:, None, :] - a) * d).sum(-1) / dd
    t1 = ((q1[:, None, :] - a) * d).sum(-1) / dd
    c0 = (
        np.abs((q0[:, None, 0] - a[..., 0]) * d[..., 1] - (q0[:, None, 1] - a[..., 1]) * d[..., 0])
        / scale
    )
    c1 = (
        np.abs((q1[:, None, 0] - a[..., 0]) * d[..., 1] - (q1[:, None, 1] - a[..., 1]) * d[..., 0])
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
    return seg_i, edge_j, lo_t, hi_t


def cut_edges(geoms: ObjArray, slow: IntArray, cells: ObjArray) -> CutEdges:
    """Decompose the boundaries of the pieces ``slow`` onto their cell's hexagon edges."""
    n = len(geoms)
    perimeter = np.zeros(n, dtype=np.float64)
    hex_len = np.zeros(n, dtype=np.float64)  # length of each slow piece's boundary on hexagon edges
    if not len(slow):
        z, ei = np.zeros(0), np.empty(0, dtype=np.int64)
        return CutEdges(
            np.empty(0, dtype=np.uint64), z, z, ei, z, z, z, perimeter, hex_len, ei, z, z, ei
        )
    perimeter[slow] = lines_length(geoms[slow])
    slow_cells, slow_cell_idx = np.unique(cells[slow], return_inverse=True)
    ch = _cell_hexagons(slow_cells)
    ok_piece = ch.hexagon[slow_cell_idx]
    sp_ = slow[ok_piece]
    sp_cell = slow_cell_idx[ok_piece]
    seg_owner, q0, q1 = _ring_segments(geoms[sp_])
    seg_len = segment_lengths(q0[:, 0], q0[:, 1], q1[:, 0], q1[:, 1])
    c = sp_cell[seg_owner]
    seg_i, edge_j, lo_t, hi_t = _on_edges(q0, q1, ch.a[c], ch.d[c])
    np.add.at(hex_len, sp_[seg_owner[seg_i]], seg_len[seg_i])
    # boundary segments not on a hexagon edge: owner piece and the exact sums of their endpoints'
    # coordinates (the same bits from either side of a segment both pieces share)
    inner = np.ones(len(seg_owner), dtype=bool)
    inner[seg_i] = False
    return CutEdges(
        ch.key[c[seg_i], edge_j],
        ch.sx[c[seg_i], edge_j],
        ch.sy[c[seg_i], edge_j],
        sp_[seg_owner[seg_i]].astype(np.int64),
        lo_t,
        hi_t,
        ch.length[c[seg_i], edge_j],
        perimeter,
        hex_len,
        sp_[seg_owner[inner]].astype(np.int64),
        q0[inner, 0] + q1[inner, 0],
        q0[inner, 1] + q1[inner, 1],
        slow[~ok_piece],
    )


__all__ = ["CutEdges", "cut_edges"]
