"""Partitioned GeoParquet pieces: one file per street (or unit chunk), read back as one frame.

A *pieces directory* holds ``part-00000.parquet``, ``part-00001.parquet`` … each a GeoParquet
file of the pieces contract (``cell``, ``unit_code``, ``area_m2``, ``whole``, geometry in
EPSG:4326 as WKB), its rows ordered by unit code then cell, and ``parts.json`` naming the parts
in order with their street (or chunk) key and row count. Geometry goes through WKB unchanged,
so a frame read back equals the frame written, coordinate for coordinate.

Parts are written in the *lazy* form (:mod:`gridmgr.grid.lazy`): a whole piece's geometry is
NULL, since it is exactly its cell's h3 hexagon; only border pieces carry WKB. That leaves out
≈ 95 % of the geometries of a province. :func:`read_pieces`, :func:`iter_parts` and
:func:`pieces_for_load` give the full form unless asked for ``lazy=True`` (the hexagons filled
from h3: the very polygons the build made), and parts written with every geometry (before the
lazy form) read the same way.

pyarrow (the ``scale`` extra) is imported only here and only when a part is written or read.

Examples
--------
>>> part_name(7)
'part-00007.parquet'
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmgr.errors import InputError, UnreadableFileError
from gridmgr.grid import lazy as _lazy
from gridmgr.i18n import t

#: The parts index written beside the parts.
INDEX = "parts.json"
COLUMNS = ["cell", "unit_code", "area_m2", "whole", "geometry"]


def part_name(index: int) -> str:
    """File name of part ``index``."""
    return f"part-{index:05d}.parquet"


def require_pyarrow() -> None:
    """:class:`InputError` naming the extra to install when pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InputError(
            t(
                "GeoParquet 地块需要 pyarrow：请安装 gridmgr[scale]（pip install 'gridmgr[scale]'）",
                "GeoParquet pieces need pyarrow: install gridmgr[scale] (pip install 'gridmgr[scale]')",
            )
        ) from None


def write_part(pieces: gpd.GeoDataFrame, path: Path, *, lazy: bool = True) -> None:
    """Write one part (the pieces contract columns) as GeoParquet; ``lazy``: whole pieces'
    geometry left NULL (see the module docstring)."""
    require_pyarrow()
    frame = pieces[COLUMNS]
    if lazy:
        geoms = _lazy.drop_whole(frame.geometry.values, frame["whole"].to_numpy(dtype=bool))
        frame = gpd.GeoDataFrame(
            frame.drop(columns="geometry"), geometry=geoms, crs=pieces.crs or "EPSG:4326"
        )
    frame.to_parquet(path, index=False, compression="zstd")


def write_index(directory: Path, parts: list[dict[str, Any]], *, res: int) -> None:
    """Write ``parts.json``: the resolution and ``[{"file", "key", "units", "pieces"}]`` in
    part order."""
    index = {"format": "gridmgr-pieces/1", "res": res, "parts": parts}
    text = json.dumps(index, ensure_ascii=False, indent=1)
    (directory / INDEX).write_text(text + "\n", "utf-8")


def is_pieces_dir(path: Path) -> bool:
    """True when ``path`` is a directory holding a parts index."""
    return path.is_dir() and (path / INDEX).is_file()


def pieces_res(directory: Path) -> int:
    """The H3 resolution the pieces directory was built at."""
    return int(_index(directory)["res"])


