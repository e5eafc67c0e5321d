"""Exports (KML/KMZ/GPX/SHP/XLSX/DOCX/PPTX/PNG/PDF/HTML), streamed with a UTF-8 file name."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from api.deps import SettingsDep, StoreDep, User, Viewer
from api.exports import FORMATS, ExportUnavailable, export_file
from api.routers._common import problems
from api.routers.maps import OwnGround

router = APIRouter(tags=["exports"])
#: Characters never put in a download file name: C0/C1 controls, bidi overrides, path separators.
CONTROL_OR_PATH = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029/\\\\]")

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


def safe_filename(filename: str) -> str:
    r"""``filename`` without control, bidi or path characters (a name is data, never a header
    or a path: CR/LF from a leader's name must not split the header).

    >>> safe_filename("张\r\n三/../x.kml")
    '张__三_.._x.kml'
    """
    return CONTROL_OR_PATH.sub("_", filename).strip() or "export"


def content_disposition(filename: str) -> str:
    r"""``attachment`` with an ASCII fallback and the RFC 5987 ``filename*=UTF-8''…`` form.

    >>> content_disposition("网格长\r\n.kml")
    'attachment; filename="_____.kml"; filename*=UTF-8\'\'%E7%BD%91%E6%A0%BC%E9%95%BF__.kml'
    """
    name = safe_filename(filename)
    ascii_name = name.encode("ascii", "replace").decode()
    ascii_name = re.sub(r'[?"\\;]', "_", ascii_name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _stream(path: FsPath, tmp: str, fmt: str, filename: str) -> StreamingResponse:
    """Stream the file; the temporary folder goes when the stream ends, fails or is dropped."""

    def chunks() -> Iterator[bytes]:
        try:
            with path.open("rb") as fh:
                while block := fh.read(64 * 1024):
                    yield block
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    try:
        headers = {
            "Content-Disposition": content_disposition(filename),
            "Content-Length": str(path.stat().st_size),
        }
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return StreamingResponse(
        chunks(),
        media_type=FORMATS[fmt],
        headers=headers,
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
    user: OwnGround,
    leader_id: str = Path(max_length=64),
    format: str = Format,
) -> StreamingResponse:
    """A leader's patrol package: territory, key places and route (KML/KMZ/GPX for field apps,
    PNG/PDF to print, HTML map …). File name e.g. ``网格长张三_巡查图.kml``. The leader,
    planners and admins only."""
    leader = store.get_leader(leader_id)
    return _export(
        store, settings, "leader", leader_id, format, f"{leader['name']}_巡查图.{format}"
    )


def require_unit_reader(store: StoreDep, user: Viewer, code: str = Path(max_length=32)) -> User:
    """A unit's detailed map and tables show every territory in it: a leader may open the units
    of their own packages only (least privilege); viewers (office staff), planners and admins
    any. A dependency, so the refusal (403) comes before the other parameters are checked."""
    from gridmgr.errors import PermissionDeniedError
    from gridmgr.i18n import t

    if user.role != "leader":
        return user
    packages = store.get_leader(user.leader_id).get("unit_packages") or [] if user.leader_id else []
    if code in {str(c) for c in packages}:
        return user
    raise PermissionDeniedError(
        t(
            f"网格长只能导出自己包保单位的详图；单位 {code!r} 不在您的包保范围内",
            f"a leader may export only the units of their own packages; {code!r} is not one",
        )
    )


@router.get("/exports/units/{code}", response_class=StreamingResponse, responses=ERRS)
def export_unit(
    store: StoreDep,
    settings: SettingsDep,
    user: Annotated[User, Depends(require_unit_reader)],
    code: str = Path(max_length=32),
    format: str = Format,
) -> StreamingResponse:
    """A unit's (street / community) map or tables; a leader: only their own package units."""
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
