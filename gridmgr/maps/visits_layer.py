"""The "days since last visit" layer (距上次走访天数): pieces coloured by how long ago a patrol
came within reach of them, dissolved per class so the layer stays light on a whole district.

Classes (Beijing days since the last visit): 0–3, 4–7, 8–14, over 14, never. Off by default
(a switch in the layer control), drawn on the overview and the leader maps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridmgr.i18n import t
from gridmgr.maps.basemap import _Base
from gridmgr.maps.colouring import territories
from gridmgr.maps.leaflet import _html_text, _popup_table, features_json

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

#: (upper bound in days, colour, Chinese label, English label); ``None`` = never visited.
CLASSES: tuple[tuple[float | None, str, str, str], ...] = (
    (3, "#1a9850", "3 天内", "within 3 days"),
    (7, "#a6d96a", "4–7 天", "4–7 days"),
    (14, "#fee08b", "8–14 天", "8–14 days"),
    (float("inf"), "#f46d43", "超过 14 天", "over 14 days"),
    (None, "#a50026", "从未走访", "never visited"),
)


def visit_classes(days_since: pd.Series) -> np.ndarray:
    """Class index (into :data:`CLASSES`) of each piece's days since its last visit (NaN: never).

    >>> visit_classes(pd.Series([0.0, 5.0, 30.0, float("nan")])).tolist()
    [0, 1, 3, 4]
    """
    d = days_since.to_numpy(dtype=float)
    bounds = np.array([c[0] for c in CLASSES[:-1]], dtype=float)
    cls = np.searchsorted(bounds, d, side="left")
    return np.where(np.isnan(d), len(CLASSES) - 1, cls)


def days_since_layer(
    m: folium.Map, vector: type, pieces: gpd.GeoDataFrame, days_since: pd.Series, base: _Base
) -> list[str]:
    """Add the layer to ``m`` (hidden at first); return the legend lines."""
    cls = visit_classes(days_since.reset_index(drop=True))
    frame = pieces[["geometry"]].reset_index(drop=True).assign(_cls=cls.astype(str))
    if "area_m2" in pieces.columns:
        frame["area_m2"] = pieces["area_m2"].to_numpy()
    groups = territories(frame, by="_cls", simplify_m=2.0)
    idx = groups["_cls"].astype(int).to_numpy()
    labels = [t(CLASSES[i][2], CLASSES[i][3]) for i in idx]
    popups = [
        _popup_table(lab, [(t("地块数", "Pieces"), int(n))])
        for lab, n in zip(labels, groups["pieces"], strict=True)
    ]
    styles: list[dict[str, Any]] = [
        {"fillColor": CLASSES[i][1], "color": CLASSES[i][1], "fillOpacity": 0.55} for i in idx
    ]
    geoms = np.asarray(groups.geometry.values, dtype=object)
    vector(
        features_json(base.shift(geoms), {"_s": styles, "_t": labels, "_p": popups}),
        name=t("距上次走访天数", "Days since last visit"),
        style={"weight": 0.5, "opacity": 0.7},
        show=False,
    ).add_to(m)
    legend = [f"<div><b>{_html_text(t('距上次走访天数', 'Days since last visit'))}</b></div>"]
    for i in sorted(set(idx.tolist())):
        legend.append(
            f'<div><i style="background:{CLASSES[i][1]};opacity:.7"></i>'
            f"{_html_text(t(CLASSES[i][2], CLASSES[i][3]))}</div>"
        )
    return legend


def days_since_from_store(store: Any, pieces: pd.DataFrame) -> pd.Series | None:
    """Days since each piece's last visit (aligned with ``pieces``), ``None`` when no patrol is
    recorded (the layer is then left out)."""
    from gridmgr.patrol.temporal import temporal_coverage

    cov = temporal_coverage(store)
    if cov.pieces["last_seen"].notna().sum() == 0:
        return None
    days = cov.pieces.set_index("id")["days_since"]
    return pd.Series(pieces["id"].map(days).to_numpy(dtype=float), index=pieces.index)


__all__ = ["CLASSES", "days_since_from_store", "days_since_layer", "visit_classes"]
