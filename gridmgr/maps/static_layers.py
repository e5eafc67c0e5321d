"""The layers of a static briefing map: what is drawn (:class:`MapLayers`) and how.

Geometry → matplotlib helpers (``_to_metric``, :func:`polygon_path`, ``_line_segments``) and one
``_draw_*`` step per layer (context units, roads, territories, units, key places, route), the
scale bar and the north arrow. The page around them is :func:`gridmgr.maps.static_map.render`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from gridmgr.i18n import t

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.path import Path as MplPath

    from gridmgr.patrol.route import PatrolRoute

__all__ = [
    "CATEGORY_MARKERS",
    "GAP_COLOUR",
    "ROUTE_COLOUR",
    "MapLayers",
    "fmt_area",
    "fmt_area_short",
    "polygon_path",
]


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
    return handles + _draw_blind(ax, layers, fwd, legend)


def _draw_blind(
    ax: Axes, layers: MapLayers, fwd: pyproj.Transformer, legend: list[str]
) -> list[Any]:
    """Hatch the blind spots (pieces without an active leader) red; return the legend handle."""
    from matplotlib.patches import Patch, PathPatch

    handles: list[Any] = []
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

    kp = layers.key_places
    if kp is None or len(kp) == 0:
        return []
    geoms = np.asarray(kp.geometry.values, dtype=object)
    inside = shapely.intersects(geoms, clip)
    kp, geoms = kp[inside], geoms[inside]
    if len(kp) == 0:
        return []
    metric = _to_metric(geoms, fwd)
    poly = np.isin(shapely.get_type_id(metric), [3, 6])
    segs = _line_segments(metric[poly])
    if segs:
        ax.add_collection(LineCollection(segs, colors="#444444", linewidths=0.8, zorder=6))
    pts = shapely.point_on_surface(metric)
    xy = shapely.get_coordinates(pts)
    cats = kp["category"].astype(str).to_numpy()
    handles = _draw_place_markers(ax, xy, cats, layers.category_names, fs, legend)
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


def _draw_place_markers(
    ax: Axes,
    xy: npt.NDArray[np.float64],
    cats: npt.NDArray[np.object_],
    category_names: Mapping[str, str],
    fs: float,
    legend: list[str],
) -> list[Any]:
    """One marker style per category (count in the legend); return the legend handles."""
    from matplotlib.lines import Line2D

    from gridmgr.maps.patrol_map import CATEGORY_STYLE

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
        cname = category_names.get(cat, cat)
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
