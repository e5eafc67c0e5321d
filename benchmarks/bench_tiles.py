"""Offline tile reads: gridmgr's PMTiles/MBTiles readers beside the reference ``pmtiles`` Reader.

Builds a PMTiles (reference writer) and an MBTiles file of every tile of zooms 0–6 (5,461 tiles of
1×1 PNG) in a temporary directory and times random ``get(z, x, y)`` calls.

    python benchmarks/bench_tiles.py [--gets 5000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from pmtiles.reader import MmapSource, Reader

    from gridmgr.maps.tiles import open_tiles
    from tests.gridmgr.test_tiles import sample_tiles, write_mbtiles, write_pmtiles

    ap = argparse.ArgumentParser()
    ap.add_argument("--gets", type=int, default=5000)
    n = ap.parse_args().gets
    tiles = sample_tiles(6)
    rng = random.Random(1)
    keys = list(tiles)
    queries = [rng.choice(keys) for _ in range(n)]
    with tempfile.TemporaryDirectory() as d:
        pm = write_pmtiles(Path(d) / "t.pmtiles", tiles)
        mb = write_mbtiles(Path(d) / "t.mbtiles", tiles)
        rows = []
        for label, archive in (("gridmgr PMTiles", open_tiles(pm)), ("gridmgr MBTiles", open_tiles(mb))):  # fmt: skip
            t0 = time.perf_counter()
            assert all(archive.get(*k) is not None for k in queries)
            rows.append((label, time.perf_counter() - t0))
        with pm.open("rb") as f:
            ref = Reader(MmapSource(f))
            t0 = time.perf_counter()
            assert all(ref.get(*k) is not None for k in queries)
            rows.append(("reference pmtiles Reader (mmap)", time.perf_counter() - t0))
    print(f"{n} random gets over {len(tiles)} tiles")
    for label, s in rows:
        print(f"  {label:<34} {s * 1e6 / n:8.0f} µs/tile")


if __name__ == "__main__":
    main()
