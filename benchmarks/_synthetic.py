"""Generated grids for benchmarks and tests (shared by the assignment and rebalance benchmarks).

A synthetic grid is a connected, irregular blob of res-``res`` H3 cells around Changchun: the
cells of a ``grid_disk`` around the High-tech Zone, of which the ``n_pieces`` closest to the
centre under seeded random edge lengths are kept. "Closest under a shortest-path metric" makes the
blob connected by construction (every kept cell's predecessor on its shortest path is closer, so
it is kept too) while the random lengths give it a ragged, realistic outline.

Examples
--------
>>> from benchmarks._synthetic import synthetic_grid, synthetic_loads
>>> cells, adj = synthetic_grid(500, seed=1)
>>> cells.shape, adj.shape
((500,), (500, 500))
>>> loads = synthetic_loads(cells, seed=1)
"""

from __future__ import annotations

import h3
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components, dijkstra

from gridmgr.grid import h3_adapter as _h3
from gridmgr.grid.graph import cells_adjacency

#: Centre of the generated grids: Changchun High-tech Zone (lng, lat).
CHANGCHUN_LNGLAT = (125.27, 43.83)


def synthetic_grid(
    n_pieces: int, *, seed: int, res: int = 10, center: tuple[float, float] = CHANGCHUN_LNGLAT
) -> tuple[NDArray[np.uint64], sp.csr_matrix]:
    """A connected irregular set of ``n_pieces`` H3 cells and its adjacency.

    Parameters
    ----------
    n_pieces
        Number of cells to return (> 0).
    seed
        Seed of the random edge lengths that shape the outline; same seed, same grid.
    res
        H3 resolution (10 ≈ 15,000 m² per cell).
    center
        (lng, lat) of the blob's centre.

    Returns
    -------
    cells
        ``uint64`` cells sorted ascending.
    adj
        Symmetric 0/1 CSR adjacency, positional over ``cells``.
    """
    if n_pieces <= 0:
        raise ValueError(f"n_pieces={n_pieces}: must be positive")
    # Disk of about twice the cells needed, so the random metric can carve a ragged outline.
    k = int(np.ceil((-3 + np.sqrt(9 + 12 * (2 * n_pieces - 1))) / 6)) + 2
    origin = int(_h3.latlng_to_cell(center[0], center[1], res=res)[0])
    disk = np.unique(
        np.array(
            [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(origin), k)], dtype=np.uint64
        )
    )
    adj = cells_adjacency(disk)
    rng = np.random.default_rng(seed)
    upper = sp.triu(adj, k=1).tocoo()
    # Heavy-tailed lengths make lobes and inlets rather than a near-perfect hexagon.
    lengths = rng.lognormal(mean=0.0, sigma=1.0, size=upper.nnz)
    weighted = sp.coo_matrix((lengths, (upper.row, upper.col)), shape=adj.shape).tocsr()
    weighted = weighted + weighted.T
    start = int(np.searchsorted(disk, np.uint64(origin)))
    dist = dijkstra(weighted, directed=False, indices=start)
    keep = np.sort(np.argsort(dist, kind="stable")[:n_pieces])
    cells = disk[keep]
    sub = adj[keep][:, keep].tocsr()
    assert connected_components(sub, directed=False)[0] == 1
    return cells, sub


def synthetic_loads(
    cells: NDArray[np.uint64],
    *,
    seed: int,
    key_place_rate: float = 0.05,
    key_place_weight: float = 5.0,
    area_weight: float = 1.0,
) -> NDArray[np.float64]:
    """Workload per cell as ``gridmgr.assign.workload`` defines it: hectares plus weighted key places.

    Key places are Poisson with mean ``key_place_rate`` per cell, clustered: the rate is scaled by
    a seeded smooth-ish factor (0.2–3×) so some districts are much busier than others.
    """
    rng = np.random.default_rng(seed)
    area_ha = _area_ha(cells)
    lng, lat = _h3.cell_centers(cells)
    # A few random "hot spots" raise the key-place rate near them.
    n_hot = 5
    hx = rng.uniform(lng.min(), lng.max(), n_hot) if len(cells) else np.empty(0)
    hy = rng.uniform(lat.min(), lat.max(), n_hot) if len(cells) else np.empty(0)
    scale = 0.01 + 0.05 * np.sqrt(len(cells) / 10_000.0)
    d2 = (lng[:, None] - hx[None, :]) ** 2 + (lat[:, None] - hy[None, :]) ** 2
    factor = 0.2 + 2.8 * np.exp(-d2 / (2 * scale**2)).max(axis=1)
    kp = rng.poisson(key_place_rate * factor)
    return np.asarray(area_weight * area_ha + key_place_weight * kp, dtype=np.float64)


def _area_ha(cells: NDArray[np.uint64]) -> NDArray[np.float64]:
    import h3ronpy

    return (
        np.asarray(h3ronpy.cells_area_m2(np.asarray(cells, dtype=np.uint64)), dtype=np.float64)
        / 10_000.0
    )


def synthetic_capacities(n_leaders: int, *, seed: int, spread: float = 0.0) -> NDArray[np.float64]:
    """Leader capacities: all 1.0 when ``spread`` is 0, else uniform in [1-spread, 1+spread]."""
    if not 0 <= spread < 1:
        raise ValueError(f"spread={spread}: must be in [0, 1)")
    rng = np.random.default_rng(seed)
    return np.asarray(
        rng.uniform(1 - spread, 1 + spread, n_leaders) if spread else np.ones(n_leaders)
    )


def synthetic_communities(adj: sp.csr_matrix, n_groups: int, *, seed: int) -> NDArray[np.int64]:
    """Split a connected graph into ``n_groups`` connected "communities" (multi-source BFS).

    Seeds are drawn at random; every node joins the seed closest in hops (ties to the lower seed
    index), so each group is connected. Used to test that assignment never crosses communities.
    """
    n = adj.shape[0]
    rng = np.random.default_rng(seed)
    seeds = rng.choice(n, size=n_groups, replace=False)
    hops = sp.csgraph.shortest_path(adj, method="D", unweighted=True, indices=seeds)
    return np.asarray(np.argmin(hops, axis=0), dtype=np.int64)
