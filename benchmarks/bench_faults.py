"""Nightly fault injection: SIGKILL every write command ≥ 30 times per backend, print outcomes.

Commands: ``load`` (empty store), ``load --res 9 --force`` (reload over an assigned store),
``leaders import``, ``assign auto``, ``assign import`` (a few hundred edited rows), ``rebalance
apply`` (a proposed plan) and ``users disable``, each from its own before state, on the whole
shipped Changchun High-tech Zone layers (7,250 pieces), on SQLite and PostGIS. Each trial kills
the command after a random delay in [0, 1.1 × its undisturbed duration] and checks the store
(``benchmarks/_faults.py``): every piece exactly one assignment row, the history replays to the
current state, and the whole store is exactly the before or the after state.

Prints one row per command and backend: duration, trials, killed mid-way, before, after,
violations; exits 1 on any violation.

Last run (2026-12-06, whole shipped layers, 30 trials per row, 2 busy cores): 420 trials,
0 violations. Before/after per row — SQLite: load 25/5, reload 10/20, leaders import 27/3,
assign auto 19/11, assign import 22/8, plan apply 23/7, users disable 18/12; PostGIS: load 28/2,
reload 16/14, leaders import 16/14, assign auto 26/4, assign import 8/22, plan apply 24/6, users
disable 24/6 (≈ 6 min per backend).

Run: ``python benchmarks/bench_faults.py [--trials 30] [--backends sqlite,postgis]
[--communities 220173001001,…]`` (PostGIS on ``GRIDMGR_TEST_PG_URL``, default
``postgresql+psycopg2://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _faults as F  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "GRIDMGR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def _backend(name: str, work: Path) -> F.Backend:
    return F.PostGISBackend(PG_ADMIN_URL) if name == "postgis" else F.SQLiteBackend(work)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--backends", default="sqlite,postgis")
    ap.add_argument("--communities", default=None, help="comma-separated (default: all)")
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    communities = args.communities.split(",") if args.communities else None
    rows: list[F.Outcome] = []
    with tempfile.TemporaryDirectory(prefix="gridmgr-faults-") as tmp:
        work = Path(tmp)
        F.write_layers(work, communities)
        for name in args.backends.split(","):
            backend = _backend(name, work / name)
            t0 = time.perf_counter()
            try:
                F.build_templates(backend, work)
                for i, command in enumerate(F.COMMANDS):
                    o = F.trials(backend, work, command, args.trials, seed=args.seed + i)
                    rows.append(o)
                    print(
                        f"  {name:8} {o.command:15} {o.trials} trials: {o.before} before, "
                        f"{o.after} after, {len(o.violations)} violations",
                        file=sys.stderr,
                        flush=True,
                    )
            finally:
                backend.close()
            print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    _print(rows, args.trials)
    bad = [v for o in rows for v in o.violations]
    for v in bad:
        print("VIOLATION", v)
    return 1 if bad else 0


def _print(rows: list[F.Outcome], trials: int) -> None:
    head = ("command", "backend", "run s", "trials", "killed", "before", "after", "violations")
    print(f"\nSIGKILL at a random point, {trials} trials per command and backend\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for o in rows:
        cells = (
            o.command,
            o.backend,
            f"{o.seconds:.2f}",
            str(o.trials),
            str(o.killed),
            str(o.before),
            str(o.after),
            str(len(o.violations)),
        )
        print("| " + " | ".join(cells) + " |")
    total = sum(o.trials for o in rows)
    print(f"\n{total} trials, {sum(len(o.violations) for o in rows)} violations")


if __name__ == "__main__":
    raise SystemExit(main())
