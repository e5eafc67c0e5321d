"""Raster map tiles from a local MBTiles or PMTiles v3 file (offline basemaps for intranets).

An office with a licensed offline map package points ``GRIDMGR_TILES`` at one file; the service
answers ``GET /api/tiles/{z}/{x}/{y}`` from it and the ``local`` basemap shows it
(:mod:`gridmgr.maps.basemap`). :func:`open_tiles` opens the file by its suffix:

- **MBTiles** (``.mbtiles``): an SQLite database; tiles are addressed in the TMS scheme, so the
  row is ``2**z - 1 - y`` of the XYZ ``y`` Leaflet asks for. Opened read-only.
- **PMTiles v3** (``.pmtiles``): a 127-byte header, a root directory and optional leaf
  directories of varint-encoded entries (optionally gzip-compressed) keyed by the Hilbert tile id
  (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md). Directories read are cached.

Only raster tiles (PNG, JPEG, WebP, AVIF) are served: Leaflet draws no vector tiles. A tile that
is not in the file is ``None`` (the route answers 404 and Leaflet leaves the square empty).
"""

from __future__ import annotations

import gzip
import sqlite3
import struct
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from gridmgr.errors import InputError
from gridmgr.i18n import t

__all__ = ["TILES_ENV", "Tile", "TileArchive", "open_tiles", "tile_id"]

#: Name of the environment variable naming the offline tile file.
TILES_ENV = "GRIDMGR_TILES"

_MIME = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
}
# PMTiles tile types (spec §3.9) and compressions (§3.8, as HTTP Content-Encoding)
_PM_TYPES = {2: "png", 3: "jpg", 4: "webp", 5: "avif"}
_PM_ENCODING = {0: None, 1: None, 2: "gzip", 3: "br", 4: "zstd"}
_MAX_ZOOM = 30
_OCTET = "application/octet-stream"


@dataclass(frozen=True)
class Tile:
    """One tile as stored: the bytes, their media type and HTTP ``Content-Encoding`` (or None)."""

    data: bytes
    content_type: str
    encoding: str | None = None


class TileArchive(Protocol):
    """A tile file: :meth:`get` one tile; the zoom range the file holds."""

    path: Path
    min_zoom: int
    max_zoom: int

    def get(self, z: int, x: int, y: int) -> Tile | None:
        """The tile at XYZ ``z/x/y``, or None when the file has none there."""


def _bad(path: Path, zh: str, en: str) -> InputError:
    return InputError(
        t(f"离线瓦片文件 {path}：{zh}", f"offline tile file {path}: {en}"),
    )


def _in_range(z: int, x: int, y: int) -> bool:
    return 0 <= z <= _MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def _sniff(data: bytes) -> str:
    """The media type of a raster tile by its first bytes (MBTiles may not say)."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    return _OCTET


# --------------------------------------------------------------------------------------------
# MBTiles
# --------------------------------------------------------------------------------------------


class MBTiles:
    """An MBTiles file (SQLite, TMS rows), opened read-only for each read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with closing(self._connect()) as conn:
                meta = dict(conn.execute("SELECT name, value FROM metadata").fetchall())
                zooms = conn.execute(
                    "SELECT min(zoom_level), max(zoom_level) FROM tiles"
                ).fetchone()
                conn.execute("SELECT tile_column, tile_row, tile_data FROM tiles LIMIT 0")
        except sqlite3.Error as exc:
            raise _bad(
                path,
                f"不是可读的 MBTiles（需要 metadata 和 tiles 表）：{exc}",
                f"not a readable MBTiles file (needs the metadata and tiles tables): {exc}",
            ) from exc
        fmt = str(meta.get("format", "png")).lower()
        if fmt not in _MIME:
            raise _bad(
                path,
                f"瓦片格式 {fmt!r} 不是栅格图片；地图页只能显示 png/jpg/webp 瓦片",
                f"tile format {fmt!r} is not a raster image; map pages show png/jpg/webp tiles",
            )
        self.content_type = _MIME[fmt]
        self.min_zoom = int(zooms[0]) if zooms[0] is not None else 0
        self.max_zoom = int(zooms[1]) if zooms[1] is not None else 0

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)

    def get(self, z: int, x: int, y: int) -> Tile | None:
        """The tile at XYZ ``z/x/y`` (stored at TMS row ``2**z - 1 - y``)."""
        if not _in_range(z, x, y):
            return None
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, x, (1 << z) - 1 - y),
            ).fetchone()
        if row is None or row[0] is None:
            return None
        data = bytes(row[0])
        sniffed = _sniff(data)
        return Tile(data, self.content_type if sniffed == _OCTET else sniffed)


# --------------------------------------------------------------------------------------------
# PMTiles v3
# --------------------------------------------------------------------------------------------


def tile_id(z: int, x: int, y: int) -> int:
    """The PMTiles tile id of XYZ ``z/x/y``: tiles of lower zooms first, then the Hilbert
    curve position within the zoom.

    >>> tile_id(0, 0, 0), tile_id(1, 0, 0), tile_id(1, 0, 1), tile_id(1, 1, 1), tile_id(1, 1, 0)
    (0, 1, 2, 3, 4)
    """
    acc = ((1 << (2 * z)) - 1) // 3
    for a in range(z - 1, -1, -1):
        s = 1 << a
        rx, ry = x & s, y & s
        acc += ((3 * rx) ^ ry) << a
        if ry == 0:  # rotate the quadrant
            if rx:
                x, y = s - 1 - x, s - 1 - y
            x, y = y, x
    return acc


