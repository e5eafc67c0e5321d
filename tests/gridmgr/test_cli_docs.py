"""docs/cli.md is generated from the CLI; it must match the commands as they are."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current(tmp_path: Path) -> None:
    out = tmp_path / "cli.md"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "typer",
            "gridmgr.cli",
            "utils",
            "docs",
            "--name",
            "gridmgr",
            "--title",
            "gridmgr CLI reference (命令参考)",
            "--output",
            str(out),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    committed = (ROOT / "docs" / "cli.md").read_text("utf-8")
    assert out.read_text("utf-8") == committed, "docs/cli.md is stale: run scripts/gen-cli-docs.sh"
