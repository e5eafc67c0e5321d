"""Patrol routes (巡查路线): an ordered walk over a leader's key places and pieces.

:func:`patrol_route` orders the stops — every key place and the centroid of every piece of a
territory — into a short loop from a start point (given, or the community's representative point),
with its length in metres and the walking time. Where a road network is supplied the legs follow the
roads (a graph built from the lines, shortest paths with :mod:`scipy.sparse.csgraph`); otherwise the
legs are straight and the route says so (``follows_roads``).

The visit order comes from a small tour engine over a metric distance matrix, vectorised in numpy:

1. nearest-neighbour construction from the start;
2. local search with neighbour lists (the ``k`` nearest stops of every stop): 2-opt (both
   orientations) and Or-opt (move a run of 1–3 stops next to one of its neighbours, either way
   round). Each round evaluates every candidate move of the *active* stops as numpy arrays and
   applies a batch of improving moves that touch disjoint stretches of the tour (don't-look bits:
   a stop stays active until none of its candidate moves gains);
3. iterated local search until the time budget runs out: a local double-bridge kick (swap two
   adjacent short runs), local search around it, keep the result when it is shorter.

``benchmarks/bench_patrol.py`` compares it with OR-Tools' guided local search.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmgr.errors import InputError, InvalidFieldError, InvalidGeometryError
from gridmgr.i18n import t as _t

if TYPE_CHECKING:
    import geopandas as gpd
    import scipy.sparse

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_EPS = 1e-7
#: Kicks of the iterated local search swap two runs within this many consecutive positions.
_KICK_WINDOW = 100


def tour_length(dist: FloatArray, tour: npt.ArrayLike, *, closed: bool = True) -> float:
    """Length of ``tour`` over ``dist``; ``closed`` adds the edge back to the first node."""
    t = np.asarray(tour, dtype=np.int64)
    if len(t) < 2:
        return 0.0
    total = float(dist[t[:-1], t[1:]].sum())
    if closed:
        total += float(dist[t[-1], t[0]])
    return total


def nearest_neighbour_tour(dist: FloatArray, start: int = 0) -> IntArray:
    """Nearest-neighbour tour from ``start`` (one vectorised ``argmin`` per step).

    Examples
    --------
    >>> import numpy as np
    >>> pts = np.array([[0, 0], [3, 0], [1, 0], [2, 0]], dtype=float)
    >>> d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    >>> nearest_neighbour_tour(d).tolist()
    [0, 2, 3, 1]
    """
    n = dist.shape[0]
    tour = np.empty(n, dtype=np.int64)
    visited = np.zeros(n, dtype=bool)
    cur = int(start)
    for k in range(n):
        tour[k] = cur
        visited[cur] = True
        if k == n - 1:
            break
        row = np.where(visited, np.inf, dist[cur])
        cur = int(np.argmin(row))
    return tour


def _knn(dist: FloatArray, k: int) -> IntArray:
    n = dist.shape[0]
    k = max(1, min(k, n - 1))
    d = dist.copy()
    np.fill_diagonal(d, np.inf)
    part = np.argpartition(d, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1).astype(np.int64)


class _Search:
    """Mutable local-search state over one tour (private; used by :func:`solve_tour`)."""

    def __init__(self, dist: FloatArray, tour: IntArray, knn: IntArray) -> None:
        self.d = dist
        self.t = tour.copy()
        self.n = len(tour)
        self.knn = knn
        self.k = knn.shape[1]
        self.pos = np.empty(self.n, dtype=np.int64)
        self.pos[self.t] = np.arange(self.n)
        self.active = np.ones(self.n, dtype=bool)
        self.active[self.t[0]] = True

    # -- candidate moves -------------------------------------------------------------------
    def _two_opt(self, a: IntArray) -> tuple[FloatArray, IntArray, IntArray, IntArray]:
        """Gains and (lo, hi) reversal ranges of 2-opt moves of active nodes ``a``."""
        n, d, t, pos = self.n, self.d, self.t, self.pos
        c = self.knn[a].ravel()
        a = np.repeat(a, self.k)
        pa, pc = pos[a], pos[c]
        sa, sc = t[(pa + 1) % n], t[(pc + 1) % n]
        qa, qc = t[(pa - 1) % n], t[(pc - 1) % n]
        # successor type: new edges (a, c), (succ a, succ c); reverse (min+1 .. max)
        g1 = d[a, sa] + d[c, sc] - d[a, c] - d[sa, sc]
        lo1 = np.minimum(pa, pc) + 1
        hi1 = np.maximum(pa, pc)
        # predecessor type: new edges (a, c), (pred a, pred c); reverse (min .. max-1)
        g2 = d[qa, a] + d[qc, c] - d[a, c] - d[qa, qc]
        lo2 = np.minimum(pa, pc)
        hi2 = np.maximum(pa, pc) - 1
        gain = np.concatenate([g1, g2])
        lo = np.concatenate([lo1, lo2])
        hi = np.concatenate([hi1, hi2])
        ok = (gain > _EPS) & (lo >= 1) & (hi > lo)
        src = np.concatenate([a, a])
        return gain[ok], lo[ok], hi[ok], src[ok]

    def _or_opt(
        self, a: IntArray
    ) -> tuple[FloatArray, IntArray, IntArray, IntArray, IntArray, IntArray, IntArray]:
        """Gains of Or-opt moves of runs starting at the active nodes ``a`` (lengths 1–3).

        A run ``f … l`` (positions ``i … j``) is moved next to a neighbour ``c`` of one of its
        ends, into the gap after ``c`` or before it, in the orientation that puts that end next
        to ``c``. All (node, length, end, neighbour, gap) combinations are evaluated at once.

        Returns gain, run start position, run length, position ``x`` of the node before the
        gap, reversed flag, the touched stretch ``[lo, hi]`` (2 × k) and the source node.
        """
        n, d, t, pos = self.n, self.d, self.t, self.pos
        lens = np.arange(1, 4)
        i = np.repeat(pos[a][:, None], 3, axis=1)  # (m, 3)
        j = i + lens[None, :] - 1
        ok = (i >= 1) & (j <= n - 1) & ((n - lens[None, :]) >= 3)
        jc = np.minimum(j, n - 1)
        f, last = t[i], t[jc]
        p, q = t[i - 1], t[(jc + 1) % n]
        g_remove = d[p, f] + d[last, q] - d[p, q]  # (m, 3)
        near = np.stack([f, last], axis=-1)  # (m, 3, 2): the end placed next to c
        far = np.stack([last, f], axis=-1)
        c = self.knn[near]  # (m, 3, 2, k)
        pc = pos[c]
        i4, j4 = i[:, :, None, None], jc[:, :, None, None]
        near4, far4 = near[..., None], far[..., None]
        inside = (pc >= i4) & (pc <= j4)
        psc, ppc = (pc + 1) % n, (pc - 1) % n
        sc, pcn = t[psc], t[ppc]
        # gap (c, succ c): c - near … far - succ c ; gap (pred c, c): pred c - far … near - c
        cost_a = d[c, near4] + d[far4, sc] - d[c, sc]
        cost_b = d[pcn, far4] + d[near4, c] - d[pcn, c]
        bad_a = inside | ((psc >= i4) & (psc <= j4))
        bad_b = inside | ((ppc >= i4) & (ppc <= j4))
        gain = g_remove[:, :, None, None, None] - np.stack([cost_a, cost_b], axis=-1)
        good = np.stack([bad_a, bad_b], axis=-1)
        np.logical_not(good, out=good)
        good &= ok[:, :, None, None, None]
        good &= gain > _EPS
        mi, li, ei, ki, gi = np.nonzero(good)
        if len(mi) == 0:
            e = np.empty(0, dtype=np.int64)
            return np.empty(0), e, e, e, e, np.empty((2, 0), dtype=np.int64), e
        g = gain[mi, li, ei, ki, gi]
        st = i[mi, li]
        ln = (li + 1).astype(np.int64)
        # end 0: the run's first node sits next to c; gap after c keeps the run forward
        r = np.where(gi == 0, ei, 1 - ei).astype(np.int64)
        pcg = pc[mi, li, ei, ki]
        x = np.where(gi == 0, pcg, (pcg - 1) % n)
        sr = a[mi]
        lo = np.minimum(st - 1, x)
        hi = np.maximum(st + ln, x + 1)
        return g, st, ln, x, r, np.stack([lo, hi]), sr

    # -- one round ---------------------------------------------------------------------------
    def round(self, max_moves: int = 64) -> float:
        """Evaluate moves of the active nodes, apply a batch of disjoint improving moves."""
        a = np.flatnonzero(self.active).astype(np.int64)
        if len(a) == 0:
            return 0.0
        g2, lo2, hi2, src2 = self._two_opt(a)
        go, so, lno, xo, ro, span, srco = self._or_opt(a)
        n_two = len(g2)
        gain = np.concatenate([g2, go])
        if len(gain) == 0:
            self.active[a] = False
            return 0.0
        lo = np.concatenate([lo2 - 1, span[0]])
        hi = np.concatenate([hi2 + 1, span[1]])
        top = np.argsort(-gain)[: max_moves * 4]
        chosen: list[int] = []
        spans: list[tuple[int, int]] = []
        for m, lo_m, hi_m in zip(top.tolist(), lo[top].tolist(), hi[top].tolist(), strict=True):
            if any(lo_m <= h and lo_c <= hi_m for lo_c, h in spans):
                continue
            spans.append((lo_m, hi_m))
            chosen.append(m)
            if len(chosen) >= max_moves:
                break
        # nodes whose candidate lists had no improving move go to sleep
        t = self.t
        self.active[a] = False
        self.active[src2] = True
        self.active[srco] = True
        total = 0.0
        touched: list[int] = []
        for m in chosen:
            if m < n_two:
                i, j = int(lo2[m]), int(hi2[m])
                touched += [int(t[i - 1]), int(t[i]), int(t[j]), int(t[(j + 1) % self.n])]
                t[i : j + 1] = t[i : j + 1][::-1].copy()
            else:
                k = m - n_two
                s, ln, x, rev = int(so[k]), int(lno[k]), int(xo[k]), bool(ro[k])
                touched += [int(t[s - 1]), int(t[(s + ln) % self.n]), int(t[x]),
                            int(t[(x + 1) % self.n]), int(t[s]), int(t[s + ln - 1])]
                seg = t[s : s + ln].copy()
                if rev:
                    seg = seg[::-1]
                if x < s:
                    # ... x | x+1 .. s-1 | seg | rest  ->  ... x | seg | x+1 .. s-1 | rest
                    mid = t[x + 1 : s].copy()
                    t[x + 1 : x + 1 + ln] = seg
                    t[x + 1 + ln : s + ln] = mid
                else:
                    # ... s-1 | seg | s+ln .. x | x+1 ...  ->  ... s-1 | s+ln .. x | seg | x+1
                    mid = t[s + ln : x + 1].copy()
                    t[s : s + len(mid)] = mid
                    t[s + len(mid) : x + 1] = seg
            total += float(gain[m])
        if chosen:
            self.pos[t] = np.arange(self.n)
            self.active[np.asarray(touched, dtype=np.int64)] = True
        return total

    def descend(self) -> float:
        """Run rounds until no active node has an improving move; returns the total gain."""
        total = 0.0
        while self.active.any():
            total += self.round()
        return total


def solve_tour(
    dist: FloatArray,
    *,
    start: int = 0,
    closed: bool = True,
    time_limit_s: float = 0.4,
    neighbours: int = 10,
    seed: int = 0,
    improve: bool = True,
    max_kicks: int | None = None,
) -> IntArray:
    """Order the nodes of ``dist`` into a short tour beginning at ``start``.

    Parameters
    ----------
    dist
        Square, symmetric matrix of non-negative costs (metres).
    start
        Index of the first node (the patrol's start).
    closed
        Return to ``start`` at the end (a loop) or end at the last stop (a path).
    time_limit_s
        Budget of the iterated local search after the first local optimum (0 stops there).
    neighbours
        Size of the candidate lists.
    seed
        Seed of the kicks (the result is reproducible for a given budget and machine speed; with
        ``time_limit_s=0`` it is fully deterministic).
    improve
        ``False`` returns the nearest-neighbour tour.
    max_kicks
        Stop the iterated local search after this many kicks (whichever of this and
        ``time_limit_s`` comes first); with ``time_limit_s=math.inf`` the result depends only on
        ``seed`` and ``max_kicks``.

    Returns
    -------
    numpy.ndarray
        Node indices, first ``start``; for a closed tour the return edge is implicit.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> pts = rng.random((30, 2))
    >>> d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    >>> t = solve_tour(d, time_limit_s=0.0)
    >>> tour_length(d, t) <= tour_length(d, nearest_neighbour_tour(d))
    True
    """
    d = np.asarray(dist, dtype=np.float64)
    n = d.shape[0]
    if n <= 2 or not improve:
        return nearest_neighbour_tour(d, start)
    if not closed:
        # a path from ``start`` = a cycle through a dummy node that costs 0 to ``start`` and a
        # constant C to everyone else: every cycle pays C once if the dummy sits next to
        # ``start`` and twice otherwise, and C exceeds what any move can save elsewhere
        big = np.empty((n + 1, n + 1))
        big[:n, :n] = d
        c = 4.0 * float(d.max()) + 1.0
        big[n, :] = c
        big[:, n] = c
        big[n, start] = big[start, n] = 0.0
        big[n, n] = 0.0
        t = solve_tour(big, start=n, closed=True, time_limit_s=time_limit_s,
                       neighbours=neighbours, seed=seed, max_kicks=max_kicks)
        path = t[1:] if t[1] == start else t[1:][::-1]
        return path.astype(np.int64)
    deadline = time.perf_counter() + max(0.0, time_limit_s)
    tour = nearest_neighbour_tour(d, start)
    knn = _knn(d, neighbours)
    s = _Search(d, tour, knn)
    s.descend()
    best = s.t.copy()
    best_len = tour_length(d, best)
    rng = np.random.default_rng(seed)
    window = max(4, min(n - 1, _KICK_WINDOW))
    kicks = 0
    while time.perf_counter() < deadline and n > 8 and (max_kicks is None or kicks < max_kicks):
        kicks += 1
        # local double bridge: positions 1 <= p1 < p2 < p3 <= n within a short window
        p0 = int(rng.integers(1, n - 3))
        span = min(window, n - p0)
        if span < 4:
            continue
        c = np.sort(rng.choice(np.arange(1, span), size=2, replace=False)) + p0
        p1, p2 = int(c[0]), int(c[1])
        t = s.t
        t[p0:p2] = np.concatenate([t[p1:p2], t[p0:p1]])
        q = p0 + (p2 - p1)  # where the first run now starts
        s.pos[t] = np.arange(n)
        s.active[:] = False
        s.active[t[[p0 - 1, p0, q - 1, q, p2 - 1, p2 % n]]] = True
        s.descend()
        cur_len = tour_length(d, s.t)
        if cur_len < best_len - _EPS:
            best_len = cur_len
            best = s.t.copy()
        else:
            s.t[:] = best
            s.pos[best] = np.arange(n)
    # rotate so that the start comes first (it never moved, but be explicit)
    k = int(np.flatnonzero(best == start)[0])
    return np.roll(best, -k).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Stops, metric projection and road graph
# --------------------------------------------------------------------------------------------

#: Road classes that are not walkable (dropped from a road layer when a ``layer``/``kind``/
#: ``highway``/``fclass`` column names them).
NON_WALKABLE = frozenset(
    {"railway", "rail", "waterway", "river", "stream", "canal", "place_label", "motorway",
     "motorway_link"}
)

#: Default walking speed of a patrol, km/h.
WALKING_SPEED_KMH = 4.5

StopKind = Literal["key_place", "piece"]


@dataclass(frozen=True)
class PatrolStop:
    """One stop of a patrol route.

    Attributes
    ----------
    order
        1-based position in the route.
    kind
        ``key_place`` or ``piece``.
    id
        Key-place code, or the piece's store id (its H3 cell when the frame has no ``id``).
    name
        Key-place name (``None`` for pieces).
    lon, lat
        WGS-84 position of the stop (a piece's centroid, a key place's representative point).
    """

    order: int
    kind: StopKind
    id: str
    name: str | None
    lon: float
    lat: float


@dataclass(frozen=True)
class PatrolRoute:
    """An ordered patrol route (frozen result of :func:`patrol_route`).

    Attributes
    ----------
    start
        ``(lon, lat)`` where the route starts (and ends when ``closed``).
    start_kind
        ``given``, ``key_place`` (started at a named key place) or ``territory`` (the
        representative point of the territory, used when no start is given).
    stops
        The stops in visiting order.
    legs
        WGS-84 LineStrings: start → stop 1, stop 1 → stop 2, … (and last stop → start when
        ``closed``).
    leg_lengths_m
        Length of every leg in metres.
    leg_on_road
        Whether each leg was routed along the road network.
    length_m
        Total length in metres (the sum of ``leg_lengths_m``).
    walking_speed_kmh, walking_time_s
        Assumed speed and the resulting walking time.
    follows_roads
        ``True`` when a road network was supplied and at least one leg follows it; ``False``
        means the legs are straight lines ("直线距离").
    closed
        The route returns to its start.
    """

    start: tuple[float, float]
    start_kind: str
    stops: tuple[PatrolStop, ...]
    legs: tuple[BaseGeometry, ...]
    leg_lengths_m: tuple[float, ...]
    leg_on_road: tuple[bool, ...]
    length_m: float
    walking_speed_kmh: float
    walking_time_s: float
    follows_roads: bool
    closed: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def walking_time_min(self) -> float:
        """Walking time in minutes."""
        return self.walking_time_s / 60.0

    def line(self) -> BaseGeometry:
        """The whole route as one WGS-84 LineString."""
        coords = [np.asarray(g.coords) for g in self.legs if not g.is_empty]
        if not coords:
            return shapely.LineString()
        parts = [coords[0]] + [c[1:] for c in coords[1:]]
        return shapely.LineString(np.concatenate(parts))

    def stops_frame(self) -> gpd.GeoDataFrame:
        """The stops as a GeoDataFrame (``order``, ``kind``, ``id``, ``name``, Point geometry)."""
        import geopandas as gpd

        rows = pd.DataFrame(
            {
                "order": [s.order for s in self.stops],
                "kind": [s.kind for s in self.stops],
                "id": [s.id for s in self.stops],
                "name": [s.name for s in self.stops],
            }
        )
        pts = shapely.points([s.lon for s in self.stops], [s.lat for s in self.stops])
        return gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(pts, crs=4326), crs=4326)

    def legs_frame(self) -> gpd.GeoDataFrame:
        """The legs as a GeoDataFrame (``leg``, ``length_m``, ``on_road``, LineString)."""
        import geopandas as gpd

        rows = pd.DataFrame(
            {
                "leg": np.arange(1, len(self.legs) + 1),
                "length_m": list(self.leg_lengths_m),
                "on_road": list(self.leg_on_road),
            }
        )
        return gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(list(self.legs), crs=4326), crs=4326)


def local_metric_crs(lon: float, lat: float) -> pyproj.CRS:
    """A transverse Mercator CRS centred on ``(lon, lat)``: metres, negligible scale error
    over a district (< 0.01 % within 40 km of the centre)."""
    return pyproj.CRS.from_proj4(
        f"+proj=tmerc +lat_0={lat:.6f} +lon_0={lon:.6f} +k=1 +x_0=0 +y_0=0 +datum=WGS84 "
        f"+units=m +no_defs"
    )


class _Projector:
    """WGS-84 lon/lat <-> a local metric CRS, vectorised."""

    def __init__(self, lon: float, lat: float) -> None:
        crs = local_metric_crs(lon, lat)
        self.fwd = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        self.inv = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)

    def xy(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> FloatArray:
        x, y = self.fwd.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.column_stack([x, y])

    def geoms_to_metric(self, geoms: npt.ArrayLike) -> npt.NDArray[np.object_]:
        def f(c: FloatArray) -> FloatArray:
            x, y = self.fwd.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        return np.asarray(shapely.transform(np.asarray(geoms, dtype=object), f), dtype=object)

    def geoms_to_lonlat(self, geoms: npt.ArrayLike) -> npt.NDArray[np.object_]:
        def f(c: FloatArray) -> FloatArray:
            x, y = self.inv.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        return np.asarray(shapely.transform(np.asarray(geoms, dtype=object), f), dtype=object)


def _inner_points(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Centroid where it lies inside the geometry, else a point on the surface."""
    cent = shapely.centroid(geoms)
    is_point = shapely.get_type_id(geoms) == 0
    inside = shapely.intersects(geoms, cent) | is_point
    out = np.where(inside, cent, shapely.point_on_surface(geoms))
    return np.asarray(out, dtype=object)


def _piece_ids(pieces: gpd.GeoDataFrame) -> list[str]:
    if "id" in pieces.columns:
        return [str(v) for v in pieces["id"].tolist()]
    if "cell" in pieces.columns:
        cells = pieces["cell"].astype(str)
        if cells.duplicated().any() and "unit_code" in pieces.columns:
            return [str(v) for v in (cells + "/" + pieces["unit_code"].astype(str)).tolist()]
        return [str(v) for v in cells.tolist()]
    return [str(i) for i in range(len(pieces))]


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
    import scipy.sparse

    geoms = _walkable(roads)
    if len(geoms) == 0:
        return None
    metric = projector.geoms_to_metric(geoms)
    if clip is not None:
        metric = shapely.clip_by_rect(metric, *clip)
        metric = metric[~shapely.is_empty(metric)]
        if len(metric) == 0:
            return None
    noded = shapely.union_all(metric)
    parts = np.asarray(shapely.get_parts(shapely.get_parts(noded)), dtype=object)
    parts = parts[shapely.get_type_id(parts) == 1]
    parts = shapely.segmentize(parts, max_segment_m)
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return None
    # merge vertices closer than snap_m: exact duplicates first, then KD-tree pairs joined as
    # connected components (transitive, unlike rounding to a grid which splits near-misses
    # that straddle a grid line)
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

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
    inverse = label[inv0]
    nv = int(label.max()) + 1
    xy = np.zeros((nv, 2))
    np.add.at(xy, label, upos)
    xy /= np.bincount(label, minlength=nv).astype(float)[:, None]
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
    n = nv
    mat = scipy.sparse.coo_matrix(
        (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
    ).tocsr()
    return RoadGraph(xy=xy, matrix=mat, crs=pyproj.CRS(projector.fwd.target_crs))


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


def _start_point(
    start: object, key_places: gpd.GeoDataFrame | None, territory: BaseGeometry
) -> tuple[tuple[float, float], str]:
    if start is None:
        p = shapely.point_on_surface(territory)
        return (float(p.x), float(p.y)), "territory"
    if isinstance(start, str):
        if key_places is not None and "code" in key_places.columns:
            hit = key_places.loc[key_places["code"].astype(str) == start]
            if len(hit):
                p = _inner_points(np.asarray(hit.geometry.values[:1], dtype=object))[0]
                return (float(p.x), float(p.y)), "key_place"
        parts = start.replace("，", ",").split(",")
        try:
            lon, lat = (float(x) for x in parts)
        except ValueError:
            msg = _t(
                f"起点 {start!r} 既不是辖区内的重点点位编码，也不是“经度,纬度”；"
                "请写成 125.25,43.80 这样的 WGS-84 坐标",
                f"start {start!r} is neither a key-place code in the territory nor 'lon,lat'; "
                "write a WGS-84 position such as 125.25,43.80",
            )
            raise InputError(msg) from None
        start = (lon, lat)
    if isinstance(start, BaseGeometry):
        p = shapely.point_on_surface(start)
        start = (float(p.x), float(p.y))
    try:
        lon, lat = (float(v) for v in start)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        msg = _t(f"起点 {start!r} 无法识别；请给 (经度, 纬度)", f"start {start!r} is not (lon, lat)")
        raise InputError(msg) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        msg = _t(
            f"起点 ({lon}, {lat}) 超出经纬度范围；请按 经度,纬度 的顺序给出 WGS-84 坐标",
            f"start ({lon}, {lat}) is out of range; give WGS-84 lon,lat in that order",
        )
        raise InputError(msg)
    return (lon, lat), "given"


def patrol_route(
    pieces: gpd.GeoDataFrame,
    key_places: gpd.GeoDataFrame | None = None,
    *,
    start: tuple[float, float] | BaseGeometry | str | None = None,
    roads: gpd.GeoDataFrame | None = None,
    walking_speed_kmh: float = WALKING_SPEED_KMH,
    closed: bool = True,
    time_limit_s: float = 0.4,
    seed: int = 0,
) -> PatrolRoute:
    """A patrol route over a territory: every key place and every piece, visited once.

    Parameters
    ----------
    pieces
        The territory's pieces (EPSG:4326; ``id`` or ``cell`` names them). Each piece is visited
        at its centroid (or a point on its surface when the centroid falls outside).
    key_places
        Key places to visit (``code``, optional ``name``; Point or Polygon). May be ``None``.
    start
        ``(lon, lat)``, a shapely geometry, a key-place code, or ``"lon,lat"``. ``None`` starts
        at the representative point of the territory (the community office is not in the
        layers; give its position when known).
    roads
        Road lines (EPSG:4326). When given, every leg follows the roads (with straight
        connectors from each stop to its nearest road vertex), except a leg between two stops
        that are closer to each other than to the road, which stays straight. Railway, waterway
        and motorway lines are not walkable. ``None`` gives straight legs.
    walking_speed_kmh
        For the walking time.
    closed
        Return to the start at the end.
    time_limit_s
        Time budget of the tour improvement (iterated local search).
    seed
        Seed of the improvement's random kicks.

    Returns
    -------
    PatrolRoute

    Raises
    ------
    InputError
        No stops, an unreadable start or a non-positive speed.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> cells = [shapely.box(125.25 + i * 0.002, 43.8, 125.252 + i * 0.002, 43.802) for i in range(5)]
    >>> pieces = gpd.GeoDataFrame({"cell": list("abcde")}, geometry=cells, crs=4326)
    >>> r = patrol_route(pieces, start=(125.25, 43.8), time_limit_s=0)
    >>> [s.id for s in r.stops], r.follows_roads
    (['a', 'b', 'c', 'd', 'e'], False)
    >>> round(r.length_m) == round(sum(r.leg_lengths_m))
    True
    """
    if not walking_speed_kmh > 0:
        msg = _t(f"步行速度必须大于 0（现为 {walking_speed_kmh}）",
                 f"walking speed must be > 0 (got {walking_speed_kmh})")
        raise InputError(msg)
    if pieces is None or "geometry" not in getattr(pieces, "columns", []):
        msg = _t("巡查路线需要地块图层（GeoDataFrame，含 geometry 列）",
                 "a patrol route needs a pieces GeoDataFrame with a geometry column")
        raise InvalidFieldError(msg)
    pgeoms = np.asarray(pieces.geometry.values, dtype=object)
    kp = key_places if key_places is not None and len(key_places) else None
    kgeoms = np.asarray(kp.geometry.values, dtype=object) if kp is not None else np.empty(0, object)
    bad = np.concatenate([shapely.is_missing(pgeoms) | shapely.is_empty(pgeoms),
                          shapely.is_missing(kgeoms) | shapely.is_empty(kgeoms)])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = _t("地块", "piece") if i < len(pgeoms) else _t("重点点位", "key place")
        msg = _t(f"{what}第 {i} 行几何为空，无法生成巡查路线；请先修复数据",
                 f"{what} row {i} has an empty geometry; fix the layer first")
        raise InvalidGeometryError(msg)
    n_stops = len(pgeoms) + len(kgeoms)
    if n_stops == 0:
        msg = _t("辖区内没有地块或重点点位，无法生成巡查路线",
                 "the territory has no pieces and no key places; there is nothing to patrol")
        raise InputError(msg)
    if n_stops > 4000:
        msg = _t(f"巡查点过多（{n_stops} 个，上限 4000）；请按社区或网格分别生成路线",
                 f"too many stops ({n_stops}, limit 4000); make one route per community or grid")
        raise InputError(msg)

    territory = shapely.union_all(np.concatenate([pgeoms, kgeoms])) if len(pgeoms) == 0 else (
        shapely.coverage_union_all(pgeoms) if len(pgeoms) > 1 else pgeoms[0]
    )
    (slon, slat), start_kind = _start_point(start, kp, territory)

    kinds: list[StopKind] = [*(["key_place"] * len(kgeoms)), *(["piece"] * len(pgeoms))]  # type: ignore[list-item]
    ids = ([str(c) for c in kp["code"].tolist()] if kp is not None and "code" in kp.columns
           else [str(i) for i in range(len(kgeoms))]) + _piece_ids(pieces)
    names: list[str | None] = [None] * (len(kgeoms) + len(pgeoms))
    if kp is not None and "name" in kp.columns:
        names[: len(kgeoms)] = [None if pd.isna(x) else str(x) for x in kp["name"].tolist()]
    pts = _inner_points(np.concatenate([kgeoms, pgeoms]))
    lon = np.concatenate([[slon], shapely.get_x(pts)])
    lat = np.concatenate([[slat], shapely.get_y(pts)])

    proj = _Projector(float(np.mean(lon)), float(np.mean(lat)))
    xy = proj.xy(lon, lat)
    straight = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))

    graph: RoadGraph | None = None
    if roads is not None and len(roads):
        pad = 2000.0
        clip = (xy[:, 0].min() - pad, xy[:, 1].min() - pad,
                xy[:, 0].max() + pad, xy[:, 1].max() + pad)
        graph = road_graph(roads, proj, clip=clip)
    notes: list[str] = []
    on_road_pair: npt.NDArray[np.bool_] | None = None
    if graph is not None:
        road, vert, conn = _road_costs(graph, xy)
        # follow the road, except between two stops that are closer to each other than to the
        # road (walking to the road and back would be longer than the whole straight leg)
        on_road_pair = np.isfinite(road) & (straight > conn[:, None] + conn[None, :])
        cost = np.where(on_road_pair, road, straight)
    else:
        cost = straight
        if roads is not None:
            notes.append(_t("道路图层在辖区附近没有可步行的道路，路线按直线计算",
                            "the road layer has no walkable road near the territory; "
                            "legs are straight"))

    order = solve_tour(cost, start=0, closed=closed, time_limit_s=time_limit_s, seed=seed)
    seq = order.tolist() + ([0] if closed else [])
    legs_idx = list(pairwise(seq))

    legs: list[BaseGeometry] = []
    leg_len: list[float] = []
    leg_road: list[bool] = []
    paths: dict[tuple[int, int], IntArray] = {}
    if graph is not None and on_road_pair is not None:
        need = [(int(vert[a]), int(vert[b])) for a, b in legs_idx
                if on_road_pair[a, b] and vert[a] != vert[b]]
        paths = _road_paths(graph, need) if need else {}
    metric_lines: list[BaseGeometry] = []
    for a, b in legs_idx:
        if graph is not None and on_road_pair is not None and on_road_pair[a, b]:
            va, vb = int(vert[a]), int(vert[b])
            via = graph.xy[paths[(va, vb)]] if va != vb else graph.xy[[va]]
            line = np.vstack([xy[a], via, xy[b]])
            leg_road.append(True)
        else:
            line = np.vstack([xy[a], xy[b]])
            leg_road.append(False)
        metric_lines.append(shapely.linestrings(line))
    metric_arr = np.asarray(metric_lines, dtype=object)
    leg_len = shapely.length(metric_arr).astype(float).tolist()
    legs = list(proj.geoms_to_lonlat(metric_arr))

    stops = tuple(
        PatrolStop(
            order=k + 1,
            kind=kinds[i - 1],
            id=ids[i - 1],
            name=names[i - 1],
            lon=float(lon[i]),
            lat=float(lat[i]),
        )
        for k, i in enumerate(order.tolist()[1:])
    )
    length = float(np.sum(leg_len))
    return PatrolRoute(
        start=(float(slon), float(slat)),
        start_kind=start_kind,
        stops=stops,
        legs=tuple(legs),
        leg_lengths_m=tuple(leg_len),
        leg_on_road=tuple(leg_road),
        length_m=length,
        walking_speed_kmh=float(walking_speed_kmh),
        walking_time_s=length / (walking_speed_kmh * 1000.0 / 3600.0),
        follows_roads=bool(any(leg_road)),
        closed=closed,
        notes=tuple(notes),
    )


