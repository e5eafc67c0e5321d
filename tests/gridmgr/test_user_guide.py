"""A new user follows only ``docs/user-guide.md`` with a boundary file of another town.

The layers are generated here: a sample county-level unit around 梅河口 (Jilin, code prefix
220581) cut into two streets and six Voronoi communities, written (a) as a CGCS2000 GeoPackage with
Chinese field names and (b) as a GCJ-02 GeoJSON carrying the ``crs`` member the guide shows. The
leaders file and the commands are taken verbatim from the guide's walkthrough blocks and run with
``typer.testing.CliRunner`` on ``gridmgr.cli.app`` in a temporary working directory (so the store is
the default ``./gridmgr.db`` the guide talks about). The user must end with full coverage and a
patrol map; the GCJ-02 file must land where the WGS-84 truth is.

Every ``gridmgr …`` line in a code block of either guide must name an existing command and only
options that command has, so the guide cannot drift from the CLI.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from gridmgr.cli import app
from gridmgr.io.crs import wgs84_to_gcj02
from gridmgr.settings import DEFAULT_LAYERS
from gridmgr.store import open_store

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "user-guide.md"
GUIDE_EN = ROOT / "docs" / "user-guide.en.md"
CENTRE = (125.71, 42.535)  # 梅河口, Jilin


def _block(text: str, name: str, path: Path) -> str:
    """The fenced code block right after ``<!-- walkthrough:NAME -->``."""
    m = re.search(rf"<!-- walkthrough:{re.escape(name)} -->\s*```[a-z]*\n(.*?)```", text, re.DOTALL)
    assert m, f"{path.name}: no walkthrough block {name!r}"
    return m.group(1)


def _commands(block: str) -> list[list[str]]:
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    out = []
    for ln in lines:
        argv = shlex.split(ln, comments=True)
        assert argv[0] == "gridmgr", f"the walkthrough runs gridmgr commands only: {ln!r}"
        out.append(argv[1:])
    return out


def _truth_units() -> gpd.GeoDataFrame:
    """A district, two streets and 3 + 3 Voronoi communities (WGS-84), tiling exactly."""
    cx, cy = CENTRE
    district = shapely.box(cx - 0.02, cy - 0.014, cx + 0.02, cy + 0.014)
    halves = (
        shapely.box(cx - 0.02, cy - 0.014, cx, cy + 0.014),
        shapely.box(cx, cy - 0.014, cx + 0.02, cy + 0.014),
    )
    rng = np.random.default_rng(20261125)
    codes, names, parents, geoms = ["220581"], ["梅河口市（样例）"], [None], [district]
    for s, street in enumerate(halves, start=1):
        scode = f"220581{s:03d}"
        (
            codes.append(scode),
            names.append(f"样例街道{s}"),
            parents.append("220581"),
            geoms.append(street),
        )
        minx, miny, maxx, maxy = street.bounds
        seeds = shapely.multipoints(
            np.column_stack([rng.uniform(minx, maxx, 3), rng.uniform(miny, maxy, 3)])
        )
        cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=street.buffer(0.05)))
        for c, cell in enumerate(cells, start=1):
            codes.append(f"{scode}{c:03d}")
            names.append(f"样例街道{s}样例社区{c}")
            parents.append(scode)
            geoms.append(shapely.intersection(cell, street))
    return gpd.GeoDataFrame(
        {"区划代码": codes, "名称": names, "上级代码": parents}, geometry=geoms, crs=4326
    )


def _key_places(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    lowest = units[units["区划代码"].str.len() == 12]
    pts = lowest.geometry.representative_point().to_numpy()[:3]
    return gpd.GeoDataFrame(
        {
            "code": ["KP001", "KP002", "KP003"],
            "name": ["样例幼儿园", "样例医院", "样例卫生室"],
            # categories without requires_package_leader: the guide's leaders file packages no place
            "category": ["kindergarten", "hospital", "clinic"],
        },
        geometry=list(pts),
        crs=4326,
    )


def _write_gcj_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    def shift(xy: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    gcj = frame.set_geometry(shapely.transform(frame.geometry.to_numpy(), shift))
    data = json.loads(gcj.to_json(drop_id=True))
    data["crs"] = {"type": "name", "properties": {"name": "GCJ-02"}}  # as the guide shows
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _guide_inputs(tmp: Path) -> list[list[str]]:
    text = GUIDE.read_text(encoding="utf-8")
    (tmp / "leaders.csv").write_text(_block(text, "leaders.csv", GUIDE), encoding="utf-8")
    layers = tmp / "mylayers"
    layers.mkdir()
    # the guide: "copy the shipped layers/changchun_hitech/departments.json"
    shutil.copy(DEFAULT_LAYERS / "departments.json", layers / "departments.json")
    return _commands(_block(text, "commands", GUIDE))


def _run_walkthrough(commands: list[list[str]]) -> dict[str, str]:
    runner = CliRunner()
    outputs = {}
    for argv in commands:
        result = runner.invoke(app, argv, catch_exceptions=False)
        assert result.exit_code == 0, f"gridmgr {' '.join(argv)} failed:\n{result.output}"
        outputs[" ".join(argv)] = result.output
    return outputs


@pytest.fixture()
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("GRIDMGR_DATABASE_URL", "GRIDMGR_LAYERS", "GRIDMGR_TIANDITU_KEY", "GRIDMGR_LANG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _check_result(tmp: Path, truth: gpd.GeoDataFrame, tol_m: float) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["coverage", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    summary = json.loads((tmp / "check" / "summary.json").read_text(encoding="utf-8"))
    assert report["coverage_pct"] == 100.0
    assert report["has_gaps"] is False
    assert report["pieces"] == summary["pieces"] > 100
    assert report["dead_corner_area_m2"] == 0.0

    store = open_store()  # GRIDMGR_DATABASE_URL, else ./gridmgr.db, as for the CLI
    try:
        stored = store.units().set_index("code")
        pieces = store.pieces(geometry=False)
    finally:
        store.close()
    assert set(stored.index) == set(truth["区划代码"])
    assert pieces["leader_id"].notna().all()
    # the boundaries landed where they are on the ground (a GCJ-02 file read as WGS-84 would be ~500 m off)
    t = truth.set_index("区划代码").loc[list(stored.index)]
    metric = t.estimate_utm_crs()
    dist = (
        gpd.GeoSeries(stored.geometry.boundary.values, crs=4326)
        .to_crs(metric)
        .hausdorff_distance(gpd.GeoSeries(t.geometry.boundary.values, crs=4326).to_crs(metric))
    )
    assert float(dist.max()) < tol_m, f"stored boundaries are {float(dist.max()):.1f} m off"

    page = (tmp / "G001.html").read_text(encoding="utf-8")
    assert "样例网格长G001" in page and "巡查" in page
    assert not re.search(r"<script[^>]+src=\"https?:", page)
    gpx = ET.parse(tmp / "G001.gpx").getroot()
    ns = {"g": gpx.tag.split("}")[0].strip("{")}
    track = gpx.findall(".//g:trkpt", ns)
    assert len(track) >= 2, "the exported GPX carries no route"
    lon = np.array([float(p.get("lon")) for p in track])
    lat = np.array([float(p.get("lat")) for p in track])
    g001 = t.loc["220581001001"].geometry.buffer(0.002)  # the route stays in G001's community
    assert shapely.contains_xy(g001, lon, lat).all()
    overview = (tmp / "overview.html").read_text(encoding="utf-8")
    assert "样例街道1" in overview or "220581001" in overview


def test_guide_walkthrough_cgcs2000_geopackage(
    user_dir: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite (the default ./gridmgr.db) and on PostGIS via GRIDMGR_DATABASE_URL (guide section 8)."""
    monkeypatch.setenv("GRIDMGR_DATABASE_URL", store_url)
    commands = _guide_inputs(user_dir)
    truth = _truth_units()
    truth.to_crs(4490).to_file(user_dir / "mylayers" / "units.gpkg", layer="units", driver="GPKG")
    outputs = _run_walkthrough(commands)
    assert any("100.00%" in out for key, out in outputs.items() if key.startswith("coverage"))
    _check_result(user_dir, truth, tol_m=0.5)


