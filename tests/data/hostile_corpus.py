"""Generated bad-input corpus (issue 16): hostile files, encodings, control characters, flags.

:func:`build` writes every case into a directory (a test's temporary one: nothing binary is
committed) and returns :class:`Case` entries: the CLI command to run, the path to give it, and
the Chinese fragments its error must contain besides the file name. Kinds of case:

- ``load``: a layers directory for ``gridmgr load --layers`` (and ``POST /api/admin/layers``
  with ``GRIDMGR_LAYERS`` pointing at it);
- ``leaders``: a file for ``gridmgr leaders import`` (and ``POST /api/admin/leaders`` when it
  is a regular file);
- ``assign``: a file for ``gridmgr assign import``.

The layers match the tiny store of ``tests/conftest.py`` (district 220173, street 220173001,
communities 220173001001/002; key places KP001, KP002, KP900; leaders P01, G01_1 …), so a case
fails on exactly the problem it was made for.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

X0, Y0 = 125.20, 43.80
#: Control and formatting characters no name may hold, with a label for the case id.
CONTROLS = {
    "nul": "\x00",
    "soh": "\x01",
    "bel": "\x07",
    "esc": "\x1b",
    "del": "\x7f",
    "nel": "\x85",
    "csi": "\x9b",
    "cr": "\r",
    "lf": "\n",
    "tab": "\t",
    "rlo": "\u202e",
    "lri": "\u2066",
    "lsep": "\u2028",
}
DEPTH = 100_000


@dataclass
class Case:
    """One generated bad input."""

    name: str
    command: str  # load | leaders | assign
    target: str  # path relative to the corpus directory
    file: str  # the file name the error must name
    zh: list[str] = field(default_factory=list)  # Chinese fragments the error must contain
    api: bool = True  # also through the API (regular files only)


def _box(x0: float, y0: float, x1: float, y1: float) -> list[list[list[float]]]:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def units_fc(name_of: dict[str, str] | None = None, **props: Any) -> dict[str, Any]:
    """A valid units layer: district, street, two communities (names overridable by code)."""
    d = 0.006
    rows = [
        ("220173", "长春高新技术产业开发区", None, _box(X0, Y0, X0 + 2 * d, Y0 + d)),
        ("220173001", "硅谷街道", "220173", _box(X0, Y0, X0 + 2 * d, Y0 + d)),
        ("220173001001", "样例社区01", "220173001", _box(X0, Y0, X0 + d, Y0 + d)),
        ("220173001002", "样例社区02", "220173001", _box(X0 + d, Y0, X0 + 2 * d, Y0 + d)),
    ]
    names = name_of or {}
    feats = [
        {
            "type": "Feature",
            "properties": {"code": c, "name": names.get(c, n), "parent": p, **props},
            "geometry": {"type": "Polygon", "coordinates": g},
        }
        for c, n, p, g in rows
    ]
    return {"type": "FeatureCollection", "features": feats}


def places_fc(**override: Any) -> dict[str, Any]:
    """Valid key places: KP001 (school), KP002 (school), KP900 (farmers market)."""
    rows = [("KP001", "样例学校01", "school"), ("KP002", "样例学校02", "school")]
    rows.append(("KP900", "样例农贸市场", "farmers_market"))
    feats = []
    for i, (code, name, cat) in enumerate(rows):
        props = {"code": code, "name": name, "category": cat, "address": "硅谷大街1号"}
        props.update(override.get(code, {}))
        point = [X0 + 0.002 + 0.004 * i, Y0 + 0.003]
        feats.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Point", "coordinates": point},
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def departments_doc(**cat_override: Any) -> dict[str, Any]:
    cats = [
        {"category": "school", "name": "学校", "department": "JYJ"},
        {"category": "farmers_market", "name": "农贸市场", "department": "SCJ"},
    ]
    cats[0].update(cat_override)
    return {
        "departments": [
            {"code": "JYJ", "name": "教育局"},
            {"code": "SCJ", "name": "市场监管局"},
        ],
        "categories": cats,
    }


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


class _Builder:
    """Writes the cases into ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cases: list[Case] = []

    # --- layers directories -------------------------------------------------------------------

    def layers(
        self,
        name: str,
        bad_file: str,
        data: bytes | None,
        zh: list[str],
        *,
        good: tuple[str, ...] = (),
        api: bool = True,
    ) -> Path:
        """A layers directory ``name`` holding ``bad_file`` (bytes ``data`` unless None: the
        caller makes it) and the good files listed in ``good``."""
        d = self.root / name
        d.mkdir(parents=True)
        goods = {
            "units": ("units.geojson", units_fc()),
            "key_places": ("key_places.geojson", places_fc()),
            "departments": ("departments.json", departments_doc()),
        }
        for g in good:
            fname, obj = goods[g]
            (d / fname).write_bytes(_dump(obj))
        if data is not None:
            (d / bad_file).write_bytes(data)
        self.cases.append(Case(name, "load", name, bad_file, zh, api))
        return d

    def file(self, name: str, command: str, fname: str, data: bytes | None, zh: list[str]) -> Path:
        """A single file for ``leaders import`` / ``assign import`` in its own folder."""
        d = self.root / name
        d.mkdir(parents=True)
        p = d / fname
        if data is not None:
            p.write_bytes(data)
        self.cases.append(Case(name, command, f"{name}/{fname}", fname, zh, data is not None))
        return p


