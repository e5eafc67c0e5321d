"""Raw readers behind :mod:`gridmgr.io.layers`: a file as read, before any validation.

GeoJSON is parsed with :mod:`json` (so that unclosed or short rings are seen before any library
closes them); GeoPackage, Shapefile and anything else GDAL reads go through ``pyogrio.raw``, with
the DBF encoding of a Shapefile without ``.cpg`` detected (:mod:`gridmgr.io.files`). Errors are
:class:`~gridmgr.errors.UnreadableFileError` naming the file and the fix. Validation, field
matching and reprojection happen in the readers (:mod:`gridmgr.io.layers`).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from gridmgr.errors import UnreadableFileError
from gridmgr.i18n import t
from gridmgr.io import files
from gridmgr.io.crs import OffsetCRS, parse_crs
from gridmgr.io.geometry_checks import RingProblem, raw_ring_problems

ObjArray = npt.NDArray[np.object_]
PathLike = str | Path

#: Words that mark a CRS name or a file member as GCJ-02 / BD-09 (Chinese web-map offsets).
GCJ_PATTERN = re.compile(r"gcj|bd-?09|火星|国测局|百度|baidu|高德|gaode|amap", re.IGNORECASE)


@dataclass
class Source:
    """A layer as read, before validation."""

    path: Path
    props: pd.DataFrame
    geoms: ObjArray
    crs: pyproj.CRS | OffsetCRS | None
    geojson: bool
    ring_problems: list[RingProblem] = field(default_factory=list)
    unparsed: npt.NDArray[np.bool_] | None = None
    parse_errors: dict[int, str] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)


def load_json(path: Path, encoding: str | None = None) -> Any:
    """Parse a JSON file under the file policy (:func:`gridmgr.io.files.load_json`: regular
    file, size cap, BOM/UTF-8/GB18030/Big5 detection or ``encoding``, depth limit)."""
    return files.load_json(path, encoding)


def dumps_geometry(geom: dict[str, Any]) -> str:
    """Serialise one GeoJSON geometry dict for GEOS (orjson when installed)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is optional
        return json.dumps(geom)
    try:
        return orjson.dumps(geom).decode()
    except TypeError:  # e.g. integers beyond 64 bits
        return json.dumps(geom)


def unreadable(path: Path, why: str, fix: str) -> UnreadableFileError:
    return UnreadableFileError(f"{path}: {why}; {fix}")


def _file_crs(path: Path, value: Any) -> pyproj.CRS | OffsetCRS | None:
    """The CRS named by a legacy GeoJSON ``crs`` member."""
    if not isinstance(value, dict):
        return None
    props = value.get("properties") or {}
    name = props.get("name") if value.get("type") == "name" else None
    if value.get("type") in ("EPSG", "epsg") and "code" in props:
        name = f"EPSG:{props['code']}"
    if not isinstance(name, str) or not name.strip():
        return None
    if GCJ_PATTERN.search(name):
        return "bd09" if re.search(r"bd|百度|baidu", name, re.IGNORECASE) else "gcj02"
    parsed = parse_crs(name, where=f"{path}: crs member")
    return parsed


def _read_geojson(path: Path, encoding: str | None = None) -> Source:
    try:
        data = load_json(path, encoding)
    except json.JSONDecodeError as exc:
        raise unreadable(
            path,
            t(
                f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）",
                f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            ),
            t(
                "请用文本编辑器或 QGIS 检查文件",
                "check the file in a text editor or re-export it from QGIS",
            ),
        ) from exc
    if not isinstance(data, dict) or "type" not in data:
        raise unreadable(
            path,
            t("不是 GeoJSON 对象", "not a GeoJSON object"),
            t("请导出为 GeoJSON FeatureCollection", "export it as a GeoJSON FeatureCollection"),
        )
    kind = data["type"]
    if kind == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            raise unreadable(
                path,
                t(
                    "FeatureCollection 缺少 features 数组",
                    "FeatureCollection has no 'features' array",
                ),
                t("请重新导出该文件", "re-export the file"),
            )
    elif kind == "Feature":
        features = [data]
    elif isinstance(kind, str) and "coordinates" in data or kind == "GeometryCollection":
        features = [{"type": "Feature", "properties": {}, "geometry": data}]
    else:
        raise unreadable(
            path,
            t(f"未知的 GeoJSON 类型 {kind!r}", f"unknown GeoJSON type {kind!r}"),
            t("请导出为 GeoJSON FeatureCollection", "export it as a GeoJSON FeatureCollection"),
        )
    bad_feature = next((i for i, f in enumerate(features) if not isinstance(f, dict)), None)
    if bad_feature is not None:
        raise unreadable(
            path,
            t(f"要素 {bad_feature} 不是 JSON 对象", f"feature {bad_feature} is not a JSON object"),
            t("请重新导出该文件", "re-export the file"),
        )
    geometries = [f.get("geometry") for f in features]
    records = [
        f.get("properties") if isinstance(f.get("properties"), dict) else {} for f in features
    ]
    props = pd.DataFrame.from_records(records, index=pd.RangeIndex(len(features)))
    if props.shape[1] == 0:
        props = pd.DataFrame(index=pd.RangeIndex(len(features)))
    ring_problems = raw_ring_problems(geometries)
    geoms, parse_errors = _geoms_from_geojson(geometries)
    crs = _file_crs(path, data.get("crs"))
    hints = []
    if isinstance(data.get("crs"), dict) and GCJ_PATTERN.search(
        json.dumps(data["crs"], ensure_ascii=False)
    ):
        hints.append(f"crs member {data['crs']!r}")
    for key, value in data.items():
        if key not in ("type", "features", "crs", "bbox") and isinstance(value, str | dict):
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            if GCJ_PATTERN.search(text):
                hints.append(f"top-level member {key!r}: {text[:60]!r}")
    return Source(path, props, geoms, crs, True, ring_problems, None, parse_errors, hints)


