"""``gridmgr patrols``: import recorded patrols (track files), list them, temporal coverage.

``import FILE_OR_DIR`` reads GPX/KML/KMZ/CSV tracks (a folder: files named by leader id), cleans
them, and stores each as a finished patrol with its visits; ``list`` shows recent patrols;
``coverage`` reports the ground seen and not seen in the last N Beijing days (see
``docs/patrols.md``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from gridmgr.cli._common import DB_OPT, JSON_OPT, console, domain_errors, opened_store, print_json
from gridmgr.i18n import t

app = typer.Typer(
    help="巡查记录与时间覆盖（轨迹导入、列表、时间盲点）。/ Recorded patrols and temporal coverage.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    """Add the ``patrols`` command group to the ``gridmgr`` app."""
    root.add_typer(app, name="patrols")


def _by_level(text: str | None) -> dict[str, float]:
    """``grid=30,community=80`` → radius per unit level."""
    from gridmgr.errors import InputError

    out: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        level, _, value = part.partition("=")
        try:
            out[level.strip()] = float(value)
        except ValueError as exc:
            raise InputError(
                t(
                    f"--radius-by-level {text!r}：应写成 级别=米，如 grid=30,community=80",
                    f"--radius-by-level {text!r}: write level=metres, e.g. grid=30,community=80",
                )
            ) from exc
    return out


@app.command("import")
def import_(
    path: Path = typer.Argument(..., help="轨迹文件或目录（按领导编号命名）/ track file or folder"),
    leader: str | None = typer.Option(None, "--leader", help="领导编号 / leader id"),
    crs: str = typer.Option("wgs84", "--crs", help="wgs84|gcj02|bd09"),
    radius: float = typer.Option(50.0, "--radius", help="巡查半径（米）/ visiting radius (m)"),
    radius_by_level: str | None = typer.Option(
        None, "--radius-by-level", help="按单元级别的半径，如 grid=30,community=80"
    ),
    sample: bool = typer.Option(False, "--sample", help="标记为样例 / mark as samples"),
    json_out: bool = JSON_OPT,
    database_url: str | None = DB_OPT,
) -> None:
    """导入巡查轨迹（GPX/KML/KMZ/CSV），清洗并计算走访。/ Import patrol tracks, clean, find visits."""
    from gridmgr.cli._common import shown_warnings
    from gridmgr.patrol.recorded import import_tracks

    with opened_store(database_url) as store, domain_errors(), shown_warnings():
        roads = _roads()
        done = import_tracks(
            store,
            path,
            leader=leader,
            crs=crs,
            radius=radius,
            by_level=_by_level(radius_by_level),
            roads=roads,
            sample=sample,
        )
    if json_out:
        print_json([d.to_dict() for d in done])
        return
    print_import(done)


def _roads() -> Any:
    """The shipped (or ``GRIDMGR_LAYERS``) roads, for the GCJ-02 check; ``None`` if absent."""
    from gridmgr import settings
    from gridmgr.io.roads import read_roads

    p = settings.layers_dir() / "roads.geojson"
    return read_roads(p) if p.exists() else None


def print_import(done: list[Any]) -> None:
    """One row per imported patrol."""
    table = Table(title=t("导入的巡查", "imported patrols"))
    for h in (
        t("巡查编号", "patrol"),
        t("领导", "leader"),
        t("文件", "file"),
        t("保留点", "kept"),
        t("标记点", "marked"),
        t("里程 (km)", "distance (km)"),
        t("走访地块", "pieces visited"),
        t("走访重点场所", "key places visited"),
    ):
        table.add_column(h)
    for d in done:
        table.add_row(
            str(d.patrol_id) + ("" if d.created else t("（已导入过）", " (already imported)")),
            d.leader_id,
            d.name or "",
            f"{d.kept:,}",
            f"{d.marked:,}",
            f"{d.distance_m / 1000:.2f}",
            f"{d.pieces_visited:,}",
            f"{d.places_visited:,}",
        )
    console.print(table)
    for d in done:
        for w in d.warnings:
            console.print(f"[bold yellow]{t('警告', 'warning')}[/]: {w}", highlight=False)


@app.command("list")
def list_(
    leader: str | None = typer.Option(None, "--leader", help="领导编号 / leader id"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="最多条数 / at most"),
    json_out: bool = JSON_OPT,
    database_url: str | None = DB_OPT,
) -> None:
    """列出巡查记录（新的在前，北京时间）。/ List patrols, newest first (Beijing time)."""
    from gridmgr.patrol.temporal import beijing
    from gridmgr.store import patrols as repo

    with opened_store(database_url) as store, domain_errors():
        store.require_schema()
        with store.engine.connect() as conn:
            df = repo.list_patrols(conn, leader_id=leader, limit=limit)
    if json_out:
        print_json(
            [
                {
                    **{k: r[k] for k in ("id", "leader_id", "leader_name", "source", "name")},
                    "sample": bool(r["sample"]),
                    "started_at": r["started_at"].isoformat(),
                    "ended_at": None if r["ended_at"] is None else str(r["ended_at"].isoformat()),
                    "points": int(r["n_points"]),
                    "marked": int(r["n_marked"]),
                    "distance_m": round(float(r["distance_m"]), 1),
                }
                for r in df.to_dict("records")
            ]
        )
        return
    table = Table(title=t("巡查记录", "patrols"))
    for h in (
        t("编号", "id"),
        t("领导", "leader"),
        t("来源", "source"),
        t("开始（北京时间）", "start (Beijing)"),
        t("结束", "end"),
        t("点数", "points"),
        t("里程 (km)", "km"),
    ):
        table.add_column(h)
    for r in df.to_dict("records"):
        table.add_row(
            str(r["id"]),
            f"{r['leader_name']}",
            r["source"] + (t("（样例）", " (sample)") if r["sample"] else ""),
            beijing(r["started_at"]) or "",
            beijing(r["ended_at"]) or "—",
            f"{int(r['n_points']):,}",
            f"{float(r['distance_m']) / 1000:.2f}",
        )
    console.print(table)


@app.command("coverage")
def coverage(
    scope: str | None = typer.Option(None, "--scope", help="单元代码 / unit code"),
    days: int = typer.Option(14, "--days", help="最近 N 个北京日 / last N Beijing days"),
    as_of: str | None = typer.Option(None, "--as-of", help="截至时间 ISO（默认现在）/ as of"),
    json_out: bool = JSON_OPT,
    geojson: Path | None = typer.Option(None, "--geojson", help="地块状态 GeoJSON 输出文件"),
    top: int = typer.Option(10, "--top", help="表格行数 / rows shown"),
    database_url: str | None = DB_OPT,
) -> None:
    """时间覆盖：窗口内走访过的地块、时间盲点、逾期重点场所。/ Temporal coverage."""
    from gridmgr.patrol.temporal import parse_as_of, pieces_geojson, temporal_coverage

    with opened_store(database_url) as store, domain_errors():
        cov = temporal_coverage(store, scope=scope, days=days, as_of=parse_as_of(as_of))
        if geojson is not None:
            fc = pieces_geojson(cov, store.pieces(scope, geometry=True))
            geojson.write_text(json.dumps(fc, ensure_ascii=False) + "\n", "utf-8")
    if json_out:
        print_json(cov.to_dict())
        return
    print_coverage(cov, top=top)


@app.command("ledger")
def ledger(
    out: Path = typer.Option(..., "--out", help="XLSX 输出文件 / output file"),
    days: int = typer.Option(14, "--days", help="时间覆盖窗口（北京日）/ window in Beijing days"),
    as_of: str | None = typer.Option(None, "--as-of", help="截至时间 ISO / as of"),
    database_url: str | None = DB_OPT,
) -> None:
    """巡查台账（XLSX）：每人每天的巡查、里程、时长、走访地块与重点场所。/ Patrol ledger."""
    from gridmgr.export.patrol_ledger import write_patrol_ledger
    from gridmgr.patrol.temporal import parse_as_of

    with opened_store(database_url) as store, domain_errors():
        path = write_patrol_ledger(store, out, days=days, as_of=parse_as_of(as_of))
    console.print(t(f"已写入 {path}", f"wrote {path}"))


def print_coverage(cov: Any, *, top: int = 10) -> None:
    """Headline figures, the leaders who saw least of their ground, overdue key places."""
    from gridmgr.patrol.temporal import beijing

    s = cov.summary()
    head = Table(
        title=t(
            f"时间覆盖（最近 {cov.days} 天：{beijing(cov.start)} 至 {beijing(cov.as_of)}）",
            f"temporal coverage (last {cov.days} days: {beijing(cov.start)} to {beijing(cov.as_of)})",
        )
    )
    head.add_column(t("指标", "figure"))
    head.add_column(t("数值", "value"), justify="right")
    for zh, en, key in (
        ("地块数", "pieces", "pieces"),
        ("窗口内走访的地块", "pieces visited in the window", "visited_pieces"),
        ("时间盲点地块（未走访）", "stale pieces (not visited)", "stale_pieces"),
        ("时间盲点面积 (m²)", "stale area (m²)", "stale_area_m2"),
        ("从未走访的地块", "never-visited pieces", "never_visited_pieces"),
        ("逾期未访的重点场所", "key places overdue", "key_places_overdue"),
    ):
        head.add_row(t(zh, en), f"{s[key]:,}")
    console.print(head)
    lead = Table(title=t("走访最少的领导", "leaders who saw least of their ground"))
    for h in (
        t("领导", "leader"),
        t("地块", "pieces"),
        t("未走访", "stale"),
        t("已走访面积占比", "seen"),
        t("最近巡查", "last patrol"),
    ):
        lead.add_column(h)
    for r in cov.leaders.head(top).itertuples():
        lead.add_row(
            str(r.name or r.id),
            f"{int(r.pieces):,}",
            f"{int(r.stale_pieces):,}",
            f"{100 * float(r.seen_share):.1f}%",
            beijing(r.last_patrol_at) or t("从未", "never"),
        )
    console.print(lead)
    over = cov.places[cov.places["overdue"]]
    if len(over):
        kp = Table(title=t("逾期未访的重点场所", "key places overdue"))
        for h in (
            t("场所", "place"),
            t("类别", "category"),
            t("频次（天）", "every (days)"),
            t("最近走访", "last visit"),
        ):
            kp.add_column(h)
        for r in over.head(top).itertuples():
            kp.add_row(
                str(r.name),
                str(r.category_name or r.category),
                f"{r.visit_every_days:g}",
                beijing(r.last_seen) or t("从未", "never"),
            )
        console.print(kp)
