"""Minimal-move rebalancing vs pymetis repartitioning from scratch.

For each size (pieces:leaders) a connected synthetic grid around Changchun is generated
(``benchmarks/_synthetic.py``). The *current* assignment is a contiguous pymetis partition of the
original loads, brought into the 1.02 band by one rebalance (so every scenario starts from a
balanced state, as in practice). Then three perturbations:

* ``remove``  — one leader leaves (capacity 0);
* ``weights`` — one area's load rises (key-place weight 5 → 15 in a disk of about 3 % of the
  pieces; ``--weights-factor``);
* ``add3``    — three leaders join.

For each, gridmgr's :class:`~gridmgr.rebalance.Rebalance` and pymetis (``contiguous=True``, from
scratch on the perturbed graph) are run and printed side by side: time, max/mean load, disconnected
territories, pieces that changed owner. pymetis's parts are first matched to the current leaders
by greatest overlap (``scipy.optimize.linear_sum_assignment`` on the overlap matrix), so its churn
is counted as generously as possible.

Run: ``python -m benchmarks.bench_rebalance --sizes 10000:20,100000:200`` (default: 10k:20,
100k:200, 1M:500). Targets: max/mean ≤ 1.02, zero disconnected territories, at most one fifth of
pymetis's moved pieces, under 5× pymetis's time.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

try:  # run as `python -m benchmarks.bench_rebalance` or as `python benchmarks/bench_rebalance.py`
    from benchmarks._synthetic import synthetic_grid, synthetic_loads
except ModuleNotFoundError:
    from _synthetic import synthetic_grid, synthetic_loads  # type: ignore[no-redef]
from gridmgr.rebalance import Rebalance

DEFAULT_SIZES = "10000:20,100000:200,1000000:500"


@dataclass
class Row:
    scenario: str
    method: str
    seconds: float
    max_ratio: float
    min_ratio: float
    disconnected: int
    moved: int


def _metis(
    adj: sp.csr_matrix, loads: NDArray[np.float64], k: int
) -> tuple[NDArray[np.int64], float]:
    import pymetis

    vw = np.maximum(np.round(loads * 100), 1).astype(np.int64)
    graph = pymetis.CSRAdjacency(adj.indptr.astype(np.int64), adj.indices.astype(np.int64))
    t0 = time.perf_counter()
    opts = pymetis.Options(contig=1)
    _, parts = pymetis.part_graph(k, graph, vweights=vw, options=opts)
    return np.asarray(parts, dtype=np.int64), time.perf_counter() - t0


def _ratios(
    owner: NDArray[np.int64], loads: NDArray[np.float64], cap: NDArray[np.float64]
) -> NDArray[np.float64]:
    active = cap > 0
    load = np.bincount(owner[owner >= 0], weights=loads[owner >= 0], minlength=len(cap))
    fair = cap * loads.sum() / cap[active].sum()
    return load[active] / fair[active]


def _disconnected(adj: sp.csr_matrix, owner: NDArray[np.int64]) -> int:
    up = sp.triu(adj, k=1).tocoo()
    same = owner[up.row] == owner[up.col]
    g = sp.coo_matrix((np.ones(int(same.sum())), (up.row[same], up.col[same])), shape=adj.shape)
    comp = connected_components(g, directed=False)[1]
    pairs = np.unique(owner.astype(np.int64) * (comp.max() + 1) + comp)
    return int((np.bincount(pairs // (comp.max() + 1)) > 1).sum())


def _matched(
    parts: NDArray[np.int64], owner: NDArray[np.int64], cap: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Relabel pymetis parts with leaders by greatest overlap; extra parts go to pieceless leaders."""
    k = int(parts.max()) + 1
    n_leaders = len(cap)
    held = owner >= 0
    overlap = sp.coo_matrix(
        (np.ones(int(held.sum())), (parts[held], owner[held])), shape=(k, n_leaders)
    ).toarray()
    overlap[:, cap <= 0] = -1e9  # leaving leaders cannot take a part
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    label = np.full(k, -1, dtype=np.int64)
    label[rows] = cols
    return label[parts]


