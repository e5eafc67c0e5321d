"""Map of open problems by piece (督导): each piece with open problems shaded by their number,
each open problem a dot (red overdue, orange running, grey waiting to be registered)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import shapely

from gridmgr.i18n import t
from gridmgr.maps.basemap import _finish, _new_map
from gridmgr.problems.cycle import OPEN
from gridmgr.store import problems as repo
from gridmgr.store.engine import read_connection
from gridmgr.store.schema import utcnow


def problems_map_from_store(
    store: Any, *, basemap: str | None = None, as_of: dt.datetime | None = None
) -> Any:
    """The folium map of the open problems at ``as_of`` (default now)."""
    import folium

    when = as_of or utcnow()
    store.require_schema()
    with read_connection(store.engine) as conn:
        open_ = repo.listing(conn, states=list(OPEN))
    pieces = store.pieces()
    counts = open_.groupby("piece_id").size()
    hit = pieces[pieces["id"].isin(counts.index)]
    bounds = pieces.total_bounds if len(pieces) else (125.1, 43.7, 125.5, 44.0)
    m, base = _new_map(
        bounds, basemap, t(f"未结案问题（{len(open_)} 件）", f"open problems ({len(open_)})")
    )
    shades = folium.FeatureGroup(name=t("地块问题数", "problems per piece"))
    for geom, pid in zip(base.shift(hit.geometry.values), hit["id"], strict=True):
        n = int(counts[pid])
        folium.GeoJson(
            shapely.geometry.mapping(geom),
            style_function=lambda _f, n=n: {
                "color": "#b71c1c",
                "weight": 1,
                "fillOpacity": min(0.15 + 0.15 * n, 0.75),
            },
            tooltip=t(f"{n} 件未结案", f"{n} open"),
        ).add_to(shades)
    shades.add_to(m)
    dots = folium.FeatureGroup(name=t("问题", "problems"))
    pts = base.shift(
        np.asarray(
            shapely.points(open_["lng"].astype(float), open_["lat"].astype(float)), dtype=object
        )
    )
    for pt, r in zip(pts, open_.to_dict("records"), strict=True):
        late = r["due_at"] is not None and r["due_at"] < when and r["handled_at"] is None
        colour = "#d32f2f" if late else "#f57c00" if r["due_at"] is not None else "#757575"
        folium.CircleMarker(
            [pt.y, pt.x],
            radius=6,
            color=colour,
            fill=True,
            fill_opacity=0.9,
            tooltip=f"{r['code']} {r['category']}",
        ).add_to(dots)
    dots.add_to(m)
    legend = t(
        "<b>未结案问题</b><br>● <span style='color:#d32f2f'>逾期</span> ● <span style='color:#f57c00'>整改中</span> ● <span style='color:#757575'>待立案/派遣</span>",
        "<b>Open problems</b><br>● <span style='color:#d32f2f'>overdue</span> ● <span style='color:#f57c00'>running</span> ● <span style='color:#757575'>not yet dispatched</span>",
    )
    _finish(m, legend)
    return m
