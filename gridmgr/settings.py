"""Library defaults, read at call time when an argument is ``None``.

Environment variables (prefix ``GRIDMGR_``) override the defaults; nothing is read at import time
except through these functions.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Default H3 resolution: res 10 ≈ 15,000 m² per cell, close to the national standard's
#: ~10,000 m² unit grid (万米单元网格).
DEFAULT_RES = 10
MIN_RES = 7
MAX_RES = 12

#: Default target of rebalancing: every leader's load within this ratio of the mean
#: (CLI, web form, API and library share it; a planner sees one number everywhere).
DEFAULT_TARGET_RATIO = 1.02

#: Equal-area CRS for areas in m² (Albers equal-area conic for China, WGS-84 datum).
EQUAL_AREA_CRS = (
    "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
)

#: Shipped layers directory (the Changchun High-tech Zone).
PACKAGE_ROOT = Path(__file__).resolve().parent
DEFAULT_LAYERS = PACKAGE_ROOT.parent / "layers" / "changchun_hitech"


def database_url() -> str:
    """The store URL: ``GRIDMGR_DATABASE_URL`` or the embedded SQLite file ``./gridmgr.db``."""
    return os.environ.get("GRIDMGR_DATABASE_URL") or "sqlite:///./gridmgr.db"


def layers_dir() -> Path:
    """Default layers directory: ``GRIDMGR_LAYERS`` or the shipped Changchun High-tech Zone."""
    env = os.environ.get("GRIDMGR_LAYERS")
    return Path(env) if env else DEFAULT_LAYERS


def language() -> str:
    """UI language, ``zh`` (default) or ``en``, from ``GRIDMGR_LANG``."""
    lang = os.environ.get("GRIDMGR_LANG", "zh").lower()
    return "en" if lang.startswith("en") else "zh"
