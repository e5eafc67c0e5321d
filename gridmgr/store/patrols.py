"""Patrol records (巡查记录) in the store: patrols, their raw point batches, check-ins, visits.

Functions over a :class:`~sqlalchemy.Connection`, one aggregate: the patrol. Points are
append-only; a batch is identified by its client id within its patrol (``patrol_batches``), so a
resent batch is recognised and stored once, and a late batch lands in its patrol whatever its
times. Cleaning only updates the ``flag`` of points. Visits are replaced per patrol whenever its
path is recomputed. On PostGIS the points table is partitioned by month of ``at``; the monthly
partitions are created here, on demand, before a batch is written (serialised by an advisory
lock, remembered per process).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection, and_, delete, func, insert, select, text, update

from gridmgr.errors import ConflictError, LeaderNotFoundError, PatrolNotFoundError
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._sql import frame, is_postgis
from gridmgr.store.bulk import insert_rows, update_rows

POINT_COLS = ["patrol_id", "batch_id", "seq", "at", "lon", "lat", "accuracy_m", "flag"]
PATROL_COLS = [
    "id",
    "leader_id",
    "source",
    "name",
    "crs",
    "sample",
    "started_at",
    "ended_at",
    "n_points",
    "n_marked",
    "distance_m",
    "detail",
]


def _month_bounds(month: pd.Period) -> tuple[str, str]:
    start = month.start_time.strftime("%Y-%m-01 00:00:00+00")
    end = (month + 1).start_time.strftime("%Y-%m-01 00:00:00+00")
    return start, end


def ensure_partitions(conn: Connection, times: pd.DatetimeIndex) -> None:
    """Create the monthly partitions of ``patrol_points`` that ``times`` (UTC) fall in.

    Existence is asked of the database every time (one cheap ``to_regclass`` per month), never
    remembered in the process: a partition created in a transaction that then rolls back is gone,
    and a cache would send the next batch into a table that does not exist.
    """
    if not is_postgis(conn) or len(times) == 0:
        return
    months = sorted(set(times.tz_convert("UTC").tz_localize(None).to_period("M")))
    names = {m: f"patrol_points_y{m.year:04d}m{m.month:02d}" for m in months}
    todo = [m for m in months if _missing(conn, names[m])]
    if not todo:
        return
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridmgr.patrol_points'))"))
    for m in todo:
        start, end = _month_bounds(m)
        conn.exec_driver_sql(
            f'CREATE TABLE IF NOT EXISTS "{names[m]}" PARTITION OF patrol_points '
            f"FOR VALUES FROM ('{start}') TO ('{end}')"
        )


def _missing(conn: Connection, table: str) -> bool:
    """Whether ``table`` does not exist (yet) as seen by this transaction."""
    found = conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar_one()
    return found is None


def _new_id(res: Any) -> int:
    key = res.inserted_primary_key
    assert key is not None
    return int(key[0])


def _leader_exists(conn: Connection, leader_id: str) -> None:
    hit = conn.execute(select(s.leaders.c.id).where(s.leaders.c.id == leader_id)).first()
    if hit is None:
        raise LeaderNotFoundError(
            t(f"领导 {leader_id!r} 不在数据库中", f"leader {leader_id!r} is not in the store")
        )


def create_patrol(
    conn: Connection,
    *,
    leader_id: str,
    source: str,
    started_at: dt.datetime,
    name: str | None = None,
    client_id: str | None = None,
    crs: str = "wgs84",
    sample: bool = False,
    detail: dict[str, Any] | None = None,
) -> tuple[int, bool]:
    """A new patrol's id and ``True``; or, when ``client_id`` is already known, that patrol's id
    and ``False`` (a resent start). Another leader's ``client_id`` is a conflict."""
    _leader_exists(conn, leader_id)
    if client_id is not None:
        row = conn.execute(
            select(s.patrols.c.id, s.patrols.c.leader_id).where(s.patrols.c.client_id == client_id)
        ).first()
        if row is not None:
            if row.leader_id != leader_id:
                raise ConflictError(
                    t(
                        f"巡查客户端编号 {client_id!r} 已被另一名领导使用",
                        f"patrol client id {client_id!r} is used by another leader",
                    )
                )
            return int(row.id), False
    res = conn.execute(
        insert(s.patrols).values(
            leader_id=leader_id,
            source=source,
            name=name,
            client_id=client_id,
            crs=crs,
            sample=sample,
            started_at=started_at,
            n_points=0,
            n_marked=0,
            distance_m=0.0,
            detail=detail,
            created_at=s.utcnow(),
        )
    )
    return _new_id(res), True


def get_patrol(conn: Connection, patrol_id: int) -> dict[str, Any]:
    """One patrol as a dict; :class:`PatrolNotFoundError` when unknown."""
    row = conn.execute(
        select(*[s.patrols.c[c] for c in PATROL_COLS]).where(s.patrols.c.id == patrol_id)
    ).first()
    if row is None:
        raise PatrolNotFoundError(
            t(f"巡查 {patrol_id} 不存在", f"patrol {patrol_id} does not exist")
        )
    return dict(row._mapping)


