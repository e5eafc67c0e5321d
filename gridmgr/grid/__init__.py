"""The grid: units hierarchy, H3 cells, pieces and the piece graph.

Modules: :mod:`~gridmgr.grid.units` (hierarchy checks, equal-area areas),
:mod:`~gridmgr.grid.h3_adapter` (the only caller of h3), :mod:`~gridmgr.grid.pieces` (cells →
pieces), :mod:`~gridmgr.grid.piece_graph` (shared-boundary adjacency),
:mod:`~gridmgr.grid.graph` (adjacency matrices and connectivity).
"""

from __future__ import annotations

from gridmgr.grid.pieces import (
    PIECE_COLUMNS,
    GridBuild,
    build_grid,
    center_rule_uncovered_m2,
    check_res,
    pieces_from_units,
)

__all__ = [
    "GridBuild",
    "PIECE_COLUMNS",
    "build_grid",
    "center_rule_uncovered_m2",
    "check_res",
    "pieces_from_units",
]