def _geoms_from_geojson(geometries: Sequence[Any]) -> tuple[ObjArray, dict[int, str]]:
    """Shapely geometries from GeoJSON geometry dicts (one vectorised GEOS call when possible)."""
    texts = np.array(
        [dumps_geometry(g) if isinstance(g, dict) else None for g in geometries], dtype=object
    )
    out = np.full(len(texts), None, dtype=object)
    present = np.flatnonzero(pd.notna(texts))
    errors: dict[int, str] = {}
    try:
        out[present] = shapely.from_geojson(texts[present], on_invalid="ignore")
        retry = present[shapely.is_missing(out[present])]
    except shapely.errors.GEOSException:
        retry = present
    if retry.size:
        from shapely.geometry import shape

        for i in retry:
            try:
                out[i] = shapely.from_geojson(texts[i])
                continue
            except shapely.errors.GEOSException as exc:
                reason = str(exc)
            # GEOS's JSON parser rejects NaN/Infinity; shapely's builder keeps them so that the
            # finiteness check can name the problem. Anything else is unparseable.
            try:
                with np.errstate(invalid="ignore"):
                    out[i] = shape(geometries[i])
            except Exception:  # noqa: BLE001 - malformed GeoJSON of any kind
                errors[int(i)] = reason
    for i, g in enumerate(geometries):
        if g is not None and not isinstance(g, dict):
            errors[i] = f"geometry is a {type(g).__name__}, not an object"
    return out, errors


def dbf_encoding(shp: Path, encoding: str | None = None) -> str | None:
    """Encoding of a Shapefile's DBF: ``encoding`` when given; ``None`` when a ``.cpg`` says it;
    else detected from the text of all records and field names
    (:func:`gridmgr.io.files.detect_encoding`: UTF-8, else GB18030 or Big5 when exactly one of
    them reads as plausible Chinese, else refused naming ``--encoding``).
    """
    if encoding:
        return files.normalise_encoding(encoding)
    for suffix in (".cpg", ".CPG"):
        if shp.with_suffix(suffix).exists():
            return None
    dbf = next((shp.with_suffix(s) for s in (".dbf", ".DBF") if shp.with_suffix(s).exists()), None)
    if dbf is None:
        return None
    raw = files.read_bytes(dbf)
    if len(raw) < 12:
        return None
    nrec = int.from_bytes(raw[4:8], "little")
    hlen = int.from_bytes(raw[8:10], "little")
    rlen = int.from_bytes(raw[10:12], "little")
    body = raw[hlen : hlen + nrec * rlen]
    # Field names only (11 bytes of each 32-byte descriptor): the descriptors' binary lengths
    # are not text and would fail a UTF-8 decode on their own.
    header_names = b"".join(
        raw[k : k + 11].split(b"\x00", 1)[0]
        for k in range(32, hlen - 31, 32)
        if raw[k : k + 1] != b"\r"
    )
    enc = files.detect_encoding(header_names + b" " + body, dbf)
    return "UTF-8" if enc in ("utf-8", "utf-8-sig") else enc.upper()


