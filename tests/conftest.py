"""Shared fixtures: the store on both backends, and a tiny layers set with leaders.

Backends
--------
``store`` is parametrised over ``sqlite`` (a file copied from a migrated template, per test) and
``postgis`` (one fresh database ``gridmgr_test_<hex>`` per test session — i.e. per xdist worker —
created on the server of ``GRIDMGR_TEST_PG_URL`` (default
``postgresql+psycopg2://postgres@127.0.0.1:5432/postgres``), ``CREATE EXTENSION postgis``, migrated
once, truncated before each test, dropped at the end). Without a reachable PostGIS the postgis
params are skipped, except under ``CI=true`` where that is an error.

Data
----
``make_layers(...)`` builds a :class:`gridmgr.io.Layers` of a few square communities near
Changchun (res-10 pieces: a few dozen); ``leaders_csv(...)`` writes a leaders file for them;
``loaded_store`` is a ``store`` with both loaded. See ``docs/store.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

PG_ADMIN_URL = os.environ.get(
    "GRIDMGR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

#: Origin of the tiny layers (inside the Changchun High-tech Zone), cell size of a community.
ORIGIN = (125.25, 43.80)
COMMUNITY_DX = 0.006
COMMUNITY_DY = 0.005


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"PostGIS is required under CI=true but {why}", pytrace=False)
    pytest.skip(f"PostGIS not available: {why}")


@pytest.fixture(scope="session")
def postgis_url() -> Iterator[str]:
    """URL of a fresh PostGIS database for this test session (skips/fails when unavailable)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(PG_ADMIN_URL)
    try:
        admin = create_engine(
            admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as conn:
            have = conn.execute(
                text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
            ).first()
    except Exception as exc:
        _unavailable(
            f"{admin_url.render_as_string(hide_password=True)} is unreachable ({type(exc).__name__})"
        )
        raise AssertionError("unreachable") from exc  # pragma: no cover - skip/fail raised
    if have is None:
        admin.dispose()
        _unavailable("the postgis extension is not installed (run scripts/system-deps.sh)")
    name = f"gridmgr_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name)
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    eng.dispose()
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _migrated_postgis(postgis_url: str) -> str:
    from gridmgr.store import open_store

    store = open_store(postgis_url)
    store.upgrade()
    store.close()
    return postgis_url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gridmgr.store import open_store

    path = tmp_path_factory.mktemp("sqlite_template") / "template.db"
    store = open_store(f"sqlite:///{path}")
    store.upgrade()
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path


def _truncate_postgis(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from gridmgr.store.schema import DATA_TABLES

    eng = create_engine(url, poolclass=NullPool)
    prep = eng.dialect.identifier_preparer
    names = ", ".join(prep.quote(t.name) for t in DATA_TABLES)
    with eng.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    eng.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgis", marks=pytest.mark.postgis),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty, migrated store: ``sqlite`` (a file in ``tmp_path``) or ``postgis``."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        target = tmp_path / "gridmgr.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("_migrated_postgis")
    _truncate_postgis(url)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Any]:
    """An empty, migrated :class:`gridmgr.store.Store` on each backend."""
    from gridmgr.store import open_store

    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


def _layers(
    n_communities: int = 2,
    *,
    shrink_last: float = 0.0,
    key_places: list[tuple[str, str, str, float, float]] | None = None,
) -> Any:
    """Build tiny layers: district → street → ``n_communities`` side-by-side square communities."""
    from gridmgr.io import Layers

    x0, y0 = ORIGIN
    comms = []
    for i in range(n_communities):
        right = x0 + (i + 1) * COMMUNITY_DX
        if i == n_communities - 1:
            right -= shrink_last * COMMUNITY_DX
        comms.append(box(x0 + i * COMMUNITY_DX, y0, right, y0 + COMMUNITY_DY))
    from shapely import union_all

    street = union_all(comms)
    rows = [
        {"code": "220173", "name": "长春高新技术产业开发区", "level": "district", "parent": None},
        {"code": "220173001", "name": "硅谷街道", "level": "street", "parent": "220173"},
    ] + [
        {
            "code": f"220173001{i + 1:03d}",
            "name": f"测试社区{i + 1}",
            "level": "community",
            "parent": "220173001",
        }
        for i in range(n_communities)
    ]
    units = gpd.GeoDataFrame(rows, geometry=[street, street, *comms], crs="EPSG:4326")
    if key_places is None:
        key_places = [
            (
                f"KP{i + 1:03d}",
                f"测试学校{i + 1}",
                "school",
                x0 + (i + 0.5) * COMMUNITY_DX,
                y0 + 0.5 * COMMUNITY_DY,
            )
            for i in range(n_communities)
        ] + [
            (
                "KP900",
                "测试市场",
                "farmers_market",
                x0 + 0.25 * COMMUNITY_DX,
                y0 + 0.3 * COMMUNITY_DY,
            )
        ]
    kp = gpd.GeoDataFrame(
        [{"code": c, "name": n, "category": cat} for c, n, cat, _, _ in key_places],
        geometry=[Point(x, y) for *_, x, y in key_places],
        crs="EPSG:4326",
    )
    departments = pd.DataFrame(
        [
            {"code": "JYJ", "name": "教育局", "name_en": "Education Bureau"},
            {"code": "SJJ", "name": "市场监督管理局", "name_en": "Market Supervision"},
        ]
    )
    categories = pd.DataFrame(
        [
            {
                "category": "school",
                "name": "学校",
                "name_en": "school",
                "department": "JYJ",
                "requires_package_leader": True,
            },
            {
                "category": "farmers_market",
                "name": "农贸市场",
                "name_en": "farmers' market",
                "department": "SJJ",
                "requires_package_leader": False,
            },
        ]
    )
    return Layers(
        units=units,
        key_places=kp,
        departments=departments,
        categories=categories,
        roads=None,
        source=Path(f"tiny_{n_communities}"),
    )


@pytest.fixture
def make_layers() -> Callable[..., Any]:
    """Factory of tiny layers: ``make_layers(n_communities=2, shrink_last=0.0, key_places=None)``.

    Communities ``220173001001`` … side by side (each ≈ 480 m × 555 m, about 20–40 res-10
    pieces), under street ``220173001`` and district ``220173``; key places ``KP001`` … (schools,
    one per community) and ``KP900`` (a market in the first community). ``shrink_last`` (0–1)
    narrows the last community to produce "changed layers".
    """
    return _layers


def _write_layers_dir(lay: Any, d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    lay.units.to_file(d / "units.geojson", driver="GeoJSON", engine="pyogrio")
    lay.key_places.to_file(d / "key_places.geojson", driver="GeoJSON", engine="pyogrio")
    (d / "departments.json").write_text(
        json.dumps(
            {
                "departments": lay.departments.to_dict("records"),
                "categories": lay.categories.to_dict("records"),
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return d


@pytest.fixture
def write_layers_dir() -> Callable[[Any, Path], Path]:
    """Writer of layers (e.g. from :func:`make_layers`) as a layers directory: units and key
    places as GeoJSON, departments and categories in ``departments.json``."""
    return _write_layers_dir


def write_leaders_csv(path: Path, n_communities: int = 2, per_community: int = 2) -> Path:
    """Leaders for :func:`make_layers`: one package leader ``P0i`` and ``per_community`` grid
    leaders ``G0i_j`` per community."""
    lines = ["id,name,role,department,phone,capacity,unit_packages,place_packages"]
    for i in range(n_communities):
        code = f"220173001{i + 1:03d}"
        lines.append(
            f"P{i + 1:02d},社区包保领导P{i + 1:02d},package_leader,,1380000{i + 1:04d},1.0,{code},KP{i + 1:03d}"
        )
        for j in range(per_community):
            lines.append(
                f"G{i + 1:02d}_{j + 1},网格长G{i + 1:02d}_{j + 1},grid_leader,,,1.0,{code},"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def leaders_csv(tmp_path: Path) -> Callable[..., Path]:
    """Factory writing a leaders CSV for :func:`make_layers`:
    ``leaders_csv(n_communities=2, per_community=2) -> Path``."""

    def make(n_communities: int = 2, per_community: int = 2) -> Path:
        return write_leaders_csv(
            tmp_path / f"leaders_{uuid.uuid4().hex[:6]}.csv", n_communities, per_community
        )

    return make


@pytest.fixture
def loaded_store(
    store: Any, make_layers: Callable[..., Any], leaders_csv: Callable[..., Path]
) -> Any:
    """``store`` with two tiny communities (res 10) and their leaders loaded; nothing assigned."""
    store.load_layers(make_layers(2), res=10, actor="test")
    store.import_leaders(leaders_csv(2, 2), actor="test")
    return store


@pytest.fixture(autouse=True)
def _chinese_by_default() -> Iterator[None]:
    """Every test starts and ends in the default language: a CLI run with ``--lang en`` sets a
    process-wide override that would otherwise leak into later tests of the same worker."""
    from gridmgr import i18n

    i18n.set_language(None)
    yield
    i18n.set_language(None)
