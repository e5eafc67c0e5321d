"""Request and response models of the API (pydantic v2); examples feed the OpenAPI page."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gridmgr.settings import DEFAULT_TARGET_RATIO


class Problem(BaseModel):
    """An RFC 9457 problem (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    pieces: list[str] | None = Field(None, description="conflicting cells (409)")
    errors: list[dict[str, Any]] | None = None


class Health(BaseModel):
    status: Literal["ok"]
    backend: str
    res: int | None
    pieces: int


class Me(BaseModel):
    name: str
    role: str
    leader_id: str | None = None


class Unit(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "220173001",
                    "name": "硅谷街道",
                    "level": "street",
                    "parent": "220173",
                    "name_en": "Guigu Sub-district",
                    "area_m2": 51234567.0,
                }
            ]
        }
    )

    code: str
    name: str
    level: str
    parent: str | None = None
    name_en: str | None = None
    area_m2: float | None = None
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON geometry (single unit only)")


class Leader(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "G001",
                    "name": "网格长张三",
                    "role": "grid_leader",
                    "department": None,
                    "capacity": 1.0,
                    "active": True,
                    "unit_packages": ["220173001001"],
                    "place_packages": [],
                }
            ]
        }
    )

    id: str
    name: str
    role: str
    department: str | None = None
    capacity: float
    active: bool
    unit_packages: list[str]
    place_packages: list[str]
    phone: str | None = Field(None, description="planners and admins only (a leader: their own)")


class Department(BaseModel):
    code: str
    name: str
    name_en: str | None = None


class Category(BaseModel):
    category: str
    name: str
    name_en: str | None = None
    department: str | None = None
    requires_package_leader: bool


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection (RFC 7946), with paging members."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]
    numberMatched: int | None = None
    numberReturned: int | None = None
    links: list[dict[str, Any]] | None = None


class AssignmentPiece(BaseModel):
    piece_id: int
    unit_code: str
    leader_id: str | None
    fallback: bool
    version: int
    area_m2: float


class Assignment(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cell": "8a31766f0937fff",
                    "etag": '"7"',
                    "pieces": [
                        {
                            "piece_id": 12,
                            "unit_code": "220173001001",
                            "leader_id": "G001",
                            "fallback": False,
                            "version": 7,
                            "area_m2": 15047.2,
                        }
                    ],
                }
            ]
        }
    )

    cell: str
    etag: str = Field(description="send it back in If-Match to change this cell")
    pieces: list[AssignmentPiece]


class AssignmentUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"leader_id": "G002", "reason": "交接：张三调岗", "fallback": False}]
        },
    )

    leader_id: str | None = Field(
        description="new owner; null leaves the cell unassigned (盲点)", max_length=64
    )
    reason: str = Field(min_length=1, max_length=500)
    fallback: bool = False


class ChangeOut(BaseModel):
    changeset_id: str | None
    changed: int
    unchanged: int
    cells: list[str]


class Move(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    cell: str = Field(min_length=1, max_length=32)
    to_leader: str | None = Field(max_length=64)


class PlanIn(BaseModel):
    """A hand-made plan: several cells moved together, applied atomically."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "scope": "220173001001",
                    "reason": "按社区要求调整",
                    "moves": [{"cell": "8a31766f0937fff", "to_leader": "G002"}],
                }
            ]
        },
    )

    scope: str | None = Field(None, max_length=32)
    reason: str = Field(min_length=1, max_length=500)
    moves: list[Move] = Field(min_length=1, max_length=5000)


class RebalanceIn(BaseModel):
    """Parameters of a proposed rebalance (see docs/rebalance.md)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "scope": "220173001",
                    "weights": "area=1,key_places=5",
                    "leaders_remove": ["G003"],
                    "target_ratio": 1.1,
                    "max_moves": 200,
                    "seed": 0,
                }
            ]
        },
    )

    scope: str = Field(min_length=1, max_length=32)
    weights: str | None = Field(None, max_length=200)
    leaders_add: list[str] = Field(default_factory=list, max_length=100)
    leaders_remove: list[str] = Field(default_factory=list, max_length=100)
    capacity: dict[str, float] = Field(default_factory=dict)
    lock: list[str] = Field(default_factory=list, max_length=1000)
    target_ratio: float = Field(DEFAULT_TARGET_RATIO, gt=1.0, le=10.0)
    max_moves: int | None = Field(None, ge=1, le=100_000)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class PlanActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str | None = Field(
        None, min_length=1, max_length=500, description="why (kept in the history)"
    )


