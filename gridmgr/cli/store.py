"""Store commands: ``db``, ``load``, ``leaders``, ``assign`` (``history`` and ``units`` are in
:mod:`gridmgr.cli.records`).

Thin shells over :mod:`gridmgr.store` (and :func:`gridmgr.assign.auto.auto_assign`); every domain error
becomes one clear line and exit status 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from gridmgr.cli._common import (
    DB_OPT,
    ENCODING_OPT,
    JSON_OPT,
    actor_default,
    console,
    domain_errors,
    err_console,
    opened_store,
    print_json,
    progress_enabled,
    shown_warnings,
)
from gridmgr.i18n import t

_store = opened_store


def _actor_default() -> str:
    return actor_default()


db_app = typer.Typer(help="数据库 / database", no_args_is_help=True)
leaders_app = typer.Typer(help="包保领导 / leaders", no_args_is_help=True)
assign_app = typer.Typer(help="分配（属地责任）/ assignments", no_args_is_help=True)


# ---------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(database_url: str | None = DB_OPT) -> None:
    """创建或升级数据库结构（运行迁移）。 / Create or migrate the database schema."""
    with _store(database_url, create=True) as store:
        rev = store.upgrade()
        console.print(
            t(f"数据库结构已是最新版本 {rev}：{store!r}", f"schema at revision {rev}: {store!r}")
        )


# ---------------------------------------------------------------------- load


def load(
    layers: Path = typer.Option(..., "--layers", help="图层目录 / layers directory"),
    res: int | None = typer.Option(
        None, "--res", help="H3 分辨率（默认沿用库中或 10）/ H3 resolution"
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="允许结束被删除地块上的分配（记入历史）/ end assignments of removed pieces",
    ),
    repair: bool = typer.Option(False, "--repair", help="修复自相交 / repair self-intersections"),
    allow_overlaps: bool = typer.Option(
        False,
        "--allow-overlaps",
        help="单元相互重叠或超出上级时仍导入（给出警告）/ load units that overlap or leave their parent",
    ),
    crs: str | None = typer.Option(
        None,
        "--crs",
        help="未声明坐标系的文件所用坐标系：EPSG:4490、gcj02、bd09 … / CRS of files that declare none",
    ),
    code_field: str | None = typer.Option(
        None, "--code-field", help="单元代码字段 / units' code field"
    ),
    name_field: str | None = typer.Option(
        None, "--name-field", help="单元名称字段 / units' name field"
    ),
    parent_field: str | None = typer.Option(
        None, "--parent-field", help="上级代码字段 / units' parent field"
    ),
    encoding: str | None = ENCODING_OPT,
    actor: str = typer.Option(None, "--actor", help="操作人 / who loads"),
    pieces: Path | None = typer.Option(
        None,
        "--pieces",
        help="用 `grid build --parquet/--workers` 生成的地块目录，不再重新切分 / pieces directory",
    ),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """把图层（单元、地块、重点点位、部门）写入数据库，一个事务。 / Load layers into the store.

    Loading the same layers again changes nothing; changed layers are reported, and removing
    pieces that still have an owner is refused unless --force.
    """
    from gridmgr.io import layers as io

    with _store(database_url, create=True) as store:
        with domain_errors(), shown_warnings():
            lay = io.read_layers(
                layers,
                repair=repair,
                crs=crs,
                code_field=code_field,
                name_field=name_field,
                parent_field=parent_field,
                encoding=encoding,
            )
            store.upgrade()
            show = progress_enabled() and not as_json
            kwargs: dict[str, Any] = {
                "res": res,
                "actor": actor or _actor_default(),
                "allow_orphans": force,
                "allow_overlaps": allow_overlaps,
            }
            if pieces is not None:
                report = _load_parts(store, lay, pieces, kwargs, progress=show)
            elif show:
                with err_console.status(t("正在写入数据库…", "loading into the store…")):
                    report = store.load_layers(lay, progress=True, **kwargs)
            else:
                report = store.load_layers(lay, **kwargs)
        if as_json:
            print_json(report.to_dict())
            return
        _print_load_report(report)


def _load_parts(
    store: Any, lay: Any, pieces: Path, kwargs: dict[str, Any], *, progress: bool
) -> Any:
    """``--pieces``: the parts of a ``grid build --parquet`` directory streamed into the store
    part by part (:meth:`~gridmgr.store.Store.load_layers_from_parts`), with a progress bar of
    units and pieces."""
    if not progress:
        return store.load_layers_from_parts(lay, pieces, **kwargs)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gridmgr.grid.parquet import part_entries, pieces_dir_for_load

    entries = part_entries(pieces_dir_for_load(pieces, kwargs["res"])[0])
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} " + t("单元", "units")),
        TextColumn("{task.fields[cells]:,}/{task.fields[all_cells]:,} " + t("地块", "pieces")),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(
            t("写入数据库", "loading into the store"),
            total=sum(int(e.get("units", 0)) for e in entries),
            cells=0,
            all_cells=sum(int(e.get("pieces", 0)) for e in entries),
        )

        def on_part(units: int, cells: int) -> None:
            done = bar.tasks[0].fields["cells"] + cells
            bar.update(task, advance=units, cells=done)

        return store.load_layers_from_parts(lay, pieces, on_part=on_part, **kwargs)


def _print_load_report(report: Any) -> None:
    """The load report as a table of added / removed / changed rows per table."""
    if report.changes == 0:
        console.print(
            t(
                "数据库已是这些图层，无变化",
                "the store already holds these layers; nothing changed",
            )
        )
        return
    table = Table(
        title=t(f"图层已写入（H3 分辨率 {report.res}）", f"layers loaded (res {report.res})")
    )
    table.add_column(t("表", "table"))
    table.add_column(t("新增", "added"), justify="right")
    table.add_column(t("删除", "removed"), justify="right")
    table.add_column(t("变更", "changed"), justify="right")
    for name, zh in (
        ("units", "单元"),
        ("pieces", "地块"),
        ("key_places", "重点点位"),
        ("departments", "部门"),
        ("categories", "点位类别"),
    ):
        d = getattr(report, name)
        table.add_row(t(zh, name), f"{d.added:,}", f"{d.removed:,}", f"{d.changed:,}")
    console.print(table)
    if report.orphaned:
        console.print(
            t(
                f"已结束 {len(report.orphaned)} 个被删除地块上的分配（已记入历史）",
                f"ended {len(report.orphaned)} assignments of removed pieces (in the history)",
            )
        )


# ---------------------------------------------------------------------- leaders


@leaders_app.command("import")
def leaders_import(
    file: Path = typer.Argument(..., help="CSV 或 XLSX / CSV or XLSX file"),
    actor: str = typer.Option(None, "--actor", help="操作人 / who imports"),
    reason: str | None = typer.Option(None, "--reason", help="原因 / why"),
    encoding: str | None = ENCODING_OPT,
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """导入（新增或更新）包保领导；任何一行有误则全部不导入。 / Import leaders, all or nothing."""
    with _store(database_url) as store, domain_errors():
        rep = store.import_leaders(
            file, actor=actor or _actor_default(), reason=reason, encoding=encoding
        )
    if as_json:
        print_json(rep.to_dict())
        return
    console.print(
        t(
            f"领导：新增 {len(rep.created)}，更新 {len(rep.updated)}，未变 {rep.unchanged}",
            f"leaders: {len(rep.created)} created, {len(rep.updated)} updated, {rep.unchanged} unchanged",
        )
    )


@leaders_app.command("list")
def leaders_list(
    active_only: bool = typer.Option(False, "--active", help="只列在岗 / active only"),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """列出包保领导（不含电话）。 / List leaders (phone numbers are never shown)."""
    with _store(database_url) as store, domain_errors():
        df = store.leaders(active=True if active_only else None)
        pieces = store.pieces(geometry=False)
    counts = pieces.groupby("leader_id").size() if len(pieces) else {}
    df = df.drop(columns=["pk", "created_at", "updated_at"])
    df["pieces"] = [int(counts.get(i, 0)) for i in df["id"]]
    if as_json:
        print_json(df.to_dict("records"))
        return
    table = Table(title=t("包保领导", "Leaders"))
    for col, zh in (
        ("id", "编号"),
        ("name", "名称"),
        ("role", "角色"),
        ("department", "部门"),
        ("capacity", "能力"),
        ("active", "在岗"),
        ("unit_packages", "包保单元"),
        ("place_packages", "包保点位"),
        ("pieces", "地块数"),
    ):
        table.add_column(t(zh, col))
    role_zh = {
        "grid_leader": t("网格长", "grid leader"),
        "package_leader": t("包保领导", "package leader"),
    }
    for r in df.itertuples(index=False):
        table.add_row(
            r.id,
            r.name,
            role_zh.get(r.role, r.role),
            r.department if isinstance(r.department, str) else "",
            f"{r.capacity:g}",
            t("是", "yes") if r.active else t("否", "no"),
            ";".join(r.unit_packages),
            ";".join(r.place_packages),
            f"{r.pieces:,}",
        )
    console.print(table)


@leaders_app.command("deactivate")
def leaders_deactivate(
    leader_id: str = typer.Argument(..., help="领导编号 / leader id"),
    reason: str = typer.Option(..., "--reason", help="原因 / why"),
    actor: str = typer.Option(None, "--actor", help="操作人 / who"),
    database_url: str | None = DB_OPT,
) -> None:
    """停用领导：历史不变，其地块保留并作为盲点报告。 / Retire a leader; history stays."""
    with _store(database_url) as store, domain_errors():
        cid = store.deactivate_leader(leader_id, reason=reason, actor=actor or _actor_default())
        held = store.pieces(geometry=False)
    n = int((held["leader_id"] == leader_id).sum())
    console.print(
        t(
            f"已停用 {leader_id}（变更集 {cid}）；其 {n} 个地块待重新分配（覆盖检查将报告为盲点）",
            f"deactivated {leader_id} (change set {cid}); {n} pieces await reassignment (reported as blind spots)",
        )
    )


# ---------------------------------------------------------------------- assign


@assign_app.command("auto")
def assign_auto(
    scope: str | None = typer.Option(None, "--scope", help="单元代码 / unit code"),
    weights: str | None = typer.Option(
        None, "--weights", help="权重，如 area=1,key_places=5 / weights"
    ),
    seed: int = typer.Option(0, "--seed", help="随机种子 / seed"),
    actor: str = typer.Option(None, "--actor", help="操作人 / who"),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """初始分配：各社区地块连片、按能力均衡分给网格长。 / Initial contiguous balanced assignment."""
    from gridmgr.assign.auto import auto_assign

    with _store(database_url) as store, domain_errors():
        report = auto_assign(
            store, scope=scope, weights=weights, seed=seed, actor=actor or _actor_default()
        )
    data = report.to_dict()
    if as_json:
        print_json(data)
        return
    table = Table(title=t("初始分配结果", "Initial assignment"), show_header=False)
    for key, value in data.items():
        if isinstance(value, list | dict):
            continue
        table.add_row(str(key), f"{value:,.3f}" if isinstance(value, float) else str(value))
    console.print(table)


def _cells_within(store: Any, path: Path) -> list[int]:
    """Ids of pieces whose representative point lies in the polygons of ``path``."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from gridmgr.errors import InputError

    try:
        area = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:
        raise InputError(f"{path}: cannot read polygons ({exc})") from exc
    if area.crs is not None and area.crs.to_epsg() != 4326:
        area = area.to_crs(4326)
    polys = area.geometry.values
    kinds = shapely.get_type_id(np.asarray(polys))
    if len(area) == 0 or not np.isin(kinds, [3, 6]).all():
        raise InputError(f"{path}: --within needs a file of polygons (draw them in QGIS)")
    pieces = store.pieces()
    pts = shapely.point_on_surface(np.asarray(pieces.geometry.values))
    hit = shapely.STRtree(np.asarray(polys)).query(pts, predicate="within")[0]
    return sorted({int(i) for i in pieces["id"].to_numpy()[np.unique(hit)]})


