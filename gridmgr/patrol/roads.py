"""The walking graph of a road layer and shortest paths over it (:mod:`scipy.sparse.csgraph`).

:func:`road_graph` nodes, densifies and snaps road lines in a local metric CRS into a
:class:`RoadGraph`; ``_road_costs`` and ``_road_paths`` give the road distances between stops and
the vertex paths of the legs :func:`gridmgr.patrol.route.patrol_route` follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from gridmgr.patrol.stops import _Projector

if TYPE_CHECKING:
    import geopandas as gpd
    import scipy.sparse

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

__all__ = ["NON_WALKABLE", "RoadGraph", "road_graph"]


#: Road classes that are not walkable (dropped from a road layer when a ``layer``/``kind``/
#: ``highway``/``fclass`` column names them).
NON_WALKABLE = frozenset(
    {
        "railway",
        "rail",
        "waterway",
        "river",
        "stream",
        "canal",
        "place_label",
        "motorway",
        "motorway_link",
    }
)


@dataclass(frozen=True)
class RoadGraph:
    """An undirected walking graph built from road lines in a local metric CRS.

    Attributes
    ----------
    xy
        Vertex coordinates (metres, in ``crs``), shape (V, 2).
    matrix
        Symmetric CSR adjacency with edge lengths in metres.
    crs
        The local metric CRS.
    """

    xy: FloatArray
    matrix: scipy.sparse.csr_matrix
    crs: pyproj.CRS


def _walkable(roads: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    """The walkable line geometries of ``roads`` (non-walkable classes and non-lines dropped)."""
    geoms = np.asarray(roads.geometry.values, dtype=object)
    keep = np.ones(len(roads), dtype=bool)
    for col in ("layer", "kind", "highway", "fclass"):
        if col in roads.columns:
            vals = roads[col].astype(str).str.lower()
            keep &= ~vals.isin(NON_WALKABLE).to_numpy()
    geoms = geoms[keep]
    geoms = geoms[~shapely.is_missing(geoms)]
    types = shapely.get_type_id(geoms)
    return np.asarray(geoms[(types == 1) | (types == 5)], dtype=object)


def road_graph(
    roads: gpd.GeoDataFrame,
    projector: _Projector,
    *,
    clip: tuple[float, float, float, float] | None = None,
    snap_m: float = 1.0,
    max_segment_m: float = 15.0,
) -> RoadGraph | None:
    """Build the walking graph of ``roads`` (lines, EPSG:4326); ``None`` when nothing walkable.

    Lines are noded at their crossings (``shapely.union_all``), densified to vertices at most
    ``max_segment_m`` apart (so that stops snap close to the road), and vertices closer than
    ``snap_m`` are merged so that endpoints meeting "almost" at a junction connect.
    """
    geoms = _walkable(roads)
    if len(geoms) == 0:
        return None
    metric = projector.geoms_to_metric(geoms)
    if clip is not None:
        metric = shapely.clip_by_rect(metric, *clip)
        metric = metric[~shapely.is_empty(metric)]
        if len(metric) == 0:
            return None
    coords, idx = _noded_vertices(metric, max_segment_m)
    if len(coords) < 2:
        return None
    xy, inverse = _merge_close_vertices(coords, snap_m)
    mat = _edge_matrix(coords, idx, inverse, len(xy))
    return RoadGraph(xy=xy, matrix=mat, crs=pyproj.CRS(projector.fwd.target_crs))


def _noded_vertices(
    metric: npt.NDArray[np.object_], max_segment_m: float
) -> tuple[FloatArray, IntArray]:
    """Vertices of the lines noded at their crossings and densified, with each one's line index."""
    noded = shapely.union_all(metric)
    parts = np.asarray(shapely.get_parts(shapely.get_parts(noded)), dtype=object)
    parts = parts[shapely.get_type_id(parts) == 1]
    parts = shapely.segmentize(parts, max_segment_m)
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    return np.asarray(coords, dtype=float), np.asarray(idx, dtype=np.int64)


def _merge_close_vertices(coords: FloatArray, snap_m: float) -> tuple[FloatArray, IntArray]:
    """Graph vertices (merged positions) and the vertex of every input coordinate."""
    import scipy.sparse
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    # merge vertices closer than snap_m: exact duplicates first, then KD-tree pairs joined as
    # connected components (transitive, unlike rounding to a grid which splits near-misses
    # that straddle a grid line)
    keys = np.round(coords * 1000.0).astype(np.int64)
    uniq, inv0 = np.unique(keys, axis=0, return_inverse=True)
    inv0 = inv0.ravel()
    upos = uniq / 1000.0
    pairs = cKDTree(upos).query_pairs(snap_m, output_type="ndarray")
    nu = len(uniq)
    link = scipy.sparse.coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(nu, nu)
    )
    _, label = connected_components(link, directed=False)
    nv = int(label.max()) + 1
    xy = np.zeros((nv, 2))
    np.add.at(xy, label, upos)
    xy /= np.bincount(label, minlength=nv).astype(float)[:, None]
    return xy, np.asarray(label[inv0], dtype=np.int64)


