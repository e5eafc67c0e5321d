"""``gridmgr serve``: run the web pages and the HTTP API (uvicorn).

The service (``api``) is started by its import string, so the CLI never imports it; fastapi and
uvicorn are imported inside the command (importing gridmgr stays light).
"""

from __future__ import annotations

import os
from typing import NoReturn

import typer

from gridmgr.accounts import is_loopback
from gridmgr.cli._common import err_console
from gridmgr.i18n import t


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``gridmgr`` app."""
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址 / bind address"),
    port: int = typer.Option(8000, "--port", help="端口 / port"),
    workers: int = typer.Option(1, "--workers", help="进程数 / worker processes"),
) -> None:
    """启动网格化管理网页与 API 服务 / Run the web pages and the API (uvicorn).

    SQLite ``./gridmgr.db`` by default; PostGIS when GRIDMGR_DATABASE_URL is set. Behind HTTPS
    set GRIDMGR_ENV=production (Secure cookies). Sessions are server-side and API tokens random:
    there is no secret to configure.
    """
    try:
        import uvicorn
    except ImportError:
        _missing_extra()
    err_console.print(
        t(
            f"gridmgr 服务: http://{host}:{port}/ （API 文档 /api/docs）",
            f"gridmgr service: http://{host}:{port}/ (API docs /api/docs)",
        )
    )
    _warn_exposure(host)
    _hint_first_user()
    uvicorn.run(
        "api.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="info",
    )


def _missing_extra() -> NoReturn:
    err_console.print(
        t(
            "网页服务需要 api 组件：pip install 'gridmgr[api]'",
            "the web service needs the api extra: pip install 'gridmgr[api]'",
        )
    )
    raise typer.Exit(1)


def _warn_exposure(host: str) -> None:
    """Say so when the service is reachable from other machines over plain HTTP."""
    if is_loopback(host) or os.environ.get("GRIDMGR_ENV", "local") == "production":
        return
    err_console.print(
        t(
            f"注意：监听 {host} 时其他计算机可以访问本服务，而当前为本地开发模式（GRIDMGR_ENV=local），"
            "登录 Cookie 以明文 HTTP 传输。正式使用请在 HTTPS 反向代理之后运行并设置 GRIDMGR_ENV=production；"
            "用 GRIDMGR_ALLOWED_HOSTS 列出用户访问的主机名或地址（默认只接受 localhost）。",
            f"note: on {host} other machines can reach this service, and it runs in local mode "
            "(GRIDMGR_ENV=local): login cookies travel over plain HTTP. For real use, run it behind "
            "an HTTPS reverse proxy with GRIDMGR_ENV=production; list the host names users type in "
            "GRIDMGR_ALLOWED_HOSTS (only localhost is accepted by default).",
        )
    )


def _hint_first_user() -> None:
    """Tell how to create the first admin when the store has no user yet."""
    from gridmgr.cli.users import open_users_store

    try:
        store = open_users_store()
    except Exception:  # noqa: BLE001  the service reports store problems itself (/healthz)
        return
    try:
        no_users = len(store.users()) == 0
    finally:
        store.close()
    if no_users:
        err_console.print(
            t(
                "尚无用户：先创建管理员，例如 `echo 密码 | gridmgr users add admin --role admin --password-stdin`",
                "no users yet: create an admin first, e.g. `echo PASSWORD | gridmgr users add admin --role admin --password-stdin`",
            )
        )
