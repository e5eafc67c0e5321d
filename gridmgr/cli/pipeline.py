"""``gridmgr run``: the main job, end to end, on the embedded default.

Shipped layers → full-coverage grid (``out/grid/``) → SQLite store (``./gridmgr.db``) → sample
leaders → initial assignment → sample patrol tracks and temporal coverage → maps and briefing
pack → coverage report (``out/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from gridmgr.cli._common import console, domain_errors, progress_enabled, shown_warnings
from gridmgr.i18n import t


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def _step(n: int, zh: str, en: str) -> None:
    console.rule(f"[bold]{n}. {t(zh, en)}")


def run(
    out: Path = typer.Option(Path("out"), "--out", help="输出目录 / output directory"),
    layers: Path | None = typer.Option(
        None, "--layers", help="图层目录（默认随附的长春高新区图层）/ layers directory"
    ),
    res: int = typer.Option(10, "--res", help="H3 分辨率 / H3 resolution"),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="数据库（默认 sqlite:///./gridmgr.db）/ store URL",
        envvar="GRIDMGR_DATABASE_URL",
    ),
) -> None:
    """运行完整流程：网格 → 入库 → 包保领导 → 自动分配 → 覆盖检查 → 地图与汇报材料。
    / Run the main job: grid → store → leaders → assignment → coverage → maps and briefing."""
    from gridmgr import settings
    from gridmgr.cli.grid import summary_table, write_grid
    from gridmgr.grid.pieces import build_grid, check_res
    from gridmgr.io import layers as io

    layers_dir = layers or settings.layers_dir()
    with domain_errors(), shown_warnings():
        res = check_res(res)
        _step(1, "读取图层并生成全覆盖网格", "read layers and build the full-coverage grid")
        lay = io.read_layers(layers_dir)
        built = build_grid(lay.units, res=res, progress=progress_enabled())
        write_grid(built.pieces, built.summary, out / "grid")
        console.print(summary_table(built.summary))
        _run_later_stages(lay, layers_dir, out, res, database_url, built.pieces)
    console.print(t(f"完成。结果见 {out}/", f"done; results are in {out}/"))


def _run_later_stages(
    lay: Any, layers_dir: Path, out: Path, res: int, database_url: str | None, pieces: object
) -> None:
    """Store, leaders, assignment, coverage, maps and briefing."""
    from gridmgr.store import open_store

    store = open_store(database_url)
    where = store.engine.url.render_as_string(hide_password=True)
    _step(2, f"写入数据库（{where}）", f"load the store ({where})")
    store.upgrade()
    report = store.load_layers(lay, res=res, actor="gridmgr-run", pieces=pieces)
    if report.changes:
        console.print(
            t(
                f"已写入：{report.pieces.total:,} 个地块变更，共 {report.changes:,} 行",
                f"loaded: {report.pieces.total:,} piece changes, {report.changes:,} rows",
            )
        )
    else:
        console.print(
            t("数据库已是这些图层，无变化", "the store already holds these layers; nothing changed")
        )

    _step(3, "导入包保领导（样例）", "import leaders (sample)")
    leaders_file = layers_dir / "leaders_sample.csv"
    if leaders_file.exists():
        lrep = store.import_leaders(
            leaders_file, actor="gridmgr-run", reason="gridmgr run: sample leaders"
        )
        console.print(
            t(
                f"领导：新增 {len(lrep.created)}，更新 {len(lrep.updated)}，未变 {lrep.unchanged}",
                f"leaders: {len(lrep.created)} created, {len(lrep.updated)} updated, {lrep.unchanged} unchanged",
            )
        )
    else:
        console.print(t(f"未找到 {leaders_file}，跳过", f"{leaders_file} not found; skipped"))

    _step(
        4, "初始分配（连片、按能力均衡）", "initial assignment (contiguous, balanced to capacity)"
    )
    assigned = store.pieces(geometry=False)
    if "leader_id" in assigned and assigned["leader_id"].notna().any():
        console.print(
            t(
                "已有分配，保留现状（重新分配请用 gridmgr assign auto）",
                "assignments exist and are kept (re-assign with gridmgr assign auto)",
            )
        )
    else:
        from gridmgr.assign.auto import auto_assign

        arep = auto_assign(store, actor="gridmgr-run")
        console.print(
            t(
                f"已分配 {arep.assigned:,}/{arep.pieces:,} 个地块；最大/平均负载比 {arep.max_mean:.3f}；"
                f"不连片责任区 {arep.disconnected}；属地兜底地块 {arep.fallback}；未分配 {arep.unassigned}",
                f"assigned {arep.assigned:,}/{arep.pieces:,} pieces; max/mean load {arep.max_mean:.3f}; "
                f"disconnected territories {arep.disconnected}; fallback pieces {arep.fallback}; unassigned {arep.unassigned}",
            )
        )
    _run_patrol_stage(store, out, lay.roads)
    _run_output_stages(store, out, lay.roads)


def _run_patrol_stage(store: Any, out: Path, roads: object) -> None:
    """Sample patrol tracks along the shipped roads (marked as samples), imported like a
    leader's GPX files, then the temporal coverage of the last 14 Beijing days."""
    import json

    from gridmgr.cli.patrols import print_coverage
    from gridmgr.patrol.recorded import import_tracks
    from gridmgr.patrol.samples import write_sample_tracks
    from gridmgr.patrol.temporal import temporal_coverage

    _step(
        5,
        "巡查记录（样例轨迹）与时间覆盖：近 14 天走访过哪些地块",
        "patrol records (sample tracks) and temporal coverage: ground seen in the last 14 days",
    )
    files = write_sample_tracks(store, out / "patrols_sample", roads=roads)
    done = import_tracks(store, out / "patrols_sample", roads=roads, sample=True) if files else []
    new = sum(d.created for d in done)
    console.print(
        t(
            f"样例轨迹 {len(files)} 条（{out}/patrols_sample/，均为样例数据）：新导入 {new} 条，"
            f"共 {sum(d.points for d in done):,} 个点，标记 {sum(d.marked for d in done):,} 个",
            f"{len(files)} sample tracks ({out}/patrols_sample/, all samples): {new} newly "
            f"imported, {sum(d.points for d in done):,} points, {sum(d.marked for d in done):,} marked",
        )
    )
    cov = temporal_coverage(store, days=14)
    (out / "temporal_coverage.json").write_text(
        json.dumps(cov.to_dict(), ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    print_coverage(cov, top=5)


def _run_output_stages(store: object, out: Path, roads: object = None) -> None:
    """Maps, the briefing pack, and the coverage report last (the campaign's check)."""
    import json

    from gridmgr.cli.coverage import print_report
    from gridmgr.coverage.report import coverage_from_store
    from gridmgr.export.briefing import briefing_pack
    from gridmgr.maps import interactive as maps

    _step(6, "地图：总览与一名网格长的巡查地图", "maps: overview and one grid leader's patrol map")
    out.mkdir(parents=True, exist_ok=True)
    overview = maps.overview_map_from_store(store)
    (out / "overview.html").write_text(maps.map_html(overview), "utf-8")
    leaders = store.leaders(active=True)  # type: ignore[attr-defined]
    grid_leaders = leaders[leaders["role"] == "grid_leader"].sort_values("id")
    if len(grid_leaders):
        leader_id = str(grid_leaders["id"].iloc[0])
        m = maps.leader_map_from_store(store, leader_id)  # the store's roads, as everywhere
        (out / f"leader_{leader_id}.html").write_text(maps.map_html(m), "utf-8")
        console.print(
            t(
                f"已写入 {out}/overview.html 与 {out}/leader_{leader_id}.html",
                f"wrote {out}/overview.html and {out}/leader_{leader_id}.html",
            )
        )

    _step(
        7,
        "汇报材料（PNG/PDF 地图、XLSX、DOCX、PPTX）",
        "briefing pack (PNG/PDF maps, XLSX, DOCX, PPTX)",
    )
    paths = briefing_pack(store, out / "briefing")
    console.print(
        t(
            f"已写入 {len(paths)} 个文件到 {out}/briefing/",
            f"wrote {len(paths)} files into {out}/briefing/",
        )
    )

    from gridmgr.cli.problem_samples import run_samples

    _step(
        8,
        "问题整改闭环（样例）：逾期督办、通报、考核",
        "problems (sample): overdue board, circular, assessment",
    )
    run_samples(store, out)

    _step(9, "覆盖检查：死角与盲点", "coverage check: dead corners and blind spots")
    report = coverage_from_store(store)
    (out / "coverage.json").write_text(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str) + "\n", "utf-8"
    )
    report.to_geojson(out / "coverage_findings.geojson")
    print_report(report, top=10)
