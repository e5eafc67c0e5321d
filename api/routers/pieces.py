"""Pieces as GeoJSON, paged and filtered (served from the in-memory index)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from api.deps import IndexDep, SettingsDep, StoreDep, Viewer
from api.geojson import feature_collection
from api.locate import piece_properties, select_pieces
from api.routers._common import BBOX_PATTERN, GEOJSON, READ, check_bbox, check_limit
from api.schemas import FeatureCollection

router = APIRouter(tags=["pieces"])


def refresh_if_stale(index: IndexDep, store: StoreDep, settings: SettingsDep) -> None:
    """Re-read owners when they are older than ``settings.locate_refresh_seconds``."""
    if index.stale(settings.locate_refresh_seconds):
        index.check_owners(store)


@router.get(
    "/pieces",
    response_model=FeatureCollection,
    responses={**READ, 200: {"content": {GEOJSON: {}}}},
)
def list_pieces(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    index: IndexDep,
    user: Viewer,
    scope: str | None = Query(None, max_length=32, description="unit code of any level"),
    leader: str | None = Query(None, max_length=64, description="only pieces held by this leader"),
    bbox: str | None = Query(
        None,
        pattern=BBOX_PATTERN,
        description="minx,miny,maxx,maxy in WGS-84; area ≤ "
        "GRIDMGR_MAX_BBOX_DEG2 (default 1 square degree)",
    ),
    limit: int | None = Query(None, ge=1, description="page size, ≤ GRIDMGR_MAX_PAGE_SIZE (1000)"),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> Response:
    """Pieces (a cell clipped to one community) with their owner and version, as a GeoJSON
    FeatureCollection with ``numberMatched``/``numberReturned``; page with ``limit``/``offset``."""
    box = check_bbox(bbox, settings.max_bbox_deg2)
    n = check_limit(limit, settings.default_page_size, settings.max_page_size)
    refresh_if_stale(index, store, settings)
    snap = index.data
    pos = select_pieces(snap, scope=scope, leader=leader, bbox=box)
    page = pos[offset : offset + n]
    body = feature_collection(
        snap.geojson(page),
        piece_properties(snap, page),
        ids=snap.id_list(page),
        numberMatched=len(pos),
        numberReturned=len(page),
    )
    return Response(body, media_type=GEOJSON)
