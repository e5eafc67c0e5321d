"""Exports opened with independent readers: fastkml, gpxpy, pyogrio, openpyxl, python-docx,
python-pptx, pdftoppm; PNGs checked for size and content; Chinese text with no missing glyph."""

from __future__ import annotations

import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from gridmgr.export import (
    ExportData,
    briefing_pack,
    export_leader,
    export_unit,
    gpx_document,
    kml_document,
    leader_layers,
    static_map,
    territories_frame,
    write_docx,
    write_pptx,
    write_shapefile,
    write_xlsx,
)

X0, Y0 = 125.25, 43.80
DX, DY = 0.006, 0.005

#: Names a spreadsheet would take as formulas if stored naively.
FORMULA_NAMES = ['=HYPERLINK("http://example.invalid","点我")', "+1 网格长", "-1", "@x"]


def _frames() -> ExportData:
    """District → street → two communities (res-10 pieces), four grid leaders, key places."""
    from gridmgr.grid import pieces_from_units

    c1 = box(X0, Y0, X0 + DX, Y0 + DY)
    c2 = box(X0 + DX, Y0, X0 + 2 * DX, Y0 + DY)
    street = shapely.union_all([c1, c2])
    units = gpd.GeoDataFrame(
        {
            "code": ["220173", "220173001", "220173001001", "220173001002"],
            "name": ["长春高新技术产业开发区", "硅谷街道", "测试社区一", "测试社区二"],
            "level": ["district", "street", "community", "community"],
            "parent": [None, "220173", "220173001", "220173001"],
        },
        geometry=[street, street, c1, c2],
        crs="EPSG:4326",
    )
    pieces = pieces_from_units(units, res=10)
    cx = shapely.get_x(shapely.centroid(np.asarray(pieces.geometry.values)))
    comm = pieces["unit_code"].to_numpy()
    west = np.where(comm == "220173001001", cx < X0 + DX / 2, cx < X0 + 1.5 * DX)
    lid = np.where(comm == "220173001001", np.where(west, "G1", "G2"), np.where(west, "G3", "G4"))
    pieces["leader_id"] = lid.astype(object)
    pieces.loc[pieces.index[-1], "leader_id"] = None  # one blind spot
    pieces["fallback"] = False
    leaders = pd.DataFrame(
        {
            "id": ["P1", "P2", "G1", "G2", "G3", "G4"],
            "name": [
                "包保领导甲",
                "包保领导乙",
                FORMULA_NAMES[0],
                FORMULA_NAMES[1],
                FORMULA_NAMES[2],
                "网格长<b>&丁",
            ],
            "role": ["package_leader"] * 2 + ["grid_leader"] * 4,
            "department": [""] * 6,
            "capacity": [1.0, 1.0, 1.0, 1.0, 1.2, 0.8],
            "active": [True] * 6,
            # P2 has no unit package: community 2 has no territorial default, its blind spot stays one
            "unit_packages": [
                ["220173001001"],
                [],
                ["220173001001"],
                ["220173001001"],
                ["220173001002"],
                ["220173001002"],
            ],
            "place_packages": [["KP001"], [], [], [], [], []],
        }
    )
    key_places = gpd.GeoDataFrame(
        {
            "code": ["KP001", "KP002", "KP003", "KP004"],
            "name": ["测试学校", "测试农贸市场", "@测试医院", "测试广场"],
            "category": ["school", "farmers_market", "hospital", "plaza"],
        },
        geometry=[
            Point(X0 + 0.2 * DX, Y0 + 0.5 * DY),
            Point(X0 + 0.8 * DX, Y0 + 0.3 * DY),
            Point(X0 + 1.3 * DX, Y0 + 0.6 * DY),
            box(X0 + 1.7 * DX, Y0 + 0.4 * DY, X0 + 1.8 * DX, Y0 + 0.5 * DY),
        ],
        crs="EPSG:4326",
    )
    categories = pd.DataFrame(
        {
            "category": ["school", "farmers_market", "hospital", "plaza"],
            "name": ["学校", "农贸市场", "医院", "广场"],
            "name_en": ["school", "farmers' market", "hospital", "plaza"],
            "department": ["JYJ", "SJJ", "WJJ", None],
            "requires_package_leader": [True, False, True, False],
        }
    )
    roads = gpd.GeoDataFrame(
        {"name": ["测试大街"], "kind": ["road"]},
        geometry=[
            shapely.LineString([(X0 - 0.001, Y0 + DY / 2), (X0 + 2 * DX + 0.001, Y0 + DY / 2)])
        ],
        crs="EPSG:4326",
    )
    return ExportData(
        units=units,
        pieces=pieces,
        leaders=leaders,
        key_places=key_places,
        categories=categories,
        roads=roads,
    )


