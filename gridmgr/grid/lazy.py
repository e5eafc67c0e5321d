"""Lazy pieces: a whole piece is its cell; its geometry comes from h3 only when it is needed.

95 % of a province's pieces are whole cells, and a whole piece's geometry is exactly
:func:`~gridmgr.grid.h3_adapter.cell_polygons` of its cell (``pieces_of`` stores that very
polygon). So a pieces frame may leave ``geometry`` empty (``None``) where ``whole`` is true: the
*lazy* form of the pieces contract (``docs/architecture.md``). Only border pieces carry clipped
geometry. Consumers that need shapes fill them where they use them:

* :func:`fill_geometries` — the geometry array with every empty whole piece filled;
* :func:`materialize` — a frame in the full form (a no-op on a full frame);
* :class:`LazyGeoms` — an array-like over the pieces whose ``[selection]`` fills only the
  selected pieces, so a consumer holds one unit's or one finding's hexagons at a time.

Filled geometries are the same objects the serial build makes, so results do not change.

Examples
--------
>>> import numpy as np
>>> from gridmgr.grid import h3_adapter as h3a
>>> cells = h3a.latlng_to_cell([125.30, 125.31], [43.80, 43.81], res=9)
>>> geoms = np.array([None, None], dtype=object)
>>> lazy = LazyGeoms(cells, geoms, np.array([True, True]))
>>> len(lazy), lazy[np.array([1])][0].equals(h3a.cell_polygons(cells[1:])[0])
(2, True)
>>> bool(lazy.missing().all())
True
>>> x, y, ok = hexagon_rings(cells)
>>> bool(ok.all()), x.shape, bool((x[:, 0] == x[:, 6]).all())
(True, (2, 7), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray

from gridmgr.grid import h3_adapter as _h3

if TYPE_CHECKING:
    import pandas as pd

ObjArray = NDArray[np.object_]
BoolArray = NDArray[np.bool_]


def cell_array(cells: Any) -> _h3.Cells:
    """``uint64`` cells from a column of h3 strings or integers (a pandas column of arrow
    strings is parsed in place, without a Python string per cell)."""
    values = getattr(cells, "array", cells)
    if type(values).__name__ == "ArrowStringArray":
        return _h3.arrow_str_to_cells(values)
    values = np.asarray(values)
    if values.dtype == np.uint64:
        return values
    if values.dtype.kind in "iu":
        return values.astype(np.uint64)
    return _h3.str_to_cells(values.tolist())


def _empty(geoms: ObjArray) -> BoolArray:
    return np.asarray(shapely.is_missing(geoms), dtype=bool)


def fill_geometries(cells: Any, geoms: Any, whole: Any, *, multi: bool = False) -> ObjArray:
    """``geoms`` (object array, ``None`` allowed) with every empty whole piece's hexagon filled.

    A new array; ``geoms`` is not changed. Filled hexagons are Polygons as the grid build makes
    them, or with ``multi`` one-part MultiPolygons as the store keeps them. An empty geometry
    that is *not* whole stays empty: it is the caller's data error, not something to invent.
    """
    out = np.array(geoms, dtype=object, copy=True)
    need = _empty(out) & np.asarray(whole, dtype=bool)
    if need.any():
        polys = _h3.cell_polygons(cell_array(cells)[need])
        if multi:
            polys = shapely.multipolygons(polys, indices=np.arange(len(polys)))
        out[need] = polys
    return out


#: WKB of a hexagon as h3ronpy writes it: little-endian Polygon, one ring of 7 points.
_HEX_HEADER = bytes.fromhex("01030000000100000007000000")
_HEX_WKB_LEN = len(_HEX_HEADER) + 7 * 16
_RING_CHUNK = 250_000


def _rings_chunk(cells: _h3.Cells) -> tuple[NDArray[np.float64], BoolArray]:
    import pyarrow as pa

    wkb = pa.array(_h3.cells_wkb(cells))
    width = np.int64 if pa.types.is_large_binary(wkb.type) else np.int32  # binary: 32-bit offsets
    offsets = np.frombuffer(wkb.buffers()[1], dtype=width)[wkb.offset : wkb.offset + len(wkb) + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(wkb.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    header = np.frombuffer(_HEX_HEADER, dtype=np.uint8)
    if (np.diff(offsets) == _HEX_WKB_LEN).all():  # the common case: a zero-copy view
        rows = data.reshape(-1, _HEX_WKB_LEN)
        ok = (rows[:, : len(header)] == header).all(axis=1)
        xy = np.ascontiguousarray(rows[ok, len(header) :]).view("<f8").reshape(-1, 7, 2)
        return xy.astype(np.float64, copy=False), ok
    ok = np.zeros(len(cells), dtype=bool)
    blobs = [bytes(b) for b in wkb.to_pylist()]  # rare: a pentagon or distorted cell in the chunk
    good = [i for i, b in enumerate(blobs) if len(b) == _HEX_WKB_LEN and b.startswith(_HEX_HEADER)]
    ok[good] = True
    body = b"".join(blobs[i][len(_HEX_HEADER) :] for i in good)
    xy = np.frombuffer(body, dtype="<f8").reshape(-1, 7, 2)
    return xy.astype(np.float64, copy=True), ok


def hexagon_rings(cells: Any) -> tuple[NDArray[np.float64], NDArray[np.float64], BoolArray]:
    """Closed rings of the cells that h3 draws as plain hexagons (7 coordinates), without shapely.

    Returns ``x``, ``y`` of shape (m, 7) for the ``m`` cells where ``ok`` is true, in the order
    of ``cells``: the same doubles as the coordinates of :func:`fill_geometries`' hexagons. Cells
    that are not plain hexagons (pentagons, cells crossing an icosahedron edge) have ``ok``
    false; their shapes come from :func:`fill_geometries`.
    """
    cells = cell_array(cells)
    xs, oks = [], []
    for lo in range(0, len(cells), _RING_CHUNK):
        xy, ok = _rings_chunk(cells[lo : lo + _RING_CHUNK])
        xs.append(xy)
        oks.append(ok)
    if not xs:
        return np.zeros((0, 7)), np.zeros((0, 7)), np.zeros(0, dtype=bool)
    xy = np.concatenate(xs)
    return np.ascontiguousarray(xy[:, :, 0]), np.ascontiguousarray(xy[:, :, 1]), np.concatenate(oks)


def is_lazy(pieces: pd.DataFrame) -> bool:
    """Whether some whole piece of ``pieces`` has no geometry (the lazy form)."""
    if "geometry" not in pieces.columns or len(pieces) == 0:
        return False
    geoms = np.asarray(pieces["geometry"].values, dtype=object)
    return bool((_empty(geoms) & pieces["whole"].to_numpy(dtype=bool)).any())


def materialize(pieces: pd.DataFrame, *, multi: bool = False) -> pd.DataFrame:
    """``pieces`` in the full form: a copy with whole pieces' geometry filled (Polygons, or
    MultiPolygons with ``multi`` as the store keeps them), or ``pieces`` itself when nothing is
    missing."""
    if not is_lazy(pieces):
        return pieces
    out = pieces.copy()
    out["geometry"] = fill_geometries(
        pieces["cell"].to_numpy(),
        pieces["geometry"].values,
        pieces["whole"].to_numpy(),
        multi=multi,
    )
    return out


def drop_whole(geoms: Any, whole: Any) -> ObjArray:
    """``geoms`` with whole pieces' geometry emptied (``None``): full form → lazy form."""
    out = np.array(geoms, dtype=object, copy=True)
    out[np.asarray(whole, dtype=bool)] = None
    return out


