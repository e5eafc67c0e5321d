"""The ``gridmgr`` command line: a thin shell over the library.

One module per command group (``grid``, ``store`` …) so several people can work on the CLI at
once; this module only assembles them. User-facing text is Chinese first (``--lang en``).
"""

from __future__ import annotations

import typer

from gridmgr.cli import _common
from gridmgr.cli import grid as _grid

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
    lang: str = typer.Option(None, "--lang", help="界面语言 zh|en / UI language zh|en"),
) -> None:
    from gridmgr import i18n

    i18n.set_language(lang)


app.add_typer(_grid.app, name="grid")

# Command groups registered by their own modules (each module owns its commands).
for _name in ("store", "coverage", "rebalance", "maps", "serve", "pipeline"):
    try:
        _mod = __import__(f"gridmgr.cli.{_name}", fromlist=["register"])
    except ModuleNotFoundError as exc:  # pragma: no cover - a group not built yet
        if exc.name != f"gridmgr.cli.{_name}":
            raise
        continue
    _mod.register(app)


def main() -> None:
    """Console-script entry point: run the app, turning domain errors into clear messages."""
    _common.run(app)
