"""Every notebook in ``notebooks/`` runs top to bottom, offline, with warnings as errors.

Each notebook is executed with nbclient in a fresh kernel against a fresh SQLite store in a
temporary directory (``GRIDMGR_DATABASE_URL``). A setup cell injected here (never stored in the
notebook) turns warnings into errors and cuts the kernel off from the network: any socket
connection to a non-loopback address is recorded and refused, so a tile or CDN fetch fails the
cell. Maps are rendered to self-contained HTML only. A failing cell fails the test.

The stored notebooks are checked too: no outputs, ``execution_count`` null, English headings and
Chinese narrative, no warning filters that would hide problems.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = (
    "01_grid.ipynb",
    "02_assignment_and_coverage.ipynb",
    "03_rebalance.ipynb",
    "04_patrol_and_briefing.ipynb",
)

SETUP = """
import socket as _gm_socket
import warnings as _gm_warnings

_gm_warnings.resetwarnings()
_gm_warnings.simplefilter("error")
_GRIDMGR_NET_ATTEMPTS = []
_gm_loopback = ("127.", "::1", "localhost", "0.0.0.0")


def _gm_local(host):
    return isinstance(host, str) and (host.startswith(_gm_loopback) or host == "")


def _gm_guard(orig):
    def connect(self, address):
        if self.family in (_gm_socket.AF_INET, _gm_socket.AF_INET6) and not _gm_local(address[0]):
            _GRIDMGR_NET_ATTEMPTS.append(repr(address))
            raise OSError(f"network access is disabled in the notebook tests: {address!r}")
        return orig(self, address)
    return connect


_gm_socket.socket.connect = _gm_guard(_gm_socket.socket.connect)
_gm_socket.socket.connect_ex = _gm_guard(_gm_socket.socket.connect_ex)
_gm_getaddrinfo = _gm_socket.getaddrinfo


def _gm_resolve(host, *args, **kwargs):
    if host is not None and not _gm_local(host if isinstance(host, str) else host.decode()):
        _GRIDMGR_NET_ATTEMPTS.append(f"resolve {host!r}")
        raise OSError(f"network access is disabled in the notebook tests: {host!r}")
    return _gm_getaddrinfo(host, *args, **kwargs)


