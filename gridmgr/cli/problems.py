"""``gridmgr problems …``, ``gridmgr notice draft``, ``gridmgr assess``: the problem cycle.

Who acts: ``--actor`` (default ``$GRIDMGR_ACTOR``/``$USER``). An actor who is a leader in the
store holds the roles a leader's account would (reporter; handler of what is dispatched to them
or their department); any other actor is the office at the console (center and supervisor).
``--role`` narrows it to one role of the cycle.
"""

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

app = typer.Typer(
    help="问题上报、派遣、整改、核查 / problems: report, dispatch, fix, verify",
    no_args_is_help=True,
)
notice_app = typer.Typer(help="通报 / circulars", no_args_is_help=True)

LAYERS_OPT = typer.Option(
    None, "--layers", help="图层目录（问题类别与规则）/ layers directory (categories, rules)"
)
PHOTO_OPT = typer.Option(None, "--photo", help="照片 JPEG/PNG，可多次 / photo, repeatable")


def register(root: typer.Typer) -> None:
    """Add ``problems``, ``notice`` and ``assess`` (lists and reports: ``problem_reports``)."""
    from gridmgr.cli import problem_reports

    problem_reports.attach(root, app, notice_app)
    root.add_typer(app, name="problems")
    root.add_typer(notice_app, name="notice")


def _uploads(paths: list[Path] | None) -> list[Any]:
    from gridmgr.problems.service import Upload

    out = []
    for p in paths or []:
        try:
            out.append(Upload(p.name, p.read_bytes()))
        except OSError as exc:
            from gridmgr.errors import UnreadableFileError

            raise UnreadableFileError(
                t(
                    f"照片 {p}：无法读取（{exc.strerror}）",
                    f"photo {p}: cannot be read ({exc.strerror})",
                )
            ) from None
    return out


def _roles(store: Any, actor: str, role: str | None, problem: dict[str, Any]) -> set[str]:
    from gridmgr.problems import cycle

    if role is not None:
        if role not in cycle.ROLES:
            from gridmgr.errors import InputError

            raise InputError(
                t(
                    f"角色 {role!r} 无效；可用：{', '.join(cycle.ROLES)}",
                    f"role {role!r} is not valid; use {', '.join(cycle.ROLES)}",
                )
            )
    leaders = store.leaders()
    row = leaders[leaders["id"] == actor]
    if len(row):
        dept = row["department"].iloc[0]
        roles = cycle.cycle_roles(
            "leader",
            leader_id=actor,
            leader_department=dept if isinstance(dept, str) and dept else None,
            problem=problem,
        )
    else:
        roles = cycle.cycle_roles("admin", leader_id=None, leader_department=None, problem=problem)
    return roles & {role} if role is not None else roles


def _print_problem(p: dict[str, Any]) -> None:
    console.print(f"[bold]{p['id']}[/]  {p['category_name']}（{p['group']}）  {p['status_name']}")
    console.print(
        t(
            f"  位置：{p['community_name'] or '-'} / {p['unit_name'] or '-'}，属地责任人 {p['leader_name'] or '-'}",
            f"  where: {p['community_name'] or '-'} / {p['unit_name'] or '-'}, leader {p['leader_name'] or '-'}",
        )
    )
    if p.get("place_code"):
        console.print(
            t(
                f"  重点场所 {p['place_code']}（{p['place_distance_m']} 米），包保领导 {p['place_leader_id'] or '-'}",
                f"  key place {p['place_code']} ({p['place_distance_m']} m), package leader {p['place_leader_id'] or '-'}",
            )
        )
    if p.get("due_at"):
        late = t("，已逾期", ", overdue") if p["overdue"] else ""
        console.print(
            t(
                f"  派遣：{p['assignee_department_name'] or '-'} / {p['assignee_leader_name'] or '-'}，期限 {p['due_at']}{late} {p['escalation_name']}",
                f"  dispatched to {p['assignee_department_name'] or '-'} / {p['assignee_leader_name'] or '-'}, due {p['due_at']}{late} {p['escalation_name']}",
            )
        )
    for e in p["events"]:
        console.print(
            f"  · {e['at']}  {e['action_name']}  {e['actor']}（{e['role_name']}） {e['note'] or ''}",
            highlight=False,
        )
    for ph in p["photos"]:
        flags = "；".join(ph["flags"])
        console.print(
            f"  📷 {ph['kind']} {ph['sha256'][:12]}… {ph['width']}×{ph['height']} {flags}",
            highlight=False,
        )


