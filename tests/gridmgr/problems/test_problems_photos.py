"""Bad photos: a renamed PDF, a 50 MB image, a decompression bomb, EXIF from elsewhere."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from helpers import CONFIG, LAT, LNG, T0, jpeg, photo
from sqlalchemy import func, select

from gridmgr.problems import service
from gridmgr.problems.photos import PhotoError
from gridmgr.problems.service import Upload
from gridmgr.store import schema as s


@pytest.fixture
def media(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRIDMGR_MEDIA_DIR", str(tmp_path / "media"))
    return tmp_path / "media"


def _png_bomb(w: int = 30_000, h: int = 30_000) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


BAD = {
    "renamed_pdf": (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "JPEG 或 PNG"),
    "fifty_mb": (b"\xff\xd8\xff\xe0" + b"\x00" * 50_000_000, "超过上限"),
    "bomb": (_png_bomb(), "解压炸弹"),
    "truncated": (jpeg()[:200], "无法解码"),
}


def _count(store: Any, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_photo_refused_and_nothing_stored(loaded_store: Any, media: Path, kind: str) -> None:
    data, words = BAD[kind]
    good = photo(T0, name="good.jpg")
    with pytest.raises(PhotoError, match=words):
        service.report(
            loaded_store,
            lat=LAT,
            lng=LNG,
            category="ZZ01",
            text="t",
            reporter="r",
            at=T0,
            uploads=[good, Upload(f"{kind}.jpg", data)],
            config=CONFIG,
        )
    assert _count(loaded_store, s.problems) == 0 and _count(loaded_store, s.problem_photos) == 0
    assert not media.exists() or not any(media.rglob("*.*"))


def test_exif_from_elsewhere_is_flagged_and_kept(loaded_store: Any, media: Path) -> None:
    far = Upload(
        "far.jpg", jpeg(taken=T0 - dt.timedelta(days=30), lnglat=(LNG + 0.025, LAT))
    )  # ~2 km east, a month old
    near = photo(T0, name="near.jpg")
    p = service.report(
        loaded_store,
        lat=LAT,
        lng=LNG,
        category="ZZ01",
        text="t",
        reporter="r",
        at=T0,
        uploads=[far, near],
        config=CONFIG,
    )
    flags = {ph["sha256"]: ph for ph in p["photos"]}
    far_row = next(ph for ph in flags.values() if ph["distance_m"] and ph["distance_m"] > 1000)
    assert len(far_row["flags"]) == 2 and 1900 < far_row["distance_m"] < 2200
    near_row = next(ph for ph in flags.values() if ph is not far_row)
    assert near_row["flags"] == [] and near_row["distance_m"] < 5
    stored = list(media.rglob("*.jpg"))
    assert len(stored) == 2 and {f.stem for f in stored} == set(flags)


def test_handle_needs_an_after_photo(loaded_store: Any, media: Path) -> None:
    from helpers import bring_to

    from gridmgr.errors import InputError

    ref = bring_to(loaded_store, "dispatched")
    with pytest.raises(InputError, match="整改后照片"):
        service.act(loaded_store, ref, "handle", actor="h", roles={"handler"}, config=CONFIG)
