"""What gridmgr derives when a problem is reported: from a point (and a time) to who answers.

The piece containing the point (through its H3 cell at the store's resolution, then the exact
piece geometry), the unit chain (lowest unit, community, street), the territorial leader who held
the piece *at that moment* (replayed from the assignment events, so it is kept as it was even
after later reassignments), the nearest key place within a radius and its package leader, and the
owning department of the category. Distances in metres in a local transverse Mercator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyproj
import shapely
from sqlalchemy import Connection

from gridmgr.errors import InputError
from gridmgr.grid.h3_adapter import point_to_cell
from gridmgr.i18n import t
from gridmgr.patrol.stops import local_metric_crs
from gridmgr.problems.categories import Category
from gridmgr.store import layers as store_layers
from gridmgr.store import problems as repo
from gridmgr.store.geom import from_wkb


@dataclass(frozen=True)
class Derived:
    """The responsibility facts of a report (stored with the problem, never recomputed)."""

    piece_id: int
    cell: str
    unit_code: str
    community_code: str | None
    street_code: str | None
    leader_id: str | None
    fallback: bool
    place_code: str | None
    place_distance_m: float | None
    place_leader_id: str | None
    department: str | None

    def as_row(self) -> dict[str, Any]:
        """Column values for ``problems``."""
        return asdict(self)


def check_point(lng: float, lat: float) -> None:
    """A finite WGS-84 position inside China's bounding box, else an :class:`InputError`."""
    if not (np.isfinite(lng) and np.isfinite(lat) and 73 <= lng <= 136 and 3 <= lat <= 54):
        raise InputError(
            t(
                f"位置 lat={lat}, lng={lng} 无效（应为中国境内的 WGS-84 经纬度；注意纬度、经度不要颠倒）",
                f"position lat={lat}, lng={lng} is not valid (WGS-84 inside China; lat and lng not swapped)",
            )
        )


def _piece(conn: Connection, lng: float, lat: float) -> dict[str, Any]:
    res = store_layers.get_meta(conn, "res")
    if res is None:
        raise InputError(
            t(
                "数据库中还没有网格：先运行 gridmgr run 或 gridmgr db load",
                "the store has no grid yet: run gridmgr run or gridmgr db load",
            )
        )
    cell = point_to_cell(lng, lat, res=int(res))
    cands = repo.pieces_of_cells(conn, [cell])
    pt = shapely.Point(lng, lat)
    for c in cands:
        if shapely.covers(from_wkb([c["geom"]])[0], pt):
            return c
    raise InputError(
        t(
            f"位置 lat={lat:.6f}, lng={lng:.6f} 不在辖区的任何地块内；请核对位置",
            f"position lat={lat:.6f}, lng={lng:.6f} lies in no piece of the jurisdiction; check it",
        )
    )


def _chain(conn: Connection, unit_code: str) -> tuple[str | None, str | None]:
    units = repo.unit_table(conn)
    community = street = None
    code: str | None = unit_code
    seen: set[str] = set()
    while code is not None and code in units and code not in seen:
        seen.add(code)
        parent, level, _ = units[code]
        if level == "community" and community is None:
            community = code
        if level == "street" and street is None:
            street = code
        code = parent
    return community, street


def _nearest_place(
    conn: Connection, lng: float, lat: float, radius_m: float
) -> tuple[str | None, float | None, str | None]:
    places = store_layers.key_places(conn)
    if not len(places) or radius_m <= 0:
        return None, None, None
    fwd = pyproj.Transformer.from_crs(4326, local_metric_crs(lng, lat), always_xy=True)
    reps = shapely.point_on_surface(np.asarray(places.geometry.values, dtype=object))
    x, y = fwd.transform(shapely.get_x(reps), shapely.get_y(reps))
    dist = np.hypot(np.asarray(x), np.asarray(y))
    i = int(np.argmin(dist))
    if dist[i] > radius_m:
        return None, None, None
    leader = places["package_leader_id"].iloc[i]
    return (
        str(places["code"].iloc[i]),
        round(float(dist[i]), 1),
        (None if leader is None else str(leader)),
    )


def derive(
    conn: Connection,
    *,
    lng: float,
    lat: float,
    at: dt.datetime,
    category: Category,
    radius_m: float,
) -> Derived:
    """The responsibility facts of a report at ``(lng, lat)`` at time ``at``."""
    check_point(lng, lat)
    piece = _piece(conn, lng, lat)
    community, street = _chain(conn, str(piece["unit_code"]))
    leader, fallback = repo.owner_at(conn, int(piece["id"]), at)
    place, dist, place_leader = _nearest_place(conn, lng, lat, radius_m)
    return Derived(
        piece_id=int(piece["id"]),
        cell=str(piece["cell"]),
        unit_code=str(piece["unit_code"]),
        community_code=community,
        street_code=street,
        leader_id=leader,
        fallback=fallback,
        place_code=place,
        place_distance_m=dist,
        place_leader_id=place_leader,
        department=category.department,
    )
