"""Track files from the leaders' field apps: GPX, KML/KMZ and CSV → :class:`Track`.

Each reader returns the raw fixes of one file (UTC times, WGS-84 lon/lat, accuracy when the file
has it) or raises one clear error naming the file and the problem — a truncated or malformed
file, no timestamps, times in the future, no points at all (an empty KMZ), a file over the size
cap (``GRIDMGR_MAX_TRACK_MB``, default 100 MB) — so an import writes nothing.

- **GPX**: ``<trkpt lat lon><time/>`` (also ``<rtept>``/``<wpt>`` with a time); ``<hdop>`` × 5 m as
  the accuracy when present.
- **KML/KMZ**: ``<gx:Track>`` (``<when>`` + ``<gx:coord>``) and point placemarks with a
  ``<TimeStamp><when>``; a ``LineString`` has no times and is refused with that reason.
- **CSV** (UTF-8, UTF-8-BOM or GB18030): columns ``time``, ``lon``, ``lat`` and optionally
  ``accuracy`` (aliases: 时间/timestamp, 经度/lng/longitude, 纬度/latitude, 精度/accuracy_m).
  Times are ISO 8601 or epoch seconds/milliseconds; a time without a zone is Beijing time.

Chinese apps often export GCJ-02 (高德/腾讯) or BD-09 (百度): ``crs="gcj02"|"bd09"`` converts the
fixes to WGS-84 with :func:`gridmgr.io.crs.convert_lonlat`.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import numpy.typing as npt
import pandas as pd

from gridmgr.errors import CoordinateRangeError, InvalidFieldError, UnreadableFileError
from gridmgr.i18n import t
from gridmgr.io.crs import convert_lonlat, offset_crs_name

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SUFFIXES = (".gpx", ".kml", ".kmz", ".csv")
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
#: A fix later than now by more than this is "in the future" (clock skew allowance).
FUTURE_SLACK = dt.timedelta(minutes=10)
#: China's bounding box (lon, lat), for a first sanity check of every fix.
CHINA = (73.0, 17.0, 136.0, 54.0)


def max_track_bytes() -> int:
    """The size cap of one track file: ``GRIDMGR_MAX_TRACK_MB`` megabytes (default 100)."""
    try:
        mb = float(os.environ.get("GRIDMGR_MAX_TRACK_MB", "100"))
    except ValueError:
        mb = 100.0
    return int(mb * 1024 * 1024)


@dataclass(frozen=True)
class Track:
    """The raw fixes of one track file, WGS-84, times in UTC nanoseconds, in file order."""

    path: Path
    fmt: str
    t_ns: IntArray
    lon: FloatArray
    lat: FloatArray
    accuracy_m: FloatArray
    crs: str = "wgs84"
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.t_ns)


def _bad(path: Path, zh: str, en: str) -> UnreadableFileError:
    return UnreadableFileError(t(f"{path}：{zh}", f"{path}: {en}"))


def _parse_xml(path: Path, data: bytes, fmt: str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        raise _bad(
            path,
            f"不是完整有效的 {fmt}（第 {line} 行第 {col} 列：{exc}）；文件可能被截断，请重新导出",
            f"not a complete, valid {fmt} file (line {line}, column {col}: {exc}); it may be "
            f"truncated — export it again",
        ) from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _iter(root: ET.Element, name: str) -> Iterator[ET.Element]:
    for el in root.iter():
        if _local(el.tag) == name:
            yield el


def _child_text(el: ET.Element, name: str) -> str | None:
    for c in el:
        if _local(c.tag) == name:
            return (c.text or "").strip()
    return None


def _read_gpx(path: Path, data: bytes) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    root = _parse_xml(path, data, "GPX")
    if _local(root.tag) != "gpx":
        raise _bad(path, "根元素不是 <gpx>", "the root element is not <gpx>")
    times: list[Any] = []
    lon: list[Any] = []
    lat: list[Any] = []
    acc: list[Any] = []
    for kind in ("trkpt", "rtept", "wpt"):
        for el in _iter(root, kind):
            times.append(_child_text(el, "time"))
            lon.append(el.get("lon", "nan"))
            lat.append(el.get("lat", "nan"))
            hdop = _child_text(el, "hdop")
            acc.append(float(hdop) * 5.0 if hdop else np.nan)
        if times:
            break
    return times, lon, lat, acc


def _read_kml(path: Path, data: bytes) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    root = _parse_xml(path, data, "KML")
    times: list[Any] = []
    lon: list[Any] = []
    lat: list[Any] = []
    for track in _iter(root, "Track"):
        whens = [(c.text or "").strip() for c in track if _local(c.tag) == "when"]
        coords = [(c.text or "").split() for c in track if _local(c.tag) == "coord"]
        if len(whens) != len(coords):
            raise _bad(
                path,
                f"gx:Track 中 <when> {len(whens)} 个而 <gx:coord> {len(coords)} 个，数量不一致",
                f"a gx:Track has {len(whens)} <when> but {len(coords)} <gx:coord>",
            )
        times += whens
        lon += [c[0] if c else "nan" for c in coords]
        lat += [c[1] if len(c) > 1 else "nan" for c in coords]
    for pm in _iter(root, "Placemark"):
        when = next((w.text for ts in _iter(pm, "TimeStamp") for w in _iter(ts, "when")), None)
        pt = next((c.text for p in _iter(pm, "Point") for c in _iter(p, "coordinates")), None)
        if when and pt:
            xyz = pt.strip().split(",")
            times.append(when.strip())
            lon.append(xyz[0])
            lat.append(xyz[1] if len(xyz) > 1 else "nan")
    if not times and any(True for _ in _iter(root, "LineString")):
        raise InvalidFieldError(
            t(
                f"{path}：轨迹是不带时间的 LineString；请在应用中导出带时间的轨迹（GPX 或 gx:Track）",
                f"{path}: the track is a LineString without timestamps; export it with times "
                f"(GPX or gx:Track)",
            )
        )
    return times, lon, lat, [np.nan] * len(times)


def _kmz_kml(path: Path, data: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(".kml")]
            if not names:
                raise _bad(
                    path,
                    "KMZ 中没有 .kml 文件（空的 KMZ）",
                    "the KMZ holds no .kml file (an empty KMZ)",
                )
            info = zf.getinfo(names[0])
            if info.file_size > max_track_bytes():
                raise _too_big(path, info.file_size)
            return zf.read(info)
    except zipfile.BadZipFile as exc:
        raise _bad(
            path, f"不是有效的 KMZ（ZIP）文件：{exc}", f"not a valid KMZ (zip) file: {exc}"
        ) from exc


_CSV_ALIASES = {
    "time": ("time", "timestamp", "datetime", "date_time", "时间", "定位时间", "采集时间"),
    "lon": ("lon", "lng", "longitude", "x", "经度"),
    "lat": ("lat", "latitude", "y", "纬度"),
    "accuracy": ("accuracy", "accuracy_m", "acc", "精度", "定位精度"),
}


def _decode(path: Path, data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise _bad(path, "编码无法识别（支持 UTF-8、GB18030）", "unknown encoding (UTF-8 or GB18030)")


def _read_csv(path: Path, data: bytes) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    try:
        df = pd.read_csv(io.StringIO(_decode(path, data)), dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _bad(path, f"CSV 无法解析：{exc}", f"cannot parse the CSV: {exc}") from exc
    lower = {str(c).strip().lower(): c for c in df.columns}
    cols: dict[str, Any] = {}
    for key, names in _CSV_ALIASES.items():
        cols[key] = next((lower[n] for n in names if n in lower), None)
    for key in ("time", "lon", "lat"):
        if cols[key] is None:
            raise InvalidFieldError(
                t(
                    f"{path}：缺少列 {key!r}（可用 {'/'.join(_CSV_ALIASES[key])}）；"
                    f"需要 time、lon、lat 三列",
                    f"{path}: no column {key!r} (any of {'/'.join(_CSV_ALIASES[key])}); "
                    f"the CSV needs time, lon and lat",
                )
            )
    acc = list(df[cols["accuracy"]]) if cols["accuracy"] is not None else [np.nan] * len(df)
    return list(df[cols["time"]]), list(df[cols["lon"]]), list(df[cols["lat"]]), acc


def _too_big(path: Path, size: int) -> UnreadableFileError:
    cap = max_track_bytes()
    return _bad(
        path,
        f"文件 {size / 1e6:.0f} MB，超过轨迹文件上限 {cap / 1e6:.0f} MB（GRIDMGR_MAX_TRACK_MB）；"
        f"请按天拆分后导入",
        f"the file is {size / 1e6:.0f} MB, over the track file cap of {cap / 1e6:.0f} MB "
        f"(GRIDMGR_MAX_TRACK_MB); split it by day",
    )


def _times_ns(path: Path, values: list[Any], row_base: int) -> IntArray:
    """UTC nanoseconds of ISO or epoch times; a time without a zone is Beijing time."""
    s = pd.Series(values, dtype=object)
    blank = s.isna() | (s.astype(str).str.strip() == "")
    if blank.all():
        raise InvalidFieldError(
            t(
                f"{path}：没有时间戳；导入需要每个点的时间（GPX <time>、KML <when>、CSV time 列）",
                f"{path}: no timestamps; every point needs a time (GPX <time>, KML <when>, CSV time)",
            )
        )
    if blank.any():
        i = int(np.flatnonzero(blank.to_numpy())[0])
        raise InvalidFieldError(
            t(
                f"{path}：第 {i + row_base} 个点没有时间",
                f"{path}: point {i + row_base} has no time",
            )
        )
    text = s.astype(str).str.strip()
    numeric = pd.to_numeric(text, errors="coerce")
    out = np.empty(len(s), dtype=np.int64)
    is_num = numeric.notna().to_numpy()
    if is_num.any():
        num = numeric.to_numpy()[is_num].astype(np.float64)
        scale = np.where(num > 1e11, 1e6, 1e9)  # epoch milliseconds vs seconds
        out[is_num] = (num * scale).astype(np.int64)
    if (~is_num).any():
        parsed = pd.to_datetime(text[~is_num], errors="coerce", utc=False, format="mixed")
        bad = parsed.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(~is_num)[np.flatnonzero(bad)[0]])
            raise InvalidFieldError(
                t(
                    f"{path}：第 {i + row_base} 个点的时间 {text.iloc[i]!r} 无法识别（请用 ISO 8601）",
                    f"{path}: point {i + row_base} has an unreadable time {text.iloc[i]!r} (use ISO 8601)",
                )
            )
        out[~is_num] = [_utc_ns(v) for v in parsed]
    return out


def _utc_ns(v: pd.Timestamp) -> int:
    ts = v.tz_localize(BEIJING) if v.tzinfo is None else v
    return int(ts.tz_convert("UTC").value)


def _coords(path: Path, values: list[Any], what: str, row_base: int) -> FloatArray:
    arr: FloatArray = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
        np.float64
    )
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidFieldError(
            t(
                f"{path}：第 {i + row_base} 个点的{what}无效（{values[i]!r}）",
                f"{path}: point {i + row_base} has an invalid {what} ({values[i]!r})",
            )
        )
    return arr


def _check_values(path: Path, t_ns: IntArray, lon: FloatArray, lat: FloatArray, base: int) -> None:
    """Future times and positions outside China are refused, naming the first such point."""
    now = dt.datetime.now(dt.UTC) + FUTURE_SLACK
    future = t_ns > int(now.timestamp() * 1e9)
    if future.any():
        i = int(np.flatnonzero(future)[0])
        when = pd.Timestamp(int(t_ns[i]), tz="UTC").tz_convert(BEIJING)
        raise InvalidFieldError(
            t(
                f"{path}：第 {i + base} 个点的时间 {when:%Y-%m-%d %H:%M:%S}（北京时间）在未来；"
                f"请检查设备时钟或时区",
                f"{path}: point {i + base} is timed {when:%Y-%m-%d %H:%M:%S} (Beijing time), in the "
                f"future; check the device clock or time zone",
            )
        )
    x0, y0, x1, y1 = CHINA
    out = (lon < x0) | (lon > x1) | (lat < y0) | (lat > y1)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise CoordinateRangeError(
            t(
                f"{path}：第 {i + base} 个点（{lon[i]:.5f}, {lat[i]:.5f}）不在中国范围内；"
                f"经纬度是否写反？",
                f"{path}: point {i + base} ({lon[i]:.5f}, {lat[i]:.5f}) is outside China; are "
                f"longitude and latitude swapped?",
            )
        )


def read_track(path: str | Path, *, crs: str = "wgs84") -> Track:
    """Read one GPX, KML, KMZ or CSV track file; fixes converted from ``crs`` to WGS-84."""
    p = Path(path)
    src = offset_crs_name(crs)
    if src is None:
        raise InvalidFieldError(
            t(
                f"--crs {crs!r}：轨迹坐标系只能是 wgs84、gcj02 或 bd09",
                f"--crs {crs!r}: a track's CRS is one of wgs84, gcj02, bd09",
            )
        )
    fmt = p.suffix.lower()
    if fmt not in SUFFIXES:
        raise _bad(
            p,
            f"不支持的轨迹格式 {fmt or '（无扩展名）'}；支持 GPX、KML、KMZ、CSV",
            f"unsupported track format {fmt or '(no extension)'}; use GPX, KML, KMZ or CSV",
        )
    try:
        size = p.stat().st_size
    except FileNotFoundError as exc:
        raise _bad(p, "文件不存在", "file does not exist") from exc
    if size > max_track_bytes():
        raise _too_big(p, size)
    data = p.read_bytes()
    if fmt == ".gpx":
        times, lon, lat, acc = _read_gpx(p, data)
    elif fmt == ".csv":
        times, lon, lat, acc = _read_csv(p, data)
    else:
        times, lon, lat, acc = _read_kml(p, _kmz_kml(p, data) if fmt == ".kmz" else data)
    if not times:
        raise _bad(p, "没有任何轨迹点", "holds no track points")
    base = 2 if fmt == ".csv" else 1  # CSV: data rows start on line 2
    t_ns = _times_ns(p, times, base)
    x = _coords(p, lon, t("经度", "longitude"), base)
    y = _coords(p, lat, t("纬度", "latitude"), base)
    _check_values(p, t_ns, x, y, base)
    if src != "wgs84":
        x, y = convert_lonlat(x, y, src, "wgs84")
    a = pd.to_numeric(pd.Series(acc, dtype=object), errors="coerce").to_numpy(np.float64)
    return Track(p, fmt[1:], t_ns, np.asarray(x), np.asarray(y), a, src)


def track_files(path: str | Path) -> list[Path]:
    """The track files of ``path``: the file itself, or a folder's GPX/KML/KMZ/CSV files."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUFFIXES)
        if not files:
            raise _bad(
                p,
                "目录中没有 GPX/KML/KMZ/CSV 轨迹文件",
                "the folder holds no GPX/KML/KMZ/CSV track files",
            )
        return files
    return [p]


def leader_of(path: Path, leader_ids: list[str]) -> str | None:
    """The leader a file is named after: the longest known id the file name starts with,
    followed by the end of the name or a separator (``G01_1.gpx``, ``G01_1-20261205.gpx``)."""
    stem = path.stem
    best = None
    for lid in leader_ids:
        if re.match(re.escape(lid) + r"($|[_\-. ])", stem) and (
            best is None or len(lid) > len(best)
        ):
            best = lid
    return best


__all__ = [
    "SUFFIXES",
    "Track",
    "leader_of",
    "max_track_bytes",
    "read_track",
    "track_files",
]
