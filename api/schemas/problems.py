"""Request bodies of the problem routes (``api/routers/problems.py``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProblemIn(BaseModel):
    """A report: where, what, and (optionally) when it was seen."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=3, le=54, description="WGS-84 latitude")
    lng: float = Field(ge=73, le=136, description="WGS-84 longitude")
    category: str = Field(min_length=1, max_length=16, description="category code, e.g. ZZ01")
    text: str = Field(min_length=1, max_length=2000)
    source: str = Field(default="patrol", pattern="^(patrol|inspection|public|assigned)$")
    at: str | None = Field(default=None, max_length=40, description="ISO time; default now")