def add_points(
    conn: Connection,
    patrol_id: int,
    batch_id: str,
    times: pd.DatetimeIndex,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    accuracy_m: npt.ArrayLike,
) -> bool:
    """Append one batch of fixes; ``False`` (and nothing written) when the batch was stored
    before (same ``batch_id`` in this patrol)."""
    b = s.patrol_batches
    seen = conn.execute(
        select(b.c.batch_id).where(and_(b.c.patrol_id == patrol_id, b.c.batch_id == batch_id))
    ).first()
    if seen is not None:
        return False
    conn.execute(
        insert(b).values(
            patrol_id=patrol_id, batch_id=batch_id, n_points=len(times), received_at=s.utcnow()
        )
    )
    ensure_partitions(conn, times)
    at = times.tz_convert("UTC").to_pydatetime()
    x = np.asarray(lon, dtype=np.float64).tolist()
    y = np.asarray(lat, dtype=np.float64).tolist()
    a = np.asarray(accuracy_m, dtype=np.float64)
    acc = np.where(np.isfinite(a), a, np.nan).tolist()
    rows = [
        (patrol_id, batch_id, i, at[i], x[i], y[i], None if acc[i] != acc[i] else acc[i], 0)
        for i in range(len(at))
    ]
    insert_rows(conn, s.patrol_points, POINT_COLS, rows)
    conn.execute(
        update(s.patrols)
        .where(s.patrols.c.id == patrol_id)
        .values(n_points=s.patrols.c.n_points + len(rows))
    )
    return True


def points(conn: Connection, patrol_ids: Sequence[int]) -> pd.DataFrame:
    """The raw points of the patrols, by patrol and time: ``patrol_id``, ``batch_id``, ``seq``,
    ``at`` (UTC), ``lon``, ``lat``, ``accuracy_m``, ``flag``."""
    p = s.patrol_points
    stmt = (
        select(*[p.c[c] for c in POINT_COLS])
        .where(p.c.patrol_id.in_(list(patrol_ids)))
        .order_by(p.c.patrol_id, p.c.at, p.c.batch_id, p.c.seq)
    )
    df = frame(conn.execute(stmt).all(), POINT_COLS)
    df["at"] = pd.to_datetime(df["at"], utc=True)
    df["accuracy_m"] = df["accuracy_m"].astype(float)
    return df


def set_flags(conn: Connection, pts: pd.DataFrame, flags: np.ndarray) -> int:
    """Write the cleaning marks ``flags`` of the rows of ``pts`` (from :func:`points`) that
    changed. Returns how many changed."""
    changed = np.flatnonzero(pts["flag"].to_numpy() != flags)
    rows = [
        (
            int(pts["patrol_id"].iat[i]),
            str(pts["batch_id"].iat[i]),
            int(pts["seq"].iat[i]),
            pts["at"].iat[i].to_pydatetime(),
            int(flags[i]),
        )
        for i in changed
    ]
    update_rows(conn, s.patrol_points, ["patrol_id", "batch_id", "seq", "at"], ["flag"], rows)
    return len(rows)


def finish(
    conn: Connection,
    patrol_id: int,
    *,
    ended_at: dt.datetime | None,
    n_marked: int,
    distance_m: float,
    started_at: dt.datetime | None = None,
) -> None:
    """Record the end and the path figures of a patrol (also after a late batch)."""
    values: dict[str, Any] = {"n_marked": n_marked, "distance_m": distance_m}
    if ended_at is not None:
        values["ended_at"] = ended_at
    if started_at is not None:
        values["started_at"] = started_at
    conn.execute(update(s.patrols).where(s.patrols.c.id == patrol_id).values(**values))


def replace_visits(conn: Connection, patrol_id: int, visits: pd.DataFrame) -> int:
    """Replace the visits of a patrol by ``visits`` (``kind``, ``target_id``, ``first_at``,
    ``last_at``)."""
    conn.execute(delete(s.visits).where(s.visits.c.patrol_id == patrol_id))
    rows = [
        (patrol_id, k, int(tid), a.to_pydatetime(), b.to_pydatetime())
        for k, tid, a, b in zip(
            visits["kind"], visits["target_id"], visits["first_at"], visits["last_at"], strict=True
        )
    ]
    insert_rows(conn, s.visits, ["patrol_id", "kind", "target_id", "first_at", "last_at"], rows)
    return len(rows)


