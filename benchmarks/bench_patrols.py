"""Patrols to visits at city scale, and the API's ingest rate.

Part 1 — visits. The shipped Changchun High-tech layers cut into res-10 pieces (7,250); 100
leaders walk one day each (10,000 fixes every 3 s, a random walk at ~1.4 m/s with persistent
headings inside the zone): 1,000,000 GPS fixes. Three ways to the set of (leader, piece) pairs
"the path came within 50 m", on the same 2 cores and the same metric coordinates (gridmgr's
local transverse Mercator, so the answers can be compared exactly):

* gridmgr    — :func:`gridmgr.patrol.records.clean_flags` + :func:`path_of` +
               :meth:`VisitIndex.visits` from the raw arrays (cleaning included);
* PostGIS    — the same walked lines (16 legs each) COPYed into a table, pieces in another,
               both GiST-indexed, ``SELECT DISTINCT … JOIN … ON ST_DWithin(l.geom, p.geom, 50)``
               (query time only; the COPY is reported apart);
* geopandas  — ``lines.buffer(50)`` + ``sjoin(pieces, predicate="intersects")``.

Part 2 — ingest. ``uvicorn api.main:app_from_env`` (``--workers``) over a migrated store
(PostGIS by default, ``--sqlite`` for the embedded default); 50 concurrent clients (asyncio +
httpx), each its own leader's patrol, POST batches of 20 fixes for ``--seconds``; sustained
points/s and the p50/p99 of a batch.

    python benchmarks/bench_patrols.py [--skip-ingest] [--skip-visits] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN_URL = os.environ.get(
    "GRIDMGR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
R = 50.0


def zone_pieces() -> Any:
    from gridmgr.grid.pieces import build_grid
    from gridmgr.io import read_layers
    from gridmgr.settings import DEFAULT_LAYERS

    lay = read_layers(DEFAULT_LAYERS)
    pieces = build_grid(lay.units, res=10).pieces.reset_index(drop=True)
    pieces["id"] = np.arange(len(pieces)) + 1
    return pieces


def walks(bounds: tuple[float, ...], n_leaders: int, n_fixes: int, seed: int = 1) -> list[Any]:
    """Random walks (lon, lat, t_ns) with persistent headings, reflected inside ``bounds``."""
    x0, y0, x1, y1 = bounds
    rng = np.random.default_rng(seed)
    out = []
    m_per_deg_lat = 111_000.0
    m_per_deg_lon = 111_000.0 * np.cos(np.radians((y0 + y1) / 2))
    for _ in range(n_leaders):
        heading = np.cumsum(rng.normal(0, 0.25, n_fixes))
        step = rng.normal(4.2, 0.8, n_fixes).clip(0.5)  # metres per 3 s
        dx = np.cumsum(step * np.cos(heading)) / m_per_deg_lon
        dy = np.cumsum(step * np.sin(heading)) / m_per_deg_lat
        sx, sy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        w, h = x1 - x0, y1 - y0
        lon = x0 + np.abs(((sx - x0 + dx) % (2 * w)) - w) * 1.0
        lat = y0 + np.abs(((sy - y0 + dy) % (2 * h)) - h) * 1.0
        lon = x0 + (w - np.abs(w - ((sx - x0 + dx) % (2 * w))))
        lat = y0 + (h - np.abs(h - ((sy - y0 + dy) % (2 * h))))
        t_ns = (1_764_900_000 + np.arange(n_fixes, dtype=np.int64) * 3) * 1_000_000_000
        out.append((lon, lat, t_ns))
    return out


def run_gridmgr(index: Any, tracks: list[Any]) -> tuple[float, set[tuple[int, int]]]:
    from gridmgr.patrol.records import clean_flags, path_of

    t0 = time.perf_counter()
    paths = []
    for lon, lat, t_ns in tracks:
        flags = clean_flags(t_ns, lon, lat)
        paths.append(path_of(t_ns, lon, lat, flags))
    v = index.visits(paths)
    dt = time.perf_counter() - t0
    v = v[v["kind"] == "piece"]
    return dt, set(zip(v["patrol"].tolist(), v["target_id"].tolist(), strict=True))


def chunk_lines(index: Any, tracks: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The walked lines (metric, 16 legs each) gridmgr matches, with their leader."""
    from gridmgr.patrol.records import clean_flags, path_of

    paths = [path_of(t, x, y, clean_flags(t, x, y)) for x, y, t in tracks]
    geoms, who, _, _ = index.legs(paths)
    return geoms, who


