"""Recorded patrols in the store: import track files, take phone batches, compute visits.

The workflows behind ``gridmgr patrols`` and the patrols API. Each write is one store
transaction: a folder of track files is read and checked whole before anything is written, so a
bad file changes nothing. After new points (a finished patrol, an imported file, a late batch)
the patrol's fixes are cleaned (:func:`gridmgr.patrol.records.clean_flags`, marks written to the
points), its path matched against the pieces and key places (:class:`gridmgr.patrol.visits.
VisitIndex`, built once per store and layers version and radius) and its visits replaced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select

from gridmgr.errors import CoordinateRangeError, InputError, LeaderNotFoundError
from gridmgr.i18n import t
from gridmgr.patrol.records import KEPT, clean_flags, path_of
from gridmgr.patrol.tracks import Track, leader_of, read_track, track_files
from gridmgr.patrol.visits import DEFAULT_RADIUS_M, VisitIndex, check_radius, piece_radii
from gridmgr.store import patrols as repo
from gridmgr.store import schema as s

#: A track whose fixes mostly lie this far outside the jurisdiction is refused (another place).
OUTSIDE_KM = 20.0


@dataclass
class PatrolSummary:
    """What one patrol left: points kept and marked, distance, pieces and key places visited."""

    patrol_id: int
    leader_id: str
    source: str
    name: str | None
    started_at: str
    ended_at: str | None
    points: int
    kept: int
    marked: int
    distance_m: float
    pieces_visited: int
    places_visited: int
    created: bool = True
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


_INDEX_LOCK = threading.Lock()
_INDEXES: dict[tuple[str, int, float, tuple[tuple[str, float], ...]], VisitIndex] = {}


def _layers_version(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(s.loads.c.id), 0))).scalar() or 0)


def visit_index(
    store: Any,
    *,
    radius: float = DEFAULT_RADIUS_M,
    by_level: Mapping[str, float] | None = None,
    conn: Connection | None = None,
) -> VisitIndex:
    """The pieces and key places of the store as a :class:`VisitIndex` (cached per store,
    layers load, radius and per-level radii)."""
    r = check_radius(radius)
    levels = tuple(sorted((k, float(v)) for k, v in (by_level or {}).items()))
    with store.engine.connect() as c:
        version = _layers_version(conn if conn is not None else c)
    key = (str(store.url), version, r, levels)
    with _INDEX_LOCK:
        hit = _INDEXES.get(key)
    if hit is not None:
        return hit
    pieces = store.pieces(geometry=True)
    places = store.key_places()
    units = store.units()
    unit_levels = dict(zip(units["code"].astype(str), units["level"].astype(str), strict=True))
    radii = piece_radii(list(pieces["unit_code"].astype(str)), unit_levels, r, dict(levels))
    index = VisitIndex.build(
        pieces["id"].to_numpy(),
        pieces.geometry.to_numpy(),
        radii,
        places["id"].to_numpy(),
        places.geometry.to_numpy(),
        np.full(len(places), r),
    )
    with _INDEX_LOCK:
        if len(_INDEXES) > 16:
            _INDEXES.clear()
        _INDEXES[key] = index
    return index


def _utc(ns: int) -> dt.datetime:
    out: dt.datetime = pd.Timestamp(int(ns), tz="UTC").to_pydatetime()
    return out


def recompute(
    conn: Connection, index: VisitIndex, patrol_id: int, *, close: bool = False
) -> PatrolSummary:
    """Clean the patrol's fixes, rebuild its path and visits, and update its figures; with
    ``close`` also set its end to its last fix (when it has none yet)."""
    info = repo.get_patrol(conn, patrol_id)
    pts = repo.points(conn, [patrol_id])
    t_ns = pts["at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    lon, lat = pts["lon"].to_numpy(float), pts["lat"].to_numpy(float)
    flags = clean_flags(t_ns, lon, lat, pts["accuracy_m"].to_numpy(float))
    repo.set_flags(conn, pts, flags)
    path = path_of(t_ns, lon, lat, flags)
    cks = repo.checkins(conn, [patrol_id])
    ck_t = cks["at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    found = index.visits(
        [path],
        (
            np.zeros(len(cks), dtype=np.int64),
            ck_t,
            cks["lon"].to_numpy(float),
            cks["lat"].to_numpy(float),
        ),
    )
    found["first_at"] = pd.to_datetime(found["first_ns"], utc=True)
    found["last_at"] = pd.to_datetime(found["last_ns"], utc=True)
    repo.replace_visits(conn, patrol_id, found)
    ended = info["ended_at"]
    started = info["started_at"]
    if len(path):
        first, last = _utc(int(path.t_ns[0])), _utc(int(path.t_ns[-1]))
        started = min(started, first) if started else first
        if close or ended is not None:
            ended = max(ended, last) if ended else last
    marked = int((flags != KEPT).sum())
    repo.finish(
        conn,
        patrol_id,
        ended_at=ended,
        started_at=started,
        n_marked=marked,
        distance_m=path.distance_m,
    )
    kinds = found["kind"].to_numpy()
    return PatrolSummary(
        patrol_id=patrol_id,
        leader_id=str(info["leader_id"]),
        source=str(info["source"]),
        name=info["name"],
        started_at=started.isoformat(),
        ended_at=None if ended is None else ended.isoformat(),
        points=len(pts),
        kept=len(pts) - marked,
        marked=marked,
        distance_m=round(path.distance_m, 1),
        pieces_visited=int((kinds == "piece").sum()),
        places_visited=int((kinds == "place").sum()),
    )


def _check_area(track: Track, bounds: tuple[float, float, float, float]) -> None:
    """Refuse a track whose fixes mostly lie more than ``OUTSIDE_KM`` outside the jurisdiction."""
    x0, y0, x1, y1 = bounds
    dlat = OUTSIDE_KM / 111.0
    dlon = dlat / max(np.cos(np.radians((y0 + y1) / 2)), 0.1)
    out = (
        (track.lon < x0 - dlon)
        | (track.lon > x1 + dlon)
        | (track.lat < y0 - dlat)
        | (track.lat > y1 + dlat)
    )
    if out.mean() > 0.5:
        i = int(np.flatnonzero(out)[0])
        raise CoordinateRangeError(
            t(
                f"{track.path}：{out.sum()}/{len(out)} 个点在辖区 {OUTSIDE_KM:.0f} 公里以外"
                f"（如第 {i + 1} 个点 {track.lon[i]:.5f}, {track.lat[i]:.5f}），不是本辖区的巡查"
                f"（另一个省/市？坐标系不对？）",
                f"{track.path}: {out.sum()}/{len(out)} points lie over {OUTSIDE_KM:.0f} km outside "
                f"the jurisdiction (e.g. point {i + 1} at {track.lon[i]:.5f}, {track.lat[i]:.5f}); "
                f"not a patrol here (another province? wrong CRS?)",
            )
        )


def _gcj_warning(track: Track, roads: Any) -> str | None:
    """The "probably GCJ-02" note of a WGS-84 track sitting a consistent offset off the roads."""
    if roads is None or track.crs != "wgs84" or len(track) < 10:
        return None
    import shapely

    from gridmgr.io.crs import offset_suspicion

    pts = shapely.points(np.column_stack([track.lon, track.lat]))
    res = offset_suspicion(pts, np.asarray(roads.geometry.to_numpy(), dtype=object))
    if not res["suspicious"]:
        return None
    likely = str(res["likely"])
    return t(
        f"{track.path}：轨迹点离道路中位 {float(res['median_m']):.0f} 米，按 {likely.upper()} 纠偏后仅 "
        f"{min(float(res['median_m_if_gcj02']), float(res['median_m_if_bd09'])):.0f} 米；很可能是 "
        f"{likely.upper()}，请用 --crs {likely} 重新导入",
        f"{track.path}: the fixes lie a median {float(res['median_m']):.0f} m off the roads but only "
        f"{min(float(res['median_m_if_gcj02']), float(res['median_m_if_bd09'])):.0f} m after undoing "
        f"{likely.upper()}; probably {likely.upper()} — import it again with --crs {likely}",
    )


def _digest(track: Track, leader_id: str) -> str:
    h = hashlib.sha256()
    h.update(leader_id.encode())
    for a in (track.t_ns, track.lon, track.lat):
        h.update(np.ascontiguousarray(a).tobytes())
    return "file:" + h.hexdigest()[:40]


def read_tracks(
    path: str | Path, leader_ids: Sequence[str], *, leader: str | None, crs: str
) -> list[tuple[Track, str]]:
    """Every track file under ``path`` read and checked, with its leader (``leader``, else
    the leader the file is named after); nothing is written."""
    if leader is not None and leader not in set(leader_ids):
        raise LeaderNotFoundError(
            t(f"--leader {leader!r} 不在数据库中", f"--leader {leader!r} is not in the store")
        )
    out = []
    for f in track_files(path):
        lid = leader or leader_of(f, list(leader_ids))
        if lid is None:
            raise InputError(
                t(
                    f"{f}：文件名不以任何领导编号开头；请按领导编号命名（如 G01_1.gpx）或用 --leader",
                    f"{f}: the file name starts with no leader id; name it by the leader "
                    f"(e.g. G01_1.gpx) or pass --leader",
                )
            )
        out.append((read_track(f, crs=crs), lid))
    return out


def store_track(
    conn: Connection,
    index: VisitIndex,
    track: Track,
    leader_id: str,
    *,
    sample: bool = False,
    source: str | None = None,
) -> PatrolSummary:
    """Write one checked track as a finished patrol (the same file again: the same patrol)."""
    order = np.argsort(track.t_ns, kind="stable")
    times = pd.DatetimeIndex(pd.to_datetime(track.t_ns, utc=True))
    pid, created = repo.create_patrol(
        conn,
        leader_id=leader_id,
        source=source or track.fmt,
        started_at=times[order[0]].to_pydatetime(),
        name=track.path.name,
        client_id=_digest(track, leader_id),
        crs=track.crs,
        sample=sample,
        detail={"notes": track.notes} if track.notes else None,
    )
    if created:
        repo.add_points(conn, pid, "file", times, track.lon, track.lat, list(track.accuracy_m))
    summary = recompute(conn, index, pid, close=True)
    summary.created = created
    summary.warnings = list(track.notes)
    return summary


def import_tracks(
    store: Any,
    path: str | Path,
    *,
    leader: str | None = None,
    crs: str = "wgs84",
    radius: float = DEFAULT_RADIUS_M,
    by_level: Mapping[str, float] | None = None,
    roads: Any = None,
    sample: bool = False,
) -> list[PatrolSummary]:
    """Import a track file or a folder of them (named by leader id) as finished patrols, all in
    one transaction; every file is read and checked before anything is written."""
    leaders = store.leaders()
    tracks = read_tracks(path, list(leaders["id"].astype(str)), leader=leader, crs=crs)
    index = visit_index(store, radius=radius, by_level=by_level)
    for track, _ in tracks:
        _check_area(track, index.bounds)
        note = _gcj_warning(track, roads)
        if note:
            track.notes.append(note)
    with store.transaction() as conn:
        return [store_track(conn, index, tr, lid, sample=sample) for tr, lid in tracks]


__all__ = [
    "OUTSIDE_KM",
    "PatrolSummary",
    "import_tracks",
    "read_tracks",
    "recompute",
    "store_track",
    "visit_index",
]
