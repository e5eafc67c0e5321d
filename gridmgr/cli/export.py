"""``gridmgr export``: briefing material and field formats.

- ``gridmgr export briefing [--scope UNIT] --format docx|xlsx|pptx|pdf|png|html --out PATH``
  (``--pack DIR`` instead writes the whole pack: overview PNG/PDF, street maps, XLSX, DOCX, PPTX);
- ``gridmgr export leader ID --format html|png|pdf|kml|kmz|gpx|shp|xlsx --out PATH``;
- ``gridmgr export unit CODE --format html|png|pdf|xlsx|kml|kmz|shp --out PATH``.

The format defaults to the output's suffix. Shapefiles: ``--out x.zip`` zips the set.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gridmgr.cli._common import DB_OPT, console, domain_errors, opened_store, shown_warnings
from gridmgr.i18n import t

if TYPE_CHECKING:
    from gridmgr.export.briefing import ExportData

app = typer.Typer(
    help="导出汇报材料与外业格式 / export briefing material and field formats", no_args_is_help=True
)

# Options shared by the three export commands.
PAPER_OPT = typer.Option("A4", "--paper", help="纸张 A4|A3（横向）/ paper A4|A3 landscape")
BASEMAP_OPT = typer.Option(
    "vector",
    "--basemap",
    help="HTML 底图 vector（离线道路图，默认）|local|tianditu|tianditu-img|osm|amap|none / basemap",
    envvar="GRIDMGR_BASEMAP",
)
ROADS_OPT = typer.Option(
    None,
    "--roads",
    help="道路图层（GeoJSON/GPKG 线），默认内置图层的 roads.geojson / road lines (default: shipped roads)",
)
NO_ROADS_OPT = typer.Option(False, "--no-roads", help="地图上不画道路 / no roads on maps")


def register(root: typer.Typer) -> None:
    """Add the ``export`` command group to the ``gridmgr`` app."""
    root.add_typer(app, name="export")


def _data(database_url: str | None, roads: Path | None, no_roads: bool) -> ExportData:
    from dataclasses import replace

    from gridmgr.export.briefing import export_data_from_store, read_roads

    with opened_store(database_url) as store:
        if no_roads:
            return replace(export_data_from_store(store, roads=None), roads=None)
        return export_data_from_store(store, roads=read_roads(roads))


def _report(paths: list[Path]) -> None:
    for p in paths:
        size = p.stat().st_size / 1024 if p.exists() else 0.0
        console.print(
            t(f"已写出 {p}（{size:,.0f} KB）", f"wrote {p} ({size:,.0f} KB)"), highlight=False
        )


@app.command("briefing")
def briefing(
    out: Path | None = typer.Option(None, "--out", help="输出文件 / output file"),
    fmt: str | None = typer.Option(
        None, "--format", help="docx|xlsx|pptx|pdf|png|html（默认取扩展名）/ format"
    ),
    scope: str | None = typer.Option(None, "--scope", help="单元代码（默认全区）/ unit code"),
    pack: Path | None = typer.Option(
        None, "--pack", help="写出整套汇报材料到该目录 / write the whole pack here"
    ),
    paper: str = PAPER_OPT,
    basemap: str = BASEMAP_OPT,
    roads: Path | None = ROADS_OPT,
    no_roads: bool = NO_ROADS_OPT,
    database_url: str | None = DB_OPT,
) -> None:
    """导出汇报材料：总览图、各街道图、覆盖情况表、缺口清单。 / Export briefing material.

    Example: ``gridmgr export briefing --format docx --out out/briefing.docx``
    """
    from gridmgr.errors import InputError
    from gridmgr.export.briefing import briefing_pack, export_briefing

    with domain_errors(), shown_warnings():
        if out is None and pack is None:
            raise InputError(t("请给出 --out 文件或 --pack 目录", "give --out FILE or --pack DIR"))
        data = _data(database_url, roads, no_roads)
        paths: list[Path] = []
        if pack is not None:
            paths += briefing_pack(data, pack, scope=scope, paper=paper)
        if out is not None:
            paths += export_briefing(data, out, fmt=fmt, scope=scope, paper=paper, basemap=basemap)
        _report(paths)


@app.command("leader")
def leader(
    leader_id: str = typer.Argument(..., help="领导编号 / leader id"),
    out: Path = typer.Option(..., "--out", help="输出文件 / output file"),
    fmt: str | None = typer.Option(
        None, "--format", help="html|png|pdf|kml|kmz|gpx|shp|xlsx（默认取扩展名）/ format"
    ),
    paper: str = PAPER_OPT,
    basemap: str = BASEMAP_OPT,
    roads: Path | None = ROADS_OPT,
    no_roads: bool = typer.Option(
        False, "--no-roads", help="路线不沿道路、地图不画道路 / straight legs, no roads"
    ),
    database_url: str | None = DB_OPT,
) -> None:
    """导出一名领导的责任区、重点点位与巡查路线。 / Export a leader's territory, places and route.

    Example: ``gridmgr export leader A0101 --format kmz --out out/A0101.kmz``
    """
    from gridmgr.export.briefing import export_leader

    with domain_errors(), shown_warnings():
        data = _data(database_url, roads, no_roads)
        _report(export_leader(data, leader_id, out, fmt=fmt, paper=paper, basemap=basemap))


@app.command("unit")
def unit(
    code: str = typer.Argument(..., help="单元代码 / unit code"),
    out: Path = typer.Option(..., "--out", help="输出文件 / output file"),
    fmt: str | None = typer.Option(
        None, "--format", help="html|png|pdf|xlsx|kml|kmz|shp（默认取扩展名）/ format"
    ),
    paper: str = PAPER_OPT,
    basemap: str = BASEMAP_OPT,
    roads: Path | None = ROADS_OPT,
    no_roads: bool = NO_ROADS_OPT,
    database_url: str | None = DB_OPT,
) -> None:
    """导出一个街道/社区的全部责任区。 / Export every territory of a unit.

    Example: ``gridmgr export unit 220173001 --format pdf --out out/guigu.pdf``
    """
    from gridmgr.export.briefing import export_unit

    with domain_errors(), shown_warnings():
        data = _data(database_url, roads, no_roads)
        _report(export_unit(data, code, out, fmt=fmt, paper=paper, basemap=basemap))
