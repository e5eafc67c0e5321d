"""Static briefing maps (matplotlib, Agg): PNG and PDF pages for print and for Word/PowerPoint.

Engine of :func:`gridmgr.export.static_map`. The map is drawn in a transverse Mercator projection
centred on the map (scale factor 1 at the centre, < 0.01 % off within 40 km), so the axes are in
true ground metres: the scale bar is exact at the map's latitude and grid north is true north at
the centre. Territories are dissolved per leader before drawing (no polygon per cell), coloured so
that neighbours never share a colour.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from gridmgr.errors import InputError
from gridmgr.i18n import t

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.path import Path as MplPath

    from gridmgr.patrol.route import PatrolRoute

#: Paper sizes (landscape) in millimetres.
PAPERS: dict[str, tuple[float, float]] = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
MM_PER_INCH = 25.4

#: Matplotlib marker and colour per key-place category (colours as the web maps).
CATEGORY_MARKERS: dict[str, str] = {
    "school": "^",
    "kindergarten": "v",
    "mall": "s",
    "farmers_market": "D",
    "restaurant": "d",
    "plaza": "p",
    "park": "*",
    "hospital": "P",
    "clinic": "X",
    "residential": "h",
    "construction_site": ">",
    "transport_hub": "o",
}
GAP_COLOUR = "#d62728"
ROUTE_COLOUR = "#1d3557"
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


# --------------------------------------------------------------------------------------------
# geometry → matplotlib
# --------------------------------------------------------------------------------------------


def local_crs(lon: float, lat: float) -> pyproj.CRS:
    """Transverse Mercator centred on ``(lon, lat)``: metres, scale 1 at the centre."""
    return pyproj.CRS.from_proj4(
        f"+proj=tmerc +lat_0={lat:.7f} +lon_0={lon:.7f} +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def _to_metric(geoms: npt.ArrayLike, tr: pyproj.Transformer) -> npt.NDArray[np.object_]:
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return arr

    def fn(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(arr, fn), dtype=object)


def polygon_path(geom: Any) -> MplPath | None:
    """A matplotlib Path (holes included) of a Polygon/MultiPolygon, ``None`` when empty."""
    from matplotlib.path import Path as MplPath

    if geom is None or shapely.is_empty(geom):
        return None
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]
    if len(parts) == 0:
        return None
    rings = shapely.get_rings(parts)
    coords, idx = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
    starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
    ends = np.r_[starts[1:] - 1, len(coords) - 1]
    codes[starts] = MplPath.MOVETO
    codes[ends] = MplPath.CLOSEPOLY
    return MplPath(coords, codes)


def _line_segments(geoms: npt.ArrayLike) -> list[npt.NDArray[np.float64]]:
    """Coordinate arrays of every line part (boundaries of polygons included)."""
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return []
    polys = np.isin(shapely.get_type_id(arr), [3, 6])
    lines = arr.copy()
    if polys.any():
        lines[polys] = shapely.boundary(arr[polys])
    parts = shapely.get_parts(lines)
    parts = parts[~shapely.is_empty(parts)]
    if len(parts) == 0:
        return []
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    cuts = np.flatnonzero(np.diff(idx)) + 1
    return list(np.split(coords, cuts))


def _nice_length(target: float) -> float:
    """1, 2 or 5 × 10ⁿ not above ``target`` (metres)."""
    if target <= 0:
        return 1.0
    exp = math.floor(math.log10(target))
    base = 10.0**exp
    for m in (5.0, 2.0, 1.0):
        if m * base <= target:
            return m * base
    return base


def _fmt_len(m: float) -> str:
    return f"{m / 1000:g} km" if m >= 1000 else f"{m:g} m"


def fmt_area(area_m2: float) -> str:
    """``1.23 km²（123.4 ha）`` style area text."""
    return t(
        f"{area_m2 / 1e6:.2f} km²（{area_m2 / 1e4:.1f} ha）",
        f"{area_m2 / 1e6:.2f} km² ({area_m2 / 1e4:.1f} ha)",
    )


def fmt_area_short(area_m2: float) -> str:
    """``1.23 km²`` from 1 km² up, else ``45.6 ha``."""
    return f"{area_m2 / 1e6:.2f} km²" if area_m2 >= 1e6 else f"{area_m2 / 1e4:.1f} ha"


# --------------------------------------------------------------------------------------------
# the drawing
# --------------------------------------------------------------------------------------------


@dataclass
class MapLayers:
    """Everything one static map draws, in WGS-84 (built by :mod:`gridmgr.export.briefing`)."""

    territories: gpd.GeoDataFrame  # leader_id, label, area_m2, colour, geometry
    units: gpd.GeoDataFrame  # code, name, level, geometry (units to outline)
    blind: Any = None  # geometry of pieces without an active leader, or None
    key_places: gpd.GeoDataFrame | None = None  # code, name, category, geometry
    category_names: Mapping[str, str] = field(default_factory=dict)
    roads: gpd.GeoDataFrame | None = None
    route: PatrolRoute | None = None
    focus: Any = None  # geometry fixing the extent (defaults to all territories and units)
    label_units: Sequence[str] = ()  # unit codes whose names are written on the map
    label_places: bool = False
    highlight: str | None = None  # leader id drawn strong, the others faded
    context: gpd.GeoDataFrame | None = None  # units around the map's scope, drawn grey


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gridmgr.maps.fonts import use_cjk_font

    if paper not in PAPERS:
        raise InputError(
            t(
                f"纸张 {paper!r} 不支持，可选 A4 或 A3",
                f"paper {paper!r} is not supported; use A4 or A3",
            )
        )
    families = list(use_cjk_font())
    w_mm, h_mm = PAPERS[paper]
    # whole pixels: A4 at 150 dpi is exactly 1754 x 1240 px
    fig_w = round(w_mm / MM_PER_INCH * dpi) / dpi
    fig_h = round(h_mm / MM_PER_INCH * dpi) / dpi
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi)
    FigureCanvasAgg(fig)
    fs = 1.0 if paper == "A4" else 1.35
    date = date or dt.date.today()

    # frame and projection
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
    lon0, lat0 = (minx + maxx) / 2, (miny + maxy) / 2
    crs = local_crs(lon0, lat0)
    fwd = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    inv = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    fx = np.asarray(_to_metric([shapely.envelope(focus)], fwd)[0].bounds)

    box = (0.025, 0.075, 0.685, 0.83)  # map axes: left, bottom, width, height (figure fraction)
    ax = fig.add_axes(box)
    box_w, box_h = box[2] * fig_w, box[3] * fig_h
    w, h = max(fx[2] - fx[0], 50.0), max(fx[3] - fx[1], 50.0)
    w, h = w * 1.08, h * 1.08
    if w / h < box_w / box_h:
        w = h * box_w / box_h
    else:
        h = w * box_h / box_w
    cx, cy = (fx[0] + fx[2]) / 2, (fx[1] + fx[3]) / 2
    extent = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#f7f7f4")
    clip = shapely.box(*inv.transform_bounds(*extent, densify_pts=21))

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

    bar_m, bar_xy = _scale_bar(ax, extent, families, fs)
    _north_arrow(ax, families, fs)

    # texts
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
    lonlat = inv.transform([bar_xy[0][0], bar_xy[1][0]], [bar_xy[0][1], bar_xy[1][1]])
    return StaticMap(
        path=out,
        paper=paper,
        dpi=dpi,
        size_px=(round(fig_w * dpi), round(fig_h * dpi)),
        crs=crs.srs,
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
    if fmt == "pdf":
        return {"Title": title, "Creator": "gridmgr"}
    return {"Title": title, "Software": "gridmgr"}


def _draw_roads(ax: Axes, layers: MapLayers, fwd: pyproj.Transformer, clip: Any) -> None:
    from matplotlib.collections import LineCollection

    roads = layers.roads
    if roads is None or len(roads) == 0:
        return
    geoms = np.asarray(roads.geometry.values, dtype=object)
    geoms = shapely.intersection(geoms, clip)
    kind = roads["kind"].astype(str).to_numpy() if "kind" in roads else np.full(len(roads), "road")
    for k, colour, width, style in (
        ("road", "#b0b0b0", 1.4, "-"),
        ("waterway", "#8ab6d6", 1.6, "-"),
        ("railway", "#7a7a7a", 1.0, "--"),
    ):
        sel = geoms[(kind == k) if k != "railway" else np.isin(kind, ["railway", "rail"])]
        segs = _line_segments(_to_metric(sel, fwd))
        if segs:
            ax.add_collection(
                LineCollection(segs, colors=colour, linewidths=width, linestyles=style, zorder=1)
            )


def _draw_context(
    ax: Axes, layers: MapLayers, fwd: pyproj.Transformer, clip: Any, legend: list[str]
) -> list[Any]:
    from matplotlib.patches import Patch, PathPatch

    ctx = layers.context
    if ctx is None or len(ctx) == 0:
        return []
    geoms = np.asarray(ctx.geometry.values, dtype=object)
    geoms = geoms[shapely.intersects(geoms, clip)]
    if len(geoms) == 0:
        return []
    drawn = False
    for geom in _to_metric(geoms, fwd):
        path = polygon_path(geom)
        if path is not None:
            ax.add_patch(
                PathPatch(path, facecolor="#e4e4e4", edgecolor="#bdbdbd", linewidth=0.5, zorder=0.5)
            )
            drawn = True
    if not drawn:
        return []
    label = t("其他单元（不在本图范围内统计）", "other units (not part of this map)")
    legend.append(label)
    return [Patch(facecolor="#e4e4e4", edgecolor="#bdbdbd", label=label)]


def _draw_territories(
    ax: Axes,
    layers: MapLayers,
    fwd: pyproj.Transformer,
    legend: list[str],
    families: list[str],
    fs: float,
) -> list[Any]:
    from matplotlib.patches import Patch, PathPatch

    handles: list[Any] = []
    terr = layers.territories
    geoms = _to_metric(terr.geometry.values, fwd)
    for i, geom in enumerate(geoms):
        path = polygon_path(geom)
        if path is None:
            continue
        colour = str(terr["colour"].iat[i])
        lid = str(terr["leader_id"].iat[i])
        faded = layers.highlight is not None and lid != layers.highlight
        alpha = 0.18 if faded else 0.55
        ax.add_patch(
            PathPatch(
                path, facecolor=colour, edgecolor=colour, alpha=alpha, linewidth=0.6, zorder=2
            )
        )
        ax.add_patch(
            PathPatch(
                path,
                facecolor="none",
                edgecolor="#333333" if not faded else "#999999",
                linewidth=0.9 if not faded else 0.4,
                zorder=3,
            )
        )
        if not faded and len(terr) <= 120:
            p = shapely.point_on_surface(geom)
            ax.text(
                p.x,
                p.y,
                lid,
                fontfamily=families,
                fontsize=5.5 * fs,
                ha="center",
                va="center",
                color="#1a1a1a",
                zorder=6,
                alpha=0.85,
            )
        if not faded:
            label = str(terr["label"].iat[i])
            handles.append(Patch(facecolor=colour, edgecolor="#333333", alpha=0.7, label=label))
            legend.append(label)
    if layers.blind is not None and not shapely.is_empty(layers.blind):
        path = polygon_path(_to_metric([layers.blind], fwd)[0])
        if path is not None:
            ax.add_patch(
                PathPatch(
                    path,
                    facecolor="none",
                    edgecolor=GAP_COLOUR,
                    hatch="////",
                    linewidth=0.8,
                    zorder=4,
                )
            )
            label = t(
                f"盲点：无责任人地块 {fmt_area(_blind_area(layers.blind))}",
                "blind spots: pieces without a leader",
            )
            handles.append(
                Patch(facecolor="white", edgecolor=GAP_COLOUR, hatch="////", label=label)
            )
            legend.append(label)
    return handles


def _blind_area(geom: Any) -> float:
    from gridmgr.grid.units import area_m2

    return float(area_m2(np.asarray([geom], dtype=object)).sum())


def _draw_units(
    ax: Axes,
    layers: MapLayers,
    fwd: pyproj.Transformer,
    families: list[str],
    fs: float,
    legend: list[str],
) -> list[Any]:
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    units = layers.units
    if units is None or len(units) == 0:
        return []
    handles: list[Any] = []
    geoms = _to_metric(units.geometry.values, fwd)
    levels = units["level"].astype(str).to_numpy()
    styles: tuple[tuple[str, str, float, Any, str], ...] = (
        ("community", "#555555", 0.8, (0, (4, 2)), t("社区/村界", "community/village boundary")),
        ("grid", "#777777", 0.5, (0, (2, 2)), t("网格界", "grid boundary")),
        ("street", "#222222", 1.8, "-", t("街道/乡镇界", "street/township boundary")),
        ("district", "#000000", 2.6, "-", t("区界", "district boundary")),
    )
    for level, colour, width, style, label in styles:
        segs = _line_segments(geoms[levels == level])
        if not segs:
            continue
        ax.add_collection(
            LineCollection(segs, colors=colour, linewidths=width, linestyles=style, zorder=5)
        )
        handles.append(Line2D([], [], color=colour, linewidth=width, linestyle=style, label=label))
        legend.append(label)
    codes = units["code"].astype(str).to_numpy()
    for code in layers.label_units:
        hit = np.flatnonzero(codes == str(code))
        if len(hit) == 0:
            continue
        g = geoms[hit[0]]
        p = shapely.point_on_surface(g)
        size = 9.5 if levels[hit[0]] == "street" else 7.5
        ax.text(
            p.x,
            p.y,
            str(units["name"].iat[hit[0]]),
            fontfamily=families,
            fontsize=size * fs,
            ha="center",
            va="center",
            zorder=9,
            color="#111111",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.6, "linewidth": 0},
        )
    return handles


def _draw_places(
    ax: Axes,
    layers: MapLayers,
    fwd: pyproj.Transformer,
    clip: Any,
    families: list[str],
    fs: float,
    legend: list[str],
) -> list[Any]:
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    kp = layers.key_places
    if kp is None or len(kp) == 0:
        return []
    geoms = np.asarray(kp.geometry.values, dtype=object)
    inside = shapely.intersects(geoms, clip)
    kp, geoms = kp[inside], geoms[inside]
    if len(kp) == 0:
        return []
    from gridmgr.maps.interactive import CATEGORY_STYLE

    metric = _to_metric(geoms, fwd)
    poly = np.isin(shapely.get_type_id(metric), [3, 6])
    segs = _line_segments(metric[poly])
    if segs:
        ax.add_collection(LineCollection(segs, colors="#444444", linewidths=0.8, zorder=6))
    pts = shapely.point_on_surface(metric)
    xy = shapely.get_coordinates(pts)
    cats = kp["category"].astype(str).to_numpy()
    handles: list[Any] = []
    for cat in sorted(
        set(cats),
        key=lambda c: (list(CATEGORY_MARKERS).index(c) if c in CATEGORY_MARKERS else 99, c),
    ):
        sel = cats == cat
        marker = CATEGORY_MARKERS.get(cat, "o")
        colour = CATEGORY_STYLE.get(cat, ("", "#6c757d"))[1]
        ax.scatter(
            xy[sel, 0],
            xy[sel, 1],
            marker=marker,
            s=38 * fs,
            c=colour,
            edgecolors="white",
            linewidths=0.6,
            zorder=8,
        )
        cname = layers.category_names.get(cat, cat)
        label = t(f"{cname}（{int(sel.sum())}）", f"{cname} ({int(sel.sum())})")
        handles.append(
            Line2D(
                [],
                [],
                marker=marker,
                color="none",
                markerfacecolor=colour,
                markeredgecolor="white",
                markersize=7,
                label=label,
            )
        )
        legend.append(label)
    if layers.label_places:
        names = kp["name"].astype(str).to_numpy()
        for (x, y), name in zip(xy, names, strict=True):
            ax.annotate(
                name,
                (x, y),
                xytext=(4, 3),
                textcoords="offset points",
                fontfamily=families,
                fontsize=6.5 * fs,
                zorder=9,
                color="#222222",
            )
    return handles


def _draw_route(
    ax: Axes,
    layers: MapLayers,
    fwd: pyproj.Transformer,
    families: list[str],
    fs: float,
    legend: list[str],
) -> list[Any]:
    from matplotlib.lines import Line2D

    route = layers.route
    if route is None or len(route.legs) == 0:
        return []
    line = _to_metric([route.line()], fwd)[0]
    xy = shapely.get_coordinates(line)
    ax.plot(xy[:, 0], xy[:, 1], color=ROUTE_COLOUR, linewidth=1.6, zorder=7, alpha=0.9)
    sx, sy = fwd.transform(route.start[0], route.start[1])
    ax.scatter(
        [sx],
        [sy],
        marker="*",
        s=160 * fs,
        c="#ffd60a",
        edgecolors="#000000",
        linewidths=0.8,
        zorder=10,
    )
    kind = t("沿道路", "along roads") if route.follows_roads else t("直线距离", "straight legs")
    label = t(
        f"巡查路线（{kind}）{route.length_m / 1000:.2f} km，步行约 {route.walking_time_min:.0f} 分钟",
        f"patrol route ({kind}) {route.length_m / 1000:.2f} km, about {route.walking_time_min:.0f} min walk",
    )
    legend.append(label)
    start_label = t("起点/终点", "start/end")
    legend.append(start_label)
    return [
        Line2D([], [], color=ROUTE_COLOUR, linewidth=1.6, label=label),
        Line2D(
            [],
            [],
            marker="*",
            color="none",
            markerfacecolor="#ffd60a",
            markeredgecolor="#000000",
            markersize=11,
            label=start_label,
        ),
    ]


def _scale_bar(
    ax: Axes, extent: tuple[float, float, float, float], families: list[str], fs: float
) -> tuple[float, tuple[tuple[float, float], tuple[float, float]]]:
    from matplotlib.patches import Rectangle

    w = extent[2] - extent[0]
    h = extent[3] - extent[1]
    length = _nice_length(w / 5)
    x0 = extent[0] + 0.04 * w
    y0 = extent[1] + 0.045 * h
    bar_h = 0.012 * h
    ax.add_patch(
        Rectangle(
            (x0 - 0.015 * w, y0 - 0.03 * h),
            length + 0.06 * w,
            0.085 * h,
            facecolor="white",
            alpha=0.8,
            edgecolor="none",
            zorder=11,
        )
    )
    for k in range(4):
        ax.add_patch(
            Rectangle(
                (x0 + k * length / 4, y0),
                length / 4,
                bar_h,
                facecolor="black" if k % 2 == 0 else "white",
                edgecolor="black",
                linewidth=0.7,
                zorder=12,
            )
        )
    for frac in (0.0, 0.5, 1.0):
        text = "0" if frac == 0 else _fmt_len(length * frac)
        ax.text(
            x0 + frac * length,
            y0 + bar_h * 1.6,
            text,
            fontfamily=families,
            fontsize=7 * fs,
            ha="center",
            va="bottom",
            zorder=12,
        )
    return length, ((x0, y0), (x0 + length, y0))


def _north_arrow(ax: Axes, families: list[str], fs: float) -> None:
    ax.annotate(
        "",
        xy=(0.955, 0.95),
        xytext=(0.955, 0.86),
        xycoords="axes fraction",
        zorder=12,
        arrowprops={
            "facecolor": "black",
            "edgecolor": "black",
            "width": 3,
            "headwidth": 10,
            "headlength": 12,
        },
    )
    ax.text(
        0.955,
        0.96,
        t("北", "N"),
        transform=ax.transAxes,
        fontfamily=families,
        fontsize=11 * fs,
        ha="center",
        va="bottom",
        fontweight="bold",
        zorder=12,
        bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "alpha": 0.7, "linewidth": 0},
    )


__all__ = [
    "PAPERS",
    "MapLayers",
    "StaticMap",
    "fmt_area",
    "fmt_area_short",
    "local_crs",
    "polygon_path",
    "render",
]
