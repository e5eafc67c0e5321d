"""Exports for briefings and for the field: static maps, KML/KMZ/GPX/SHP, XLSX/DOCX/PPTX.

Modules: :mod:`~gridmgr.export.data` (the :class:`ExportData` bundle, territories),
:mod:`~gridmgr.export.map_pages` (static map pages), :mod:`~gridmgr.export.tables` (tables, XLSX),
:mod:`~gridmgr.export.targets` (leader and unit exports), :mod:`~gridmgr.export.briefing`
(briefing documents and pack; re-exports the others), :mod:`~gridmgr.export.field_formats`
(KML/KMZ/GPX/SHP),
:mod:`~gridmgr.export.office` (XLSX/DOCX/PPTX layouts).
"""

from __future__ import annotations

from gridmgr.export.briefing import (
    ExportData,
    StaticMap,
    blind_geometry,
    briefing_pack,
    export_briefing,
    export_data_from_store,
    export_leader,
    export_unit,
    gap_table,
    gpx_document,
    kml_document,
    leader_layers,
    leader_table,
    read_roads,
    static_map,
    streets,
    summary_lines,
    territories_frame,
    unit_table,
    write_docx,
    write_gpx,
    write_kml,
    write_kmz,
    write_pptx,
    write_shapefile,
    write_xlsx,
)

__all__ = [
    "ExportData",
    "StaticMap",
    "blind_geometry",
    "briefing_pack",
    "export_briefing",
    "export_data_from_store",
    "export_leader",
    "export_unit",
    "gap_table",
    "gpx_document",
    "kml_document",
    "leader_layers",
    "leader_table",
    "read_roads",
    "static_map",
    "streets",
    "summary_lines",
    "territories_frame",
    "unit_table",
    "write_docx",
    "write_gpx",
    "write_kml",
    "write_kmz",
    "write_pptx",
    "write_shapefile",
    "write_xlsx",
]
