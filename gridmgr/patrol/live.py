"""Patrols from the leader's phone: start, batches of fixes, check-ins, finish.

Mobile networks drop and retry, so every write is idempotent on a client id: a resent start
(same ``client_id``) returns the same patrol, a resent batch (same ``batch_id`` in the patrol) is
stored once, a resent check-in once. A batch that arrives after the patrol was finished (late)
still lands in its patrol, and the patrol's path and visits are recomputed. ``owner`` (a leader
id) restricts a write to that leader's own patrols; another leader's patrol is answered exactly
as a patrol that does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gridmgr.errors import InputError, PatrolNotFoundError, PermissionDeniedError
from gridmgr.i18n import t
from gridmgr.patrol.recorded import PatrolSummary, recompute, visit_index
from gridmgr.patrol.tracks import CHINA, FUTURE_SLACK
from gridmgr.patrol.visits import DEFAULT_RADIUS_M
from gridmgr.store import patrols as repo

#: Most fixes in one batch.
MAX_BATCH = 1000


def _own(conn: Any, patrol_id: int, owner: str | None) -> dict[str, Any]:
    info = repo.get_patrol(conn, patrol_id)
    if owner is not None and info["leader_id"] != owner:
        raise PatrolNotFoundError(
            t(
                f"巡查 {patrol_id} 不存在或不是你的巡查",
                f"patrol {patrol_id} does not exist or is not yours",
            )
        )
    return info


def _as_utc(when: dt.datetime | None) -> dt.datetime:
    if when is None:
        return dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        raise InputError(t(f"时间 {when} 缺少时区", f"time {when} has no time zone"))
    return when.astimezone(dt.UTC)


def start_patrol(
    store: Any,
    leader_id: str,
    *,
    client_id: str | None = None,
    started_at: dt.datetime | None = None,
    owner: str | None = None,
) -> tuple[int, bool]:
    """Start a phone patrol; ``(patrol id, created)``."""
    if owner is not None and owner != leader_id:
        raise PermissionDeniedError(
            t("领导只能为自己开始巡查", "a leader may start patrols for themselves only")
        )
    with store.transaction() as conn:
        return repo.create_patrol(
            conn,
            leader_id=leader_id,
            source="phone",
            started_at=_as_utc(started_at),
            client_id=client_id,
        )


def _check_fixes(times: pd.DatetimeIndex, lon: np.ndarray, lat: np.ndarray) -> None:
    if len(times) == 0 or len(times) > MAX_BATCH:
        raise InputError(
            t(
                f"一批应有 1 到 {MAX_BATCH} 个点（收到 {len(times)} 个）",
                f"a batch holds 1 to {MAX_BATCH} fixes (got {len(times)})",
            )
        )
    late = times > pd.Timestamp(dt.datetime.now(dt.UTC) + FUTURE_SLACK)
    x0, y0, x1, y1 = CHINA
    outside = (lon < x0) | (lon > x1) | (lat < y0) | (lat > y1) | ~np.isfinite(lon + lat)
    for bad, zh, en in (
        (late, "时间在未来", "is timed in the future"),
        (outside, "不在中国范围内", "lies outside China"),
    ):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(t(f"第 {i + 1} 个点{zh}", f"fix {i + 1} {en}"))


def add_batch(
    store: Any,
    patrol_id: int,
    batch_id: str,
    fixes: Sequence[Mapping[str, Any]],
    *,
    owner: str | None = None,
    radius: float = DEFAULT_RADIUS_M,
) -> dict[str, Any]:
    """Store a batch of fixes (``at`` aware datetime, ``lon``, ``lat``, optional ``accuracy``).

    Returns ``stored`` (False: a resent batch, nothing written), ``points`` and ``late`` (the
    patrol was already finished; its visits were recomputed).
    """
    times = pd.DatetimeIndex([pd.Timestamp(_as_utc(f["at"])) for f in fixes])
    lon = np.array([float(f["lon"]) for f in fixes])
    lat = np.array([float(f["lat"]) for f in fixes])
    acc = np.array([np.nan if f.get("accuracy") is None else float(f["accuracy"]) for f in fixes])
    _check_fixes(times, lon, lat)
    index = None
    with store.transaction() as conn:
        info = _own(conn, patrol_id, owner)
        stored = repo.add_points(conn, patrol_id, batch_id, times, lon, lat, acc)
        late = stored and info["ended_at"] is not None
        if late:
            index = visit_index(store, radius=radius)
            recompute(conn, index, patrol_id)
    return {
        "patrol_id": patrol_id,
        "batch_id": batch_id,
        "stored": stored,
        "points": len(fixes),
        "late": late,
    }


def finish_patrol(
    store: Any,
    patrol_id: int,
    *,
    ended_at: dt.datetime | None = None,
    owner: str | None = None,
    radius: float = DEFAULT_RADIUS_M,
) -> PatrolSummary:
    """Finish a patrol: clean its fixes, compute its path and visits (again when resent)."""
    index = visit_index(store, radius=radius)
    with store.transaction() as conn:
        info = _own(conn, patrol_id, owner)
        if info["ended_at"] is None:
            repo.finish(
                conn,
                patrol_id,
                ended_at=_as_utc(ended_at),
                n_marked=int(info["n_marked"]),
                distance_m=float(info["distance_m"]),
            )
        return recompute(conn, index, patrol_id)


def check_in(
    store: Any,
    patrol_id: int,
    *,
    lon: float,
    lat: float,
    at: dt.datetime | None = None,
    key_place_code: str | None = None,
    accuracy: float | None = None,
    note: str | None = None,
    photo: bytes | None = None,
    photo_type: str | None = None,
    client_id: str | None = None,
    owner: str | None = None,
    radius: float = DEFAULT_RADIUS_M,
) -> dict[str, Any]:
    """A check-in (签到) at a key place, with position and an optional photo; the patrol's key
    place visits are recomputed (a check-in within R of a key place visits it)."""
    when = _as_utc(at)
    _check_fixes(pd.DatetimeIndex([pd.Timestamp(when)]), np.array([lon]), np.array([lat]))
    if key_place_code is not None:
        known = set(store.key_places()["code"].astype(str))
        if key_place_code not in known:
            raise InputError(
                t(
                    f"重点场所 {key_place_code!r} 不存在",
                    f"key place {key_place_code!r} does not exist",
                )
            )
    index = visit_index(store, radius=radius)
    with store.transaction() as conn:
        _own(conn, patrol_id, owner)
        cid, created = repo.add_checkin(
            conn,
            patrol_id,
            client_id=client_id,
            key_place_code=key_place_code,
            at=when,
            lon=float(lon),
            lat=float(lat),
            accuracy_m=accuracy,
            note=note,
            photo=photo,
            photo_type=photo_type if photo is not None else None,
        )
        summary = recompute(conn, index, patrol_id)
    return {
        "checkin_id": cid,
        "patrol_id": patrol_id,
        "stored": created,
        "places_visited": summary.places_visited,
    }


__all__ = ["MAX_BATCH", "add_batch", "check_in", "finish_patrol", "start_patrol"]