def _index(directory: Path) -> dict[str, Any]:
    index = directory / INDEX
    try:
        data = json.loads(index.read_text("utf-8"))
        [str(p["file"]) for p in data["parts"]]
        int(data["res"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableFileError(
            t(
                f"{index}：不是 gridmgr 地块目录的索引（{exc}）；请用 `gridmgr grid build --parquet` 生成",
                f"{index}: not the index of a gridmgr pieces directory ({exc}); "
                "make one with `gridmgr grid build --parquet`",
            )
        ) from None
    return dict(data)


def part_entries(directory: Path) -> list[dict[str, Any]]:
    """The index's entries (``file``, ``key``, ``units``, ``pieces``), in part order."""
    return [dict(p) for p in _index(directory)["parts"]]


def part_files(directory: Path) -> list[Path]:
    """The part files named by the index, in order; :class:`UnreadableFileError` when the
    directory is not a pieces directory or a part is missing."""
    files = [directory / str(p["file"]) for p in _index(directory)["parts"]]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise UnreadableFileError(
            t(
                f"{directory}：索引列出的分片 {missing[0].name} 不存在（共缺 {len(missing)} 个）",
                f"{directory}: part {missing[0].name} named by the index is missing "
                f"({len(missing)} missing)",
            )
        )
    return files


def iter_parts(directory: Path, *, lazy: bool = False) -> Iterator[gpd.GeoDataFrame]:
    """The parts one at a time (bounded memory: one part at once); full form unless ``lazy``."""
    require_pyarrow()
    for f in part_files(directory):
        yield read_part(f, lazy=lazy)


def _full(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A part in the full form: whole pieces' hexagons as the build makes them (Polygons)."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    whole = frame["whole"].to_numpy(dtype=bool)
    if not (shapely.is_missing(geoms) & whole).any():
        return frame
    filled = _lazy.fill_geometries(frame["cell"].to_numpy(), geoms, whole, multi=False)
    return gpd.GeoDataFrame(
        frame.drop(columns="geometry"), geometry=filled, crs=frame.crs or "EPSG:4326"
    )


def read_part(path: Path, *, lazy: bool = False) -> gpd.GeoDataFrame:
    """One part, full form unless ``lazy`` (then whole pieces may have no geometry)."""
    frame = _read_part(path)
    return frame if lazy else _full(frame)


def _read_part(path: Path) -> gpd.GeoDataFrame:
    try:
        frame = gpd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds; name the file
        raise UnreadableFileError(
            t(
                f"{path}：无法读取 GeoParquet 分片（{exc}）",
                f"{path}: unreadable GeoParquet part ({exc})",
            )
        ) from None
    absent = [c for c in COLUMNS if c not in frame.columns]
    if absent:
        raise UnreadableFileError(
            t(
                f"{path}：分片缺少字段 {', '.join(absent)}",
                f"{path}: the part lacks column(s) {', '.join(absent)}",
            )
        )
    return frame[COLUMNS]


def read_pieces(directory: Path, *, lazy: bool = False) -> gpd.GeoDataFrame:
    """All parts as one pieces frame, ordered by unit code then cell (as the serial build);
    full form unless ``lazy``."""
    parts = list(iter_parts(directory, lazy=lazy))
    if not parts:
        return gpd.GeoDataFrame(
            {
                c: pd.Series(dtype=d)
                for c, d in zip(COLUMNS[:-1], [object, object, float, bool], strict=True)
            },
            geometry=gpd.GeoSeries([], crs="EPSG:4326"),
        )
    frame = pd.concat(parts, ignore_index=True)
    if not _ordered(parts):
        order = np.lexsort((frame["cell"].to_numpy(), frame["unit_code"].to_numpy()))
        frame = frame.iloc[order].reset_index(drop=True)
    out = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
    return out


def _ordered(parts: list[gpd.GeoDataFrame]) -> bool:
    """True when each part starts after the previous one ends (parts are sorted inside)."""
    ends = [(p["unit_code"].iat[-1], p["cell"].iat[-1]) for p in parts if len(p)]
    starts = [(p["unit_code"].iat[0], p["cell"].iat[0]) for p in parts if len(p)]
    return all(e <= s for e, s in zip(ends[:-1], starts[1:], strict=True))


def pieces_for_load(
    path: Path, res: int | None, *, lazy: bool = False
) -> tuple[gpd.GeoDataFrame, int]:
    """The pieces of a pieces directory (or of a grid output directory holding ``pieces/``)
    and their resolution; :class:`InputError` when ``res`` is given and differs. Full form
    unless ``lazy``."""
    directory, built = pieces_dir_for_load(path, res)
    return read_pieces(directory, lazy=lazy), built


def pieces_dir_for_load(path: Path, res: int | None) -> tuple[Path, int]:
    """The pieces directory of ``path`` (itself, or its ``pieces/``) and its resolution, read
    from the index only; :class:`InputError` when ``res`` is given and differs."""
    directory = path / "pieces" if is_pieces_dir(path / "pieces") else path
    built = pieces_res(directory)
    if res is not None and res != built:
        raise InputError(
            t(
                f"{directory}：地块按 H3 分辨率 {built} 生成，与 --res {res} 不符；"
                "去掉 --res 或按该分辨率重新生成",
                f"{directory}: the pieces were built at H3 resolution {built}, not --res {res}; "
                "drop --res or rebuild at that resolution",
            )
        )
    return directory, built
