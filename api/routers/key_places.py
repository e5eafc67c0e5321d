"""Key places (重点区域/点位) as GeoJSON."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from api.deps import SettingsDep, StoreDep, Viewer
from api.geojson import clean_records, feature_collection, geometry_strings
from api.routers._common import BBOX_PATTERN, GEOJSON, check_bbox, check_limit, problems
from api.schemas import FeatureCollection

router = APIRouter(tags=["key places"])

COLUMNS = [
    "code",
    "name",
    "category",
    "address",
    "unit_code",
    "piece_id",
    "department",
    "package_leader_id",
]


@router.get(
    "/key-places",
    response_model=FeatureCollection,
    responses={**problems(401, 403, 404, 422), 200: {"content": {GEOJSON: {}}}},
)
def list_key_places(
    store: StoreDep,
    settings: SettingsDep,
    user: Viewer,
    scope: str | None = Query(None, max_length=32, description="unit code of any level"),
    category: str | None = Query(None, max_length=64),
    bbox: str | None = Query(
        None, pattern=BBOX_PATTERN, description="minx,miny,maxx,maxy (WGS-84)"
    ),
    limit: int | None = Query(None, ge=1),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> Response:
    """Key places with category, department (条) and package leader (点)."""
    import shapely

    box = check_bbox(bbox, settings.max_bbox_deg2)
    n = check_limit(limit, settings.default_page_size, settings.max_page_size)
    places = store.key_places(scope)
    if category is not None:
        places = places.loc[places["category"] == category]
    if box is not None and len(places):
        places = places.loc[shapely.intersects(places.geometry.values, shapely.box(*box))]
    page = places.iloc[offset : offset + n]
    props = clean_records(page, COLUMNS)
    body = feature_collection(
        geometry_strings(page.geometry.values),
        props,
        ids=page["code"].astype(str).tolist(),
        numberMatched=len(places),
        numberReturned=len(page),
    )
    return Response(body, media_type=GEOJSON)
