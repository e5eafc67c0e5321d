"""``gridmgr map``: interactive maps (HTML) — a leader's patrol map, the overview, a plan's diff.

Every page is one self-contained HTML file (Leaflet and plugins inlined). The default basemap
``vector`` draws the store's roads, rivers and unit outlines with no network at all; online tiles
(``--basemap osm``…) are drawn over it. ``--basemap tianditu`` needs ``GRIDMGR_TIANDITU_KEY`` and
otherwise falls back to ``vector`` with a note on the map.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gridmgr.cli._common import console, domain_errors, err_console, opened_store
from gridmgr.i18n import t

app = typer.Typer(help="交互地图（HTML）/ interactive maps (HTML)", no_args_is_help=True)

if TYPE_CHECKING:
    import folium


def _require_out(value: Path | None) -> Path | None:
    """``--out`` is needed: say so Chinese first (not click's English "Missing option")."""
    if value is None or value == _NO_OUT:
        err_console.print(
            f"[bold red]{t('错误', 'error')}[/]: "
            + t(
                "缺少 --out：请给出输出的 HTML 文件，例如 --out map.html",
                "missing --out: give the HTML file to write, e.g. --out map.html",
            ),
            highlight=False,
        )
        raise typer.Exit(2)
    return value


_NO_OUT = Path()
_OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        help="输出 HTML 文件（必填）/ output HTML file (required)",
        callback=_require_out,
        show_default=False,
    ),
]
_BasemapOption = Annotated[
    str,
    typer.Option(
        "--basemap",
        help="底图 vector（离线道路图，默认）|local|tianditu|tianditu-img|osm|amap|none / basemap",
        envvar="GRIDMGR_BASEMAP",
    ),
]
_DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="数据库（默认 sqlite:///./gridmgr.db）/ store URL",
        envvar="GRIDMGR_DATABASE_URL",
    ),
]


def register(root: typer.Typer) -> None:
    """Add the ``map`` command group to the ``gridmgr`` app."""
    root.add_typer(app, name="map")


def _write_map(m: folium.Map, basemap: str, out: Path) -> None:
    """Warn when the basemap fell back (e.g. no Tianditu key), then write the page to ``out``."""
    from gridmgr.maps import interactive as maps

    _, note = maps.resolve_basemap(basemap)
    if note:
        err_console.print(f"[yellow]{note}[/]")
    _write(maps.map_html(m), out)


def _write(html_text: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(out)
    size = len(html_text.encode("utf-8")) / 1024
    console.print(t(f"已写出 {out}（{size:,.0f} KB）", f"wrote {out} ({size:,.0f} KB)"))


def _parse_start(start: str | None) -> tuple[float, float] | str | None:
    if start is None:
        return None
    parts = start.replace("，", ",").split(",")
    if len(parts) == 2:
        try:
            return float(parts[0]), float(parts[1])
        except ValueError:
            pass
    return start  # a key-place code; patrol_route checks it


@app.command("leader")
def leader(
    leader_id: Annotated[str, typer.Argument(help="领导编号 / leader id")],
    out: _OutOption = _NO_OUT,
    basemap: _BasemapOption = "vector",
    roads: Annotated[
        Path | None,
        typer.Option(
            "--roads", help="道路图层（GeoJSON/GPKG 线）；给出则路线沿路 / road lines for the route"
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="起点：经度,纬度 或重点点位编码；默认辖区代表点 / start: LON,LAT or key-place code",
        ),
    ] = None,
    database_url: _DatabaseOption = None,
) -> None:
    """生成领导的巡查地图：辖区、地块、重点点位与巡查路线。 / A leader's patrol map.

    Example: ``gridmgr map leader G001 --roads layers/changchun_hitech/roads.geojson --out g001.html``
    """
    from gridmgr.maps import interactive as maps
    from gridmgr.maps.vector_base import store_base
    from gridmgr.patrol.route import leader_frames_from_store, patrol_route

    with opened_store(database_url) as store, domain_errors(), store_base(store):
        if roads is not None:
            from gridmgr.io.layers import read_roads

            road_frame = read_roads(roads)
        else:  # the store's roads, as every other entry point
            from gridmgr.patrol.roads import roads_for_store

            road_frame = roads_for_store(store)
        pieces, places, record = leader_frames_from_store(store, leader_id)
        if len(pieces) == 0 and len(places) == 0:
            from gridmgr.errors import InputError

            raise InputError(
                t(
                    f"领导 {leader_id} 名下没有地块和重点点位，无法生成巡查地图",
                    f"leader {leader_id} has no pieces and no key places to map",
                )
            )
        route = patrol_route(pieces, places, start=_parse_start(start), roads=road_frame)
        m = maps.leader_map(
            pieces,
            places,
            route,
            leader=record,
            basemap=basemap,
            categories=store.categories(),
            departments=store.departments(),
            leaders=store.leaders(),
        )
        _write_map(m, basemap, out)
        mode = t("沿道路", "along roads") if route.follows_roads else t("直线", "straight legs")
        console.print(
            t(
                f"巡查路线 {len(route.stops)} 个点，{route.length_m / 1000:.2f} 公里，"
                f"步行约 {route.walking_time_min:.0f} 分钟（{mode}）",
                f"patrol route: {len(route.stops)} stops, {route.length_m / 1000:.2f} km, "
                f"about {route.walking_time_min:.0f} min on foot ({mode})",
            )
        )


@app.command("overview")
def overview(
    out: _OutOption = _NO_OUT,
    scope: Annotated[
        str | None, typer.Option("--scope", help="单元代码（默认全区）/ unit code")
    ] = None,
    basemap: _BasemapOption = "vector",
    database_url: _DatabaseOption = None,
) -> None:
    """生成总览地图：各责任区分色、覆盖缺口高亮、行政单元边界。 / The overview map."""
    from gridmgr.maps import interactive as maps
    from gridmgr.maps.vector_base import store_base

    with opened_store(database_url) as store, domain_errors(), store_base(store):
        m = maps.overview_map_from_store(store, scope=scope, basemap=basemap)
        _write_map(m, basemap, out)


@app.command("plan")
def plan(
    plan_id: Annotated[str, typer.Argument(help="调整方案编号 / plan id")],
    out: _OutOption = _NO_OUT,
    basemap: _BasemapOption = "vector",
    database_url: _DatabaseOption = None,
) -> None:
    """生成调整方案对比图：调整后的责任区与被调整的地块。 / A rebalance plan's diff map."""
    from gridmgr.maps import interactive as maps
    from gridmgr.maps.vector_base import store_base

    with opened_store(database_url) as store, domain_errors(), store_base(store):
        m = maps.plan_map_from_store(store, plan_id, basemap=basemap)
        _write_map(m, basemap, out)
