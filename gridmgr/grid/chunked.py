"""The grid built street by street into a partitioned GeoParquet pieces directory.

The lowest-level units are grouped by the street (街道/乡镇) they belong to, or in chunks of
``CHUNK_UNITS`` when the layer has no streets; each group is one *task*: cut its pieces
(:func:`gridmgr.grid.pieces.pieces_of`), write them as one part
(:mod:`gridmgr.grid.parquet`) and return only small figures. Memory is bounded by the largest
street, not the whole grid. The tasks run here one after another (:func:`serial_runner`) or on
dask.distributed (:mod:`gridmgr.grid.distributed`); either way the parts read back equal the
serial :func:`~gridmgr.grid.pieces.pieces_from_units` row for row. Parts are written in the lazy
form (whole pieces without geometry: :func:`gridmgr.grid.parquet.write_part`) and read back in
the full form; ``gridmgr load --pieces`` streams them into the store part by part
(:mod:`gridmgr.store.layers_stream`).

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> u = gpd.GeoDataFrame({"code": ["S", "A", "B"], "name": ["s", "a", "b"],
...     "level": ["street", "community", "community"], "parent": [None, "S", "S"]},
...     geometry=[box(0, 0, 2, 1), box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
>>> [(c.key, list(c.codes)) for c in plan_chunks(u)]
[('S', ['A', 'B'])]
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridmgr.grid import h3_adapter as _h3
from gridmgr.grid import parquet
from gridmgr.grid.pieces import _check_lnglat, check_res, pieces_of
from gridmgr.grid.units import area_m2, check_hierarchy, lowest_units

#: Units per chunk when the layer has no street level.
CHUNK_UNITS = 64
#: Name of the pieces directory inside a grid output directory.
PIECES_DIR = "pieces"


@dataclass(frozen=True)
class Chunk:
    """One task: the lowest-level units of one street (or one chunk), in code order."""

    index: int
    key: str
    codes: NDArray[np.object_]
    geoms: NDArray[np.object_]


@dataclass(frozen=True)
class ChunkResult:
    """What a task sends back: figures, cells (uint64) and areas, never the geometries."""

    index: int
    key: str
    file: str
    units: int
    pieces: int
    whole: int
    areas: NDArray[np.float64]
    cells: NDArray[np.uint64]


def _street_of(units: gpd.GeoDataFrame, codes: NDArray[np.object_]) -> list[str | None]:
    """The street-level ancestor of each code (the code itself when it is a street)."""
    parent = dict(zip(units["code"].astype(str), units["parent"], strict=True))
    level = dict(zip(units["code"].astype(str), units["level"], strict=True))
    out: list[str | None] = []
    for code in codes:
        cur: Any = code
        seen: set[str] = set()
        while isinstance(cur, str) and cur in level and level[cur] != "street" and cur not in seen:
            seen.add(cur)
            cur = parent.get(cur)
        out.append(cur if isinstance(cur, str) and level.get(cur) == "street" else None)
    return out


def plan_chunks(units: gpd.GeoDataFrame, *, chunk_units: int = CHUNK_UNITS) -> list[Chunk]:
    """Group the lowest-level units by street (else ``chunk_units`` at a time), by code."""
    low = lowest_units(units)
    if low.crs is not None and not low.crs.equals("EPSG:4326"):
        low = low.to_crs("EPSG:4326")
    codes = low["code"].astype(str).to_numpy(dtype=object)
    geoms = np.asarray(low.geometry.values, dtype=object)
    _check_lnglat(codes, geoms)
    order = np.argsort(codes, kind="stable")
    codes, geoms = codes[order], geoms[order]
    streets = _street_of(units, codes) if "level" in units.columns else [None] * len(codes)
    groups: dict[str, list[int]] = {}
    loose: list[int] = []
    for i, street in enumerate(streets):
        if street is None:
            loose.append(i)
        else:
            groups.setdefault(street, []).append(i)
    for j in range(0, len(loose), chunk_units):
        groups[f"units-{j // chunk_units:05d}"] = loose[j : j + chunk_units]
    ordered = sorted(groups.items(), key=lambda kv: codes[kv[1][0]])
    return [
        Chunk(index=n, key=key, codes=codes[idx], geoms=geoms[idx])
        for n, (key, idx) in enumerate(ordered)
    ]


def run_chunk(chunk: Chunk, res: int, directory: str) -> ChunkResult:
    """Cut one chunk's pieces, write them as its part in ``directory``, return the figures."""
    pieces = pieces_of(chunk.codes, chunk.geoms, res, lazy=True)  # parts are written lazy
    name = parquet.part_name(chunk.index)
    parquet.write_part(pieces, Path(directory) / name)
    return ChunkResult(
        index=chunk.index,
        key=chunk.key,
        file=name,
        units=len(chunk.codes),
        pieces=len(pieces),
        whole=int(pieces["whole"].sum()),
        areas=pieces["area_m2"].to_numpy(dtype=np.float64),
        cells=_h3.str_to_cells(list(pieces["cell"])) if len(pieces) else np.empty(0, np.uint64),
    )