def _edge_matrix(
    coords: FloatArray, idx: IntArray, inverse: IntArray, n: int
) -> scipy.sparse.csr_matrix:
    """Symmetric CSR of the segments between consecutive vertices (shortest duplicate kept)."""
    import scipy.sparse

    same = idx[1:] == idx[:-1]
    u, v = inverse[:-1][same], inverse[1:][same]
    w = np.hypot(*(coords[1:][same] - coords[:-1][same]).T)
    ok = u != v
    u, v, w = u[ok], v[ok], w[ok]
    a, b = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w = a[first], b[first], np.maximum(w[first], 1e-6)
    return scipy.sparse.coo_matrix(
        (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
    ).tocsr()


def _road_costs(
    graph: RoadGraph, stop_xy: FloatArray, *, chunk: int = 64
) -> tuple[FloatArray, IntArray, FloatArray]:
    """Snap stops to their nearest road vertex; road distance between every pair of stops.

    Returns (road distance matrix between snapped vertices incl. connectors, vertex of each stop,
    connector length of each stop).
    """
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    conn, vert = cKDTree(graph.xy).query(stop_xy)
    vert = np.asarray(vert, dtype=np.int64)
    uv, inv = np.unique(vert, return_inverse=True)
    inv = inv.ravel()
    dv = np.empty((len(uv), len(uv)))
    for s in range(0, len(uv), chunk):
        dist = dijkstra(graph.matrix, directed=False, indices=uv[s : s + chunk])
        dv[s : s + chunk] = dist[:, uv]
    road = dv[inv][:, inv] + conn[:, None] + conn[None, :]
    np.fill_diagonal(road, 0.0)
    return road, vert, np.asarray(conn, dtype=float)


def _road_paths(
    graph: RoadGraph, pairs: list[tuple[int, int]], *, chunk: int = 64
) -> dict[tuple[int, int], IntArray]:
    """Vertex paths of the given (source vertex, target vertex) pairs."""
    from scipy.sparse.csgraph import dijkstra

    out: dict[tuple[int, int], IntArray] = {}
    sources = np.unique(np.asarray([p[0] for p in pairs], dtype=np.int64))
    for s in range(0, len(sources), chunk):
        src = sources[s : s + chunk]
        _, pred = dijkstra(graph.matrix, directed=False, indices=src, return_predecessors=True)
        row_of = {int(v): r for r, v in enumerate(src)}
        for a, b in pairs:
            if a not in row_of or (a, b) in out:
                continue
            row = pred[row_of[a]]
            path = [b]
            cur = b
            while cur != a and cur >= 0:
                cur = int(row[cur])
                path.append(cur)
            out[(a, b)] = np.asarray(path[::-1], dtype=np.int64)
    return out


def roads_for_store(store: Any) -> gpd.GeoDataFrame | None:
    """The road lines every patrol route of ``store`` follows: ``roads.geojson`` of the layers
    the store was loaded from (else the default layers'), kept where they reach the store's units
    (within about 1 km of their bounding box). ``None`` when there are none: straight legs.

    One source for the main job, ``map leader``, 我的责任区 and the exports, so a leader's route
    has the same length everywhere.
    """
    path = _roads_file(store)
    units = store.units()
    if path is None or not len(units):
        return None
    roads = _read_roads_cached(str(path), path.stat().st_mtime_ns)
    if roads is None:
        return None
    area = shapely.box(*units.total_bounds).buffer(0.01)
    near = shapely.intersects(np.asarray(roads.geometry.values, dtype=object), area)
    return roads.loc[near] if near.any() else None


def _roads_file(store: Any) -> Path | None:
    """``roads.geojson`` of the store's layers directory, else of the default layers."""
    from gridmgr import settings

    source = store.layers_source() if hasattr(store, "layers_source") else None
    for folder in (Path(source) if source else None, settings.layers_dir()):
        if folder is not None and (folder / "roads.geojson").is_file():
            return folder / "roads.geojson"
    return None


@lru_cache(maxsize=4)
def _read_roads_cached(path: str, mtime_ns: int) -> gpd.GeoDataFrame | None:
    """Read and check a roads file once per version of it (``mtime_ns`` keys the cache)."""
    from gridmgr.io.layers import read_roads

    return read_roads(Path(path))
