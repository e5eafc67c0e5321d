"""Patrol route quality: gridmgr's numpy tour engine vs OR-Tools guided local search.

Instances: ``n`` random stops (uniform) inside the Changchun High-tech Zone's shipped units, one
closed tour from stop 0, Euclidean metres in a local transverse Mercator CRS — the same matrix
for every solver. Printed side by side per instance:

* gridmgr   — :func:`gridmgr.patrol.solve_tour` (nearest neighbour → 2-opt + Or-opt with
              neighbour lists → iterated local search with local double-bridge kicks) with its
              default 0.4 s budget;
* ort-2s    — OR-Tools routing, PATH_CHEAPEST_ARC + GUIDED_LOCAL_SEARCH, 2 s limit;
* ort-10s   — the same with 10 s (skipped with ``--quick``).

The gap column is gridmgr's length relative to OR-Tools-10 s (negative: gridmgr is shorter).
Times are wall-clock of the solver call only (the distance matrix is shared).

``--maps`` also reports map weight and load time: a leader map of 500 pieces (HTML size) and the
overview map of the whole zone at res 10 (HTML size, and load time in headless Chromium when
``/usr/bin/chromium`` exists).

    python benchmarks/bench_patrol.py [--sizes 50 200 1000] [--seeds 3] [--quick] [--maps]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np


def random_stops(n: int, seed: int) -> np.ndarray:
    """``n`` random points (metres, local CRS) inside the zone's shipped units."""
    import shapely

    from gridmgr.io import read_layers
    from gridmgr.patrol.stops import _Projector
    from gridmgr.settings import DEFAULT_LAYERS

    layers = read_layers(DEFAULT_LAYERS)
    units = layers.units
    zone = shapely.union_all(np.asarray(units.loc[units["level"] == "community"].geometry.values))
    minx, miny, maxx, maxy = zone.bounds
    rng = np.random.default_rng(seed)
    pts = np.empty((0, 2))
    while len(pts) < n:
        cand = np.column_stack([rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n)])
        inside = shapely.contains_xy(zone, cand[:, 0], cand[:, 1])
        pts = np.vstack([pts, cand[inside]])
    pts = pts[:n]
    proj = _Projector((minx + maxx) / 2, (miny + maxy) / 2)
    return proj.xy(pts[:, 0], pts[:, 1])


def distance_matrix(xy: np.ndarray) -> np.ndarray:
    return np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))


def ortools_tour(d: np.ndarray, seconds: int) -> tuple[list[int], float]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(d)
    cost = np.rint(d * 100).astype(np.int64)  # centimetres
    manager = pywrapcp.RoutingIndexManager(n, 1, 0)
    model = pywrapcp.RoutingModel(manager)
    cb = model.RegisterTransitMatrix(cost.tolist())
    model.SetArcCostEvaluatorOfAllVehicles(cb)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.seconds = seconds
    t0 = time.perf_counter()
    sol = model.SolveWithParameters(params)
    elapsed = time.perf_counter() - t0
    idx = model.Start(0)
    tour = []
    while not model.IsEnd(idx):
        tour.append(manager.IndexToNode(idx))
        idx = sol.Value(model.NextVar(idx))
    return tour, elapsed


def bench_routes(sizes: list[int], seeds: int, quick: bool) -> None:
    from gridmgr.patrol import nearest_neighbour_tour, solve_tour, tour_length

    head = (
        f"{'stops':>6} {'seed':>4} | {'NN m':>9} | {'gridmgr m':>10} {'s':>6} | "
        f"{'ort-2s m':>10} {'s':>5} | {'ort-10s m':>10} {'s':>5} | {'vs ort-10s':>10} "
        f"{'vs ort-2s':>9}"
    )
    print(head)
    print("-" * len(head))
    summary: dict[int, list[tuple[float, float, float]]] = {}
    for n in sizes:
        for seed in range(seeds):
            d = distance_matrix(random_stops(n, seed))
            nn = tour_length(d, nearest_neighbour_tour(d))
            t0 = time.perf_counter()
            ours = solve_tour(d, seed=seed)
            t_ours = time.perf_counter() - t0
            l_ours = tour_length(d, ours)
            t2, e2 = ortools_tour(d, 2)
            l2 = tour_length(d, t2)
            if quick:
                l10, e10 = float("nan"), float("nan")
            else:
                t10, e10 = ortools_tour(d, 10)
                l10 = tour_length(d, t10)
            gap10 = (l_ours / l10 - 1) * 100
            gap2 = (l_ours / l2 - 1) * 100
            summary.setdefault(n, []).append((gap10, gap2, t_ours))
            print(
                f"{n:>6} {seed:>4} | {nn:>9,.0f} | {l_ours:>10,.0f} {t_ours:>6.3f} | "
                f"{l2:>10,.0f} {e2:>5.1f} | {l10:>10,.0f} {e10:>5.1f} | {gap10:>+9.2f}% "
                f"{gap2:>+8.2f}%"
            )
    print()
    print("summary (gridmgr vs OR-Tools; negative = gridmgr shorter)")
    for n, rows in summary.items():
        g10 = np.array([r[0] for r in rows])
        g2 = np.array([r[1] for r in rows])
        ts = np.array([r[2] for r in rows])
        print(
            f"  {n:>5} stops: vs ort-10s mean {np.nanmean(g10) if not quick else float('nan'):+.2f}% "
            f"worst {np.nanmax(g10) if not quick else float('nan'):+.2f}% | vs ort-2s mean "
            f"{g2.mean():+.2f}% worst {g2.max():+.2f}% | gridmgr time max {ts.max():.3f} s"
        )


