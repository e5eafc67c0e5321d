"""A plan as people read it: one line per leader pair instead of hundreds of raw cells.

Examples
--------
>>> moves = [
...     {"cell": "8a", "from_leader": "A1", "to_leader": "A2", "area_m2": 15000.0},
...     {"cell": "8b", "from_leader": "A1", "to_leader": "A2", "area_m2": 5000.0},
...     {"cell": "8c", "from_leader": None, "to_leader": "A3", "area_m2": 1000.0},
... ]
>>> ratios = {"A1": (1.2, 1.05), "A2": (0.8, 0.95)}
>>> [(p.from_leader, p.to_leader, p.pieces, p.hectares) for p in pair_summary(moves, ratios)]
[('A1', 'A2', 2, 2.0), (None, 'A3', 1, 0.1)]
>>> pair_summary(moves, ratios)[0].from_ratio
(1.2, 1.05)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PairMove:
    """All pieces a plan moves from one leader to another, with both leaders' load ratios."""

    from_leader: str | None
    to_leader: str | None
    pieces: int
    hectares: float
    from_ratio: tuple[float, float] | None  # (before, after)
    to_ratio: tuple[float, float] | None


def leader_ratios(metrics: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """``leader id -> (ratio before, ratio after)`` from a plan's metrics."""
    out = {}
    for row in metrics.get("leaders", []) or []:
        before, after = row.get("ratio_before"), row.get("ratio_after")
        if before is not None and after is not None:
            out[str(row["leader_id"])] = (float(before), float(after))
    return out


def pair_summary(
    moves: Iterable[Mapping[str, Any]], ratios: Mapping[str, tuple[float, float]]
) -> list[PairMove]:
    """One :class:`PairMove` per (from, to) pair, the largest area first."""
    acc: dict[tuple[str | None, str | None], list[float]] = {}
    for mv in moves:
        key = (mv.get("from_leader") or None, mv.get("to_leader") or None)
        acc.setdefault(key, []).append(float(mv.get("area_m2") or 0.0))
    pairs = [
        PairMove(
            src,
            dst,
            len(areas),
            round(sum(areas) / 1e4, 2),
            ratios.get(src) if src else None,
            ratios.get(dst) if dst else None,
        )
        for (src, dst), areas in acc.items()
    ]
    return sorted(pairs, key=lambda p: (-p.hectares, -p.pieces, str(p.from_leader)))
