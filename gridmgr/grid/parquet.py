"""Partitioned GeoParquet pieces: one file per street (or unit chunk), read back as one frame.

A *pieces directory* holds ``part-00000.parquet``, ``part-00001.parquet`` … each a GeoParquet
file of the pieces contract (``cell``, ``unit_code``, ``area_m2``, ``whole``, geometry in
EPSG:4326 as WKB), its rows ordered by unit code then cell, and ``parts.json`` naming the parts
in order with their street (or chunk) key and row count. Geometry goes through WKB unchanged,
so a frame read back equals the frame written, coordinate for coordinate.

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

from gridmgr.errors import InputError, UnreadableFileError
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


def write_part(pieces: gpd.GeoDataFrame, path: Path) -> None:
    """Write one part (the pieces contract columns) as GeoParquet."""
    require_pyarrow()
    pieces[COLUMNS].to_parquet(path, index=False, compression="zstd")


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


def iter_parts(directory: Path) -> Iterator[gpd.GeoDataFrame]:
    """The parts one at a time (bounded memory: one part at once)."""
    require_pyarrow()
    for f in part_files(directory):
        yield _read_part(f)


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


def read_pieces(directory: Path) -> gpd.GeoDataFrame:
    """All parts as one pieces frame, ordered by unit code then cell (as the serial build)."""
    parts = list(iter_parts(directory))
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


def pieces_for_load(path: Path, res: int | None) -> tuple[gpd.GeoDataFrame, int]:
    """The pieces of a pieces directory (or of a grid output directory holding ``pieces/``)
    and their resolution; :class:`InputError` when ``res`` is given and differs."""
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
    return read_pieces(directory), built