class PlanSummary(BaseModel):
    id: str
    scope: str | None
    status: str
    actor: str
    created_at: str | None
    updated_at: str | None
    changeset_id: str | None
    metrics: dict[str, Any] | None


class Plan(PlanSummary):
    params: dict[str, Any] | None
    moves: list[dict[str, Any]]


class HistoryEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    changeset_id: str
    cell: str | None
    unit_code: str | None
    from_leader: str | None
    to_leader: str | None
    actor: str
    reason: str | None
    at: str


class LeaderRef(BaseModel):
    id: str
    name: str
    role: str
    department: str | None = None
    active: bool
    phone: str | None = Field(None, description="planners and admins only")


class UnitRef(BaseModel):
    code: str
    name: str
    level: str


class LocateResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lat": 43.8,
                    "lng": 125.25,
                    "cell": "8a31766f0937fff",
                    "piece_id": 12,
                    "inside": True,
                    "units": [
                        {"code": "220173", "name": "长春高新技术产业开发区", "level": "district"},
                        {"code": "220173001", "name": "硅谷街道", "level": "street"},
                    ],
                    "leader": {
                        "id": "G001",
                        "name": "网格长张三",
                        "role": "grid_leader",
                        "department": None,
                        "active": True,
                    },
                    "package_leaders": [],
                    "departments": [
                        {"code": "JYJ", "name": "教育局", "name_en": "Education Bureau"}
                    ],
                }
            ]
        }
    )

    lat: float
    lng: float
    cell: str | None
    piece_id: int | None
    inside: bool
    units: list[UnitRef]
    leader: LeaderRef | None
    package_leaders: list[LeaderRef]
    departments: list[Department] | None = Field(
        None, description="departments owning `category` (only when category is given)"
    )


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")
    role: Literal["admin", "planner", "leader", "viewer"]
    leader_id: str | None = Field(None, max_length=64)
    password: str | None = Field(None, min_length=8, max_length=200)


class UserOut(BaseModel):
    id: int
    name: str
    role: str
    leader_id: str | None
    active: bool


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    password: str = Field(min_length=8, max_length=200)


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field(min_length=1, max_length=500, description="why (kept in the access log)")
    tokens: bool = Field(False, description="revoke the user's API tokens too")


class RevokeOut(BaseModel):
    user: str
    sessions: int = Field(description="login sessions ended")
    tokens: int = Field(description="API tokens revoked")


class TokenOut(BaseModel):
    user: str
    token: str = Field(description="shown once; only its SHA-256 is stored")


class CoverageReport(BaseModel):
    """The documented coverage report (docs/coverage.md), ``report_version`` 1."""

    model_config = ConfigDict(extra="allow")

    report: str
    report_version: int
    scope: str | None
    units: list[dict[str, Any]]
    leaders: list[dict[str, Any]]
    findings: list[dict[str, Any]]


class LoadOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    changes: int
    changeset_id: str | None


# --- OGC API – Features ---------------------------------------------------------------------


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class Landing(BaseModel):
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]


class Collection(BaseModel):
    id: str
    title: str
    description: str
    links: list[Link]
    extent: dict[str, Any] | None = None
    itemType: str = "feature"
    crs: list[str]


class Collections(BaseModel):
    links: list[Link]
    collections: list[Collection]
