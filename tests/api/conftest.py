"""Fixtures of the API tests: a loaded store on both backends, users of every role, clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

PASSWORD = "correct-horse-battery"
ROLES = ("anonymous", "viewer", "leader", "planner", "admin")


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
    from api import security

    tokens = {}
    for name, role, leader in (("admin", "admin", None), ("planner", "planner", None),
                               ("viewer", "viewer", None), ("leader", "leader", "G01_1"),
                               ("leader2", "leader", "G02_1")):
        uid = store.add_user(name, role, leader_id=leader,
                             password_hash=security.hash_password(PASSWORD))
        tok = security.new_token()
        store.add_token(uid, security.hash_token(tok))
        tokens[name] = tok
    return tokens


def settings(**kw: Any) -> Any:
    from api.settings import ServiceSettings

    return ServiceSettings(env="local", access_log=False, database_url=None, **kw)


@pytest.fixture
def api(loaded_store: Any) -> Iterator[Api]:
    """The service over two tiny communities with grid leaders assigned, on each backend."""
    from api.main import create_app

    assign_grid_leaders(loaded_store)
    tokens = make_users(loaded_store)
    app = create_app(settings(), store=loaded_store)
    with TestClient(app) as client:
        yield Api(client, loaded_store, tokens)


@pytest.fixture
def cells_of(api: Api) -> Callable[[str], list[str]]:
    """``cells_of(leader_id)``: the cells held by a leader (sorted)."""

    def get(leader_id: str) -> list[str]:
        pieces = api.store.pieces(geometry=False)
        return sorted(set(pieces.loc[pieces["leader_id"] == leader_id, "cell"].astype(str)))

    return get


@pytest.fixture
def shipped_leaders() -> Path:
    from gridmgr import settings as gs

    return gs.DEFAULT_LAYERS / "leaders_sample.csv"
