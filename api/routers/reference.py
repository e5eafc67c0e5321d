"""Units, departments and key-place categories (read-only reference data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import StoreDep, Viewer
from api.geojson import clean_records
from api.routers._common import READ, problems
from api.schemas import Category, Department, Unit

router = APIRouter(tags=["reference"])


@router.get("/units", response_model=list[Unit], responses=READ)
def list_units(
    store: StoreDep,
    user: Viewer,
    level: str | None = Query(
        None, description="district | street | community | grid", max_length=16
    ),
) -> list[dict[str, Any]]:
    """All units (行政单元) without geometry, district → street → community order."""
    units = store.units()
    if level is not None:
        units = units.loc[units["level"] == level]
    cols = [c for c in ("code", "name", "level", "parent", "name_en", "area_m2") if c in units]
    return clean_records(units, cols)


@router.get("/units/{code}", response_model=Unit, responses=problems(401, 403, 404, 422))
def get_unit(code: str, store: StoreDep, user: Viewer) -> dict[str, Any]:
    """One unit with its GeoJSON geometry."""
    import json

    import shapely

    from gridmgr.errors import UnitNotFoundError

    units = store.units()
    hit = units.loc[units["code"].astype(str) == code]
    if hit.empty:
        raise UnitNotFoundError(f"unit {code!r} is not in the store; list units at /api/units")
    row = clean_records(
        hit, [c for c in ("code", "name", "level", "parent", "name_en", "area_m2") if c in hit]
    )[0]
    row["geometry"] = json.loads(shapely.to_geojson(hit.geometry.iloc[0]))
    return row


@router.get("/departments", response_model=list[Department], responses=READ)
def list_departments(store: StoreDep, user: Viewer) -> list[dict[str, Any]]:
    """Sector departments (行管部门)."""
    return clean_records(store.departments(), ["code", "name", "name_en"])


@router.get("/categories", response_model=list[Category], responses=READ)
def list_categories(store: StoreDep, user: Viewer) -> list[dict[str, Any]]:
    """Key-place categories and the department that owns each (条)."""
    cats = store.categories()
    out = clean_records(
        cats, ["category", "name", "name_en", "department", "requires_package_leader"]
    )
    for r in out:
        r["requires_package_leader"] = bool(r["requires_package_leader"])
    return out