# --- leaders and assignment files ------------------------------------------------------------

LEADERS_HEADER = ["id", "name", "role", "department", "phone", "capacity", "unit_packages"]


def leaders_csv(rows: list[list[str]], header: list[str] | None = None) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow(header or LEADERS_HEADER)
    w.writerows(rows)
    return out.getvalue()


def leader_row(**kw: str) -> list[str]:
    base = {
        "id": "N01",
        "name": "网格长N01",
        "role": "grid_leader",
        "department": "",
        "phone": "",
        "capacity": "1",
        "unit_packages": "220173001001",
    }
    base.update(kw)
    return [base[c] for c in LEADERS_HEADER]


def assign_csv(rows: list[list[str]], header: tuple[str, ...] = ("cell", "leader_id")) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


# --- the hostile parts -----------------------------------------------------------------------


def _special(b: _Builder, slot: str, fname: str, command: str) -> None:
    """FIFO, directory, device, symlink loop, sparse huge file named like an input."""
    zh_by = {
        "fifo": ["命名管道"],
        "dir": ["目录"],
        "device": ["设备文件"],
        "loop": ["无法访问"],
        "huge": ["文件过大"],
    }
    for kind, zh in zh_by.items():
        name = f"{slot}_{kind}"
        if command == "load":
            good = {"units": (), "key_places": ("units", "departments")}.get(slot, ("units",))
            d = b.layers(name, fname, None, zh, good=good, api=True)
            p = d / fname
        else:
            p = b.file(name, command, fname, None, zh)
            b.cases[-1].api = False
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "dir":
            p.mkdir()
        elif kind == "device":
            p.symlink_to("/dev/zero")
        elif kind == "loop":
            p.symlink_to(p.name)
        else:
            with open(p, "wb") as fh:
                fh.truncate(600 * 1024 * 1024)  # sparse: no disk used


