"""Territory shape of a coverage report: contiguity, enclaves and compactness, from the piece graph.

A leader's territory is the set of pieces they hold themselves (not as fallback). Its connected
parts come from scipy's ``connected_components`` over the piece adjacency restricted to pairs of
one territory, its perimeter from the exposed and cross-border lengths of the piece graph; no
territory is dissolved. Helpers of :func:`gridmgr.coverage.report.coverage_from_frames`; nothing
here is public, the rules are in ``docs/coverage.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gridmgr.coverage.checks import _Hier, _PieceKeys
from gridmgr.coverage.kinds import Finding, PieceShapes, Thresholds, _finding, _r
from gridmgr.grid.lazy import LazyGeoms
from gridmgr.grid.piece_graph import PieceGraph

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
ObjArray = NDArray[np.object_]


@dataclass(frozen=True)
class _Measures:
    """Per leader: territory pieces, area, perimeter and Polsby–Popper compactness."""

    t_count: IntArray
    t_area: FloatArray
    perim: FloatArray
    comp: FloatArray
    ok: BoolArray  # a territory with a positive perimeter


@dataclass(frozen=True)
class _Parts:
    """Connected parts of the territories (labels over the pieces) and their enclaves."""

    label: IntArray
    lab_owner: IntArray  # leader of each part (-1: pieces of no territory)
    lab_area: FloatArray
    lab_size: IntArray
    parts: IntArray  # per leader
    enclave: BoolArray  # per part: surrounded by one other territory, not on the edge
    enclaves_per: IntArray  # per leader
    nb_min: IntArray  # per part: the smallest neighbouring territory
    ol: IntArray  # owned parts sorted by leader, largest first
    main_label: IntArray  # per leader: its largest part


def _measures(
    graph: PieceGraph,
    territory: NDArray[np.integer[Any]],
    internal: BoolArray,
    parea: FloatArray,
    n_lead: int,
    ends: tuple[IntArray, IntArray],
) -> _Measures:
    """Area, perimeter (exposed boundary + boundary shared with others) and compactness."""
    own = territory >= 0
    t_area = np.bincount(territory[own], weights=parea[own], minlength=n_lead).astype(np.float64)
    t_count = np.bincount(territory[own], minlength=n_lead)
    # perimeter of the dissolved territory = its exposed boundary + what it shares with others
    perim = np.bincount(territory[own], weights=graph.exposed_m[own], minlength=n_lead).astype(
        np.float64
    )
    cross = ~internal
    cross_len = graph.shared_for(cross)
    ci, cj = ends
    perim += np.bincount(ci[ci >= 0], weights=cross_len[ci >= 0], minlength=n_lead)
    perim += np.bincount(cj[cj >= 0], weights=cross_len[cj >= 0], minlength=n_lead)
    comp = np.full(n_lead, np.nan)
    ok = (t_count > 0) & (perim > 0)
    comp[ok] = 4.0 * math.pi * t_area[ok] / perim[ok] ** 2
    return _Measures(t_count, t_area, perim, comp, ok)


def _parts(
    graph: PieceGraph,
    territory: NDArray[np.integer[Any]],
    internal: BoolArray,
    parea: FloatArray,
    n_lead: int,
    ends: tuple[IntArray, IntArray],
) -> _Parts:
    """Connected parts of every territory, the largest of each, and the enclaves."""
    n = len(territory)
    _, label = connected_components(graph.csr(n, internal), directed=False)
    label = np.asarray(label, dtype=np.int64)
    own = territory >= 0
    n_lab = int(label.max()) + 1
    lab_owner = np.full(n_lab, -1, dtype=np.int64)
    lab_owner[label[own]] = territory[own]
    lab_area = np.bincount(label, weights=parea, minlength=n_lab).astype(np.float64)
    lab_size = np.bincount(label, minlength=n_lab)
    lab_exposed = np.bincount(label, weights=graph.exposed_m, minlength=n_lab).astype(np.float64)
    owned_labels = np.flatnonzero(lab_owner >= 0)
    parts = np.bincount(lab_owner[owned_labels], minlength=n_lead)
    # neighbours across territory borders, per component
    cross = ~internal
    li_, lj_ = label[graph.i[cross]], label[graph.j[cross]]
    nb_of = np.concatenate([li_, lj_])
    nb_t = np.concatenate([ends[1], ends[0]])
    big = np.iinfo(np.int64).max
    nb_min = np.full(n_lab, big, dtype=np.int64)
    nb_max = np.full(n_lab, -2, dtype=np.int64)
    np.minimum.at(nb_min, nb_of, nb_t)
    np.maximum.at(nb_max, nb_of, nb_t)
    enclave = (lab_owner >= 0) & (nb_min == nb_max) & (nb_min >= 0) & (lab_exposed <= 0)
    enclaves_per = np.bincount(lab_owner[enclave], minlength=n_lead)
    # largest part per leader (by area) → the other parts are the fragments
    order = np.lexsort((-lab_area[owned_labels], lab_owner[owned_labels]))
    ol = owned_labels[order]
    first_of = (
        np.r_[True, lab_owner[ol][1:] != lab_owner[ol][:-1]] if len(ol) else np.zeros(0, dtype=bool)
    )
    main_label = np.full(n_lead, -1, dtype=np.int64)
    main_label[lab_owner[ol][first_of]] = ol[first_of]
    return _Parts(
        label,
        lab_owner,
        lab_area,
        lab_size,
        parts,
        enclave,
        enclaves_per,
        nb_min,
        ol,
        main_label,
    )


class _Locator:
    """Pieces of a part (labels grouped once) and the community a set of pieces lies in."""

    def __init__(self, label: IntArray, punit: IntArray, h: _Hier) -> None:
        self._order = np.argsort(label, kind="stable")
        self._bounds = np.searchsorted(label[self._order], np.arange(int(label.max()) + 2))
        self._punit = punit
        self._h = h

    def pieces_of(self, labels: Iterable[int]) -> IntArray:
        """Positions of the pieces of the parts ``labels``."""
        o, b = self._order, self._bounds
        return np.concatenate([o[b[lb] : b[lb + 1]] for lb in labels])

    def unit_of(self, sel: IntArray) -> str | None:
        """The community of the pieces ``sel`` when they all lie in one, else ``None``."""
        us = np.unique(self._h.community[self._punit[sel]])
        return str(self._h.codes[us[0]]) if len(us) == 1 else None


def _fragment_findings(
    pt: _Parts, loc: _Locator, parea: FloatArray, geoms: LazyGeoms, ids: ObjArray
) -> list[Finding]:
    """Territories in more than one part: the parts other than the largest."""
    findings: list[Finding] = []
    ol, lab_owner = pt.ol, pt.lab_owner
    for li in np.flatnonzero(pt.parts > 1):
        frag_labels = [int(lb) for lb in ol[lab_owner[ol] == li] if lb != pt.main_label[li]]
        sel = loc.pieces_of(frag_labels)
        findings.append(
            _finding(
                "fragmented_territory",
                unit_code=loc.unit_of(sel),
                count=int(pt.parts[li]),
                area_m2=float(parea[sel].sum()),
                geometry=PieceShapes(geoms, sel),
                leader_id=str(ids[li]),
                detail={
                    "parts": int(pt.parts[li]),
                    "detached_pieces": len(sel),
                    "part_sizes": sorted(
                        (int(pt.lab_size[lb]) for lb in ol[lab_owner[ol] == li]), reverse=True
                    ),
                },
            )
        )
    return findings


def _enclave_findings(
    pt: _Parts, loc: _Locator, geoms: LazyGeoms, ids: ObjArray, pkeys: _PieceKeys
) -> list[Finding]:
    """Parts surrounded by a single other territory."""
    findings: list[Finding] = []
    for lb in np.flatnonzero(pt.enclave):
        sel = loc.pieces_of([int(lb)])
        findings.append(
            _finding(
                "enclave",
                unit_code=loc.unit_of(sel),
                count=int(pt.lab_size[lb]),
                area_m2=float(pt.lab_area[lb]),
                geometry=PieceShapes(geoms, sel),
                leader_id=str(ids[pt.lab_owner[lb]]),
                detail={"surrounded_by": str(ids[pt.nb_min[lb]]), "pieces": pkeys[sel]},
            )
        )
    return findings


def _compactness_findings(
    ms: _Measures,
    territory: NDArray[np.integer[Any]],
    loc: _Locator,
    geoms: LazyGeoms,
    ids: ObjArray,
    th: Thresholds,
) -> list[Finding]:
    """Territories less compact than ``th.min_compactness``."""
    findings: list[Finding] = []
    for li in np.flatnonzero(ms.ok & (ms.comp < th.min_compactness)):
        sel = np.flatnonzero(territory == li)
        findings.append(
            _finding(
                "low_compactness",
                unit_code=loc.unit_of(sel),
                count=int(ms.t_count[li]),
                area_m2=float(ms.t_area[li]),
                geometry=PieceShapes(geoms, sel),
                leader_id=str(ids[li]),
                detail={
                    "compactness": _r(ms.comp[li], 6),
                    "perimeter_m": _r(ms.perim[li]),
                    "threshold": th.min_compactness,
                },
            )
        )
    return findings


def _shape_rows(ids: ObjArray, ms: _Measures | None, pt: _Parts | None) -> pd.DataFrame:
    """Shape columns per leader (zero/NaN when there are no pieces or no leaders)."""
    rows = pd.DataFrame({"id": ids})
    if ms is None or pt is None:
        for c in ("territory_pieces", "parts", "enclaves"):
            rows[c] = 0
        for c in ("territory_area_m2", "perimeter_m", "compactness"):
            rows[c] = np.nan
        return rows
    rows["territory_pieces"] = ms.t_count.astype(np.int64)
    rows["territory_area_m2"] = [_r(a) for a in ms.t_area]
    rows["perimeter_m"] = [
        _r(p) if c > 0 else np.nan for p, c in zip(ms.perim, ms.t_count, strict=True)
    ]
    rows["parts"] = pt.parts.astype(np.int64)
    rows["compactness"] = [_r(c, 6) if np.isfinite(c) else np.nan for c in ms.comp]
    rows["enclaves"] = pt.enclaves_per.astype(np.int64)
    return rows


def _shape(
    graph: PieceGraph,
    territory: NDArray[np.integer[Any]],
    parea: FloatArray,
    geoms: LazyGeoms,
    L: pd.DataFrame,
    th: Thresholds,
    punit: IntArray,
    h: _Hier,
    pkeys: _PieceKeys,
) -> tuple[pd.DataFrame, list[Finding]]:
    """Contiguity, enclaves and Polsby–Popper compactness of every territory (no dissolve)."""
    n = len(territory)
    n_lead = len(L)
    ids = L["id"].to_numpy(dtype=object)
    if n == 0 or n_lead == 0:
        return _shape_rows(ids, None, None), []
    ti = territory[graph.i]
    internal = ti == territory[graph.j]
    internal &= ti >= 0
    del ti  # a pair array each: the largest temporaries at a province's 50M pairs
    cross = ~internal
    ends = (territory[graph.i[cross]], territory[graph.j[cross]])  # territories across borders
    del cross
    pt = _parts(graph, territory, internal, parea, n_lead, ends)
    ms = _measures(graph, territory, internal, parea, n_lead, ends)
    loc = _Locator(pt.label, punit, h)
    findings = _fragment_findings(pt, loc, parea, geoms, ids)
    findings += _enclave_findings(pt, loc, geoms, ids, pkeys)
    findings += _compactness_findings(ms, territory, loc, geoms, ids, th)
    return _shape_rows(ids, ms, pt), findings


__all__: list[str] = []
