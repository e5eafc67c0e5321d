"""Initial assignment: workload, contiguous balanced territories, grid codes.

Modules: :mod:`~gridmgr.assign.workload` (the one load definition),
:mod:`~gridmgr.assign.inputs` (checked arrays; pieces/leaders frames -> arrays),
:mod:`~gridmgr.assign.model` (the :class:`AutoAssign` model), :mod:`~gridmgr.assign.solve` (its
solve steps), :mod:`~gridmgr.assign.result` (the frozen :class:`AssignResult`),
:mod:`~gridmgr.assign.partition` (the contiguous partitioner), :mod:`~gridmgr.assign.grid_codes`
(15-digit grid codes), :mod:`~gridmgr.assign.auto` (the store workflow :func:`auto_assign`).
"""

from __future__ import annotations

from gridmgr.assign.auto import AutoAssignReport, auto_assign
from gridmgr.assign.grid_codes import grid_codes
from gridmgr.assign.model import AutoAssign
from gridmgr.assign.result import AssignResult
from gridmgr.assign.solve import REFINE_TOL

__all__ = [
    "AssignResult",
    "AutoAssign",
    "AutoAssignReport",
    "REFINE_TOL",
    "auto_assign",
    "grid_codes",
]