def _json_hostile(b: _Builder, slot: str, fname: str, command: str) -> None:
    """Deep nesting, UTF-16/32 damage, garbage, truncation, wrong top-level values."""
    good = {"units": (), "key_places": ("units", "departments"), "departments": ("units",)}
    texts: dict[str, tuple[bytes, list[str]]] = {
        "deep_array": (b"[" * DEPTH + b"]" * DEPTH, ["嵌套过深"]),
        "deep_object": (b'{"a":' * DEPTH + b"1" + b"}" * DEPTH, ["嵌套过深"]),
        "deep_in_geometry": (
            b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
            b'"geometry":{"type":"Polygon","coordinates":' + b"[" * 5000 + b"]" * 5000 + b"}}]}",
            ["嵌套过深"],
        ),
        "utf16_truncated": (codecs.BOM_UTF16_LE + "{}".encode("utf-16-le") + b"\x00", ["utf-16"]),
        "utf32_garbage": (codecs.BOM_UTF32_LE + b"\xff\xff\xff\xff", ["utf-32"]),
        "binary": (bytes(range(256)) * 8, ["编码"]),
        "empty": (b"", ["JSON"]),
        "truncated": (_dump(units_fc())[:-40], ["不是有效的 JSON"]),
        "array_top": (b"[1, 2, 3]", [""]),
        "null_top": (b"null", [""]),
        "nan_only": (b"NaN", [""]),
        "latin1": ('{"name": "Café Zoë"}'.encode("latin-1"), ["--encoding"]),
    }
    for label, (data, zh) in texts.items():
        name = f"{slot}_{label}"
        if command == "load":
            b.layers(name, fname, data, zh, good=good[slot])
        else:
            b.file(name, command, fname, data, zh)


def _zips(b: _Builder) -> None:
    """Zip bombs and broken archives where a layer or a workbook is expected."""
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("units.shp", b"\x00" * (20 * 1024 * 1024))
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w", zipfile.ZIP_STORED) as zf:
        for i in range(10_050):
            zf.writestr(f"f{i}.txt", b"")
    broken = bomb.getvalue()[:200]
    for label, data, zh in (
        ("bomb", bomb.getvalue(), ["zip 炸弹"]),
        ("many_members", many.getvalue(), ["文件过多"]),
        ("broken", broken, ["zip"]),
    ):
        b.layers(f"units_gpkg_zip_{label}", "units.gpkg", data, zh)
        b.file(f"leaders_xlsx_zip_{label}", "leaders", "leaders.xlsx", data, zh)
    b.file("leaders_xlsx_not_zip", "leaders", "leaders.xlsx", b"id,name\n", ["zip"])


def _encodings(b: _Builder) -> None:
    """Text without a declared encoding that cannot be told apart, or is no Chinese at all."""
    # Only a two-character personal name, no unit words: GB18030 and Big5 both read as Chinese.
    ambiguous = units_fc(
        {c: "李娜" for c in ("220173", "220173001", "220173001001", "220173001002")}
    )
    text = json.dumps(ambiguous, ensure_ascii=False)
    b.layers("units_gb_ambiguous", "units.geojson", text.encode("gb18030"), ["--encoding"])
    codes = ("220173", "220173001", "220173001001", "220173001002")
    sjis = json.dumps(units_fc({c: "テストデータ" for c in codes}), ensure_ascii=False)
    b.layers("units_shift_jis", "units.geojson", sjis.encode("shift_jis"), ["--encoding"])
    data = leaders_csv([leader_row(id="N01", name="李娜"), leader_row(id="N02", name="李娜")])
    b.file("leaders_gb_ambiguous", "leaders", "leaders.csv", data.encode("gb18030"), ["--encoding"])
    b.file(
        "leaders_shift_jis",
        "leaders",
        "leaders.csv",
        leaders_csv([leader_row(name="テストデータ", unit_packages="1")]).encode("shift_jis"),
        ["--encoding"],
    )
    b.file(
        "assign_csv_latin1",
        "assign",
        "assign.csv",
        assign_csv([["Café", "G01_1"]]).encode("latin-1"),
        ["--encoding"],
    )


