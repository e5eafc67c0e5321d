"""The vocabulary of the coverage report: finding kinds, groups, severities, thresholds, findings.

Split out of :mod:`gridmgr.coverage.report` (which re-exports every public name here) so that the checks
(:mod:`gridmgr.coverage.checks`) and the report can both build :class:`Finding` objects.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import shapely

from gridmgr.errors import InvalidFieldError
from gridmgr.i18n import t

GAP = "gap"
WARNING = "warning"

#: kind → (group, severity, Chinese label, English label)
KINDS: dict[str, tuple[str, str, str, str]] = {
    "jurisdiction_gap": (
        "dead_corner",
        GAP,
        "死角：辖区内无单元覆盖",
        "dead corner: area covered by no unit",
    ),
    "unit_overlap": (
        "dead_corner",
        GAP,
        "重叠：两个单元重复划定",
        "overlap: area claimed by two units",
    ),
    "unit_outside_parent": (
        "dead_corner",
        GAP,
        "越界：单元超出上级范围",
        "unit extends outside its parent",
    ),
    "unpieced_area": (
        "dead_corner",
        GAP,
        "死角：单元内无地块（网格过期）",
        "dead corner: unit area with no piece (stale grid)",
    ),
    "orphan_pieces": (
        "dead_corner",
        GAP,
        "地块所属单元不存在（网格过期）",
        "pieces of a unit that no longer exists (stale grid)",
    ),
    "unassigned": ("blind_spot", GAP, "盲点：地块无责任人", "blind spot: piece with no leader"),
    "inactive_leader": (
        "blind_spot",
        GAP,
        "盲点：责任人已停用",
        "blind spot: piece of an inactive leader",
    ),
    "fallback": (
        "blind_spot",
        WARNING,
        "属地兜底：由社区包保领导兜底",
        "territorial default: held by the community package leader",
    ),
    "misplaced": (
        "blind_spot",
        GAP,
        "属地错配：责任人包保范围不含该地块",
        "territory violated: the leader's packages lie elsewhere",
    ),
    "place_without_leader": (
        "key_place",
        GAP,
        "重点点位无属地责任人",
        "key place without a territorial leader",
    ),
    "place_without_department": (
        "key_place",
        GAP,
        "重点点位无行管部门",
        "key place without a sector department",
    ),
    "place_without_package_leader": (
        "key_place",
        GAP,
        "重点点位缺包保领导",
        "key place without its required package leader",
    ),
    "place_outside": ("key_place", GAP, "重点点位在辖区外", "key place outside the jurisdiction"),
    "unit_without_package_leader": (
        "package",
        GAP,
        "街道/社区无包保领导",
        "street/community without a package leader",
    ),
    "leader_without_duty": (
        "package",
        WARNING,
        "领导无属地无包保",
        "active leader with no territory and no package",
    ),
    "fragmented_territory": ("shape", WARNING, "责任区不连片", "territory is not contiguous"),
    "enclave": (
        "shape",
        WARNING,
        "飞地：被他人责任区包围",
        "enclave surrounded by another leader's territory",
    ),
    "low_compactness": ("shape", WARNING, "责任区形状不紧凑", "territory is not compact"),
    "overloaded_leader": ("workload", WARNING, "负荷过重", "overloaded leader"),
    "idle_leader": ("workload", WARNING, "负荷过轻或空闲", "idle or underused leader"),
}

#: Group labels (zh, en) for summaries.
GROUPS: dict[str, tuple[str, str]] = {
    "dead_corner": ("死角", "dead corners"),
    "blind_spot": ("盲点", "blind spots"),
    "key_place": ("重点点位", "key places"),
    "package": ("包保", "packages"),
    "shape": ("责任区形状", "territory shape"),
    "workload": ("工作负荷", "workload"),
}

_SEVERITY_RANK = {GAP: 0, WARNING: 1}

#: Areas below this (m²) are floating-point noise on shared edges, not data.
NOISE_AREA_M2 = 1e-3


@dataclass(frozen=True)
class Thresholds:
    """Configurable thresholds of the warnings.

    Parameters
    ----------
    overload
        A leader is overloaded when load/capacity > ``overload`` × the community's mean
        (total load / total capacity of its leaders). Default 1.2.
    idle
        A leader is idle when load/capacity < ``idle`` × that mean, or the load is zero. Default 0.5.
    min_compactness
        Territories with a Polsby–Popper score (4πA/P²) below this are reported. Default 0.2
        (one hexagon scores 0.907, a 3×3 block of squares 0.785, a straight line of 10 hexagons
        about 0.3).
    """

    overload: float = 1.2
    idle: float = 0.5
    min_compactness: float = 0.2

    def __post_init__(self) -> None:
        if not (
            self.overload > 1.0 and 0.0 <= self.idle < 1.0 and 0.0 <= self.min_compactness <= 1.0
        ):
            msg = (
                f"coverage thresholds overload={self.overload}, idle={self.idle}, "
                f"min_compactness={self.min_compactness}: need overload > 1, 0 <= idle < 1 and "
                "0 <= min_compactness <= 1"
            )
            raise InvalidFieldError(msg)


class PieceIds(Sequence[str]):
    """A finding's piece ids as strings, kept as one integer array (a township of blind spots
    is 12,000 ids: 96 KB instead of 12,000 Python strings); a read-only list to its users."""

    __slots__ = ("_ids",)

    def __init__(self, ids: Any) -> None:
        self._ids = np.asarray(ids)

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [str(v) for v in self._ids[i].tolist()]
        return str(self._ids[i])

    def __iter__(self) -> Iterator[str]:
        return (str(v) for v in self._ids.tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PieceIds({len(self)} ids)"


def _multipolygon(geoms: Any) -> shapely.Geometry:
    """The polygons of ``geoms`` as one geometry (a Polygon when there is one)."""
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    parts = parts[shapely.get_type_id(parts) == 3]
    if len(parts) == 1:
        return parts[0]
    return shapely.multipolygons(parts)


class PieceShapes:
    """The shape of a finding over some pieces, built only when it is asked for.

    A finding over a township's 12,000 blind-spot pieces holds their positions (8 bytes each)
    and the pieces' :class:`~gridmgr.grid.lazy.LazyGeoms`, not 12,000 hexagons; the report
    writer builds one finding's shape at a time (:meth:`CoverageReport.to_geojson`).
    """

    __slots__ = ("_geoms", "_sel")

    def __init__(self, geoms: Any, sel: Any) -> None:
        self._geoms = geoms
        self._sel = np.asarray(sel, dtype=np.int64)

    def build(self) -> shapely.Geometry:
        """The pieces' polygons as one (Multi)Polygon."""
        return _multipolygon(self._geoms[self._sel])


