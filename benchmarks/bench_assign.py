"""Initial assignment: gridmgr's contiguous partitioner vs pymetis on the same graph.

Graph: a connected, ragged blob of res-10 H3 cells around Changchun
(:func:`benchmarks._synthetic.synthetic_grid`), loads = hectares + 5 per key place with clustered
key places (:func:`benchmarks._synthetic.synthetic_loads`), equal capacities (and, with
``--spread``, capacities drawn from ``1 ± spread``; pymetis then gets them as ``tpwgts``).

For each case it prints, side by side:

* cpu       — median CPU time of the same runs (both are single-threaded; on a shared machine
              this is the fairer figure);
* time      — median wall time of ``--repeat`` runs (gridmgr: ``AutoAssign.from_graph(...).solve()``
              including validation and metrics; pymetis: ``part_graph`` alone);
* max/mean  — max over parts of load/capacity divided by the mean of load/capacity;
* min/mean  — the same for the lightest part;
* split     — parts (territories) that are not one connected region;
* cut       — edges between different parts (lower: more compact territories).

    python benchmarks/bench_assign.py [--cases 10000:20 100000:200] [--repeat 3] [--spread 0.0]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import scipy.sparse as sp

try:
    from benchmarks._synthetic import synthetic_capacities, synthetic_grid, synthetic_loads
except ModuleNotFoundError:  # run as a file: python benchmarks/bench_assign.py
    from _synthetic import synthetic_capacities, synthetic_grid, synthetic_loads  # type: ignore[no-redef]
from gridmgr.assign import AutoAssign
from gridmgr.grid.graph import connected_parts


def _metrics(
    adj: sp.csr_matrix, w: np.ndarray, owner: np.ndarray, caps: np.ndarray
) -> dict[str, float]:
    k = len(caps)
    per = np.bincount(owner, weights=w, minlength=k) / caps
    coo = sp.triu(adj, k=1).tocoo()
    return {
        "max_mean": float(per.max() / per.mean()),
        "min_mean": float(per.min() / per.mean()),
        "split": float((connected_parts(adj, owner, k) != 1).sum()),
        "cut": float((owner[coo.row] != owner[coo.col]).sum()),
    }


def run_gridmgr(
    adj: sp.csr_matrix, w: np.ndarray, caps: np.ndarray, repeat: int
) -> dict[str, float]:
    times, cpu, owner = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = AutoAssign.from_graph(adj, w, caps, seed=0).solve()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        owner = res.owner
    assert owner is not None
    return {
        "seconds": statistics.median(times),
        "cpu": statistics.median(cpu),
        **_metrics(adj, w, owner, caps),
    }


def run_pymetis(
    adj: sp.csr_matrix, w: np.ndarray, caps: np.ndarray, repeat: int
) -> dict[str, float]:
    import pymetis

    vw = np.maximum(np.round(w * 1000).astype(np.int64), 1)
    k = len(caps)
    tp = (caps / caps.sum()).tolist() if np.ptp(caps) > 0 else None
    times, cpu, owner = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", DeprecationWarning
            )  # xadj/adjncy keywords in pymetis ≥ 2025
            _, parts = pymetis.part_graph(
                k, xadj=adj.indptr, adjncy=adj.indices, vweights=vw, tpwgts=tp
            )
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        owner = np.asarray(parts, dtype=np.int64)
    assert owner is not None
    return {
        "seconds": statistics.median(times),
        "cpu": statistics.median(cpu),
        **_metrics(adj, w, owner, caps),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="+", default=["10000:20", "100000:200"], help="pieces:leaders")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--spread", type=float, default=0.0, help="capacity spread (0: equal capacities)"
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    head = (
        f"{'case':>12} {'method':>8} {'time s':>8} {'cpu s':>7} {'max/mean':>9} {'min/mean':>9} "
        f"{'split':>6} {'cut':>8}"
    )
    print(head)
    print("-" * len(head))
    for case in args.cases:
        n, k = (int(x) for x in case.split(":"))
        cells, adj = synthetic_grid(n, seed=args.seed)
        w = synthetic_loads(cells, seed=args.seed)
        caps = synthetic_capacities(k, seed=args.seed, spread=args.spread)
        for name, fn in (("gridmgr", run_gridmgr), ("pymetis", run_pymetis)):
            m = fn(adj, w, caps, args.repeat)
            print(
                f"{n // 1000:>6}k/{k:<5d} {name:>8} {m['seconds']:>8.3f} {m['cpu']:>7.3f} "
                f"{m['max_mean']:>9.4f} "
                f"{m['min_mean']:>9.4f} {int(m['split']):>6d} {int(m['cut']):>8d}"
            )


if __name__ == "__main__":
    main()