_gm_socket.getaddrinfo = _gm_resolve
"""

TEARDOWN = """
import json as _gm_json
_gm_warnings.resetwarnings()  # every stored cell ran with warnings as errors; let the kernel shut down quietly
print("GRIDMGR-NET " + _gm_json.dumps(_GRIDMGR_NET_ATTEMPTS))
"""


def _execute(nb: object, cwd: Path, *, allow_errors: bool = False) -> None:
    """Run ``nb`` in a fresh kernel in ``cwd`` with the guard cells around it."""
    nb.cells.insert(0, nbformat.v4.new_code_cell(SETUP))
    nb.cells.append(nbformat.v4.new_code_cell(TEARDOWN))
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()


def _outputs(nb: object) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def test_all_notebooks_present() -> None:
    names = tuple(p.name for p in NOTEBOOKS)
    for name in EXPECTED:
        assert name in names, f"notebooks/{name} is missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i}: outputs must be stripped"
            assert cell.get("execution_count") is None, (
                f"{path.name} cell {i}: execution_count must be null"
            )
            src = cell.source
            assert not re.search(r"(simplefilter|filterwarnings)\(\s*['\"]ignore", src), (
                f"{path.name} cell {i}: warnings must not be silenced"
            )
            # worked examples use the public API only, and no machine-specific paths
            assert not re.search(r"gridmgr(\.\w+)*\._\w+|import _\w+", src), (
                f"{path.name} cell {i}: uses a private gridmgr module or function"
            )
            assert not re.search(r"['\"]/(work|home|root|tmp)/", src), (
                f"{path.name} cell {i}: absolute path"
            )
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    headings = [ln for s in md for ln in s.splitlines() if ln.startswith("#")]
    assert headings, f"{path.name}: no headings"
    for h in headings:
        assert re.search(r"[A-Za-z]{3}", h), f"{path.name}: heading {h!r} has no English"
    assert sum(len(re.findall(r"[\u4e00-\u9fff]", s)) for s in md) > 100, (
        f"{path.name}: the narrative must be in Chinese"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "gridmgr.db"
    monkeypatch.setenv("GRIDMGR_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("GRIDMGR_TIANDITU_KEY", raising=False)
    monkeypatch.delenv("GRIDMGR_LANG", raising=False)
    nb = nbformat.read(path, as_version=4)
    n_stored = len(nb.cells)
    _execute(nb, tmp_path)  # a failing cell raises CellExecutionError

    assert len(nb.cells) == n_stored + 2
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.execution_count is not None, f"{path.name}: cell {i} did not run"
            for out in cell.get("outputs", []):
                assert out.get("output_type") != "error", f"{path.name}: cell {i} failed"
                if out.get("name") == "stderr":
                    assert "Warning" not in out.get("text", ""), (
                        f"{path.name}: cell {i} wrote a warning: {out['text'][:300]}"
                    )
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    match = re.search(r"GRIDMGR-NET (.*)", last)
    assert match, "the network guard did not report"
    assert json.loads(match.group(1)) == [], f"{path.name} tried to reach the network"

    # maps are self-contained HTML: no script or stylesheet fetched from the network
    html = [o["data"]["text/html"] for o in _outputs(nb) if "text/html" in o.get("data", {})]
    for page in html:
        text = page if isinstance(page, str) else "".join(page)
        assert not re.search(r"<script[^>]+src=(\"|&quot;)https?:", text), (
            "map loads a remote script"
        )
    # the store the notebook used is the fresh one the test gave it (when it uses a store)
    if "open_store" in "".join(c.source for c in nb.cells):
        assert db.exists() and db.stat().st_size > 0, (
            f"{path.name} did not use GRIDMGR_DATABASE_URL"
        )


def test_guard_refuses_network_and_warnings(tmp_path: Path) -> None:
    """The injected setup really fails a cell that warns or reaches the network."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import warnings\nwarnings.warn('stale tile cache', UserWarning)"
        ),
        nbformat.v4.new_code_cell(
            "import socket\nsocket.create_connection(('203.0.113.7', 80), timeout=0.5)"
        ),
        nbformat.v4.new_code_cell(
            "import urllib.request\nurllib.request.urlopen('https://tile.openstreetmap.org/0/0/0.png', timeout=0.5)"
        ),
        nbformat.v4.new_code_cell("print('still alive')"),
    ]
    _execute(nb, tmp_path, allow_errors=True)
    errors = [[o for o in c.outputs if o.get("output_type") == "error"] for c in nb.cells[1:4]]
    assert errors[0] and errors[0][0]["ename"] == "UserWarning"
    assert errors[1] and "network access is disabled" in errors[1][0]["evalue"]
    assert errors[2], "an HTTP fetch must fail"
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    attempts = json.loads(re.search(r"GRIDMGR-NET (.*)", last).group(1))
    assert any("203.0.113.7" in a for a in attempts)
    assert any("openstreetmap" in a for a in attempts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_cli_lines_in_narrative_exist(path: Path) -> None:
    """Every `gridmgr …` the narrative quotes names a real command and only its options."""
    import shlex

    import typer.main

    from gridmgr.cli import app

    root = typer.main.get_command(app)
    nb = nbformat.read(path, as_version=4)
    quoted = [
        q
        for c in nb.cells
        if c.cell_type == "markdown"
        for q in re.findall(r"`(gridmgr [^`]+)`", c.source)
    ]
    assert quoted, f"{path.name}: the narrative should show the equivalent CLI commands"
    for line in quoted:
        argv = shlex.split(line)[1:]
        cmd, words = root, []
        while hasattr(cmd, "get_command") and argv and not argv[0].startswith("-"):
            sub = cmd.get_command(None, argv[0])
            assert sub is not None, (
                f"{path.name}: `{line}`: no command {' '.join([*words, argv[0]])!r}"
            )
            words.append(argv.pop(0))
            cmd = sub
        assert not hasattr(cmd, "get_command"), f"{path.name}: `{line}` names a group"
        known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        for w in argv:
            if w.startswith("--"):
                assert w.split("=", 1)[0] in known, f"{path.name}: `{line}`: no option {w}"
