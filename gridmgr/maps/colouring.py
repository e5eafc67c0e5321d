"""Territories and their colouring: pieces dissolved per leader, neighbours in different colours.

:func:`territories` dissolves pieces per leader (simplified as a coverage on request);
:func:`colour_territories` colours territories greedily so that neighbours differ. Adjacency has
one rule, the piece graph's (:mod:`gridmgr.grid.piece_graph`): a shared boundary longer than
:data:`~gridmgr.grid.piece_graph.NOISE_LENGTH_M`. :func:`territory_pairs` reads territory
neighbours off the piece graph of the pieces; :func:`territory_adjacency` applies the piece
graph's geometry path to territory polygons themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gridmgr.errors import InvalidFieldError
from gridmgr.grid.piece_graph import NOISE_LENGTH_M, boundary_pairs, piece_graph
from gridmgr.i18n import t

if TYPE_CHECKING:
    import geopandas as gpd


__all__ = [
    "GAP_COLOUR",
    "PALETTE",
    "colour_graph",
    "colour_territories",
    "territory_pairs",
    "palette_colour",
    "territories",
    "territory_adjacency",
]


#: Qualitative palette for territories (12 colours; red is kept for gaps).
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#edc948",
    "#76b7b2",
    "#9c755f",
    "#ff9da7",
    "#2f4b7c",
    "#a0cbe8",
    "#8cd17d",
    "#bab0ac",
)


GAP_COLOUR = "#d62728"


def territories(
    pieces: gpd.GeoDataFrame, *, by: str = "leader_id", simplify_m: float = 0.0
) -> gpd.GeoDataFrame:
    """One (multi)polygon per leader: pieces dissolved by ``by`` (missing → ``None`` row).

    Columns: ``leader_id`` (or ``by``), ``pieces`` (count), ``area_m2`` (when the pieces have it),
    geometry (simplified as a coverage when ``simplify_m`` > 0).
    """
    import geopandas as gpd

    if by not in pieces.columns:
        raise InvalidFieldError(
            t(
                f"地块图层缺少 {by!r} 列，无法按责任人合并",
                f"pieces have no {by!r} column to dissolve by",
            )
        )
    codes, uniq = _territory_codes(pieces, by)
    geoms = np.asarray(pieces.geometry.values, dtype=object)
    order = np.argsort(codes, kind="stable")
    splits = np.flatnonzero(np.diff(codes[order])) + 1
    groups = np.split(order, splits) if len(order) else []
    merged = np.asarray([_dissolve(geoms[g]) for g in groups], dtype=object)
    merged = _metric_simplify(merged, simplify_m)
    out = pd.DataFrame(
        {by: [None if u == "\0none" else str(u) for u in uniq], "pieces": [len(g) for g in groups]}
    )
    if "area_m2" in pieces.columns:
        a = pieces["area_m2"].to_numpy()
        out["area_m2"] = [float(a[g].sum()) for g in groups]
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(merged, crs=4326), crs=4326)


def _territory_codes(pieces: pd.DataFrame, by: str) -> tuple[npt.NDArray[np.int64], pd.Index]:
    """Row of :func:`territories` of each piece and the sorted keys (missing → ``"\\0none"``)."""
    keys = pieces[by].astype("string").fillna("\0none")
    codes, uniq = pd.factorize(keys, sort=True)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniq)


def _dissolve(geoms: npt.NDArray[np.object_]) -> Any:
    """Union of a clean coverage of polygons (a general union when it is not clean)."""
    if len(geoms) == 0:
        return shapely.Polygon()
    try:
        return shapely.coverage_union_all(geoms)
    except shapely.errors.GEOSException:  # pragma: no cover - not a clean coverage
        return shapely.union_all(geoms)


def _metric_simplify(geoms: npt.NDArray[np.object_], tolerance_m: float) -> npt.NDArray[np.object_]:
    """Simplify polygons as a coverage (shared borders stay shared) with a tolerance in metres."""
    if tolerance_m <= 0 or len(geoms) == 0:
        return geoms
    from gridmgr.patrol.stops import _Projector

    b = shapely.total_bounds(geoms)
    proj = _Projector((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    metric = proj.geoms_to_metric(geoms)
    try:
        simp = np.asarray(shapely.coverage_simplify(metric, tolerance_m), dtype=object)
    except (shapely.errors.GEOSException, AttributeError):  # pragma: no cover - old GEOS
        simp = np.asarray(
            shapely.simplify(metric, tolerance_m, preserve_topology=True), dtype=object
        )
    return proj.geoms_to_lonlat(simp)


def territory_adjacency(geoms: npt.ArrayLike) -> list[tuple[int, int]]:
    """Pairs (i < j) of polygons sharing a boundary of positive length (corners do not count).

    A thin wrapper over the piece graph's geometry path
    (:func:`gridmgr.grid.piece_graph.boundary_pairs`): the same rule as piece adjacency, a shared
    boundary longer than :data:`~gridmgr.grid.piece_graph.NOISE_LENGTH_M` ground metres.

    Examples
    --------
    >>> import shapely
    >>> territory_adjacency([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 1, 3, 2)])
    [(0, 1)]
    """
    arr = np.asarray(geoms, dtype=object)
    if len(arr) < 2:
        return []
    i, j, length = boundary_pairs(arr)
    ok = length > NOISE_LENGTH_M
    return list(zip(i[ok].tolist(), j[ok].tolist(), strict=True))


def territory_pairs(pieces: gpd.GeoDataFrame, labels: npt.ArrayLike) -> list[tuple[int, int]]:
    """Pairs (a < b) of territories some of whose pieces are adjacent in the piece graph.

    ``labels`` gives each piece's territory (row of the territories frame; negative: none). Pieces
    with a ``cell`` column go through :func:`gridmgr.grid.piece_graph.piece_graph`, others through
    its geometry path; either way two pieces touch when they share a boundary of positive length.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> boxes = [shapely.box(i, 0, i + 1, 1) for i in range(4)]
    >>> territory_pairs(gpd.GeoDataFrame(geometry=boxes, crs=4326), [0, 0, 1, -1])
    [(0, 1)]
    """
    lab = np.asarray(labels, dtype=np.int64)
    i, j = _adjacent_pieces(pieces)
    a, b = lab[i], lab[j]
    keep = (a >= 0) & (b >= 0) & (a != b)
    if not keep.any():
        return []
    pairs = np.unique(np.column_stack([np.minimum(a, b)[keep], np.maximum(a, b)[keep]]), axis=0)
    return [(int(x), int(y)) for x, y in pairs.tolist()]


def _adjacent_pieces(
    pieces: gpd.GeoDataFrame,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Positional pairs (i < j) of adjacent pieces, read off the piece graph."""
    if len(pieces) < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    if "cell" in pieces.columns:
        graph = piece_graph(pieces)
        return graph.i, graph.j
    i, j, length = boundary_pairs(np.asarray(pieces.geometry.values, dtype=object))
    ok = length > NOISE_LENGTH_M
    return i[ok], j[ok]


