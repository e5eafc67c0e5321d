"""Static briefing maps (matplotlib, Agg): PNG and PDF pages for print and for Word/PowerPoint.

Engine of :func:`gridmgr.export.static_map`. The map is drawn in a transverse Mercator projection
centred on the map (scale factor 1 at the centre, < 0.01 % off within 40 km), so the axes are in
true ground metres: the scale bar is exact at the map's latitude and grid north is true north at
the centre. Territories are dissolved per leader before drawing (no polygon per cell), coloured so
that neighbours never share a colour.

This module lays out the page (:func:`render`: frame and projection, texts, legend panel, saving);
the layers themselves are drawn by :mod:`gridmgr.maps.static_layers` (names re-exported here).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
import shapely

from gridmgr.errors import InputError
from gridmgr.i18n import t
from gridmgr.maps.static_layers import (
    CATEGORY_MARKERS,
    GAP_COLOUR,
    ROUTE_COLOUR,
    MapLayers,
    _draw_context,
    _draw_places,
    _draw_roads,
    _draw_route,
    _draw_territories,
    _draw_units,
    _north_arrow,
    _scale_bar,
    _to_metric,
    fmt_area,
    fmt_area_short,
    polygon_path,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes


__all__ = [
    "CATEGORY_MARKERS",
    "GAP_COLOUR",
    "MM_PER_INCH",
    "OSM_ATTRIBUTION",
    "PAPERS",
    "ROUTE_COLOUR",
    "MapLayers",
    "StaticMap",
    "fmt_area",
    "fmt_area_short",
    "local_crs",
    "polygon_path",
    "render",
]


#: Paper sizes (landscape) in millimetres.
PAPERS: dict[str, tuple[float, float]] = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}


MM_PER_INCH = 25.4


OSM_ATTRIBUTION = "道路：© OpenStreetMap contributors, ODbL"


@dataclass(frozen=True)
class StaticMap:
    """What :func:`gridmgr.export.static_map` drew (frozen).

    Attributes
    ----------
    path
        The file written (PNG or PDF).
    paper, dpi, size_px
        Paper name, resolution and the raster size ``(width, height)`` in pixels at ``dpi``.
    crs
        PROJ string of the map's metric projection.
    extent
        ``(xmin, ymin, xmax, ymax)`` of the map frame in that projection (metres).
    scale_bar_m
        Length of the scale bar in metres; ``scale_bar_lonlat`` its end points in WGS-84.
    legend
        The legend's text entries, in order.
    title, subtitle
        The texts above the map.
    """

    path: Path
    paper: str
    dpi: int
    size_px: tuple[int, int]
    crs: str
    extent: tuple[float, float, float, float]
    scale_bar_m: float
    scale_bar_lonlat: tuple[tuple[float, float], tuple[float, float]]
    legend: tuple[str, ...] = field(default=())
    title: str = ""
    subtitle: str = ""


def local_crs(lon: float, lat: float) -> pyproj.CRS:
    """Transverse Mercator centred on ``(lon, lat)``: metres, scale 1 at the centre."""
    return pyproj.CRS.from_proj4(
        f"+proj=tmerc +lat_0={lat:.7f} +lon_0={lon:.7f} +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def render(
    layers: MapLayers,
    out: Path,
    *,
    title: str,
    subtitle: str = "",
    date: dt.date | None = None,
    paper: str = "A4",
    dpi: int = 150,
    fmt: str = "png",
    pages: Any = None,
) -> StaticMap:
    """Draw ``layers`` on one landscape page and save it as PNG or PDF.

    With ``pages`` (a :class:`matplotlib.backends.backend_pdf.PdfPages`) the page is appended to
    that multi-page PDF instead (``out`` names it).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from gridmgr.maps.fonts import use_cjk_font

    if paper not in PAPERS:
        raise InputError(
            t(
                f"纸张 {paper!r} 不支持，可选 A4 或 A3",
                f"paper {paper!r} is not supported; use A4 or A3",
            )
        )
    families = list(use_cjk_font())
    fig, fig_w, fig_h = _figure(paper, dpi)
    fs = 1.0 if paper == "A4" else 1.35
    date = date or dt.date.today()
    ax = fig.add_axes(_MAP_BOX)
    frame = _map_frame(layers, (_MAP_BOX[2] * fig_w, _MAP_BOX[3] * fig_h))
    _set_up_axes(ax, frame.extent)
    handles, legend_text = _draw_layers(ax, layers, frame, families, fs)
    bar_m, bar_xy = _scale_bar(ax, frame.extent, families, fs)
    _north_arrow(ax, families, fs)
    _page_texts(fig, layers, title, subtitle, date, families, fs)
    # legend panel
    lax = fig.add_axes((0.725, 0.075, 0.255, 0.83))
    lax.set_axis_off()
    if handles:
        _fit_legend(fig, lax, handles, families, fs)
    out = Path(out)
    if pages is not None:
        pages.savefig(fig)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format=fmt, dpi=dpi, metadata=_metadata(fmt, title))
    lonlat = frame.inv.transform([bar_xy[0][0], bar_xy[1][0]], [bar_xy[0][1], bar_xy[1][1]])
    extent = frame.extent
    return StaticMap(
        path=out,
        paper=paper,
        dpi=dpi,
        size_px=(round(fig_w * dpi), round(fig_h * dpi)),
        crs=frame.crs.srs,
        extent=(float(extent[0]), float(extent[1]), float(extent[2]), float(extent[3])),
        scale_bar_m=bar_m,
        scale_bar_lonlat=(
            (float(lonlat[0][0]), float(lonlat[1][0])),
            (float(lonlat[0][1]), float(lonlat[1][1])),
        ),
        legend=tuple(legend_text),
        title=title,
        subtitle=subtitle,
    )


