"""Offline tile files: MBTiles (TMS rows) and PMTiles v3 read by gridmgr.maps.tiles.

The PMTiles archives are written by ``pmtiles`` (the reference implementation, a dev dependency),
so the reader is checked against an independent writer: root-only and with leaf directories,
gzip and uncompressed directories; tile ids agree with the reference's Hilbert numbering.
"""

from __future__ import annotations

import gzip
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from gridmgr.errors import InputError
from gridmgr.maps.tiles import MBTiles, PMTiles, open_tiles, tile_id

pm_tile = pytest.importorskip("pmtiles.tile")
pm_writer = pytest.importorskip("pmtiles.writer")


def png(rgb: tuple[int, int, int]) -> bytes:
    """A 1×1 PNG of one colour."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), rgb).save(buf, format="PNG")
    return buf.getvalue()


def sample_tiles(max_zoom: int = 2) -> dict[tuple[int, int, int], bytes]:
    """Every tile of zooms 0..max_zoom, each a different colour (XYZ keys)."""
    return {
        (z, x, y): png((z * 60, x * 40, y * 40))
        for z in range(max_zoom + 1)
        for x in range(1 << z)
        for y in range(1 << z)
    }


def write_mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], fmt: str = "png") -> Path:
    """An MBTiles file of ``tiles`` (rows flipped to TMS, as the spec says)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE metadata (name text, value text)")
        conn.execute(
            "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, "
            "tile_data blob)"
        )
        conn.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "test"), ("format", fmt)])
        conn.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [(z, x, (1 << z) - 1 - y, d) for (z, x, y), d in tiles.items()],
        )
    conn.close()
    return path


