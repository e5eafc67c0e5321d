"""``gridmgr grid build --parquet | --workers N | --scheduler ADDRESS``: the street-by-street
build into a partitioned GeoParquet pieces directory, with a progress bar of streets, units and
pieces (:mod:`gridmgr.grid.chunked`, :mod:`gridmgr.grid.distributed`)."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from gridmgr.cli._common import err_console
from gridmgr.errors import InputError
from gridmgr.i18n import t


def build_parts_cli(
    units: Any,
    out: Path,
    *,
    res: int,
    workers: int | None,
    scheduler: str | None,
    geojson: bool,
    progress: bool,
) -> dict[str, Any]:
    """Build OUT/pieces/ and OUT/summary.json; returns the summary."""
    from gridmgr.grid.chunked import PIECES_DIR, Chunk, ChunkResult, build_parts, serial_runner
    from gridmgr.grid.distributed import check_workers, dask_runner

    if geojson:
        raise InputError(
            t(
                "--geojson 需把全部地块放进内存，不能与 --parquet/--workers/--scheduler 同用",
                "--geojson needs every piece in memory; it cannot go with "
                "--parquet/--workers/--scheduler",
            )
        )
    check_workers(workers, scheduler)
    distributed = workers is not None or scheduler is not None
    runner = dask_runner(workers, scheduler) if distributed else serial_runner
    with ExitStack() as stack:
        on_start = on_result = None
        if progress:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            bar = stack.enter_context(
                Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,} " + t("单元", "units")),
                    TextColumn("{task.fields[pieces]:,} " + t("地块", "pieces")),
                    TimeElapsedColumn(),
                    console=err_console,
                    transient=True,
                )
            )
            task = bar.add_task(t("生成网格", "building grid"), total=None, pieces=0)

            def on_start(chunks: list[Chunk]) -> None:
                bar.update(task, total=sum(len(c.codes) for c in chunks))

            def on_result(r: ChunkResult) -> None:
                done = bar.tasks[0].fields["pieces"] + r.pieces
                bar.update(task, advance=r.units, pieces=done)

        built = build_parts(
            units, out, res=res, runner=runner, on_start=on_start, on_result=on_result
        )
    summary = dict(built.summary)
    summary["pieces_dir"] = PIECES_DIR
    summary["workers"] = workers if workers is not None else (None if scheduler else 0)
    (out / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    for stale in ("pieces.gpkg", "pieces.geojson"):  # files of an earlier single-file build
        (out / stale).unlink(missing_ok=True)
    return summary
