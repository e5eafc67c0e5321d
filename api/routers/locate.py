"""``GET /api/locate``: who is responsible for this point?"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from api.deps import Viewer
from api.geojson import dumps
from api.routers._common import problems
from api.schemas import LocateResult

router = APIRouter(tags=["locate"])


@router.get(
    "/locate",
    response_model=LocateResult,
    operation_id="locate",
    responses={
        **problems(401, 403, 422),
        200: {
            "description": "who answers for the point",
            "links": {
                "GetAssignment": {
                    "operationId": "get_assignment",
                    "parameters": {"cell": "$response.body#/cell"},
                    "description": "the cell's owners and ETag",
                }
            },
        },
    },
)
async def locate(
    request: Request,
    user: Viewer,
    lat: float = Query(ge=-90, le=90, examples=[43.8025]),
    lng: float = Query(ge=-180, le=180, examples=[125.253]),
    category: str | None = Query(
        None,
        max_length=64,
        description="key-place category: adds the departments that own it (条), e.g. school",
    ),
) -> Response:
    """The cell and piece at a point, its unit chain (district → street → community), the
    territorial leader (块), the package leaders of those units (点) and, with ``category``,
    the departments in charge (条). Answered from an in-memory index (no database query);
    ``inside`` is false outside the jurisdiction. Phones for planners and admins only.

    ``async`` and without further dependencies: the lookup is pure memory (the hot path of the
    service); the owner check (a one-row query every few seconds) runs in the thread pool.
    """
    state = request.app.state
    index = state.index
    await index.maybe_refresh(state.store, state.settings.locate_refresh_seconds)
    out = index.locate(lng, lat, category=category, phones=user.sees_phones)
    return Response(dumps(out), media_type="application/json")
