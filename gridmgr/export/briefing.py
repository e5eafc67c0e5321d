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

The static map engine is in :mod:`gridmgr.maps.static_map`, the field formats in
:mod:`gridmgr.export.field_formats` (re-exported here), the office formats in :mod:`gridmgr.export.office`.
Notes for developers: ``docs/exports.md``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmgr.errors import InputError, InvalidFieldError, LeaderNotFoundError, UnitNotFoundError
from gridmgr.export.field_formats import (
    GPX_NS,  # noqa: F401  (kept importable from gridmgr.export.briefing)
    KML_NS,  # noqa: F401
    SHP_SUFFIXES,  # noqa: F401
    gpx_document,
    kml_document,
    territory_colours,
    write_gpx,
    write_kml,
    write_kmz,
    write_shapefile,
)
from gridmgr.export.office import GAP_COLUMNS, LEADER_COLUMNS, UNIT_COLUMNS
from gridmgr.i18n import t
from gridmgr.maps.static_map import MapLayers, StaticMap, fmt_area, fmt_area_short, render

if TYPE_CHECKING:
    from gridmgr.coverage.report import CoverageReport
    from gridmgr.patrol.route import PatrolRoute

#: Formats of the CLI per target.
LEADER_FORMATS = ("html", "png", "pdf", "kml", "kmz", "gpx", "shp", "xlsx")
UNIT_FORMATS = ("html", "png", "pdf", "xlsx", "kml", "kmz", "shp")
BRIEFING_FORMATS = ("docx", "xlsx", "pptx", "pdf", "png", "html")

ROLE_LABELS = {
    "grid_leader": ("网格长", "grid leader"),
    "package_leader": ("包保领导", "package leader"),
}


# --------------------------------------------------------------------------------------------
# The data bundle
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportData:
    """The frames an export draws from (contract frames, EPSG:4326).

    Attributes
    ----------
    units, pieces, leaders
        Units; pieces with ``leader_id`` (missing/None = unassigned); leaders (``id``, ``name``,
        ``role``, ``active`` …).
    key_places, categories, departments
        Optional frames of the same contracts.
    roads
        Optional road lines drawn on static maps (OpenStreetMap data: attribution is printed).
    coverage
        A :class:`gridmgr.coverage.report.CoverageReport`; computed from the frames when ``None``.
    grid_codes
        Optional ``leader_id``, ``unit_code``, ``grid_code`` rows (``Store.grid_codes()``).
    date
        Date printed on the outputs (today when ``None``).
    """

    units: gpd.GeoDataFrame
    pieces: gpd.GeoDataFrame
    leaders: pd.DataFrame
    key_places: gpd.GeoDataFrame | None = None
    categories: pd.DataFrame | None = None
    departments: pd.DataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    coverage: Any = None
    grid_codes: pd.DataFrame | None = None
    date: dt.date | None = None

    @property
    def day(self) -> dt.date:
        return self.date or dt.date.today()

    def report(self, scope: str | None = None) -> CoverageReport:
        """The coverage report (given, or computed over the whole data); ``scope`` narrows it."""
        if self.coverage is not None and (
            scope is None or getattr(self.coverage, "scope", None) == scope
        ):
            return self.coverage  # type: ignore[no-any-return]
        from gridmgr.coverage.report import coverage_from_frames

        return coverage_from_frames(
            self.units, self.pieces, self.leaders, self.key_places, self.categories, scope=scope
        )

    def with_coverage(self) -> ExportData:
        """This bundle with the coverage report computed once (for several exports)."""
        return self if self.coverage is not None else replace(self, coverage=self.report())

    def unit_row(self, code: str) -> Mapping[str, Any]:
        codes = self.units["code"].astype(str)
        hit = self.units.loc[codes == str(code)]
        if hit.empty:
            msg = t(
                f"单元 {code!r} 不存在；用 `gridmgr coverage` 查看各单元编码",
                f"unit {code!r} does not exist; `gridmgr coverage` lists the unit codes",
            )
            raise UnitNotFoundError(msg)
        return dict(hit.iloc[0].to_dict())

    def leader_row(self, leader_id: str) -> Mapping[str, Any]:
        hit = self.leaders.loc[self.leaders["id"].astype(str) == str(leader_id)]
        if hit.empty:
            msg = t(
                f"领导 {leader_id!r} 不存在；用 `gridmgr leaders list` 查看编号",
                f"leader {leader_id!r} does not exist; see `gridmgr leaders list`",
            )
            raise LeaderNotFoundError(msg)
        return dict(hit.iloc[0].to_dict())

    def subtree(self, code: str) -> set[str]:
        """``code`` and every unit below it."""
        self.unit_row(code)
        codes = self.units["code"].astype(str)
        parent = self.units["parent"].astype("string").fillna("")
        keep = {str(code)}
        frontier = {str(code)}
        while frontier:
            kids = set(codes[parent.isin(frontier)])
            frontier = kids - keep
            keep |= kids
        return keep

    def category_names(self) -> dict[str, str]:
        if self.categories is None or len(self.categories) == 0:
            return {}
        col = "name" if t("zh", "en") == "zh" or "name_en" not in self.categories else "name_en"
        return dict(
            zip(
                self.categories["category"].astype(str),
                self.categories[col].astype(str),
                strict=True,
            )
        )

    def root(self) -> Mapping[str, Any]:
        """The top unit (no parent), or the first unit."""
        no_parent = self.units["parent"].isna() | (self.units["parent"].astype(str) == "")
        rows = self.units.loc[no_parent] if no_parent.any() else self.units
        return dict(rows.iloc[0].to_dict())


