"""Exports for briefings (汇报) and for the field: static maps, KML/KMZ/GPX/SHP, XLSX/DOCX/PPTX.

Everything works on an :class:`ExportData` bundle of the contract frames (units, pieces with
``leader_id``, leaders, key places …, see ``docs/architecture.md``); :func:`export_data_from_store`
reads one from a store. Public entry points:

- :func:`static_map` — a PNG/PDF page (A4/A3 landscape) of a leader, a unit or the whole zone;
- :func:`write_kml`, :func:`write_kmz`, :func:`write_gpx`, :func:`write_shapefile` — field formats
  over plain frames and an optional :class:`gridmgr.patrol.route.PatrolRoute`;
- :func:`write_xlsx`, :func:`write_docx`, :func:`write_pptx` — tables and the briefing documents;
- :func:`export_leader`, :func:`export_unit` — one format for one leader / unit;
- :func:`briefing_pack` — the whole pack into a folder.

This module makes the briefing documents and the pack; the other names live in topic modules and
are re-exported here: :mod:`gridmgr.export.data` (the bundle, territories),
:mod:`gridmgr.export.map_pages` (static map pages), :mod:`gridmgr.export.tables` (tables, XLSX),
:mod:`gridmgr.export.targets` (leader and unit exports), :mod:`gridmgr.export.field_formats`
(KML/KMZ/GPX/SHP). The static map engine is in :mod:`gridmgr.maps.static_map`, the office
formats in :mod:`gridmgr.export.office`.
Notes for developers: ``docs/exports.md``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gridmgr.export.data import (
    ROLE_LABELS,
    ExportData,
    _fmt_from,
    _territorial_leader_ids,
    blind_geometry,
    export_data_from_store,
    read_roads,
    streets,
    territories_frame,
)
from gridmgr.export.field_formats import (
    GPX_NS,
    KML_NS,
    SHP_SUFFIXES,
    gpx_document,
    kml_document,
    write_gpx,
    write_kml,
    write_kmz,
    write_shapefile,
)
from gridmgr.export.map_pages import static_map, write_maps_pdf
from gridmgr.export.tables import (
    WORKLOAD_LABELS,
    gap_table,
    leader_table,
    unit_table,
    write_xlsx,
)
from gridmgr.export.targets import (
    LEADER_FORMATS,
    UNIT_FORMATS,
    export_leader,
    export_unit,
    leader_layers,
    overview_html,
)
from gridmgr.i18n import t
from gridmgr.maps.static_map import StaticMap, fmt_area

__all__ = [
    "BRIEFING_FORMATS",
    "ExportData",
    "GPX_NS",
    "KML_NS",
    "LEADER_FORMATS",
    "ROLE_LABELS",
    "SHP_SUFFIXES",
    "StaticMap",
    "UNIT_FORMATS",
    "WORKLOAD_LABELS",
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
    "overview_html",
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
    "write_maps_pdf",
    "write_pptx",
    "write_shapefile",
    "write_xlsx",
]


BRIEFING_FORMATS = ("docx", "xlsx", "pptx", "pdf", "png", "html")


def summary_lines(data: ExportData, scope: str | None = None) -> list[str]:
    """The briefing's overview sentences (Chinese first), for ``scope`` or the whole zone."""
    s = data.report(scope).summary
    name = str(data.unit_row(scope)["name"]) if scope else str(data.root()["name"])
    pieces = data.pieces
    if scope is not None:
        pieces = pieces[pieces["unit_code"].astype(str).isin(data.subtree(scope)).to_numpy()]
    n_active, n_terr = int(s["active_leaders"]), len(_territorial_leader_ids(pieces, data.leaders))
    return [
        t(
            f"{name}辖区面积 {fmt_area(float(s['jurisdiction_area_m2']))}，划分地块 {int(s['pieces'])} 个，"
            f"已落实责任人的面积占 {float(s['coverage_pct']):.2f}%。",
            f"{name}: {fmt_area(float(s['jurisdiction_area_m2']))}, {int(s['pieces'])} pieces, "
            f"{float(s['coverage_pct']):.2f}% of the area has a responsible leader.",
        ),
        t(
            f"盲点地块 {int(s['blind_spot_pieces'])} 个（{fmt_area(float(s['blind_spot_area_m2']))}），"
            f"死角面积 {float(s['dead_corner_area_m2']):.1f} 平方米，重叠面积 {float(s['overlap_area_m2']):.1f} 平方米。",
            f"blind-spot pieces {int(s['blind_spot_pieces'])} ({fmt_area(float(s['blind_spot_area_m2']))}), "
            f"dead corners {float(s['dead_corner_area_m2']):.1f} m², overlaps {float(s['overlap_area_m2']):.1f} m².",
        ),
        t(
            f"重点点位 {int(s['key_places'])} 处，其中无属地责任人 {int(s['key_places_without_leader'])} 处、"
            f"缺包保领导 {int(s['key_places_without_package_leader'])} 处；在岗责任人 {n_active} 名"
            f"（其中承担属地地块的网格责任人 {n_terr} 名），负荷过重 {int(s['overloaded_leaders'])} 名。",
            f"{int(s['key_places'])} key places, {int(s['key_places_without_leader'])} without a territorial leader, "
            f"{int(s['key_places_without_package_leader'])} without their package leader; {n_active} active leaders "
            f"({n_terr} of them territorial leaders holding pieces), {int(s['overloaded_leaders'])} overloaded.",
        ),
        t(
            f"共发现缺口 {int(s['gaps'])} 项、提示 {int(s['warnings'])} 项，详见缺口清单。",
            f"{int(s['gaps'])} gaps and {int(s['warnings'])} warnings, listed in the gap list.",
        ),
    ]


