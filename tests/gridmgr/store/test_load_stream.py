"""The streamed load (``load --pieces DIR``): part by part, the same store as the in-memory load.

Both backends. The same sequence of loads runs the old way (pieces cut in memory) and through
``grid build --parquet`` parts streamed; the stored pieces (by ``(cell, unit_code)``: area
exactly, ``whole``, WKB geometry), the key places' unit and piece, and the reports must agree.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from gridmgr.cli import app
from gridmgr.errors import OrphanedAssignmentsError
from gridmgr.grid.chunked import build_parts
from gridmgr.store import Change
from gridmgr.store import schema as s

pytest.importorskip("pyarrow")

LAST = "220173001004"


def _two_streets(layers: Any) -> Any:
    """``make_layers(4)`` with communities 3 and 4 under a second street: two parts."""
    units = layers.units.copy()
    comm = units[units["level"] == "community"].set_index("code").geometry
    codes = list(comm.index)
    second = {
        "code": "220173002",
        "name": "第二街道",
        "level": "street",
        "parent": "220173",
    }
    units.loc[units["code"].isin(codes[2:]), "parent"] = "220173002"
    units.loc[units["code"] == "220173001", "geometry"] = shapely.union_all(comm.loc[codes[:2]])
    extra = units.iloc[[1]].copy()
    for k, v in second.items():
        extra[k] = v
    extra["geometry"] = [shapely.union_all(comm.loc[codes[2:]])]
    units = pd.concat([units.iloc[:2], extra, units.iloc[2:]], ignore_index=True)
    return dataclasses.replace(
        layers, units=type(layers.units)(units, geometry="geometry", crs=layers.units.crs)
    )


def _layers(make_layers: Callable[..., Any], **kw: Any) -> Any:
    return _two_streets(make_layers(4, **kw))


def _without_last(layers: Any) -> Any:
    """``layers`` without the last community (its street shrunk to the third one)."""
    units = layers.units[layers.units["code"] != LAST].copy()
    third = units.loc[units["code"] == LAST[:-1] + "3", "geometry"].iloc[0]
    units.loc[units["code"] == "220173002", "geometry"] = third
    return dataclasses.replace(layers, units=units)


def _pieces(store: Any) -> dict[tuple[str, str], tuple[float, bool, bytes]]:
    p = s.pieces
    with store.engine.connect() as conn:
        rows = conn.execute(select(p.c.cell, p.c.unit_code, p.c.area_m2, p.c.whole, p.c.geom))
        return {(r[0], r[1]): (r[2], r[3], bytes(r[4])) for r in rows}


def _ids(store: Any) -> dict[tuple[str, str], int]:
    p = s.pieces
    with store.engine.connect() as conn:
        rows = conn.execute(select(p.c.cell, p.c.unit_code, p.c.id))
        return {(r[0], r[1]): r[2] for r in rows}


def _key_places(store: Any) -> dict[str, tuple[Any, Any]]:
    by_id = {v: k for k, v in _ids(store).items()}
    kp = s.key_places
    with store.engine.connect() as conn:
        rows = conn.execute(select(kp.c.code, kp.c.unit_code, kp.c.piece_id))
        return {r[0]: (r[1], by_id.get(r[2])) for r in rows}


def _report(report: Any) -> dict[str, Any]:
    """The report without its change set id; removed pieces and orphans sorted (the in-memory
    load lists them in the order the database returned the stored pieces)."""
    out = report.to_dict()
    out.pop("changeset_id")
    assert len(out["pieces_removed"]) < 100  # else the first 100 could differ
    out["pieces_removed"] = sorted(out["pieces_removed"])
    out["orphaned"] = sorted(out["orphaned"], key=lambda o: (o["cell"], o["unit_code"]))
    return out


def _assignments(store: Any, changeset_id: str) -> dict[str, Any]:
    """The empty assignment rows a first load made: one per piece, of that load's change set."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                s.assignments.c.piece_id,
                s.assignments.c.leader_id,
                s.assignments.c.fallback,
                s.assignments.c.version,
                s.assignments.c.changeset_id,
            )
        ).all()
        n_pieces = conn.execute(select(func.count()).select_from(s.pieces)).scalar()
    assert len(rows) == n_pieces == len({r[0] for r in rows})
    assert {(r[1], bool(r[2]), r[3], r[4]) for r in rows} == {(None, False, 0, changeset_id)}
    return {"rows": len(rows)}


def _wipe(store: Any) -> None:
    with store.engine.begin() as conn:
        for table in s.DATA_TABLES:
            conn.execute(delete(table))