def test_guide_walkthrough_gcj02_geojson_with_key_places(user_dir: Path) -> None:
    commands = _guide_inputs(user_dir)
    truth = _truth_units()
    _write_gcj_geojson(truth, user_dir / "mylayers" / "units.geojson")
    places = _key_places(truth)
    _write_gcj_geojson(places, user_dir / "mylayers" / "key_places.geojson")
    _run_walkthrough(commands)
    _check_result(user_dir, truth, tol_m=1.0)
    store = open_store()
    try:
        kp = store.key_places().set_index("code")
    finally:
        store.close()
    metric = places.estimate_utm_crs()
    moved = (
        gpd.GeoSeries(kp.loc[places["code"]].geometry.values, crs=4326)
        .to_crs(metric)
        .distance(places.to_crs(metric).geometry.reset_index(drop=True))
    )
    assert float(moved.max()) < 1.0
    # the grid leader of the first community sees its key place on the patrol map
    first = places.iloc[0]
    page = (user_dir / "G001.html").read_text(encoding="utf-8")
    assert str(first["name"]) in page


def test_guide_field_options_on_a_shapefile(user_dir: Path) -> None:
    """The guide's `grid build --units … --code-field …` line on a file with other field names."""
    text = GUIDE.read_text(encoding="utf-8")
    (argv,) = _commands(_block(text, "fields", GUIDE))
    units = _truth_units().rename(columns={"区划代码": "BM", "名称": "MC", "上级代码": "SJBM"})
    units["BM"] = units["BM"].astype(str)
    path = argv[argv.index("--units") + 1]
    units.to_crs(4490).to_file(user_dir / path, driver="ESRI Shapefile", encoding="UTF-8")
    result = CliRunner().invoke(app, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((user_dir / "check" / "summary.json").read_text(encoding="utf-8"))
    assert summary["units"] == 6 and summary["gap_area_m2"] == 0.0
    assert abs(summary["piece_area_m2"] - summary["unit_area_m2"]) < 1e-6 * summary["unit_area_m2"]


def _code_lines(path: Path) -> list[str]:
    lines, fence = [], None
    for raw in path.read_text(encoding="utf-8").splitlines():
        ln = raw.strip()
        if ln.startswith("```"):
            fence = None if fence is not None else ln[3:]
            continue
        if fence in ("bash", "sh", ""):
            m = re.search(r"(?:^|\|\s*|&&\s*)(gridmgr\s.*)$", ln)
            if m:
                lines.append(m.group(1))
    return lines


@pytest.mark.parametrize("path", [GUIDE, GUIDE_EN], ids=["zh", "en"])
def test_every_guide_command_exists(path: Path) -> None:
    """Each `gridmgr …` line names a real command and only options it has."""
    import typer.main

    root = typer.main.get_command(app)

    def is_group(c: object) -> bool:
        return hasattr(c, "list_commands") and hasattr(c, "get_command")

    lines = _code_lines(path)
    assert len(lines) >= 20, f"{path.name}: expected the guide's commands"
    for line in lines:
        argv = shlex.split(line, comments=True)[1:]
        cmd = root
        ctx_words = []
        while is_group(cmd) and argv and not argv[0].startswith("-"):
            sub = cmd.get_command(None, argv[0])
            assert sub is not None, (
                f"{path.name}: `{line}`: no command {' '.join([*ctx_words, argv[0]])!r}"
            )
            ctx_words.append(argv.pop(0))
            cmd = sub
        if argv == ["--help"]:
            continue
        assert not is_group(cmd), f"{path.name}: `{line}` names a group, not a command"
        known = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}
        for word in argv:
            if word.startswith("--"):
                opt = word.split("=", 1)[0]
                assert opt in known, f"{path.name}: `{line}`: {ctx_words} has no option {opt}"


def test_guides_show_the_same_commands() -> None:
    zh = _code_lines(GUIDE)
    en = _code_lines(GUIDE_EN)

    def shape(line: str) -> tuple[str, ...]:
        """Command words up to the first option, then the option names (values may be translated)."""
        words = shlex.split(line, comments=True)
        first = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
        return (*words[: min(first, 3)], *(w.split("=", 1)[0] for w in words if w.startswith("--")))

    assert [shape(x) for x in zh] == [shape(x) for x in en]
    text_zh, text_en = GUIDE.read_text(encoding="utf-8"), GUIDE_EN.read_text(encoding="utf-8")
    for name in ("commands", "leaders.csv", "fields"):
        assert _block(text_zh, name, GUIDE) == _block(text_en, name, GUIDE_EN)
