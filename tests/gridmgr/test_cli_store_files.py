"""Reading commands never create a database; ``load`` and ``db upgrade`` do (issue 16, item 8).

``--lang en`` and a units layer with overlapping communities: ``load`` refuses it naming the
option, ``load --allow-overlaps`` loads it and says so.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _gridmgr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from gridmgr.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["coverage", "--json"],
        ["units"],
        ["map", "overview", "--out", "o.html"],
        ["export", "briefing", "--out", "b.xlsx"],
        ["leaders", "list"],
    ],
)
def test_reading_a_missing_sqlite_file_refuses_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    r = _gridmgr(*command, "--database-url", "sqlite:///new.db", cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "new.db" in r.stderr and "gridmgr db upgrade" in r.stderr and "gridmgr load" in r.stderr
    assert not (tmp_path / "new.db").exists()


def test_db_upgrade_creates_the_file(tmp_path: Path) -> None:
    r = _gridmgr("db", "upgrade", "--database-url", "sqlite:///made.db", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "made.db").is_file()
    r = _gridmgr("coverage", "--json", "--database-url", "sqlite:///made.db", cwd=tmp_path)
    assert r.returncode == 0, r.stderr  # an empty store has an (empty) coverage report


def test_load_refuses_overlaps_unless_asked(tmp_path: Path) -> None:
    import json

    from gridmgr import settings

    layers = tmp_path / "layers"
    layers.mkdir()
    for name in ("departments.json", "key_places.geojson"):
        (layers / name).write_bytes((settings.DEFAULT_LAYERS / name).read_bytes())
    units = json.loads((settings.DEFAULT_LAYERS / "units.geojson").read_text(encoding="utf-8"))
    comms = [f for f in units["features"] if f["properties"].get("level") == "community"]
    # the second community gets the first one's outline: siblings overlapping entirely
    comms[1]["geometry"] = comms[0]["geometry"]
    (layers / "units.geojson").write_text(json.dumps(units, ensure_ascii=False), encoding="utf-8")
    url = "sqlite:///x.db"
    r = _gridmgr(
        "--lang", "en", "load", "--layers", str(layers), "--database-url", url, cwd=tmp_path
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "--allow-overlaps" in r.stderr and "overlap" in r.stderr
    assert str(comms[1]["properties"]["code"]) in r.stderr
    r = _gridmgr(
        "--lang",
        "en",
        "load",
        "--layers",
        str(layers),
        "--allow-overlaps",
        "--database-url",
        url,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "overlap" in r.stderr
