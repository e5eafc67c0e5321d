"""Reading the record: ``gridmgr history`` (assignment and leader events, Beijing time) and
``gridmgr units`` (the unit tree with areas and piece counts)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from gridmgr.cli._common import DB_OPT, JSON_OPT, console, domain_errors, opened_store, print_json
from gridmgr.i18n import t, term

_store = opened_store


def register(app: typer.Typer) -> None:
    """Add ``history`` and ``units`` to the ``gridmgr`` app."""
    app.command("units")(units)
    app.command("history")(history)


# ---------------------------------------------------------------------- history


def history(
    leader: str | None = typer.Option(None, "--leader", help="领导编号 / leader id"),
    cell: str | None = typer.Option(None, "--cell", help="H3 单元 / cell"),
    since: str | None = typer.Option(None, "--since", help="起始日期（UTC）/ since date (UTC)"),
    until: str | None = typer.Option(None, "--until", help="截止（UTC）/ until (UTC)"),
    changeset: str | None = typer.Option(None, "--changeset", help="变更集 / change set"),
    limit: int = typer.Option(
        500, "--limit", help="最多显示最近的 N 条 / show at most the N most recent events"
    ),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """分配变更历史（谁、何时、为何）。 / Assignment history: who, when, why."""
    with _store(database_url) as store, domain_errors():
        df = store.history(
            leader=leader,
            cell=cell,
            since=since,
            until=until,
            changeset=changeset,
            limit=limit,
            newest=True,
        )
        lev = store.leader_events(leader) if leader is not None else None
    if as_json:
        out: dict[str, Any] = {"events": df.to_dict("records")}
        if lev is not None:
            out["leader_events"] = lev.to_dict("records")
        print_json(out)
        return
    if lev is not None and len(lev):
        for r in lev.itertuples(index=False):
            kind = term("leader_event", str(r.kind))
            console.print(f"{_bj(r.at)} {r.leader_id} {kind} — {r.actor}: {r.reason}")
    if df.empty:
        console.print(t("没有符合条件的记录", "no matching events"))
        return
    table = Table(title=t(f"分配历史（{len(df)} 条）", f"assignment history ({len(df)} events)"))
    for zh, en in (
        ("时间（北京时间）", "time (Beijing)"),
        ("变更集", "change set"),
        ("类型", "kind"),
        ("地块", "cell"),
        ("单元", "unit"),
        ("原负责人", "from"),
        ("新负责人", "to"),
        ("版本", "version"),
        ("操作人", "actor"),
        ("原因", "reason"),
    ):
        table.add_column(t(zh, en))
    for r in df.itertuples(index=False):
        table.add_row(
            _bj(r.at, seconds=True),
            str(r.changeset_id)[:8],
            f"{term('changeset_kind', str(r.changeset_kind))}/{term('assignment_event', str(r.kind))}",
            r.cell,
            r.unit_code,
            r.from_leader or "-",
            r.to_leader or "-",
            f"{r.from_version}→{r.to_version}",
            r.actor,
            r.reason,
        )
    console.print(table)
    if len(df) >= limit:
        console.print(
            t(
                f"只显示最近 {limit} 条；用 --limit 或 --since/--leader/--cell 调整",
                f"showing the {limit} most recent events; use --limit or --since/--leader/--cell",
            )
        )


def units(
    level: str | None = typer.Option(
        None, "--level", help="只列某一层级 district|street|community|grid / only this level"
    ),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """列出数据库中的行政单元（代码、名称、层级、上级、面积、地块数）。 / List the units in the store."""
    from gridmgr.i18n import level_label

    with _store(database_url) as store, domain_errors():
        frame = store.units()
        counts = store.pieces(geometry=False)["unit_code"].value_counts()
    # roll piece counts up the hierarchy: each lowest unit's count goes to it and its ancestors
    parent = dict(zip(frame["code"].astype(str), frame["parent"], strict=True))
    lowest_counts = dict.fromkeys(parent, 0)
    for code, n in counts.items():
        cur: object = str(code)
        while isinstance(cur, str) and cur in lowest_counts:
            lowest_counts[cur] += int(n)
            cur = parent[cur]
    if level is not None:
        frame = frame[frame["level"] == level]
    rows = [
        {
            "code": str(r.code),
            "name": str(r.name),
            "level": str(r.level),
            "parent": None if not isinstance(r.parent, str) else r.parent,
            "area_km2": round(float(r.area_m2) / 1e6, 4),
            "pieces": lowest_counts[str(r.code)],
        }
        for r in frame.itertuples(index=False)
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title=t(f"行政单元（{len(rows)} 个）", f"units ({len(rows)})"))
    for zh, en in (
        ("代码", "code"),
        ("名称", "name"),
        ("层级", "level"),
        ("上级", "parent"),
        ("面积 (km²)", "area (km²)"),
        ("地块", "pieces"),
    ):
        table.add_column(t(zh, en), no_wrap=True)
    for r in rows:
        table.add_row(
            str(r["code"]),
            str(r["name"]),
            level_label(str(r["level"])),
            str(r["parent"] or "-"),
            f"{r['area_km2']:,.3f}",
            f"{r['pieces']:,}",
        )
    console.print(table)


def _bj(when: Any, *, seconds: bool = False) -> str:
    """A stored UTC time in Beijing time (the column header names the zone)."""
    from gridmgr.clock import to_beijing

    return f"{to_beijing(when.to_pydatetime() if hasattr(when, 'to_pydatetime') else when):%Y-%m-%d %H:%M{':%S' if seconds else ''}}"
