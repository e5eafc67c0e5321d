"""Workload of pieces and leaders: one definition shared by assignment, coverage and rebalancing.

The load of a piece is a weighted sum of what a grid leader must look after there::

    load = area * area_ha + key_places * n_key_places + pieces * 1

with ``area`` per hectare (a res-10 cell is about 1.5 ha), ``key_places`` per key place whose
representative point lies in the piece, and ``pieces`` per piece. Weights are parsed from the CLI
form ``area=1,key_places=5``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from gridmgr.errors import InvalidFieldError
from gridmgr.i18n import t

#: Default weights: one unit per hectare, five per key place, nothing per piece.
DEFAULT_WEIGHTS: dict[str, float] = {"area": 1.0, "key_places": 5.0, "pieces": 0.0}


def parse_weights(text: str | Mapping[str, float] | None) -> dict[str, float]:
    """Parse ``"area=1,key_places=5"`` (or a mapping) into a full weights dict.

    Unknown keys and negative or non-numeric values are refused with the offending item named.

    Examples
    --------
    >>> parse_weights("key_places=10")
    {'area': 1.0, 'key_places': 10.0, 'pieces': 0.0}
    """
    weights = dict(DEFAULT_WEIGHTS)
    if text is None:
        return weights
    items: list[tuple[object, object]]
    if isinstance(text, Mapping):
        items = list(text.items())
    else:
        items = []
        for part in str(text).replace("，", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise InvalidFieldError(
                    t(
                        f"权重 --weights：{part!r} 不是“键=值”；例如 area=1,key_places=5",
                        f"weights: {part!r} is not key=value; use e.g. area=1,key_places=5",
                    )
                )
            k, v = part.split("=", 1)
            items.append((k.strip(), v.strip()))
    for name, value in items:
        key = str(name)
        if key not in DEFAULT_WEIGHTS:
            known = ", ".join(DEFAULT_WEIGHTS)
            raise InvalidFieldError(
                t(
                    f"权重 --weights：未知的键 {key!r}；可用：{known}",
                    f"weights: unknown key {key!r}; known keys: {known}",
                )
            )
        try:
            number = float(str(value))
        except (TypeError, ValueError):
            raise InvalidFieldError(
                t(
                    f"权重 --weights：{key}={value!r} 不是数字",
                    f"weights: {key}={value!r} is not a number",
                )
            ) from None
        if not np.isfinite(number) or number < 0:
            raise InvalidFieldError(
                t(
                    f"权重 --weights：{key}={value!r} 必须是不小于 0 的有限数",
                    f"weights: {key}={value!r} must be a finite number >= 0",
                )
            )
        weights[key] = number
    if sum(weights.values()) <= 0:
        raise InvalidFieldError(
            t(
                "权重 --weights：至少一个权重须为正数",
                "weights: at least one weight must be positive",
            )
        )
    return weights


def key_place_counts(pieces: pd.DataFrame, key_places: pd.DataFrame | None) -> np.ndarray:
    """Number of key places whose representative point lies in each piece (positional).

    ``pieces`` is a GeoDataFrame of pieces; ``key_places`` a GeoDataFrame of points or polygons
    (or ``None``). When ``key_places`` has a ``piece_id`` column and ``pieces`` an ``id`` column,
    that stored link is used; otherwise a vectorised point-in-polygon join.
    """
    n = len(pieces)
    counts = np.zeros(n, dtype=np.int64)
    if key_places is None or len(key_places) == 0 or n == 0:
        return counts
    if "piece_id" in key_places.columns and "id" in pieces.columns:
        pos = pd.Index(pieces["id"]).get_indexer(key_places["piece_id"].dropna())
        pos = pos[pos >= 0]
        np.add.at(counts, pos, 1)
        return counts
    import shapely

    pts = shapely.point_on_surface(np.asarray(key_places.geometry.values))
    tree = shapely.STRtree(np.asarray(pieces.geometry.values))
    pt_idx, piece_idx = tree.query(pts, predicate="intersects")
    # A point on a shared edge touches two pieces: count it once, in the first piece found.
    _, first = np.unique(pt_idx, return_index=True)
    np.add.at(counts, piece_idx[first], 1)
    return counts


def piece_loads(
    pieces: pd.DataFrame,
    key_places: pd.DataFrame | None = None,
    weights: Mapping[str, float] | str | None = None,
) -> np.ndarray:
    """Load of every piece (positional float array) under ``weights``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> p = gpd.GeoDataFrame({"area_m2": [20000.0, 10000.0]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)])
    >>> piece_loads(p, None, "area=1").tolist()
    [2.0, 1.0]
    """
    w = parse_weights(weights)
    area_ha = np.asarray(pieces["area_m2"], dtype=float) / 10_000.0
    load = w["area"] * area_ha + w["pieces"] * np.ones(len(pieces))
    if w["key_places"]:
        load = load + w["key_places"] * key_place_counts(pieces, key_places)
    return load