def write_pmtiles(
    path: Path,
    tiles: dict[tuple[int, int, int], bytes],
    *,
    tile_type: int = 2,
    leaves: bool = False,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> Path:
    """A PMTiles v3 archive written by the reference writer (optionally forced to use leaves)."""
    if leaves:
        assert monkeypatch is not None
        monkeypatch.setattr(
            pm_writer,
            "optimize_directories",
            lambda entries, _target: pm_writer.build_roots_leaves(entries, 3),
        )
    zs = [z for z, _, _ in tiles]
    with path.open("wb") as f:
        w = pm_writer.Writer(f)
        for (z, x, y), data in sorted(tiles.items(), key=lambda kv: tile_id(*kv[0])):
            w.write_tile(pm_tile.zxy_to_tileid(z, x, y), data)
        w.finalize(
            {
                "tile_type": pm_tile.TileType(tile_type),
                "tile_compression": pm_tile.Compression.NONE,
                "min_zoom": min(zs),
                "max_zoom": max(zs),
                "min_lon_e7": 1250000000,
                "min_lat_e7": 437000000,
                "max_lon_e7": 1255000000,
                "max_lat_e7": 440000000,
                "center_zoom": 1,
                "center_lon_e7": 1252500000,
                "center_lat_e7": 438000000,
            },
            {"name": "test"},
        )
    return path


@pytest.fixture(scope="module")
def tiles() -> dict[tuple[int, int, int], bytes]:
    return sample_tiles()


@pytest.fixture(scope="module")
def archives(
    tiles: dict[tuple[int, int, int], bytes], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    d = tmp_path_factory.mktemp("tiles")
    yield {
        "mbtiles": write_mbtiles(d / "t.mbtiles", tiles),
        "pmtiles": write_pmtiles(d / "t.pmtiles", tiles),
    }


def test_tile_ids_match_the_reference() -> None:
    for z in range(7):
        for x in range(1 << z):
            for y in range(0, 1 << z, max(1, (1 << z) // 8)):
                assert tile_id(z, x, y) == pm_tile.zxy_to_tileid(z, x, y), (z, x, y)


@pytest.mark.parametrize("kind", ["mbtiles", "pmtiles"])
def test_every_tile_byte_for_byte(
    kind: str, archives: dict[str, Path], tiles: dict[tuple[int, int, int], bytes]
) -> None:
    archive = open_tiles(archives[kind])
    assert isinstance(archive, MBTiles if kind == "mbtiles" else PMTiles)
    assert (archive.min_zoom, archive.max_zoom) == (0, 2)
    for (z, x, y), data in tiles.items():
        got = archive.get(z, x, y)
        assert got is not None and got.data == data, (z, x, y)
        assert got.content_type == "image/png" and got.encoding is None
    # outside the file or the tile grid: nothing, never an error
    for z, x, y in [(3, 0, 0), (2, 4, 0), (2, 0, 4), (31, 0, 0), (0, -1, 0)]:
        assert archive.get(z, x, y) is None


def test_mbtiles_rows_are_tms(tmp_path: Path) -> None:
    """Only the tile at TMS row 1 of zoom 1 exists: it is XYZ y=0 (the north row)."""
    red = png((255, 0, 0))
    path = write_mbtiles(tmp_path / "one.mbtiles", {(1, 1, 0): red})
    archive = open_tiles(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT tile_row FROM tiles").fetchone() == (1,)
    conn.close()
    assert archive.get(1, 1, 0) is not None and archive.get(1, 1, 0).data == red  # type: ignore[union-attr]
    assert archive.get(1, 1, 1) is None


def test_pmtiles_leaf_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiles = sample_tiles(3)  # 85 tiles, leaves of 3 entries each
    path = write_pmtiles(tmp_path / "leaves.pmtiles", tiles, leaves=True, monkeypatch=monkeypatch)
    reader = pm_tile.deserialize_header(path.read_bytes()[:127])
    assert reader["leaf_directory_length"] > 0  # the archive really has leaves
    archive = PMTiles(path)
    for key, data in tiles.items():
        got = archive.get(*key)
        assert got is not None and got.data == data, key


def test_pmtiles_uncompressed_directories(tmp_path: Path) -> None:
    """Internal compression "none": the same archive with the root directory un-gzipped."""
    tiles = sample_tiles(1)
    src = write_pmtiles(tmp_path / "gz.pmtiles", tiles).read_bytes()
    h = pm_tile.deserialize_header(src[:127])
    root = gzip.decompress(src[h["root_offset"] : h["root_offset"] + h["root_length"]])
    meta = gzip.decompress(src[h["metadata_offset"] : h["metadata_offset"] + h["metadata_length"]])
    data = src[h["tile_data_offset"] : h["tile_data_offset"] + h["tile_data_length"]]
    h.update(
        internal_compression=pm_tile.Compression.NONE,
        root_offset=127,
        root_length=len(root),
        metadata_offset=127 + len(root),
        metadata_length=len(meta),
        leaf_directory_offset=127 + len(root) + len(meta),
        leaf_directory_length=0,
        tile_data_offset=127 + len(root) + len(meta),
    )
    path = tmp_path / "plain.pmtiles"
    path.write_bytes(pm_tile.serialize_header(h) + root + meta + data)
    archive = PMTiles(path)
    for key, tile in tiles.items():
        got = archive.get(*key)
        assert got is not None and got.data == tile


def test_bad_files_are_refused_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "none.pmtiles"
    with pytest.raises(InputError, match="不存在"):
        open_tiles(missing)
    other = tmp_path / "tiles.zip"
    other.write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError, match=r"\.mbtiles 和 \.pmtiles"):
        open_tiles(other)
    junk = tmp_path / "junk.pmtiles"
    junk.write_bytes(b"not a pmtiles archive" * 10)
    with pytest.raises(InputError, match="junk.pmtiles.*不是 PMTiles"):
        open_tiles(junk)
    vector = write_pmtiles(tmp_path / "vector.pmtiles", {(0, 0, 0): b"\x1a\x00"}, tile_type=1)
    with pytest.raises(InputError, match="不是栅格"):
        open_tiles(vector)
    pbf = write_mbtiles(tmp_path / "vector.mbtiles", {(0, 0, 0): b"\x1f\x8b"}, fmt="pbf")
    with pytest.raises(InputError, match="不是栅格"):
        open_tiles(pbf)
    notdb = tmp_path / "text.mbtiles"
    notdb.write_text("hello", encoding="utf-8")
    with pytest.raises(InputError, match="text.mbtiles.*MBTiles"):
        open_tiles(notdb)