@pytest.fixture(scope="module")
def data() -> ExportData:
    return _frames().with_coverage()


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def _non_blank(pixels: np.ndarray) -> None:
    assert pixels.std() > 10.0, "image is (nearly) blank"
    colours = np.unique(pixels.reshape(-1, 3)[::7].astype(np.uint8), axis=0)
    assert len(colours) > 50, f"only {len(colours)} colours: nothing drawn"


def _glyph_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if "glyph" in str(w.message).lower() or "missing from" in str(w.message)
    ]


# --------------------------------------------------------------------------------------------
# fonts and static maps
# --------------------------------------------------------------------------------------------


def test_cjk_font_found_and_registered() -> None:
    from matplotlib import font_manager

    from gridmgr.maps.fonts import use_cjk_font

    fam = use_cjk_font()
    assert "CJK" in fam[0]
    path = font_manager.findfont(
        font_manager.FontProperties(family=fam[0]), fallback_to_default=False
    )
    assert "CJK" in Path(path).name


def test_missing_cjk_font_error_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from gridmgr.errors import FontNotFoundError
    from gridmgr.maps import fonts

    monkeypatch.setattr(fonts, "FONT_DIRS", (Path("/nonexistent/fonts"),))
    monkeypatch.delenv("GRIDMGR_CJK_FONT", raising=False)
    fonts.use_cjk_font.cache_clear()
    try:
        with pytest.raises(FontNotFoundError, match="fonts-noto-cjk"):
            fonts.use_cjk_font()
    finally:
        fonts.use_cjk_font.cache_clear()