def read_roads(path: str | Path | None = None) -> gpd.GeoDataFrame | None:
    """Road lines for static maps: ``path`` (must exist), or the default layers' ``roads.geojson``
    when it exists (else ``None``). Read and checked by :func:`gridmgr.io.layers.read_roads`."""
    from gridmgr import settings
    from gridmgr.io import layers as io

    if path is not None:
        return io.read_roads(path)
    p = settings.layers_dir() / "roads.geojson"
    return io.read_roads(p) if p.is_file() else None


def export_data_from_store(
    store: Any,
    *,
    roads: gpd.GeoDataFrame | str | Path | None = None,
    with_coverage: bool = True,
    date: dt.date | None = None,
) -> ExportData:
    """An :class:`ExportData` of everything in ``store`` (a :class:`gridmgr.store.Store`).

    ``roads`` is a frame or a file; ``None`` uses the default layers' ``roads.geojson`` when it
    exists, keeping only the lines that reach the store's units (within about 1 km of their
    bounding box).
    """
    road_frame = roads if isinstance(roads, gpd.GeoDataFrame) else read_roads(roads)
    units = store.units()
    if roads is None and road_frame is not None and len(units):
        # the shipped roads only where they reach this store's jurisdiction
        area = shapely.box(*units.total_bounds).buffer(0.01)
        near = shapely.intersects(np.asarray(road_frame.geometry.values, dtype=object), area)
        road_frame = road_frame.loc[near] if near.any() else None
    grid_codes = None
    if hasattr(store, "grid_codes"):
        grid_codes = store.grid_codes()
    data = ExportData(
        units=units,
        pieces=store.pieces(),
        leaders=store.leaders(),
        key_places=store.key_places(),
        categories=store.categories(),
        departments=store.departments(),
        roads=road_frame,
        grid_codes=grid_codes,
        date=date,
    )
    # the coverage report over the frames already read (coverage_from_store would read them again)
    return data.with_coverage() if with_coverage else data


# --------------------------------------------------------------------------------------------
# Territories
# --------------------------------------------------------------------------------------------


def _leader_ids(pieces: pd.DataFrame) -> pd.Series:
    if "leader_id" not in pieces:
        return pd.Series([None] * len(pieces), index=pieces.index, dtype=object)
    lid = pieces["leader_id"]
    return lid.where(lid.notna(), None).astype(object)


