"""Schema facts QGIS and the API rely on: views with integer ids, typmod geometry, GiST, no phones."""

from __future__ import annotations

import shapely
import sqlalchemy as sa

from gridmgr.store import Change
from gridmgr.store.geom import from_wkb


def test_views_have_integer_ids_and_no_personal_data(loaded_store):
    store = loaded_store
    p = store.pieces(geometry=False)
    c1 = p[p["unit_code"] == "220173001001"]
    store.apply_changes([Change(int(i), "G01_1") for i in c1["id"]], actor="a", reason="r")
    insp = sa.inspect(store.engine)
    views = set(insp.get_view_names())
    assert {"assigned_pieces", "blind_spots"} <= views
    for view in views & {"assigned_pieces", "blind_spots", "leader_territories"}:
        cols = [c["name"] for c in insp.get_columns(view)]
        assert cols[0] == "id" and not any("phone" in c for c in cols)
    with store.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM assigned_pieces"))]
        blind = conn.execute(sa.text("SELECT count(*) FROM blind_spots")).scalar_one()
    assert len(ids) == len(set(ids)) == len(p)
    assert blind == len(p) - len(c1)


def test_postgis_typmod_columns_gist_and_dissolved_territories(loaded_store):
    store = loaded_store
    if not store.is_postgis:
        # SQLite keeps WKB blobs: the same bytes round-trip (checked here), no spatial index.
        units = store.units()
        assert shapely.is_valid(units.geometry.values).all()
        return
    p = store.pieces(geometry=False)
    c1 = p[p["unit_code"] == "220173001001"]
    store.apply_changes([Change(int(i), "G01_1") for i in c1["id"]], actor="a", reason="r")
    with store.engine.connect() as conn:
        types = dict(
            conn.execute(
                sa.text(
                    "SELECT f_table_name || '.' || f_geometry_column, type || ':' || srid "
                    "FROM geometry_columns"
                )
            ).all()
        )
        gist = {
            r[0]
            for r in conn.execute(
                sa.text("SELECT indexname FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")
            )
        }
        row = conn.execute(
            sa.text("SELECT id, leader_id, n_pieces, ST_AsBinary(geom) FROM leader_territories")
        ).one()
        leader_pk = conn.execute(sa.text("SELECT pk FROM leaders WHERE id = 'G01_1'")).scalar_one()
    assert types["pieces.geom"] == "MULTIPOLYGON:4326"
    assert types["units.geom"] == "MULTIPOLYGON:4326"
    assert types["key_places.point"] == "POINT:4326"
    assert types["leader_territories.geom"] == "MULTIPOLYGON:4326"
    assert {"gix_pieces_geom", "gix_units_geom", "gix_key_places_geom"} <= gist
    assert row[0] == leader_pk and row[1] == "G01_1" and row[2] == len(c1)
    territory = from_wkb([row[3]])[0]
    community = store.units().set_index("code").geometry.loc["220173001001"]
    assert territory.symmetric_difference(community).area < 1e-12


def test_migrations_downgrade_and_upgrade_again(store):
    from pathlib import Path

    from alembic import command
    from alembic.config import Config

    import gridmgr.store as pkg
    from gridmgr.store import schema as s

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(pkg.__file__).parent / "migrations"))
    try:
        with store.engine.connect() as conn:
            conn.info["write"] = True
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "base")
        assert store.revision() is None
        names = set(sa.inspect(store.engine).get_table_names())
        assert not names & {t.name for t in s.DATA_TABLES}
    finally:
        assert store.upgrade() == "0004"
    assert set(sa.inspect(store.engine).get_table_names()) >= {t.name for t in s.DATA_TABLES}
