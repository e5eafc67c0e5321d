"""The one adapter between gridmgr and the H3 libraries (h3-py v4 and h3ronpy).

Everything else in gridmgr calls these functions and never h3 directly. Inside hot code cells are
``uint64`` numpy arrays; strings only at the edges (:func:`cells_to_str`, :func:`str_to_cells`).
H3 speaks (lat, lng); shapely speaks x=lng, y=lat. The conversion happens here, exactly once:
every function below takes and returns **lng/lat (x, y)** order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import h3
import h3ronpy
import numpy as np
import shapely
from h3ronpy import vector as _vec
from numpy.typing import NDArray

Cells = NDArray[np.uint64]
Containment = Literal["overlap", "full", "center"]
ArrayLikeF = NDArray[np.float64] | Sequence[float] | float

_MODES = {
    "overlap": h3ronpy.ContainmentMode.IntersectsBoundary,
    "full": h3ronpy.ContainmentMode.ContainsBoundary,
    "center": h3ronpy.ContainmentMode.ContainsCentroid,
}


def _u64(arr: object) -> Cells:
    return np.asarray(arr, dtype=np.uint64)


def cells_from_geometry(
    geom: shapely.Geometry, *, res: int, contain: Containment = "overlap"
) -> Cells:
    """Cells of ``geom`` (Polygon/MultiPolygon in lng/lat) at ``res``.

    ``contain="overlap"``: every cell whose hexagon intersects the geometry (full coverage);
    ``"full"``: cells whose hexagon lies inside; ``"center"``: h3's default centre rule.
    """
    if geom.is_empty:
        return np.empty(0, dtype=np.uint64)
    cells = _vec.geometry_to_cells(geom, res, containment_mode=_MODES[contain])
    return np.unique(_u64(cells))


def cell_polygons(cells: Cells) -> NDArray[np.object_]:
    """Hexagon (or pentagon) polygons of ``cells`` as a shapely array, lng/lat.

    Vectorised: h3ronpy writes WKB for the whole array, shapely parses it in one call.
    """
    cells = _u64(cells)
    out = np.empty(len(cells), dtype=object)
    if len(cells) == 0:
        return out
    wkb = np.asarray(_vec.cells_to_wkb_polygons(cells), dtype=object)
    out[:] = shapely.from_wkb(wkb)
    return out


def grid_disk(cells: Cells, k: int = 1) -> Cells:
    """Unique cells within ``k`` steps of any of ``cells`` (the cells themselves included)."""
    cells = _u64(cells)
    if len(cells) == 0:
        return cells
    return np.unique(_u64(h3ronpy.grid_disk(cells, k, flatten=True)))


def neighbour_pairs(cells: Cells) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Positional pairs ``(i, j)``, ``i < j``, of cells in ``cells`` that are grid neighbours."""
    cells = _u64(cells)
    n = len(cells)
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    flat = _u64(h3ronpy.grid_disk(cells, 1, flatten=True))
    if flat.size == 7 * n:  # no pentagon among the cells: every disk has 7 members
        sizes = np.full(n, 7, dtype=np.int64)
    else:
        disks = h3ronpy.grid_disk(cells, 1).to_pylist()
        sizes = np.fromiter((len(d) for d in disks), dtype=np.int64, count=n)
    src = np.repeat(np.arange(n, dtype=np.int64), sizes)
    order = np.argsort(cells, kind="stable")
    sorted_cells = cells[order]
    pos = np.searchsorted(sorted_cells, flat)
    pos = np.clip(pos, 0, n - 1)
    found = sorted_cells[pos] == flat
    dst = order[pos]
    keep = found & (dst > src)
    return src[keep], dst[keep]


def point_to_cell(lng: float, lat: float, *, res: int) -> str:
    """The cell (h3 string) containing one point (``lng``, ``lat``) — scalar, for request paths."""
    return str(h3.latlng_to_cell(float(lat), float(lng), int(res)))


def latlng_to_cell(lng: ArrayLikeF, lat: ArrayLikeF, *, res: int) -> Cells:
    """Cells containing the points (``lng``, ``lat``) — note the x, y order."""
    lng_a = np.atleast_1d(np.asarray(lng, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    return _u64(_vec.coordinates_to_cells(lat_a, lng_a, res))


def cell_centers(cells: Cells) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centre points of ``cells`` as ``(lng, lat)`` arrays."""
    cells = _u64(cells)
    if len(cells) == 0:
        e = np.empty(0)
        return e, e
    batch = _vec.cells_to_coordinates(cells)
    lat = np.asarray(batch.column("lat"), dtype=np.float64)
    lng = np.asarray(batch.column("lng"), dtype=np.float64)
    return lng, lat


def cells_to_str(cells: Cells) -> NDArray[np.object_]:
    """H3 index strings of ``cells`` (object array), converted in one h3ronpy call."""
    cells = _u64(cells)
    out = np.empty(len(cells), dtype=object)
    if len(cells):
        out[:] = h3ronpy.cells_to_string(cells).to_numpy()
    return out


def _first_invalid_cell(texts: Sequence[str]) -> str:
    """The first of ``texts`` that h3-py does not accept as a cell index (error path only)."""
    for s in texts:
        try:
            if not h3.is_valid_cell(s):
                return s
        except (ValueError, TypeError):
            return s
    return texts[0]


def str_to_cells(cells: Iterable[str] | Sequence[str]) -> Cells:
    """``uint64`` cells from H3 index strings; raises ``ValueError`` naming a bad one.

    Vectorised: h3ronpy parses the whole array; a string is accepted only if it is the
    hexadecimal form of a valid cell (h3ronpy also parses decimal and "x,y,res" strings, which
    are refused here, as h3-py refuses them).
    """
    texts = np.asarray([str(s) for s in cells], dtype=object)
    if len(texts) == 0:
        return np.empty(0, dtype=np.uint64)
    parsed = h3ronpy.cells_parse(texts.tolist(), set_failing_to_invalid=True)
    if parsed.null_count == 0:
        out = _u64(parsed.to_numpy())
        canonical = h3ronpy.cells_to_string(out).to_numpy()
        ok = canonical == np.char.lower(texts.astype(str))
        if ok.all() and h3ronpy.cells_valid(out).null_count == 0:
            return out
        bad = (
            str(texts[int(np.flatnonzero(~ok)[0])])
            if not ok.all()
            else _first_invalid_cell(texts.tolist())
        )
    else:
        bad = _first_invalid_cell(texts.tolist())
    raise ValueError(f"{bad!r} is not a valid H3 cell index")


def cell_res(cell: str | int) -> int:
    """Resolution of one cell."""
    return int(h3.get_resolution(cell if isinstance(cell, str) else h3.int_to_str(int(cell))))


def cells_wkb(cells: Cells) -> object:
    """WKB polygons of ``cells`` as an Arrow binary array (h3ronpy writes them in one call;
    :func:`gridmgr.grid.lazy.hexagon_rings` reads the coordinates out without shapely)."""
    return _vec.cells_to_wkb_polygons(_u64(cells))
