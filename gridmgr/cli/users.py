"""``gridmgr users …``: the service's users, passwords, API tokens and sessions.

Every change that should lock someone out does so at once: a new password, ``disable`` and
``revoke`` end the user's login sessions (``disable`` also revokes their API tokens).
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from gridmgr.cli._common import console, domain_errors, err_console, print_json
from gridmgr.i18n import t, term

app = typer.Typer(help="服务用户与 API 令牌 / service users and API tokens", no_args_is_help=True)

NAME = typer.Argument(..., help="用户名 / user name")
PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="从标准输入读取网页登录密码 / read a login password from stdin"
)


def register(root: typer.Typer) -> None:
    """Add the ``users`` group to the ``gridmgr`` app."""
    root.add_typer(app, name="users")


def open_users_store() -> Any:
    """The store of ``GRIDMGR_DATABASE_URL`` (a fresh SQLite file gets its schema)."""
    from gridmgr.store import open_store

    store = open_store()
    if store.backend == "sqlite" and store.revision() is None:
        store.upgrade()
    return store


def _read_password() -> str:
    from gridmgr.accounts.users import check_password

    password = sys.stdin.readline().rstrip("\r\n")
    with domain_errors():
        check_password(password)
    return password


def _issue_token(store: Any, user_id: int) -> str:
    from gridmgr.accounts import hash_token, new_token

    token = new_token()
    store.add_token(user_id, hash_token(token), name="cli")
    return token


@app.command("add")
def users_add(
    name: str = NAME,
    role: str = typer.Option(..., "--role", help="admin|planner|leader|viewer"),
    leader: str = typer.Option(None, "--leader", help="领导编号（角色 leader 必填）/ leader id"),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """新建用户并打印其 API 令牌（只显示一次）/ Create a user; prints their API token once."""
    from gridmgr.accounts import hash_password

    pw_hash = hash_password(_read_password()) if password_stdin else None
    with domain_errors():
        store = open_users_store()
        uid = store.add_user(name, role, leader_id=leader, password_hash=pw_hash)
        token = _issue_token(store, uid)
    err_console.print(
        t(
            f"已创建用户 {name}（{term('user_role', role)}）。API 令牌如下，只显示这一次：",
            f"user {name} ({role}) created. Its API token (shown once):",
        )
    )
    sys.stdout.write(token + "\n")


@app.command("token")
def users_token(name: str = NAME) -> None:
    """为用户签发新的 API 令牌 / Issue another API token for a user."""
    from gridmgr.errors import NotFoundError

    with domain_errors():
        store = open_users_store()
        row = store.get_user(name)
        if row is None:
            raise NotFoundError(
                t(
                    f"用户 {name!r} 不存在；先用 `gridmgr users add` 创建",
                    f"user {name!r} does not exist; create it with `gridmgr users add`",
                )
            )
        token = _issue_token(store, int(row["id"]))
    sys.stdout.write(token + "\n")


@app.command("passwd")
def users_passwd(name: str = NAME) -> None:
    """设置或重置登录密码（从标准输入读取），并注销其全部会话 / Set or reset a login password
    (read from stdin); ends the user's sessions."""
    from gridmgr.accounts.users import set_password

    password = _read_password()
    with domain_errors():
        ended = set_password(open_users_store(), name, password)
    err_console.print(
        t(
            f"已为 {name} 设置新密码，注销会话 {ended} 个",
            f"new password set for {name}; {ended} session(s) ended",
        )
    )


@app.command("disable")
def users_disable(name: str = NAME) -> None:
    """停用用户：立即注销其会话并吊销其 API 令牌 / Disable a user: ends their sessions and
    revokes their API tokens at once."""
    from gridmgr.accounts.users import set_active

    with domain_errors():
        n = set_active(open_users_store(), name, False)
    err_console.print(
        t(
            f"已停用 {name}：注销会话 {n['sessions']} 个，吊销令牌 {n['tokens']} 个",
            f"{name} disabled: {n['sessions']} session(s) ended, {n['tokens']} token(s) revoked",
        )
    )


@app.command("enable")
def users_enable(name: str = NAME) -> None:
    """重新启用用户（令牌需重新签发）/ Enable a user again (issue a new token if needed)."""
    from gridmgr.accounts.users import set_active

    with domain_errors():
        set_active(open_users_store(), name, True)
    err_console.print(t(f"已启用 {name}", f"{name} enabled"))


@app.command("revoke")
def users_revoke(
    name: str = NAME,
    tokens: bool = typer.Option(
        False, "--tokens", help="同时吊销 API 令牌 / revoke API tokens too"
    ),
) -> None:
    """注销用户的全部会话（可选吊销令牌）/ End all of a user's sessions (and tokens)."""
    from gridmgr.accounts.users import revoke

    with domain_errors():
        n = revoke(open_users_store(), name, tokens=tokens)
    err_console.print(
        t(
            f"{name}：注销会话 {n['sessions']} 个，吊销令牌 {n['tokens']} 个",
            f"{name}: {n['sessions']} session(s) ended, {n['tokens']} token(s) revoked",
        )
    )


@app.command("list")
def users_list(
    as_json: bool = typer.Option(False, "--json", help="JSON 输出 / JSON output"),
) -> None:
    """列出用户 / List users."""
    with domain_errors():
        frame = open_users_store().users()
    cols = ("id", "name", "role", "leader_id", "active")
    rows = [
        {
            "id": int(r["id"]),
            "name": r["name"],
            "role": r["role"],
            "leader_id": r["leader_id"] if isinstance(r["leader_id"], str) else None,
            "active": bool(r["active"]),
        }
        for r in frame.to_dict("records")
    ]
    if as_json:
        print_json(rows)
        return
    _print_table(rows, cols)


def _print_table(rows: list[dict[str, Any]], cols: tuple[str, ...]) -> None:
    from rich.table import Table

    heads = {
        "id": ("编号", "id"),
        "name": ("用户名", "name"),
        "role": ("角色", "role"),
        "leader_id": ("关联领导", "leader"),
        "active": ("状态", "active"),
    }
    table = Table(title=t("用户", "Users"))
    for col in cols:
        table.add_column(t(*heads[col]))
    for r in rows:
        table.add_row(*(_cell(c, r[c]) for c in cols))
    console.print(table)


def _cell(col: str, value: Any) -> str:
    """A user-table cell as a person reads it: roles by name, 启用/停用."""
    if value is None:
        return ""
    if col == "role":
        return term("user_role", str(value))
    if col == "active":
        return t("启用", "active") if value else t("停用", "disabled")
    return str(value)