def territories_frame(
    pieces: gpd.GeoDataFrame, leaders: pd.DataFrame | None = None
) -> gpd.GeoDataFrame:
    """One dissolved territory per leader: ``leader_id``, ``name``, ``pieces``, ``area_m2``, geometry.

    Pieces without a leader are left out (see :func:`blind_geometry`).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> p = gpd.GeoDataFrame({"leader_id": ["A", "A", "B"], "area_m2": [1.0, 1.0, 1.0]},
    ...     geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs=4326)
    >>> territories_frame(p)[["leader_id", "pieces"]].values.tolist()
    [['A', 2], ['B', 1]]
    """
    lid = _leader_ids(pieces)
    has = lid.notna().to_numpy()
    cols = ["leader_id", "name", "pieces", "area_m2", "geometry"]
    if not has.any():
        return gpd.GeoDataFrame({c: [] for c in cols[:-1]}, geometry=[], crs=4326)
    ids = lid[has].astype(str).to_numpy()
    geoms = np.asarray(pieces.geometry.values, dtype=object)[has]
    area = pieces["area_m2"].to_numpy(dtype=float)[has] if "area_m2" in pieces else _area(geoms)
    order = np.argsort(ids, kind="stable")
    uniq, start, counts = np.unique(ids[order], return_index=True, return_counts=True)
    union = []
    for s, c in zip(start, counts, strict=True):
        part = geoms[order[s : s + c]]
        try:
            union.append(shapely.coverage_union_all(part))
        except shapely.errors.GEOSException:  # pragma: no cover - not a clean coverage
            union.append(shapely.union_all(part))
    sums = np.add.reduceat(area[order], start)
    names = (
        dict(zip(leaders["id"].astype(str), leaders["name"].astype(str), strict=True))
        if leaders is not None and len(leaders)
        else {}
    )
    return gpd.GeoDataFrame(
        {
            "leader_id": uniq,
            "name": [names.get(i, i) for i in uniq],
            "pieces": counts.astype(np.int64),
            "area_m2": sums,
        },
        geometry=gpd.GeoSeries(union, crs=4326),
        crs=4326,
    )


def _area(geoms: Any) -> np.ndarray:
    from gridmgr.grid.units import area_m2

    return np.asarray(area_m2(np.asarray(geoms, dtype=object)), dtype=float)


def _territorial_leader_ids(pieces: pd.DataFrame, leaders: pd.DataFrame | None) -> set[str]:
    """Ids of the active leaders holding at least one of ``pieces`` (网格责任人 with ground).

    A leader counts when some piece carries its ``leader_id`` and it is active in ``leaders``
    (every listed leader is active when the frame has no ``active`` column). Leaders with key
    places or unit packages but no piece are not counted: they are in the coverage report's
    ``active_leaders`` only.

    Examples
    --------
    >>> p = pd.DataFrame({"leader_id": ["A", "A", "B", None]})
    >>> sorted(_territorial_leader_ids(p, pd.DataFrame({"id": ["A", "B", "C"], "active": [True, False, True]})))
    ['A']
    """
    held = set(_leader_ids(pieces).dropna().astype(str))
    if leaders is None or len(leaders) == 0:
        return set()
    ids = leaders["id"].astype(str)
    if "active" in leaders:
        ids = ids[leaders["active"].fillna(True).astype(bool).to_numpy()]
    return held & set(ids)


def blind_geometry(pieces: gpd.GeoDataFrame, leaders: pd.DataFrame | None) -> Any:
    """Union of the pieces without an active leader (盲点), or ``None``."""
    lid = _leader_ids(pieces)
    blind = lid.isna().to_numpy().copy()
    if leaders is not None and len(leaders) and "active" in leaders:
        active = set(leaders.loc[leaders["active"].fillna(True).astype(bool), "id"].astype(str))
        blind |= ~lid.astype(str).isin(active).to_numpy() & lid.notna().to_numpy()
    if not blind.any():
        return None
    return shapely.union_all(np.asarray(pieces.geometry.values, dtype=object)[blind])


