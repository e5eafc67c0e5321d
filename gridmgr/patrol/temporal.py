"""Temporal coverage (时间覆盖): which ground was actually seen in a window, and which was not.

For a scope (a unit of any level, or the whole jurisdiction) and a window — the last ``days``
Beijing days (Asia/Shanghai) up to ``as_of`` — pieces are *visited* when a patrol came within
reach of them in the window, *stale* (时间盲点) otherwise, and *never visited* when no patrol has
ever come near them by ``as_of``. Per leader: their pieces, the stale ones, the share of their
ground (by area) seen, and their last patrol. Key places are *overdue* when their category has a
visiting frequency (``visit_every_days`` in ``departments.json``) and more Beijing days than that
have passed since their last visit (or they were never visited).

Times are computed in UTC and shown in Beijing time; ``to_dict`` gives both.

Examples
--------
>>> import datetime as dt
>>> w = window(dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.UTC), 7)
>>> w[0].isoformat()
'2026-11-28T16:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from gridmgr.errors import InputError
from gridmgr.i18n import t
from gridmgr.store import patrols as repo

BEIJING = ZoneInfo("Asia/Shanghai")
DEFAULT_DAYS = 14
MAX_DAYS = 366


def window(as_of: dt.datetime, days: int) -> tuple[dt.datetime, dt.datetime]:
    """``(start, as_of)`` in UTC: ``start`` is Beijing midnight ``days - 1`` days before the
    Beijing day of ``as_of`` (so ``days=1`` is "today, Beijing time")."""
    if not (isinstance(days, int) and 1 <= days <= MAX_DAYS):
        raise InputError(
            t(
                f"--days {days!r}：应为 1 到 {MAX_DAYS} 天",
                f"--days {days!r}: expected 1 to {MAX_DAYS}",
            )
        )
    if as_of.tzinfo is None:
        raise InputError(t("as_of 需要带时区", "as_of needs a time zone"))
    day = as_of.astimezone(BEIJING).date() - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=BEIJING)
    return start.astimezone(dt.UTC), as_of.astimezone(dt.UTC)


def parse_as_of(text: str | None) -> dt.datetime:
    """An ISO time (without a zone: Beijing time), or now."""
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        v = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            t(
                f"--as-of {text!r} 不是 ISO 时间（如 2026-12-05T18:00）",
                f"--as-of {text!r} is not an ISO time (e.g. 2026-12-05T18:00)",
            )
        ) from exc
    return (v if v.tzinfo else v.replace(tzinfo=BEIJING)).astimezone(dt.UTC)


def beijing(ts: Any) -> str | None:
    """A time as ``YYYY-MM-DD HH:MM`` Beijing time with the zone, ``None`` for missing."""
    if ts is None or (isinstance(ts, float) and np.isnan(ts)) or ts is pd.NaT:
        return None
    return str(pd.Timestamp(ts).tz_convert(BEIJING).strftime("%Y-%m-%d %H:%M (UTC+8)"))


def _days_between(then: pd.Series, as_of: dt.datetime) -> pd.Series:
    """Whole Beijing days from ``then`` to ``as_of`` (NaN where ``then`` is missing)."""
    d_as_of = pd.Timestamp(as_of).tz_convert(BEIJING).normalize().tz_localize(None)
    d_then = (
        pd.to_datetime(then, utc=True).dt.tz_convert(BEIJING).dt.normalize().dt.tz_localize(None)
    )
    return (d_as_of - d_then).dt.days.astype(float)


@dataclass
class TemporalCoverage:
    """The result of :func:`temporal_coverage` (frames keep UTC times)."""

    scope: str | None
    days: int
    start: dt.datetime
    as_of: dt.datetime
    pieces: pd.DataFrame  # id, cell, unit_code, area_m2, leader_id, last_seen, days_since, state
    places: pd.DataFrame  # id, code, name, category, visit_every_days, last_seen, overdue
    leaders: pd.DataFrame  # id, name, pieces, stale_pieces, seen_share, last_patrol_at

    def summary(self) -> dict[str, Any]:
        """The headline figures."""
        p = self.pieces
        stale = p["state"] != "visited"
        return {
            "pieces": len(p),
            "visited_pieces": int((~stale).sum()),
            "stale_pieces": int(stale.sum()),
            "stale_area_m2": round(float(p.loc[stale, "area_m2"].sum()), 1),
            "never_visited_pieces": int((p["state"] == "never").sum()),
            "key_places_overdue": int(self.places["overdue"].sum()),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary, the window, per-leader rows and the overdue key places."""
        lead = [
            {
                "id": r.id,
                "name": r.name,
                "pieces": int(r.pieces),
                "stale_pieces": int(r.stale_pieces),
                "seen_share": round(float(r.seen_share), 4),
                "last_patrol_at": None
                if pd.isna(r.last_patrol_at)
                else r.last_patrol_at.isoformat(),
                "last_patrol_beijing": beijing(r.last_patrol_at),
            }
            for r in self.leaders.itertuples()
        ]
        over = self.places[self.places["overdue"]]
        places = [
            {
                "code": r.code,
                "name": r.name,
                "category": r.category,
                "category_name": r.category_name,
                "visit_every_days": r.visit_every_days,
                "last_seen": None if pd.isna(r.last_seen) else r.last_seen.isoformat(),
                "last_seen_beijing": beijing(r.last_seen),
            }
            for r in over.itertuples()
        ]
        return {
            "scope": self.scope,
            "days": self.days,
            "window_start": self.start.isoformat(),
            "as_of": self.as_of.isoformat(),
            "window_beijing": [beijing(self.start), beijing(self.as_of)],
            **self.summary(),
            "leaders": lead,
            "overdue_key_places": places,
        }


