"""Request and response bodies of the patrols API (巡查记录)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_ID = r"^[A-Za-z0-9_.:\-]{1,64}$"
#: An ISO 8601 time with its zone (JSON strings are parsed even in the strict models).
When = Annotated[AwareDatetime, Field(strict=False)]


class PatrolStart(BaseModel):
    """Start a patrol. ``client_id`` (the phone's id of this patrol) makes a resent start
    return the same patrol. A leader starts their own; planners and admins name the leader."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"client_id": "6f1c2a-20261205-0830"}]},
    )

    client_id: str = Field(pattern=_ID)
    leader_id: str | None = Field(None, min_length=1, max_length=64)
    started_at: When | None = None


class Fix(BaseModel):
    """One GPS fix from the browser's geolocation."""

    model_config = ConfigDict(extra="forbid", strict=True)

    at: When
    lon: float = Field(ge=73.0, le=136.0)
    lat: float = Field(ge=17.0, le=54.0)
    accuracy: float | None = Field(None, ge=0, le=100_000)


class PointBatch(BaseModel):
    """A batch of fixes with the client's batch id: a resent batch is stored once."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "b-0001",
                    "points": [
                        {"at": "2026-12-05T08:30:05+08:00", "lon": 125.2531, "lat": 43.8025}
                    ],
                }
            ]
        },
    )

    batch_id: str = Field(pattern=_ID)
    points: list[Fix] = Field(min_length=1, max_length=1000)


class PatrolFinish(BaseModel):
    """Finish a patrol (the end time defaults to now)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ended_at: When | None = None


class CheckIn(BaseModel):
    """A check-in (签到) at a key place: position, optional key place, note and photo."""

    model_config = ConfigDict(extra="forbid", strict=True)

    lon: float = Field(ge=73.0, le=136.0)
    lat: float = Field(ge=17.0, le=54.0)
    at: When | None = None
    accuracy: float | None = Field(None, ge=0, le=100_000)
    key_place_code: str | None = Field(None, min_length=1, max_length=32)
    client_id: str | None = Field(None, pattern=_ID)
    note: str | None = Field(None, max_length=500)
    photo_base64: str | None = Field(None, max_length=1_400_000)
    photo_type: str | None = Field(None, pattern=r"^image/(jpeg|png|webp)$")


class PatrolStarted(BaseModel):
    patrol_id: int
    created: bool


class BatchStored(BaseModel):
    patrol_id: int
    batch_id: str
    stored: bool
    points: int
    late: bool


class CheckInStored(BaseModel):
    checkin_id: int
    patrol_id: int
    stored: bool
    places_visited: int


class PatrolSummaryOut(BaseModel):
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


class PatrolRow(BaseModel):
    id: int
    leader_id: str
    leader_name: str
    source: str
    name: str | None
    sample: bool
    started_at: dt.datetime
    ended_at: dt.datetime | None
    started_beijing: str
    points: int
    marked: int
    distance_m: float


class LeaderTemporal(BaseModel):
    id: str
    name: str | None
    pieces: int
    stale_pieces: int
    seen_share: float
    last_patrol_at: str | None
    last_patrol_beijing: str | None


class OverduePlace(BaseModel):
    code: str
    name: str
    category: str
    category_name: str | None
    visit_every_days: float
    last_seen: str | None
    last_seen_beijing: str | None


class TemporalCoverageOut(BaseModel):
    """Temporal coverage of a scope over the last ``days`` Beijing days."""

    scope: str | None
    days: int
    window_start: str
    as_of: str
    window_beijing: list[str | None]
    pieces: int
    visited_pieces: int
    stale_pieces: int
    stale_area_m2: float
    never_visited_pieces: int
    key_places_overdue: int
    leaders: list[LeaderTemporal]
    overdue_key_places: list[OverduePlace]