@assign_app.command("set")
def assign_set(
    leader: str | None = typer.Option(None, "--leader", help="新负责人编号 / new owner"),
    cells: str | None = typer.Option(
        None, "--cells", help="H3 单元，逗号分隔 / H3 cells, comma separated"
    ),
    within: Path | None = typer.Option(None, "--within", help="范围面文件 / polygon file"),
    reason: str = typer.Option(..., "--reason", help="原因 / why"),
    actor: str = typer.Option(..., "--actor", help="操作人 / who"),
    expect_version: int | None = typer.Option(
        None, "--expect-version", help="预期版本 / expected version"
    ),
    fallback: bool = typer.Option(False, "--fallback", help="属地兜底 / territorial default"),
    unassign: bool = typer.Option(False, "--unassign", help="取消分配 / leave unassigned"),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """修改地块负责人；基于过期版本的修改被拒绝。 / Reassign pieces (stale versions are refused)."""
    from gridmgr.store import Change

    if (cells is None) == (within is None):
        raise typer.BadParameter(
            t("请给出 --cells 或 --within 之一", "give exactly one of --cells or --within")
        )
    if (leader is None) == (not unassign):
        raise typer.BadParameter(
            t("请给出 --leader 或 --unassign 之一", "give exactly one of --leader or --unassign")
        )
    with _store(database_url) as store, domain_errors():
        refs: list[int | str]
        if cells is not None:
            refs = [c.strip() for c in cells.replace("，", ",").split(",") if c.strip()]
        else:
            assert within is not None
            refs = list(_cells_within(store, within))
        changes = [Change(r, leader, expect_version, fallback) for r in refs]
        res = store.apply_changes(changes, actor=actor, reason=reason, kind="edit")
    if as_json:
        print_json(res.to_dict())
        return
    console.print(
        t(
            f"已修改 {res.changed} 个地块，未变 {res.unchanged}；变更集 {res.changeset_id or '-'}",
            f"changed {res.changed} pieces, {res.unchanged} unchanged; change set {res.changeset_id or '-'}",
        )
    )


@assign_app.command("undo")
def assign_undo(
    changeset: str = typer.Argument(..., help="变更集编号 / change set id"),
    actor: str = typer.Option(None, "--actor", help="操作人 / who"),
    reason: str | None = typer.Option(None, "--reason", help="原因 / why"),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """撤销一个变更集（其后又被修改的地块会被拒绝）。 / Undo a change set."""
    with _store(database_url) as store, domain_errors():
        res = store.undo_changeset(changeset, actor=actor or _actor_default(), reason=reason)
    if as_json:
        print_json(res.to_dict())
        return
    console.print(
        t(
            f"已撤销：{res.changed} 个地块恢复；新变更集 {res.changeset_id}",
            f"undone: {res.changed} pieces restored; change set {res.changeset_id}",
        )
    )


@assign_app.command("export")
def assign_export(
    out: Path = typer.Option(..., "--out", help=".csv、.xlsx 或 .geojson / output file"),
    scope: str | None = typer.Option(None, "--scope", help="单元代码 / unit code"),
    database_url: str | None = DB_OPT,
) -> None:
    """导出分配表（可在 QGIS/Excel 中编辑后导回）。 / Export assignments for editing."""
    with _store(database_url) as store, domain_errors():
        path = store.export_assignments(out, scope=scope)
    console.print(t(f"已导出 {path}", f"wrote {path}"))


@assign_app.command("import")
def assign_import(
    file: Path = typer.Argument(..., help=".csv、.xlsx 或 .geojson / edited export"),
    reason: str = typer.Option(
        "导入编辑后的分配表 / import edited assignments", "--reason", help="原因 / why"
    ),
    actor: str = typer.Option(None, "--actor", help="操作人 / who"),
    encoding: str | None = ENCODING_OPT,
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """导回编辑后的分配表，与其他修改同样校验；全部成功或全部不变。 / Import an edited export."""
    with _store(database_url) as store, domain_errors():
        rep = store.import_assignments(
            file, actor=actor or _actor_default(), reason=reason, encoding=encoding
        )
    if as_json:
        print_json(rep.to_dict())
        return
    console.print(
        t(
            f"已导入：修改 {rep.changed}，未变 {rep.unchanged}；变更集 {rep.changeset_id or '-'}",
            f"imported: {rep.changed} changed, {rep.unchanged} unchanged; change set {rep.changeset_id or '-'}",
        )
    )


def register(app: typer.Typer) -> None:
    """Add ``db``, ``load``, ``leaders`` and ``assign`` to the ``gridmgr`` app."""
    app.add_typer(db_app, name="db")
    app.command("load")(load)
    app.add_typer(leaders_app, name="leaders")
    app.add_typer(assign_app, name="assign")
