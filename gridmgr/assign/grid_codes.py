"""Grid codes: stable, readable codes for leader territories (``<community>-<NNN>``).

Re-exported by :mod:`gridmgr.assign` and :mod:`gridmgr.assign.auto`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridmgr.errors import InvalidFieldError


def grid_codes(
    pieces: pd.DataFrame,
    leader_ids: Sequence[Any] | NDArray[Any] | None = None,
    *,
    community: Sequence[Any] | NDArray[Any] | None = None,
) -> pd.DataFrame:
    """15-digit grid codes of leader territories (DB11 / CJ/T 349 style).

    A territory is the set of pieces one leader holds in one community. Its code is the
    community's 12-digit statistical code (6-digit district + 3-digit street + 3-digit community)
    followed by a 3-digit sequence ``001``, ``002`` … numbered inside the community in reading
    order — north→south by rows, west→east within a row:

    1. every territory's centroid is the area-weighted (``area_m2``) mean of its pieces'
       centroids in longitude/latitude (pieces taken in (cell, unit_code) order, so the input
       order does not matter); longitude and latitude, not a projected CRS, so that north is
       true north (the equal-area Albers grid is turned ~14° at Changchun);
    2. the row height ``h`` is the side of an average territory, ``sqrt(community area /
       number of territories)`` metres, i.e. ``h / 110,574`` degrees of latitude;
    3. a territory's row is ``floor((lat_max - lat) / h)`` with ``lat_max`` the northernmost
       centroid of the community (row 0 is the northernmost band);
    4. territories are numbered by (row, longitude, leader id).

    The same territories therefore always get the same codes, whatever order the pieces or leaders
    come in; codes only move when territories change.

    Parameters
    ----------
    pieces
        Pieces frame with ``unit_code``, ``area_m2`` and geometry (EPSG:4326).
    leader_ids
        Owner per piece (``None``/NaN: unassigned, no code). Default: the frame's ``leader_id``.
    community
        12-digit community code per piece. Default: ``unit_code``.

    Returns
    -------
    pandas.DataFrame
        Columns ``leader_id``, ``unit_code`` (the community), ``grid_code``, ``row``, ``lng``,
        ``lat`` (the territory's centroid), sorted by ``grid_code``.

    Raises
    ------
    InvalidFieldError
        A community code is not 12 digits, or a community has more than 999 territories.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> pieces = gpd.GeoDataFrame(
    ...     {"unit_code": ["220173001001"] * 3, "leader_id": ["east", "west", "south"]},
    ...     geometry=[box(125.31, 43.85, 125.32, 43.86), box(125.30, 43.85, 125.31, 43.86),
    ...               box(125.30, 43.82, 125.32, 43.83)],
    ...     crs="EPSG:4326",
    ... )
    >>> grid_codes(pieces)[["leader_id", "grid_code"]].values.tolist()
    [['west', '220173001001001'], ['east', '220173001001002'], ['south', '220173001001003']]
    """
    cols = ["leader_id", "unit_code", "grid_code", "row", "lng", "lat"]
    df = _held_pieces(pieces, leader_ids, community)
    if df is None:
        return pd.DataFrame(columns=cols)
    _check_community_codes(df["unit_code"])
    terr = _number_territories(_territory_centroids(df))
    return terr[cols].sort_values("grid_code").reset_index(drop=True)


def _held_pieces(
    pieces: pd.DataFrame,
    leader_ids: Sequence[Any] | NDArray[Any] | None,
    community: Sequence[Any] | NDArray[Any] | None,
) -> pd.DataFrame | None:
    """Pieces with an owner: leader, community, cell, area and centroid (``None``: no such piece)."""
    import shapely

    lid = pd.Series(
        pieces["leader_id"].to_numpy()
        if leader_ids is None
        else np.asarray(leader_ids, dtype=object),
        dtype=object,
    )
    comm = pd.Series(
        pieces["unit_code"].astype(str).to_numpy()
        if community is None
        else np.asarray(community, dtype=object),
        dtype=object,
    ).astype(str)
    keep = lid.notna().to_numpy()
    if not keep.any():
        return None
    geoms = np.asarray(pieces.geometry.values, dtype=object)[keep]
    cen = shapely.centroid(geoms)
    if "area_m2" in pieces.columns:
        area = np.asarray(pieces["area_m2"], dtype=float)[keep]
    else:
        from gridmgr.grid.units import area_m2

        area = np.asarray(area_m2(geoms), dtype=float)
    return pd.DataFrame(
        {
            "leader_id": lid[keep].astype(str).to_numpy(),
            "unit_code": comm[keep].to_numpy(),
            "cell": pieces["cell"].astype(str).to_numpy()[keep]
            if "cell" in pieces.columns
            else np.arange(int(keep.sum())),
            "a": area,
            "cx": shapely.get_x(cen),
            "cy": shapely.get_y(cen),
        }
    )


def _check_community_codes(codes: pd.Series) -> None:
    """Refuse community codes that are not 12-digit statistical codes, naming up to five."""
    bad = sorted({c for c in codes.unique() if not (len(c) == 12 and c.isdigit())})
    if bad:
        msg = (
            f"grid codes: community code(s) {', '.join(bad[:5])} are not 12-digit "
            "statistical codes (6 district + 3 street + 3 community); fix the unit codes in "
            "units.geojson"
        )
        raise InvalidFieldError(msg)


def _territory_centroids(df: pd.DataFrame) -> pd.DataFrame:
    """Per (community, leader): area and area-weighted centroid (``lng``, ``lat``), input order-free."""
    df = df.sort_values(["unit_code", "cell", "leader_id"], kind="stable")
    df["ax"] = df["a"] * df["cx"]
    df["ay"] = df["a"] * df["cy"]
    terr = df.groupby(["unit_code", "leader_id"], sort=True)[["a", "ax", "ay"]].sum().reset_index()
    wsum = terr["a"].where(terr["a"] > 0, 1.0)
    terr["lng"] = terr["ax"] / wsum
    terr["lat"] = terr["ay"] / wsum
    return terr


def _number_territories(terr: pd.DataFrame) -> pd.DataFrame:
    """Rows of one average territory's height from the north, then ``grid_code`` in reading order."""
    comm_area = terr.groupby("unit_code")["a"].transform("sum")
    comm_n = terr.groupby("unit_code")["a"].transform("size")
    h_deg = np.sqrt(np.maximum(comm_area / comm_n, 1.0)) / 110_574.0
    lat_max = terr.groupby("unit_code")["lat"].transform("max")
    terr["row"] = np.floor((lat_max - terr["lat"]) / h_deg).astype(np.int64)
    terr = terr.sort_values(["unit_code", "row", "lng", "leader_id"], kind="stable")
    seq = terr.groupby("unit_code").cumcount() + 1
    if (seq > 999).any():
        c = terr.loc[seq > 999, "unit_code"].iloc[0]
        msg = f"grid codes: community {c} has more than 999 territories; split the community"
        raise InvalidFieldError(msg)
    terr["grid_code"] = terr["unit_code"] + seq.map("{:03d}".format)
    return terr
