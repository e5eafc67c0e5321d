"""In-memory index behind ``GET /api/locate``: point → cell → piece → unit chain and leaders.

Built once at startup from the store (and rebuilt on ``POST /api/admin/refresh`` or after a layer
load); the owners are re-read cheaply (pieces without geometry) after every write through the
service and at most every ``settings.locate_refresh_seconds`` otherwise, so other workers see
edits within that time.

The index is columnar, so it scales to millions of pieces: numpy arrays positional over the
pieces, geometry only for border pieces (:mod:`api.locate_columns`). A lookup is one H3
``latlng_to_cell`` and a binary search; only for a cell split by a unit border does it test the
point against that cell's few pieces with shapely. GeoJSON is drawn for the pieces a request
returns, and bbox filters select exactly the pieces whose bounds meet the box.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from api.geojson import geometry_strings
from api.locate_columns import (
    OwnerColumns,
    PieceColumns,
    Positions,
    align,
    bbox_meets,
    empty_columns,
    extent,
    geometries,
    owner_columns,
    piece_columns,
)

__all__ = ["LocateIndex", "Snapshot", "piece_properties", "select_pieces"]
from gridmgr.grid import h3_adapter as _h3


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
        return geometries(self.pieces, np.asarray(positions, dtype=np.int64))

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
        return align(self.pieces, np.asarray(ids, dtype=np.int64))


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
            res=store.res, pieces=pieces, owners=owners, extent=extent(pieces), **tables
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
    pieces, owners = empty_columns()
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
        keep &= bbox_meets(snap.pieces, bbox, keep)
    return np.flatnonzero(keep)


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
