"""The one adapter between gridmgr and the H3 libraries (h3-py v4 and h3ronpy).

Everything else in gridmgr calls these functions and never h3 directly. Inside hot code cells are
``uint64`` numpy arrays; strings only at the edges (:func:`cells_to_str`, :func:`str_to_cells`).
H3 speaks (lat, lng); shapely speaks x=lng, y=lat. The conversion happens here, exactly once:
every function below takes and returns **lng/lat (x, y)** order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

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
    cells = _u64(_vec.geometry_to_cells(geom, res, containment_mode=_MODES[contain]))
    if len(cells) > 1 and not (cells[1:] > cells[:-1]).all():  # h3ronpy gives them sorted
        cells = np.unique(cells)
    return cells


def cells_to_wkb(cells: Cells) -> NDArray[np.object_]:
    """WKB (``bytes``) of the hexagon (or pentagon) polygons of ``cells``, lng/lat.

    One h3ronpy call for the whole array; :func:`cell_polygons` parses exactly these bytes and
    :func:`wkb_rings` reads their vertices without building shapely objects.
    """
    cells = _u64(cells)
    if len(cells) == 0:
        return np.empty(0, dtype=object)
    return np.asarray(_vec.cells_to_wkb_polygons(cells), dtype=object)


def cell_polygons(cells: Cells) -> NDArray[np.object_]:
    """Hexagon (or pentagon) polygons of ``cells`` as a shapely array, lng/lat.

    Vectorised: h3ronpy writes WKB for the whole array, shapely parses it in one call.
    """
    return polygons_from_wkb(cells_to_wkb(cells))


def polygons_from_wkb(wkb: NDArray[np.object_]) -> NDArray[np.object_]:
    """Shapely polygons of :func:`cells_to_wkb` output (an object array, possibly empty)."""
    out = np.empty(len(wkb), dtype=object)
    if len(wkb):
        out[:] = shapely.from_wkb(wkb)
    return out


#: WKB header of a little-endian Polygon with one ring: byte order, type, ring count.
_WKB_HEAD = 9
_WKB_RING = _WKB_HEAD + 4  # then the point count (uint32), then x, y doubles
_POLYGON_1RING_LE = np.frombuffer(
    b"\x01" + (3).to_bytes(4, "little") + (1).to_bytes(4, "little"), dtype=np.uint8
)
Rings = tuple[NDArray[np.float64], NDArray[np.intp]]


def wkb_rings(wkb: NDArray[np.object_]) -> Rings:
    """Vertices of single-ring polygons given as WKB: ``(xy, idx)`` as
    ``shapely.get_coordinates(shapely.from_wkb(wkb), return_index=True)`` returns them.

    The doubles are read straight from the bytes with numpy (no shapely objects), so the values
    are bit for bit those shapely would return. Anything other than little-endian one-ring
    polygons (never h3's output) is read through shapely instead.

    Examples
    --------
    >>> cells = latlng_to_cell([125.30, 125.31], [43.80, 43.81], res=10)
    >>> xy, idx = wkb_rings(cells_to_wkb(cells))
    >>> want = shapely.get_coordinates(cell_polygons(cells), return_index=True)
    >>> bool((xy == want[0]).all() and (idx == want[1]).all())
    True
    """
    if len(wkb) == 0:
        return np.empty((0, 2), dtype=np.float64), np.empty(0, dtype=np.intp)
    raw = np.asarray(wkb).astype(np.bytes_)  # zero-padded rows of equal width
    rings = _rows_rings(raw.view(np.uint8).reshape(len(wkb), raw.dtype.itemsize))
    if rings is None:
        xy, idx = shapely.get_coordinates(polygons_from_wkb(wkb), return_index=True)
        return xy, idx
    return rings


class CellShapes:
    """The h3 polygons of ``cells``, written as WKB once (one h3ronpy call), read two ways:
    :meth:`rings` gives their vertices without shapely objects, :meth:`polygons` the shapely
    polygons of all or some of them — the same values :func:`cell_polygons` gives.

    Examples
    --------
    >>> cells = latlng_to_cell([125.30, 125.31], [43.80, 43.81], res=10)
    >>> shapes = CellShapes(cells)
    >>> xy, idx = shapes.rings()
    >>> want = shapely.get_coordinates(cell_polygons(cells), return_index=True)
    >>> bool((xy == want[0]).all() and (idx == want[1]).all())
    True
    >>> bool(shapes.polygons(np.array([False, True]))[0].equals_exact(cell_polygons(cells)[1], 0))
    True
    """

    def __init__(self, cells: Cells) -> None:
        cells = _u64(cells)
        self._n = len(cells)
        self._arrow = _vec.cells_to_wkb_polygons(cells) if self._n else None
        self._objects: NDArray[np.object_] | None = None

    def wkb(self) -> NDArray[np.object_]:
        """The WKB values as ``bytes`` (an object array)."""
        if self._objects is None:
            if self._arrow is None:
                self._objects = np.empty(0, dtype=object)
            else:
                self._objects = np.asarray(self._arrow, dtype=object)
        return self._objects

    def rings(self) -> Rings:
        """``(xy, idx)`` as ``shapely.get_coordinates(polygons, return_index=True)`` gives them.

        With pyarrow installed the WKB buffer is read in place; otherwise the ``bytes`` are
        (:func:`wkb_rings`). Either way the same bytes are read.
        """
        if self._arrow is not None:
            rows = _arrow_rows(self._arrow)
            rings = None if rows is None else _rows_rings(rows)
            if rings is not None:
                return rings
        return wkb_rings(self.wkb())

    def polygons(self, mask: NDArray[np.bool_] | None = None) -> NDArray[np.object_]:
        """Shapely polygons of all cells, or of those where ``mask`` is true."""
        wkb = self.wkb()
        return polygons_from_wkb(wkb if mask is None else wkb[mask])


def cell_rings(cells: Cells) -> Rings:
    """Closed-ring vertices of the cells' polygons, lng/lat, without building shapely objects:
    ``(xy, idx)`` exactly as ``shapely.get_coordinates(cell_polygons(cells),
    return_index=True)`` returns them (:meth:`CellShapes.rings`)."""
    return CellShapes(cells).rings()


def _arrow_rows(wkb: object) -> NDArray[np.uint8] | None:
    """The WKB values of an arrow binary array as zero-padded rows of one width (pyarrow reads
    the buffers in place); ``None`` without pyarrow."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow comes with the scale extra
        return None
    arr = pa.array(wkb)
    if arr.null_count or arr.type not in (pa.binary(), pa.large_binary()):
        return None
    offsets_buf, data_buf = arr.buffers()[1:3]
    kind = np.int64 if arr.type == pa.large_binary() else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=kind)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    lens = np.diff(offsets)
    width = int(lens.max())
    if (lens == width).all():  # all hexagons (or all pentagons): a view, no copy
        return data.reshape(len(arr), width)
    rows = np.zeros((len(arr), width), dtype=np.uint8)
    rows[np.arange(width) < lens[:, None]] = data
    return rows


