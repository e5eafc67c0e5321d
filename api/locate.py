"""In-memory index behind ``GET /api/locate``: point → cell → piece → unit chain and leaders.

Built once at startup from the store (and rebuilt on ``POST /api/admin/refresh`` or after a layer
load); the owners are re-read cheaply (pieces without geometry) after every write through the
service and at most every ``settings.locate_refresh_seconds`` otherwise, so other workers see
edits within that time.

The index is columnar, so it scales to millions of pieces: one numpy array per attribute,
positional over the pieces in store order (by id) — cells (``uint64``, with a sorted copy for
``searchsorted``), ids, unit and owner as codes into small tables of unit codes and leader ids,
area, ``whole``, version, fallback, and the cell's centre as ``float32``. Geometry is kept only
for border pieces (read with ``store.pieces(geometry="border")``, prepared, with their bounds as
``float32`` rounded outward); a whole piece's hexagon comes from h3
(:func:`gridmgr.grid.lazy.fill_geometries`) when a request draws it. So an index holds about 70
bytes per piece plus the border pieces' shapes, and no Python object per piece.

A lookup is one H3 ``latlng_to_cell`` and a binary search; only for a cell split by a unit border
does it test the point against that cell's few pieces with shapely. A bbox filter decides a
whole piece from its centre (inside the box: its bounds meet the box; farther from it than a
cell's radius: they do not) and a border piece from its rounded bounds; only the pieces it cannot
decide that way (a band along the box's edges) get exact bounds, so it selects exactly the pieces
whose bounds meet the box.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from api.geojson import geometry_strings
from gridmgr.grid import h3_adapter as _h3
from gridmgr.grid.lazy import cell_array, fill_geometries

Positions = NDArray[np.int64]
#: how far a float32 centre may be from the true one (half a float32 step below 256°, doubled)
_EPS = 2.0**-15


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


@dataclass(frozen=True)
class Snapshot:
    """Everything one request reads, swapped as one reference (a rebuild or owner refresh
    never shows a request half-old, half-new columns)."""

    res: int | None
    pieces: PieceColumns
    owners: OwnerColumns
    #: unit code → chain [{code, name, level}] from the district down
    chains: dict[str, list[dict[str, str]]]
    leaders: dict[str, dict[str, Any]]
    #: unit code → package leader ids (packages on the unit or an ancestor)
    unit_packagers: dict[str, list[str]]
    #: category → department codes; department code → {code, name, name_en}
    category_departments: dict[str, list[str]]
    departments: dict[str, dict[str, Any]]
    #: exact [minx, miny, maxx, maxy] of all pieces (None: no pieces)
    extent: list[float] | None

    # ---------------------------------------------------------------- per-piece access

    def geometries(self, positions: Any) -> NDArray[np.object_]:
        """Full geometries (MultiPolygons, as the store keeps them) of the pieces at
        ``positions``: border pieces' stored shapes, whole pieces' hexagons from h3."""
        return _geoms_of(self.pieces, np.asarray(positions, dtype=np.int64))

    def geojson(self, positions: Any) -> list[str]:
        """GeoJSON geometry strings of the pieces at ``positions``."""
        return geometry_strings(self.geometries(positions))

    def exact_bounds(self, positions: Any) -> NDArray[np.float64]:
        """Exact (n × 4) bounds of the pieces at ``positions``."""
        pos = np.asarray(positions, dtype=np.int64)
        if len(pos) == 0:
            return np.empty((0, 4))
        return np.asarray(shapely.bounds(self.geometries(pos)), dtype=np.float64)

    def id_list(self, positions: Any) -> list[int]:
        """Piece ids at ``positions`` as Python ints."""
        out: list[int] = self.pieces.ids[np.asarray(positions, dtype=np.int64)].tolist()
        return out

    def positions_of(self, ids: Any) -> Positions:
        """Positions of the pieces with ``ids`` (-1 where no indexed piece has that id)."""
        return _align(self.pieces, np.asarray(ids, dtype=np.int64))


@dataclass
class LocateIndex:
    """The locate endpoint's index (see module docstring); ``data`` is the current
    :class:`Snapshot`, replaced whole by :meth:`rebuild` and :meth:`refresh_owners`."""

    data: Snapshot = field(default_factory=lambda: _empty_snapshot())
    built_at: float = 0.0
    owners_at: float = 0.0
    marker: Any = None
    checking: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def res(self) -> int | None:
        """Resolution of the indexed cells (None: nothing indexed yet)."""
        return self.data.res

    @property
    def piece_ids(self) -> NDArray[np.int64]:
        """Ids of the indexed pieces, in position order."""
        return self.data.pieces.ids

    # ------------------------------------------------------------------ building

    @classmethod
    def from_store(cls, store: Any) -> LocateIndex:
        """Build the index from everything in ``store``."""
        idx = cls()
        idx.rebuild(store)
        return idx

    def rebuild(self, store: Any) -> None:
        """Re-read pieces (geometry of border pieces only), units, leaders and departments."""
        frame = store.pieces(geometry="border")
        pieces = piece_columns(frame)
        owners = owner_columns(frame, pieces)
        del frame
        tables = _tables(store)
        snap = Snapshot(
            res=store.res, pieces=pieces, owners=owners, extent=_extent(pieces), **tables
        )
        with self.lock:
            self.data = snap
            self.built_at = self.owners_at = time.monotonic()
        self.marker = _last_changeset(store)

    def refresh_owners(self, store: Any) -> None:
        """Re-read only the owners (cheap: no geometry)."""
        marker = _last_changeset(store)
        frame = store.pieces(geometry=False)
        with self.lock:
            snap = self.data
            self.data = replace(snap, owners=owner_columns(frame, snap.pieces))
            self.owners_at = time.monotonic()
            self.marker = marker

    def stale(self, max_age: float) -> bool:
        """Whether the owners were last checked more than ``max_age`` seconds ago."""
        return time.monotonic() - self.owners_at > max_age

    def check_owners(self, store: Any) -> None:
        """Re-read the owners only when a change set was written since the last read (another
        worker's edit); the check itself is a one-row query."""
        marker = _last_changeset(store)
        if marker != self.marker:
            self.refresh_owners(store)
            self.marker = marker
        else:
            self.owners_at = time.monotonic()

    async def maybe_refresh(self, store: Any, max_age: float) -> None:
        """:meth:`check_owners` in the thread pool when the last check is older than ``max_age``
        (one request at a time does it)."""
        if not self.stale(max_age) or self.checking:
            return
        from starlette.concurrency import run_in_threadpool

        self.checking = True
        try:
            await run_in_threadpool(self.check_owners, store)
        finally:
            self.checking = False

    # ------------------------------------------------------------------ lookups

    def piece_at(self, lng: float, lat: float) -> tuple[str, int | None]:
        """``(cell, position)`` of the piece containing the point (position None: no piece)."""
        return _piece_at(self.data, lng, lat)

    def locate(
        self, lng: float, lat: float, *, category: str | None = None, phones: bool = False
    ) -> dict[str, Any]:
        """The answer of ``/api/locate`` (phone numbers only with ``phones=True``)."""
        snap = self.data
        cell, pos = _piece_at(snap, lng, lat)
        out: dict[str, Any] = {
            "lat": lat,
            "lng": lng,
            "cell": cell or None,
            "piece_id": None,
            "inside": pos is not None,
            "units": [],
            "leader": None,
            "package_leaders": [],
            "departments": None,
        }
        if category is not None:
            out["departments"] = [
                snap.departments.get(d, {"code": d, "name": d, "name_en": d})
                for d in snap.category_departments.get(category, [])
            ]
        if pos is None:
            return out
        unit = str(snap.pieces.unit_codes[snap.pieces.unit[pos]])
        out["piece_id"] = int(snap.pieces.ids[pos])
        out["units"] = snap.chains.get(unit, [])
        k = int(snap.owners.owner[pos])
        owner = str(snap.owners.leader_ids[k]) if k >= 0 else None
        if owner is not None and owner in snap.leaders:
            out["leader"] = _public(snap.leaders[owner], phones)
        out["package_leaders"] = [
            _public(snap.leaders[i], phones) for i in snap.unit_packagers.get(unit, [])
        ]
        return out


def _piece_at(snap: Snapshot, lng: float, lat: float) -> tuple[str, int | None]:
    if snap.res is None:
        return "", None
    cell = _h3.point_to_cell(lng, lat, res=snap.res)
    p = snap.pieces
    cells, key = p.sorted_cells, np.uint64(int(cell, 16))
    lo = hi = int(cells.searchsorted(key))
    while hi < len(cells) and cells[hi] == key:  # one piece a cell but on unit borders
        hi += 1
    if lo == hi:
        return cell, None
    hits = p.cell_order[lo:hi]
    if len(hits) == 1 and p.whole[hits[0]]:
        return cell, int(hits[0])
    geoms = snap.geometries(hits)
    inside = shapely.contains_xy(geoms, lng, lat)
    if not inside.any():  # on a border line: take the first touching piece
        inside = shapely.intersects_xy(geoms, lng, lat)
    found = np.flatnonzero(inside)
    return cell, (int(hits[int(found[0])]) if len(found) else None)


# ---------------------------------------------------------------------- columns


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
        margin=_cell_margin(_h3.cell_res(int(cells[0])) if n else 0, np.abs(lat).max(initial=0)),
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
        pos = _align(pieces, ids)
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


def _align(pieces: PieceColumns, ids: NDArray[np.int64]) -> Positions:
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


def _cell_margin(res: int, max_abs_lat: float) -> tuple[float, float]:
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
    return float(dx) + _EPS, dy + _EPS


def _extent(pieces: PieceColumns) -> list[float] | None:
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
        exact = shapely.bounds(_geoms_of(pieces, np.concatenate(cand)))[:, col]
        out.append(float(exact.min() if low else exact.max()))
    return out


def _geoms_of(pieces: PieceColumns, pos: Positions) -> NDArray[np.object_]:
    out = np.full(len(pos), None, dtype=object)
    whole = pieces.whole[pos]
    out[~whole] = pieces.border_geoms[np.searchsorted(pieces.border_pos, pos[~whole])]
    if whole.any():
        out = fill_geometries(pieces.cells[pos], out, whole, multi=True)
    return out


# ---------------------------------------------------------------------- units and leaders


def _tables(store: Any) -> dict[str, Any]:
    """Unit chains, leaders, package leaders per unit and departments per category."""
    units = store.units()
    parents = dict(zip(units["code"].astype(str), units["parent"], strict=True))
    info: dict[str, dict[str, str]] = {
        str(r.code): {"code": str(r.code), "name": str(r.name), "level": str(r.level)}
        for r in units[["code", "name", "level"]].itertuples(index=False)
    }
    chains: dict[str, list[dict[str, str]]] = {}
    for code, row in info.items():
        chain = [row]
        seen = {code}
        p = parents.get(code)
        while p is not None and isinstance(p, str) and p in info and p not in seen:
            chain.append(info[p])
            seen.add(p)
            p = parents.get(p)
        chains[code] = chain[::-1]
    leader_rows: dict[str, dict[str, Any]] = {
        str(r["id"]): {
            "id": str(r["id"]),
            "name": str(r["name"]),
            "role": str(r["role"]),
            "department": r["department"] or None,
            "active": bool(r["active"]),
            "unit_packages": list(r["unit_packages"]),
            "phone": r.get("phone") or None,
        }
        for r in store.leaders(include_phone=True).to_dict("records")
    }
    by_unit: dict[str, list[str]] = {}
    for lid, row in leader_rows.items():
        if row["role"] == "package_leader" and row["active"]:
            for u in row["unit_packages"]:
                by_unit.setdefault(str(u), []).append(lid)
    cat_dep: dict[str, list[str]] = {}
    for r in store.categories().to_dict("records"):
        if r.get("department"):
            cat_dep.setdefault(str(r["category"]), []).append(str(r["department"]))
    return {
        "chains": chains,
        "leaders": leader_rows,
        "unit_packagers": {
            code: sorted({lid for u in chain for lid in by_unit.get(u["code"], [])})
            for code, chain in chains.items()
        },
        "category_departments": cat_dep,
        "departments": {
            str(r["code"]): {"code": str(r["code"]), "name": r["name"], "name_en": r["name_en"]}
            for r in store.departments().to_dict("records")
        },
    }


def _empty_snapshot() -> Snapshot:
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
    return Snapshot(None, pieces, owners, {}, {}, {}, {}, {}, None)


def _public(row: dict[str, Any], phones: bool) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "name": row["name"],
        "role": row["role"],
        "department": row["department"],
        "active": row["active"],
    }
    if phones:
        out["phone"] = row["phone"]
    return out


