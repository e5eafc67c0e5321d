"""The columnar locate index against brute force over the store's full geometries.

The index keeps geometry only for border pieces (read with ``store.pieces(geometry="border")``)
and numpy columns for the rest; these tests read the full geometries (``store.pieces()``) and
check that every answer is what a plain shapely computation over them gives: the piece at a
point (also on unit borders and outside), the pieces a bbox selects (also boxes whose edges
fall exactly on piece bounds), their GeoJSON and properties, and that the index holds no Python
object per piece.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np
import pytest
import shapely
from apihelpers import assign_grid_leaders

from api.geojson import geometry_strings
from api.locate import LocateIndex, select_pieces
from api.locate_columns import EPS, OwnerColumns, PieceColumns, cell_margin, owner_columns
from gridmgr.grid import h3_adapter as h3a

ORIGIN = (125.25, 43.80)
DX, DY = 0.024, 0.005  # the street of ``make_layers(4)``: 4 communities of 0.006 × 0.005


def _irregular(make_layers: Any) -> Any:
    """``make_layers(4)`` with the communities redrawn as Voronoi cells of seeded points: borders
    at every angle, so many cells are split (border pieces) in all sorts of ways."""
    layers = make_layers(4)
    x0, y0 = ORIGIN
    street = shapely.box(x0, y0, x0 + DX, y0 + DY)
    rng = np.random.default_rng(15)
    seeds = shapely.points(
        x0 + (np.arange(4) + 0.5) * DX / 4 + rng.uniform(-0.002, 0.002, 4),
        y0 + rng.uniform(0.001, DY - 0.001, 4),
    )
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=street)
    )
    order = [int(np.flatnonzero(shapely.contains(cells, s))[0]) for s in seeds]
    comms = shapely.intersection(cells[order], street)
    units = layers.units.copy()
    units.loc[units.index[2:], "geometry"] = comms
    kp = layers.key_places.copy()
    kp["geometry"] = [shapely.Point(x0 + 0.1 * DX, y0 + 0.5 * DY)] * len(kp)
    return replace(layers, units=units, key_places=kp)


@pytest.fixture
def loaded(store: Any, make_layers: Any, leaders_csv: Any) -> Any:
    store.load_layers(_irregular(make_layers), res=10, actor="test")
    store.import_leaders(leaders_csv(4, 2), actor="test")
    assign_grid_leaders(store)
    return store


def _oracle_at(full: Any, cells: Any, lng: float, lat: float, res: int) -> int | None:
    """Id of the piece at a point, by shapely over the full geometries of the point's cell:
    the first (by id) containing it, else the first touching it (a point on a border line)."""
    cell = int(h3a.latlng_to_cell(lng, lat, res=res)[0])
    at = np.flatnonzero(cells == cell)
    if len(at) == 0:
        return None
    geoms = full.geometry.values[at]
    hit = np.flatnonzero(shapely.contains_xy(geoms, lng, lat))
    if len(hit) == 0:
        hit = np.flatnonzero(shapely.intersects_xy(geoms, lng, lat))
    return int(full["id"].iloc[at[hit[0]]]) if len(hit) else None


def _border_points(store: Any, rng: np.random.Generator, n: int) -> Any:
    """Points on the communities' boundaries (unit borders and the street's outline)."""
    units = store.units()
    lines = shapely.boundary(units.loc[units["level"] == "community"].geometry.values)
    line = shapely.union_all(lines)
    pts = shapely.line_interpolate_point(line, rng.uniform(0, 1, n), normalized=True)
    return shapely.get_x(pts), shapely.get_y(pts)


def test_locate_matches_shapely_over_full_geometries(loaded: Any) -> None:
    index = LocateIndex.from_store(loaded)
    full = loaded.pieces()
    cells = h3a.str_to_cells(full["cell"].tolist())
    assert (~full["whole"]).sum() > 20  # the Voronoi borders split many cells
    rng = np.random.default_rng(3)
    x0, y0 = ORIGIN
    # random points over the street and a margin outside it, and points on unit borders
    lng = np.r_[rng.uniform(x0 - 0.004, x0 + DX + 0.004, 3000), _border_points(loaded, rng, 600)[0]]
    lat = np.r_[rng.uniform(y0 - 0.003, y0 + DY + 0.003, 3000), _border_points(loaded, rng, 600)[1]]
    lng[-600:], lat[-600:] = _border_points(loaded, np.random.default_rng(4), 600)
    ids = full["id"].to_numpy()
    owners = dict(zip(ids.tolist(), full["leader_id"].tolist(), strict=True))
    units = dict(zip(ids.tolist(), full["unit_code"].tolist(), strict=True))
    outside = on_border = 0
    for x, y in zip(lng.tolist(), lat.tolist(), strict=True):
        want = _oracle_at(full, cells, x, y, index.res or 10)
        got = index.locate(x, y)
        assert got["piece_id"] == want, (x, y)
        assert got["inside"] is (want is not None)
        if want is None:
            outside += 1
            continue
        assert got["units"][-1]["code"] == units[want]
        assert (got["leader"] or {}).get("id") == owners[want]
        geom = full.geometry.values[int(np.flatnonzero(ids == want)[0])]
        on_border += not shapely.contains_xy(geom, x, y)
    assert outside > 100 and on_border > 100  # both kinds of points were tried


def _brute_bbox(full: Any, box: tuple[float, float, float, float]) -> list[int]:
    """Ids of the pieces whose bounds meet ``box`` (edges included), by shapely."""
    env = shapely.envelope(full.geometry.values)
    hit = shapely.intersects(env, shapely.box(*box))
    return full["id"].to_numpy()[hit].tolist()


def test_bbox_selects_what_shapely_selects(loaded: Any) -> None:
    index = LocateIndex.from_store(loaded)
    full = loaded.pieces()
    ids = full["id"].to_numpy()
    rng = np.random.default_rng(5)
    x0, y0 = ORIGIN
    boxes = []
    for _ in range(150):
        x, y = rng.uniform(x0 - 0.002, x0 + DX), rng.uniform(y0 - 0.002, y0 + DY)
        boxes.append((x, y, x + rng.uniform(0, 0.01), y + rng.uniform(0, 0.004)))
    # boxes whose edges lie exactly on a piece's bounds, or one float64 step beyond them: the
    # index's float32 bounds cannot tell these apart, its exact check must
    bounds = shapely.bounds(full.geometry.values)
    for i in rng.choice(len(full), 60, replace=False):
        minx, miny, maxx, maxy = bounds[i]
        beyond = np.nextafter(maxx, np.inf)
        below = np.nextafter(miny, -np.inf)
        boxes += [
            (maxx, miny, maxx + 0.001, maxy),
            (beyond, miny, beyond + 0.001, maxy),
            (minx - 0.001, maxy, maxx, maxy + 0.001),
            (minx, below - 0.001, maxx, below),
        ]
    for box in boxes:
        got = index.piece_ids[select_pieces(index, bbox=box)].tolist()
        assert got == _brute_bbox(full, box), box
    assert index.data.extent == [float(v) for v in (*bounds.min(0)[:2], *bounds.max(0)[2:])]
    assert len(ids) == len(index.piece_ids)


def test_geojson_and_properties_as_from_full_geometries(loaded: Any) -> None:
    from api.locate import piece_properties

    index = LocateIndex.from_store(loaded)
    full = loaded.pieces()
    snap = index.data
    everything = np.arange(len(full))
    assert snap.geojson(everything) == geometry_strings(full.geometry.values)
    assert piece_properties(snap, everything) == [
        {
            "id": int(r["id"]),
            "cell": str(r["cell"]),
            "unit_code": str(r["unit_code"]),
            "area_m2": round(float(r["area_m2"]), 3),
            "whole": bool(r["whole"]),
            "leader_id": r["leader_id"],
            "fallback": bool(r["fallback"]),
            "version": int(r["version"]),
        }
        for r in full.to_dict("records")
    ]
    scope = select_pieces(snap, scope="220173001002")
    assert snap.id_list(scope) == full.loc[full["unit_code"] == "220173001002", "id"].tolist()
    mine = select_pieces(snap, leader="G03_1")
    assert snap.id_list(mine) == full.loc[full["leader_id"] == "G03_1", "id"].tolist()
    assert len(select_pieces(snap, leader="nobody")) == 0


def test_index_holds_no_python_object_per_piece(loaded: Any) -> None:
    index = LocateIndex.from_store(loaded)
    snap = index.data
    n = len(snap.pieces)
    n_border = int((~snap.pieces.whole).sum())
    assert 0 < n_border < n
    per_piece = 0
    for cols in (snap.pieces, snap.owners):
        for f in fields(cols):
            value = getattr(cols, f.name)
            if value is None:  # id_order: only when ids are not ascending
                continue
            if f.name == "margin":  # two floats: a cell's radius in degrees
                assert all(isinstance(v, float) for v in value)
                continue
            assert isinstance(value, np.ndarray), f.name
            if f.name.startswith("border_"):  # the only shapes kept: border pieces'
                assert len(value) == n_border
                continue
            if len(value) == n:
                assert value.dtype != object, f.name
                per_piece += value.nbytes
            else:  # a table of codes: unit codes, leader ids
                assert value.dtype == object and len(value) < n, f.name
    assert per_piece / n <= 80
    assert len(snap.chains) == len(loaded.units())


def test_refresh_owners_and_alignment(loaded: Any) -> None:
    from gridmgr.store import Change

    index = LocateIndex.from_store(loaded)
    frame = loaded.pieces(geometry=False)
    pid, unit, was = frame[["id", "unit_code", "leader_id"]].iloc[0]
    other = next(f"G{int(unit[-3:]):02d}_{j}" for j in (1, 2) if f"_{j}" not in str(was))
    loaded.apply_changes([Change(int(pid), other)], actor="test", reason="move")
    index.check_owners(loaded)
    pos = int(index.data.positions_of([pid])[0])
    assert index.data.owners.leader_ids[index.data.owners.owner[pos]] == other
    assert index.data.owners.version[pos] == int(frame["version"].iloc[0]) + 1
    # a frame in another order and missing a piece: aligned by id, the missing one unowned
    shuffled = frame.sample(frac=1.0, random_state=1).iloc[1:]
    cols = owner_columns(shuffled, index.data.pieces)
    gone = int(
        index.data.positions_of([int(frame.sample(frac=1.0, random_state=1)["id"].iloc[0])])[0]
    )
    assert cols.owner[gone] == -1 and cols.version[gone] == 0
    keep = np.arange(len(frame)) != gone
    want = frame["leader_id"].to_numpy(dtype=object)[keep]
    got = np.where(cols.owner >= 0, cols.leader_ids[np.maximum(cols.owner, 0)], None)[keep]
    assert got.tolist() == want.tolist()
    assert index.data.positions_of([-5]).tolist() == [-1]
    assert isinstance(index.data.pieces, PieceColumns) and isinstance(cols, OwnerColumns)


def test_empty_index() -> None:
    index = LocateIndex()
    assert index.locate(125.0, 43.0)["inside"] is False
    assert len(select_pieces(index, bbox=(0.0, 0.0, 1.0, 1.0))) == 0
    assert index.data.extent is None and len(index.piece_ids) == 0


@pytest.mark.parametrize("res", [5, 9, 10, 12, 15])
def test_cell_margin_bounds_every_vertex(res: int) -> None:
    """The margin that lets a bbox filter decide whole pieces from their centres holds for
    cells anywhere below 80° (pentagons' neighbourhoods and distorted cells included)."""
    rng = np.random.default_rng(res)
    lng, lat = rng.uniform(-180, 180, 3000), rng.uniform(-80, 80, 3000)
    cells = np.unique(h3a.latlng_to_cell(lng, lat, res=res))
    cx, cy = h3a.cell_centers(cells)
    bounds = shapely.bounds(h3a.cell_polygons(cells))
    wide = (bounds[:, 2] - bounds[:, 0]) < 180  # a cell across the antimeridian wraps
    dx = np.maximum(cx - bounds[:, 0], bounds[:, 2] - cx)[wide]
    dy = np.maximum(cy - bounds[:, 1], bounds[:, 3] - cy)
    mx, my = cell_margin(res, float(np.abs(cy).max()))
    assert dx.max() <= mx and dy.max() <= my
    assert dy.max() > (my - EPS) / 4  # and is not absurdly loose