def _controls(b: _Builder) -> None:
    """Every control character in every name and free-text slot."""
    for label, ch in CONTROLS.items():
        bad = f"样例{ch}社区"
        zh = ["控制字符"]
        b.layers(
            f"units_name_{label}",
            "units.geojson",
            _dump(units_fc({"220173001002": bad})),
            zh,
        )
        b.layers(
            f"place_name_{label}",
            "key_places.geojson",
            _dump(places_fc(KP002={"name": bad})),
            zh,
            good=("units", "departments"),
        )
        b.layers(
            f"place_address_{label}",
            "key_places.geojson",
            _dump(places_fc(KP900={"address": f"硅谷大街{ch}1号"})),
            zh,
            good=("units", "departments"),
        )
        b.layers(
            f"category_name_{label}",
            "departments.json",
            _dump(departments_doc(name=f"学{ch}校")),
            zh,
            good=("units", "key_places"),
        )
        b.file(
            f"leaders_name_{label}",
            "leaders",
            "leaders.csv",
            leaders_csv([leader_row(name=f"网格长{ch}N01")]).encode("utf-8"),
            zh,
        )
        b.file(
            f"assign_leader_{label}",
            "assign",
            "assign.csv",
            assign_csv([["8a2a1072b59ffff", f"G01{ch}_1"]]).encode("utf-8"),
            zh,
        )
    long = "长" * 201
    b.layers("units_name_too_long", "units.geojson", _dump(units_fc({"220173": long})), ["过长"])
    b.file(
        "leaders_name_too_long",
        "leaders",
        "leaders.csv",
        leaders_csv([leader_row(name=long)]).encode(),
        ["过长"],
    )


def _flags(b: _Builder) -> None:
    """Yes/no fields with values that are neither (never stored as false)."""
    for label, value in (("maybe", "maybe"), ("two", 2), ("word", "也许"), ("list", [True])):
        b.layers(
            f"requires_leader_{label}",
            "departments.json",
            _dump(departments_doc(requires_package_leader=value)),
            ["requires_package_leader", "不是是/否值"],
            good=("units", "key_places"),
        )
    b.layers(
        "units_sample_maybe",
        "units.geojson",
        _dump(units_fc(sample="maybe")),
        ["sample", "不是是/否值"],
    )
    b.layers(
        "place_sample_maybe",
        "key_places.geojson",
        _dump(places_fc(KP001={"sample": "maybe"})),
        ["sample", "不是是/否值"],
        good=("units", "departments"),
    )


def _leaders_rows(b: _Builder) -> None:
    """Leaders files with wrong rows or structure (each refused whole)."""
    cases: dict[str, tuple[str, list[str]]] = {
        "empty": ("", ["文件为空"]),
        "header_only": (leaders_csv([]), ["没有领导数据行"]),
        "no_role_column": ("id,name\nN01,网格长N01\n", ["缺少列"]),
        "bad_role": (leaders_csv([leader_row(role="boss")]), ["未知角色"]),
        "bad_phone": (leaders_csv([leader_row(phone="12345")]), ["电话格式有误"]),
        "capacity_negative": (leaders_csv([leader_row(capacity="-1")]), ["不是大于 0 的数"]),
        "capacity_nan": (leaders_csv([leader_row(capacity="nan")]), ["不是大于 0 的数"]),
        "capacity_inf": (leaders_csv([leader_row(capacity="inf")]), ["不是大于 0 的数"]),
        "capacity_word": (leaders_csv([leader_row(capacity="很多")]), ["不是大于 0 的数"]),
        "duplicate_id": (
            leaders_csv([leader_row(), leader_row(name="网格长N01b")]),
            ["重复"],
        ),
        "unknown_unit": (leaders_csv([leader_row(unit_packages="999")]), ["未知单位"]),
        "unknown_department": (leaders_csv([leader_row(department="XXX")]), ["未知部门"]),
        "empty_id": (leaders_csv([leader_row(id="")]), ["为空"]),
        "empty_name": (leaders_csv([leader_row(name="")]), ["为空"]),
        "huge_cell": (leaders_csv([leader_row(name="长" * 200_000)]), ["CSV"]),
        "active_maybe": (
            leaders_csv([[*leader_row(), "maybe"]], [*LEADERS_HEADER, "active"]),
            ["不是 true/false"],
        ),
        "unknown_place": (
            leaders_csv([[*leader_row(), "KP404"]], [*LEADERS_HEADER, "place_packages"]),
            ["未知重点场所"],
        ),
    }
    for label, (text, zh) in cases.items():
        b.file(f"leaders_rows_{label}", "leaders", "leaders.csv", text.encode("utf-8"), zh)
    b.file("leaders_wrong_suffix", "leaders", "leaders.json", b"{}", ["不支持的文件类型"])
    bom16 = codecs.BOM_UTF16_LE + leaders_csv([leader_row(role="boss")]).encode("utf-16-le")
    b.file("leaders_utf16_bad_role", "leaders", "leaders.csv", bom16, ["未知角色"])