def run_postgis(
    pieces_m: np.ndarray, ids: np.ndarray, lines: np.ndarray, who: np.ndarray
) -> tuple[float, float, set[tuple[int, int]]]:
    import psycopg2
    import shapely
    from sqlalchemy.engine import make_url

    admin = make_url(PG_ADMIN_URL)
    name = f"gridmgr_bench_{uuid.uuid4().hex[:8]}"
    dsn = f"host={admin.host or '127.0.0.1'} port={admin.port or 5432} user={admin.username or 'postgres'}"
    if admin.password:
        dsn += f" password={admin.password}"
    a = psycopg2.connect(dsn + f" dbname={admin.database}")
    a.autocommit = True
    a.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        c = psycopg2.connect(dsn + f" dbname={name}")
        cur = c.cursor()
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        cur.execute("CREATE TABLE pieces (id int, geom geometry)")
        cur.execute("CREATE TABLE lines (leader int, geom geometry)")
        t0 = time.perf_counter()
        for table, first, geoms in (("pieces", ids, pieces_m), ("lines", who, lines)):
            buf = io.StringIO()
            hexes = shapely.to_wkb(geoms, hex=True)
            for k, h in zip(first.tolist(), hexes.tolist(), strict=True):
                buf.write(f"{k}\t{h}\n")
            buf.seek(0)
            cur.copy_expert(f"COPY {table} FROM STDIN", buf)
        cur.execute("CREATE INDEX ON pieces USING gist (geom)")
        cur.execute("CREATE INDEX ON lines USING gist (geom)")
        cur.execute("ANALYZE pieces")
        cur.execute("ANALYZE lines")
        c.commit()
        load = time.perf_counter() - t0
        t0 = time.perf_counter()
        cur.execute(
            "SELECT DISTINCT l.leader, p.id FROM lines l JOIN pieces p "
            f"ON ST_DWithin(l.geom, p.geom, {R})"
        )
        rows = cur.fetchall()
        q = time.perf_counter() - t0
        c.close()
        return load, q, {(int(a_), int(b_)) for a_, b_ in rows}
    finally:
        a.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        a.close()


def run_geopandas(
    pieces_m: np.ndarray, ids: np.ndarray, lines: np.ndarray, who: np.ndarray
) -> tuple[float, set[tuple[int, int]]]:
    import geopandas as gpd

    t0 = time.perf_counter()
    lg = gpd.GeoDataFrame({"leader": who}, geometry=gpd.GeoSeries(lines).buffer(R))
    pg = gpd.GeoDataFrame({"pid": ids}, geometry=list(pieces_m))
    j = gpd.sjoin(lg, pg, predicate="intersects")
    pairs = set(zip(j["leader"].tolist(), j["pid"].tolist(), strict=True))
    return time.perf_counter() - t0, pairs