def bench_maps() -> None:
    import os
    import tempfile

    import h3
    import shapely

    from gridmgr import maps
    from gridmgr.grid import pieces_from_units
    from gridmgr.io import read_layers
    from gridmgr.patrol import patrol_route
    from gridmgr.settings import DEFAULT_LAYERS

    layers = read_layers(DEFAULT_LAYERS)
    pieces = pieces_from_units(layers.units, res=10)
    big = pieces.loc[pieces["unit_code"] == "220173001004"].iloc[:500]
    terr = shapely.union_all(np.asarray(big.geometry.values))
    kp = layers.key_places.loc[layers.key_places.geometry.intersects(terr)]
    t0 = time.perf_counter()
    route = patrol_route(big, kp, roads=layers.roads)
    t_route = time.perf_counter() - t0
    t0 = time.perf_counter()
    page = maps.map_html(
        maps.leader_map(
            big,
            kp,
            route,
            leader={"id": "X", "name": "网格长"},
            basemap="osm",
            categories=layers.categories,
            departments=layers.departments,
        )
    )
    t_map = time.perf_counter() - t0
    print(
        f"leader map, {len(big)} pieces + {len(kp)} key places: route {t_route:.2f} s "
        f"({route.length_m / 1000:.1f} km), HTML {len(page.encode()) / 1024:.0f} KB built in {t_map:.2f} s"
    )

    p = pieces.copy()
    p["leader_id"] = [
        f"{u}-{h3.cell_to_parent(c, 7)}" for u, c in zip(p["unit_code"], p["cell"], strict=True)
    ]
    t0 = time.perf_counter()
    over = maps.map_html(maps.overview_map(layers.units, p, basemap="osm"))
    t_over = time.perf_counter() - t0
    print(
        f"overview map, whole zone res 10: {len(p):,} pieces, {p['leader_id'].nunique()} territories, "
        f"HTML {len(over.encode()) / 1024:.0f} KB built in {t_over:.2f} s"
    )
    if not os.path.exists("/usr/bin/chromium"):
        print("  (no /usr/bin/chromium: load time not measured)")
        return
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        for name, html_text in (("leader", page), ("overview", over)):
            path = os.path.join(tmp, f"{name}.html")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(html_text)
            b = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-sync",
                ],
            )
            pg = b.new_page(viewport={"width": 1280, "height": 800})
            pg.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
            )
            t0 = time.perf_counter()
            pg.goto("file://" + path)
            pg.wait_for_load_state("load")
            pg.wait_for_selector("path.leaflet-interactive", state="attached")
            elapsed = time.perf_counter() - t0
            n_paths = pg.locator("path.leaflet-interactive").count()
            b.close()
            print(
                f"  {name}: loaded and drawn in Chromium in {elapsed:.2f} s ({n_paths} SVG paths)"
            )


def main(argv: Any = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000])
    ap.add_argument("--seeds", type=int, default=3, help="instances per size")
    ap.add_argument("--quick", action="store_true", help="skip the OR-Tools 10 s runs")
    ap.add_argument("--maps", action="store_true", help="also report map weight and load time")
    args = ap.parse_args(argv)
    bench_routes(args.sizes, args.seeds, args.quick)
    if args.maps:
        print()
        bench_maps()


if __name__ == "__main__":
    main()
