"""``gridmgr serve`` and ``gridmgr users …``: run the web service, manage its users.

fastapi/uvicorn are imported inside the commands (importing gridmgr stays light).
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from gridmgr.cli._common import console, domain_errors, err_console, print_json
from gridmgr.i18n import t

users_app = typer.Typer(
    help="服务用户与 API 令牌 / service users and API tokens", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``users`` group to the ``gridmgr`` app."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址 / bind address"),
    port: int = typer.Option(8000, "--port", help="端口 / port"),
    workers: int = typer.Option(1, "--workers", help="进程数 / worker processes"),
) -> None:
    """启动网格化管理网页与 API 服务 / Run the web pages and the API (uvicorn).

    SQLite ``./gridmgr.db`` by default; PostGIS when GRIDMGR_DATABASE_URL is set. Production:
    GRIDMGR_ENV=production and a random GRIDMGR_SECRET_KEY (placeholders are refused).
    """
    import uvicorn

    from api.settings import ServiceSettings

    settings = ServiceSettings()
    try:
        settings.check()
    except RuntimeError as exc:
        err_console.print(f"[bold red]{t('错误', 'error')}[/]: {exc}", highlight=False)
        raise typer.Exit(1) from None
    err_console.print(
        t(
            f"gridmgr 服务: http://{host}:{port}/ （API 文档 /api/docs）",
            f"gridmgr service: http://{host}:{port}/ (API docs /api/docs)",
        )
    )
    try:
        no_users = len(_store().users()) == 0
    except Exception:  # noqa: BLE001  the service reports store problems itself (/healthz)
        no_users = False
    if no_users:
        err_console.print(
            t(
                "尚无用户：先创建管理员，例如 `echo 密码 | gridmgr users add admin --role admin --password-stdin`",
                "no users yet: create an admin first, e.g. `echo PASSWORD | gridmgr users add admin --role admin --password-stdin`",
            )
        )
    uvicorn.run(
        "api.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="info",
    )


def _store() -> Any:
    from gridmgr.store import open_store

    store = open_store()
    if store.backend == "sqlite" and store.revision() is None:
        store.upgrade()
    return store


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="用户名 / user name"),
    role: str = typer.Option(..., "--role", help="admin|planner|leader|viewer"),
    leader: str = typer.Option(None, "--leader", help="领导编号（角色 leader 必填）/ leader id"),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="从标准输入读取网页登录密码 / read a login password from stdin",
    ),
) -> None:
    """新建用户并打印其 API 令牌（只显示一次）/ Create a user; prints their API token once."""
    from api import security

    pw_hash = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if len(password) < 8:
            err_console.print(t("密码至少 8 位", "the password needs at least 8 characters"))
            raise typer.Exit(1)
        pw_hash = security.hash_password(password)
    with domain_errors():
        store = _store()
        uid = store.add_user(name, role, leader_id=leader, password_hash=pw_hash)
        token = security.new_token()
        store.add_token(uid, security.hash_token(token), name="cli")
    err_console.print(
        t(
            f"已创建用户 {name}（{role}）。API 令牌如下，只显示这一次：",
            f"user {name} ({role}) created. Its API token (shown once):",
        )
    )
    sys.stdout.write(token + "\n")


@users_app.command("token")
def users_token(name: str = typer.Argument(..., help="用户名 / user name")) -> None:
    """为用户签发新的 API 令牌 / Issue another API token for a user."""
    from api import security
    from gridmgr.errors import NotFoundError

    with domain_errors():
        store = _store()
        row = store.get_user(name)
        if row is None:
            raise NotFoundError(
                t(
                    f"用户 {name!r} 不存在；先用 `gridmgr users add` 创建",
                    f"user {name!r} does not exist; create it with `gridmgr users add`",
                )
            )
        token = security.new_token()
        store.add_token(int(row["id"]), security.hash_token(token), name="cli")
    sys.stdout.write(token + "\n")


@users_app.command("list")
def users_list(
    as_json: bool = typer.Option(False, "--json", help="JSON 输出 / JSON output"),
) -> None:
    """列出用户 / List users."""
    from rich.table import Table

    with domain_errors():
        frame = _store().users()
    rows = [
        {
            "id": int(r["id"]),
            "name": r["name"],
            "role": r["role"],
            "leader_id": r["leader_id"],
            "active": bool(r["active"]),
        }
        for r in frame.to_dict("records")
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(t("用户", "Users"))
    for col in ("id", "name", "role", "leader_id", "active"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            *(
                str(r[c]) if r[c] is not None else ""
                for c in ("id", "name", "role", "leader_id", "active")
            )
        )
    console.print(table)
