"""The coverage report (不留死角、不留盲点): JSON and GeoJSON of the gaps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from api.deps import StoreDep, Viewer
from api.geojson import clean_records, dumps, feature_collection, geometry_strings
from api.routers._common import GEOJSON, problems
from api.schemas import CoverageReport, FeatureCollection

router = APIRouter(tags=["coverage"])

Scope = Query(None, max_length=32, description="unit code of any level (default: everything)")
Weights = Query(None, max_length=200, description="workload weights, e.g. area=1,key_places=5")


@router.get("/coverage", response_model=CoverageReport, responses=problems(401, 403, 404, 422))
def coverage(
    store: StoreDep, user: Viewer, scope: str | None = Scope, weights: str | None = Weights
) -> Response:
    """The documented coverage report (``report_version`` 1; see docs/coverage.md)."""
    from gridmgr.coverage import coverage_from_store

    report = coverage_from_store(store, scope=scope, weights=weights)
    return Response(dumps(report.to_dict()), media_type="application/json")


@router.get(
    "/coverage/geojson",
    response_model=FeatureCollection,
    responses={**problems(401, 403, 404, 422), 200: {"content": {GEOJSON: {}}}},
)
def coverage_geojson(
    store: StoreDep,
    user: Viewer,
    scope: str | None = Scope,
    weights: str | None = Weights,
    severity: str | None = Query(None, pattern="^(gap|warning)$"),
) -> Response:
    """Every finding with a geometry (dead corners, blind spots, overlaps …) as GeoJSON."""
    from gridmgr.coverage import coverage_from_store

    frame = coverage_from_store(store, scope=scope, weights=weights).findings_frame()
    if severity is not None:
        frame = frame.loc[frame["severity"] == severity]
    cols = [c for c in frame.columns if c != "geometry"]
    props: list[dict[str, Any]] = clean_records(frame, cols)
    return Response(
        feature_collection(
            geometry_strings(frame.geometry.values),
            props,
            numberMatched=len(frame),
            numberReturned=len(frame),
        ),
        media_type=GEOJSON,
    )
