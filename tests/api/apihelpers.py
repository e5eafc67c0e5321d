"""Helpers of the API tests: users of every role, a client wrapper (imported by conftest)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

PASSWORD = "correct-horse-battery"
_PW_HASH: str | None = None
ROLE_NAMES = ("anonymous", "viewer", "leader", "planner", "admin")


@dataclass
class Api:
    """A running app over a loaded store, with one token per role."""

    client: TestClient
    store: Any
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        """``Authorization`` header of ``role`` (none for anonymous)."""
        tok = self.tokens.get(role)
        return {} if tok is None else {"Authorization": f"Bearer {tok}"}

    def as_(self, role: str, method: str, url: str, **kw: Any) -> Any:
        headers = {**self.headers(role), **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)


def assign_grid_leaders(store: Any) -> None:
    """Give each community's pieces to its two grid leaders (first half / second half)."""
    from gridmgr.store import Change

    pieces = store.pieces(geometry=False).sort_values("id")
    changes = []
    for code, group in pieces.groupby("unit_code"):
        i = int(str(code)[-3:])
        half = len(group) // 2
        for k, pid in enumerate(group["id"].tolist()):
            changes.append(Change(int(pid), f"G{i:02d}_{1 if k < half else 2}"))
    store.apply_changes(changes, actor="test", reason="initial")


def make_users(store: Any) -> dict[str, str]:
    """Users ``admin``, ``planner``, ``viewer``, ``leader`` (G01_1), ``leader2`` (G02_1) with the
    password :data:`PASSWORD`; returns their API tokens by role."""
    from gridmgr.accounts import credentials as security

    global _PW_HASH
    if _PW_HASH is None:  # Argon2id is slow on purpose: hash the shared test password once
        _PW_HASH = security.hash_password(PASSWORD)
    tokens = {}
    for name, role, leader in (
        ("admin", "admin", None),
        ("planner", "planner", None),
        ("viewer", "viewer", None),
        ("leader", "leader", "G01_1"),
        ("leader2", "leader", "G02_1"),
    ):
        uid = store.add_user(name, role, leader_id=leader, password_hash=_PW_HASH)
        tok = security.new_token()
        store.add_token(uid, security.hash_token(tok))
        tokens[name] = tok
    return tokens


def settings(**kw: Any) -> Any:
    from api.settings import ServiceSettings

    kw.setdefault("allowed_hosts", ["testserver", "localhost"])  # TestClient's host
    return ServiceSettings(env="local", access_log=False, database_url=None, **kw)


def cells_held(store: Any, leader_id: str) -> list[str]:
    """The cells held by a leader (sorted)."""
    pieces = store.pieces(geometry=False)
    return sorted(set(pieces.loc[pieces["leader_id"] == leader_id, "cell"].astype(str)))


def root_conftest(config: pytest.Config) -> Any:
    """The module of tests/conftest.py (its data builders are plain functions)."""
    want = Path(__file__).resolve().parents[1] / "conftest.py"
    for mod in config.pluginmanager.get_plugins():
        if getattr(mod, "__file__", None) and Path(mod.__file__).resolve() == want:
            return mod
    raise AssertionError("tests/conftest.py is not loaded")


# --- a real server and browser for the Chromium tests ---------------------------------------

CHROMIUM = os.environ.get("GRIDMGR_CHROMIUM", "/usr/bin/chromium")
#: Flags for Debian's Chromium as root on a machine without a network beyond loopback.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


def require_chromium() -> None:
    """Skip without Chromium on a laptop; under ``CI=true`` its absence is a failure."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{CHROMIUM} is missing under CI=true (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} not installed")


def seeded_store(config: pytest.Config, folder: Path) -> tuple[str, dict[str, str]]:
    """A SQLite store in ``folder`` with the tiny layers, leaders on their ground and users;
    returns its URL and the users' API tokens."""
    from gridmgr.store import open_store

    root = root_conftest(config)
    url = f"sqlite:///{folder / 'gridmgr.db'}"
    store = open_store(url)
    store.upgrade()
    store.load_layers(root._layers(2), res=10, actor="test")
    store.import_leaders(root.write_leaders_csv(folder / "leaders.csv", 2, 2), actor="test")
    assign_grid_leaders(store)
    tokens = make_users(store)
    store.close()
    return url, tokens


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_server(url: str, **env: str) -> Iterator[str]:
    """``uvicorn api.main:app_from_env`` on a free loopback port over ``url``; yields its base URL.

    ``env`` adds or overrides ``GRIDMGR_*`` variables (an empty value removes one).
    """
    full = {**os.environ, "GRIDMGR_DATABASE_URL": url, "GRIDMGR_ENV": "local"}
    full.update(GRIDMGR_ACCESS_LOG="false", PYTHONPATH=str(ROOT), **env)
    full = {k: v for k, v in full.items() if v != ""}
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", "api.main:app_from_env", "--factory"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_healthy(base: str) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the server did not start in 30 s")