def _last_changeset(store: Any) -> Any:
    """Id and time of the newest change set (changes whenever assignments may have changed)."""
    last = store.changesets(limit=1)
    return None if last.empty else (str(last["id"].iloc[0]), str(last["at"].iloc[0]))


# ---------------------------------------------------------------------- queries


def _snap(index: LocateIndex | Snapshot) -> Snapshot:
    return index.data if isinstance(index, LocateIndex) else index


def select_pieces(
    index: LocateIndex | Snapshot,
    *,
    scope: str | None = None,
    leader: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> Positions:
    """Positions (ascending) of the indexed pieces in unit ``scope`` (any level), held by
    ``leader``, and whose bounds meet ``bbox`` (minx, miny, maxx, maxy; edges included)."""
    snap = _snap(index)
    p = snap.pieces
    n = len(p)
    keep = np.ones(n, dtype=bool)
    if scope is not None:
        inside = {
            code for code, chain in snap.chains.items() if any(u["code"] == scope for u in chain)
        }
        in_unit = np.fromiter(
            (c in inside for c in p.unit_codes), dtype=bool, count=len(p.unit_codes)
        )
        keep &= in_unit[p.unit] if len(in_unit) else False
    if leader is not None:
        hit = np.flatnonzero(snap.owners.leader_ids == leader)
        keep &= (snap.owners.owner == hit[0]) if len(hit) else False
    if bbox is not None and n:
        keep &= _meets(snap, bbox, keep)
    return np.flatnonzero(keep)


def _meets(snap: Snapshot, bbox: tuple[float, float, float, float], among: Any) -> Any:
    """Which pieces' exact bounds meet ``bbox``. A whole piece whose centre is inside the box
    meets it, one whose centre is farther from it than the cell's radius does not; a border
    piece is decided by its rounded bounds unless one equals the box edge rounded the same
    way. Only the undecided (among ``among``) get exact bounds."""
    p = snap.pieces
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    dx, dy = p.margin
    x, y = p.centre[:, 0], p.centre[:, 1]
    out = (
        (x >= _f32_up(minx + _EPS))
        & (x <= _f32_down(maxx - _EPS))
        & (y >= _f32_up(miny + _EPS))
        & (y <= _f32_down(maxy - _EPS))
    )
    near = (
        (x >= _f32_down(minx - dx))
        & (x <= _f32_up(maxx + dx))
        & (y >= _f32_down(miny - dy))
        & (y <= _f32_up(maxy + dy))
    )
    unsure = near & ~out & among & p.whole
    out &= p.whole
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
        e = snap.exact_bounds(pos)
        out[pos] = (e[:, 0] <= maxx) & (e[:, 1] <= maxy) & (e[:, 2] >= minx) & (e[:, 3] >= miny)
    return out


def piece_properties(index: LocateIndex | Snapshot, positions: Any) -> list[dict[str, Any]]:
    """Properties of the pieces at ``positions`` (no personal data)."""
    snap = _snap(index)
    p, o = snap.pieces, snap.owners
    pos = np.asarray(positions, dtype=np.int64)
    cells = _h3.cells_to_str(p.cells[pos]).tolist()
    units = p.unit_codes[p.unit[pos]].tolist()
    owner = o.owner[pos]
    leaders = np.full(len(pos), None, dtype=object)
    held = owner >= 0
    leaders[held] = o.leader_ids[owner[held]]
    cols = zip(
        p.ids[pos].tolist(),
        cells,
        units,
        p.area[pos].tolist(),
        p.whole[pos].tolist(),
        leaders.tolist(),
        o.fallback[pos].tolist(),
        o.version[pos].tolist(),
        strict=True,
    )
    keys = ("id", "cell", "unit_code", "area_m2", "whole", "leader_id", "fallback", "version")
    return [dict(zip(keys, row, strict=True)) for row in cols]
