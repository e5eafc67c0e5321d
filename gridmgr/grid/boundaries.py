"""Boundary geometry of the piece graph: ground lengths, hexagon edge keys, shapely-measured pairs.

Helpers of :mod:`gridmgr.grid.piece_graph`: ground lengths of short lon/lat segments on the
WGS-84 ellipsoid, 64-bit keys of hexagon edges (the same bits from both cells of an edge), pairs
inside runs of a sorted array, and the shapely path (boundary intersection snap-rounded to
:data:`SNAP_DEG`) for the pieces the edge matching does not cover.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

#: Snap-rounding grid (degrees, ≈ 0.1 mm) for shared boundaries of pieces cut by a unit border.
SNAP_DEG = 1e-9

# WGS-84 ellipsoid, for ground lengths of short segments.
_A = 6378137.0
_E2 = 0.00669437999014


def str_values(values: pd.Series) -> NDArray[np.object_]:
    """Values as an object array of ``str`` (missing values kept as ``None``), without a copy
    per row when the column already holds strings (the common case at a million pieces)."""
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        arr = values.to_numpy(dtype=object, na_value=None)
        if len(arr) == 0 or isinstance(arr[0], str | type(None)):
            return np.asarray(arr, dtype=object)
    out = values.astype(object).to_numpy()
    mask = pd.isna(values).to_numpy()
    res = np.array([str(v) for v in out], dtype=object) if len(out) else np.array(out, dtype=object)
    res[mask] = None
    return res


def cell_strings(values: pd.Series) -> NDArray[np.object_]:
    """H3 cells of a ``cell`` column as strings (the contract's form; ``uint64`` columns converted)."""
    if values.dtype.kind in "iu":
        from gridmgr.grid import h3_adapter as _h3

        return np.asarray(_h3.cells_to_str(values.to_numpy().astype(np.uint64)), dtype=object)
    return str_values(values)


def segment_lengths(
    lng1: NDArray[np.float64],
    lat1: NDArray[np.float64],
    lng2: NDArray[np.float64],
    lat2: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Ground lengths (m) of short lon/lat segments on the WGS-84 ellipsoid.

    Local scale at the segment's mid-latitude (meridian and prime-vertical radii): exact to well
    below a millimetre for the tens-of-metres edges of grid pieces.
    """
    phi = np.add(lat1, lat2)
    phi *= math.pi / 360.0
    w2 = np.sin(phi)
    w2 *= w2
    w2 *= -_E2
    w2 += 1.0  # 1 - e² sin²φ
    fx = np.cos(phi)
    w = np.sqrt(w2)
    fx /= w  # cos φ / w: × a gives the prime-vertical radius times cos φ
    w *= w2  # w³: a(1 - e²)/w³ is the meridian radius
    dx = np.subtract(lng2, lng1)
    dx *= fx
    dy = np.subtract(lat2, lat1)
    dy /= w
    dy *= 1.0 - _E2
    out = np.hypot(dx, dy)
    out *= _A * math.pi / 180.0
    return np.asarray(out, dtype=np.float64)


def lines_length(geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    """Ground length (m) of each geometry's linework (polygon rings or lines), vectorised."""
    n = len(geoms)
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    parts, pidx = shapely.get_parts(geoms, return_index=True)
    tid = shapely.get_type_id(parts)
    poly = tid == 3
    rings_src = parts[poly]
    rings, ridx = shapely.get_rings(rings_src, return_index=True)
    owner_r = pidx[poly][ridx]
    lines = parts[(tid == 1) | (tid == 2)]
    owner_l = pidx[(tid == 1) | (tid == 2)]
    chains = np.concatenate([rings, lines]).astype(object)
    owner = np.concatenate([owner_r, owner_l]).astype(np.int64)
    if len(chains) == 0:
        return out
    xy, cidx = shapely.get_coordinates(chains, return_index=True)
    if len(xy) < 2:
        return out
    same = cidx[1:] == cidx[:-1]
    seg = segment_lengths(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    np.add.at(out, owner[cidx[1:][same]], seg[same])
    return out


def edge_keys(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.uint64], NDArray[np.float64], NDArray[np.float64]]:
    """Keys of the edges of closed hexagon rings given as ``x``, ``y`` of shape (m, 7).

    Returns per edge (m, 6) a 64-bit key and the exact sums of its endpoints' coordinates
    ``sx``, ``sy`` (twice the midpoint: the same bits from either side of the edge, whatever the
    orientation). Equal keys are confirmed on ``sx``, ``sy``.
    """
    sx = x[:, :6] + x[:, 1:]
    sy = y[:, :6] + y[:, 1:]
    with np.errstate(over="ignore"):
        # sy mixed by a multiply into the high bits, sx as is: the low bits (where the record
        # number goes when sorting) are not needed to tell edges apart
        key = sy.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        key ^= sx.view(np.uint64)
    return key, sx, sy


def run_pairs(groups: NDArray[np.generic]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """All position pairs ``u < v`` inside runs of equal values of a grouped (sorted) array, by
    offset: one vectorised comparison per offset, as many offsets as the longest run."""
    us: list[NDArray[np.int64]] = [np.empty(0, dtype=np.int64)]
    off = 1
    while off < len(groups):
        m = np.flatnonzero(groups[off:] == groups[:-off])
        if len(m) == 0:
            break
        us.append(m)
        off += 1
    u = np.concatenate(us)
    v = u + np.repeat(np.arange(len(us), dtype=np.int64), [len(x) for x in us])
    return u, v


def same_inner_segments(
    pairs: NDArray[np.int64],
    piece: NDArray[np.int64],
    sx: NDArray[np.float64],
    sy: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """Per pair ``(a, b)`` of pieces of one cell: do ``a`` and ``b`` have exactly the same segments
    inside the cell (as multisets of endpoint sums, so orientation does not matter)?"""
    n_pairs = len(pairs)
    if n_pairs == 0:
        return np.zeros(0, dtype=bool)
    slot = np.full(int(max(pairs.max(), piece.max() if len(piece) else 0)) + 1, -1, dtype=np.int64)
    slot[pairs[:, 0]] = 2 * np.arange(n_pairs)
    slot[pairs[:, 1]] = 2 * np.arange(n_pairs) + 1
    s = slot[piece]
    sel = s >= 0
    s = s[sel]
    frame = pd.DataFrame(
        {"pair": s // 2, "x": sx[sel], "y": sy[sel], "side": np.where(s % 2 == 0, 1, -1)}
    )
    # every segment must occur as often on one side as on the other
    net = frame.groupby(["pair", "x", "y"], sort=False)["side"].sum()
    bad = np.unique(net.index.get_level_values(0)[net.to_numpy() != 0])
    has = np.zeros(n_pairs, dtype=bool)
    has[frame["pair"].to_numpy()] = True
    out = has.copy()
    out[bad] = False
    return out


def shapely_pairs(
    pieces: pd.DataFrame,
    geoms: NDArray[np.object_],
    odd_idx: NDArray[np.int64],
    cells: NDArray[np.object_],
    fast: NDArray[np.bool_],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Shared lengths of every pair involving one of ``odd_idx`` (shapely, snap-rounded)."""
    from gridmgr.grid import h3_adapter as _h3

    n = len(geoms)
    all_cells = cells if len(cells) else cell_strings(pieces["cell"])
    odd_cells = np.unique(all_cells[odd_idx])
    ring = _h3.cells_to_str(_h3.grid_disk(_h3.str_to_cells(odd_cells), 1))
    ring = ring[pd.Index(ring).isin(all_cells)]
    pos = pd.DataFrame({"cell": all_cells, "p": np.arange(n, dtype=np.int64)})
    pos = pos[pos["cell"].isin(ring)]
    cand = pos.merge(pos, on="cell", suffixes=("a", "b"))  # same cell
    ci, cj = _h3.neighbour_pairs(_h3.str_to_cells(ring))
    cp = pd.DataFrame({"ca": ring[ci], "cb": ring[cj]})
    nb = cp.merge(pos.rename(columns={"cell": "ca", "p": "pa"}), on="ca").merge(
        pos.rename(columns={"cell": "cb", "p": "pb"}), on="cb"
    )
    a = np.concatenate([cand["pa"].to_numpy(dtype=np.int64), nb["pa"].to_numpy(dtype=np.int64)])
    b = np.concatenate([cand["pb"].to_numpy(dtype=np.int64), nb["pb"].to_numpy(dtype=np.int64)])
    is_odd = np.zeros(n, dtype=bool)
    is_odd[odd_idx] = True
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = (lo != hi) & (is_odd[lo] | is_odd[hi])
    if not keep.any():
        e = np.empty(0, dtype=np.int64)
        return e, e, np.zeros(0)
    pairs = np.unique(np.column_stack([lo[keep], hi[keep]]), axis=0)
    return pairs[:, 0], pairs[:, 1], shared_lengths(geoms, pairs[:, 0], pairs[:, 1])


def shared_lengths(
    geoms: NDArray[np.object_], a: NDArray[np.int64], b: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Ground length (m) of the common boundary of each pair ``(a[k], b[k])`` (shapely, boundaries
    snap-rounded to :data:`SNAP_DEG`, each piece's boundary built once)."""
    if len(a) == 0:
        return np.zeros(0, dtype=np.float64)
    used, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    bnd = shapely.boundary(geoms[used])
    inter = shapely.intersection(bnd[inv[: len(a)]], bnd[inv[len(a) :]], grid_size=SNAP_DEG)
    return lines_length(np.asarray(inter, dtype=object))


def boundary_pairs(
    geoms: NDArray[np.object_],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Pairs ``i < j`` of intersecting geometries and their shared boundary length (ground metres).

    The geometry-only path (pieces without a ``cell`` column): an STRtree ``intersects`` search,
    then :func:`shared_lengths` over the candidates.
    """
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep].astype(np.int64), j[keep].astype(np.int64)
    return i, j, shared_lengths(geoms, i, j)


__all__ = [
    "SNAP_DEG",
    "boundary_pairs",
    "cell_strings",
    "edge_keys",
    "lines_length",
    "run_pairs",
    "same_inner_segments",
    "segment_lengths",
    "shapely_pairs",
    "shared_lengths",
    "str_values",
]
