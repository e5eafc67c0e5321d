"""Initial assignment: workload, contiguous balanced territories, grid codes.

Modules: :mod:`~gridmgr.assign.workload` (the one load definition),
:mod:`~gridmgr.assign.auto` (the :class:`AutoAssign` model), :mod:`~gridmgr.assign.partition`
(the contiguous partitioner), :mod:`~gridmgr.assign.grid_codes` (15-digit grid codes).
"""

from __future__ import annotations

from gridmgr.assign.auto import (
    REFINE_TOL,
    AssignResult,
    AutoAssign,
    AutoAssignReport,
    auto_assign,
    grid_codes,
)

__all__ = [
    "AssignResult",
    "AutoAssign",
    "AutoAssignReport",
    "REFINE_TOL",
    "auto_assign",
    "grid_codes",
]
