"""The piece graph of millions of pieces, built chunk by chunk in bounded memory.

:func:`~gridmgr.grid.piece_graph.piece_graph` holds every piece's edge records at once (≈ 700
bytes a piece at its peak: 12 GB for a province). :func:`piece_graph_by_chunks` builds it for
one chunk of pieces at a time (e.g. the pieces of a few streets) together with a *halo*: every
piece whose cell is the chunk's cell or a neighbour of one. Two pieces can only touch when their
cells are equal or neighbours, and every cell in the sub-graph is complete, so the chunk's pairs
and each chunk piece's exposed boundary are exactly what the whole graph finds. Pairs across two
chunks are kept by the lower chunk only; halo pieces' figures come from their own chunk.

The result is a :class:`~gridmgr.grid.piece_graph.PieceGraph` with every shared length measured
(no lazy whole-hexagon pairs): the same pairs as the whole graph, lengths and exposed boundaries
equal to the last bits of a sum taken in another order.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from gridmgr.grid import h3_adapter as _h3
from gridmgr.grid.lazy import cell_array
from gridmgr.grid.piece_graph import PieceGraph, piece_graph

IntArray = NDArray[np.int64]


def _halo(own: IntArray, cells: _h3.Cells, order: IntArray, sorted_cells: _h3.Cells) -> IntArray:
    """Sorted positions of the pieces in the cells of ``own`` and their neighbours."""
    disk = _h3.grid_disk(np.unique(cells[own]), 1)
    lo = np.searchsorted(sorted_cells, disk, side="left")
    hi = np.searchsorted(sorted_cells, disk, side="right")
    counts = hi - lo
    starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    idx = starts + np.arange(int(counts.sum()))
    return np.unique(order[idx])


def piece_graph_by_chunks(
    pieces: gpd.GeoDataFrame,
    chunk: IntArray,
    *,
    on_chunk: Callable[[int, int], None] | None = None,
) -> PieceGraph:
    """The piece graph of ``pieces`` (any form: full, lazy, store) built per ``chunk`` label.

    ``chunk`` gives each piece's chunk (any integers); ``on_chunk(done, total)`` is called after
    each chunk (progress). Memory: one chunk's sub-graph plus the stitched pairs.
    """
    n = len(pieces)
    cells = cell_array(pieces["cell"])
    order = np.argsort(cells, kind="stable")
    sorted_cells = cells[order]
    labels = np.unique(chunk)
    ii: list[IntArray] = []
    jj: list[IntArray] = []
    ll: list[NDArray[np.float64]] = []
    exposed = np.zeros(n, dtype=np.float64)
    perimeter = np.zeros(n, dtype=np.float64)
    for k, c in enumerate(labels):
        members = _halo(np.flatnonzero(chunk == c), cells, order, sorted_cells)
        g = piece_graph(pieces.iloc[members])
        gi, gj = members[g.i], members[g.j]
        ci, cj = chunk[gi], chunk[gj]
        keep = np.minimum(ci, cj) == c  # inside the chunk, or to a later chunk
        ii.append(gi[keep])
        jj.append(gj[keep])
        ll.append(g.shared_m[keep])
        inside = chunk[members] == c
        exposed[members[inside]] = g.exposed_m[inside]
        perimeter[members[inside]] = g.perimeter_m[inside]
        if on_chunk is not None:
            on_chunk(k + 1, len(labels))
    none = np.empty(0, dtype=np.int64)
    # pair positions as int32 when they fit: half the memory of the graph's largest arrays
    small = np.int32 if n < np.iinfo(np.int32).max else np.int64
    return PieceGraph(
        np.concatenate(ii).astype(small) if ii else none,
        np.concatenate(jj).astype(small) if jj else none,
        exposed,
        0,
        np.empty(0, dtype=np.uint64),
        np.concatenate(ll) if ll else np.zeros(0),
        np.zeros((0, 7)),
        np.zeros((0, 7)),
        none,
        perimeter,
    )


def chunks_by_unit(punit: IntArray, target: int) -> IntArray:
    """Chunk labels grouping whole units (``punit``: each piece's unit) into chunks of about
    ``target`` pieces, in unit order."""
    if len(punit) == 0:
        return np.empty(0, dtype=np.int64)
    n_units = int(punit.max()) + 1
    per_unit = np.bincount(punit, minlength=n_units)
    start = np.cumsum(per_unit) - per_unit
    return np.asarray((start // max(int(target), 1))[punit], dtype=np.int64)


__all__ = ["chunks_by_unit", "piece_graph_by_chunks"]