def test_missing_glyph_check_can_fail(tmp_path: Path) -> None:
    """Control: without the CJK font matplotlib does warn, so the checks below mean something."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    fig.text(0.1, 0.5, "硅谷街道", fontfamily=["DejaVu Sans"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(tmp_path / "x.png")
    assert _glyph_warnings(caught)


@pytest.mark.parametrize(("paper", "size"), [("A4", (1754, 1240)), ("A3", (2480, 1754))])
def test_zone_png_size_content_and_no_missing_glyph(
    data: ExportData, tmp_path: Path, paper: str, size: tuple[int, int]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = static_map(data, tmp_path / "zone.png", paper=paper)
    assert _glyph_warnings(caught) == []
    px = _png(m.path)
    assert (px.shape[1], px.shape[0]) == size == m.size_px
    _non_blank(px)
    # a territory colour of the legend is on the page
    terr = territories_frame(data.pieces, data.leaders)
    assert len(terr) == 4
    assert any("测试" in s or "网格长" in s for s in m.legend)
    assert m.title.startswith("长春高新技术产业开发区")


def test_scale_bar_is_true_ground_length(data: ExportData, tmp_path: Path) -> None:
    from pyproj import Geod

    m = static_map(data, tmp_path / "street.png", unit="220173001")
    (lon0, lat0), (lon1, lat1) = m.scale_bar_lonlat
    _, _, dist = Geod(ellps="WGS84").inv(lon0, lat0, lon1, lat1)
    assert m.scale_bar_m > 0
    assert abs(dist - m.scale_bar_m) / m.scale_bar_m < 1e-3
    # a nice number, about a fifth of the frame
    width = m.extent[2] - m.extent[0]
    assert 0.08 * width <= m.scale_bar_m <= 0.21 * width
    assert str(int(m.scale_bar_m))[0] in "125"


def test_leader_map_legend_area_and_route(data: ExportData, tmp_path: Path) -> None:
    from gridmgr.patrol import patrol_route

    pieces, _terr, places = leader_layers(data, "G1")
    route = patrol_route(pieces, places)
    m = static_map(data, tmp_path / "g1.png", leader="G1", route=route)
    area = float(pieces["area_m2"].sum())
    expected = f"{area / 1e4:.1f} ha"
    assert any(expected in s for s in m.legend), m.legend
    assert any("巡查路线" in s for s in m.legend)
    _non_blank(_png(m.path))
    # faded neighbours are not in the legend, so exactly one territory entry
    assert sum("ha" in s or "km²" in s for s in m.legend) == 1


def test_pdf_renders_with_pdftoppm(data: ExportData, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm missing: run scripts/system-deps.sh (poppler-utils)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = static_map(data, tmp_path / "zone.pdf")
    assert _glyph_warnings(caught) == []
    assert m.path.read_bytes()[:5] == b"%PDF-"
    subprocess.run(
        ["pdftoppm", "-r", "72", "-png", "-singlefile", str(m.path), str(tmp_path / "page")],
        check=True,
    )
    px = _png(tmp_path / "page.png")
    # A4 landscape at 72 dpi: 842 × 595 points
    assert abs(px.shape[1] - 842) <= 1 and abs(px.shape[0] - 595) <= 1
    _non_blank(px)


def test_static_map_rejects_unknown_unit_and_format(data: ExportData, tmp_path: Path) -> None:
    from gridmgr.errors import InvalidFieldError, UnitNotFoundError

    with pytest.raises(UnitNotFoundError, match="999"):
        static_map(data, tmp_path / "x.png", unit="999")
    with pytest.raises(InvalidFieldError, match="svg"):
        static_map(data, tmp_path / "x.svg")


# --------------------------------------------------------------------------------------------
# field formats
# --------------------------------------------------------------------------------------------


def _kml_placemarks(body: bytes) -> dict[str, list[Any]]:
    from fastkml import kml

    k = kml.KML.from_string(body)
    doc = k.features[0]
    return {folder.name: list(folder.features) for folder in doc.features}


def test_kml_coordinates_inside_territory(data: ExportData, tmp_path: Path) -> None:
    from shapely.geometry import shape

    out = export_leader(data, "G1", tmp_path / "g1.kml")[0]
    folders = _kml_placemarks(out.read_bytes())
    assert set(folders) == {"责任区", "重点点位", "巡查路线"}
    _pieces, terr, places = leader_layers(data, "G1")
    territory = terr.geometry.iat[0]
    poly = shape(folders["责任区"][0].geometry)
    # lon,lat order: x is the longitude
    assert 125 < poly.centroid.x < 126 and 43 < poly.centroid.y < 44
    assert abs(poly.area - territory.area) / territory.area < 1e-4  # 7 decimals ≈ 1 cm
    assert folders["责任区"][0].name == f"{FORMULA_NAMES[0]}（G1）"
    pts = [shape(pm.geometry) for pm in folders["重点点位"]]
    assert len(pts) == len(places) >= 1
    for p in pts:
        assert territory.buffer(1e-6).contains(p)
    line = shape(folders["巡查路线"][0].geometry)
    stops = shapely.points(np.asarray(line.coords))
    assert shapely.contains(territory.buffer(1e-6), stops[0])
    assert {pm.name for pm in folders["重点点位"]} == set(places["name"])


def test_kmz_has_doc_kml_at_root_and_escapes_text(data: ExportData, tmp_path: Path) -> None:
    out = export_unit(data, "220173001002", tmp_path / "c2.kmz")[0]
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["doc.kml"]
        body = zf.read("doc.kml")
    assert body.startswith(b"<?xml") and b"encoding='utf-8'" in body.lower().replace(b'"', b"'")
    assert "网格长&lt;b&gt;&amp;丁".encode() in body  # escaped in the XML text
    folders = _kml_placemarks(body)
    names = {pm.name for pm in folders["责任区"]}
    assert "网格长<b>&丁（G4）" in names  # and read back unchanged
    assert len(folders["责任区"]) == 2


def test_gpx_route_points_and_waypoints(data: ExportData, tmp_path: Path) -> None:
    import gpxpy

    from gridmgr.patrol import patrol_route

    pieces, _terr, places = leader_layers(data, "G1")
    route = patrol_route(pieces, places)
    out = export_leader(data, "G1", tmp_path / "g1.gpx", route=route)[0]
    gpx = gpxpy.parse(out.read_text(encoding="utf-8"))
    assert gpx.version == "1.1"
    assert len(gpx.routes) == 1
    pts = gpx.routes[0].points
    assert len(pts) == len(route.stops) + 2  # start, stops, back to start
    got = np.array([(p.longitude, p.latitude) for p in pts[1:-1]])
    want = np.array([(s.lon, s.lat) for s in route.stops])
    np.testing.assert_allclose(got, want, atol=1e-7)
    assert (pts[0].longitude, pts[0].latitude) == pytest.approx(route.start, abs=1e-7)
    assert sorted(w.name for w in gpx.waypoints) == sorted(places["name"])
    assert any(trk.name.startswith("责任区边界") for trk in gpx.tracks)


def test_gpx_document_without_route_has_waypoints_only(data: ExportData) -> None:
    import gpxpy

    gpx = gpxpy.parse(gpx_document(None, data.key_places).decode("utf-8"))
    assert gpx.routes == [] and len(gpx.waypoints) == len(data.key_places)
    names = [w.name for w in gpx.waypoints]
    assert "@测试医院" in names


def test_shapefile_set_reads_back(data: ExportData, tmp_path: Path) -> None:
    import pyogrio

    files = export_leader(data, "G4", tmp_path / "shp" / "g4.shp")
    names = {p.name for p in files}
    for stem in ("g4", "g4_places", "g4_route"):
        for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            assert f"{stem}{suffix}" in names
    assert (tmp_path / "shp" / "g4.cpg").read_text().strip().upper() == "UTF-8"
    terr = pyogrio.read_dataframe(tmp_path / "shp" / "g4.shp")
    assert terr.crs.to_epsg() == 4326
    assert list(terr["name"]) == ["网格长<b>&丁"]
    _, want, _ = leader_layers(data, "G4")
    assert terr["area_m2"].iat[0] == pytest.approx(want["area_m2"].iat[0], abs=0.1)
    assert (
        shapely.equals_exact(
            terr.geometry.iat[0].normalize(), want.geometry.iat[0].normalize(), tolerance=1e-7
        )
        or abs(terr.geometry.iat[0].area - want.geometry.iat[0].area) / want.geometry.iat[0].area
        < 1e-9
    )


def test_shapefile_zip_and_chinese_names(data: ExportData, tmp_path: Path) -> None:
    import pyogrio

    out = write_shapefile(
        tmp_path / "all.zip", territories_frame(data.pieces, data.leaders), data.key_places
    )
    assert out == [tmp_path / "all.zip"]
    with zipfile.ZipFile(out[0]) as zf:
        listed = set(zf.namelist())
    assert {"all.shp", "all.prj", "all.cpg", "all_places.shp", "all_places.cpg"} <= listed
    places = pyogrio.read_dataframe(f"/vsizip/{out[0]}/all_places.shp")
    assert sorted(places["name"]) == sorted(data.key_places["name"])
    assert set(places.geom_type) == {"Point"}


def test_field_text_is_escaped_not_concatenated() -> None:
    from xml.etree import ElementTree as ET

    terr = gpd.GeoDataFrame(
        {
            "leader_id": ["X"],
            "name": ["</name><script>alert(1)</script>"],
            "pieces": [1],
            "area_m2": [1.0],
        },
        geometry=[box(125.0, 43.0, 125.001, 43.001)],
        crs=4326,
    )
    body = kml_document(terr, name="a&b")
    root = ET.fromstring(body)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    assert root.find("k:Document/k:name", ns).text == "a&b"  # type: ignore[union-attr]
    names = [e.text for e in root.iterfind(".//k:Placemark/k:name", ns)]
    assert names == ["</name><script>alert(1)</script>（X）"]


# --------------------------------------------------------------------------------------------
# tables and documents
# --------------------------------------------------------------------------------------------


def test_xlsx_values_equal_coverage_report_and_text_stays_text(
    data: ExportData, tmp_path: Path
) -> None:
    import openpyxl

    out = write_xlsx(data, tmp_path / "b.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["责任人", "单元覆盖", "缺口清单"]
    rep = data.report()
    ws = wb["责任人"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
    assert ws.column_dimensions["B"].width >= 20
    header = [c.value for c in ws[1]]
    rows = {
        r[0]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)
    }
    for rec in rep.leaders.to_dict(orient="records"):
        got = rows[rec["id"]]
        assert got["地块数"] == rec["pieces"]
        assert got["面积（平方米）"] == pytest.approx(rec["area_m2"])
        assert got["负荷"] == pytest.approx(rec["load"])
        if np.isfinite(rec["load_ratio"]):
            assert got["负荷比（与社区均值）"] == pytest.approx(rec["load_ratio"])
    # key places per leader, counted independently: representative point inside the leader's pieces
    reps = shapely.point_on_surface(np.asarray(data.key_places.geometry.values))
    for lid in ("G1", "G2", "G3", "G4"):
        mine = data.pieces.loc[data.pieces["leader_id"] == lid]
        terr = shapely.union_all(np.asarray(mine.geometry.values))
        assert rows[lid]["重点点位数"] == int(shapely.intersects(terr, reps).sum())
    assert sum(rows[lid]["重点点位数"] for lid in ("G1", "G2", "G3", "G4")) == 4
    # formula-like names stored as text, unchanged
    for cell in ws["B"][1:]:
        if cell.value in FORMULA_NAMES:
            assert cell.data_type == "s"
    seen = {c.value for c in ws["B"][1:]}
    assert set(FORMULA_NAMES[:3]) <= seen
    ws_u = wb["单元覆盖"]
    header_u = [c.value for c in ws_u[1]]
    urows = {
        r[0]: dict(zip(header_u, r, strict=True))
        for r in ws_u.iter_rows(min_row=2, values_only=True)
    }
    for rec in rep.units.to_dict(orient="records"):
        assert urows[rec["code"]]["覆盖率（%）"] == pytest.approx(rec["coverage_pct"])
        assert urows[rec["code"]]["盲点地块"] == rec["blind_spot_pieces"]
    assert urows["220173001002"]["盲点地块"] == 1
    ws_g = wb["缺口清单"]
    kinds = [r[-1] for r in ws_g.iter_rows(min_row=2, values_only=True)]
    assert sorted(kinds) == sorted(f.kind for f in rep.findings)
    assert "unassigned" in kinds


def test_docx_layout_tables_and_images(data: ExportData, tmp_path: Path) -> None:
    import docx
    from docx.oxml.ns import qn
    from docx.shared import Mm

    out = write_docx(data, tmp_path / "b.docx")
    doc = docx.Document(str(out))
    sec = doc.sections[0]
    assert abs(sec.page_width - Mm(210)) < Mm(0.5) and abs(sec.page_height - Mm(297)) < Mm(0.5)
    assert abs(sec.top_margin - Mm(37)) < Mm(0.5) and abs(sec.left_margin - Mm(28)) < Mm(0.5)
    assert abs(sec.bottom_margin - Mm(35)) < Mm(0.5) and abs(sec.right_margin - Mm(26)) < Mm(0.5)
    normal = doc.styles["Normal"]
    assert normal.font.size.pt == 16
    assert normal.element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert doc.styles["Heading 1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    assert doc.paragraphs[0].style.name == "Title"
    assert "汇报" in doc.paragraphs[0].text
    # overview + one street map
    assert len(doc.inline_shapes) == 2
    pics = [par for par in doc.paragraphs if par._p.xpath(".//pic:pic")]
    assert len(pics) == 2
    for par in pics:  # exact line spacing would clip the picture to one text line
        assert par.paragraph_format.line_spacing == 1.0
    assert doc.styles["Title"].element.pPr.find(qn("w:pBdr")) is None
    assert len(doc.tables) == 2
    cov = doc.tables[0]
    assert cov.rows[0].cells[0].text == "单元"
    assert {r.cells[0].text for r in cov.rows[1:]} >= {"硅谷街道", "测试社区一", "测试社区二"}
    gaps = doc.tables[1]
    rep = data.report()
    assert [r.cells[0].text for r in gaps.rows[1:]] == [f.label_zh for f in rep.gaps]
    assert any("盲点" in r.cells[0].text for r in gaps.rows[1:])


def test_pptx_one_map_per_slide(data: ExportData, tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    out = write_pptx(data, tmp_path / "b.pptx")
    prs = Presentation(str(out))
    slides = list(prs.slides)
    assert len(slides) == 3  # title + overview + one street
    for s in slides[1:]:
        pics = [sh for sh in s.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pics) == 1
        assert s.shapes.title.text.endswith("图")


def test_briefing_pack_writes_every_file(data: ExportData, tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = briefing_pack(data, tmp_path / "pack")
    assert _glyph_warnings(caught) == []
    assert [p.name for p in paths] == [
        "overview.png",
        "overview.pdf",
        "street_220173001.png",
        "briefing.xlsx",
        "briefing.docx",
        "briefing.pptx",
    ]
    for p in paths:
        assert p.is_file() and p.stat().st_size > 1000


def test_leader_xlsx_only_that_leader(data: ExportData, tmp_path: Path) -> None:
    import openpyxl

    out = export_leader(data, "G3", tmp_path / "g3.xlsx")[0]
    ws = openpyxl.load_workbook(out)["责任人"]
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == ["G3"]


def test_unknown_leader_is_a_clear_error(data: ExportData, tmp_path: Path) -> None:
    from gridmgr.errors import LeaderNotFoundError

    with pytest.raises(LeaderNotFoundError, match="NOPE"):
        export_leader(data, "NOPE", tmp_path / "x.kml")


# --------------------------------------------------------------------------------------------
# end to end: a real store and the CLI
# --------------------------------------------------------------------------------------------


@pytest.fixture
def assigned_store(loaded_store: Any) -> Any:
    from gridmgr.assign import auto_assign

    auto_assign(loaded_store, actor="test")
    return loaded_store


def test_cli_exports_from_store(assigned_store: Any, tmp_path: Path) -> None:
    import gpxpy
    import openpyxl
    import typer
    from typer.testing import CliRunner

    from gridmgr.cli.export import register

    app = typer.Typer()
    register(app)
    url = assigned_store.url
    runner = CliRunner()
    leader_id = str(assigned_store.pieces()["leader_id"].dropna().iat[0])
    res = runner.invoke(
        app,
        [
            "export",
            "leader",
            leader_id,
            "--out",
            str(tmp_path / "l.gpx"),
            "--no-roads",
            "--database-url",
            url,
        ],
    )
    assert res.exit_code == 0, res.output
    gpx = gpxpy.parse((tmp_path / "l.gpx").read_text(encoding="utf-8"))
    assert len(gpx.routes[0].points) >= 3
    res = runner.invoke(
        app,
        [
            "export",
            "unit",
            "220173001001",
            "--format",
            "kmz",
            "--out",
            str(tmp_path / "u.kmz"),
            "--database-url",
            url,
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        [
            "export",
            "briefing",
            "--format",
            "xlsx",
            "--out",
            str(tmp_path / "b.xlsx"),
            "--no-roads",
            "--database-url",
            url,
        ],
    )
    assert res.exit_code == 0, res.output
    wb = openpyxl.load_workbook(tmp_path / "b.xlsx")
    from gridmgr.coverage import coverage_from_store

    rep = coverage_from_store(assigned_store)
    ws = wb["单元覆盖"]
    header = [c.value for c in ws[1]]
    got = {
        r[0]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)
    }
    for rec in rep.units.to_dict(orient="records"):
        assert got[rec["code"]]["覆盖率（%）"] == pytest.approx(rec["coverage_pct"])
    res = runner.invoke(
        app, ["export", "leader", "NOPE", "--out", str(tmp_path / "x.kml"), "--database-url", url]
    )
    assert res.exit_code == 1
    assert "NOPE" in res.output


@pytest.mark.slow
def test_briefing_pack_from_shipped_layers(tmp_path: Path) -> None:
    """End to end on the shipped Changchun High-tech Zone: load, auto-assign, export the pack."""
    import docx
    import openpyxl

    from gridmgr import settings
    from gridmgr.assign import auto_assign
    from gridmgr.coverage import coverage_from_store
    from gridmgr.io import read_layers
    from gridmgr.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'zone.db'}")
    try:
        store.upgrade()
        store.load_layers(read_layers(settings.DEFAULT_LAYERS), res=9, actor="test")
        store.import_leaders(settings.DEFAULT_LAYERS / "leaders_sample.csv", actor="test")
        auto_assign(store, actor="test")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            paths = briefing_pack(store, tmp_path / "pack")
        assert _glyph_warnings(caught) == []
        names = [p.name for p in paths]
        assert names == [
            "overview.png",
            "overview.pdf",
            "street_220173001.png",
            "street_220173005.png",
            "briefing.xlsx",
            "briefing.docx",
            "briefing.pptx",
        ]
        px = _png(paths[0])
        assert (px.shape[1], px.shape[0]) == (1754, 1240)
        _non_blank(px)
        rep = coverage_from_store(store)
        ws = openpyxl.load_workbook(paths[4])["单元覆盖"]
        header = [c.value for c in ws[1]]
        got = {
            r[0]: dict(zip(header, r, strict=True))
            for r in ws.iter_rows(min_row=2, values_only=True)
        }
        assert set(got) == set(rep.units["code"])
        assert got["220173"]["地块数"] == rep.units.set_index("code").loc["220173", "pieces"]
        doc = docx.Document(str(paths[5]))
        assert len(doc.inline_shapes) == 3
        assert "长春高新技术产业开发区" in doc.paragraphs[0].text
        # the briefing's two leader counts come from the data and agree with the coverage table
        active = store.leaders()
        n_active = int(active["active"].fillna(True).astype(bool).sum())
        n_terr = int(got["220173"]["网格责任人数"])
        assert 0 < n_terr < n_active
        body = "".join(par.text for par in doc.paragraphs)
        assert f"在岗责任人 {n_active} 名（其中承担属地地块的网格责任人 {n_terr} 名）" in body
    finally:
        store.close()


def test_leader_html_delegates_to_maps_and_escapes(data: ExportData, tmp_path: Path) -> None:
    out = export_leader(data, "G4", tmp_path / "g4.html", basemap="none")[0]
    text = out.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html") or "<html" in text[:500].lower()
    assert "网格长<b>&丁" not in text  # the name never appears unescaped
    assert "<title>网格长&lt;b&gt;&amp;丁" in text  # escaped in the page title


def test_package_leader_without_pieces_maps_their_packages(
    data: ExportData, tmp_path: Path
) -> None:
    m = static_map(data, tmp_path / "p1.png", leader="P1")
    # the frame covers the packaged community, whose two grid leaders appear in the legend
    assert sum(("G1" in s or "G2" in s) for s in m.legend) == 2
    assert "包保单元：测试社区一" in m.subtitle
    _non_blank(_png(m.path))


def test_briefing_pdf_has_one_page_per_map(data: ExportData, tmp_path: Path) -> None:
    from gridmgr.export import export_briefing

    out = export_briefing(data, tmp_path / "maps.pdf")[0]
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(out), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) == 2  # overview + the one street
    for page in pages:
        _non_blank(_png(page))


def test_unit_html_overview_via_maps(data: ExportData, tmp_path: Path) -> None:
    out = export_unit(data, "220173001002", tmp_path / "c2.html", basemap="none")[0]
    text = out.read_text(encoding="utf-8")
    assert "<html" in text[:2000].lower()
    assert "测试社区二" in text
    assert "网格长<b>&丁" not in text


def test_summary_lines_use_the_scoped_figures(data: ExportData) -> None:
    from gridmgr.export import summary_lines

    community = "220173001001"
    whole = data.report().summary
    scoped = data.report(community).summary
    assert 0 < scoped["pieces"] < whole["pieces"]
    line = summary_lines(data, community)[0]
    assert line.startswith("测试社区一")
    assert (
        f"划分地块 {int(scoped['pieces'])} 个" in line or f"{int(scoped['pieces'])} pieces" in line
    )


def _leader_counts(data: ExportData, codes: set[str] | None = None) -> tuple[int, int]:
    """(active leaders, active leaders holding a piece) counted straight from the frames."""
    active = set(data.leaders.loc[data.leaders["active"].astype(bool), "id"].astype(str))
    pieces = (
        data.pieces
        if codes is None
        else data.pieces[data.pieces["unit_code"].astype(str).isin(codes)]
    )
    holders = set(pieces["leader_id"].dropna().astype(str))
    return len(active), len(holders & active)


@pytest.mark.parametrize("inactive", [None, "G4"])
def test_summary_states_active_and_territorial_leader_counts(inactive: str | None) -> None:
    from dataclasses import replace

    from gridmgr.export import summary_lines
    from gridmgr.i18n import set_language

    base = _frames()
    leaders = base.leaders.copy()
    if inactive is not None:  # an inactive leader still holding pieces is not a territorial leader
        leaders.loc[leaders["id"] == inactive, "active"] = False
    data = replace(base, leaders=leaders)
    n_active, n_terr = _leader_counts(data)
    assert 0 < n_terr < n_active  # package leaders without pieces make the two counts differ
    assert n_active == int(data.report().summary["active_leaders"])
    text = "".join(summary_lines(data))
    assert f"在岗责任人 {n_active} 名（其中承担属地地块的网格责任人 {n_terr} 名）" in text
    set_language("en")
    try:
        text_en = "".join(summary_lines(data))
    finally:
        set_language(None)
    assert (
        f"{n_active} active leaders ({n_terr} of them territorial leaders holding pieces)"
        in text_en
    )


def test_map_counts_territorial_leaders_and_labels_context_units(
    data: ExportData, tmp_path: Path
) -> None:
    community = "220173001001"
    m = static_map(data, tmp_path / "c1.png", unit=community)
    _, n_terr = _leader_counts(data, {community})
    assert f"网格责任人 {n_terr} 名" in m.subtitle
    # the neighbouring community is drawn for context and labelled as not counted on this map
    assert "其他单元（不在本图范围内统计）" in m.legend
    assert not any("图幅范围外" in s for s in m.legend)
    # the summary of the whole zone and its overview map give the same territorial count
    from gridmgr.export import summary_lines

    _, n_zone = _leader_counts(data)
    zone = static_map(data, tmp_path / "zone.png")
    assert f"网格责任人 {n_zone} 名" in zone.subtitle
    assert f"网格责任人 {n_zone} 名" in "".join(summary_lines(data))
