"""The ``gridmgr`` command line: a thin shell over the library.

One module per command group (``grid``, ``store`` …) so several people can work on the CLI at
once; this module only assembles them. User-facing text is Chinese first (``--lang en``).
"""

from __future__ import annotations

import typer

from gridmgr.cli import _common
from gridmgr.cli import coverage as _coverage
from gridmgr.cli import export as _export
from gridmgr.cli import grid as _grid
from gridmgr.cli import maps as _maps
from gridmgr.cli import patrols as _patrols
from gridmgr.cli import pipeline as _pipeline
from gridmgr.cli import problems as _problems
from gridmgr.cli import rebalance as _rebalance
from gridmgr.cli import records as _records
from gridmgr.cli import serve as _serve
from gridmgr.cli import store as _store
from gridmgr.cli import users as _users

app = typer.Typer(
    name="gridmgr",
    help="gridmgr 网格化管理工具：H3 网格、包保领导、覆盖缺口、负载再平衡、巡查地图。"
    " / Grid management: H3 grid, leaders, coverage gaps, rebalancing, patrol maps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    lang: str = typer.Option(
        None, "--lang", help="界面语言 zh|en / UI language zh|en", metavar="zh|en"
    ),
) -> None:
    from gridmgr import i18n

    if lang is not None and lang.lower() not in {"zh", "en", "zh-cn", "en-us"}:
        raise typer.BadParameter(
            f"--lang {lang!r}: 只支持 zh 或 en / only zh or en", param_hint="--lang"
        )
    i18n.set_language(lang)


app.add_typer(_grid.app, name="grid")
# Each command group lives in its own module and adds itself with ``register(app)``; the
# modules import their heavy libraries inside the commands, so ``gridmgr --help`` stays fast.
for _module in (
    _store,
    _records,
    _coverage,
    _rebalance,
    _maps,
    _export,
    _serve,
    _users,
    _patrols,
    _pipeline,
    _problems,
):
    _module.register(app)


def main() -> None:
    """Console-script entry point: run the app, turning domain errors into clear messages."""
    _common.run(app)