@dataclass(frozen=True)
class Finding:
    """One gap or warning, with what is needed to act on it and to draw it.

    ``count`` counts the kind's object (pieces, key places, units, parts …); ``area_m2`` is the
    ground concerned (equal-area m², 0 when not areal); ``geometry`` in EPSG:4326 or ``None``
    (``shape`` holds it, or a :class:`PieceShapes` that builds it on each access).
    """

    kind: str
    severity: str
    label_zh: str
    label_en: str
    unit_code: str | None
    count: int
    area_m2: float
    shape: shapely.Geometry | PieceShapes | None = field(default=None, repr=False, compare=False)
    leader_id: str | None = None
    place_code: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def geometry(self) -> shapely.Geometry | None:
        """The finding's geometry (EPSG:4326), built from its pieces if it was deferred."""
        return self.shape.build() if isinstance(self.shape, PieceShapes) else self.shape

    @property
    def has_geometry(self) -> bool:
        """Whether the finding has a geometry (without building a deferred one)."""
        if isinstance(self.shape, PieceShapes):
            return True
        return self.shape is not None and not self.shape.is_empty

    @property
    def group(self) -> str:
        return KINDS[self.kind][0]

    @property
    def label(self) -> str:
        """The label in the current UI language."""
        return t(self.label_zh, self.label_en)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without geometry)."""
        return {
            "kind": self.kind,
            "group": self.group,
            "severity": self.severity,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "unit_code": self.unit_code,
            "leader_id": self.leader_id,
            "place_code": self.place_code,
            "count": int(self.count),
            "area_m2": _r(self.area_m2),
            "detail": _jsonable(dict(self.detail)),
        }


def _finding(
    kind: str, *, unit_code: str | None, count: int, area_m2: float = 0.0, **kw: Any
) -> Finding:
    _group, severity, zh, en = KINDS[kind]
    if "geometry" in kw:
        kw["shape"] = kw.pop("geometry")
    return Finding(kind, severity, zh, en, unit_code, int(count), float(area_m2), **kw)


def _r(x: float, nd: int = 3) -> float:
    """Round for the JSON report (m² to the mm², ratios to 1e-6): identical across stores."""
    return float(round(float(x), nd))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, PieceIds):
        return list(obj)
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return None if not math.isfinite(v) else v
    return obj
