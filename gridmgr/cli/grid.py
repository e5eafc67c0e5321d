"""``gridmgr grid``: build the full-coverage H3 grid from boundary layers."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import typer
from rich.table import Table

from gridmgr.cli._common import (
    ENCODING_OPT,
    console,
    domain_errors,
    print_json,
    progress_enabled,
    shown_warnings,
)
from gridmgr.i18n import t

app = typer.Typer(help="网格生成 / build the H3 grid", no_args_is_help=True)


def summary_table(summary: dict[str, object]) -> Table:
    """A readable (Chinese-first) table of a grid build summary."""
    rows = [
        ("res", t("H3 分辨率", "H3 resolution"), "{}"),
        ("units", t("最低级单元数", "lowest-level units"), "{:,}"),
        ("cells", t("网格单元（H3）数", "H3 cells"), "{:,}"),
        ("pieces", t("地块数（单元裁切）", "pieces (cells clipped to units)"), "{:,}"),
        ("split_cells", t("跨界单元数", "cells split by a border"), "{:,}"),
        ("unit_area_m2", t("单元总面积 (km²)", "unit area (km²)"), "km2"),
        ("piece_area_m2", t("地块总面积 (km²)", "piece area (km²)"), "km2"),
        ("gap_area_m2", t("死角面积 (m²)", "gap area 死角 (m²)"), "{:,.1f}"),
        ("overlap_area_m2", t("重叠面积 (m²)", "overlap area 重叠 (m²)"), "{:,.1f}"),
        ("outside_area_m2", t("超出上级面积 (m²)", "area outside parent (m²)"), "{:,.1f}"),
        ("seconds", t("耗时 (秒)", "time (s)"), "{}"),
    ]
    table = Table(title=t("网格生成结果", "Grid build summary"), show_header=False)
    for key, label, fmt in rows:
        if key not in summary:
            continue
        value = summary[key]
        text = f"{float(value) / 1e6:,.3f}" if fmt == "km2" else fmt.format(value)  # type: ignore[arg-type]
        table.add_row(label, text)
    return table


@app.command("build")
def build(
    out: Path = typer.Option(..., "--out", help="输出目录 / output directory"),
    layers: Path | None = typer.Option(None, "--layers", help="图层目录 / layers directory"),
    units: Path | None = typer.Option(
        None, "--units", help="单元边界文件 GeoJSON/GPKG/SHP / unit boundary file"
    ),
    code_field: str | None = typer.Option(None, "--code-field", help="代码字段 / code field"),
    name_field: str | None = typer.Option(None, "--name-field", help="名称字段 / name field"),
    parent_field: str | None = typer.Option(
        None, "--parent-field", help="上级代码字段 / parent code field"
    ),
    crs: str | None = typer.Option(
        None, "--crs", help="坐标系：EPSG:4490、gcj02、bd09 … / source CRS"
    ),
    res: int = typer.Option(10, "--res", help="H3 分辨率 7–12 / H3 resolution"),
    repair: bool = typer.Option(False, "--repair", help="修复自相交 / repair self-intersections"),
    encoding: str | None = ENCODING_OPT,
    as_json: bool = typer.Option(
        False, "--json", help="以 JSON 输出摘要 / print the summary as JSON"
    ),
    geojson: bool = typer.Option(
        False, "--geojson", help="同时输出 pieces.geojson / also write GeoJSON"
    ),
    parquet: bool = typer.Option(
        False,
        "--parquet",
        help="按街道分片写 GeoParquet（OUT/pieces/，内存有界）/ partitioned GeoParquet, street by street",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="在本机 dask 集群上用 N 个进程生成（隐含 --parquet）/ N workers of a local dask cluster",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="在已有 dask 集群上生成，如 tcp://主机:8786（隐含 --parquet）/ existing dask scheduler",
    ),
) -> None:
    """生成全覆盖 H3 网格并按最低级单元裁切为地块。 / Build the full-coverage grid and its pieces.

    Writes OUT/pieces.gpkg (layer ``pieces``), OUT/summary.json and, with --geojson,
    OUT/pieces.geojson. With --parquet, --workers or --scheduler it writes OUT/pieces/ instead:
    one GeoParquet part per street, the same pieces (`gridmgr load --pieces OUT/pieces`).
    Nothing is written when the input is rejected.
    """
    from gridmgr.grid.pieces import build_grid, check_res
    from gridmgr.io import layers as io

    if (layers is None) == (units is None):
        raise typer.BadParameter(
            t("请给出 --layers 或 --units 之一", "give exactly one of --layers or --units")
        )
    with domain_errors(), shown_warnings():
        res = check_res(res)
        if layers is not None:
            unit_frame = io.read_layers(layers, encoding=encoding).units
        else:
            assert units is not None
            unit_frame = io.read_units(
                units,
                code_field=code_field,
                name_field=name_field,
                parent_field=parent_field,
                crs=crs,
                repair=repair,
                encoding=encoding,
            )
        show = progress_enabled() and not as_json
        if parquet or workers is not None or scheduler is not None:
            from gridmgr.cli._grid_parts import build_parts_cli

            summary = build_parts_cli(
                unit_frame,
                out,
                res=res,
                workers=workers,
                scheduler=scheduler,
                geojson=geojson,
                progress=show,
            )
            written = f"{out}/pieces/"
        else:
            built = build_grid(unit_frame, res=res, progress=show)
            write_grid(built.pieces, built.summary, out, geojson=geojson)
            summary, written = built.summary, f"{out}/pieces.gpkg"
    if as_json:
        print_json(summary)
    else:
        console.print(summary_table(summary))
        console.print(t(f"已写入 {written} 与 summary.json", f"wrote {written} and summary.json"))


def write_grid(
    pieces: object, summary: dict[str, object], out: Path, *, geojson: bool = False
) -> None:
    """Write the grid files into ``out`` atomically (a temp dir renamed file by file at the end).

    A ``pieces.geojson`` from an earlier build is removed when this build writes none, so the
    directory never holds files of two different builds.
    """
    import geopandas as gpd

    from gridmgr.grid import parquet

    assert isinstance(pieces, gpd.GeoDataFrame)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".grid-", dir=out))
    try:
        pieces.to_file(tmp / "pieces.gpkg", layer="pieces", driver="GPKG")
        if geojson:
            pieces.to_file(tmp / "pieces.geojson", driver="GeoJSON", COORDINATE_PRECISION=7)
        (tmp / "summary.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=2) + "\n", "utf-8"
        )
        for f in tmp.iterdir():
            os.replace(f, out / f.name)
        if not geojson:  # a pieces.geojson left by an earlier build would no longer match
            (out / "pieces.geojson").unlink(missing_ok=True)
        if parquet.is_pieces_dir(out / "pieces"):  # parts of an earlier --parquet build
            shutil.rmtree(out / "pieces")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
