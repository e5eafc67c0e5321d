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
4. Drives each target with ``wrk`` (installed by ``scripts/system-deps.sh --bench`` when
   missing) at 50 and 200 connections for ``--seconds`` each; a Lua script picks random points inside the
   zone's bounding box for every request. Prints req/s, p50 and p99 side by side, and the load
   average before the run (the load generator shares the machine's cores: figures from a busy
   machine are not comparable).

5. Login flood (``--case flood``): 40 concurrent wrong-password logins (random user names, one
   client address) for ``--flood-seconds`` (15) while a second ``wrk`` keeps asking
   ``/api/locate`` at 10 connections; the service's RSS (uvicorn and its workers, sampled every
   0.25 s) before, at its peak and after. Twice: with the default login throttling, and with the
   per-account and per-client limits lifted so that every attempt reaches the password check
   (only the bound on concurrent hashes protects the service then). Prints ``/api/locate`` p99
   without and during the flood (target: under 50 ms) and the memory figures.

Run: ``python benchmarks/bench_api.py [--seconds 10] [--workers 2] [--case all|locate|flood]`` (needs PostGIS on
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
from typing import Any

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

LOGIN_LUA = r"""
local n = 0
request = function()
  n = n + 1
  local body = string.format("username=flood%d_%d&password=wrong%d&next=%%2F",
                             math.random(1, 1000000000), n, n)
  return wrk.format("POST", "/login",
                    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
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
    print("wrk missing: bash scripts/system-deps.sh --bench", file=sys.stderr)
    subprocess.run(["bash", str(ROOT / "scripts" / "system-deps.sh"), "--bench"], check=True)
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
    from gridmgr import settings as gs
    from gridmgr.accounts import credentials as security
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


def start_api(
    url: str, port: int, workers: int, extra_env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """``uvicorn api.main:app_from_env`` on the loopback ``port`` with ``workers`` processes."""
    env = {
        **os.environ,
        "GRIDMGR_DATABASE_URL": url,
        "GRIDMGR_ACCESS_LOG": "false",
        "PYTHONPATH": str(ROOT),
        **extra_env,
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:app_from_env",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children (MB)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def locate_case(
    wrk: str, url: str, dsn: str, token: str, leader: str, bbox: tuple[float, ...], args: Any
) -> None:
    """``/api/locate`` and a leader's GeoJSON against the raw PostGIS peer."""
    x0, y0, x1, y1 = bbox
    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_api_"))
    try:
        api_port, peer_port = free_port(), free_port()
        procs.append(start_api(url, api_port, args.workers, {}))
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
            targets: list[tuple[str, str, Path | None, dict[str, str]]] = [
                (
                    "gridmgr /api/locate (in-memory index)",
                    f"http://127.0.0.1:{api_port}",
                    scripts["api"],
                    auth,
                ),
                (
                    "raw PostGIS ST_Contains (psycopg2, ThreadingHTTPServer)",
                    f"http://127.0.0.1:{peer_port}",
                    scripts["peer"],
                    {},
                ),
                (
                    f"gridmgr /api/pieces?leader={leader} (GeoJSON)",
                    f"http://127.0.0.1:{api_port}/api/pieces?leader={leader}&limit=1000",
                    None,
                    auth,
                ),
            ]
            for label, target, script, headers in targets:
                rows.append(
                    (label, conns, run_wrk(wrk, target, conns, args.seconds, script, headers))
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
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


def _flood_once(
    wrk: str, url: str, token: str, bbox: tuple[float, ...], args: Any, extra_env: dict[str, str]
) -> dict[str, float]:
    """One flood run on a fresh server: locate alone, then locate during 40 bad logins."""
    import threading

    x0, y0, x1, y1 = bbox
    tmp = Path(tempfile.mkdtemp(prefix="bench_flood_"))
    port = free_port()
    server = start_api(url, port, args.workers, extra_env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        locate = tmp / "locate.lua"
        locate.write_text(LUA.format(path="/api/locate", x0=x0, y0=y0, x1=x1, y1=y1))
        login = tmp / "login.lua"
        login.write_text(LOGIN_LUA)
        quiet = run_wrk(wrk, base, 10, 5, locate, auth)
        rss_before = tree_rss_mb(server.pid)
        peak = [rss_before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss_mb(server.pid))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        secs = args.flood_seconds
        flood = subprocess.Popen(
            [
                wrk,
                "-t2",
                f"-c{args.flood_conns}",
                f"-d{secs}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                str(login),
                base,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)  # the flood is under way before locate is measured
        during = run_wrk(wrk, base, 10, max(secs - 2, 1), locate, auth)
        out, _ = flood.communicate(timeout=secs + 60)
        done.set()
        sampler.join()
        time.sleep(2.0)
        logins = parse_wrk(out)
        return {
            "quiet_p50": quiet["p50"],
            "quiet_p99": quiet["p99"],
            "flood_p50": during["p50"],
            "flood_p99": during["p99"],
            "locate_non2xx": during["non2xx"],
            "login_rps": logins["rps"],
            "login_p99": logins["p99"],
            "rss_before": rss_before,
            "rss_peak": peak[0],
            "rss_after": tree_rss_mb(server.pid),
        }
    finally:
        stop([server])
        shutil.rmtree(tmp, ignore_errors=True)


def flood_case(wrk: str, url: str, token: str, bbox: tuple[float, ...], args: Any) -> None:
    """The login flood with default throttling, then with only the hash bound."""
    lifted = {
        "GRIDMGR_LOGIN_ACCOUNT_LIMIT": "1000000000",
        "GRIDMGR_LOGIN_CLIENT_LIMIT": "1000000000",
    }
    cases = [("throttled (defaults)", {}), ("limits lifted: hash bound only", lifted)]
    if args.malloc_env:
        malloc = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"}
        cases.append(("lifted + MALLOC_ARENA_MAX=2 env", {**lifted, **malloc}))
    rows = [(label, _flood_once(wrk, url, token, bbox, args, env)) for label, env in cases]
    print(
        f"\nlogin flood: {args.flood_conns} concurrent bad logins for {args.flood_seconds} s, "
        f"/api/locate at 10 connections, {args.workers} workers"
    )
    print(
        f"{'case':32} {'logins/s':>9} {'locate p99 quiet→flood ms':>26} {'< 50 ms':>8} "
        f"{'RSS MB before / peak / after':>30}"
    )
    for label, r in rows:
        ok = "yes" if r["flood_p99"] < 50 and r["locate_non2xx"] == 0 else "NO"
        print(
            f"{label:32} {r['login_rps']:>9.0f} {r['quiet_p99']:>12.2f} → {r['flood_p99']:>9.2f} "
            f"{ok:>8} {r['rss_before']:>10.0f} / {r['rss_peak']:>6.0f} / {r['rss_after']:>6.0f}"
        )
    print(json.dumps([{"case": lbl, **r} for lbl, r in rows]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--conns", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--case", choices=["all", "locate", "flood"], default="all")
    ap.add_argument("--flood-seconds", type=int, default=15)
    ap.add_argument("--flood-conns", type=int, default=40)
    ap.add_argument("--malloc-env", action="store_true", help="a third flood case, glibc tuned")
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
    try:
        token, leader, bbox = prepare(url)
        if args.case in ("all", "locate"):
            locate_case(wrk, url, dsn, token, leader, bbox, args)
        if args.case in ("all", "flood"):
            flood_case(wrk, url, token, bbox, args)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
