"""gridmgr: geospatial grid management for the leadership package-responsibility system.

The library builds a full-coverage H3 grid from official boundary layers, assigns every piece of
ground to a responsible leader, finds every coverage gap (死角/盲点), rebalances workloads and
draws patrol maps and briefing exports. Importing ``gridmgr`` stays light: fastapi, folium and
psycopg2 are imported only inside the functions that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
