"""OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0) for the read-only layers.

Landing page at ``/ogc`` (the web pages own ``/``). QGIS: *Layer → Add WFS / OGC API Features*,
URL ``http://host:port/ogc``, authentication *API header* ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import IndexDep, SettingsDep, StoreDep, Viewer
from api.geojson import clean_records, feature_collection, geometry_strings
from api.locate import piece_properties, select_pieces
from api.routers._common import (
    BBOX_PATTERN,
    GEOJSON,
    check_bbox,
    check_limit,
    json_response,
    problems,
)
from api.schemas import Collection, Collections, Conformance, FeatureCollection, Landing

router = APIRouter(prefix="/ogc", tags=["OGC API – Features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
COLLECTIONS = {
    "units": ("行政单元 / units", "district, streets, communities"),
    "pieces": ("网格地块 / pieces", "H3 cells clipped to communities, with their owner"),
    "key_places": ("重点点位 / key places", "schools, markets, hospitals … with department"),
}
ERRS = problems(401, 403, 404, 422)
CollectionId = Path(
    pattern="^(units|pieces|key_places)$", description="units | pieces | key_places"
)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _collection(request: Request, cid: str, extent: list[float] | None) -> dict[str, Any]:
    base = _base(request)
    title, desc = COLLECTIONS[cid]
    out: dict[str, Any] = {
        "id": cid,
        "title": title,
        "description": desc,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            {"href": f"{base}/collections/{cid}", "rel": "self", "type": "application/json"},
            {"href": f"{base}/collections/{cid}/items", "rel": "items", "type": GEOJSON},
        ],
    }
    if extent is not None:
        out["extent"] = {"spatial": {"bbox": [extent], "crs": CRS84}}
    return out


@router.get("", response_model=Landing, responses=ERRS)
def landing(request: Request, user: Viewer) -> dict[str, Any]:
    """OGC API landing page."""
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return {
        "title": "gridmgr OGC API – Features",
        "description": "长春高新区网格化管理只读图层",
        "links": [
            {"href": base, "rel": "self", "type": "application/json"},
            {
                "href": f"{root}/api/openapi.json",
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
            },
            {"href": f"{root}/api/docs", "rel": "service-doc", "type": "text/html"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json"},
            {"href": f"{base}/collections", "rel": "data", "type": "application/json"},
        ],
    }


@router.get("/conformance", response_model=Conformance, responses=ERRS)
def conformance(user: Viewer) -> dict[str, Any]:
    """Conformance classes implemented."""
    return {"conformsTo": CONFORMANCE}


def _extent(index: Any) -> list[float] | None:
    extent: list[float] | None = index.data.extent
    return extent


@router.get("/collections", response_model=Collections, responses=ERRS)
def collections(request: Request, index: IndexDep, user: Viewer) -> dict[str, Any]:
    """The feature collections."""
    ext = _extent(index)
    return {
        "links": [
            {"href": f"{_base(request)}/collections", "rel": "self", "type": "application/json"}
        ],
        "collections": [_collection(request, cid, ext) for cid in COLLECTIONS],
    }


@router.get("/collections/{collection_id}", response_model=Collection, responses=ERRS)
def collection(
    request: Request, index: IndexDep, user: Viewer, collection_id: str = CollectionId
) -> dict[str, Any]:
    """One collection."""
    return _collection(request, collection_id, _extent(index))


def _frame_features(
    frame: Any, id_col: str, cols: list[str]
) -> tuple[list[str], list[dict[str, Any]], list[Any]]:
    props = clean_records(frame, [c for c in cols if c in frame.columns])
    return geometry_strings(frame.geometry.values), props, frame[id_col].astype(str).tolist()


Features = tuple[list[str], list[dict[str, Any]], list[Any], int]


def _features(store: Any, index: Any, cid: str, box: Any, sl: slice = slice(None)) -> Features:
    """Geometries, properties and ids of the features ``sl`` of those meeting ``box``, and how
    many meet it. Pieces are drawn only for the page (the index holds no shapes of whole
    pieces)."""
    import shapely

    if cid == "pieces":
        snap = index.data
        pos = select_pieces(snap, bbox=box)
        page = pos[sl]
        return snap.geojson(page), piece_properties(snap, page), snap.id_list(page), len(pos)
    frame = store.units() if cid == "units" else store.key_places()
    if box is not None and len(frame):
        frame = frame.loc[shapely.intersects(frame.geometry.values, shapely.box(*box))]
    total = len(frame)
    frame = frame.iloc[sl]
    if cid == "units":
        cols = ["code", "name", "level", "parent", "name_en", "area_m2"]
    else:
        cols = ["code", "name", "category", "address", "unit_code", "department"]
        cols.append("package_leader_id")
    return (*_frame_features(frame, "code", cols), total)


def _piece_feature(index: Any, feature_id: str) -> Features:
    """The piece with id ``feature_id`` (written as the ids are: a decimal integer)."""
    snap = index.data
    try:
        pid = int(feature_id)
    except ValueError:
        pid = None
    found = snap.positions_of([pid]) if pid is not None and str(pid) == feature_id else None
    pos = found[found >= 0] if found is not None else found
    if pos is None or len(pos) == 0:
        return [], [], [], 0
    return snap.geojson(pos), piece_properties(snap, pos), snap.id_list(pos), 1


@router.get(
    "/collections/{collection_id}/items",
    response_model=FeatureCollection,
    responses={**ERRS, 200: {"content": {GEOJSON: {}}}},
)
def items(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    index: IndexDep,
    user: Viewer,
    collection_id: str = CollectionId,
    limit: int | None = Query(None, ge=1, description="≤ GRIDMGR_MAX_PAGE_SIZE"),
    offset: int = Query(0, ge=0, le=10_000_000),
    bbox: str | None = Query(None, pattern=BBOX_PATTERN, description="minx,miny,maxx,maxy (CRS84)"),
) -> Response:
    """Features of a collection, paged with ``links`` next/prev."""
    box = check_bbox(bbox, settings.max_bbox_deg2)
    n = check_limit(limit, settings.default_page_size, settings.max_page_size)
    geoms, props, page_ids, total = _features(
        store, index, collection_id, box, slice(offset, offset + n)
    )
    url = f"{_base(request)}/collections/{collection_id}/items"

    def link(rel: str, off: int) -> dict[str, Any]:
        q = {"limit": n, "offset": off, **({"bbox": bbox} if bbox else {})}
        return {"href": f"{url}?{urlencode(q)}", "rel": rel, "type": GEOJSON}

    links = [link("self", offset)]
    if offset + n < total:
        links.append(link("next", offset + n))
    if offset > 0:
        links.append(link("prev", max(0, offset - n)))
    body = feature_collection(
        geoms,
        props,
        ids=page_ids,
        numberMatched=total,
        numberReturned=len(page_ids),
        links=links,
    )
    return Response(body, media_type=GEOJSON)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    responses={**ERRS, 200: {"content": {GEOJSON: {"schema": {"type": "object"}}}}},
)
def item(
    request: Request,
    store: StoreDep,
    index: IndexDep,
    user: Viewer,
    collection_id: str = CollectionId,
    feature_id: str = Path(min_length=1, max_length=64),
) -> Response:
    """One feature."""
    from gridmgr.errors import NotFoundError

    if collection_id == "pieces":
        geoms, props, ids, _ = _piece_feature(index, feature_id)
    else:
        geoms, props, ids, _ = _features(store, index, collection_id, None)
    try:
        i = [str(x) for x in ids].index(feature_id)
    except ValueError:
        raise NotFoundError(f"collection {collection_id}: no feature {feature_id!r}") from None
    from api.geojson import dumps

    body = (
        b'{"type":"Feature","id":'
        + dumps(ids[i])
        + b',"geometry":'
        + geoms[i].encode()
        + b',"properties":'
        + dumps(props[i])
        + b"}"
    )
    return Response(body, media_type=GEOJSON)


__all__ = ["json_response", "router"]
