"""Shared CLI plumbing: console, error rendering, progress bars, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from gridmgr.errors import GridMgrError
from gridmgr.i18n import t

# Piped or captured output gets a wide fixed width so tables of Chinese names stay readable in
# logs and files; a terminal keeps its own width.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def explain(exc: BaseException) -> str | None:
    """A one-line, user-facing explanation of an environment error, or ``None`` if unknown.

    Covers what a user can cause and fix without reading a traceback: output paths that cannot be
    written, a database that cannot be reached, a database URL naming a driver that is not
    installed.
    """
    if isinstance(exc, GridMgrError):
        return str(exc)
    if isinstance(
        exc,
        (
            FileExistsError,
            NotADirectoryError,
            IsADirectoryError,
            PermissionError,
            FileNotFoundError,
        ),
    ):
        where = getattr(exc, "filename", None) or ""
        return t(
            f"无法写入或读取 {where}：{exc.strerror}（请检查路径：上级目录必须是目录且可写）",
            f"cannot read or write {where}: {exc.strerror} (check the path: its parent must be a writable directory)",
        )
    name = type(exc).__module__ + "." + type(exc).__name__
    if name.startswith("sqlalchemy.exc.") and "OperationalError" in name:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else name
        return t(
            f"无法连接数据库：{first}（检查 GRIDMGR_DATABASE_URL / --database-url 与数据库服务）",
            f"cannot reach the database: {first} (check GRIDMGR_DATABASE_URL / --database-url and the server)",
        )
    if name.startswith("sqlalchemy.exc.") and (
        "NoSuchModuleError" in name or "ArgumentError" in name
    ):
        return t(
            f"数据库地址无效：{exc}（PostgreSQL 请用 postgresql+psycopg2://用户@主机:端口/库，SQLite 用 sqlite:///文件）",
            f"invalid database URL: {exc} (use postgresql+psycopg2://user@host:port/db or sqlite:///file)",
        )
    if isinstance(exc, ModuleNotFoundError) and exc.name in {
        "psycopg",
        "pymysql",
        "MySQLdb",
        "asyncpg",
    }:
        return t(
            f"数据库驱动 {exc.name} 未安装；PostgreSQL 请用 postgresql+psycopg2://…",
            f"database driver {exc.name} is not installed; for PostgreSQL use postgresql+psycopg2://…",
        )
    return None


def run(app: typer.Typer) -> None:
    """Run ``app``; a domain or environment error prints one clear line to stderr and exits 1."""
    try:
        app(standalone_mode=True)
    except Exception as exc:  # pragma: no cover - exercised through subprocess tests
        message = explain(exc)
        if message is None:
            raise
        err_console.print(
            f"[bold red]{t('错误', 'error')}[/]: {message}", highlight=False, soft_wrap=True
        )
        sys.exit(1)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a domain or environment error raised inside the block into a clean CLI failure."""
    try:
        yield
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        err_console.print(
            f"[bold red]{t('错误', 'error')}[/]: {message}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None


def print_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (UTF-8, Chinese kept readable)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def progress_enabled() -> bool:
    """Progress bars only when stderr is a terminal."""
    return err_console.is_terminal


@contextmanager
def shown_warnings() -> Iterator[None]:
    """Show gridmgr's data warnings (e.g. a layer that looks like GCJ-02) as clear CLI lines."""
    import warnings

    from gridmgr.errors import CRSSuspicionWarning, HierarchyWarning

    shown = (CRSSuspicionWarning, HierarchyWarning)
    with warnings.catch_warnings(record=True) as caught:
        for category in shown:
            warnings.simplefilter("always", category)
        yield
    for w in caught:
        if issubclass(w.category, shown):
            err_console.print(
                f"[bold yellow]{t('警告', 'warning')}[/]: {w.message}",
                highlight=False,
                soft_wrap=True,
            )
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


#: Options shared by the commands that work on the store.
DB_OPT = typer.Option(
    None,
    "--database-url",
    envvar="GRIDMGR_DATABASE_URL",
    help="数据库（默认 sqlite:///./gridmgr.db）/ store URL",
)
JSON_OPT = typer.Option(False, "--json", help="以 JSON 输出 / print JSON")
#: Text encoding of input files that declare none (see docs/ingestion.md).
ENCODING_OPT = typer.Option(
    None,
    "--encoding",
    help="输入文件编码（未声明时自动识别 UTF-8/GB18030/Big5）：gb18030、big5 … / input encoding",
)


def actor_default(actor: str | None = None) -> str:
    """Who does it: ``actor``, else ``$GRIDMGR_ACTOR``, else the login name of this account."""
    import getpass
    import os

    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: say so rather than "cli"
        login = f"uid-{os.getuid()}"
    return actor or os.environ.get("GRIDMGR_ACTOR") or login


def sqlite_file(url: str | None) -> Path | None:
    """The file of a SQLite store URL (``None`` for another backend or an in-memory database).

    >>> sqlite_file("sqlite:///data/x.db").as_posix()
    'data/x.db'
    >>> sqlite_file("sqlite:///:memory:") is None, sqlite_file("postgresql://h/db") is None
    (True, True)
    """
    from gridmgr import settings

    raw = url or settings.database_url()
    if not raw.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    db = make_url(raw).database
    return None if not db or db == ":memory:" or db.startswith("file:") else Path(db)


def require_existing(url: str | None) -> None:
    """Refuse a SQLite store whose file does not exist: reading never creates a database.

    Only ``gridmgr db upgrade`` and ``gridmgr load`` create one (``opened_store(create=True)``).
    """
    from gridmgr.errors import SchemaError

    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise SchemaError(
            t(
                f"数据库文件 {path} 不存在（未新建）：先运行 `gridmgr db upgrade` 建库，"
                "或 `gridmgr load --layers 目录` 建库并写入图层；也请检查 --database-url",
                f"the database file {path} does not exist (not created): run `gridmgr db upgrade` "
                "or `gridmgr load --layers DIR` first, or check --database-url",
            )
        )


@contextmanager
def opened_store(url: str | None, *, create: bool = False) -> Iterator[Any]:
    """The store at ``url`` (default: settings), closed afterwards; errors become CLI failures.

    A missing SQLite file is refused (:func:`require_existing`) unless ``create`` (the commands
    that build a database: ``db upgrade``, ``load``).
    """
    from gridmgr.store import open_store

    with domain_errors():
        if not create:
            require_existing(url)
        store = open_store(url)
        try:
            yield store
        finally:
            store.close()
