"""Load test of the service: ``/api/locate`` and a leader's pieces GeoJSON, against raw PostGIS.

What it does
------------
1. Loads the shipped Changchun High-tech Zone layers (+ sample leaders, initial assignment) into
   a fresh PostGIS database ``gridmgr_bench_<hex>`` (dropped at the end) and creates a viewer
   token.
2. Starts ``uvicorn api.main:app_from_env`` on a free loopback port with ``--workers`` processes
   (default 2, one per core), access log off.
3. Starts the *peer*: a tiny ``http.server.ThreadingHTTPServer`` answering ``/locate?lat=&lng=``
   with one raw PostGIS query per request through psycopg2 (a pool of 16 connections per
   process, as many as a sane deployment gives a service; PostgreSQL allows 100)::

       SELECT p.cell, p.unit_code, a.leader_id FROM pieces p
       LEFT JOIN assignments a ON a.piece_id = p.id
       WHERE ST_Contains(p.geom, ST_SetSRID(ST_MakePoint(lng, lat), 4326)) LIMIT 1

   (GiST index on ``pieces.geom``). The peer runs in 2 processes too (SO_REUSEPORT), so both
   sides use both cores.
4. Drives each target with ``wrk`` (installed with ``apt-get install -y wrk`` when missing) at 50
   and 200 connections for ``--seconds`` each; a Lua script picks random points inside the
   zone's bounding box for every request. Prints req/s, p50 and p99 side by side, and the load
   average before the run (the load generator shares the machine's cores: figures from a busy
   machine are not comparable).

Run: ``python benchmarks/bench_api.py [--seconds 10] [--workers 2]`` (needs PostGIS on
``GRIDMGR_TEST_PG_URL``, default ``postgresql+psycopg2://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "GRIDMGR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)

PEER = r"""
import json, os, queue, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
import psycopg2

DSN, PORT, POOL = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pool = queue.LifoQueue()
for _ in range(POOL):
    c = psycopg2.connect(DSN)
    c.autocommit = True
    pool.put(c)
