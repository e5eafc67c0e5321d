"""Shared CLI plumbing: console, error rendering, progress bars, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from gridmgr.errors import GridMgrError
from gridmgr.i18n import t

console = Console()
err_console = Console(stderr=True)


def run(app: typer.Typer) -> None:
    """Run ``app``; a :class:`GridMgrError` prints one clear line to stderr and exits 1."""
    try:
        app(standalone_mode=True)
    except GridMgrError as exc:  # pragma: no cover - exercised through CliRunner tests
        err_console.print(f"[bold red]{t('错误', 'error')}[/]: {exc}", highlight=False)
        sys.exit(1)


def fail(exc: GridMgrError) -> None:
    """Print a domain error and exit with status 1 (for commands run via CliRunner)."""
    err_console.print(f"[bold red]{t('错误', 'error')}[/]: {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a :class:`GridMgrError` raised inside the block into a clean CLI failure."""
    try:
        yield
    except GridMgrError as exc:
        fail(exc)


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

    from gridmgr.errors import CRSSuspicionWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CRSSuspicionWarning)
        yield
    for w in caught:
        if issubclass(w.category, CRSSuspicionWarning):
            err_console.print(f"[bold yellow]{t('警告', 'warning')}[/]: {w.message}", highlight=False, soft_wrap=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
