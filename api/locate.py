"""In-memory index behind ``GET /api/locate``: point → cell → piece → unit chain and leaders.

Built once at startup from the store (and rebuilt on ``POST /api/admin/refresh`` or after a layer
load); the owners are re-read cheaply (pieces without geometry) after every write through the
service and at most every ``settings.locate_refresh_seconds`` otherwise, so other workers see
edits within that time. A lookup is one H3 ``latlng_to_cell`` and a dict lookup; only for a cell
split by a unit border does it test the point against that cell's few pieces with shapely.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from api.geojson import geometry_strings
from gridmgr.grid import h3_adapter as _h3


@dataclass
class LocateIndex:
    """Lookup tables of the locate endpoint (see module docstring)."""

    res: int | None = None
    #: cell string → positions into the piece arrays
    by_cell: dict[str, list[int]] = field(default_factory=dict)
    piece_ids: list[int] = field(default_factory=list)
    piece_units: list[str] = field(default_factory=list)
    piece_geoms: Any = None
    piece_whole: list[bool] = field(default_factory=list)
    owners: dict[int, str | None] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)
    fallbacks: dict[int, bool] = field(default_factory=dict)
    #: per piece: GeoJSON geometry string, and bounds (n × 4) for bbox filters
    piece_json: list[str] = field(default_factory=list)
    piece_bounds: Any = None
    piece_cells: list[str] = field(default_factory=list)
    piece_area: list[float] = field(default_factory=list)
    #: unit code → chain [{code, name, level}] from the district down
    chains: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    leaders: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: unit code → package leader ids (packages on the unit or an ancestor)
    unit_packagers: dict[str, list[str]] = field(default_factory=dict)
    #: category → department codes; department code → {code, name, name_en}
    category_departments: dict[str, list[str]] = field(default_factory=dict)
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    built_at: float = 0.0
    owners_at: float = 0.0
    marker: Any = None
    checking: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------------ building

    @classmethod
    def from_store(cls, store: Any) -> LocateIndex:
        """Build the index from everything in ``store``."""
        idx = cls()
        idx.rebuild(store)
        return idx

    def rebuild(self, store: Any) -> None:
        """Re-read pieces, units, leaders and departments."""
        pieces = store.pieces()
        units = store.units()
        leaders = store.leaders(include_phone=True)
        cats = store.categories()
        deps = store.departments()
        by_cell: dict[str, list[int]] = {}
        cells = pieces["cell"].astype(str).tolist()
        for pos, cell in enumerate(cells):
            by_cell.setdefault(cell, []).append(pos)
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
            for r in leaders.to_dict("records")
        }
        by_unit: dict[str, list[str]] = {}
        for lid, row in leader_rows.items():
            if row["role"] == "package_leader" and row["active"]:
                for u in row["unit_packages"]:
                    by_unit.setdefault(str(u), []).append(lid)
        unit_packagers = {
            code: sorted({lid for u in chain for lid in by_unit.get(u["code"], [])})
            for code, chain in chains.items()
        }
        cat_dep: dict[str, list[str]] = {}
        for r in cats.to_dict("records"):
            if r.get("department"):
                cat_dep.setdefault(str(r["category"]), []).append(str(r["department"]))
        with self.lock:
            self.res = store.res
            self.by_cell = by_cell
            self.piece_ids = pieces["id"].astype(int).tolist()
            self.piece_units = pieces["unit_code"].astype(str).tolist()
            self.piece_whole = pieces["whole"].astype(bool).tolist()
            self.piece_geoms = np.asarray(pieces.geometry.values, dtype=object)
            shapely.prepare(self.piece_geoms)
            self.piece_cells = cells
            self.piece_area = pieces["area_m2"].astype(float).round(3).tolist()
            self.piece_json = geometry_strings(self.piece_geoms)
            self.piece_bounds = shapely.bounds(self.piece_geoms) if len(cells) else np.empty((0, 4))
            self._set_owners(pieces)
            self.chains = chains
            self.leaders = leader_rows
            self.unit_packagers = unit_packagers
            self.category_departments = cat_dep
            self.departments = {
                str(r["code"]): {"code": str(r["code"]), "name": r["name"], "name_en": r["name_en"]}
                for r in deps.to_dict("records")
            }
            self.built_at = self.owners_at = time.monotonic()
        self.marker = _last_changeset(store)

    def refresh_owners(self, store: Any) -> None:
        """Re-read only the owners (cheap: no geometry)."""
        marker = _last_changeset(store)
        frame = store.pieces(geometry=False)
        with self.lock:
            self._set_owners(frame)
            self.marker = marker

    def _set_owners(self, frame: Any) -> None:
        ids = frame["id"].astype(int).tolist()
        self.owners = dict(zip(ids, frame["leader_id"].tolist(), strict=True))
        self.versions = dict(zip(ids, frame["version"].astype(int).tolist(), strict=True))
        self.fallbacks = dict(zip(ids, frame["fallback"].astype(bool).tolist(), strict=True))
        self.owners_at = time.monotonic()

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
        if self.res is None:
            return "", None
        cell = _h3.point_to_cell(lng, lat, res=self.res)
        hits = self.by_cell.get(cell)
        if not hits:
            return cell, None
        if len(hits) == 1 and self.piece_whole[hits[0]]:
            return cell, hits[0]
        inside = shapely.contains_xy(self.piece_geoms[hits], lng, lat)
        if not inside.any():  # on a border line: take the first touching piece
            inside = shapely.intersects_xy(self.piece_geoms[hits], lng, lat)
        found = np.flatnonzero(inside)
        return cell, (hits[int(found[0])] if len(found) else None)

    def locate(
        self, lng: float, lat: float, *, category: str | None = None, phones: bool = False
    ) -> dict[str, Any]:
        """The answer of ``/api/locate`` (phone numbers only with ``phones=True``)."""
        cell, pos = self.piece_at(lng, lat)
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
                self.departments.get(d, {"code": d, "name": d, "name_en": d})
                for d in self.category_departments.get(category, [])
            ]
        if pos is None:
            return out
        unit = self.piece_units[pos]
        pid = self.piece_ids[pos]
        out["piece_id"] = pid
        out["units"] = self.chains.get(unit, [])
        owner = self.owners.get(pid)
        if owner is not None and owner in self.leaders:
            out["leader"] = _public(self.leaders[owner], phones)
        out["package_leaders"] = [
            _public(self.leaders[i], phones) for i in self.unit_packagers.get(unit, [])
        ]
        return out


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


def select_pieces(
    index: LocateIndex,
    *,
    scope: str | None = None,
    leader: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> list[int]:
    """Positions of the indexed pieces in unit ``scope`` (any level), held by ``leader``, and
    whose bounds meet ``bbox`` (minx, miny, maxx, maxy)."""
    n = len(index.piece_ids)
    keep = np.ones(n, dtype=bool)
    if scope is not None:
        inside = {
            code for code, chain in index.chains.items() if any(u["code"] == scope for u in chain)
        }
        keep &= np.fromiter((u in inside for u in index.piece_units), dtype=bool, count=n)
    if leader is not None:
        keep &= np.fromiter(
            (index.owners.get(i) == leader for i in index.piece_ids), dtype=bool, count=n
        )
    if bbox is not None and n:
        b = index.piece_bounds
        keep &= (
            (b[:, 0] <= bbox[2])
            & (b[:, 2] >= bbox[0])
            & (b[:, 1] <= bbox[3])
            & (b[:, 3] >= bbox[1])
        )
    return np.flatnonzero(keep).tolist()


def piece_properties(index: LocateIndex, positions: list[int]) -> list[dict[str, Any]]:
    """Properties of the pieces at ``positions`` (no personal data)."""
    out = []
    for p in positions:
        pid = index.piece_ids[p]
        out.append(
            {
                "id": pid,
                "cell": index.piece_cells[p],
                "unit_code": index.piece_units[p],
                "area_m2": index.piece_area[p],
                "whole": index.piece_whole[p],
                "leader_id": index.owners.get(pid),
                "fallback": index.fallbacks.get(pid, False),
                "version": index.versions.get(pid, 0),
            }
        )
    return out