def visits_part(n_leaders: int, n_fixes: int, postgis: bool) -> None:
    from gridmgr.patrol.visits import VisitIndex

    pieces = zone_pieces()
    geoms = pieces.geometry.to_numpy()
    t0 = time.perf_counter()
    index = VisitIndex.build(pieces["id"], geoms, np.full(len(pieces), R), [], [], [])
    t_index = time.perf_counter() - t0
    tracks = walks(index.bounds, n_leaders, n_fixes)
    n = sum(len(x) for x, _, _ in tracks)
    dt_g, got = run_gridmgr(index, tracks)
    dt_g2, got2 = run_gridmgr(index, tracks)
    assert got == got2
    pieces_m = index.proj.geoms_to_metric(geoms)
    lines, who = chunk_lines(index, tracks)
    print(
        f"\n{n:,} fixes, {n_leaders} leaders, {len(pieces):,} pieces, R = {R:.0f} m, "
        f"{len(lines):,} walked lines; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'peer':<34}{'seconds':>10}{'pairs':>10}  same answer")
    print(f"{'gridmgr (index build)':<34}{t_index:>10.2f}")
    print(f"{'gridmgr (clean+path+visits)':<34}{min(dt_g, dt_g2):>10.2f}{len(got):>10,}  —")
    if postgis:
        load, q, pg_pairs = run_postgis(pieces_m, pieces["id"].to_numpy(), lines, who)
        print(f"{'PostGIS COPY + GiST (load)':<34}{load:>10.2f}")
        same = "yes" if pg_pairs == got else f"no ({len(pg_pairs ^ got)} differ)"
        print(f"{'PostGIS ST_DWithin (query)':<34}{q:>10.2f}{len(pg_pairs):>10,}  {same}")
    dt_p, gp = run_geopandas(pieces_m, pieces["id"].to_numpy(), lines, who)
    diff = gp ^ got
    note = (
        "yes"
        if not diff
        else f"{len(diff)} differ (buffer polygons are inscribed: pieces at 49.8–50 m)"
    )
    print(f"{'geopandas buffer + sjoin':<34}{dt_p:>10.2f}{len(gp):>10,}  {note}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_store(url: str, n_clients: int) -> list[tuple[str, str]]:
    """Shipped layers and leaders in a fresh store; a leader user + token per client."""
    from gridmgr.accounts import credentials
    from gridmgr.io import read_layers
    from gridmgr.settings import DEFAULT_LAYERS
    from gridmgr.store import open_store

    store = open_store(url)
    store.upgrade()
    store.load_layers(read_layers(DEFAULT_LAYERS), res=10, actor="bench")
    store.import_leaders(DEFAULT_LAYERS / "leaders_sample.csv", actor="bench")
    ids = sorted(store.leaders()["id"].astype(str))[:n_clients]
    out = []
    for i, lid in enumerate(ids):
        uid = store.add_user(f"bench{i}", "leader", leader_id=lid)
        tok = credentials.new_token()
        store.add_token(uid, credentials.hash_token(tok))
        out.append((lid, tok))
    store.close()
    return out


async def _client(base: str, token: str, i: int, stop_at: float, lat_ms: list[float]) -> int:
    import httpx

    h = {"Authorization": f"Bearer {token}"}
    sent = 0
    async with httpx.AsyncClient(base_url=base, headers=h, timeout=30) as c:
        r = await c.post("/api/patrols", json={"client_id": f"bench-{i}-{uuid.uuid4().hex[:6]}"})
        r.raise_for_status()
        pid = r.json()["patrol_id"]
        t = time.time() - 86_400  # fixes 1 s apart: a day of room before they reach now
        k = 0
        while time.time() < stop_at:
            pts = [
                {
                    "at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t + k * 20 + j)),
                    "lon": 125.25 + 1e-5 * j,
                    "lat": 43.82,
                    "accuracy": 8.0,
                }
                for j in range(20)
            ]
            t0 = time.perf_counter()
            r = await c.post(
                f"/api/patrols/{pid}/points", json={"batch_id": f"b{k}", "points": pts}
            )
            r.raise_for_status()
            lat_ms.append(1000 * (time.perf_counter() - t0))
            sent += 20
            k += 1
    return sent


async def _ingest(
    base: str, tokens: list[tuple[str, str]], seconds: float
) -> tuple[int, list[float]]:
    lat: list[float] = []
    stop = time.time() + seconds
    sent = await asyncio.gather(
        *[_client(base, tok, i, stop, lat) for i, (_, tok) in enumerate(tokens)]
    )
    return sum(sent), lat


def ingest_part(seconds: float, workers: int, sqlite: bool, n_clients: int = 50) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_patrols_"))
    admin = None
    if sqlite:
        url = f"sqlite:///{tmp / 'gridmgr.db'}"
    else:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin = create_engine(make_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
        name = f"gridmgr_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    tokens = prepare_store(url, n_clients)
    port = free_port()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_api import start_api  # the one uvicorn starter of the benchmarks

    proc = start_api(url, port, workers, {})
    try:
        import httpx

        base = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        t0 = time.perf_counter()
        sent, lat = asyncio.run(_ingest(base, tokens, seconds))
        dt = time.perf_counter() - t0
        p50, p99 = np.percentile(lat, [50, 99])
        kind = "SQLite" if sqlite else "PostGIS"
        print(
            f"\ningest, {kind}, uvicorn --workers {workers}, {len(tokens)} clients, batches of 20, "
            f"{dt:.0f} s; load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{sent:,} points, {sent / dt:,.0f} points/s, {len(lat) / dt:,.0f} batches/s, "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms per batch"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if admin is not None:
            from sqlalchemy import text

            with admin.connect() as conn:
                conn.execute(
                    text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[-1]}" WITH (FORCE)')
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--leaders", type=int, default=100)
    ap.add_argument("--fixes", type=int, default=10_000)
    ap.add_argument("--no-postgis", action="store_true")
    ap.add_argument("--skip-visits", action="store_true")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sqlite", action="store_true", help="ingest into SQLite instead of PostGIS")
    args = ap.parse_args()
    if not args.skip_visits:
        visits_part(args.leaders, args.fixes, not args.no_postgis)
    if not args.skip_ingest:
        ingest_part(args.seconds, args.workers, args.sqlite)


if __name__ == "__main__":
    main()
