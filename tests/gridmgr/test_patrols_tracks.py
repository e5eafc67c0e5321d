"""Track files: the readers, and bad files refused with the file and the problem named, writing
nothing (store on both backends)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from gridmgr.errors import GridMgrError
from gridmgr.patrol.recorded import import_tracks
from gridmgr.patrol.tracks import leader_of, read_track
from gridmgr.store import schema as s

T0 = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)


def gpx(points: list[tuple[float, float, str | None]]) -> str:
    rows = "".join(
        f'<trkpt lat="{y}" lon="{x}">' + (f"<time>{t}</time>" if t else "") + "</trkpt>"
        for x, y, t in points
    )
    return (
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><trkseg>{rows}</trkseg></trk></gpx>"
    )


def good_points(n: int = 20, lon: float = 125.2505, lat: float = 43.8010) -> list[Any]:
    return [
        (lon + 0.0001 * i, lat, (T0 + dt.timedelta(seconds=10 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        for i in range(n)
    ]


def test_readers_agree(tmp_path: Path) -> None:
    pts = good_points(5)
    (tmp_path / "a.gpx").write_text(gpx(pts), "utf-8")
    kml = (
        '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">'
        "<Placemark><gx:Track>"
        + "".join(f"<when>{t}</when>" for _, _, t in pts)
        + "".join(f"<gx:coord>{x} {y} 0</gx:coord>" for x, y, _ in pts)
        + "</gx:Track></Placemark></kml>"
    )
    (tmp_path / "a.kml").write_text(kml, "utf-8")
    with zipfile.ZipFile(tmp_path / "a.kmz", "w") as zf:
        zf.writestr("doc.kml", kml)
    # CSV in Beijing time without a zone, Chinese headers, GB18030
    rows = "\n".join(
        f"{(T0 + dt.timedelta(hours=8, seconds=10 * i)):%Y-%m-%d %H:%M:%S},{x},{y},8"
        for i, (x, y, _) in enumerate(pts)
    )
    (tmp_path / "a.csv").write_bytes(("时间,经度,纬度,精度\n" + rows + "\n").encode("gb18030"))
    tracks = [read_track(tmp_path / f"a.{ext}") for ext in ("gpx", "kml", "kmz", "csv")]
    for tr in tracks[1:]:
        assert tr.t_ns.tolist() == tracks[0].t_ns.tolist()
        assert tr.lon.tolist() == pytest.approx(tracks[0].lon.tolist())
    assert tracks[3].accuracy_m.tolist() == [8.0] * 5


def test_leader_of_file_name() -> None:
    ids = ["G01_1", "G01_10", "P01"]
    assert leader_of(Path("G01_1.gpx"), ids) == "G01_1"
    assert leader_of(Path("G01_10-20261201.gpx"), ids) == "G01_10"
    assert leader_of(Path("G01_12.gpx"), ids) is None


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    out: dict[str, tuple[Path, str]] = {}
    p = tmp_path / "G01_1_truncated.gpx"
    p.write_text(gpx(good_points())[:-60], "utf-8")
    out["truncated"] = (p, "truncated")
    p = tmp_path / "G01_1_notime.gpx"
    p.write_text(gpx([(x, y, None) for x, y, _ in good_points()]), "utf-8")
    out["no times"] = (p, "no timestamps")
    p = tmp_path / "G01_1_future.gpx"
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    p.write_text(gpx([*good_points(3), (125.251, 43.801, future)]), "utf-8")
    out["future"] = (p, "in the future")
    p = tmp_path / "G01_1_guangzhou.gpx"
    p.write_text(gpx(good_points(lon=113.26, lat=23.13)), "utf-8")
    out["another province"] = (p, "outside the jurisdiction")
    p = tmp_path / "G01_1_empty.kmz"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("readme.txt", "nothing")
    out["empty kmz"] = (p, "empty KMZ")
    p = tmp_path / "G01_1_huge.gpx"
    with p.open("wb") as f:  # sparse: 200 MB of size, no 200 MB written
        f.truncate(200 * 1024 * 1024)
    out["200 MB"] = (p, "over the track file cap")
    return out


@pytest.mark.parametrize(
    "case", ["truncated", "no times", "future", "another province", "empty kmz", "200 MB"]
)
def test_bad_track_files_name_file_and_problem_and_write_nothing(
    case: str, loaded_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gridmgr.i18n import set_language

    set_language("en")
    monkeypatch.setenv("GRIDMGR_MAX_TRACK_MB", "50")
    try:
        path, words = _bad_files(tmp_path)[case]
        good = tmp_path / "good"
        good.mkdir()
        (good / "G01_1.gpx").write_text(gpx(good_points()), "utf-8")
        target = good / path.name
        path.rename(target)
        with pytest.raises(GridMgrError) as err:
            import_tracks(loaded_store, good)  # the folder: a good file and the bad one
        assert target.name in str(err.value)
        assert words in str(err.value)
        with loaded_store.engine.connect() as conn:
            for table in (s.patrols, s.patrol_points, s.visits):
                assert conn.execute(select(func.count()).select_from(table)).scalar() == 0
    finally:
        set_language(None)


def test_linestring_kml_without_times_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "line.kml"
    p.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><LineString><coordinates>'
        "125.25,43.80 125.26,43.80</coordinates></LineString></Placemark></kml>",
        "utf-8",
    )
    with pytest.raises(GridMgrError, match="LineString"):
        read_track(p)


@pytest.mark.parametrize("bad", ['"weekly"', "0", "-1", "400", "true"])
def test_visit_every_days_is_validated(tmp_path: Path, bad: str) -> None:
    from gridmgr.io.departments import read_departments

    p = tmp_path / "departments.json"
    p.write_text(
        '{"departments": [{"code": "JYJ", "name": "教育局"}], "categories": [{"category": '
        f'"school", "name": "学校", "department": "JYJ", "visit_every_days": {bad}}}]}}',
        "utf-8",
    )
    with pytest.raises(GridMgrError, match="visit_every_days"):
        read_departments(p)


def test_visit_every_days_is_read(tmp_path: Path) -> None:
    from gridmgr.io.departments import read_departments

    p = tmp_path / "departments.json"
    p.write_text(
        '{"departments": [{"code": "JYJ", "name": "教育局"}], "categories": ['
        '{"category": "school", "name": "学校", "department": "JYJ", "visit_every_days": 7},'
        '{"category": "park", "name": "公园"}]}',
        "utf-8",
    )
    cats = read_departments(p).categories.set_index("category")["visit_every_days"]
    assert cats["school"] == 7.0 and pd.isna(cats["park"])
