"""Importing gridmgr (and its CLI) must not pull in fastapi, folium, psycopg2 or dask (pandas itself imports pyarrow when it is installed)."""

from __future__ import annotations

import subprocess
import sys


def test_import_gridmgr_is_light() -> None:
    code = (
        "import sys, gridmgr, gridmgr.grid, gridmgr.grid.units, gridmgr.assign.workload, gridmgr.cli;"
        "heavy=[m for m in ('fastapi','folium','psycopg2','dask','distributed') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported by gridmgr: {out.stdout.strip()}"
