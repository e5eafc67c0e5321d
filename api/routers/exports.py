"""Exports (KML/KMZ/GPX/SHP/XLSX/DOCX/PPTX/PNG/PDF/HTML), streamed with a UTF-8 file name."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from api.deps import SettingsDep, StoreDep, Viewer
from api.exports import FORMATS, ExportUnavailable, export_file
from api.routers._common import problems

router = APIRouter(tags=["exports"])

Format = Query(pattern="^(" + "|".join(FORMATS) + ")$", description="|".join(FORMATS))
FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file (Content-Disposition carries a UTF-8 file name)",
        "content": {
            m.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
            for m in FORMATS.values()
        },
    }
}
ERRS: dict[int | str, dict[str, Any]] = {
    **FILE,
    **problems(400, 401, 403, 404, 422),
    501: {"description": "format not available yet"},
}


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the RFC 5987 ``filename*=UTF-8''…`` form."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _stream(path: FsPath, tmp: str, fmt: str, filename: str) -> StreamingResponse:
    def chunks() -> Iterator[bytes]:
        with path.open("rb") as fh:
            while block := fh.read(64 * 1024):
                yield block

    return StreamingResponse(
        chunks(),
        media_type=FORMATS[fmt],
        headers={
            "Content-Disposition": content_disposition(filename),
            "Content-Length": str(path.stat().st_size),
        },
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


def _export(
    store: Any, settings: Any, kind: str, target: str | None, fmt: str, filename: str
) -> StreamingResponse:
    tmp = tempfile.mkdtemp(prefix="gridmgr-export-")
    try:
        path = export_file(store, kind, target, fmt, FsPath(tmp), basemap=settings.basemap)
    except ExportUnavailable as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HTTPException(501, str(exc)) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.suffix == ".zip" and fmt != "zip":
        filename = filename.rsplit(".", 1)[0] + ".zip"
    return _stream(path, tmp, "shp" if path.suffix == ".zip" else fmt, filename)


@router.get("/exports/leaders/{leader_id}", response_class=StreamingResponse, responses=ERRS)
def export_leader(
    store: StoreDep,
    settings: SettingsDep,
    user: Viewer,
    leader_id: str = Path(max_length=64),
    format: str = Format,
) -> StreamingResponse:
    """A leader's patrol package: territory, key places and route (KML/KMZ/GPX for field apps,
    PNG/PDF to print, HTML map …). File name e.g. ``网格长张三_巡查图.kml``."""
    leader = store.get_leader(leader_id)
    return _export(
        store, settings, "leader", leader_id, format, f"{leader['name']}_巡查图.{format}"
    )


@router.get("/exports/units/{code}", response_class=StreamingResponse, responses=ERRS)
def export_unit(
    store: StoreDep,
    settings: SettingsDep,
    user: Viewer,
    code: str = Path(max_length=32),
    format: str = Format,
) -> StreamingResponse:
    """A unit's (street / community) map or tables."""
    from gridmgr.errors import UnitNotFoundError

    units = store.units()
    hit = units.loc[units["code"].astype(str) == code]
    if hit.empty:
        raise UnitNotFoundError(f"unit {code!r} is not in the store; list units at /api/units")
    return _export(store, settings, "unit", code, format, f"{hit.iloc[0]['name']}.{format}")


@router.get("/exports/briefing", response_class=StreamingResponse, responses=ERRS)
def export_briefing(
    store: StoreDep, settings: SettingsDep, user: Viewer, format: str = Format
) -> StreamingResponse:
    """The briefing pack (汇报材料): overview, per-street maps, coverage table, gap list."""
    return _export(store, settings, "briefing", None, format, f"网格化管理汇报材料.{format}")