def _maps_for(
    data: ExportData, folder: Path, scope: str | None, *, pdf: bool, paper: str
) -> dict[str, Path]:
    """Overview (PNG, and PDF when ``pdf``) and one PNG per street: name → path."""
    out: dict[str, Path] = {}
    out["overview.png"] = static_map(data, folder / "overview.png", unit=scope, paper=paper).path
    if pdf:
        out["overview.pdf"] = static_map(
            data, folder / "overview.pdf", unit=scope, paper=paper
        ).path
    for code in streets(data, scope):
        if scope is not None and code == str(scope):
            continue
        out[f"street_{code}.png"] = static_map(
            data, folder / f"street_{code}.png", unit=code, paper=paper
        ).path
    return out


def write_docx(
    data: ExportData,
    out: str | Path,
    *,
    scope: str | None = None,
    maps: Mapping[str, Path] | None = None,
    paper: str = "A4",
) -> Path:
    """The DOCX briefing (GB/T 9704 layout): overview map, per-street maps, coverage table, gap list."""
    from gridmgr.export.office import write_briefing_docx

    data = data.with_coverage()
    with _pictures(data, scope, maps, paper) as pics:
        return write_briefing_docx(Path(out), **_doc_parts(data, scope, pics))


def write_pptx(
    data: ExportData,
    out: str | Path,
    *,
    scope: str | None = None,
    maps: Mapping[str, Path] | None = None,
    paper: str = "A4",
) -> Path:
    """A PPTX with a title slide and one map per slide (overview, then each street)."""
    from gridmgr.export.office import write_map_slides

    data = data.with_coverage()
    with _pictures(data, scope, maps, paper) as pics:
        parts = _doc_parts(data, scope, pics)
        return write_map_slides(
            Path(out), title=parts["title"], date=parts["date"], maps=parts["maps"]
        )


@contextmanager
def _pictures(
    data: ExportData, scope: str | None, maps: Mapping[str, Path] | None, paper: str
) -> Iterator[dict[str, Path]]:
    """The map pictures of a document: the ``maps`` already drawn, or drawn now into a
    temporary folder that lives as long as the block."""
    if maps is not None:
        yield dict(maps)
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield _maps_for(data, Path(tmp), scope, pdf=False, paper=paper)


