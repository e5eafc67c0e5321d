"""Graphs of pieces and cells (scipy CSR) and their connectivity.

Everything here works on plain arrays: a symmetric 0/1 ``scipy.sparse.csr_matrix`` adjacency,
positional over the pieces (or cells). The piece adjacency of the data contract
(:func:`piece_adjacency`) is read off :func:`gridmgr.grid.piece_graph.piece_graph`, the one
implementation of "which pieces share a boundary, and how much"; :mod:`gridmgr.coverage.report` uses the
same graph for its lengths. The contiguous partitioner lives in :mod:`gridmgr.assign.partition`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import breadth_first_order, connected_components

from gridmgr.grid import h3_adapter as _h3
from gridmgr.grid.piece_graph import NOISE_LENGTH_M

if TYPE_CHECKING:
    import pandas as pd

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

#: Shared boundary shorter than this (metres) does not make two pieces adjacent.
MIN_SHARED_BOUNDARY_M = NOISE_LENGTH_M


# --------------------------------------------------------------------------------------------
# adjacency
# --------------------------------------------------------------------------------------------


def _symmetric(i: NDArray[np.integer], j: NDArray[np.integer], n: int) -> sp.csr_matrix:
    """0/1 symmetric CSR from undirected pairs (duplicates and self-loops dropped)."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    keep = i != j
    i, j = i[keep], j[keep]
    data = np.ones(2 * len(i), dtype=np.int8)
    m = sp.csr_matrix((data, (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))
    m.sum_duplicates()
    m.data[:] = 1
    m.sort_indices()
    return m


def cells_adjacency(cells: NDArray[np.uint64]) -> sp.csr_matrix:
    """Adjacency of H3 cells: two cells are adjacent when they are grid neighbours.

    Parameters
    ----------
    cells
        ``uint64`` H3 cells (unique).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n × n`` symmetric 0/1 matrix, positional over ``cells``.

    Examples
    --------
    >>> import h3, numpy as np
    >>> disk = h3.grid_disk("8a2a1072b59ffff", 1)
    >>> c = np.array([h3.str_to_int(x) for x in disk], dtype=np.uint64)
    >>> int(cells_adjacency(c).nnz)  # 6 spokes + 6 ring edges, both directions
    24
    """
    cells = np.asarray(cells, dtype=np.uint64)
    i, j = _h3.neighbour_pairs(cells)
    return _symmetric(i, j, len(cells))


def piece_adjacency(
    pieces: pd.DataFrame, *, min_shared_m: float = MIN_SHARED_BOUNDARY_M
) -> sp.csr_matrix:
    """Adjacency of pieces: two pieces are adjacent when they share a boundary of positive length.

    Read off :func:`gridmgr._piece_graph.piece_graph` (frames with a ``cell`` column, as
    :func:`gridmgr.grid.pieces.pieces_from_units` makes them): whole hexagons are matched by their exactly
    shared edges, pieces cut by a unit border by intervals of hexagon edges and the border inside
    their cell; cells it cannot settle that way are measured with shapely (0.1 mm snap-rounding).
    Pieces touching at a single point, or a sliver gap wider than the snap grid apart, are not
    adjacent. Frames without ``cell`` fall back to an STRtree search over the geometries with the
    same length test.

    Parameters
    ----------
    pieces
        Pieces GeoDataFrame (EPSG:4326, see ``docs/architecture.md``).
    min_shared_m
        Minimum shared boundary length in ground metres; values below
        :data:`MIN_SHARED_BOUNDARY_M` (0.01 m, the noise floor of the piece graph) act as that.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n × n`` symmetric 0/1 matrix, positional over the frame's rows.

    Examples
    --------
    >>> from gridmgr.grid.pieces import pieces_from_units  # doctest: +SKIP
    >>> adj = piece_adjacency(pieces_from_units(units))  # doctest: +SKIP
    """
    from gridmgr.grid.piece_graph import boundary_pairs, piece_graph

    n = len(pieces)
    if n == 0:
        return sp.csr_matrix((0, 0), dtype=np.int8)
    if "cell" not in pieces.columns:
        geoms = np.asarray(pieces.geometry.values, dtype=object)
        i, j, length = boundary_pairs(geoms)
        ok = length > max(min_shared_m, MIN_SHARED_BOUNDARY_M)
        return _symmetric(i[ok], j[ok], n)
    g = piece_graph(pieces)
    if min_shared_m <= MIN_SHARED_BOUNDARY_M:
        return _symmetric(g.i, g.j, n)
    ok = g.shared_m > min_shared_m
    return _symmetric(g.i[ok], g.j[ok], n)


# --------------------------------------------------------------------------------------------
# connectivity
# --------------------------------------------------------------------------------------------


def label_subgraph(adj: sp.csr_matrix, labels: NDArray[np.integer]) -> sp.csr_matrix:
    """The adjacency keeping only edges whose ends carry the same label (labels < 0: no edges)."""
    coo = adj.tocoo()
    labels = np.asarray(labels)
    keep = (labels[coo.row] == labels[coo.col]) & (labels[coo.row] >= 0)
    return sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float64), (coo.row[keep], coo.col[keep])),
        shape=adj.shape,
    )