def _with_colours(terr: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    terr = terr.copy()
    terr["colour"] = territory_colours(terr.geometry.values) if len(terr) else []
    terr["label"] = [
        f"{n if i in n else f'{n}（{i}）'} {fmt_area_short(a)}"
        for n, i, a in zip(
            terr["name"].astype(str), terr["leader_id"].astype(str), terr["area_m2"], strict=True
        )
    ]
    return terr


# --------------------------------------------------------------------------------------------
# Static maps
# --------------------------------------------------------------------------------------------


def _fmt_from(out: Path, fmt: str | None, allowed: Sequence[str]) -> str:
    f = (fmt or out.suffix.lstrip(".")).lower()
    if f not in allowed:
        msg = t(
            f"{out}: 不支持的格式 {f!r}，可选 {', '.join(allowed)}",
            f"{out}: format {f!r} is not supported here; use one of {', '.join(allowed)}",
        )
        raise InvalidFieldError(msg)
    return f


def static_map(
    data: ExportData,
    out: str | Path,
    *,
    leader: str | None = None,
    unit: str | None = None,
    route: PatrolRoute | None = None,
    fmt: str | None = None,
    paper: str = "A4",
    dpi: int = 150,
    title: str | None = None,
    pages: Any = None,
) -> StaticMap:
    """Draw a static briefing map (PNG or PDF, landscape A4/A3) of a leader, a unit or the zone.

    Parameters
    ----------
    data
        The frames (:class:`ExportData`).
    out
        Output file; the format comes from ``fmt`` or the suffix (``.png``/``.pdf``).
    leader
        A leader id: their territory (others around it faded), key places, ``route``.
    unit
        A unit code (street, community …): every territory in it. Neither: the whole zone.
    route
        A patrol route drawn on a leader's map.
    paper, dpi
        ``A4`` or ``A3`` landscape; raster resolution (PNG: A4 at 150 dpi is 1754 × 1240 px).
    title
        Overrides the default title.
    pages
        A :class:`matplotlib.backends.backend_pdf.PdfPages`: append the page to it (``out`` is
        that PDF's path); see :func:`write_maps_pdf`.

    Returns
    -------
    StaticMap
        What was drawn: path, size, projection, scale bar length and ends, legend text.

    Examples
    --------
    >>> m = static_map(data, "out/overview.png")  # doctest: +SKIP
    >>> m.size_px  # doctest: +SKIP
    (1754, 1240)
    """
    out = Path(out)
    f = _fmt_from(out, fmt, ("png", "pdf"))
    if leader is not None and unit is not None:
        raise InputError(t("leader 与 unit 只能给一个", "give either leader or unit, not both"))
    pieces = data.pieces
    lid = _leader_ids(pieces)
    units = data.units
    root = data.root()
    label_places = False
    highlight = None
    focus = None
    subtitle_bits: list[str] = []
    if leader is not None:
        row = data.leader_row(leader)
        mine = lid.astype(str) == str(leader)
        pieces_geoms = np.asarray(pieces.geometry.values, dtype=object)
        lowest_codes = _lowest_codes(units)
        if mine.any():
            around = set(pieces.loc[mine, "unit_code"].astype(str))
            focus = shapely.union_all(pieces_geoms[mine.to_numpy()])
        else:
            # a package leader without ground of their own: their packaged units and places
            around = set()
            for code in _as_list(row.get("unit_packages")):
                if code in set(units["code"].astype(str)):
                    around |= data.subtree(code) & lowest_codes
            parts = list(units.loc[units["code"].astype(str).isin(around)].geometry.values)
            kp = data.key_places
            if kp is not None and len(kp):
                packaged = kp["code"].astype(str).isin(set(_as_list(row.get("place_packages"))))
                parts += list(kp.loc[packaged.to_numpy()].geometry.values)
            if route is not None:
                parts.append(route.line())
            if not parts:
                msg = t(
                    f"领导 {leader} 名下没有地块、包保单元和包保点位，无法绘制地图",
                    f"leader {leader} has no pieces, unit packages or place packages: nothing to map",
                )
                raise InputError(msg)
            focus = shapely.union_all(np.asarray(parts, dtype=object))
        sel = pieces["unit_code"].astype(str).isin(around).to_numpy() if around else mine.to_numpy()
        scoped = pieces[sel]
        highlight = str(leader) if mine.any() else None
        label_places = True
        name = str(row.get("name", leader))
        role = ROLE_LABELS.get(str(row.get("role")), (str(row.get("role", "")),) * 2)
        who = name if str(leader) in name else f"{name}（{leader}）"
        default_title = t(f"{who}责任区巡查图", f"Patrol map of {who}")
        area = float(pieces.loc[mine, "area_m2"].sum()) if "area_m2" in pieces else 0.0
        subtitle_bits = [
            t(role[0], role[1]),
            t(f"地块 {int(mine.sum())} 个", f"{int(mine.sum())} pieces"),
            t(f"面积 {fmt_area(area)}", f"area {fmt_area(area)}"),
        ]
        if not mine.any():
            names = dict(zip(units["code"].astype(str), units["name"].astype(str), strict=True))
            pk = "、".join(names.get(c, c) for c in _as_list(row.get("unit_packages")))
            subtitle_bits = [
                t(role[0], role[1]),
                t(f"包保单元：{pk or '无'}", f"unit packages: {pk or 'none'}"),
            ]
        unit_codes = around | {str(p) for c in around for p in _ancestors(units, c)}
        show_units = units.loc[units["code"].astype(str).isin(unit_codes)]
        label_units: list[str] = sorted(around)
    else:
        code = str(unit) if unit is not None else str(root["code"])
        row = data.unit_row(code)
        keep = data.subtree(code)
        scoped = pieces[pieces["unit_code"].astype(str).isin(keep).to_numpy()]
        show_units = units.loc[units["code"].astype(str).isin(keep)]
        levels = show_units["level"].astype(str)
        parents = set(units["parent"].dropna().astype(str))
        lowest = show_units.loc[~show_units["code"].astype(str).isin(parents)]
        label_units = (
            list(lowest["code"].astype(str))
            if len(lowest) <= 40
            else list(show_units.loc[levels == "street", "code"].astype(str))
        )
        focus = shapely.union_all(np.asarray(show_units.geometry.values, dtype=object))
        label_places = len(lowest) <= 1
        name = str(row.get("name", code))
        default_title = (
            t(f"{name}网格责任区总览图", f"{name}: overview of territories")
            if unit is None
            else t(f"{name}网格责任区图", f"{name}: territories")
        )
        subtitle_bits = [t(f"地块 {len(scoped)} 个", f"{len(scoped)} pieces")]
    terr = _with_colours(territories_frame(scoped, data.leaders))
    places = data.key_places
    n_places = 0
    if places is not None and len(places) and focus is not None:
        inside = np.asarray(
            shapely.intersects(
                focus, shapely.point_on_surface(np.asarray(places.geometry.values, dtype=object))
            )
        )
        n_places = int(inside.sum())
        if leader is None:  # a unit's map shows the unit's places only
            places = places.loc[inside]
    shown = set(show_units["code"].astype(str))
    context = units.loc[
        ~units["code"].astype(str).isin(shown)
        & units["code"].astype(str).isin(_lowest_codes(units))
    ]
    if leader is None:
        n_terr = len(_territorial_leader_ids(scoped, data.leaders))
        subtitle_bits.append(t(f"网格责任人 {n_terr} 名", f"{n_terr} territorial leaders"))
    subtitle_bits.append(t(f"重点点位 {n_places} 处", f"{n_places} key places"))
    layers = MapLayers(
        territories=terr,
        units=show_units,
        blind=blind_geometry(scoped, data.leaders),
        key_places=places,
        category_names=data.category_names(),
        roads=data.roads,
        route=route,
        focus=focus,
        label_units=label_units,
        label_places=label_places,
        highlight=highlight,
        context=context,
    )
    return render(
        layers,
        out,
        title=title or default_title,
        subtitle=" · ".join(subtitle_bits),
        date=data.day,
        paper=paper,
        dpi=dpi,
        fmt=f,
        pages=pages,
    )


def write_maps_pdf(
    data: ExportData, out: str | Path, *, scope: str | None = None, paper: str = "A4"
) -> Path:
    """One multi-page PDF of the briefing maps: the overview, then one page per street."""
    from matplotlib.backends.backend_pdf import PdfPages

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    name = str(data.unit_row(scope)["name"]) if scope else str(data.root()["name"])
    with PdfPages(
        out, metadata={"Title": t(f"{name}网格责任区图集", f"{name}: maps"), "Creator": "gridmgr"}
    ) as pdf:
        static_map(data, out, unit=scope, fmt="pdf", paper=paper, pages=pdf)
        for code in streets(data, scope):
            if scope is None or code != str(scope):
                static_map(data, out, unit=code, fmt="pdf", paper=paper, pages=pdf)
    return out


def _lowest_codes(units: pd.DataFrame) -> set[str]:
    parents = set(units["parent"].dropna().astype(str))
    return set(units["code"].astype(str)) - parents


def _ancestors(units: pd.DataFrame, code: str) -> list[str]:
    parents = dict(zip(units["code"].astype(str), units["parent"], strict=True))
    out: list[str] = []
    cur = parents.get(code)
    while cur is not None and isinstance(cur, str) and cur and cur not in out:
        out.append(cur)
        cur = parents.get(cur)
    return out


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _joined(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return "；".join(str(v) for v in value)
    return str(value)


def leader_table(data: ExportData) -> pd.DataFrame:
    """Per-leader figures: pieces, area, key places, load, load ratio, grid code.

    Pieces, area, load, load/capacity and load ratio are the coverage report's figures; key places
    count those whose representative point lies in the leader's pieces.
    """
    from gridmgr.assign.workload import key_place_counts

    rep = data.report()
    rows = rep.leaders.copy()
    pieces = data.pieces
    lid = _leader_ids(pieces)
    kp = key_place_counts(pieces, data.key_places) if len(pieces) else np.zeros(0, dtype=np.int64)
    per = pd.Series(kp, index=pieces.index).groupby(lid.astype(str).where(lid.notna(), "")).sum()
    rows["key_places"] = rows["id"].astype(str).map(per).fillna(0).astype(np.int64)
    codes = data.grid_codes
    if codes is not None and len(codes):
        gc = codes.groupby(codes["leader_id"].astype(str))["grid_code"].agg(
            lambda s: "；".join(sorted(map(str, s)))
        )
        rows["grid_code"] = rows["id"].astype(str).map(gc).fillna("")
    else:
        rows["grid_code"] = ""
    names = dict(zip(data.units["code"].astype(str), data.units["name"].astype(str), strict=True))
    rows["home_unit_name"] = rows["home_unit"].map(lambda c: names.get(str(c), "") if c else "")
    rows["role_label"] = rows["role"].map(lambda r: t(*ROLE_LABELS.get(str(r), (str(r), str(r)))))
    rows["area_ha"] = rows["area_m2"].astype(float) / 1e4
    rows["workload_label"] = rows["workload_status"].map(
        lambda v: t(*WORKLOAD_LABELS[str(v)]) if str(v) in WORKLOAD_LABELS else ""
    )
    return rows


WORKLOAD_LABELS = {
    "ok": ("正常", "ok"),
    "overloaded": ("负荷过重", "overloaded"),
    "idle": ("负荷过轻", "idle"),
}


def unit_table(data: ExportData) -> pd.DataFrame:
    """Per-unit coverage figures (the coverage report's unit rows, with labels)."""
    from gridmgr.i18n import level_label

    rows = data.report().units.copy()
    rows["level_label"] = rows["level"].map(lambda v: level_label(str(v)))
    rows["package_leaders_text"] = rows["package_leaders"].map(_joined)
    return rows


def gap_table(data: ExportData, *, gaps_only: bool = False) -> pd.DataFrame:
    """The gap list: one row per finding of the coverage report (gaps first)."""
    rep = data.report()
    findings = rep.gaps if gaps_only else rep.findings
    units = dict(zip(data.units["code"].astype(str), data.units["name"].astype(str), strict=True))
    leaders = (
        dict(zip(data.leaders["id"].astype(str), data.leaders["name"].astype(str), strict=True))
        if len(data.leaders)
        else {}
    )
    rows = [
        {
            "severity": f.severity,
            "severity_label": t("缺口", "gap") if f.severity == "gap" else t("提示", "warning"),
            "kind": f.kind,
            "label": f.label,
            "unit_code": f.unit_code or "",
            "unit_name": units.get(f.unit_code or "", ""),
            "leader_id": f.leader_id or "",
            "leader_name": leaders.get(f.leader_id or "", ""),
            "place_code": f.place_code or "",
            "count": int(f.count),
            "area_m2": float(f.area_m2),
            "detail": json.dumps(f.to_dict()["detail"], ensure_ascii=False),
        }
        for f in findings
    ]
    cols = [c[0] for c in GAP_COLUMNS] + ["severity", "detail"]
    return pd.DataFrame(rows, columns=list(dict.fromkeys(cols)))


def write_xlsx(
    data: ExportData,
    out: str | Path,
    *,
    leaders: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
) -> Path:
    """The briefing workbook: sheets 责任人 (per leader), 单元覆盖 (per unit), 缺口清单 (gaps).

    Frozen header row, autofilter, column widths; every text cell is stored as text (a name such
    as ``=HYPERLINK(...)`` is never a formula). ``leaders`` / ``units`` restrict the rows to those
    ids / codes.
    """
    from gridmgr.export.office import Sheet, write_workbook

    data = data.with_coverage()
    lt = leader_table(data)
    ut = unit_table(data)
    gt = gap_table(data)
    if leaders is not None:
        keep = {str(x) for x in leaders}
        lt = lt[lt["id"].astype(str).isin(keep)]
        gt = gt[gt["leader_id"].isin(keep)]
    if units is not None:
        keep_u = {str(x) for x in units}
        ut = ut[ut["code"].astype(str).isin(keep_u)]
        if leaders is None:
            lt = lt[lt["home_unit"].astype(str).isin(keep_u)]
            gt = gt[gt["unit_code"].isin(keep_u)]
    sheets = [
        Sheet(t("责任人", "leaders"), LEADER_COLUMNS, lt),
        Sheet(t("单元覆盖", "unit coverage"), UNIT_COLUMNS, ut),
        Sheet(t("缺口清单", "gap list"), GAP_COLUMNS, gt),
    ]
    return write_workbook(
        Path(out), sheets, title=t("网格化管理汇报表", "grid management briefing tables")
    )


# --------------------------------------------------------------------------------------------
# Leader / unit exports
# --------------------------------------------------------------------------------------------


def leader_layers(
    data: ExportData, leader_id: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A leader's pieces, dissolved territory and key places (in the territory or packaged)."""
    row = data.leader_row(leader_id)
    lid = _leader_ids(data.pieces)
    mine = data.pieces.loc[(lid.astype(str) == str(leader_id)).to_numpy()]
    terr = _with_colours(territories_frame(mine, data.leaders))
    places = data.key_places
    if places is None or len(places) == 0:
        places = gpd.GeoDataFrame({"code": [], "name": [], "category": []}, geometry=[], crs=4326)
    else:
        packaged = set(_as_list(row.get("place_packages")))
        reps = shapely.point_on_surface(np.asarray(places.geometry.values, dtype=object))
        inside = np.zeros(len(places), dtype=bool)
        if len(terr):
            inside = np.asarray(shapely.intersects(terr.geometry.iat[0], reps), dtype=bool)
        places = places.loc[inside | places["code"].astype(str).isin(packaged).to_numpy()]
    return mine, terr, places


def _as_list(v: object) -> list[str]:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return []
    if isinstance(v, str):
        return [x.strip() for x in v.replace("；", ";").split(";") if x.strip()]
    if isinstance(v, (list, tuple, np.ndarray)):
        return [str(x) for x in v]
    return [str(v)]


def export_leader(
    data: ExportData,
    leader_id: str,
    out: str | Path,
    *,
    fmt: str | None = None,
    route: PatrolRoute | None = None,
    make_route: bool = True,
    paper: str = "A4",
    basemap: str | None = "tianditu",
) -> list[Path]:
    """One leader's material in one format (``html|png|pdf|kml|kmz|gpx|shp|xlsx``).

    The patrol route (:func:`gridmgr.patrol.route.patrol_route` over the leader's pieces and key places,
    following ``data.roads`` when present) is computed when not given and ``make_route``.
    Returns the files written.
    """
    out = Path(out)
    f = _fmt_from(out, fmt, LEADER_FORMATS)
    pieces, terr, places = leader_layers(data, leader_id)
    row = data.leader_row(leader_id)
    if (
        route is None
        and make_route
        and f in ("html", "png", "pdf", "kml", "kmz", "gpx", "shp")
        and (len(pieces) or len(places))
    ):
        from gridmgr.patrol.route import patrol_route

        route = patrol_route(pieces, places, roads=data.roads)
    name = t(
        f"{row.get('name', leader_id)}（{leader_id}）责任区",
        f"{row.get('name', leader_id)} ({leader_id}) territory",
    )
    cats = data.category_names()
    if f in ("png", "pdf"):
        return [static_map(data, out, leader=leader_id, route=route, fmt=f, paper=paper).path]
    if f == "kml":
        return [write_kml(out, terr, places, route, name=name, categories=cats)]
    if f == "kmz":
        return [write_kmz(out, terr, places, route, name=name, categories=cats)]
    if f == "gpx":
        return [write_gpx(out, route, places, terr, name=name)]
    if f == "shp":
        return write_shapefile(out, terr, places, route)
    if f == "xlsx":
        return [write_xlsx(data, out, leaders=[leader_id])]
    # html: the interactive map (gridmgr.maps.interactive)
    from gridmgr.maps.interactive import leader_map, map_html

    m = leader_map(
        pieces,
        places,
        route,
        leader=row,
        basemap=basemap,
        categories=data.categories,
        departments=data.departments,
        leaders=data.leaders,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(map_html(m), encoding="utf-8")
    return [out]


def overview_html(
    data: ExportData, out: str | Path, *, scope: str | None = None, basemap: str | None = "tianditu"
) -> Path:
    """The interactive overview (:func:`gridmgr.maps.interactive.overview_map`) of ``scope`` with the coverage
    report's gaps, written as one self-contained HTML file."""
    from gridmgr.maps.interactive import map_html, overview_map

    out = Path(out)
    units, pieces = data.units, data.pieces
    title = None
    if scope is not None:
        keep = data.subtree(scope)
        units = units.loc[units["code"].astype(str).isin(keep)]
        pieces = pieces.loc[pieces["unit_code"].astype(str).isin(keep).to_numpy()]
        name = str(data.unit_row(scope)["name"])
        title = t(f"{name} 责任区总览", f"{name} overview")
    frame = data.report().findings_frame()
    gaps = frame.loc[frame["severity"] == "gap"] if "severity" in frame.columns else frame
    if scope is not None and len(gaps):
        gaps = gaps.loc[gaps["unit_code"].astype(str).isin(data.subtree(scope))]
    m = overview_map(units, pieces, gaps, leaders=data.leaders, basemap=basemap, title=title)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(map_html(m), encoding="utf-8")
    return out


def export_unit(
    data: ExportData,
    code: str,
    out: str | Path,
    *,
    fmt: str | None = None,
    paper: str = "A4",
    basemap: str | None = "tianditu",
) -> list[Path]:
    """One unit's material in one format (``html|png|pdf|xlsx|kml|kmz|shp``): every territory in it."""
    out = Path(out)
    f = _fmt_from(out, fmt, UNIT_FORMATS)
    keep = data.subtree(code)
    if f == "html":
        return [overview_html(data, out, scope=code, basemap=basemap)]
    if f in ("png", "pdf"):
        return [static_map(data, out, unit=code, fmt=f, paper=paper).path]
    if f == "xlsx":
        return [write_xlsx(data, out, units=sorted(keep))]
    pieces = data.pieces[data.pieces["unit_code"].astype(str).isin(keep).to_numpy()]
    terr = _with_colours(territories_frame(pieces, data.leaders))
    places = data.key_places
    if places is not None and len(places):
        area = shapely.union_all(
            np.asarray(
                data.units.loc[data.units["code"].astype(str) == str(code)].geometry.values,
                dtype=object,
            )
        )
        places = places.loc[
            shapely.intersects(
                area, shapely.point_on_surface(np.asarray(places.geometry.values, dtype=object))
            )
        ]
    name = str(data.unit_row(code).get("name", code))
    cats = data.category_names()
    if f == "kml":
        return [write_kml(out, terr, places, None, name=name, categories=cats)]
    if f == "kmz":
        return [write_kmz(out, terr, places, None, name=name, categories=cats)]
    return write_shapefile(out, terr, places, None)


# --------------------------------------------------------------------------------------------
# Briefing documents and the pack
# --------------------------------------------------------------------------------------------


def streets(data: ExportData, scope: str | None = None) -> list[str]:
    """Codes of the street-level units (in ``scope`` when given)."""
    units = data.units
    sel = units["level"].astype(str) == "street"
    if scope is not None:
        sel &= units["code"].astype(str).isin(data.subtree(scope))
    return list(units.loc[sel, "code"].astype(str))


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
    import tempfile

    from gridmgr.export.office import write_briefing_docx

    data = data.with_coverage()
    with tempfile.TemporaryDirectory() as tmp:
        pics = (
            dict(maps)
            if maps is not None
            else _maps_for(data, Path(tmp), scope, pdf=False, paper=paper)
        )
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
    import tempfile

    from gridmgr.export.office import write_map_slides

    data = data.with_coverage()
    with tempfile.TemporaryDirectory() as tmp:
        pics = (
            dict(maps)
            if maps is not None
            else _maps_for(data, Path(tmp), scope, pdf=False, paper=paper)
        )
        parts = _doc_parts(data, scope, pics)
        return write_map_slides(
            Path(out), title=parts["title"], date=parts["date"], maps=parts["maps"]
        )


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
    ``briefing.docx``, ``briefing.pptx``. ``store_or_data`` is a :class:`gridmgr.store.Store` or an
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