@app.command("report")
def report(
    lat: float = typer.Option(..., "--lat", help="纬度 WGS-84 / latitude"),
    lng: float = typer.Option(..., "--lng", help="经度 WGS-84 / longitude"),
    category: str = typer.Option(..., "--category", help="问题类别编码 / category code"),
    text: str = typer.Option(..., "--text", help="问题描述 / description"),
    reporter: str = typer.Option(..., "--reporter", help="上报人（领导编号）/ reporter id"),
    source: str = typer.Option(
        "patrol",
        "--source",
        help="patrol|inspection|public|assigned（巡查/督导检查/群众反映/上级交办）",
    ),
    at: str = typer.Option(None, "--at", help="上报时间 ISO（默认现在；无时区按北京时间）/ time"),
    photo: list[Path] = PHOTO_OPT,
    key: str = typer.Option(None, "--idempotency-key", help="重发不重复建档的键 / resend key"),
    layers: Path = LAYERS_OPT,
    database_url: str = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """上报问题（自动关联地块、责任人、重点场所、责任部门）/ Report a problem."""
    from gridmgr.problems.categories import Config
    from gridmgr.problems.service import report as do_report

    with opened_store(database_url) as store, domain_errors():
        p = do_report(
            store,
            lat=lat,
            lng=lng,
            category=category,
            text=text,
            reporter=reporter,
            source=source,
            at=at,
            uploads=_uploads(photo),
            idempotency_key=key,
            config=Config.load(layers),
        )
    print_json(p) if as_json else _print_problem(p)


@app.command("act")
def act(
    ref: str = typer.Argument(..., help="问题编号 / problem id"),
    action: str = typer.Argument(
        ...,
        help="register|reject|dispatch|handle|request-extension|extend|deny-extension|verify-pass|verify-fail",
    ),
    actor: str = typer.Option(None, "--actor", help="执行人 / actor"),
    role: str = typer.Option(None, "--role", help="以此角色执行 / act in this role"),
    note: str = typer.Option(None, "--note", help="说明 / note"),
    workdays: int = typer.Option(None, "--workdays", help="工作日数（派遣、延期）/ working days"),
    department: str = typer.Option(
        None, "--department", help="派遣部门（默认类别的责任部门）/ department"
    ),
    leader: str = typer.Option(None, "--leader", help="派遣责任人（默认属地责任人）/ leader"),
    at: str = typer.Option(None, "--at", help="时间 ISO（默认现在）/ time"),
    photo: list[Path] = PHOTO_OPT,
    if_version: int = typer.Option(
        None, "--if-version", help="仅当版本仍为此值时执行 / only if still this version"
    ),
    layers: Path = LAYERS_OPT,
    database_url: str = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """对问题执行一步流程（立案、派遣、处置、核查、延期…）/ Take a step of the cycle."""
    from gridmgr.problems.categories import Config
    from gridmgr.problems.service import act as do_act
    from gridmgr.store.engine import read_connection
    from gridmgr.store.problems import get

    who = actor_default(actor)
    with opened_store(database_url) as store, domain_errors():
        with read_connection(store.engine) as conn:
            current = get(conn, ref) or {}
        p = do_act(
            store,
            ref,
            action,
            actor=who,
            roles=_roles(store, who, role, current),
            note=note,
            n_workdays=workdays,
            at=at,
            uploads=_uploads(photo),
            department=department,
            leader_id=leader,
            expected_version=if_version,
            config=Config.load(layers),
        )
    print_json(p) if as_json else _print_problem(p)


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="问题编号 / problem id"),
    layers: Path = LAYERS_OPT,
    database_url: str = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """显示问题、流程记录与照片 / Show a problem with its events and photos."""
    from gridmgr.problems.categories import Config
    from gridmgr.problems.views import show_in
    from gridmgr.store.engine import read_connection

    with opened_store(database_url) as store, domain_errors():
        store.require_schema()
        with read_connection(store.engine) as conn:
            p = show_in(conn, ref, Config.load(layers))
    print_json(p) if as_json else _print_problem(p)