def connected_parts(
    adj: sp.csr_matrix, labels: NDArray[np.integer], n_labels: int | None = None
) -> IntArray:
    """Number of connected components of each label's induced subgraph.

    One ``connected_components`` call on the graph restricted to same-label edges, then the
    distinct ``(label, component)`` pairs are counted. Negative labels (unassigned) are ignored.

    Parameters
    ----------
    adj
        Symmetric adjacency.
    labels
        Integer label per node.
    n_labels
        Length of the result (default ``max(labels) + 1``).

    Returns
    -------
    numpy.ndarray
        ``counts[label]``: 0 for a label with no node, 1 for a connected territory, more when split.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> path = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]))
    >>> connected_parts(path, np.array([0, 1, 0])).tolist()
    [2, 1]
    """
    labels = np.asarray(labels, dtype=np.int64)
    size = int(n_labels if n_labels is not None else (labels.max() + 1 if len(labels) else 0))
    counts = np.zeros(size, dtype=np.int64)
    valid = labels >= 0
    if not valid.any():
        return counts
    _ncomp, comp = connected_components(label_subgraph(adj, labels), directed=False)
    # A component lies inside one label, so counting distinct components per label suffices.
    first = np.unique(comp[valid], return_index=True)[1]
    np.add.at(counts, labels[valid][first], 1)
    return counts


def _bfs_depth(adj: sp.csr_matrix, source: int) -> tuple[IntArray, IntArray]:
    """BFS order and hop distances from ``source`` (unreached nodes get -1).

    In a BFS order the position of a node's parent never decreases along the order, so level
    ``L + 1`` starts at the first node whose parent sits at or after the start of level ``L``: one
    ``searchsorted`` per level instead of a Python step per node.
    """
    order, pred = breadth_first_order(adj, source, directed=True, return_predecessors=True)
    n = adj.shape[0]
    m = len(order)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(m)
    parent_pos = pos[pred[order[1:]]]  # nondecreasing, for positions 1..m-1
    # nxt[s]: start of the level after the level starting at position s.
    nxt = np.searchsorted(parent_pos, np.arange(m), side="left") + 1
    starts = [0, 1]
    while starts[-1] < m:
        starts.append(min(max(int(nxt[starts[-1]]), starts[-1] + 1), m))
    sizes: IntArray = np.diff(np.asarray(starts, dtype=np.int64)).astype(np.int64)
    depth = np.full(n, -1, dtype=np.int64)
    depth[order] = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    return order.astype(np.int64), depth


__all__ = [
    "MIN_SHARED_BOUNDARY_M",
    "cells_adjacency",
    "connected_parts",
    "label_subgraph",
    "piece_adjacency",
]
