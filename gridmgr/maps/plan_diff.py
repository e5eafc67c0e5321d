"""A rebalance plan's diff map: territories after the plan, the moved pieces highlighted."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from gridmgr.errors import InvalidFieldError
from gridmgr.i18n import t
from gridmgr.maps.basemap import _Base, _finish, _lookup
from gridmgr.maps.leaflet import (
    _esc,
    _html_text,
    _popup_table,
    _vector_layer_class,
    features_json,
)
from gridmgr.maps.overview import _overview_parts
from gridmgr.patrol.stops import _piece_ids

if TYPE_CHECKING:
    import folium
    import geopandas as gpd


__all__ = [
    "plan_diff_map",
    "plan_map_from_store",
]


def plan_diff_map(
    moves: Sequence[Mapping[str, Any]] | Mapping[str, Any] | pd.DataFrame,
    pieces: gpd.GeoDataFrame,
    *,
    leaders: pd.DataFrame | None = None,
    basemap: str | None = "tianditu",
    title: str | None = None,
) -> folium.Map:
    """A rebalance plan's diff: territories after the plan, moved pieces highlighted.

    Parameters
    ----------
    moves
        The plan's moves (``piece_id`` or ``cell``, ``from_leader``, ``to_leader``), as stored
        by ``Store.save_plan``: a list of dicts, a DataFrame, or a GeoJSON FeatureCollection
        whose feature properties carry those fields.
    pieces
        Current pieces with ``leader_id`` (and ``id`` when moves name ``piece_id``).
    """
    mv = _moves_frame(moves)
    match = _match_moves(mv, pieces)
    after = pieces.copy()
    lid = after["leader_id"].astype(object).to_numpy(copy=True)
    lid[match.piece] = mv["to_leader"].to_numpy()[match.move]
    after["leader_id"] = lid
    title = title or t("调整方案对比图", "Plan diff")
    m, base, legend = _overview_parts(
        after.iloc[:0], after, None, leaders=leaders, basemap=basemap, simplify_m=0.0, title=title
    )
    legend += _moved_layer(m, mv, pieces, match, base, _lookup(leaders, "id", "name"))
    if (~match.hit).any():
        n_gone = int((~match.hit).sum())
        note = t(
            f"{n_gone} 条调整记录的地块已不存在", f"{n_gone} moves name pieces that no longer exist"
        )
        legend.append(f'<div class="gm-note">{_html_text(note)}</div>')
    _finish(m, "".join(legend))
    return m


def _moves_frame(
    moves: Sequence[Mapping[str, Any]] | Mapping[str, Any] | pd.DataFrame,
) -> pd.DataFrame:
    """The moves as a DataFrame (from a frame, a GeoJSON diff or a list), with both leader columns."""
    if isinstance(moves, pd.DataFrame):
        mv = pd.DataFrame(moves.drop(columns="geometry", errors="ignore"))
    elif isinstance(moves, Mapping) and "features" in moves:  # a GeoJSON diff: its properties
        mv = pd.DataFrame([dict(f.get("properties") or {}) for f in moves["features"]])
    else:
        mv = pd.DataFrame(list(moves))
    if mv.empty:
        mv = pd.DataFrame(columns=["from_leader", "to_leader", "piece_id", "cell"])
    for c in ("from_leader", "to_leader"):
        if c not in mv.columns:
            raise InvalidFieldError(t(f"方案的调整记录缺少 {c!r}", f"plan moves lack {c!r}"))
    return mv


@dataclass(frozen=True)
class _MoveMatch:
    """Matched (move row, piece row) pairs, and which moves matched any piece."""

    move: npt.NDArray[np.int64]
    piece: npt.NDArray[np.int64]
    hit: npt.NDArray[np.bool_]


def _match_moves(mv: pd.DataFrame, pieces: gpd.GeoDataFrame) -> _MoveMatch:
    """Pieces named by each move: by ``piece_id`` (pieces with ``id``) or by ``cell``."""
    if "piece_id" in mv.columns and "id" in pieces.columns:
        key_p, key_m = pieces["id"].astype(str), mv["piece_id"].astype(str)
    elif "cell" in mv.columns and "cell" in pieces.columns:
        key_p, key_m = pieces["cell"].astype(str), mv["cell"].astype(str)
    else:
        raise InvalidFieldError(
            t(
                "调整记录需要 piece_id（地块有 id 列）或 cell",
                "moves need piece_id (pieces with id) or cell",
            )
        )
    # a cell names every piece of that cell (as in Store.apply_changes)
    pairs = pd.DataFrame({"k": key_m.to_numpy(), "move": np.arange(len(mv))}).merge(
        pd.DataFrame({"k": key_p.to_numpy(), "piece": np.arange(len(pieces))}), on="k"
    )
    hit = mv.index.isin(mv.index[pairs["move"].unique()]) if len(pairs) else np.zeros(len(mv), bool)
    return _MoveMatch(
        move=pairs["move"].to_numpy(),
        piece=pairs["piece"].to_numpy(),
        hit=np.asarray(hit, dtype=bool),
    )


def _moved_layer(
    m: folium.Map,
    mv: pd.DataFrame,
    pieces: gpd.GeoDataFrame,
    match: _MoveMatch,
    base: _Base,
    names: Mapping[str, str],
) -> list[str]:
    """Draw the moved pieces (tooltip: from → to leader); return the legend line."""
    idx, mrow = match.piece, match.move
    moved = np.asarray(pieces.geometry.values, dtype=object)[idx]
    frm = mv["from_leader"].to_numpy()[mrow].tolist()
    to = mv["to_leader"].to_numpy()[mrow].tolist()
    tips = [
        f"{_esc(names.get(str(a), a) if a else t('未分配', 'unassigned'))} → "
        f"{_esc(names.get(str(b), b) if b else t('未分配', 'unassigned'))}"
        for a, b in zip(frm, to, strict=True)
    ]
    pid = np.asarray(_piece_ids(pieces), dtype=object)[idx]  # _popup_table escapes values
    popups = [
        _popup_table(
            t("调整地块", "Moved piece"),
            [(t("地块", "Piece"), p), (t("调整", "Move"), html.unescape(tp))],
        )
        for p, tp in zip(pid, tips, strict=True)
    ]
    _vector_layer_class()(
        features_json(base.shift(moved), {"_t": tips, "_p": popups}),
        name=t("调整的地块", "Moved pieces"),
        style={"color": "#000", "weight": 2, "fillColor": "#ffd166", "fillOpacity": 0.8},
    ).add_to(m)
    return [
        f'<div><i style="background:#ffd166;border:2px solid #000"></i>'
        f"{_html_text(t('调整的地块', 'moved pieces'))} ({len(moved)})</div>"
    ]


def plan_map_from_store(
    store: Any, plan_id: str, *, basemap: str | None = "tianditu"
) -> folium.Map:
    """:func:`plan_diff_map` of a stored plan."""
    plan = store.get_plan(plan_id)
    pieces = store.pieces(plan.get("scope"))
    short = str(plan["id"])[:8]
    title = t(f"调整方案 {short} 对比图", f"Plan {short} diff")
    return plan_diff_map(
        plan.get("moves") or [], pieces, leaders=store.leaders(), basemap=basemap, title=title
    )
