"""``gridmgr rebalance``: propose, show, apply, discard, undo and list rebalance plans.

A thin shell over :mod:`gridmgr.rebalance.model`; every domain error becomes one clear line and exit
status 1. User text is Chinese first (``--lang en`` for English).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from gridmgr.cli._common import (
    DB_OPT,
    JSON_OPT,
    actor_default,
    console,
    domain_errors,
    opened_store,
    print_json,
)
from gridmgr.errors import InputError
from gridmgr.i18n import t
from gridmgr.settings import DEFAULT_TARGET_RATIO

app = typer.Typer(
    help="负载再平衡（最少调整）/ minimal-move rebalancing plans", no_args_is_help=True
)

ACTOR_OPT = typer.Option(
    None, "--actor", help="操作人 / who does it (default $GRIDMGR_ACTOR or $USER)"
)
_store = opened_store
_actor = actor_default


def _capacities(items: list[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items or []:
        for part in item.replace("，", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise InputError(f"--capacity {part!r}: use ID=X, e.g. --capacity G01_1=1.5")
            lid, value = part.split("=", 1)
            try:
                out[lid.strip()] = float(value)
            except ValueError:
                raise InputError(f"--capacity {part!r}: {value!r} is not a number") from None
    return out


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _print_plan(plan: Any, *, moves_limit: int = 20, names: dict[str, str] | None = None) -> None:
    m = plan.metrics
    status = {
        "proposed": ("待应用", "proposed"),
        "applied": ("已应用", "applied"),
        "discarded": ("已放弃", "discarded"),
        "undone": ("已撤销", "undone"),
    }
    zh, en = status.get(plan.status, (plan.status, plan.status))
    console.print(
        t(
            f"方案 [bold]{plan.id}[/]（{zh}），范围 {plan.scope}，操作人 {plan.actor}",
            f"plan [bold]{plan.id}[/] ({en}), scope {plan.scope}, by {plan.actor}",
        )
    )
    _print_metrics(m)
    who = _namer(names or {})
    _print_pairs(plan, who)
    _print_leader_ratios(m, who)
    _print_missed(m, who)
    if plan.moves:
        _print_moves(plan.moves, moves_limit, who)


def _print_pairs(plan: Any, who: Any) -> None:
    """The plan per leader pair: pieces, hectares, load ratio before → after (as on the web)."""
    from gridmgr.rebalance.summary import leader_ratios, pair_summary

    pairs = pair_summary(plan.moves or [], leader_ratios(plan.metrics or {}))
    if not pairs:
        return
    table = Table(title=t("调整汇总（按领导）", "summary by leader pair"))
    for zh, en in (("原责任人", "from"), ("新责任人", "to"), ("地块", "pieces"), ("公顷", "ha")):
        table.add_column(t(zh, en))
    table.add_column(t("负载比（原 → 新责任人）", "load ratio (from → to)"))
    for p in pairs:
        ratios = " / ".join(
            f"{r[0]:.2f}→{r[1]:.2f}" if r else "—" for r in (p.from_ratio, p.to_ratio)
        )
        table.add_row(
            who(p.from_leader), who(p.to_leader), str(p.pieces), f"{p.hectares:.2f}", ratios
        )
    console.print(table)


def _namer(names: dict[str, str]) -> Any:
    """``id -> "name (id)"``, or the id when the name is unknown; ``-`` for none."""

    def who(leader_id: Any) -> str:
        if not leader_id:
            return "-"
        name = names.get(str(leader_id))
        return f"{name}（{leader_id}）" if name else str(leader_id)

    return who


def _print_metrics(m: Any) -> None:
    """The before/after metrics table and the moved-pieces line."""
    table = Table(title=t("负载指标（调整前 → 调整后）", "metrics (before → after)"))
    table.add_column(t("指标", "metric"))
    table.add_column(t("调整前", "before"), justify="right")
    table.add_column(t("调整后", "after"), justify="right")
    rows = [
        ("max_ratio", t("最大负载比（最大/平均）", "max/mean load"), 3),
        ("min_ratio", t("最小负载比（最小/平均）", "min/mean load"), 3),
        ("std_ratio", t("负载比标准差", "std of load ratio"), 3),
        ("disconnected", t("不连通的责任区", "disconnected territories"), 0),
        (
            "boundary_edges_per_piece",
            t(
                "每地块边界边数（紧凑度，越低越好）",
                "boundary edges per piece (compactness, lower is better)",
            ),
            3,
        ),
        ("unassigned_pieces", t("无人负责的地块", "pieces without a leader"), 0),
        ("n_leaders", t("参与的领导", "leaders taking part"), 0),
    ]
    before, after = m.get("before", {}), m.get("after", {})
    for key, label, digits in rows:
        table.add_row(label, _fmt(before.get(key), digits), _fmt(after.get(key), digits))
    console.print(table)
    console.print(
        t(
            f"调整地块 {m.get('moved_pieces', 0)} 块（共 {m.get('pieces', '?')} 块），面积 {(m.get('moved_area_m2') or 0) / 1e4:.2f} 公顷；"
            f"目标：负载比 ≤ {m.get('target_ratio')}，≥ {_fmt(m.get('min_ratio'))}",
            f"{m.get('moved_pieces', 0)} pieces move (of {m.get('pieces', '?')}), {(m.get('moved_area_m2') or 0) / 1e4:.2f} ha; "
            f"target: ratio ≤ {m.get('target_ratio')}, ≥ {_fmt(m.get('min_ratio'))}",
        )
    )


def _print_leader_ratios(m: Any, who: Any) -> None:
    """Load ratios of the leaders a plan changes."""
    leaders = [
        x
        for x in m.get("leaders", [])
        if x.get("ratio_before") != x.get("ratio_after") or x.get("added") or x.get("removed")
    ]
    if leaders:
        lt = Table(title=t("领导负载比", "leader load ratios"))
        for col in (
            t("领导", "leader"),
            t("调整前", "before"),
            t("调整后", "after"),
            t("地块数", "pieces"),
            t("备注", "note"),
        ):
            lt.add_column(col)
        for x in leaders:
            note = " ".join(
                n
                for n, flag in (
                    (t("新增", "added"), x.get("added")),
                    (t("移除", "removed"), x.get("removed")),
                    (t("锁定", "locked"), x.get("locked")),
                )
                if flag
            )
            lt.add_row(
                who(x["leader_id"]),
                _fmt(x.get("ratio_before")),
                _fmt(x.get("ratio_after")),
                str(x.get("pieces_after", "")),
                note,
            )
        console.print(lt)


def _print_missed(m: Any, who: Any) -> None:
    """Leaders still off target, with the reason."""
    missed = m.get("missed", [])
    if missed:
        console.print(t("[yellow]仍未达到目标的领导：[/]", "[yellow]leaders still off target:[/]"))
        for x in missed:
            console.print(
                f"  {who(x['leader_id'])}: {_fmt(x.get('ratio'))} — {t(x['reason_zh'], x['reason_en'])}"
            )


def _print_moves(moves: list[dict[str, Any]], moves_limit: int, who: Any) -> None:
    """The first ``moves_limit`` moves."""
    if moves:
        mt = Table(
            title=t(
                f"调整明细（前 {min(moves_limit, len(moves))} 条）",
                f"moves (first {min(moves_limit, len(moves))})",
            )
        )
        for col in (
            t("网格单元", "cell"),
            t("单元", "unit"),
            t("原负责人", "from"),
            t("新负责人", "to"),
            t("面积(m²)", "area (m²)"),
        ):
            mt.add_column(col)
        for mv in moves[:moves_limit]:
            mt.add_row(
                str(mv["cell"]),
                str(mv["unit_code"]),
                who(mv.get("from_leader")),
                who(mv["to_leader"]),
                _fmt(mv.get("area_m2"), 0),
            )
        console.print(mt)


@app.command("propose")
def propose_cmd(
    scope: str = typer.Option(
        ..., "--scope", help="范围单元代码（街道或社区）/ unit code of the scope"
    ),
    weights: str | None = typer.Option(
        None, "--weights", help="负载权重，如 area=1,key_places=5 / workload weights"
    ),
    leaders_add: list[str] | None = typer.Option(
        None, "--leaders-add", help="新增领导 ID（逗号分隔，须已导入且在岗）/ leader ids joining"
    ),
    leaders_remove: list[str] | None = typer.Option(
        None, "--leaders-remove", help="移除领导 ID（其地块交给相邻领导）/ leader ids leaving"
    ),
    capacity: list[str] | None = typer.Option(
        None, "--capacity", help="调整能力值 ID=X（可多次）/ capacity override"
    ),
    lock: list[str] | None = typer.Option(
        None, "--lock", help="锁定领导 ID 或网格单元（可多次，逗号分隔）/ lock a leader or cells"
    ),
    cross_communities: bool = typer.Option(
        False, "--cross-communities", help="允许跨社区调整 / allow moves across communities"
    ),
    max_moves: int | None = typer.Option(
        None, "--max-moves", help="最多调整地块数 / at most N moves"
    ),
    target_ratio: float = typer.Option(
        DEFAULT_TARGET_RATIO, "--target-ratio", help="负载比上限 / max load/fair share"
    ),
    min_ratio: float | None = typer.Option(
        None, "--min-ratio", help="负载比下限（默认 2-上限）/ lower bound"
    ),
    seed: int = typer.Option(0, "--seed", help="随机种子（相同种子，相同结果）/ tie-break seed"),
    actor: str | None = ACTOR_OPT,
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """生成再平衡方案（尽量少调整地块），存为待应用方案。 / Propose a minimal-move rebalance plan."""
    from gridmgr.errors import NothingToMoveError
    from gridmgr.rebalance import model as rebalance

    with _store(database_url) as store, domain_errors():
        try:
            plan = rebalance.propose(
                store,
                scope=scope,
                actor=_actor(actor),
                weights=weights,
                leaders_add=leaders_add or [],
                leaders_remove=leaders_remove or [],
                capacity=_capacities(capacity),
                lock=lock or [],
                cross_communities=cross_communities,
                target_ratio=target_ratio,
                min_ratio=min_ratio,
                max_moves=max_moves,
                seed=seed,
            )
        except NothingToMoveError as exc:  # already balanced: not an error, and no plan saved
            if as_json:
                print_json({"plan": None, "moved_pieces": 0, "message": str(exc)})
            else:
                console.print(str(exc))
            return
        if as_json:
            print_json(plan.to_dict())
            return
        _print_plan(plan, names=_leader_names(store))
        if plan.moves:
            console.print(
                t(
                    f"应用方案：gridmgr rebalance apply {plan.id} --actor 姓名 --reason 原因",
                    f"apply it: gridmgr rebalance apply {plan.id} --actor NAME --reason WHY",
                )
            )
        if leaders_remove:
            console.print(
                t(
                    f"提示：应用后请用 gridmgr leaders deactivate 停用调离的领导（{', '.join(leaders_remove)}）",
                    f"note: after applying, retire the leaving leaders with gridmgr leaders deactivate ({', '.join(leaders_remove)})",
                )
            )


@app.command("show")
def show_cmd(
    plan_id: str = typer.Argument(..., help="方案 ID / plan id"),
    geojson: bool = typer.Option(
        False, "--geojson", help="输出变更地块 GeoJSON / print the diff as GeoJSON"
    ),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """查看方案：指标、未达标原因、调整明细。 / Show a plan."""
    from gridmgr.rebalance import model as rebalance

    with _store(database_url) as store, domain_errors():
        if geojson:
            print_json(rebalance.plan_diff_geojson(store, plan_id))
            return
        plan = rebalance.get_plan(store, plan_id)
        if as_json:
            print_json(plan.to_dict())
            return
        _print_plan(plan, moves_limit=50, names=_leader_names(store))


@app.command("apply")
def apply_cmd(
    plan_id: str = typer.Argument(..., help="方案 ID / plan id"),
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option(
        ..., "--reason", help="原因（必填，记入历史）/ why (required, kept in the history)"
    ),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """应用方案（一个事务；地块已被改动则拒绝）。 / Apply a plan atomically."""
    from gridmgr.rebalance import model as rebalance

    with _store(database_url) as store, domain_errors():
        res = rebalance.apply_plan(store, plan_id, actor=_actor(actor), reason=reason)
    changeset = res.changeset_id or t("无", "none")
    _print_change(
        res,
        as_json,
        t(
            f"方案 {plan_id} 已应用：{res.changed} 块地块更换负责人（变更集 {changeset}）",
            f"plan {plan_id} applied: {res.changed} pieces changed owner (change set {changeset})",
        ),
    )


def _print_change(res: Any, as_json: bool, message: str) -> None:
    """Print an apply/undo result: the result as JSON, or one line."""
    if as_json:
        print_json(res.to_dict())
    else:
        console.print(message)


@app.command("discard")
def discard_cmd(
    plan_id: str = typer.Argument(..., help="方案 ID / plan id"),
    actor: str | None = ACTOR_OPT,
    database_url: str | None = DB_OPT,
) -> None:
    """放弃待应用的方案。 / Discard a proposed plan."""
    from gridmgr.rebalance import model as rebalance

    with _store(database_url) as store, domain_errors():
        rebalance.discard_plan(store, plan_id, actor=_actor(actor))
        console.print(t(f"方案 {plan_id} 已放弃", f"plan {plan_id} discarded"))


@app.command("undo")
def undo_cmd(
    plan_id: str = typer.Argument(..., help="方案 ID / plan id"),
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option(
        ..., "--reason", help="原因（必填，记入历史）/ why (required, kept in the history)"
    ),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """撤销已应用的方案（一个事务，恢复原负责人）。 / Undo an applied plan in one transaction."""
    from gridmgr.rebalance import model as rebalance

    with _store(database_url) as store, domain_errors():
        res = rebalance.undo_plan(store, plan_id, actor=_actor(actor), reason=reason)
    _print_change(
        res,
        as_json,
        t(
            f"方案 {plan_id} 已撤销：{res.changed} 块地块恢复原负责人",
            f"plan {plan_id} undone: {res.changed} pieces restored",
        ),
    )


@app.command("list")
def list_cmd(
    status: str | None = typer.Option(None, "--status", help="proposed|applied|discarded|undone"),
    database_url: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """列出方案（最新在前）。 / List plans, newest first."""
    from gridmgr.rebalance import model as rebalance

    with _store(database_url) as store, domain_errors():
        df = rebalance.list_plans(store, status=status)
        rows = []
        for rec in df.to_dict("records"):
            met = rec.get("metrics") or {}
            if isinstance(met, str):
                import json

                met = json.loads(met)
            rows.append(
                {
                    "id": rec["id"],
                    "scope": rec["scope"],
                    "status": rec["status"],
                    "actor": rec["actor"],
                    "created_at": str(rec["created_at"]),
                    "moved_pieces": met.get("moved_pieces"),
                    "max_ratio_before": (met.get("before") or {}).get("max_ratio"),
                    "max_ratio_after": (met.get("after") or {}).get("max_ratio"),
                }
            )
        if as_json:
            print_json(rows)
            return
        table = Table(title=t("再平衡方案", "rebalance plans"))
        for col in (
            "ID",
            t("范围", "scope"),
            t("状态", "status"),
            t("操作人", "actor"),
            t("时间", "created"),
            t("调整地块", "moves"),
            t("最大负载比 前→后", "max ratio before→after"),
        ):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r["id"],
                str(r["scope"]),
                r["status"],
                r["actor"],
                r["created_at"][:19],
                _fmt(r["moved_pieces"]),
                f"{_fmt(r['max_ratio_before'])} → {_fmt(r['max_ratio_after'])}",
            )
        console.print(table)


def register(root: typer.Typer) -> None:
    """Add the ``rebalance`` group to the ``gridmgr`` app."""
    root.add_typer(app, name="rebalance")


def _leader_names(store: Any) -> dict[str, str]:
    """``leader id -> name`` of every leader in the store."""
    frame = store.leaders()
    return dict(zip(frame["id"].astype(str), frame["name"].astype(str), strict=True))
