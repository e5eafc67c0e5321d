"""Offline map tiles: ``GET /api/tiles/{z}/{x}/{y}`` from the office's MBTiles/PMTiles file.

``GRIDMGR_TILES`` names the file (:mod:`gridmgr.maps.tiles` reads it); the ``local`` basemap of the
map pages loads its tiles from here, so an intranet needs no tile server. Tiles are for signed-in
users (licensed map packages), cached privately by the browser for a day and revalidated by ETag.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.deps import SettingsDep, Viewer
from api.routers._common import problems

router = APIRouter(tags=["maps"])

#: Browser caching of a tile: private (behind login), one day, then revalidated by ETag.
CACHE_CONTROL = "private, max-age=86400"

TILE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}, "image/avif": {}},
        "description": "one raster tile as stored in the file",
    },
    304: {"description": "the tile is unchanged (If-None-Match)"},
}


@router.get(
    "/tiles/{z}/{x}/{y}",
    response_class=Response,
    responses={**TILE, **problems(401, 403, 404, 422)},
)
def tile(
    request: Request,
    settings: SettingsDep,
    user: Viewer,
    z: int = Path(ge=0, le=30),
    x: int = Path(ge=0),
    y: int = Path(ge=0),
) -> Response:
    """One tile of the offline basemap (404 when no file is configured or it has no such tile)."""
    from gridmgr.errors import InputError, NotFoundError
    from gridmgr.i18n import t
    from gridmgr.maps.tiles import TILES_ENV, open_tiles

    if not settings.tiles:
        raise NotFoundError(
            t(
                f"此服务器未配置离线瓦片（{TILES_ENV}）",
                f"this server has no offline tiles ({TILES_ENV} is not set)",
            )
        )
    try:
        found = open_tiles(settings.tiles).get(z, x, y)
    except InputError as exc:  # the file is the server's problem: say so without its path
        raise NotFoundError(
            t(
                f"离线瓦片文件无法读取，请管理员检查 {TILES_ENV}",
                f"the offline tile file cannot be read; an administrator should check {TILES_ENV}",
            )
        ) from exc
    if found is None:
        raise NotFoundError(t(f"没有瓦片 {z}/{x}/{y}", f"no tile {z}/{x}/{y}"))
    etag = '"' + hashlib.blake2b(found.data, digest_size=12).hexdigest() + '"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if found.encoding:
        headers["Content-Encoding"] = found.encoding
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(found.data, media_type=found.content_type, headers=headers)
