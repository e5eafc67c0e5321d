"""Photos of a problem (before / after): checked by content, compared with the report, stored
content-addressed.

Checks, in order, before anything is written: size (``photos.max_bytes``), type by content (JPEG
or PNG magic bytes; the file name does not count), dimensions from the header against
``photos.max_pixels`` (a decompression bomb is refused before it is decoded; Pillow's own
``DecompressionBombWarning`` is an error here too), a full decode. EXIF time
(``DateTimeOriginal``, Beijing time unless ``OffsetTimeOriginal`` says otherwise) and GPS
position are read and compared with the report: a photo taken more than
``photos.max_distance_m`` away or ``photos.max_age_hours`` before or after is *flagged* (kept,
with the flag). Files go to ``<media>/<sha256[:2]>/<sha256>.<jpg|png>`` (``GRIDMGR_MEDIA_DIR``,
default ``./media``), written atomically.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyproj

from gridmgr.errors import InputError
from gridmgr.i18n import t
from gridmgr.patrol.stops import local_metric_crs
from gridmgr.problems.workdays import BEIJING

TYPES = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", "png")}


class PhotoError(InputError):
    """A photo is refused: too large, not a JPEG/PNG by content, a decompression bomb, corrupt."""


@dataclass(frozen=True)
class Photo:
    """A checked photo, ready to store."""

    data: bytes
    sha256: str
    media_type: str
    ext: str
    width: int
    height: int
    taken_at: dt.datetime | None
    lng: float | None
    lat: float | None
    distance_m: float | None
    flags: list[str] = field(default_factory=list)


def media_dir() -> Path:
    """Where photos are stored: ``GRIDMGR_MEDIA_DIR`` or ``./media``."""
    return Path(os.environ.get("GRIDMGR_MEDIA_DIR") or "media")


def _sniff(data: bytes, name: str) -> tuple[str, str]:
    for magic, kind in TYPES.items():
        if data.startswith(magic):
            return kind
    head = data[:8].hex(" ")
    raise PhotoError(
        t(
            f"照片 {name}：按内容判断不是 JPEG 或 PNG（文件头 {head}）；只接受 JPEG/PNG 照片",
            f"photo {name}: by its content not a JPEG or PNG (header {head}); only JPEG/PNG photos are accepted",
        )
    )


def _rational(v: Any) -> float:
    return float(v[0]) / float(v[1]) if isinstance(v, tuple) else float(v)


def _gps(exif: Any) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(0x8825)
    try:
        lat = sum(_rational(x) / 60**i for i, x in enumerate(gps[2]))
        lng = sum(_rational(x) / 60**i for i, x in enumerate(gps[4]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None, None
    if str(gps.get(1, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(3, "E")).upper().startswith("W"):
        lng = -lng
    return lng, lat


def _taken(exif: Any) -> dt.datetime | None:
    sub = exif.get_ifd(0x8769)
    raw = sub.get(36867) or exif.get(306)
    if not raw:
        return None
    try:
        naive = dt.datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(36881)
    if offset:
        try:
            return dt.datetime.fromisoformat(
                naive.isoformat() + str(offset).strip("\x00 ")
            ).astimezone(dt.UTC)
        except ValueError:
            pass
    return naive.replace(tzinfo=BEIJING).astimezone(dt.UTC)


def _decode(data: bytes, name: str, max_pixels: int) -> tuple[int, int, Any]:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise PhotoError(
                    t(
                        f"照片 {name}：{w}×{h} 像素超过上限 {max_pixels:,}（疑似解压炸弹）；已拒绝",
                        f"photo {name}: {w}×{h} pixels exceed the limit {max_pixels:,} (a decompression bomb?); refused",
                    )
                )
            exif = img.getexif()
            img.load()
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(
            t(
                f"照片 {name}：像素过多（解压炸弹）：{exc}",
                f"photo {name}: too many pixels (decompression bomb): {exc}",
            )
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(
            t(
                f"照片 {name}：无法解码（文件损坏或不完整）：{exc}",
                f"photo {name}: cannot be decoded (corrupt or truncated): {exc}",
            )
        ) from None
    return w, h, exif


def check_photo(
    data: bytes,
    *,
    name: str,
    max_bytes: int,
    max_pixels: int,
    at: dt.datetime,
    lng: float,
    lat: float,
    max_distance_m: float,
    max_age_hours: float,
) -> Photo:
    """Check ``data``; compare its EXIF with the report's time ``at`` and position."""
    if len(data) > max_bytes:
        raise PhotoError(
            t(
                f"照片 {name}：{len(data) / 1e6:.1f} MB 超过上限 {max_bytes / 1e6:.1f} MB",
                f"photo {name}: {len(data) / 1e6:.1f} MB exceeds the limit of {max_bytes / 1e6:.1f} MB",
            )
        )
    media_type, ext = _sniff(data, name)
    w, h, exif = _decode(data, name, max_pixels)
    taken = _taken(exif)
    plng, plat = _gps(exif)
    flags: list[str] = []
    dist = None
    if plng is not None and plat is not None:
        fwd = pyproj.Transformer.from_crs(4326, local_metric_crs(lng, lat), always_xy=True)
        x, y = fwd.transform(plng, plat)
        dist = round(float(np.hypot(x, y)), 1)
        if dist > max_distance_m:
            flags.append(
                t(
                    f"拍摄位置距问题点 {dist:,.0f} 米（上限 {max_distance_m:,.0f} 米）",
                    f"taken {dist:,.0f} m from the problem (limit {max_distance_m:,.0f} m)",
                )
            )
    else:
        flags.append(t("照片无 GPS 位置", "photo has no GPS position"))
    if taken is not None:
        hours = abs((taken - at).total_seconds()) / 3600
        if hours > max_age_hours:
            flags.append(
                t(
                    f"拍摄时间与上报/处置时间相差 {hours:,.0f} 小时（上限 {max_age_hours:,.0f}）",
                    f"taken {hours:,.0f} h from the report/handling time (limit {max_age_hours:,.0f})",
                )
            )
    else:
        flags.append(t("照片无拍摄时间", "photo has no capture time"))
    return Photo(
        data,
        hashlib.sha256(data).hexdigest(),
        media_type,
        ext,
        w,
        h,
        taken,
        plng,
        plat,
        dist,
        flags,
    )


def path_of(sha256: str, media_type: str, root: Path | None = None) -> Path:
    """Where the photo with this hash lives."""
    ext = "png" if media_type == "image/png" else "jpg"
    return (root or media_dir()) / sha256[:2] / f"{sha256}.{ext}"


def write_blob(photo: Photo, root: Path | None = None) -> tuple[Path, bool]:
    """Write the photo (atomically, once per content); (path, whether it was new)."""
    path = path_of(photo.sha256, photo.media_type, root)
    if path.exists():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(photo.data)
    os.replace(tmp, path)
    return path, True
