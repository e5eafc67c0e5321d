"""Assignment history: who changed what, when and why."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query

from api.deps import SettingsDep, StoreDep, Viewer
from api.geojson import clean_records
from api.routers._common import READ, check_limit
from api.schemas import HistoryEvent

router = APIRouter(tags=["history"])

ISO_DATETIME = (
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?$"
)


@router.get("/history", response_model=list[HistoryEvent], responses=READ)
def history(
    store: StoreDep,
    settings: SettingsDep,
    user: Viewer,
    cell: str | None = Query(None, max_length=32),
    leader: str | None = Query(None, max_length=64),
    changeset: str | None = Query(None, max_length=64),
    since: str | None = Query(
        None,
        pattern=ISO_DATETIME,
        examples=["2026-11-25T08:00:00+08:00"],
        description="ISO 8601 date or date-time",
    ),
    limit: int | None = Query(None, ge=1),
) -> list[dict[str, Any]]:
    """Assignment events, oldest first, filtered by cell, leader, change set and time."""
    n = check_limit(limit, settings.default_page_size, settings.max_page_size)
    when = None if since is None else dt.datetime.fromisoformat(since)
    frame = store.history(cell=cell, leader=leader, changeset=changeset, since=when)
    frame = frame.tail(n)
    rows = clean_records(frame, list(frame.columns))
    for r in rows:
        r["at"] = r["at"].isoformat() if hasattr(r["at"], "isoformat") else str(r["at"])
        r["id"] = int(r["id"])
    return rows
