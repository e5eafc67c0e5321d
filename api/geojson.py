"""GeoJSON serialisation of frames without a Python loop over geometries.

Geometries are written by ``shapely.to_geojson`` (vectorised, C); properties go through
``orjson`` when installed (else :mod:`json`); the features are joined as bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

_orjson: Any
try:  # optional fast path
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is optional
    _orjson = None


def dumps(obj: Any) -> bytes:
    """JSON bytes (UTF-8, Chinese kept readable, NaN → null)."""
    if _orjson is not None:
        out: bytes = _orjson.dumps(
            obj, default=_default, option=_orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS
        )
        return out
    return json.dumps(obj, ensure_ascii=False, default=_default).encode()


def _default(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if math.isnan(float(v)) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (pd.Timestamp,)) or hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def clean_records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of ``frame[columns]`` as dicts with NaN/NA turned into ``None``."""
    sub = frame[list(columns)].astype(object)
    sub = sub.where(pd.notna(sub), None)
    out: list[dict[str, Any]] = sub.to_dict("records")
    return out


def geometry_strings(geoms: Any, precision: int = 7) -> list[str]:
    """GeoJSON geometry strings of an array of shapely geometries (``null`` for missing)."""
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return []
    rounded = shapely.set_precision(arr, 10.0**-precision, mode="pointwise")
    out = shapely.to_geojson(rounded)
    return ["null" if s is None else str(s) for s in out]


def feature_collection(
    geometries: Sequence[str],
    properties: Sequence[dict[str, Any]],
    ids: Sequence[Any] | None = None,
    **members: Any,
) -> bytes:
    """A FeatureCollection as bytes from pre-serialised geometries and property dicts.

    ``members`` (``numberMatched``, ``links`` …) are added to the collection object.
    """
    parts: list[bytes] = []
    for i, (g, p) in enumerate(zip(geometries, properties, strict=True)):
        fid = b"" if ids is None else b'"id":' + dumps(ids[i]) + b","
        parts.append(
            b'{"type":"Feature",'
            + fid
            + b'"geometry":'
            + g.encode()
            + b',"properties":'
            + dumps(p)
            + b"}"
        )
    head = b'{"type":"FeatureCollection"'
    for k, v in members.items():
        head += b"," + dumps(k) + b":" + dumps(v)
    return head + b',"features":[' + b",".join(parts) + b"]}"