@contextmanager
def _quiet_m_warning() -> Iterator[None]:
    """Silence pyogrio's note that M values are dropped: gridmgr drops Z and M on purpose."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"Measured \(M\) geometry types are not supported",
            category=UserWarning,
        )
        yield


def _pick_layer(path: Path, layer: str | int | None, prefer: str) -> str | int | None:
    import pyogrio

    try:
        with _quiet_m_warning():
            layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError family
        raise unreadable(
            path,
            t(f"无法打开（{exc}）", f"cannot be opened ({exc})"),
            t(
                "请确认文件完整且格式受支持（GeoJSON/GPKG/SHP）",
                "check that the file is complete and a supported format (GeoJSON/GPKG/SHP)",
            ),
        ) from exc
    names = [str(n) for n in layers[:, 0]] if len(layers) else []
    if layer is not None:
        if isinstance(layer, int) or layer in names:
            return layer
        raise unreadable(
            path,
            t(
                f"没有图层 {layer!r}（已有：{', '.join(names)}）",
                f"has no layer {layer!r} (layers: {', '.join(names)})",
            ),
            t("请用 layer= 指定已有图层", "pass one of them as layer="),
        )
    if len(names) <= 1:
        return None
    if prefer in names:
        return prefer
    raise unreadable(
        path,
        t(f"包含多个图层（{', '.join(names)}）", f"holds several layers ({', '.join(names)})"),
        t("请用 layer= 指定要读取的图层", "name the one to read with layer="),
    )


def _sidecars(path: Path) -> list[Path]:
    """The files GDAL reads besides ``path`` (a Shapefile's .shx/.dbf), all under the policy."""
    if path.suffix.lower() != ".shp":
        return []
    return [
        path.with_suffix(s)
        for s in (".shx", ".dbf", ".SHX", ".DBF")
        if os.path.lexists(path.with_suffix(s))
    ]


def _read_ogr(
    path: Path, layer: str | int | None, prefer: str, encoding: str | None = None
) -> Source:
    import pyogrio
    import pyogrio.raw

    for part in _sidecars(path):
        files.check_file(part)
    chosen = _pick_layer(path, layer, prefer)
    encoding = dbf_encoding(path, encoding) if path.suffix.lower() == ".shp" else None
    try:
        with _quiet_m_warning():
            meta, _, wkb, field_data = pyogrio.raw.read(path, layer=chosen, encoding=encoding)
    except Exception as exc:
        raise unreadable(
            path,
            t(f"无法读取（{exc}）", f"cannot be read ({exc})"),
            t(
                "请确认文件完整（Shapefile 需要 .shp/.shx/.dbf）",
                "check the file is complete (a Shapefile needs .shp, .shx and .dbf)",
            ),
        ) from exc
    fields = [str(f) for f in meta["fields"]]
    props = pd.DataFrame(
        {
            name: pd.Series(np.asarray(col), dtype=object)
            for name, col in zip(fields, field_data, strict=True)
        },
        index=pd.RangeIndex(len(wkb) if wkb is not None else 0),
    )
    n = len(props)
    raw = np.asarray(wkb, dtype=object) if wkb is not None else np.full(n, None, dtype=object)
    with np.errstate(invalid="ignore"):
        geoms = shapely.from_wkb(raw, on_invalid="ignore")
    unparsed = np.asarray([r is not None for r in raw], dtype=bool) & shapely.is_missing(geoms)
    crs_text = meta.get("crs")
    crs: pyproj.CRS | OffsetCRS | None = None
    hints: list[str] = []
    if crs_text:
        if GCJ_PATTERN.search(str(crs_text)):
            hints.append(f"CRS definition mentions {GCJ_PATTERN.search(str(crs_text)).group(0)!r}")  # type: ignore[union-attr]
        crs = parse_crs(crs_text, where=f"{path}: CRS")
    return Source(path, props, geoms, crs, False, [], unparsed, {}, hints)


def read_source(
    path: PathLike, *, layer: str | int | None, prefer: str, encoding: str | None = None
) -> Source:
    """A layer file as read (GeoJSON by :mod:`json`, anything else by GDAL), after the file policy
    of :mod:`gridmgr.io.files` (regular file, size cap, zip checks; ``encoding`` for text)."""
    p = Path(path)
    if os.path.isdir(p):
        raise unreadable(
            p,
            t("是目录而不是文件", "is a directory, not a file"),
            t("图层目录请用 read_layers", "use read_layers for a layers directory"),
        )
    files.check_file(p)
    if p.suffix.lower() in (".geojson", ".json"):
        return _read_geojson(p, encoding)
    return _read_ogr(p, layer, prefer, encoding)
