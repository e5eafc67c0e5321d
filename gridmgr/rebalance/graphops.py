"""Vectorised helpers over the piece graph (CSR neighbours, labelled components).

Internal to the rebalance solver; numpy/scipy only.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gridmgr.rebalance.results import IntArray


def neighbours(indptr: IntArray, indices: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """All (neighbour, position in ``rows``) pairs of ``rows`` in a CSR graph, vectorised."""
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    offs = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(
        total, dtype=np.int64
    )
    return indices[offs], np.repeat(np.arange(rows.size, dtype=np.int64), counts)


def components(n: int, ei: NDArray[np.int32], ej: NDArray[np.int32], label: IntArray) -> IntArray:
    """Connected-component id of every node over the edges ``ei < ej`` (sorted by ``ei``) whose
    ends share a ``label`` >= 0. Builds the CSR directly and runs a weak-components pass."""
    li = label[ei]
    keep = (li == label[ej]) & (li >= 0)
    src = ei[keep]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    g = sp.csr_matrix((np.ones(src.size, dtype=np.int8), ej[keep], indptr), shape=(n, n))
    return np.asarray(connected_components(g, directed=True, connection="weak")[1], dtype=np.int64)


def labels_of_parts(comp: IntArray, label: IntArray) -> IntArray:
    """Label of every connected part that carries a label >= 0 (a part has a single label)."""
    has = label >= 0
    lab = np.full(int(comp.max(initial=-1)) + 1, -1, dtype=np.int64)
    lab[comp[has]] = label[has]
    return lab[lab >= 0]


def unique_keep_order(values: IntArray, scratch: IntArray) -> IntArray:
    """Distinct ``values`` without sorting (``scratch``: an int array as long as the graph)."""
    if values.size < 2:
        return values
    idx = np.arange(values.size)
    scratch[values] = idx
    out: IntArray = values[scratch[values] == idx]
    return out