SQL = ("SELECT p.cell, p.unit_code, a.leader_id FROM pieces p "
       "LEFT JOIN assignments a ON a.piece_id = p.id "
       "WHERE ST_Contains(p.geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) LIMIT 1")

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every keep-alive response waits ~40 ms (delayed ACK)
    def log_message(self, *a): pass
    def do_GET(self):
        q = parse_qs(urlsplit(self.path).query)
        conn = pool.get()  # bounded pool: at most POOL connections per process
        try:
            with conn.cursor() as cur:
                cur.execute(SQL, (float(q["lng"][0]), float(q["lat"][0])))
                row = cur.fetchone()
        finally:
            pool.put(conn)
        body = json.dumps({"cell": row[0], "unit": row[1], "leader": row[2]} if row
                          else {"cell": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    def server_bind(self):
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

S(("127.0.0.1", PORT), H).serve_forever()
"""

LUA = r"""
math.randomseed(os.time())
local path, x0, y0, x1, y1 = "{path}", {x0}, {y0}, {x1}, {y1}
request = function()
  local lng = x0 + math.random() * (x1 - x0)
  local lat = y0 + math.random() * (y1 - y0)
  return wrk.format("GET", string.format("%s?lat=%.6f&lng=%.6f", path, lat, lng))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk missing: apt-get install -y wrk", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


def wait_http(url: str, timeout: float = 120.0, headers: dict[str, str] | None = None) -> None:
    import urllib.request

    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.3)
    raise SystemExit(f"{url} did not come up in {timeout:.0f} s")


def parse_wrk(out: str) -> dict[str, float]:
    def ms(value: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", value)
        assert m, value
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "non2xx": float(errors.group(1)) if errors else 0.0,
        "sock_errors": float(sum(int(g) for g in sock.groups())) if sock else 0.0,
    }


def run_wrk(
    wrk: str, url: str, conns: int, seconds: int, script: Path | None, headers: dict[str, str]
) -> dict[str, float]:
    cmd = [wrk, "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)


def prepare(url: str) -> tuple[str, str, tuple[float, float, float, float]]:
    """Load the shipped layers, leaders and assignment; returns (token, busiest leader, bbox)."""
    from api import security
    from gridmgr import settings as gs
    from gridmgr.assign import auto_assign
    from gridmgr.io import read_layers
    from gridmgr.store import open_store

    store = open_store(url)
    store.upgrade()
    t0 = time.perf_counter()
    store.load_layers(read_layers(gs.DEFAULT_LAYERS), actor="bench")
    store.import_leaders(gs.DEFAULT_LAYERS / "leaders_sample.csv", actor="bench")
    auto_assign(store, actor="bench")
    pieces = store.pieces(geometry=False)
    print(f"loaded {len(pieces):,} pieces in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    uid = store.add_user("bench", "viewer")
    token = security.new_token()
    store.add_token(uid, security.hash_token(token))
    leader = str(pieces["leader_id"].value_counts().index[0])
    b = store.units().total_bounds
    store.close()
    return token, leader, (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--conns", type=int, nargs="+", default=[50, 200])
    args = ap.parse_args()
    wrk = ensure_wrk()
    print(
        f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores",
        file=sys.stderr,
    )

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"gridmgr_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url_obj = make_url(PG_ADMIN_URL).set(database=name)
    url = url_obj.render_as_string(hide_password=False)
    dsn = (
        f"dbname={name} host={url_obj.host or '127.0.0.1'} port={url_obj.port or 5432} "
        f"user={url_obj.username or 'postgres'}"
        + (f" password={url_obj.password}" if url_obj.password else "")
    )
    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_api_"))
    try:
        token, leader, (x0, y0, x1, y1) = prepare(url)
        api_port, peer_port = free_port(), free_port()
        env = {
            **os.environ,
            "GRIDMGR_DATABASE_URL": url,
            "GRIDMGR_ACCESS_LOG": "false",
            "PYTHONPATH": str(ROOT),
        }
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.main:app_from_env",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(api_port),
                    "--workers",
                    str(args.workers),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        peer = tmp / "peer.py"
        peer.write_text(PEER)
        for _ in range(args.workers):
            procs.append(subprocess.Popen([sys.executable, str(peer), dsn, str(peer_port), "16"]))
        auth = {"Authorization": f"Bearer {token}"}
        wait_http(f"http://127.0.0.1:{api_port}/healthz")
        wait_http(f"http://127.0.0.1:{peer_port}/locate?lat=43.8&lng=125.25")
        scripts = {}
        for key, path in (("api", "/api/locate"), ("peer", "/locate")):
            scripts[key] = tmp / f"{key}.lua"
            scripts[key].write_text(LUA.format(path=path, x0=x0, y0=y0, x1=x1, y1=y1))
        rows: list[tuple[str, int, dict[str, float]]] = []
        for conns in args.conns:
            rows.append(
                (
                    "gridmgr /api/locate (in-memory index)",
                    conns,
                    run_wrk(
                        wrk,
                        f"http://127.0.0.1:{api_port}",
                        conns,
                        args.seconds,
                        scripts["api"],
                        auth,
                    ),
                )
            )
            rows.append(
                (
                    "raw PostGIS ST_Contains (psycopg2, ThreadingHTTPServer)",
                    conns,
                    run_wrk(
                        wrk,
                        f"http://127.0.0.1:{peer_port}",
                        conns,
                        args.seconds,
                        scripts["peer"],
                        {},
                    ),
                )
            )
            rows.append(
                (
                    f"gridmgr /api/pieces?leader={leader} (GeoJSON)",
                    conns,
                    run_wrk(
                        wrk,
                        f"http://127.0.0.1:{api_port}/api/pieces?leader={leader}&limit=1000",
                        conns,
                        args.seconds,
                        None,
                        auth,
                    ),
                )
            )
        print(
            f"\n{'target':58} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'non-2xx':>8} {'sock err':>8}"
        )
        for label, conns, r in rows:
            print(
                f"{label:58} {conns:>5} {r['rps']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} "
                f"{int(r['non2xx']):>8} {int(r['sock_errors']):>8}"
            )
        print(json.dumps([{"target": lbl, "conns": c, **r} for lbl, c, r in rows]))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
