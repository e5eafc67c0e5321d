"""The ``/api/locate`` index at scale: build time, peak RSS and lookup latency, before and after.

A synthetic province (``bench_scale.make_layers``, seeded) is loaded once into a SQLite store
(``--db``, kept between runs: about a million pieces at the default ``--scale 0.08``,
resolution 10). Then, each in a fresh process whose resident memory is sampled every 0.05 s:

* ``old`` — the index as it was at ``--old-rev`` (``api/locate.py`` of that commit, loaded from
  git): every piece's full geometry, a GeoJSON string and Python lists and dicts per piece;
* ``new`` — :class:`api.locate.LocateIndex` of the working tree: numpy columns, geometry only
  for border pieces (``store.pieces(geometry="border")``).

Each process builds the index from the store, answers ``--points`` random ``locate`` calls
(uniform in the region's bounding box, seeded; p50/p99 per call), and ``--boxes`` bbox queries of
0.01 square degree with their first page of 100 features as GeoJSON. Printed side by side.
``--check`` also builds both in one process and compares their answers byte for byte (locate
JSON at random points; whole GeoJSON FeatureCollections of random boxes).

    python benchmarks/bench_locate_index.py [--scale 0.08] [--db /tmp/bench_locate.db] [--check]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OLD_REV = "26780e3"


def _make_store(db: Path, scale: float, res: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_scale import make_layers

    from gridmgr.store import open_store

    t0 = time.perf_counter()
    store = open_store(f"sqlite:///{db}")
    store.upgrade()
    report = store.load_layers(make_layers(scale), res=res, actor="bench")
    store.close()
    return {"pieces": report.pieces.added, "seconds": time.perf_counter() - t0}


def _locate_module(which: str, old_rev: str) -> Any:
    """``api.locate`` of the working tree (``new``) or of ``old_rev`` (``old``)."""
    if which == "new":
        import api.locate

        return api.locate
    import importlib.util

    src = subprocess.run(
        ["git", "show", f"{old_rev}:api/locate.py"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_locate.py"
    path.write_bytes(src)
    spec = importlib.util.spec_from_file_location("old_locate", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["old_locate"] = mod
    spec.loader.exec_module(mod)
    return mod


def _child(which: str, args: argparse.Namespace) -> dict[str, Any]:
    from gridmgr.store import open_store

    mod = _locate_module(which, args.old_rev)
    store = open_store(f"sqlite:///{args.db}")
    t0 = time.perf_counter()
    index = mod.LocateIndex.from_store(store)
    out: dict[str, Any] = {"build_s": time.perf_counter() - t0, "pieces": len(index.piece_ids)}
    gc.collect()
    out["rss_after_build_mb"] = _rss(os.getpid()) / 2**20
    units = store.units()
    minx, miny, maxx, maxy = units.total_bounds
    rng = np.random.default_rng(7)
    lng = rng.uniform(minx, maxx, args.points)
    lat = rng.uniform(miny, maxy, args.points)
    index.locate(float(lng[0]), float(lat[0]))
    times = np.empty(args.points)
    inside = 0
    for i in range(args.points):
        t = time.perf_counter()
        r = index.locate(float(lng[i]), float(lat[i]))
        times[i] = time.perf_counter() - t
        inside += bool(r["inside"])
    out["locate_p50_us"] = float(np.percentile(times, 50) * 1e6)
    out["locate_p99_us"] = float(np.percentile(times, 99) * 1e6)
    out["inside"] = inside
    out["bbox_ms"] = _boxes(which, mod, index, args, (minx, miny, maxx, maxy))
    store.close()
    return out


def _check(args: argparse.Namespace) -> dict[str, Any]:
    """Old and new index side by side on the same store: the same answers, byte for byte."""
    from api.geojson import dumps, feature_collection
    from gridmgr.store import open_store

    old, new = _locate_module("old", args.old_rev), _locate_module("new", args.old_rev)
    store = open_store(f"sqlite:///{args.db}")
    a, b = old.LocateIndex.from_store(store), new.LocateIndex.from_store(store)
    minx, miny, maxx, maxy = store.units().total_bounds
    rng = np.random.default_rng(9)
    pts = zip(
        rng.uniform(minx, maxx, args.points), rng.uniform(miny, maxy, args.points), strict=True
    )
    points = sum(dumps(a.locate(x, y)) == dumps(b.locate(x, y)) for x, y in pts)
    same_boxes = 0
    for _ in range(args.boxes):
        x, y = rng.uniform(minx, maxx - 0.1), rng.uniform(miny, maxy - 0.1)
        box = (x, y, x + rng.uniform(0.001, 0.1), y + rng.uniform(0.001, 0.1))
        pa, pb = old.select_pieces(a, bbox=box), new.select_pieces(b, bbox=box)
        ca = feature_collection(
            [a.piece_json[p] for p in pa], old.piece_properties(a, pa), ids=pa, n=len(pa)
        )
        cb = feature_collection(
            b.data.geojson(pb), new.piece_properties(b, pb), ids=pb.tolist(), n=len(pb)
        )
        same_boxes += ca == cb
    return {
        "points": args.points,
        "same_points": points,
        "boxes": args.boxes,
        "same_boxes": same_boxes,
    }


def _boxes(which: str, mod: Any, index: Any, args: argparse.Namespace, bounds: Any) -> float:
    """Median ms of a bbox query of 0.01 deg² and its first page (100 features) as GeoJSON."""
    from api.geojson import feature_collection

    minx, miny, maxx, maxy = bounds
    rng = np.random.default_rng(8)
    times = []
    for _ in range(args.boxes):
        x, y = rng.uniform(minx, maxx - 0.1), rng.uniform(miny, maxy - 0.1)
        box = (x, y, x + 0.1, y + 0.1)
        t = time.perf_counter()
        pos = mod.select_pieces(index, bbox=box)
        page = pos[:100]
        if which == "new":
            geoms = index.data.geojson(page)
        else:
            geoms = [index.piece_json[p] for p in page]
        feature_collection(geoms, mod.piece_properties(index, page), ids=list(range(len(page))))
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def _rss(pid: int) -> int:
    import psutil

    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return 0


def _run(which: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", which, "--db", str(args.db)]
    cmd += ["--points", str(args.points), "--boxes", str(args.boxes), "--old-rev", args.old_rev]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(proc.pid))
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    stdout, _ = proc.communicate()
    done.set()
    th.join()
    if proc.returncode != 0:
        return {"failed": proc.returncode, "peak_rss_mb": peak / 2**20}
    r = dict(json.loads(stdout.strip().splitlines()[-1]))
    r["peak_rss_mb"] = peak / 2**20
    return r


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scale", type=float, default=0.08)
    ap.add_argument("--res", type=int, default=10)
    ap.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "bench_locate.db")
    ap.add_argument("--points", type=int, default=20_000)
    ap.add_argument("--boxes", type=int, default=50)
    ap.add_argument("--old-rev", default=OLD_REV)
    ap.add_argument("--only", choices=["old", "new"], default=None)
    ap.add_argument("--check", action="store_true", help="compare old and new answers too")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        print(json.dumps(_check(args) if args.child == "check" else _child(args.child, args)))
        return
    if not args.db.exists():
        made = _make_store(args.db, args.scale, args.res)
        print(f"store {args.db}: {made['pieces']:,} pieces loaded in {made['seconds']:.0f} s")
    rows = {w: _run(w, args) for w in ("old", "new") if args.only in (None, w)}
    keys = ["pieces", "build_s", "peak_rss_mb", "rss_after_build_mb"]
    keys += ["locate_p50_us", "locate_p99_us", "bbox_ms"]
    print(f"{'':<20}" + "".join(f"{w:>14}" for w in rows))
    for k in keys:
        cells = []
        for r in rows.values():
            v = r.get(k, float("nan"))
            cells.append(f"{v:>14,.1f}" if isinstance(v, float) else f"{v:>14,}")
        print(f"{k:<20}" + "".join(cells))
    if args.check:
        print("same answers:", _run("check", args))
    bad = {w: r for w, r in rows.items() if "failed" in r}
    if bad:
        print("failed:", bad)


if __name__ == "__main__":
    main()
