"""Export adapter: files of :mod:`gridmgr.export` for a leader, a unit or the briefing pack.

The work is done by the library (``gridmgr.export``); this module runs it into a temporary
directory and hands the file to the router, which streams it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FORMATS: dict[str, str] = {
    "html": "text/html; charset=utf-8",
    "png": "image/png",
    "pdf": "application/pdf",
    "kml": "application/vnd.google-earth.kml+xml",
    "kmz": "application/vnd.google-earth.kmz",
    "gpx": "application/gpx+xml",
    "shp": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
KINDS = ("leader", "unit", "briefing")


class ExportUnavailable(Exception):
    """The library does not (yet) provide this export."""


def export_file(
    store: Any,
    kind: str,
    target: str | None,
    fmt: str,
    out_dir: Path,
    *,
    basemap: str | None = None,
) -> Path:
    """Write the export of ``kind`` (``leader``/``unit``/``briefing``) into ``out_dir``.

    Several files (a Shapefile's parts) are zipped into one. Formats a kind does not offer are
    refused by the library (:class:`~gridmgr.errors.InputError`, 422).

    Raises
    ------
    ExportUnavailable
        ``gridmgr.export`` is not importable (only ``html`` still works then).
    """
    out = out_dir / f"export.{fmt}"
    try:
        import gridmgr.export as ex
    except ImportError:
        return _html_only(store, kind, target, fmt, out, basemap=basemap)
    data = ex.export_data_from_store(store, with_coverage=kind != "leader")
    if kind == "leader":
        paths = ex.export_leader(data, str(target), out, fmt=fmt)
    elif kind == "unit":
        paths = ex.export_unit(data, str(target), out, fmt=fmt)
    else:
        paths = ex.export_briefing(data, out, fmt=fmt)
    paths = [Path(p) for p in paths]
    if len(paths) == 1 and fmt != "shp":
        return paths[0]
    import zipfile

    bundle = out_dir / "export.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in paths:
            zf.write(p, arcname=p.name)
    return bundle


def _html_only(
    store: Any, kind: str, target: str | None, fmt: str, out: Path, *, basemap: str | None
) -> Path:
    if fmt != "html" or kind == "briefing":
        raise ExportUnavailable(
            f"export {kind} as {fmt} needs gridmgr.export, which is not installed in this build"
        )
    from gridmgr.maps import leader_map_from_store, map_html, overview_map_from_store

    m = (
        leader_map_from_store(store, str(target), basemap=basemap)
        if kind == "leader"
        else overview_map_from_store(store, scope=target, basemap=basemap)
    )
    out.write_text(map_html(m), encoding="utf-8")
    return out