#: The map axes on the page: left, bottom, width, height (figure fraction).
_MAP_BOX = (0.025, 0.075, 0.685, 0.83)


def _figure(paper: str, dpi: int) -> tuple[Any, float, float]:
    """An Agg figure of the landscape paper size in whole pixels, and its size in inches."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w_mm, h_mm = PAPERS[paper]
    # whole pixels: A4 at 150 dpi is exactly 1754 x 1240 px
    fig_w = round(w_mm / MM_PER_INCH * dpi) / dpi
    fig_h = round(h_mm / MM_PER_INCH * dpi) / dpi
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig, fig_w, fig_h


@dataclass(frozen=True)
class _Frame:
    """The map's projection (to and from WGS-84), its extent in metres and in lon/lat."""

    crs: pyproj.CRS
    fwd: pyproj.Transformer
    inv: pyproj.Transformer
    extent: tuple[float, float, float, float]
    clip: Any


def _map_frame(layers: MapLayers, box_size: tuple[float, float]) -> _Frame:
    """Projection centred on the focus and an extent around it (8 % margin) of the box's aspect."""
    focus = layers.focus
    if focus is None or shapely.is_empty(focus):
        geoms = list(layers.territories.geometry.values) + list(layers.units.geometry.values)
        focus = shapely.union_all(np.asarray([g for g in geoms if g is not None], dtype=object))
    if focus is None or shapely.is_empty(focus):
        raise InputError(
            t(
                "地图范围为空：没有要绘制的单元或责任区",
                "nothing to draw: no units and no territories",
            )
        )
    minx, miny, maxx, maxy = shapely.bounds(focus)
    crs = local_crs((minx + maxx) / 2, (miny + maxy) / 2)
    fwd = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    inv = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    fx = np.asarray(_to_metric([shapely.envelope(focus)], fwd)[0].bounds)
    w, h = max(fx[2] - fx[0], 50.0), max(fx[3] - fx[1], 50.0)
    w, h = w * 1.08, h * 1.08
    box_w, box_h = box_size
    if w / h < box_w / box_h:
        w = h * box_w / box_h
    else:
        h = w * box_h / box_w
    cx, cy = (fx[0] + fx[2]) / 2, (fx[1] + fx[3]) / 2
    extent = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    clip = shapely.box(*inv.transform_bounds(*extent, densify_pts=21))
    return _Frame(crs, fwd, inv, extent, clip)