def _scenario(store: Any, load: Callable[..., Any], leaders: Path) -> dict[str, Any]:
    """First load, same again, changed layers refused then forced; what each left."""
    first = load("same")
    out: dict[str, Any] = {"first": _report(first)}
    out["assignments1"] = _assignments(store, first.changeset_id)
    out["pieces1"], out["kp1"] = _pieces(store), _key_places(store)
    ids1 = _ids(store)
    before = store.dump()
    again = load("same")
    assert again.changes == 0 and again.changeset_id is None
    assert store.dump() == before  # a reload of the same parts writes nothing
    store.import_leaders(leaders, actor="t")
    last = [i for (_, unit), i in ids1.items() if unit == LAST]
    store.apply_changes([Change(i, "G04_1") for i in last], actor="t", reason="r")
    before = store.dump()
    with pytest.raises(OrphanedAssignmentsError, match="G04_1"):
        load("shrunk")
    assert store.dump() == before  # the refusal wrote nothing
    out["forced"] = _report(load("shrunk", allow_orphans=True))
    out["pieces2"], out["kp2"] = _pieces(store), _key_places(store)
    ids2 = _ids(store)
    # only the changed unit's pieces changed: every other piece kept its id and its row
    others = {k for k in ids1 if k[1] != LAST}
    assert {k: ids2[k] for k in others} == {k: ids1[k] for k in others}
    assert {k: out["pieces2"][k] for k in others} == {k: out["pieces1"][k] for k in others}
    assert any(k[1] == LAST for k in set(ids1) ^ set(ids2))
    out["dropped"] = _report(load("dropped", allow_orphans=True))
    out["pieces3"], out["kp3"] = _pieces(store), _key_places(store)
    assert not any(unit == LAST for _, unit in out["pieces3"])
    events = store.history(changeset=None)
    out["orphan_events"] = sorted(events.loc[events["kind"] == "orphan", "cell"])
    return out


@pytest.fixture
def leaders(tmp_path: Path) -> Path:
    from tests.conftest import write_leaders_csv

    return write_leaders_csv(tmp_path / "leaders.csv", 4, 1)


def test_streamed_load_equals_in_memory_load(
    store: Any,
    make_layers: Callable[..., Any],
    leaders: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gridmgr.store import bulk

    monkeypatch.setattr(bulk, "BULK_MIN", 10)  # COPY / executemany in several batches
    monkeypatch.setattr(bulk, "INSERT_CHUNK", 25)
    layers = {"same": _layers(make_layers), "shrunk": _layers(make_layers, shrink_last=0.5)}
    layers["dropped"] = _without_last(layers["shrunk"])
    dirs = {}
    for name, lay in layers.items():
        built = build_parts(lay.units, tmp_path / name, res=10)
        dirs[name] = built.directory

    def in_memory(name: str, **kw: Any) -> Any:
        return store.load_layers(layers[name], res=10, actor="t", **kw)

    calls: list[tuple[int, int]] = []

    def streamed(name: str, **kw: Any) -> Any:
        return store.load_layers_from_parts(
            layers[name], dirs[name], actor="t", on_part=lambda u, p: calls.append((u, p)), **kw
        )

    old = _scenario(store, in_memory, leaders)
    _wipe(store)
    new = _scenario(store, streamed, leaders)
    assert old.keys() == new.keys()
    for key in old:
        assert new[key] == old[key], key
    assert new["kp1"]["KP004"][0] == LAST and new["kp1"]["KP004"][1] is not None
    assert new["orphan_events"] and new["forced"]["orphaned"]
    assert calls[:2] == [(2, calls[0][1]), (2, calls[1][1])]
    assert sum(p for _, p in calls[:2]) == new["first"]["pieces"]["added"]


def test_cli_load_pieces_streams_the_parts(
    store_url: str, make_layers: Callable[..., Any], write_layers_dir: Any, tmp_path: Path
) -> None:
    d = write_layers_dir(_layers(make_layers), tmp_path / "layers")
    runner = CliRunner()
    env = {"GRIDMGR_DATABASE_URL": store_url}
    built = runner.invoke(
        app, ["grid", "build", "--layers", str(d), "--out", str(tmp_path / "g"), "--parquet"]
    )
    assert built.exit_code == 0, built.output
    args = ["--lang", "en", "load", "--layers", str(d), "--pieces", str(tmp_path / "g"), "--json"]
    res = runner.invoke(app, args, env=env)
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)
    assert first["pieces"]["added"] > 0 and first["res"] == 10
    res = runner.invoke(app, args, env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["changes"] == 0
    bad = runner.invoke(app, [*args, "--res", "9"], env=env)
    assert bad.exit_code == 1 and "--res 9" in bad.output


def test_in_memory_load_takes_lazy_pieces(
    store: Any, make_layers: Callable[..., Any], tmp_path: Path
) -> None:
    """Pieces in the lazy form (whole pieces without geometry) load as the full form does."""
    from gridmgr.grid import parquet

    lay = make_layers(2)
    built = build_parts(lay.units, tmp_path, res=10)
    lazy = parquet.read_pieces(built.directory, lazy=True)
    assert lazy.geometry.isna().any()
    store.load_layers(lay, res=10, actor="t")
    cut = _pieces(store)
    assert store.load_layers(lay, res=10, actor="t", pieces=lazy).changes == 0
    _wipe(store)
    store.load_layers(lay, res=10, actor="t", pieces=lazy)
    assert _pieces(store) == cut