def _varints(buf: bytes) -> list[int]:
    """Every unsigned LEB128 varint in ``buf``, in order."""
    out: list[int] = []
    value = shift = 0
    for byte in buf:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                raise ValueError("varint longer than 64 bits")
        else:
            out.append(value)
            value = shift = 0
    if shift:
        raise ValueError("truncated varint")
    return out


@dataclass(frozen=True)
class _Directory:
    ids: tuple[int, ...]
    runs: tuple[int, ...]
    lengths: tuple[int, ...]
    offsets: tuple[int, ...]

    def find(self, tid: int) -> int | None:
        """Index of the entry holding ``tid`` (a tile run or a leaf pointer), else None."""
        import bisect

        i = bisect.bisect_right(self.ids, tid) - 1
        if i < 0:
            return None
        if self.runs[i] == 0 or tid - self.ids[i] < self.runs[i]:
            return i
        return None


def _directory(raw: bytes) -> _Directory:
    vals = _varints(raw)
    n = vals[0] if vals else 0
    if len(vals) != 1 + 4 * n:
        raise ValueError(f"directory holds {len(vals)} varints, expected {1 + 4 * n}")
    ids, runs, lengths, offs = (vals[1 + k * n : 1 + (k + 1) * n] for k in range(4))
    acc = 0
    for i in range(n):
        acc += ids[i]
        ids[i] = acc
    for i in range(n):
        if offs[i] == 0 and i > 0:
            offs[i] = offs[i - 1] + lengths[i - 1]
        else:
            offs[i] -= 1
    return _Directory(tuple(ids), tuple(runs), tuple(lengths), tuple(offs))


_HEADER = struct.Struct("<7sB11Q6B4iB2i")  # spec §3: 127 bytes


class PMTiles:
    """A PMTiles v3 file: header read once, directories cached, the file opened for each read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("rb") as f:
            head = f.read(_HEADER.size)
        if len(head) < _HEADER.size or head[:7] != b"PMTiles":
            raise _bad(path, "不是 PMTiles 文件（文件头不对）", "not a PMTiles file (bad header)")
        h = _HEADER.unpack(head)
        if h[1] != 3:
            raise _bad(
                path,
                f"PMTiles 版本 {h[1]} 不受支持，请用 v3（pmtiles convert 可转换）",
                f"PMTiles version {h[1]} is not supported; use v3 (pmtiles convert)",
            )
        (self._root_off, self._root_len, _mo, _ml, self._leaf_off, _ll, self._data_off) = h[2:9]
        internal, tile_comp, tile_type = h[14], h[15], h[16]
        if internal not in (0, 1, 2):
            raise _bad(
                path,
                f"目录压缩方式 {internal} 不受支持（只支持不压缩或 gzip）",
                f"directory compression {internal} is not supported (none or gzip only)",
            )
        if tile_type not in _PM_TYPES or tile_comp not in _PM_ENCODING:
            raise _bad(
                path,
                f"瓦片类型 {tile_type} 不是栅格图片；地图页只能显示 png/jpg/webp/avif 瓦片",
                f"tile type {tile_type} is not a raster image; map pages show png/jpg/webp/avif",
            )
        self._gzip = internal == 2
        self.content_type = _MIME[_PM_TYPES[tile_type]]
        self.encoding = _PM_ENCODING[tile_comp]
        self.min_zoom, self.max_zoom = int(h[17]), int(h[18])
        self._dir = lru_cache(maxsize=64)(self._read_dir)

    def _read(self, offset: int, length: int) -> bytes:
        with self.path.open("rb") as f:
            f.seek(offset)
            data = f.read(length)
        if len(data) != length:
            raise _bad(self.path, "文件被截断", "the file is truncated")
        return data

    def _read_dir(self, offset: int, length: int) -> _Directory:
        raw = self._read(offset, length)
        try:
            return _directory(gzip.decompress(raw) if self._gzip else raw)
        except (ValueError, OSError, EOFError) as exc:
            raise _bad(self.path, f"目录损坏：{exc}", f"corrupt directory: {exc}") from exc

    def get(self, z: int, x: int, y: int) -> Tile | None:
        """The tile at XYZ ``z/x/y``: root directory, then at most three leaf levels."""
        if not _in_range(z, x, y):
            return None
        tid = tile_id(z, x, y)
        offset, length = self._root_off, self._root_len
        for _depth in range(4):
            d = self._dir(offset, length)
            i = d.find(tid)
            if i is None:
                return None
            if d.runs[i] == 0:  # a leaf directory
                offset, length = self._leaf_off + d.offsets[i], d.lengths[i]
                continue
            data = self._read(self._data_off + d.offsets[i], d.lengths[i])
            return Tile(data, self.content_type, self.encoding)
        return None


def open_tiles(path: str | Path) -> TileArchive:
    """Open an ``.mbtiles`` or ``.pmtiles`` file (cached per path and modification time).

    Raises
    ------
    InputError
        The file is missing, of another kind, unreadable or holds vector tiles.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(
            t(
                f"离线瓦片文件 {p} 不存在（{TILES_ENV}）",
                f"the offline tile file {p} does not exist ({TILES_ENV})",
            )
        )
    return _open(str(p.resolve()), p.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _open(path: str, mtime_ns: int) -> TileArchive:
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".mbtiles":
        return MBTiles(p)
    if suffix == ".pmtiles":
        return PMTiles(p)
    raise _bad(
        p,
        "只支持 .mbtiles 和 .pmtiles 文件",
        "only .mbtiles and .pmtiles files are supported",
    )