def _pieces_state(
    pieces: pd.DataFrame, seen: pd.DataFrame, start: dt.datetime, as_of: dt.datetime
) -> pd.DataFrame:
    p = pieces[["id", "cell", "unit_code", "area_m2", "leader_id"]].copy()
    last = dict(zip(seen["target_id"], seen["last_at"], strict=True))
    p["last_seen"] = pd.to_datetime(p["id"].map(last), utc=True)
    p["days_since"] = _days_between(p["last_seen"], as_of)
    state = np.where(p["last_seen"].isna(), "never", "stale")
    state = np.where(p["last_seen"] >= pd.Timestamp(start), "visited", state)
    p["state"] = state
    return p


def _places_state(
    places: pd.DataFrame, categories: pd.DataFrame, seen: pd.DataFrame, as_of: dt.datetime
) -> pd.DataFrame:
    k = places[["id", "code", "name", "category", "unit_code"]].copy()
    every = dict(
        zip(
            categories["category"],
            categories.get("visit_every_days", pd.Series(dtype=float)),
            strict=False,
        )
    )
    k["visit_every_days"] = k["category"].map(every).astype(float)
    k["category_name"] = k["category"].map(
        dict(zip(categories["category"], categories["name"], strict=True))
    )
    last = dict(zip(seen["target_id"], seen["last_at"], strict=True))
    k["last_seen"] = pd.to_datetime(k["id"].map(last), utc=True)
    since = _days_between(k["last_seen"], as_of)
    has_rule = k["visit_every_days"].notna()
    k["overdue"] = has_rule & (k["last_seen"].isna() | (since > k["visit_every_days"]))
    k["days_since"] = since
    return k


def _leaders_state(
    pieces: pd.DataFrame, leaders: pd.DataFrame, last_patrol: pd.DataFrame
) -> pd.DataFrame:
    held = pieces[pieces["leader_id"].notna()]
    if held.empty:
        return pd.DataFrame(
            columns=["id", "name", "pieces", "stale_pieces", "seen_share", "last_patrol_at"]
        )
    seen_area = held["area_m2"].where(held["state"] == "visited", 0.0)
    g = held.assign(seen_area=seen_area, stale=held["state"] != "visited").groupby("leader_id")
    out = pd.DataFrame(
        {
            "pieces": g.size(),
            "stale_pieces": g["stale"].sum(),
            "seen_share": g["seen_area"].sum() / g["area_m2"].sum().where(lambda a: a > 0, 1.0),
        }
    ).reset_index(names="id")
    names = dict(zip(leaders["id"], leaders["name"], strict=True))
    out.insert(1, "name", out["id"].map(names))
    lp = dict(zip(last_patrol["leader_id"], last_patrol["last_at"], strict=True))
    out["last_patrol_at"] = pd.to_datetime(out["id"].map(lp), utc=True)
    return out.sort_values(["seen_share", "id"]).reset_index(drop=True)


def temporal_coverage(
    store: Any,
    *,
    scope: str | None = None,
    days: int = DEFAULT_DAYS,
    as_of: dt.datetime | None = None,
) -> TemporalCoverage:
    """Temporal coverage of ``scope`` over the last ``days`` Beijing days up to ``as_of``."""
    when = as_of or dt.datetime.now(dt.UTC)
    start, end = window(when, days)
    pieces = store.pieces(scope, geometry=False)
    places = store.key_places(scope)
    with store.engine.connect() as conn:
        seen_p = repo.last_seen(conn, "piece", end)
        seen_k = repo.last_seen(conn, "place", end)
        last_patrol = repo.last_patrols(conn, end)
    p = _pieces_state(pieces, seen_p, start, end)
    k = _places_state(places, store.categories(), seen_k, end)
    lead = _leaders_state(p, store.leaders(), last_patrol)
    return TemporalCoverage(scope, days, start, end, p, k, lead)


__all__ = [
    "BEIJING",
    "DEFAULT_DAYS",
    "TemporalCoverage",
    "beijing",
    "parse_as_of",
    "temporal_coverage",
    "window",
]


def pieces_geojson(cov: TemporalCoverage, geoms: Any) -> dict[str, Any]:
    """The pieces of ``cov`` as a GeoJSON FeatureCollection (``state``, ``days_since``,
    ``last_seen`` in UTC and Beijing time) from ``geoms``: a store pieces frame with geometry."""
    import shapely

    g = dict(zip(geoms["id"].astype("int64"), geoms.geometry.to_numpy(), strict=True))
    feats = []
    for r in cov.pieces.itertuples():
        geom = g.get(int(r.id))
        if geom is None:
            continue
        feats.append(
            {
                "type": "Feature",
                "id": int(r.id),
                "properties": {
                    "cell": r.cell,
                    "unit_code": r.unit_code,
                    "leader_id": r.leader_id,
                    "area_m2": round(float(r.area_m2), 1),
                    "state": r.state,
                    "days_since": None if pd.isna(r.days_since) else int(r.days_since),
                    "last_seen": None if pd.isna(r.last_seen) else r.last_seen.isoformat(),
                    "last_seen_beijing": beijing(r.last_seen),
                },
                "geometry": shapely.geometry.mapping(geom),
            }
        )
    return {"type": "FeatureCollection", "features": feats}
