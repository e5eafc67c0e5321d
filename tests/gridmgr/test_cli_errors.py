"""Environment errors a user can cause become one clear line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _gridmgr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from gridmgr.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["leaders", "list", "--database-url", "postgresql://nobody@127.0.0.1:1/x"], "psycopg2"),
        (
            ["leaders", "list", "--database-url", "postgresql+psycopg2://nobody@127.0.0.1:1/x"],
            "127.0.0.1",
        ),
        (
            [
                "--lang",
                "en",
                "leaders",
                "list",
                "--database-url",
                "postgresql+psycopg2://nobody@127.0.0.1:1/x",
            ],
            "cannot reach the database",
        ),
    ],
)
def test_database_errors_are_one_line(args: list[str], fragment: str, tmp_path: Path) -> None:
    proc = _gridmgr(*args, cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert fragment in proc.stderr


def test_output_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    proc = _gridmgr(
        "grid",
        "build",
        "--layers",
        str(Path(__file__).resolve().parents[2] / "layers" / "changchun_hitech"),
        "--res",
        "8",
        "--out",
        str(blocker / "sub"),
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert str(blocker) in proc.stderr
