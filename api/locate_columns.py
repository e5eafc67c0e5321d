"""The columns of the locate index (:mod:`api.locate`): pieces and owners as numpy arrays.

Positional over the pieces in store order (by id): cells (``uint64``, with a sorted copy for
``searchsorted``), ids, unit and owner as codes into small tables of unit codes and leader ids,
area, ``whole``, version, fallback, and the cell's centre as ``float32``. Geometry is kept only
for border pieces (prepared, with their bounds as ``float32`` rounded outward); a whole piece's
hexagon comes from h3 (:func:`gridmgr.grid.lazy.fill_geometries`) when it is drawn. About 70 bytes
a piece plus the border pieces' shapes, and no Python object per piece.

Bounds are exact where it matters: :func:`bbox_meets` decides a whole piece from its centre
(inside the box: its bounds meet the box; farther from it than a cell's radius,
:func:`cell_margin`: they do not) and a border piece from its rounded bounds; only the pieces it
cannot decide that way (a band along the box's edges) get exact bounds, so it selects exactly the
pieces whose bounds meet the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmgr.grid import h3_adapter as _h3
from gridmgr.grid.lazy import cell_array, fill_geometries

Positions = NDArray[np.int64]
#: how far a float32 centre may be from the true one (half a float32 step below 256°, doubled)
EPS = 2.0**-15


@dataclass(frozen=True)
class PieceColumns:
    """The pieces as numpy columns, positional in store order (see the module docstring)."""

    ids: NDArray[np.int64]
    cells: NDArray[np.uint64]
    #: ``cells`` sorted, and the positions in that order (stable: equal cells by position)
    sorted_cells: NDArray[np.uint64]
    cell_order: NDArray[np.int64]
    #: index into ``unit_codes``
    unit: NDArray[np.int32]
    unit_codes: NDArray[np.object_]
    area: NDArray[np.float64]
    whole: NDArray[np.bool_]
    #: (n × 2) lng, lat of each piece's cell centre as float32
    centre: NDArray[np.float32]
    #: (dx, dy) in degrees: no vertex of an indexed cell is farther from its centre
    margin: tuple[float, float]
    #: positions of the border pieces (ascending), their prepared geometries, and their bounds
    #: (n_border × 4) as float32: mins rounded down, maxes rounded up
    border_pos: NDArray[np.int64]
    border_geoms: NDArray[np.object_]
    border_bounds: NDArray[np.float32]
    #: positions by id when ``ids`` is not ascending (else None)
    id_order: NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class OwnerColumns:
    """Current owner of each piece: index into ``leader_ids`` (-1: nobody), version, fallback."""

    owner: NDArray[np.int32]
    leader_ids: NDArray[np.object_]
    version: NDArray[np.int64]
    fallback: NDArray[np.bool_]


def piece_columns(frame: Any) -> PieceColumns:
    """:class:`PieceColumns` of a pieces frame in the lazy form (``store.pieces(geometry=
    "border")``; a full frame works too: its whole pieces' shapes are simply not kept)."""
    n = len(frame)
    ids = frame["id"].to_numpy(dtype=np.int64)
    cells = cell_array(frame["cell"].to_numpy()) if n else np.empty(0, dtype=np.uint64)
    order = np.argsort(cells, kind="stable").astype(np.int64)
    unit, unit_codes = pd.factorize(frame["unit_code"].astype(str), sort=True)
    whole = frame["whole"].to_numpy(dtype=bool)
    border_pos = np.flatnonzero(~whole).astype(np.int64)
    border_geoms = np.asarray(frame.geometry.values, dtype=object)[border_pos]
    shapely.prepare(border_geoms)
    border_bounds = _outward(shapely.bounds(border_geoms).reshape(-1, 4))
    lng, lat = _h3.cell_centers(cells)
    centre = np.empty((n, 2), dtype=np.float32)
    centre[:, 0], centre[:, 1] = lng, lat
    id_order = None if n < 2 or bool((np.diff(ids) > 0).all()) else np.argsort(ids, kind="stable")
    return PieceColumns(
        ids=ids,
        cells=cells,
        sorted_cells=cells[order],
        cell_order=order,
        unit=unit.astype(np.int32),
        unit_codes=np.asarray(unit_codes, dtype=object),
        area=np.round(frame["area_m2"].to_numpy(dtype=np.float64), 3),
        whole=whole,
        centre=centre,
        margin=cell_margin(_h3.cell_res(int(cells[0])) if n else 0, np.abs(lat).max(initial=0)),
        border_pos=border_pos,
        border_geoms=border_geoms,
        border_bounds=border_bounds,
        id_order=id_order,
    )


def owner_columns(frame: Any, pieces: PieceColumns) -> OwnerColumns:
    """:class:`OwnerColumns` aligned to ``pieces`` from a frame with ``id``, ``leader_id``,
    ``version`` and ``fallback`` (pieces missing from ``frame``: no owner, version 0)."""
    n = len(pieces)
    codes, leader_ids = pd.factorize(frame["leader_id"].to_numpy(dtype=object))
    owner = np.full(n, -1, dtype=np.int32)
    version = np.zeros(n, dtype=np.int64)
    fallback = np.zeros(n, dtype=bool)
    ids = frame["id"].to_numpy(dtype=np.int64)
    if len(ids) == n and np.array_equal(ids, pieces.ids):
        pos: Positions = np.arange(n, dtype=np.int64)
    else:
        pos = align(pieces, ids)
    ok = pos >= 0
    owner[pos[ok]] = codes[ok]
    version[pos[ok]] = frame["version"].to_numpy(dtype=np.int64)[ok]
    fallback[pos[ok]] = frame["fallback"].to_numpy(dtype=bool)[ok]
    return OwnerColumns(
        owner=owner,
        leader_ids=np.asarray(leader_ids, dtype=object),
        version=version,
        fallback=fallback,
    )


def align(pieces: PieceColumns, ids: NDArray[np.int64]) -> Positions:
    """Positions in ``pieces`` of ``ids`` (-1 for ids not there)."""
    n = len(pieces)
    if n == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    at = np.searchsorted(pieces.ids, ids, sorter=pieces.id_order)
    at = np.clip(at, 0, n - 1)
    pos = at if pieces.id_order is None else pieces.id_order[at]
    return np.where(pieces.ids[pos] == ids, pos, -1).astype(np.int64)


def _outward(b: Any) -> NDArray[np.float32]:
    """(n × 4) float64 bounds as float32, mins rounded down and maxes rounded up."""
    src: NDArray[np.float64] = np.asarray(b, dtype=np.float64)
    out: NDArray[np.float32] = src.astype(np.float32)
    lo, hi = out[:, :2], out[:, 2:]
    down = lo.astype(np.float64) > src[:, :2]
    up = hi.astype(np.float64) < src[:, 2:]
    lo[down] = np.nextafter(lo[down], np.float32(-np.inf))
    hi[up] = np.nextafter(hi[up], np.float32(np.inf))
    return out


def _f32_down(x: float) -> np.float32:
    """The largest float32 ≤ ``x``."""
    f = np.float32(x)
    return np.nextafter(f, np.float32(-np.inf)) if float(f) > x else f


def _f32_up(x: float) -> np.float32:
    """The smallest float32 ≥ ``x``."""
    f = np.float32(x)
    return np.nextafter(f, np.float32(np.inf)) if float(f) < x else f


def cell_margin(res: int, max_abs_lat: float) -> tuple[float, float]:
    """``(dx, dy)`` degrees that no vertex of a res-``res`` cell centred within ``max_abs_lat``
    of the equator lies farther from its centre (plus the float32 error of a centre).

    An H3 cell's radius is about its edge length, and the cells of one resolution differ in
    area by less than a factor 2; twice the average edge length (1,281 km at res 0, ÷ √7 a
    resolution) bounds it with room to spare. Near a pole every centre is "near" (dx 360°).
    """
    radius_m = 2.0 * 1_281_256.0 / 7.0 ** (res / 2)
    dy = radius_m / 110_000.0
    lat = float(max_abs_lat) + dy
    dx = radius_m / (110_000.0 * np.cos(np.radians(lat))) if lat < 89.0 else 360.0
    return float(dx) + EPS, dy + EPS


def extent(pieces: PieceColumns) -> list[float] | None:
    """Exact extent, from exact bounds of the few pieces that can hold each side: border
    pieces whose rounded bound is the extreme one, whole pieces within two cell radii of the
    extreme centre."""
    n = len(pieces)
    if n == 0:
        return None
    whole = np.flatnonzero(pieces.whole)
    c = pieces.centre[whole]
    b = pieces.border_bounds
    out = []
    for col in range(4):
        low = col < 2
        cand = []
        if len(whole):
            v = c[:, col % 2]
            m = 2 * pieces.margin[col % 2]
            near = v <= v.min() + m if low else v >= v.max() - m
            cand.append(whole[near])
        if len(b):
            v = b[:, col]
            cand.append(pieces.border_pos[v == (v.min() if low else v.max())])
        exact = shapely.bounds(geometries(pieces, np.concatenate(cand)))[:, col]
        out.append(float(exact.min() if low else exact.max()))
    return out


def geometries(pieces: PieceColumns, pos: Positions) -> NDArray[np.object_]:
    """Full geometries (MultiPolygons, as the store keeps them) of the pieces at ``pos``:
    border pieces' stored shapes, whole pieces' hexagons from h3."""
    out = np.full(len(pos), None, dtype=object)
    whole = pieces.whole[pos]
    out[~whole] = pieces.border_geoms[np.searchsorted(pieces.border_pos, pos[~whole])]
    if whole.any():
        out = fill_geometries(pieces.cells[pos], out, whole, multi=True)
    return out


def bbox_meets(p: PieceColumns, bbox: tuple[float, float, float, float], among: Any) -> Any:
    """Which pieces' exact bounds meet ``bbox``. A whole piece whose centre is inside the box
    meets it, one whose centre is farther from it than the cell's radius does not; a border
    piece is decided by its rounded bounds unless one equals the box edge rounded the same
    way. Only the undecided (among ``among``) get exact bounds."""
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    dx, dy = p.margin
    x = p.centre[:, 0]
    at = np.flatnonzero((x >= _f32_down(minx - dx)) & (x <= _f32_up(maxx + dx)))
    cx, cy = x[at], p.centre[at, 1]
    near = (cy >= _f32_down(miny - dy)) & (cy <= _f32_up(maxy + dy))
    at, cx, cy = at[near], cx[near], cy[near]
    sure = (cx >= _f32_up(minx + EPS)) & (cx <= _f32_down(maxx - EPS))
    sure &= (cy >= _f32_up(miny + EPS)) & (cy <= _f32_down(maxy - EPS))
    out = np.zeros(len(p), dtype=bool)
    out[at[sure]] = True
    out &= p.whole
    unsure = np.zeros(len(p), dtype=bool)
    unsure[at[~sure]] = True
    unsure &= among & p.whole
    b = p.border_bounds
    if len(b):
        x1, y1 = _f32_down(maxx), _f32_down(maxy)  # border mins (rounded down) against these
        x0, y0 = _f32_up(minx), _f32_up(miny)  # border maxes (rounded up) against these
        cand = (b[:, 0] <= x1) & (b[:, 1] <= y1) & (b[:, 2] >= x0) & (b[:, 3] >= y0)
        edge = (b[:, 0] == x1) | (b[:, 1] == y1) | (b[:, 2] == x0) | (b[:, 3] == y0)
        out[p.border_pos] = cand
        unsure[p.border_pos[cand & edge]] = True
        unsure &= among
    pos = np.flatnonzero(unsure)
    if len(pos):
        e = shapely.bounds(geometries(p, pos))
        out[pos] = (e[:, 0] <= maxx) & (e[:, 1] <= maxy) & (e[:, 2] >= minx) & (e[:, 3] >= miny)
    return out


def empty_columns() -> tuple[PieceColumns, OwnerColumns]:
    """Columns of no pieces."""
    none = np.empty(0, dtype=np.int64)
    pieces = PieceColumns(
        ids=none,
        cells=np.empty(0, dtype=np.uint64),
        sorted_cells=np.empty(0, dtype=np.uint64),
        cell_order=none,
        unit=np.empty(0, dtype=np.int32),
        unit_codes=np.empty(0, dtype=object),
        area=np.empty(0),
        whole=np.empty(0, dtype=bool),
        centre=np.empty((0, 2), dtype=np.float32),
        margin=(0.0, 0.0),
        border_pos=none,
        border_geoms=np.empty(0, dtype=object),
        border_bounds=np.empty((0, 4), dtype=np.float32),
    )
    owners = OwnerColumns(
        owner=np.empty(0, dtype=np.int32),
        leader_ids=np.empty(0, dtype=object),
        version=none,
        fallback=np.empty(0, dtype=bool),
    )
    return pieces, owners
