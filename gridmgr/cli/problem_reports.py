"""``gridmgr problems list|import|ledger``, ``gridmgr notice draft``, ``gridmgr assess``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from gridmgr.cli._common import (
    DB_OPT,
    JSON_OPT,
    actor_default,
    console,
    domain_errors,
    opened_store,
    print_json,
)
from gridmgr.i18n import t

LAYERS_OPT = typer.Option(
    None, "--layers", help="图层目录（问题类别与规则）/ layers directory (categories, rules)"
)
PERIOD_OPT = typer.Option(..., "--period", help="期间：2026、2026-Q3 或 2026-09 / period")
AS_OF_OPT = typer.Option(None, "--as-of", help="统计时点 ISO（默认现在或期末）/ as of")


def attach(root: typer.Typer, app: typer.Typer, notice_app: typer.Typer) -> None:
    """Add the list and report commands to the groups and ``assess`` to the root."""
    app.command("list")(list_problems)
    app.command("import")(import_ledger)
    app.command("ledger")(ledger)
    notice_app.command("draft")(notice_draft)
    root.command("assess")(assess)


def list_problems(
    overdue: bool = typer.Option(False, "--overdue", help="只列逾期未整改 / overdue only"),
    as_of: str = AS_OF_OPT,
    scope: str = typer.Option(None, "--scope", help="单位编码（街道/社区）/ unit code"),
    state: str = typer.Option(None, "--state", help="状态 / state"),
    limit: int = typer.Option(200, "--limit", help="最多条数 / at most"),
    layers: Path = LAYERS_OPT,
    database_url: str = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """列出问题（可只列逾期）/ List problems (optionally only the overdue ones)."""

    from gridmgr.problems.categories import Config
    from gridmgr.problems.service import aware
    from gridmgr.problems.views import frame_view, names
    from gridmgr.store.engine import read_connection
    from gridmgr.store.layers import descendants, unit_parents
    from gridmgr.store.problems import listing

    with opened_store(database_url) as store, domain_errors():
        cfg = Config.load(layers)
        when = aware(as_of)
        store.require_schema()
        with read_connection(store.engine) as conn:
            units = sorted(descendants(unit_parents(conn), scope)) if scope else None
            df = listing(
                conn,
                states=[state] if state else None,
                overdue_at=when if overdue else None,
                units=units,
                limit=limit,
            )
            df = frame_view(df, names(conn), cfg, when)
    _print_list(df, when, as_json)


def _print_list(df: Any, when: Any, as_json: bool) -> None:
    """The list as JSON or as a table."""
    from rich.table import Table

    from gridmgr.problems.views import iso

    if as_json:
        cols = [
            "code",
            "category",
            "category_name",
            "state",
            "status_name",
            "leader_id",
            "leader_name",
            "assignee_department",
            "department_name",
            "community_name",
            "overdue",
            "overdue_workdays",
            "escalation",
            "escalation_name",
            "hours_left",
            "sample",
        ]
        rows = [
            {
                **{c: r[c] for c in cols},
                "id": r["code"],
                "due_at": iso(r["due_at"]),
                "reported_at": iso(r["reported_at"]),
            }
            for r in df.to_dict("records")
        ]
        print_json({"as_of": iso(when), "count": len(rows), "problems": rows})
        return
    table = Table(
        title=t(f"问题（截至 {iso(when)}）：{len(df)} 件", f"problems as of {iso(when)}: {len(df)}")
    )
    for head in (
        t("编号", "id"),
        t("类别", "category"),
        t("社区", "community"),
        t("责任人", "leader"),
        t("部门", "department"),
        t("状态", "status"),
        t("期限", "due"),
        t("剩余/逾期", "left/overdue"),
    ):
        table.add_column(head)
    for r in df.to_dict("records"):
        left = (
            t(
                f"逾期 {r['overdue_workdays']} 个工作日 {r['escalation_name']}",
                f"overdue {r['overdue_workdays']} wd {r['escalation_name']}",
            )
            if r["overdue"]
            else (
                ""
                if r["hours_left"] is None
                else t(f"剩 {r['hours_left']} 小时", f"{r['hours_left']} h left")
            )
        )
        table.add_row(
            r["code"],
            r["category_name"],
            r["community_name"],
            r["leader_name"],
            r["department_name"],
            r["status_name"],
            iso(r["due_at"]) or "",
            left,
        )
    console.print(table)


def import_ledger(
    file: Path = typer.Argument(..., help="XLSX 台账 / XLSX ledger"),
    mapping: list[str] = typer.Option(
        None, "--map", help="表头=字段（category,text,lat,lng,reporter,reported_at,source），可多次"
    ),
    actor: str = typer.Option(None, "--actor", help="导入人 / actor"),
    layers: Path = LAYERS_OPT,
    database_url: str = DB_OPT,
) -> None:
    """导入已有 Excel 问题台账（全部成功或全部不导入）/ Import an Excel ledger (all or nothing)."""
    from gridmgr.errors import InputError
    from gridmgr.problems.categories import Config
    from gridmgr.problems.ledger import import_ledger as do_import

    with opened_store(database_url) as store, domain_errors():
        pairs = {}
        for m in mapping or []:
            head, sep, fld = m.partition("=")
            if not sep:
                raise InputError(
                    t(f"--map {m!r} 应为 表头=字段", f"--map {m!r} must be header=field")
                )
            pairs[head.strip()] = fld.strip()
        codes = do_import(
            store, file, actor=actor_default(actor), config=Config.load(layers), mapping=pairs
        )
    console.print(t(f"已导入 {len(codes)} 件问题", f"imported {len(codes)} problems"))


def _assessments(store: Any, period: str, cfg: Any, when: Any) -> dict[str, Any]:
    from gridmgr.problems.assessment import assess as do_assess
    from gridmgr.store.problems import GROUPS

    return {g: do_assess(store, period, group=g, rules=cfg.rules, as_of=when) for g in GROUPS}


def ledger(
    out: Path = typer.Option(..., "--out", help="XLSX 输出 / output"),
    period: str = typer.Option(None, "--period", help="期间（默认全部）/ period"),
    as_of: str = AS_OF_OPT,
    layers: Path = LAYERS_OPT,
    database_url: str = DB_OPT,
) -> None:
    """导出问题台账与考核表（XLSX）/ Write the problem ledger and assessment tables (XLSX)."""
    from gridmgr.export.circular import write_ledger_xlsx
    from gridmgr.problems.categories import Config
    from gridmgr.problems.ledger import ledger_frame
    from gridmgr.problems.service import aware

    with opened_store(database_url) as store, domain_errors():
        cfg = Config.load(layers)
        when = aware(as_of) if as_of else None
        frame = ledger_frame(store, cfg, period, when)
        sheets = _assessments(store, period, cfg, when) if period else {}
        write_ledger_xlsx(frame, sheets, out)
    console.print(t(f"已写入 {out}", f"wrote {out}"))


def notice_draft(
    period: str = PERIOD_OPT,
    out: Path = typer.Option(..., "--out", help="DOCX 输出 / output"),
    as_of: str = AS_OF_OPT,
    layers: Path = LAYERS_OPT,
    database_url: str = DB_OPT,
) -> None:
    """起草通报（GB/T 9704 版式 DOCX：数据、通报对象、表彰名单、逾期清单）/ Draft the circular."""
    from gridmgr.export.circular import write_circular_docx
    from gridmgr.problems.categories import Config
    from gridmgr.problems.notice import circular
    from gridmgr.problems.service import aware

    with opened_store(database_url) as store, domain_errors():
        c = circular(
            store, period, config=Config.load(layers), as_of=aware(as_of) if as_of else None
        )
        write_circular_docx(c, out)
    console.print(
        t(
            f"已写入通报 {out}：通报对象 {len(c.candidates)}，表彰 {len(c.commended)}，逾期 {len(c.overdue)}",
            f"wrote {out}: {len(c.candidates)} named, {len(c.commended)} commended, {len(c.overdue)} overdue",
        )
    )


def assess(
    period: str = PERIOD_OPT,
    group: str = typer.Option("leader", "--by", help="leader|community|street|department"),
    as_of: str = AS_OF_OPT,
    top: int = typer.Option(20, "--top", help="显示前 N 名 / show the first N"),
    layers: Path = LAYERS_OPT,
    database_url: str = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """考核排名：按期整改率、逾期、返工、重复等综合计分 / Assessment and ranking over a period."""
    from rich.table import Table

    from gridmgr.problems.assessment import assess as do_assess
    from gridmgr.problems.categories import Config
    from gridmgr.problems.service import aware
    from gridmgr.problems.views import iso

    with opened_store(database_url) as store, domain_errors():
        cfg = Config.load(layers)
        df = do_assess(
            store, period, group=group, rules=cfg.rules, as_of=aware(as_of) if as_of else None
        )
    if as_json:
        rows = df.astype(object).where(df.notna(), None).to_dict("records")
        print_json(
            {"period": period, "group": group, "as_of": iso(df.attrs["as_of"]), "rows": rows}
        )
        return
    table = Table(
        title=t(
            f"{period} 考核（{_group_zh(group)}，截至 {iso(df.attrs['as_of'])}）",
            f"assessment {period} by {group} as of {iso(df.attrs['as_of'])}",
        )
    )
    for head in (
        t("排名", "rank"),
        t("名称", "name"),
        t("问题", "problems"),
        t("按期率", "on time"),
        t("平均结案工作日", "avg wd"),
        t("逾期", "overdue"),
        t("返工", "rework"),
        t("重复", "repeats"),
        t("得分", "score"),
    ):
        table.add_column(head)
    for r in df.head(top).to_dict("records"):
        avg = (
            ""
            if r["avg_close_workdays"] != r["avg_close_workdays"]
            else f"{r['avg_close_workdays']:.1f}"
        )
        table.add_row(
            str(r["rank"]),
            str(r["name"]),
            str(r["problems"]),
            f"{r['on_time_rate']:.0%}",
            avg,
            str(r["overdue"]),
            str(r["rework"]),
            str(r["repeats"]),
            f"{r['score']:.1f}",
        )
    console.print(table)


def _group_zh(group: str) -> str:
    """The Chinese name of an assessment group (包保责任人, 社区, 街道, 部门)."""
    from gridmgr.problems.assessment import GROUP_NAMES

    return GROUP_NAMES.get(group, (group, group))[0]
