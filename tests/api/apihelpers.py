"""Helpers of the API tests: users of every role, a client wrapper (imported by conftest)."""

from __future__ import annotations

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
