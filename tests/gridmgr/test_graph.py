"""Piece/cell adjacency, connectivity counts and the contiguous partitioner of gridmgr.grid.graph."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components, shortest_path
from shapely.geometry import box

from benchmarks._synthetic import synthetic_capacities, synthetic_grid, synthetic_loads
from gridmgr.assign.partition import (
    bisection_partition,
    grow_unassigned,
    refine_partition,
    repair_connectivity,
)
from gridmgr.grid import pieces_from_units
from gridmgr.grid.graph import _bfs_depth, cells_adjacency, connected_parts, piece_adjacency


def _shared_length_m(ga: np.ndarray, gb: np.ndarray) -> np.ndarray:
    """Reference measure, independent of the piece graph: the boundary overlay of each pair
    (snap-rounded to 1e-9°, ≈ 0.1 mm: exact arithmetic misses collinear stretches), its length in
    the equal-area CRS (metres)."""
    import pyproj

    from gridmgr.settings import EQUAL_AREA_CRS

    common = shapely.intersection(shapely.boundary(ga), shapely.boundary(gb), grid_size=1e-9)
    tr = pyproj.Transformer.from_crs("EPSG:4326", EQUAL_AREA_CRS, always_xy=True)
    projected = shapely.transform(
        common, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
    )
    return np.asarray(shapely.length(projected), dtype=np.float64)


def _cells(center: str, k: int) -> np.ndarray:
    return np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(center, k)), dtype=np.uint64)


def test_cells_adjacency_matches_h3_grid_distance() -> None:
    cells = _cells("8a2a1072b59ffff", 3)
    adj = cells_adjacency(cells).toarray()
    strs = [h3.int_to_str(int(c)) for c in cells]
    expect = np.array([[h3.grid_distance(a, b) == 1 for b in strs] for a in strs])
    assert (adj == expect).all()
    assert (adj == adj.T).all()


@pytest.fixture(scope="module")
def border_pieces() -> gpd.GeoDataFrame:
    """Pieces of three units whose borders cut through cells (an L-shaped unit included)."""
    x0, y0 = 125.25, 43.80
    a = box(x0, y0, x0 + 0.0061, y0 + 0.0043)
    b = box(x0 + 0.0061, y0, x0 + 0.0117, y0 + 0.0043)
    c = box(x0, y0 + 0.0043, x0 + 0.0117, y0 + 0.0071)
    units = gpd.GeoDataFrame(
        {
            "code": ["220173", "220173001", "220173001001", "220173001002", "220173001003"],
            "name": ["区", "街道", "社区1", "社区2", "社区3"],
            "level": ["district", "street", "community", "community", "community"],
            "parent": [None, "220173", "220173001", "220173001", "220173001"],
        },
        geometry=[shapely.union_all([a, b, c])] * 2 + [a, b, c],
        crs="EPSG:4326",
    )
    return pieces_from_units(units, res=10)


def _brute_force(pieces: gpd.GeoDataFrame) -> np.ndarray:
    g = np.asarray(pieces.geometry.values)
    n = len(g)
    i, j = np.triu_indices(n, 1)
    ok = _shared_length_m(g[i], g[j]) > 0.01
    m = np.zeros((n, n), dtype=bool)
    m[i[ok], j[ok]] = True
    return m | m.T


def test_piece_adjacency_equals_shared_boundary_rule(border_pieces: gpd.GeoDataFrame) -> None:
    pieces = border_pieces
    assert (~pieces["whole"]).sum() > 10  # the borders really cut cells
    adj = piece_adjacency(pieces)
    assert (adj != adj.T).nnz == 0
    assert (adj.toarray().astype(bool) == _brute_force(pieces)).all()


def test_pieces_of_one_cell_in_two_units_are_adjacent(border_pieces: gpd.GeoDataFrame) -> None:
    adj = piece_adjacency(border_pieces).tocsr()
    dup = border_pieces.groupby("cell").filter(lambda d: len(d) == 2)
    assert len(dup) > 0
    for _, grp in dup.groupby("cell"):
        i, j = grp.index.to_numpy()
        assert adj[i, j] == 1


def _two_units(gap_deg: float) -> gpd.GeoDataFrame:
    """Pieces of two units side by side whose common border runs through cells; with
    ``gap_deg > 0`` the right unit starts that far east of the left one (a sliver gap), with
    ``gap_deg < 0`` they overlap by as much."""
    x0, y0, mid = 125.25, 43.80, 125.2561
    a = box(x0, y0, mid, y0 + 0.004)
    b = box(mid + gap_deg, y0, x0 + 0.0117, y0 + 0.004)
    units = gpd.GeoDataFrame(
        {
            "code": ["220173", "220173001", "220173001001", "220173001002"],
            "name": ["区", "街道", "社区1", "社区2"],
            "level": ["district", "street", "community", "community"],
            "parent": [None, "220173", "220173001", "220173001"],
        },
        geometry=[shapely.union_all([a, b])] * 2 + [a, b],
        crs="EPSG:4326",
    )
    return pieces_from_units(units, res=10)


@pytest.mark.parametrize("gap_deg", [0.0, 1e-6, 1e-5, -1e-6])
def test_sliver_borders_follow_the_shared_boundary_rule(gap_deg: float) -> None:
    """Adjacent iff the boundaries share more than 0.01 m. A 8 cm (1e-6°) gap between two units
    leaves their clipped pieces of one cell apart, although both borders are equally long; an
    overlap as wide makes them share the stretches of hexagon edge inside the overlap."""
    from gridmgr.grid.piece_graph import piece_graph

    pieces = _two_units(gap_deg)
    two = pieces.groupby("cell").filter(lambda d: len(d) == 2)
    assert len(two) > 0
    adj = piece_adjacency(pieces)
    assert (adj.toarray().astype(bool) == _brute_force(pieces)).all()
    g = piece_graph(pieces)
    assert (sp.triu(adj, 1).tocoo().row.tolist(), sp.triu(adj, 1).tocoo().col.tolist()) == (
        g.i[np.lexsort((g.j, g.i))].tolist(),
        g.j[np.lexsort((g.j, g.i))].tolist(),
    )
    pair_adjacent = [bool(adj[i, j]) for i, j in two.groupby("cell").groups.values()]
    assert all(pair_adjacent) if gap_deg <= 0 else not any(pair_adjacent)


def test_piece_adjacency_accepts_integer_cells(border_pieces: gpd.GeoDataFrame) -> None:
    ints = border_pieces.assign(cell=[h3.str_to_int(c) for c in border_pieces["cell"]])
    assert ints["cell"].dtype.kind == "u" or ints["cell"].dtype.kind == "i"
    assert (piece_adjacency(ints) != piece_adjacency(border_pieces)).nnz == 0


def test_piece_adjacency_min_shared_drops_short_contacts(border_pieces: gpd.GeoDataFrame) -> None:
    from gridmgr.grid.piece_graph import piece_graph

    g = piece_graph(border_pieces)
    cut = float(np.median(g.shared_m))
    adj = piece_adjacency(border_pieces, min_shared_m=cut)
    assert adj.nnz == 2 * int((g.shared_m > cut).sum())
    assert 0 < adj.nnz < piece_adjacency(border_pieces).nnz


def test_piece_adjacency_without_cell_column_uses_geometry(border_pieces: gpd.GeoDataFrame) -> None:
    fast = piece_adjacency(border_pieces)
    slow = piece_adjacency(border_pieces.drop(columns=["cell", "whole"]))
    assert (fast != slow).nnz == 0


def test_touching_at_a_corner_is_not_adjacent() -> None:
    frame = gpd.GeoDataFrame(
        geometry=[
            box(125.0, 43.0, 125.001, 43.001),
            box(125.001, 43.001, 125.002, 43.002),
            box(125.001, 43.0, 125.002, 43.001),
        ],
        crs="EPSG:4326",
    )
    adj = piece_adjacency(frame).toarray()
    assert adj[0, 1] == 0 and adj[0, 2] == 1 and adj[1, 2] == 1


def test_connected_parts_counts_components_per_label() -> None:
    cells, adj = synthetic_grid(400, seed=3)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, len(cells))
    labels[:5] = -1
    got = connected_parts(adj, labels, 5)
    for lab in range(5):
        idx = np.flatnonzero(labels == lab)
        expect = connected_components(adj[idx][:, idx], directed=False)[0] if len(idx) else 0
        assert got[lab] == expect


@pytest.mark.parametrize("seed", [0, 7])
def test_bfs_depth_equals_shortest_path(seed: int) -> None:
    _, adj = synthetic_grid(1500, seed=seed)
    _, d = _bfs_depth(adj, seed)
    assert np.array_equal(d, shortest_path(adj, unweighted=True, indices=seed).astype(int))


@pytest.mark.parametrize("seed,k,spread", [(0, 12, 0.0), (1, 25, 0.4), (2, 7, 0.2)])
def test_partition_is_contiguous_and_balanced(seed: int, k: int, spread: float) -> None:
    cells, adj = synthetic_grid(3000, seed=seed)
    w = synthetic_loads(cells, seed=seed)
    caps = synthetic_capacities(k, seed=seed, spread=spread)
    owner = bisection_partition(adj, w, caps, seed=seed)
    owner, _ = refine_partition(adj, w, owner, caps)
    assert (owner >= 0).all()
    assert (connected_parts(adj, owner, k) == 1).all()
    per = np.bincount(owner, weights=w, minlength=k) / caps
    assert per.max() / per.mean() <= 1.02


def test_refinement_keeps_parts_connected_while_fixing_a_bad_start() -> None:
    cells, adj = synthetic_grid(2000, seed=5)
    w = synthetic_loads(cells, seed=5)
    skewed = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    owner = bisection_partition(adj, w, skewed, seed=0)  # parts sized 1:2:…:6
    caps = np.ones(6)
    per0 = np.bincount(owner, weights=w, minlength=6)
    assert per0.max() / per0.mean() > 1.5
    refined, rounds = refine_partition(adj, w, owner, caps, max_rounds=40)
    assert rounds > 1
    assert (connected_parts(adj, refined, 6) == 1).all()
    per = np.bincount(refined, weights=w, minlength=6)
    assert per.max() / per.mean() < per0.max() / per0.mean()
    assert per.max() / per.mean() <= 1.05


def test_repair_regrows_stray_components_into_neighbours() -> None:
    cells, adj = synthetic_grid(800, seed=2)
    w = np.ones(len(cells))
    caps = np.ones(4)
    owner = bisection_partition(adj, w, caps, seed=0)
    broken = owner.copy()
    rng = np.random.default_rng(1)
    broken[rng.choice(len(cells), 30, replace=False)] = 3  # scattered specks of part 3
    assert connected_parts(adj, broken, 4)[3] > 1
    fixed = repair_connectivity(adj, w, broken, caps)
    assert (fixed >= 0).all()
    assert (connected_parts(adj, fixed, 4) == 1).all()


def test_grow_unassigned_leaves_unreachable_nodes_alone() -> None:
    adj = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]]))
    out = grow_unassigned(adj, np.ones(3), np.array([0, -1, -1]), np.ones(1))
    assert out.tolist() == [0, 0, -1]


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=300),
    k=st.integers(min_value=1, max_value=12),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_partition_parts_are_always_connected(n: int, k: int, seed: int) -> None:
    _, adj = synthetic_grid(n, seed=seed)
    w = np.random.default_rng(seed).exponential(1.0, n)
    caps = np.random.default_rng(seed + 1).uniform(0.5, 1.5, k)
    owner = bisection_partition(adj, w, caps, seed=seed)
    owner, _ = refine_partition(adj, w, owner, caps)
    assert (owner >= 0).all()
    counts = connected_parts(adj, owner, k)
    assert (counts <= 1).all()
    assert (counts == 1).sum() == min(k, n)  # every leader gets ground when there is enough