def _assign_rows(b: _Builder) -> None:
    """Assignment imports with broken structure or values."""
    cases: dict[str, tuple[str, bytes, list[str]]] = {
        "invalid_json": (
            "assign.geojson",
            b'{"type": "FeatureCollection", "features": [',
            ["不是有效的 JSON"],
        ),
        "not_geojson": ("assign.geojson", b'{"type": "Topology"}', ["GeoJSON"]),
        "no_leader_column": ("assign.csv", b"cell\n8a2a1072b59ffff\n", ["缺少列"]),
        "unknown_cell": (
            "assign.csv",
            assign_csv([["8a2a1072b59ffff", "G01_1"]]).encode(),
            ["不在库中"],
        ),
        "empty": ("assign.csv", b"", ["文件为空"]),
        "wrong_suffix": ("assign.txt", b"cell,leader_id\n", [".csv"]),
        "deep_json": ("assign.geojson", b"[" * DEPTH + b"]" * DEPTH, ["嵌套过深"]),
        "utf16_garbage": ("assign.csv", codecs.BOM_UTF16_LE + b"\x00\xd8", ["utf-16"]),
        "huge_cell": ("assign.csv", assign_csv([["x" * 200_000, "G01_1"]]).encode(), ["CSV"]),
    }
    for label, (fname, data, zh) in cases.items():
        b.file(f"assign_rows_{label}", "assign", fname, data, zh)
    feats = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"cell": "x", "leader_id": f"G01{ch}"},
                "geometry": None,
            }
            for ch in ("\x00",)
        ],
    }
    b.file("assign_geojson_nul", "assign", "assign.geojson", _dump(feats), ["控制字符"])


def _coordinates(b: _Builder) -> None:
    """One bad vertex among valid ones: the error quotes that vertex."""
    for label, vertex in (("lat_99", [125.21, 99.5]), ("lon_200", [200.25, 43.81])):
        fc = units_fc()
        ring = fc["features"][2]["geometry"]["coordinates"][0]
        ring.insert(2, vertex)
        b.layers(
            f"units_vertex_{label}",
            "units.geojson",
            _dump(fc),
            [f"x={vertex[0]:.6g}", f"y={vertex[1]:.6g}"],
        )


def build(root: Path) -> list[Case]:
    """Write every generated case under ``root``; return the cases."""
    root.mkdir(parents=True, exist_ok=True)
    b = _Builder(root)
    _special(b, "units", "units.geojson", "load")
    _special(b, "key_places", "key_places.geojson", "load")
    _special(b, "departments", "departments.json", "load")
    _special(b, "leaders", "leaders.csv", "leaders")
    _special(b, "assign", "assign.csv", "assign")
    _json_hostile(b, "units", "units.geojson", "load")
    _json_hostile(b, "key_places", "key_places.geojson", "load")
    _json_hostile(b, "departments", "departments.json", "load")
    _json_hostile(b, "assign", "assign.geojson", "assign")
    _zips(b)
    _encodings(b)
    _controls(b)
    _flags(b)
    _leaders_rows(b)
    _assign_rows(b)
    _coordinates(b)
    return b.cases


__all__ = ["CONTROLS", "Case", "build", "departments_doc", "places_fc", "units_fc"]