class LazyGeoms:
    """Piece geometries that are filled from h3 on access (see the module docstring).

    ``lazy[sel]`` (``sel`` an index array, a boolean mask or a slice) returns an object array of
    shapely geometries, full form; ``len(lazy)`` is the number of pieces. Nothing is cached:
    each access builds its hexagons again, so memory holds only what the caller keeps.
    """

    def __init__(self, cells: Any, geoms: Any, whole: Any, *, multi: bool = False) -> None:
        self._geoms = np.asarray(geoms, dtype=object)
        self._whole = np.asarray(whole, dtype=bool)
        self._cells = cells  # converted to uint64 on first use (cell_array)
        self._u64: _h3.Cells | None = None
        self._multi = multi

    def __len__(self) -> int:
        return len(self._geoms)

    def _cell_u64(self) -> _h3.Cells:
        if self._u64 is None:
            self._u64 = cell_array(self._cells)
        return self._u64

    def __getitem__(self, sel: Any) -> ObjArray:
        geoms = np.atleast_1d(self._geoms[sel])
        whole = np.atleast_1d(self._whole[sel])
        need = _empty(geoms) & whole
        if not need.any():
            return np.array(geoms, dtype=object, copy=True)
        cells = np.atleast_1d(self._cell_u64()[sel])
        return fill_geometries(cells, geoms, whole, multi=self._multi)

    def missing(self) -> BoolArray:
        """Which pieces have no stored geometry (whole pieces in the lazy form)."""
        return _empty(self._geoms)


__all__: Sequence[str] = [
    "LazyGeoms",
    "cell_array",
    "drop_whole",
    "fill_geometries",
    "hexagon_rings",
    "is_lazy",
    "materialize",
]