def _rows_rings(rows: NDArray[np.uint8]) -> Rings | None:
    """``(xy, idx)`` of one-ring little-endian WKB polygons held as zero-padded byte rows;
    ``None`` when some row is anything else."""
    n, width_bytes = rows.shape
    if width_bytes < _WKB_RING or not (rows[:, :_WKB_HEAD] == _POLYGON_1RING_LE).all():
        return None
    npts = rows[:, _WKB_HEAD:_WKB_RING].copy().view("<u4")[:, 0].astype(np.intp)
    width = int(npts.max())
    if _WKB_RING + 16 * width > width_bytes:
        return None
    block = rows[:, _WKB_RING : _WKB_RING + 16 * width]
    coords = np.ascontiguousarray(block).view("<f8").reshape(n, width, 2)
    idx = np.repeat(np.arange(n, dtype=np.intp), npts)
    if (npts == width).all():
        return coords.reshape(-1, 2), idx
    return coords[np.arange(width) < npts[:, None]], idx


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


def cells_to_arrow_str(cells: Cells) -> Any | None:
    """H3 index strings of ``cells`` as a pyarrow ``large_string`` array, written by h3ronpy
    without a Python string per cell; ``None`` when pyarrow is not installed.

    Examples
    --------
    >>> cells = latlng_to_cell([125.30], [43.80], res=10)
    >>> cells_to_arrow_str(cells).to_pylist() == cells_to_str(cells).tolist()
    True
    """
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow comes with the scale extra
        return None
    return pa.array(h3ronpy.cells_to_string(_u64(cells))).cast(pa.large_string())


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


def arrow_str_to_cells(values: object) -> Cells:
    """``uint64`` cells from an Arrow string array (e.g. a pandas ``str`` column's storage) of
    cells the store wrote: parsed in place by h3ronpy, no Python string per cell. An invalid
    string raises ``ValueError``."""
    import pyarrow as pa

    arr = pa.array(values)
    parsed = h3ronpy.cells_parse(arr, set_failing_to_invalid=True)
    if pa.array(parsed).null_count:
        return str_to_cells(arr.to_pylist())  # names the bad one
    return _u64(pa.array(parsed).to_numpy(zero_copy_only=False))
