"""``gridmgr coverage``: the coverage-gap report (不留死角、不留盲点).

Exit codes: 0 report printed (and, with ``--fail-on-gaps``, no gap); 1 an error (bad scope,
unreadable store …); 2 ``--fail-on-gaps`` and at least one gap exists (see ``docs/coverage.md``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from gridmgr.cli._common import (
    console,
    domain_errors,
    err_console,
    opened_store,
    print_json,
    progress_enabled,
)
from gridmgr.i18n import t

#: Exit status of ``--fail-on-gaps`` when a gap exists (1 is kept for errors).
EXIT_GAPS = 2


def register(app: typer.Typer) -> None:
    """Add the ``coverage`` command to the ``gridmgr`` app."""
    app.command("coverage")(coverage)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _pct(v: Any) -> str:
    return "—" if _missing(v) else f"{float(v):.2f}%"


def _num(v: Any, fmt: str = "{:,.0f}") -> str:
    return "—" if _missing(v) else fmt.format(v)


def summary_table(report: Any) -> Table:
    """Headline figures (Chinese first)."""
    s = report.summary
    rows = [
        (
            t("辖区面积 (km²)", "jurisdiction area (km²)"),
            _num(s["jurisdiction_area_m2"] / 1e6, "{:,.3f}"),
        ),
        (t("覆盖率", "coverage"), _pct(s["coverage_pct"])),
        (t("地块数", "pieces"), _num(s["pieces"])),
        (t("盲点地块（无责任人）", "blind-spot pieces (no leader)"), _num(s["blind_spot_pieces"])),
        (t("盲点面积 (m²)", "blind-spot area (m²)"), _num(s["blind_spot_area_m2"], "{:,.1f}")),
        (t("属地兜底地块", "territorial-default pieces"), _num(s["fallback_pieces"])),
        (t("属地错配地块", "pieces outside their leader's packages"), _num(s["misplaced_pieces"])),
        (t("死角面积 (m²)", "dead-corner area (m²)"), _num(s["dead_corner_area_m2"], "{:,.1f}")),
        (t("重叠面积 (m²)", "overlap area (m²)"), _num(s["overlap_area_m2"], "{:,.1f}")),
        (
            t("重点点位无属地责任人", "key places without a leader"),
            _num(s["key_places_without_leader"]),
        ),
        (
            t("重点点位无行管部门", "key places without a department"),
            _num(s["key_places_without_department"]),
        ),
        (
            t("重点点位缺包保领导", "key places without a package leader"),
            _num(s["key_places_without_package_leader"]),
        ),
        (t("辖区外重点点位", "key places outside"), _num(s["key_places_outside"])),
        (
            t("无包保领导的街道/社区", "streets/communities without a package leader"),
            _num(s["streets_without_package_leader"] + s["communities_without_package_leader"]),
        ),
        (t("责任区不连片的领导", "leaders with split territories"), _num(s["fragmented_leaders"])),
        (t("飞地", "enclaves"), _num(s["enclaves"])),
        (
            t("最大负荷比（最大/平均）", "max load ratio (max/mean)"),
            _num(s["max_load_ratio"], "{:.2f}"),
        ),
        (
            t("负荷过重 / 空闲领导", "overloaded / idle leaders"),
            f"{s['overloaded_leaders']} / {s['idle_leaders']}",
        ),
        (t("缺口（需整改）", "gaps (to fix)"), _num(s["gaps"])),
        (t("提示", "warnings"), _num(s["warnings"])),
    ]
    title = t("覆盖检查（不留死角、不留盲点）", "Coverage check (no dead corners, no blind spots)")
    if report.scope:
        title += f" — {report.scope}"
    table = Table(title=title, show_header=False)
    for label, value in rows:
        table.add_row(label, value)
    return table


def units_table(report: Any) -> Table:
    """Coverage by street and community."""
    table = Table(title=t("分街道、社区覆盖情况", "Coverage by street and community"))
    for col in (
        t("代码", "code"),
        t("名称", "name"),
        t("层级", "level"),
        t("覆盖率", "coverage"),
        t("盲点", "blind spots"),
        t("兜底", "default"),
        t("死角 m²", "dead corner m²"),
        t("重点点位/无责任人", "key places/unowned"),
        t("包保领导", "package leaders"),
        t("负荷比", "load ratio"),
    ):
        table.add_column(
            col, justify="right" if col not in (t("名称", "name"), t("代码", "code")) else "left"
        )
    from gridmgr.i18n import level_label

    names = _leader_names(report)
    for r in report.units.to_dict(orient="records"):
        if r["level"] not in ("district", "street", "community"):
            continue
        indent = {"district": "", "street": "  ", "community": "    "}[r["level"]]
        table.add_row(
            r["code"],
            indent + str(r["name"]),
            level_label(str(r["level"])),
            _pct(r["coverage_pct"]),
            _num(r["blind_spot_pieces"]),
            _num(r["fallback_pieces"]),
            _num(r["dead_corner_area_m2"], "{:,.1f}"),
            f"{r['key_places']}/{r['key_places_without_leader']}" if r["key_places"] else "0",
            "、".join(names.get(str(x), str(x)) for x in r["package_leaders"]) or "—",
            _num(r["max_load_ratio"], "{:.2f}"),
        )
    return table


def _leader_names(report: Any) -> dict[str, str]:
    """``leader id -> name`` of the report's leaders (people read names, not codes)."""
    frame = getattr(report, "leaders", None)
    if frame is None or not len(frame) or "name" not in frame:
        return {}
    return dict(zip(frame["id"].astype(str), frame["name"].astype(str), strict=True))