def patrol_route_from_store(
    store: Any,
    leader_id: str,
    *,
    start: tuple[float, float] | BaseGeometry | str | None = None,
    roads: gpd.GeoDataFrame | None = None,
    walking_speed_kmh: float = WALKING_SPEED_KMH,
    closed: bool = True,
) -> PatrolRoute:
    """:func:`patrol_route` over a leader's territory read from a :class:`gridmgr.store.Store`.

    The territory is every piece whose ``leader_id`` is ``leader_id``; the key places are those
    in the leader's ``place_packages`` plus every key place lying in the territory.
    """
    pieces, places, _ = leader_frames_from_store(store, leader_id)
    return patrol_route(pieces, places, start=start, roads=roads,
                        walking_speed_kmh=walking_speed_kmh, closed=closed)


def leader_frames_from_store(
    store: Any, leader_id: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, Mapping[str, Any]]:
    """A leader's pieces, key places (in the territory or packaged to them) and leader record."""
    from gridmgr.errors import LeaderNotFoundError

    leaders = store.leaders()
    row = leaders.loc[leaders["id"].astype(str) == str(leader_id)]
    if row.empty:
        msg = _t(f"领导 {leader_id!r} 不在库中；用 `gridmgr leaders list` 查看已有 id",
                 f"leader {leader_id!r} is not in the store; see `gridmgr leaders list`")
        raise LeaderNotFoundError(msg)
    leader = row.iloc[0].to_dict()
    pieces = store.pieces()
    mine = pieces.loc[pieces["leader_id"].astype("string") == str(leader_id)].copy()
    places = store.key_places()
    packaged = set(_as_list(leader.get("place_packages")))
    if len(places):
        in_territory = np.zeros(len(places), dtype=bool)
        if len(mine):
            terr = shapely.coverage_union_all(np.asarray(mine.geometry.values, dtype=object))
            reps = _inner_points(np.asarray(places.geometry.values, dtype=object))
            in_territory = np.asarray(shapely.intersects(terr, reps), dtype=bool)
        sel = in_territory | places["code"].astype(str).isin(packaged).to_numpy()
        places = places.loc[sel].copy()
    return mine, places, leader


def _as_list(v: object) -> list[str]:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return []
    if isinstance(v, str):
        return [x.strip() for x in v.replace("；", ";").split(";") if x.strip()]
    if isinstance(v, Sequence | np.ndarray):
        return [str(x) for x in v]
    return [str(v)]