def _set_up_axes(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    """Limits, equal aspect, no ticks and the paper background of the map axes."""
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#f7f7f4")


def _draw_layers(
    ax: Axes, layers: MapLayers, frame: _Frame, families: list[str], fs: float
) -> tuple[list[Any], list[str]]:
    """Draw every layer in order; return the legend handles and the legend's texts."""
    fwd, clip = frame.fwd, frame.clip
    handles: list[Any] = []
    legend_text: list[str] = []
    context_legend: list[str] = []
    context = _draw_context(ax, layers, fwd, clip, context_legend)
    _draw_roads(ax, layers, fwd, clip)
    handles += _draw_territories(ax, layers, fwd, legend_text, families, fs)
    handles += context
    legend_text += context_legend
    handles += _draw_units(ax, layers, fwd, families, fs, legend_text)
    handles += _draw_places(ax, layers, fwd, clip, families, fs, legend_text)
    handles += _draw_route(ax, layers, fwd, families, fs, legend_text)
    return handles, legend_text


def _page_texts(
    fig: Any,
    layers: MapLayers,
    title: str,
    subtitle: str,
    date: dt.date,
    families: list[str],
    fs: float,
) -> None:
    """Title, subtitle, date and the attribution line around the map."""
    fig.text(
        0.025, 0.955, title, fontfamily=families, fontsize=17 * fs, fontweight="bold", va="center"
    )
    if subtitle:
        fig.text(
            0.025,
            0.918,
            subtitle,
            fontfamily=families,
            fontsize=9.5 * fs,
            va="center",
            color="#333333",
        )
    fig.text(
        0.975,
        0.955,
        t(f"制图日期：{date:%Y年%m月%d日}", f"Date: {date:%Y-%m-%d}"),
        fontfamily=families,
        fontsize=9.5 * fs,
        ha="right",
        va="center",
    )
    attribution = [
        t(
            "gridmgr 制图；坐标系 WGS-84，投影：以图幅中心为中心的横轴墨卡托（米）",
            "Made with gridmgr; WGS-84, transverse Mercator centred on the map (metres)",
        )
    ]
    if layers.roads is not None and len(layers.roads):
        attribution.append(
            OSM_ATTRIBUTION
            if t("zh", "en") == "zh"
            else "Roads: © OpenStreetMap contributors, ODbL"
        )
    attribution.append(
        t("无底图瓦片；边界仅供工作参考", "no basemap tiles; boundaries for work use only")
    )
    fig.text(
        0.025,
        0.03,
        "  ·  ".join(attribution),
        fontfamily=families,
        fontsize=7 * fs,
        color="#555555",
        va="center",
    )


def _fit_legend(fig: Any, lax: Axes, handles: list[Any], families: list[str], fs: float) -> None:
    """Place the legend in its panel, shrinking the font (and adding columns) until it fits."""
    n = len(handles)
    ncol = 1 if n <= 28 else 2
    size = 8.0 * fs
    renderer = fig.canvas.get_renderer()
    panel = lax.get_window_extent(renderer)
    for _ in range(12):
        leg = lax.legend(
            handles=handles,
            loc="upper left",
            frameon=False,
            ncol=ncol,
            prop={"family": families, "size": size},
            title=t("图例", "Legend"),
            title_fontproperties={"family": families, "size": 10 * fs, "weight": "bold"},
            alignment="left",
            borderaxespad=0.0,
            handlelength=1.5,
            columnspacing=0.6,
            labelspacing=0.3,
            handletextpad=0.4,
        )
        box = leg.get_window_extent(renderer)
        if box.width <= panel.width * 1.001 and box.height <= panel.height * 1.001:
            return
        if box.height > panel.height and ncol == 1:
            ncol = 2
            continue
        size *= 0.9


def _metadata(fmt: str, title: str) -> dict[str, Any]:
    """File metadata of the page (PDF ``Creator``, PNG ``Software``)."""
    if fmt == "pdf":
        return {"Title": title, "Creator": "gridmgr"}
    return {"Title": title, "Software": "gridmgr"}