def _run(
    n: int, k: int, seed: int, min_ratio: float | None = None, factor: float = 3.0
) -> list[Row]:
    t0 = time.perf_counter()
    cells, adj = synthetic_grid(n, seed=seed)
    loads = synthetic_loads(cells, seed=seed)
    print(
        f"\n== {n:,} pieces, {k} leaders (grid built in {time.perf_counter() - t0:.1f} s) ==",
        flush=True,
    )
    parts, _ = _metis(adj, loads, k)
    cap = np.ones(k)
    base = Rebalance.from_graph(adj, loads, parts, cap, seed=seed).solve()
    owner = base.owner
    print(
        f"start: pymetis partition max/mean {_ratios(parts, loads, cap).max():.4f} → rebalanced "
        f"{base.after.max_ratio:.4f} ({base.moved_pieces} moves), disconnected {base.after.disconnected}"
    )
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    # Perturbations.
    scenarios: list[tuple[str, NDArray[np.float64], NDArray[np.float64]]] = []
    cap_remove = cap.copy()
    cap_remove[int(owner[rng.integers(n)])] = 0.0
    scenarios.append(("remove", loads, cap_remove))
    centre = int(rng.integers(n))
    hops = sp.csgraph.shortest_path(adj, unweighted=True, indices=centre)
    area = hops <= np.quantile(hops, 0.03)
    kp = np.round((loads - loads.min()) / 5.0)  # key places in the synthetic load
    loads_w = loads + np.where(
        area, 5.0 * (factor - 1.0) * kp, 0.0
    )  # key-place weight 5 → 5·factor
    scenarios.append(("weights", loads_w, cap))
    scenarios.append(("add3", loads, np.r_[cap, np.ones(3)]))
    for name, ld, cp in scenarios:
        t0 = time.perf_counter()
        res = Rebalance.from_graph(adj, ld, owner, cp, seed=seed, min_ratio=min_ratio).solve()
        t_rb = time.perf_counter() - t0
        rows.append(
            Row(
                name,
                "gridmgr",
                t_rb,
                res.after.max_ratio,
                res.after.min_ratio,
                res.after.disconnected,
                res.moved_pieces,
            )
        )
        k_m = int((cp > 0).sum())
        parts_m, t_m = _metis(adj, ld, k_m)
        lab = _matched(parts_m, owner, cp)
        r = _ratios(lab, ld, cp)
        rows.append(
            Row(
                name,
                "pymetis",
                t_m,
                float(r.max()),
                float(r.min()),
                _disconnected(adj, lab),
                int((lab != owner).sum()),
            )
        )
        _print_pair(rows[-2], rows[-1])
    return rows


def _print_pair(ours: Row, peer: Row) -> None:
    for r in (ours, peer):
        print(
            f"{r.scenario:8s} {r.method:8s} {r.seconds:8.2f} s  max/mean {r.max_ratio:6.4f}  "
            f"min/mean {r.min_ratio:6.4f}  disconnected {r.disconnected:4d}  moved {r.moved:9,d}"
        )
    print(
        f"{'':8s} {'ratio':8s} {ours.seconds / max(peer.seconds, 1e-9):8.2f} ×  moved "
        f"{ours.moved / max(peer.moved, 1):.3f} of pymetis's",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="comma list of pieces:leaders")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--min-ratio",
        type=float,
        default=None,
        help="lower end of the band (default 2 - 1.02 = 0.98)",
    )
    ap.add_argument(
        "--weights-factor",
        type=float,
        default=3.0,
        help="key-place weight multiplier inside the raised area (default 3: 5 → 15)",
    )
    args = ap.parse_args(argv)
    all_rows: list[Row] = []
    for item in args.sizes.split(","):
        n_s, k_s = item.split(":")
        all_rows += _run(int(float(n_s)), int(k_s), args.seed, args.min_ratio, args.weights_factor)
    print("\nsummary (gridmgr vs pymetis): time ×, moved fraction, gridmgr max/mean, disconnected")
    for a, b in zip(all_rows[::2], all_rows[1::2], strict=True):
        print(
            f"  {a.scenario:8s} time {a.seconds / max(b.seconds, 1e-9):5.2f}×  moved "
            f"{a.moved / max(b.moved, 1):.3f}  max/mean {a.max_ratio:.4f}  disconnected {a.disconnected}"
        )


if __name__ == "__main__":
    main()
