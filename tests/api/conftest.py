"""Fixtures of the API tests: a loaded store on both backends, users of every role, clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apihelpers import Api, assign_grid_leaders, make_users, settings
from fastapi.testclient import TestClient


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
