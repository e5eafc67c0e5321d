"""Piece and cell adjacency graphs (scipy CSR) and their connectivity."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from gridmgr import _h3


def _symmetric(i: NDArray[np.int64], j: NDArray[np.int64], n: int) -> sp.csr_matrix:
    data = np.ones(2 * len(i), dtype=np.int8)
    m = sp.csr_matrix((data, (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))
    m.sum_duplicates()
    m.data[:] = 1
    return m


def cells_adjacency(cells: NDArray[np.uint64]) -> sp.csr_matrix:
    """Adjacency of H3 cells: two cells are adjacent when they are grid neighbours.

    Examples
    --------
    >>> import h3, numpy as np
    >>> c = np.array([h3.str_to_int(x) for x in h3.grid_disk("8a2a1072b59ffff", 1)], dtype=np.uint64)
    >>> int(cells_adjacency(c).nnz)  # centre–ring 6 edges, ring 6 edges, both directions
    24
    """
    cells = np.asarray(cells, dtype=np.uint64)
    i, j = _h3.neighbour_pairs(cells)
    return _symmetric(i, j, len(cells))
