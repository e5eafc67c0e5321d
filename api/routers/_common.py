"""Shared pieces of the routers: documented problem responses, JSON responses, paging."""

from __future__ import annotations

import math
from typing import Any

from fastapi import HTTPException, Response

from api.errors import PROBLEM
from api.geojson import dumps
from api.schemas import Problem

GEOJSON = "application/geo+json"
_NUM = r"-?\d{1,3}(\.\d{1,15})?"
#: ``minx,miny,maxx,maxy`` in decimal degrees.
BBOX_PATTERN = rf"^{_NUM},{_NUM},{_NUM},{_NUM}$"


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these problem statuses."""
    text = {
        400: "bad request",
        401: "not authenticated",
        403: "role not allowed",
        404: "not found",
        409: "conflict (names the pieces)",
        412: "If-Match is stale",
        413: "body too large",
        422: "invalid request",
        428: "If-Match required",
    }
    return {
        c: {
            "model": Problem,
            "description": text.get(c, "problem"),
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for c in codes
    }


#: Every authenticated read.
READ = problems(401, 403, 422)
WRITE = problems(400, 401, 403, 404, 409, 422)


def json_response(
    obj: Any,
    *,
    status: int = 200,
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON response serialised with orjson (numpy/pandas values handled)."""
    return Response(dumps(obj), status_code=status, media_type=media_type, headers=headers)


def check_bbox(bbox: str | None, max_deg2: float) -> tuple[float, float, float, float] | None:
    """Parse ``minx,miny,maxx,maxy`` (WGS-84 degrees) and bound its area."""
    if bbox is None:
        return None
    try:
        parts = [float(x) for x in bbox.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise HTTPException(422, "bbox must be four numbers minx,miny,maxx,maxy (WGS-84 degrees)")
    x0, y0, x1, y1 = parts
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise HTTPException(
            422, "bbox must satisfy -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90"
        )
    if (x1 - x0) * (y1 - y0) > max_deg2:
        raise HTTPException(
            422,
            f"bbox covers {(x1 - x0) * (y1 - y0):.3f} square degrees; "
            f"the limit is {max_deg2} (GRIDMGR_MAX_BBOX_DEG2)",
        )
    return x0, y0, x1, y1


def check_limit(limit: int | None, default: int, maximum: int) -> int:
    """The page size: ``default`` when absent, refused above ``maximum``."""
    if limit is None:
        return default
    if limit > maximum:
        raise HTTPException(
            422,
            f"limit {limit} is above the maximum page size {maximum} "
            "(GRIDMGR_MAX_PAGE_SIZE); page with offset",
        )
    return limit
