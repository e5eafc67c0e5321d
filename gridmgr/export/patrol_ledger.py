"""The patrol ledger (巡查台账, XLSX): per leader per Beijing day the patrols, distance, time,
pieces and key places visited; with the temporal coverage per leader and the overdue key places.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from gridmgr.export.office import Sheet, write_workbook
from gridmgr.i18n import t
from gridmgr.patrol.temporal import BEIJING, DEFAULT_DAYS, beijing, temporal_coverage
from gridmgr.store import patrols as repo

DAILY_COLS = [
    ("day", "日期（北京时间）", "day (Beijing)", 14, None),
    ("leader_name", "领导", "leader", 22, None),
    ("patrols", "巡查次数", "patrols", 10, "0"),
    ("distance_km", "里程（公里）", "distance (km)", 12, "0.00"),
    ("hours", "时长（小时）", "time (h)", 12, "0.0"),
    ("pieces", "走访地块", "pieces visited", 12, "0"),
    ("places", "走访重点场所", "key places visited", 14, "0"),
    ("sample", "样例", "sample", 8, None),
]
LEADER_COLS = [
    ("name", "领导", "leader", 22, None),
    ("pieces", "责任地块", "pieces", 10, "0"),
    ("stale_pieces", "未走访地块", "stale pieces", 12, "0"),
    ("seen_pct", "已走访面积%", "area seen %", 12, "0.0"),
    ("last_patrol", "最近巡查（北京时间）", "last patrol (Beijing)", 24, None),
]
PLACE_COLS = [
    ("name", "重点场所", "key place", 24, None),
    ("category_name", "类别", "category", 12, None),
    ("visit_every_days", "访问频次（天）", "every (days)", 14, "0"),
    ("last", "最近走访（北京时间）", "last visit (Beijing)", 24, None),
]


def daily_ledger(store: Any, since: dt.datetime | None = None) -> pd.DataFrame:
    """One row per leader per Beijing day with a patrol (columns of :data:`DAILY_COLS`)."""
    with store.engine.connect() as conn:
        pat = repo.list_patrols(conn, since=since)
        vis = repo.visits_between(conn, since=since)
    if pat.empty:
        return pd.DataFrame(columns=[c[0] for c in DAILY_COLS])
    pat["day"] = pat["started_at"].dt.tz_convert(BEIJING).dt.strftime("%Y-%m-%d")
    ended = pat["ended_at"].fillna(pat["started_at"])
    pat["hours"] = (ended - pat["started_at"]).dt.total_seconds() / 3600
    g = pat.groupby(["day", "leader_id"])
    out = pd.DataFrame(
        {
            "leader_name": g["leader_name"].first(),
            "patrols": g.size(),
            "distance_km": g["distance_m"].sum() / 1000,
            "hours": g["hours"].sum(),
            "sample": g["sample"].all().map({True: t("是", "yes"), False: ""}),
        }
    )
    key = pat.set_index("id")[["day", "leader_id"]]
    vis = vis.join(key, on="patrol_id", how="inner")
    for kind, col in (("piece", "pieces"), ("place", "places")):
        sub = vis[vis["kind"] == kind]
        out[col] = sub.groupby(["day", "leader_id"])["target_id"].nunique()
    out[["pieces", "places"]] = out[["pieces", "places"]].fillna(0).astype(int)
    return out.reset_index().sort_values(["day", "leader_name"], ascending=[False, True])


def write_patrol_ledger(
    store: Any, out: str | Path, *, days: int = DEFAULT_DAYS, as_of: dt.datetime | None = None
) -> Path:
    """Write the ledger XLSX: the daily ledger, the temporal coverage per leader (last ``days``
    Beijing days) and the overdue key places."""
    cov = temporal_coverage(store, days=days, as_of=as_of)
    lead = cov.leaders.assign(
        seen_pct=100 * cov.leaders["seen_share"].astype(float),
        last_patrol=[beijing(v) for v in cov.leaders["last_patrol_at"]],
    )
    over = cov.places[cov.places["overdue"]].assign(
        last=[beijing(v) for v in cov.places.loc[cov.places["overdue"], "last_seen"]]
    )
    sheets = [
        Sheet(t("巡查台账", "patrol ledger"), DAILY_COLS, daily_ledger(store)),
        Sheet(t(f"时间覆盖（近{days}天）", f"temporal coverage ({days} d)"), LEADER_COLS, lead),
        Sheet(t("逾期重点场所", "overdue key places"), PLACE_COLS, over),
    ]
    return write_workbook(Path(out), sheets, title=t("巡查台账", "Patrol ledger"))


__all__ = ["daily_ledger", "write_patrol_ledger"]