def colour_territories(
    geoms: npt.ArrayLike,
    *,
    min_colours: int | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
) -> npt.NDArray[np.int64]:
    """Graph colouring (largest degree first) so that neighbours never share a colour.

    Returns a colour index per polygon; see :func:`colour_graph` for how the colours are spread
    (by default over the whole :data:`PALETTE`, a territory's neighbours' neighbours avoided too).
    ``pairs`` are the neighbours (from :func:`territory_pairs` when the pieces are at hand); by
    default :func:`territory_adjacency` of ``geoms``.

    Examples
    --------
    >>> import shapely
    >>> boxes = [shapely.box(i, 0, i + 1, 1) for i in range(4)]
    >>> c = colour_territories(boxes)
    >>> all(c[k] != c[k + 1] for k in range(3))
    True
    """
    arr = np.asarray(geoms, dtype=object)
    return colour_graph(
        len(arr), territory_adjacency(arr) if pairs is None else pairs, min_colours=min_colours
    )


def colour_graph(
    n: int, pairs: Iterable[tuple[int, int]], *, min_colours: int | None = None
) -> npt.NDArray[np.int64]:
    """Colouring of nodes ``0 … n-1`` with edges ``pairs``: neighbours always differ.

    Colours are spread over at least ``min_colours`` palette entries (default: all of
    :data:`PALETTE`, so 37 territories do not cycle through five colours). A node also avoids its
    neighbours' neighbours' colours when the palette allows, so that two territories of the same
    colour are rarely side by side across a third; ties go to the least used colour.

    Examples
    --------
    >>> colour_graph(3, [(0, 1), (1, 2)]).tolist()
    [1, 0, 2]
    >>> len(set(colour_graph(12, [(k, k + 1) for k in range(11)]).tolist()))
    12
    """
    k_min = len(PALETTE) if min_colours is None else max(min_colours, 1)
    nbrs: list[set[int]] = [set() for _ in range(n)]
    for a, b in pairs:
        nbrs[a].add(b)
        nbrs[b].add(a)
    order = sorted(range(n), key=lambda k: (-len(nbrs[k]), k))
    colour = np.full(n, -1, dtype=np.int64)
    used = np.zeros(k_min + n, dtype=np.int64)
    for k in order:
        taken = {int(colour[x]) for x in nbrs[k] if colour[x] >= 0}
        near = {int(colour[y]) for x in nbrs[k] for y in nbrs[x] if y != k and colour[y] >= 0}
        free = [c for c in range(max(k_min, len(taken) + 1)) if c not in taken]
        far = [c for c in free if c not in near] or free
        c = min(far, key=lambda c: (used[c], c))
        colour[k] = c
        used[c] += 1
    return colour


def palette_colour(index: int) -> str:
    """Palette colour ``index`` (beyond the palette: evenly spaced hues)."""
    if index < len(PALETTE):
        return PALETTE[index]
    import colorsys

    h = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.55, 0.85)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