def add_checkin(conn: Connection, patrol_id: int, **values: Any) -> tuple[int, bool]:
    """A check-in's id and ``True``; a resent one (same ``client_id``): its id and ``False``."""
    cid = values.get("client_id")
    if cid is not None:
        row = conn.execute(
            select(s.patrol_checkins.c.id, s.patrol_checkins.c.patrol_id).where(
                s.patrol_checkins.c.client_id == cid
            )
        ).first()
        if row is not None:
            return int(row.id), False
    res = conn.execute(insert(s.patrol_checkins).values(patrol_id=patrol_id, **values))
    return _new_id(res), True


def checkins(conn: Connection, patrol_ids: Sequence[int]) -> pd.DataFrame:
    """Check-ins of the patrols (no photo bytes): ``id``, ``patrol_id``, ``key_place_code``,
    ``at``, ``lon``, ``lat``, ``accuracy_m``, ``note``, ``has_photo``."""
    c = s.patrol_checkins
    cols = ["id", "patrol_id", "key_place_code", "at", "lon", "lat", "accuracy_m", "note"]
    stmt = (
        select(*[c.c[x] for x in cols], c.c.photo_type.is_not(None).label("has_photo"))
        .where(c.c.patrol_id.in_(list(patrol_ids)))
        .order_by(c.c.at)
    )
    df = frame(conn.execute(stmt).all(), [*cols, "has_photo"])
    df["at"] = pd.to_datetime(df["at"], utc=True)
    return df


def list_patrols(
    conn: Connection,
    *,
    leader_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Patrols, newest first, with the leader's name."""
    p, ld = s.patrols, s.leaders
    cols = [p.c[c] for c in PATROL_COLS]
    stmt = (
        select(*cols, ld.c.name.label("leader_name"))
        .select_from(p.join(ld, ld.c.id == p.c.leader_id))
        .order_by(p.c.started_at.desc(), p.c.id.desc())
    )
    if leader_id is not None:
        stmt = stmt.where(p.c.leader_id == leader_id)
    if since is not None:
        stmt = stmt.where(p.c.started_at >= since)
    if until is not None:
        stmt = stmt.where(p.c.started_at <= until)
    if limit is not None:
        stmt = stmt.limit(limit)
    df = frame(conn.execute(stmt).all(), [*PATROL_COLS, "leader_name"])
    for c in ("started_at", "ended_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


def last_seen(conn: Connection, kind: str, as_of: dt.datetime) -> pd.DataFrame:
    """Per target of ``kind`` (``piece``|``place``) seen by ``as_of``: ``target_id`` and
    ``last_at`` (the latest visit, clipped to ``as_of``) — one pass over the visits index."""
    v = s.visits
    stmt = (
        select(v.c.target_id, func.max(v.c.last_at))
        .where(and_(v.c.kind == kind, v.c.first_at <= as_of))
        .group_by(v.c.target_id)
    )
    df = frame(conn.execute(stmt).all(), ["target_id", "last_at"])
    df["last_at"] = pd.to_datetime(df["last_at"], utc=True).clip(upper=pd.Timestamp(as_of))
    df["target_id"] = df["target_id"].astype("int64")
    return df


def piece_last_seen(conn: Connection, piece_id: int) -> dt.datetime | None:
    """When piece ``piece_id`` was last seen (one indexed lookup), ``None`` when never."""
    v = s.visits
    value = conn.execute(
        select(func.max(v.c.last_at)).where(and_(v.c.kind == "piece", v.c.target_id == piece_id))
    ).scalar()
    return value if isinstance(value, dt.datetime) else None


def last_patrols(conn: Connection, as_of: dt.datetime) -> pd.DataFrame:
    """Per leader, the start of their latest patrol by ``as_of``: ``leader_id``, ``last_at``."""
    p = s.patrols
    stmt = (
        select(p.c.leader_id, func.max(p.c.started_at))
        .where(p.c.started_at <= as_of)
        .group_by(p.c.leader_id)
    )
    df = frame(conn.execute(stmt).all(), ["leader_id", "last_at"])
    df["last_at"] = pd.to_datetime(df["last_at"], utc=True)
    return df


__all__ = [
    "add_checkin",
    "add_points",
    "checkins",
    "create_patrol",
    "ensure_partitions",
    "finish",
    "get_patrol",
    "last_patrols",
    "last_seen",
    "list_patrols",
    "piece_last_seen",
    "points",
    "replace_visits",
    "set_flags",
    "visits_between",
]


def visits_between(
    conn: Connection, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> pd.DataFrame:
    """Visits whose first time lies in [since, until]: ``patrol_id``, ``kind``, ``target_id``,
    ``first_at`` (UTC)."""
    v = s.visits
    stmt = select(v.c.patrol_id, v.c.kind, v.c.target_id, v.c.first_at)
    if since is not None:
        stmt = stmt.where(v.c.first_at >= since)
    if until is not None:
        stmt = stmt.where(v.c.first_at <= until)
    df = frame(conn.execute(stmt).all(), ["patrol_id", "kind", "target_id", "first_at"])
    df["first_at"] = pd.to_datetime(df["first_at"], utc=True)
    return df
