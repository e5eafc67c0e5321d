"""The data bundle of every export: :class:`ExportData`, its territories and shared helpers.

:class:`ExportData` holds the contract frames (units, pieces with ``leader_id``, leaders, key
places …, see ``docs/architecture.md``); :func:`export_data_from_store` reads one from a store.
:func:`territories_frame` dissolves pieces per leader and ``_with_colours`` colours them so that
territories whose pieces are adjacent in the piece graph differ; :func:`blind_geometry` is the
ground without an active leader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmgr.errors import InvalidFieldError, LeaderNotFoundError, UnitNotFoundError
from gridmgr.export.field_formats import (
    territory_colours,
)
from gridmgr.i18n import t
from gridmgr.maps.basemap import require_units
from gridmgr.maps.static_map import fmt_area_short

if TYPE_CHECKING:
    from gridmgr.coverage.report import CoverageReport


__all__ = [
    "ExportData",
    "ROLE_LABELS",
    "blind_geometry",
    "export_data_from_store",
    "read_roads",
    "streets",
    "territories_frame",
]


ROLE_LABELS = {
    "grid_leader": ("网格长", "grid leader"),
    "package_leader": ("包保领导", "package leader"),
}


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
        require_units(self.units)
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
    from gridmgr.patrol.roads import roads_for_store

    units = store.units()
    if roads is None:  # the store's roads, as every other entry point
        road_frame = roads_for_store(store)
    else:
        road_frame = roads if isinstance(roads, gpd.GeoDataFrame) else read_roads(roads)
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


def _with_colours(terr: gpd.GeoDataFrame, pieces: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``terr`` (from :func:`territories_frame` of ``pieces``) with ``colour`` and ``label``.

    Territories whose pieces are adjacent in the piece graph get different colours.
    """
    terr = terr.copy()
    terr["colour"] = (
        territory_colours(terr.geometry.values, pairs=_territory_pairs(terr, pieces))
        if len(terr)
        else []
    )
    terr["label"] = [
        f"{n if i in n else f'{n}（{i}）'} {fmt_area_short(a)}"
        for n, i, a in zip(
            terr["name"].astype(str), terr["leader_id"].astype(str), terr["area_m2"], strict=True
        )
    ]
    return terr


def _territory_pairs(terr: gpd.GeoDataFrame, pieces: gpd.GeoDataFrame) -> list[tuple[int, int]]:
    """Neighbouring rows of ``terr`` by the piece graph of the ``pieces`` it was dissolved from."""
    from gridmgr.maps.colouring import territory_pairs

    lid = _leader_ids(pieces)
    has = lid.notna().to_numpy()
    labels = np.full(len(pieces), -1, dtype=np.int64)
    labels[has] = pd.Index(terr["leader_id"].astype(str)).get_indexer(lid[has].astype(str))
    return territory_pairs(pieces, labels)


def _as_list(v: object) -> list[str]:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return []
    if isinstance(v, str):
        return [x.strip() for x in v.replace("；", ";").split(";") if x.strip()]
    if isinstance(v, (list, tuple, np.ndarray)):
        return [str(x) for x in v]
    return [str(v)]


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


def streets(data: ExportData, scope: str | None = None) -> list[str]:
    """Codes of the street-level units (in ``scope`` when given)."""
    units = data.units
    sel = units["level"].astype(str) == "street"
    if scope is not None:
        sel &= units["code"].astype(str).isin(data.subtree(scope))
    return list(units.loc[sel, "code"].astype(str))


def _fmt_from(out: Path, fmt: str | None, allowed: Sequence[str]) -> str:
    f = (fmt or out.suffix.lstrip(".")).lower()
    if f not in allowed:
        msg = t(
            f"{out}: 不支持的格式 {f!r}，可选 {', '.join(allowed)}",
            f"{out}: format {f!r} is not supported here; use one of {', '.join(allowed)}",
        )
        raise InvalidFieldError(msg)
    return f