def _doc_parts(data: ExportData, scope: str | None, pics: Mapping[str, Path]) -> dict[str, Any]:
    name = str(data.unit_row(scope)["name"]) if scope else str(data.root()["name"])
    unit_names = dict(
        zip(data.units["code"].astype(str), data.units["name"].astype(str), strict=True)
    )
    maps: list[tuple[str, Path]] = []
    if "overview.png" in pics:
        maps.append((t(f"{name}网格责任区总览图", f"{name}: overview"), Path(pics["overview.png"])))
    for key, path in pics.items():
        if key.startswith("street_") and key.endswith(".png"):
            code = key[len("street_") : -len(".png")]
            maps.append(
                (
                    t(
                        f"{unit_names.get(code, code)}网格责任区图",
                        f"{unit_names.get(code, code)}: territories",
                    ),
                    Path(path),
                )
            )
    ut = unit_table(data)
    if scope is not None:
        ut = ut[ut["code"].astype(str).isin(data.subtree(scope))]
    ut = ut[ut["level"].isin(["district", "street", "community"])]
    unit_cols = [
        ("name", "单元", "unit"),
        ("level_label", "层级", "level"),
        ("pieces", "地块", "pieces"),
        ("coverage_pct", "覆盖率%", "coverage %"),
        ("blind_spot_pieces", "盲点", "blind spots"),
        ("key_places", "点位", "places"),
        ("leaders", "网格责任人", "territorial leaders"),
    ]
    gt = gap_table(data, gaps_only=True)
    gap_cols = [
        ("label", "问题", "finding"),
        ("unit_name", "单元", "unit"),
        ("leader_name", "责任人", "leader"),
        ("count", "数量", "count"),
        ("area_m2", "面积（平方米）", "area (m²)"),
    ]
    return {
        "title": t(f"{name}网格化管理工作情况汇报", f"{name}: grid management briefing"),
        "date": data.day,
        "summary": summary_lines(data, scope),
        "maps": maps,
        "unit_table": (unit_cols, ut),
        "gap_table": (gap_cols, gt),
    }


def briefing_pack(
    store_or_data: Any,
    out_dir: str | Path,
    *,
    scope: str | None = None,
    paper: str = "A4",
) -> list[Path]:
    """Write the briefing pack into ``out_dir``; return the files in the order written.

    ``overview.png``, ``overview.pdf``, ``street_<code>.png`` (one per street), ``briefing.xlsx``,
    ``briefing.docx``, ``briefing.pptx``, and ``patrol_ledger.xlsx`` (巡查台账 with the temporal
    coverage per leader) when the store holds recorded patrols. ``store_or_data`` is a :class:`gridmgr.store.Store` or an
    :class:`ExportData`.

    Examples
    --------
    >>> paths = briefing_pack(store, "out/")  # doctest: +SKIP
    >>> [p.name for p in paths][-3:]  # doctest: +SKIP
    ['briefing.xlsx', 'briefing.docx', 'briefing.pptx']
    """
    data = (
        store_or_data
        if isinstance(store_or_data, ExportData)
        else export_data_from_store(store_or_data)
    )
    data = data.with_coverage()
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    maps = _maps_for(data, folder, scope, pdf=True, paper=paper)
    paths = list(maps.values())
    paths.append(
        write_xlsx(
            data, folder / "briefing.xlsx", units=sorted(data.subtree(scope)) if scope else None
        )
    )
    paths.append(write_docx(data, folder / "briefing.docx", scope=scope, maps=maps))
    paths.append(write_pptx(data, folder / "briefing.pptx", scope=scope, maps=maps))
    if not isinstance(store_or_data, ExportData):  # recorded patrols: ledger + temporal coverage
        from gridmgr.export.patrol_ledger import daily_ledger, write_patrol_ledger

        if len(daily_ledger(store_or_data)):
            paths.append(write_patrol_ledger(store_or_data, folder / "patrol_ledger.xlsx"))
    return paths


def export_briefing(
    data: ExportData,
    out: str | Path,
    *,
    fmt: str | None = None,
    scope: str | None = None,
    paper: str = "A4",
    basemap: str | None = "tianditu",
) -> list[Path]:
    """One briefing file: ``docx|xlsx|pptx`` documents, the maps as a multi-page ``pdf`` (overview,
    then each street), the overview map as ``png``, or the interactive overview as ``html``."""
    out = Path(out)
    f = _fmt_from(out, fmt, BRIEFING_FORMATS)
    if f == "pdf":
        return [write_maps_pdf(data, out, scope=scope, paper=paper)]
    if f == "html":
        return [overview_html(data, out, scope=scope, basemap=basemap)]
    if f == "png":
        return [static_map(data, out, unit=scope, fmt=f, paper=paper).path]
    if f == "xlsx":
        return [write_xlsx(data, out, units=sorted(data.subtree(scope)) if scope else None)]
    if f == "docx":
        return [write_docx(data, out, scope=scope, paper=paper)]
    return [write_pptx(data, out, scope=scope, paper=paper)]
