"""Coverage report speed and memory: the full report over ~1 M pieces and ~500 leaders.

Data (generated once and cached as a pickle, see ``--cache``): an irregular ~15,000 km² region
around Changchun cut into 50 Voronoi communities (so, as in real layers, many cells are split by
unit borders) under 5 streets and one district; res-10 pieces from ``gridmgr.grid``; per
community 9 grid leaders (Voronoi territories of the pieces) and one package leader: 500 leaders.
To give the report real work: 1 % of the pieces unassigned, 5 grid leaders and one community
package leader inactive, 20,000 key
places (schools, markets …, 2 % without a department, every school needing a package leader).

Printed side by side:

* coverage  — ``gridmgr.coverage.coverage_from_frames`` (every gap kind; frames in memory);
* peer      — ``gridmgr.grid.graph.cells_adjacency`` of the same cells: the H3 neighbour graph with
              h3ronpy, the figure the issue compares against (1.2 s for 1 M cells);
* piece_graph — the part of the report that measures shared boundaries (included in coverage).

Each measurement runs in a fresh subprocess that first loads the cached frames, so the peak RSS
printed is that run's own (frames included) and "report RSS" is the growth during the report.

    python benchmarks/bench_coverage.py [--pieces 1000000] [--cache /tmp/gridmgr_bench_coverage]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(n_pieces: int, path: Path, seed: int = 0) -> None:
    """Build and pickle (units, pieces, leaders, key_places, categories)."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    from scipy.spatial import cKDTree
    from shapely.geometry import Polygon

    from gridmgr.grid import pieces_from_units

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    area_km2 = n_pieces * 15_047e-6 * 0.66  # res-10 hexagon ≈ 15,047 m²; the outline adds ~50 %
    r_deg = np.sqrt(area_km2 / np.pi) / 111.2
    ang = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    r = r_deg * (1 + 0.12 * np.sin(5 * ang) + 0.04 * rng.random(360))
    lat0 = 43.83
    region = Polygon(
        np.c_[125.27 + r * np.cos(ang) / np.cos(np.radians(lat0)), lat0 + r * np.sin(ang)]
    )
    minx, miny, maxx, maxy = region.bounds
    n_comm = 50
    pts = shapely.points(
        np.c_[rng.uniform(minx, maxx, n_comm * 3), rng.uniform(miny, maxy, n_comm * 3)]
    )
    pts = pts[shapely.contains(region, pts)][:n_comm]
    vor = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=region.envelope)
    )
    comms = [shapely.intersection(v, region) for v in vor]
    comms = [c for c in comms if c.area > 0]
    cx = np.array([c.centroid.x for c in comms])
    street_of = np.digitize(cx, np.quantile(cx, [0.2, 0.4, 0.6, 0.8]))
    rows = [
        {"code": "220173", "name": "区", "level": "district", "parent": None, "geometry": region}
    ]
    for s in range(5):
        geom = shapely.union_all([c for c, k in zip(comms, street_of, strict=True) if k == s])
        rows.append(
            {
                "code": f"220173{s + 1:03d}",
                "name": f"街道{s + 1}",
                "level": "street",
                "parent": "220173",
                "geometry": geom,
            }
        )
    for i, (c, s) in enumerate(zip(comms, street_of, strict=True)):
        rows.append(
            {
                "code": f"220173{s + 1:03d}{i + 1:03d}",
                "name": f"社区{i + 1}",
                "level": "community",
                "parent": f"220173{s + 1:03d}",
                "geometry": c,
            }
        )
    units = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    print(f"units: {len(units)} ({time.perf_counter() - t0:.1f} s)", flush=True)
    pieces = pieces_from_units(units, res=10)
    print(
        f"pieces: {len(pieces):,} ({(~pieces['whole']).sum():,} split) ({time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    pieces["id"] = np.arange(1, len(pieces) + 1)
    cent = shapely.centroid(np.asarray(pieces.geometry.values))
    xy = np.c_[shapely.get_x(cent), shapely.get_y(cent)]
    leader = np.empty(len(pieces), dtype=object)
    leaders = []
    comm_codes = units.loc[units["level"] == "community", "code"].tolist()
    for k, code in enumerate(comm_codes):
        sel = np.flatnonzero(pieces["unit_code"].to_numpy() == code)
        seeds = xy[rng.choice(sel, size=9, replace=False)]
        nearest = cKDTree(seeds).query(xy[sel])[1]
        ids = [f"G{k:02d}_{j}" for j in range(9)]
        leader[sel] = np.array(ids, dtype=object)[nearest]
        for j, lid in enumerate(ids):
            leaders.append(
                {
                    "id": lid,
                    "name": lid,
                    "role": "grid_leader",
                    "department": None,
                    "capacity": 1.0,
                    "active": not (j == 0 and k < 5),
                    "unit_packages": [code],
                    "place_packages": [],
                }
            )
        leaders.append(
            {
                "id": f"P{k:02d}",
                "name": f"P{k:02d}",
                "role": "package_leader",
                "department": None,
                "capacity": 1.0,
                "active": k != 0,
                "unit_packages": [code],
                "place_packages": [],
            }
        )
    unassigned = rng.random(len(pieces)) < 0.01
    leader[unassigned] = None
    pieces["leader_id"] = leader
    pieces["fallback"] = False
    pieces["version"] = 1
    # key places: points in random pieces, with the stored piece link
    n_kp = 20_000
    kp_piece = rng.choice(len(pieces), size=n_kp, replace=False)
    cats = np.array(["school", "mall", "farmers_market", "park", "clinic", "no_dept"], dtype=object)
    kp_cat = cats[rng.integers(0, len(cats), n_kp)]
    kp = gpd.GeoDataFrame(
        {
            "code": [f"KP{i:05d}" for i in range(n_kp)],
            "name": "kp",
            "category": kp_cat,
            "unit_code": pieces["unit_code"].to_numpy()[kp_piece],
            "piece_id": pieces["id"].to_numpy()[kp_piece],
            "package_leader_id": None,
        },
        geometry=shapely.point_on_surface(np.asarray(pieces.geometry.values)[kp_piece]),
        crs="EPSG:4326",
    )
    schools = np.flatnonzero(kp_cat == "school")
    comm_idx = pd.Index(comm_codes).get_indexer(kp["unit_code"].to_numpy()[schools])
    for i, ci in zip(schools, comm_idx, strict=True):
        leaders[ci * 10 + 9]["place_packages"].append(kp["code"].iat[i])
    categories = pd.DataFrame(
        {
            "category": ["school", "mall", "farmers_market", "park", "clinic"],
            "department": ["JYJ", "SWJ", "SJJ", "ZJJ", "WJJ"],
            "requires_package_leader": [True, False, False, False, False],
        }
    )
    with open(path, "wb") as fh:
        pickle.dump(
            (units, pieces, pd.DataFrame(leaders), kp, categories),
            fh,
            protocol=pickle.HIGHEST_PROTOCOL,
        )
    print(f"cached {path} ({time.perf_counter() - t0:.1f} s)", flush=True)


def measure(path: Path, what: str) -> dict[str, Any]:
    """Run one measurement in this (fresh) process."""
    with open(path, "rb") as fh:
        units, pieces, leaders, kp, categories = pickle.load(fh)
    import gridmgr.coverage  # noqa: F401

    base = _rss_mib()
    out: dict[str, Any] = {"pieces": len(pieces), "leaders": len(leaders), "rss_frames_mib": base}
    t0 = time.perf_counter()
    c0 = time.process_time()
    if what == "coverage":
        from gridmgr.coverage import coverage_from_frames

        rep = coverage_from_frames(units, pieces, leaders, kp, categories)
        out["summary"] = {
            k: rep.summary[k]
            for k in (
                "blind_spot_pieces",
                "inactive_leader_pieces",
                "fallback_pieces",
                "misplaced_pieces",
                "key_places_without_leader",
                "key_places_without_department",
                "key_places_without_package_leader",
                "fragmented_leaders",
                "enclaves",
                "max_load_ratio",
                "gaps",
                "warnings",
            )
        }
        out["findings"] = len(rep.findings)
    elif what == "piece_graph":
        from gridmgr.grid.piece_graph import piece_graph

        g = piece_graph(pieces)
        out["pairs"] = len(g.i)
    elif what == "peer":
        from gridmgr.grid import h3_adapter as _h3
        from gridmgr.grid.graph import cells_adjacency

        cells = _h3.str_to_cells(pieces["cell"].unique())
        t0 = time.perf_counter()  # parsing strings is not part of the peer's figure
        c0 = time.process_time()
        adj = cells_adjacency(cells)
        out["cells"] = len(cells)
        out["pairs"] = int(adj.nnz // 2)
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0
    out["peak_rss_mib"] = _peak_mib()
    out["report_rss_mib"] = out["peak_rss_mib"] - base
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pieces", type=int, default=1_000_000)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gridmgr_bench_coverage"))
    ap.add_argument(
        "--measure", choices=["coverage", "piece_graph", "peer"], help=argparse.SUPPRESS
    )
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.data, args.measure)))
        return
    args.cache.mkdir(parents=True, exist_ok=True)
    data = args.cache / f"frames_{args.pieces}.pkl"
    if not data.exists():
        generate(args.pieces, data)
    results = {}
    for what in ("coverage", "piece_graph", "peer"):
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", what, "--data", str(data)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[what] = json.loads(proc.stdout.strip().splitlines()[-1])
    cov = results["coverage"]
    print(
        f"\n{cov['pieces']:,} pieces, {cov['leaders']} leaders; frames in memory {cov['rss_frames_mib']:.0f} MiB"
    )
    print(f"{'':14s}{'seconds':>10s}{'CPU s':>8s}{'peak RSS MiB':>14s}{'growth MiB':>12s}")
    for what, label in (
        ("coverage", "coverage"),
        ("piece_graph", "piece_graph"),
        ("peer", "peer (h3 adj)"),
    ):
        r = results[what]
        print(
            f"{label:14s}{r['seconds']:10.2f}{r['cpu_seconds']:8.2f}{r['peak_rss_mib']:14.0f}{r['report_rss_mib']:12.0f}"
        )
    print(
        f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
        "(wall-clock figures stretch when other work shares the machine; CPU s less so)"
    )
    mem = cov["peak_rss_mib"] < 2048
    print(
        f"target < 5 s and < 2 GiB peak: wall {'yes' if cov['seconds'] < 5 and mem else 'NO'}, "
        f"CPU {'yes' if cov['cpu_seconds'] < 5 and mem else 'NO'}; "
        f"report / peer (CPU): {cov['cpu_seconds'] / max(results['peer']['cpu_seconds'], 1e-9):.1f}x"
    )
    print("summary:", json.dumps(cov["summary"], ensure_ascii=False))


if __name__ == "__main__":
    main()