def findings_table(report: Any, top: int) -> Table:
    """The ``top`` worst findings (gaps first, then by area and count)."""
    total = len(report.findings)
    table = Table(
        title=t(
            f"最严重的问题（前 {min(top, total)} / 共 {total} 项）",
            f"Worst findings ({min(top, total)} of {total})",
        )
    )
    for col in (
        t("级别", "severity"),
        t("问题", "finding"),
        t("单元", "unit"),
        t("领导", "leader"),
        t("点位", "place"),
        t("数量", "count"),
        t("面积 m²", "area m²"),
    ):
        table.add_column(col)
    for f in report.findings[:top]:
        sev = t("缺口", "gap") if f.severity == "gap" else t("提示", "warning")
        style = "red" if f.severity == "gap" else "yellow"
        table.add_row(
            f"[{style}]{sev}[/]",
            f.label,
            f.unit_code or "—",
            f.leader_id or "—",
            f.place_code or "—",
            str(f.count),
            f"{f.area_m2:,.1f}" if f.area_m2 else "—",
        )
    return table


def print_report(report: Any, *, top: int = 20, out: Console | None = None) -> None:
    """Print the rich summary of a :class:`gridmgr.coverage.report.CoverageReport` (for ``gridmgr run``)."""
    c = out or console
    c.print(summary_table(report))
    c.print(units_table(report))
    if report.findings:
        c.print(findings_table(report, top))
    else:
        c.print(t("[green]未发现任何缺口或提示。[/]", "[green]no gaps and no warnings.[/]"))


def coverage(
    scope: str | None = typer.Option(
        None, "--scope", help="只检查该单元及其下级（单元代码）/ unit code to check"
    ),
    weights: str | None = typer.Option(
        None, "--weights", help="负荷权重，如 area=1,key_places=5,pieces=0 / workload weights"
    ),
    as_json: bool = typer.Option(
        False, "--json", help="输出机器可读 JSON 报告 / print the JSON report"
    ),
    geojson: Path | None = typer.Option(
        None, "--geojson", help="把全部问题写成 GeoJSON 文件 / write findings as GeoJSON"
    ),
    fail_on_gaps: bool = typer.Option(
        False,
        "--fail-on-gaps",
        help="存在缺口时以状态码 2 退出（定时检查用）/ exit 2 when any gap exists",
    ),
    top: int = typer.Option(
        20, "--top", min=0, help="列出最严重的 N 项问题 / list the N worst findings"
    ),
    overload: float = typer.Option(
        1.2, "--overload", help="负荷过重阈值（× 社区平均）/ overload threshold"
    ),
    idle: float = typer.Option(0.5, "--idle", help="空闲阈值（× 社区平均）/ idle threshold"),
    min_compactness: float = typer.Option(
        0.2, "--min-compactness", help="紧凑度下限 / compactness threshold"
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="数据库（默认 sqlite:///./gridmgr.db）/ store URL",
        envvar="GRIDMGR_DATABASE_URL",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="逐单元几何检查在本机 dask 集群的 N 个进程上运行 / per-unit checks on N local dask workers",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="逐单元几何检查在已有 dask 集群上运行，如 tcp://主机:8786 / existing dask scheduler",
    ),
) -> None:
    """覆盖检查：找出每一处死角、盲点、无人负责的重点点位与负荷失衡。
    / Coverage check: every dead corner, blind spot, unowned key place and workload imbalance.

    Exit status 2 with --fail-on-gaps when any gap exists (warnings such as 属地兜底 do not count).
    With --workers or --scheduler the per-unit geometry checks run on dask.distributed; the
    report is the same.
    """
    from gridmgr.coverage.report import Thresholds, coverage_from_store
    from gridmgr.grid.distributed import dask_mapper, serial_map

    with opened_store(database_url) as store, domain_errors():
        th = Thresholds(overload=overload, idle=idle, min_compactness=min_compactness)
        dist = workers is not None or scheduler is not None
        mapper = dask_mapper(workers, scheduler) if dist else serial_map
        kw: dict[str, Any] = {
            "scope": scope,
            "weights": weights,
            "thresholds": th,
            "mapper": mapper,
        }
        if progress_enabled():
            with err_console.status(t("正在检查覆盖情况…", "checking coverage…")):
                report = coverage_from_store(store, **kw)
        else:
            report = coverage_from_store(store, **kw)
    with domain_errors():
        written = report.to_geojson(geojson) if geojson is not None else None
    if as_json:
        print_json(report.to_dict())
    else:
        print_report(report, top=top)
    if written is not None:
        err_console.print(
            t(f"已写入 {geojson}（{written} 个要素）", f"wrote {geojson} ({written} features)")
        )
    if fail_on_gaps and report.has_gaps:
        err_console.print(
            t(
                f"[red]存在 {report.summary['gaps']} 项缺口[/]",
                f"[red]{report.summary['gaps']} gap(s) found[/]",
            )
        )
        raise typer.Exit(EXIT_GAPS)
