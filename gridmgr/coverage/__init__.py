"""Coverage gaps in space: dead corners, blind spots, key-place and workload findings.

Modules: :mod:`~gridmgr.coverage.kinds` (vocabulary: kinds, thresholds, findings),
:mod:`~gridmgr.coverage.checks` (the individual checks), :mod:`~gridmgr.coverage.report` (the
report over frames or a store).
"""

from __future__ import annotations

from gridmgr.coverage.kinds import (
    GAP,
    GROUPS,
    KINDS,
    NOISE_AREA_M2,
    WARNING,
    Finding,
    Thresholds,
)
from gridmgr.coverage.report import (
    CoverageReport,
    coverage_from_frames,
    coverage_from_store,
)

__all__ = [
    "GAP",
    "GROUPS",
    "KINDS",
    "NOISE_AREA_M2",
    "WARNING",
    "Finding",
    "Thresholds",
    "CoverageReport",
    "coverage_from_frames",
    "coverage_from_store",
]
