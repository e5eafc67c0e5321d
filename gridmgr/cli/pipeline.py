"""``gridmgr run``: the main job, end to end, on the embedded default.

Shipped layers → full-coverage grid (``out/grid/``) → SQLite store (``./gridmgr.db``) → sample
leaders → initial assignment → coverage report → maps and briefing pack (``out/``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from gridmgr.cli._common import console, domain_errors, progress_enabled
from gridmgr.i18n import t


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def _step(n: int, zh: str, en: str) -> None:
    console.rule(f"[bold]{n}. {t(zh, en)}")


def run(
    out: Path = typer.Option(Path("out"), "--out", help="输出目录 / output directory"),
    layers: Path | None = typer.Option(None, "--layers", help="图层目录（默认随附的长春高新区图层）/ layers directory"),
    res: int = typer.Option(10, "--res", help="H3 分辨率 / H3 resolution"),
    database_url: str | None = typer.Option(
        None, "--database-url", help="数据库（默认 sqlite:///./gridmgr.db）/ store URL", envvar="GRIDMGR_DATABASE_URL"
    ),
) -> None:
    """运行完整流程：网格 → 入库 → 包保领导 → 自动分配 → 覆盖检查 → 地图与汇报材料。
    / Run the main job: grid → store → leaders → assignment → coverage → maps and briefing."""
    from gridmgr import io, settings
    from gridmgr.cli.grid import summary_table, write_grid
    from gridmgr.grid import build_grid, check_res

    layers_dir = layers or settings.layers_dir()
    with domain_errors():
        res = check_res(res)
        _step(1, "读取图层并生成全覆盖网格", "read layers and build the full-coverage grid")
        lay = io.read_layers(layers_dir)
        built = build_grid(lay.units, res=res, progress=progress_enabled())
        write_grid(built.pieces, built.summary, out / "grid")
        console.print(summary_table(built.summary))
        _run_later_stages(lay, layers_dir, out, res, database_url)
    console.print(t(f"完成。结果见 {out}/", f"done; results are in {out}/"))


def _run_later_stages(lay: object, layers_dir: Path, out: Path, res: int, database_url: str | None) -> None:
    """Store, leaders, assignment, coverage, maps: each stage as its module lands."""
    return None
