"""Result types of a rebalance solve: :class:`Metrics`, :class:`Miss`, :class:`RebalanceResult`.

Also the numpy array aliases used across :mod:`gridmgr.rebalance`. Re-exported by
:mod:`gridmgr.rebalance.model` and :mod:`gridmgr.rebalance`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Metrics:
    """Balance, contiguity and compactness of one assignment state.

    Ratios are per leader: load / fair share, the fair share being capacity × (community load /
    community capacity), so 1.0 is exactly balanced. Leaders that leave are not counted.
    """

    max_ratio: float
    """Highest leader ratio (max/mean load)."""
    min_ratio: float
    """Lowest leader ratio (min/mean load)."""
    std_ratio: float
    """Standard deviation of the leader ratios."""
    disconnected: int
    """Territories (leader × community) whose pieces form more than one connected part."""
    boundary_edges_per_piece: float
    """Compactness: graph edges between pieces of different leaders, per piece (lower = more
    compact territories)."""
    unassigned_pieces: int
    """Pieces without an active leader (unassigned, or held by a leader who leaves)."""
    unassigned_load: float
    """Their load."""
    n_leaders: int
    """Leaders taking part."""

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict (JSON-safe)."""
        return {k: (float(v) if isinstance(v, float) else int(v)) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Miss:
    """A leader still outside the target band after solving, and why."""

    leader: int
    """Leader position."""
    ratio: float
    """Their ratio after the plan."""
    reason_zh: str
    reason_en: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-safe)."""
        return {
            "leader": int(self.leader),
            "ratio": float(self.ratio),
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
        }


@dataclass(frozen=True, eq=False)
class RebalanceResult:
    """Outcome of :meth:`Rebalance.solve`: the moves and the metrics before and after."""

    owner: IntArray
    """Leader position per piece after the plan (-1: nobody)."""
    move_pieces: IntArray
    """Positions of the pieces that change leader, ascending."""
    move_from: IntArray
    """Their leader before (-1: unassigned)."""
    move_to: IntArray
    """Their leader after."""
    before: Metrics
    after: Metrics
    moved_area_m2: float
    """Summed area of the moved pieces (NaN when areas were not given)."""
    ratio_before: FloatArray
    """Ratio per leader before (NaN: leader not taking part)."""
    ratio_after: FloatArray
    """Ratio per leader after (NaN: leader not taking part or leaving)."""
    missed: tuple[Miss, ...]
    """Leaders still outside ``[min_ratio, target_ratio]``, with the reason."""
    iterations: int
    """Transport rounds run."""
    seed: int

    @property
    def moved_pieces(self) -> int:
        """Number of pieces that change leader."""
        return len(self.move_pieces)

    @property
    def moves(self) -> list[tuple[int, int, int]]:
        """The moves as ``(piece, from_leader, to_leader)`` tuples."""
        return list(
            zip(
                self.move_pieces.tolist(),
                self.move_from.tolist(),
                self.move_to.tolist(),
                strict=True,
            )
        )
