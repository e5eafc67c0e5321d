"""Fixtures of the API tests: a loaded store on both backends, users of every role, clients."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apihelpers import Api, assign_grid_leaders, cells_held, make_users, root_conftest, settings
from fastapi.testclient import TestClient


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def shared_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """Like ``api`` but built once per test module and backend — for tests that only read."""
    from sqlalchemy import create_engine

    from api.main import create_app
    from gridmgr.store import open_store
    from gridmgr.store.schema import DATA_TABLES

    root = root_conftest(request.config)
    tmp = tmp_path_factory.mktemp("shared_api")
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        shutil.copyfile(template, tmp / "gridmgr.db")
        url = f"sqlite:///{tmp / 'gridmgr.db'}"
    else:
        url = request.getfixturevalue("_migrated_postgis")
        eng = create_engine(url)
        names = ", ".join(eng.dialect.identifier_preparer.quote(t.name) for t in DATA_TABLES)
        with eng.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        eng.dispose()
    store = open_store(url)
    store.load_layers(root._layers(2), res=10, actor="test")
    store.import_leaders(root.write_leaders_csv(tmp / "leaders.csv", 2, 2), actor="test")
    assign_grid_leaders(store)
    tokens = make_users(store)
    app = create_app(settings(), store=store)
    try:
        with TestClient(app) as client:
            yield Api(client, store, tokens)
    finally:
        store.close()


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
    return lambda leader_id: cells_held(api.store, leader_id)


@pytest.fixture
def shipped_leaders() -> Path:
    from gridmgr import settings as gs

    return gs.DEFAULT_LAYERS / "leaders_sample.csv"
