"""Shared helpers of the problems tests: an assigned tiny store, photos with EXIF."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from gridmgr.problems.service import Config, Upload
from gridmgr.problems.workdays import BEIJING

#: A point inside community 220173001001 of the tiny layers (conftest ORIGIN + offsets).
LNG, LAT = 125.25 + 0.0021, 43.80 + 0.0013
CONFIG = Config.load()


def assigned(store: Any) -> Any:
    """Assign the tiny store's pieces (grid leaders G0i_j)."""
    from gridmgr.assign.auto import auto_assign

    auto_assign(store, actor="test")
    return store


def jpeg(
    *,
    size: tuple[int, int] = (64, 48),
    taken: dt.datetime | None = None,
    lnglat: tuple[float, float] | None = None,
) -> bytes:
    """A small JPEG with EXIF capture time (Beijing) and GPS position when given."""
    from PIL import Image

    img = Image.new("RGB", size, (120, 160, 90))
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[36867] = taken.astimezone(BEIJING).strftime("%Y:%m:%d %H:%M:%S")
    if lnglat is not None:
        lng, lat = lnglat

        def dms(v: float) -> tuple[float, float, float]:
            d = int(v)
            m = int((v - d) * 60)
            return (float(d), float(m), round(((v - d) * 60 - m) * 60, 4))

        exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lng)}
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def photo(at: dt.datetime, lnglat: tuple[float, float] = (LNG, LAT), name: str = "p.jpg") -> Upload:
    return Upload(name, jpeg(taken=at, lnglat=lnglat))


#: A fixed time inside the calendar's known years (tests must not depend on today's date).
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=BEIJING)


def bring_to(store: Any, state: str, *, at: dt.datetime = T0, key: str | None = None) -> str:
    """A new problem walked to ``state`` through the real cycle; its id."""
    from gridmgr.problems import service

    p = service.report(
        store,
        lat=LAT,
        lng=LNG,
        category="ZZ01",
        text="暴露垃圾",
        reporter="G01_1",
        at=at,
        idempotency_key=key,
        config=CONFIG,
    )
    ref = p["id"]
    steps = {
        "reported": [],
        "registered": ["register"],
        "rejected": ["reject"],
        "dispatched": ["register", "dispatch"],
        "extension_requested": ["register", "dispatch", "request-extension"],
        "handled": ["register", "dispatch", "handle"],
        "closed": ["register", "dispatch", "handle", "verify-pass"],
    }[state]
    for i, action in enumerate(steps):
        when = at + dt.timedelta(hours=i + 1)
        service.act(
            store,
            ref,
            action,
            actor="x",
            roles={"center", "supervisor", "handler"},
            note="n",
            n_workdays=2,
            at=when,
            uploads=[photo(when)],
            department="HWC",
            config=CONFIG,
        )
    return str(ref)