#: Runs the tasks and yields their results in any order.
Runner = Callable[[list[Chunk], int, str], Iterator[ChunkResult]]


def serial_runner(chunks: list[Chunk], res: int, directory: str) -> Iterator[ChunkResult]:
    """Run the tasks here, one after another."""
    for chunk in chunks:
        yield run_chunk(chunk, res, directory)


@dataclass(frozen=True)
class PartsBuild:
    """A grid written as a pieces directory: where, the hierarchy figures and the summary."""

    directory: Path
    summary: dict[str, Any]


def build_parts(
    units: gpd.GeoDataFrame,
    out: Path,
    *,
    res: int | None = None,
    runner: Runner = serial_runner,
    chunk_units: int = CHUNK_UNITS,
    on_start: Callable[[list[Chunk]], object] | None = None,
    on_result: Callable[[ChunkResult], object] | None = None,
) -> PartsBuild:
    """Build the grid of ``units`` into ``out/pieces`` (replaced only when every task is done).

    The summary has the keys of :func:`gridmgr.grid.pieces.build_grid` plus ``parts``.
    ``on_start`` is called with the planned tasks and ``on_result`` with each finished one
    (progress bars).
    """
    parquet.require_pyarrow()
    res = check_res(res)
    t0 = time.perf_counter()
    hierarchy = check_hierarchy(units)
    chunks = plan_chunks(units, chunk_units=chunk_units)
    if on_start is not None:
        on_start(chunks)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".pieces-", dir=out))
    try:
        results = _collect(runner(chunks, res, str(tmp)), on_result)
        parquet.write_index(
            tmp,
            [{"file": r.file, "key": r.key, "units": r.units, "pieces": r.pieces} for r in results],
            res=res,
        )
        final = out / PIECES_DIR
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = _summary(units, res, results, hierarchy)
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return PartsBuild(directory=final, summary=summary)


def _collect(
    results: Iterable[ChunkResult], on_result: Callable[[ChunkResult], object] | None
) -> list[ChunkResult]:
    out = []
    for r in results:
        out.append(r)
        if on_result is not None:
            on_result(r)
    return sorted(out, key=lambda r: r.index)


def _summary(
    units: gpd.GeoDataFrame, res: int, results: list[ChunkResult], hierarchy: Any
) -> dict[str, Any]:
    cells = np.concatenate([r.cells for r in results]) if results else np.empty(0, np.uint64)
    _, counts = np.unique(cells, return_counts=True)
    n_pieces = sum(r.pieces for r in results)
    # summed over all pieces in one array, in piece order: the serial build's figure exactly
    areas = np.concatenate([r.areas for r in results]) if results else np.empty(0)
    piece_area = float(pd.Series(areas).sum())
    return {
        "res": res,
        "units": sum(r.units for r in results),
        "cells": len(counts),
        "pieces": n_pieces,
        "whole_pieces": sum(r.whole for r in results),
        "split_cells": int((counts > 1).sum()),
        "unit_area_m2": float(area_m2(lowest_units(units).geometry).sum()),
        "piece_area_m2": piece_area,
        "gap_area_m2": hierarchy.gap_area_m2,
        "overlap_area_m2": hierarchy.overlap_area_m2,
        "outside_area_m2": hierarchy.outside_area_m2,
        "mean_piece_area_m2": float(pd.Series(areas).mean()) if n_pieces else 0.0,
        "parts": len(results),
    }
