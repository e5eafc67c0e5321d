"""The account examples of docs/api.md and README.md run as written on the shipped data."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[3]


def _user_commands() -> list[tuple[str | None, list[str]]]:
    """``(stdin, argv)`` of every ``gridmgr users …`` line in the docs' shell blocks."""
    out = []
    for doc in (ROOT / "docs" / "api.md", ROOT / "README.md"):
        for block in re.findall(r"```(?:sh|bash)\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            for line in block.splitlines():
                line = line.split("  #")[0].strip()
                m = re.match(r"(?:echo '([^']*)' \| )?gridmgr (users .*)", line)
                if m:
                    out.append((m.group(1), shlex.split(m.group(2))))
    adds: set[str] = set()
    unique = []
    for stdin, argv in out:  # both documents add the same first admin: create each user once
        if argv[1] == "add":
            if argv[2] in adds:
                continue
            adds.add(argv[2])
        unique.append((stdin, argv))
    return unique


def test_the_documented_user_commands_run_on_the_shipped_data(store_url: str) -> None:
    from gridmgr import settings
    from gridmgr.cli import app
    from gridmgr.io import read_layers
    from gridmgr.store import open_store

    store = open_store(store_url)
    store.upgrade()
    store.load_layers(read_layers(settings.DEFAULT_LAYERS), actor="test")
    store.import_leaders(settings.DEFAULT_LAYERS / "leaders_sample.csv", actor="test")
    commands = _user_commands()
    assert len(commands) >= 3  # the docs show at least the admin, the leader and one more
    runner = CliRunner()
    for stdin, argv in commands:
        result: Any = runner.invoke(
            app,
            argv,
            input=(stdin + "\n") if stdin else None,
            env={"GRIDMGR_DATABASE_URL": store_url},
        )
        assert result.exit_code == 0, (argv, result.output)
    names = set(store.users()["name"])
    store.close()
    assert {"admin", "zhang"} <= names
