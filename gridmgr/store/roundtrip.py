"""Assignment round trips (repository): export to CSV/GeoJSON, edit in QGIS or Excel, import back.

Every function takes a SQLAlchemy :class:`~sqlalchemy.Connection`; an import goes through
:func:`gridmgr.store.assignments.apply_changes` on that same connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from gridmgr.errors import InputError, InvalidFieldError
from gridmgr.i18n import t
from gridmgr.io import files
from gridmgr.io.readers import read_source
from gridmgr.io.text import clean_text, text_problem
from gridmgr.store import schema as s
from gridmgr.store.assignments import apply_changes, opt
from gridmgr.store.layers import ancestors, grid_codes, pieces, unit_parents
from gridmgr.store.leaders import list_leaders
from gridmgr.store.types import AssignmentsImportReport

EXPORT_COLUMNS = [
    "cell",
    "unit_code",
    "leader_id",
    "grid_code",
    "fallback",
    "version",
    "piece_id",
    "area_m2",
]
#: XLSX headers: Chinese first with the column id after it (the import reads either).
XLSX_HEADERS = {
    "cell": "网格单元",
    "unit_name": "单元名称",
    "unit_code": "单元代码",
    "leader_name": "责任人",
    "leader_id": "责任人编号",
    "grid_code": "网格编码",
    "fallback": "属地兜底",
    "version": "版本",
    "piece_id": "地块编号",
    "area_m2": "面积（平方米）",
}
MAX_PROBLEMS = 20
TRUE = {"1", "true", "yes", "y", "是"}
FALSE = {"", "0", "false", "no", "n", "否"}


def _grid_codes_for(conn: Connection, frame: pd.DataFrame) -> list[str | None]:
    """Grid code of each piece's territory: the leader's territory in the piece's unit or an
    ancestor of it."""
    codes = grid_codes(conn)
    if codes.empty or frame.empty:
        return [None] * len(frame)
    parents = unit_parents(conn)
    table = {(r.leader_id, r.unit_code): r.grid_code for r in codes.itertuples(index=False)}
    cache: dict[tuple[Any, str], str | None] = {}
    out: list[str | None] = []
    for leader, unit in zip(frame["leader_id"], frame["unit_code"], strict=True):
        key = (leader, unit)
        if key not in cache:
            cache[key] = None
            if leader is not None:
                for anc in ancestors(parents, unit):
                    if (leader, anc) in table:
                        cache[key] = table[(leader, anc)]
                        break
        out.append(cache[key])
    return out


def export_assignments(conn: Connection, out: str | Path, *, scope: str | None = None) -> Path:
    """Write the assignment table to ``.csv``, ``.xlsx`` or ``.geojson`` for editing in
    Excel/WPS or QGIS.

    Columns ``cell``, ``unit_code``, ``leader_id``, ``grid_code``, ``fallback``, ``version``,
    ``piece_id``, ``area_m2`` (+ geometry in GeoJSON); the XLSX adds the unit's and the leader's
    names beside their codes, under Chinese headers (:data:`XLSX_HEADERS`).
    """
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".geojson", ".json", ".xlsx"}:
        raise InputError(
            t(
                f"{path}：文件名请使用 .csv、.xlsx 或 .geojson 扩展名",
                f"{path}: use a .csv, .xlsx or .geojson file name",
            )
        )
    if suffix == ".xlsx":
        return _export_xlsx(conn, path, scope)
    geo = suffix != ".csv"
    table = pieces(conn, scope, geometry=geo).rename(columns={"id": "piece_id"})
    table["grid_code"] = _grid_codes_for(conn, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    if geo:
        frame = table[[*EXPORT_COLUMNS, "geometry"]]
        if path.exists():
            path.unlink()
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    else:
        table[EXPORT_COLUMNS].to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _export_xlsx(conn: Connection, path: Path, scope: str | None) -> Path:
    """The assignment table as a workbook people can read: names beside codes, Chinese headers."""
    table = pieces(conn, scope, geometry=False).rename(columns={"id": "piece_id"})
    table["grid_code"] = _grid_codes_for(conn, table)
    units = s.units
    unit_names = dict(conn.execute(select(units.c.code, units.c.name)).all())
    leaders = list_leaders(conn)
    leader_names = dict(zip(leaders["id"].astype(str), leaders["name"].astype(str), strict=True))
    table["unit_name"] = table["unit_code"].map(unit_names)
    table["leader_name"] = table["leader_id"].map(leader_names)
    frame = table[list(XLSX_HEADERS)].rename(
        columns={k: f"{v} {k}" for k, v in XLSX_HEADERS.items()}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        frame.to_excel(xw, index=False, sheet_name="网格分配")
        sheet = xw.sheets["网格分配"]
        sheet.freeze_panes = "A2"
        for col, width in zip("ABCDEFGHIJ", (18, 20, 14, 14, 12, 18, 10, 8, 10, 14), strict=True):
            sheet.column_dimensions[col].width = width
    return path


def _canonical_header(name: str) -> str:
    """``"责任人编号 leader_id"``, ``"leader_id"`` or ``"责任人编号"`` → ``"leader_id"``."""
    text = str(name).strip()
    last = text.split()[-1].lower() if text.split() else ""
    if last in XLSX_HEADERS:
        return last
    by_label = {v: k for k, v in XLSX_HEADERS.items()}
    return by_label.get(text, text.lower())


def _xlsx_table(path: Path) -> pd.DataFrame:
    """The first sheet of an assignment workbook (file policy checked), every cell a string."""
    from gridmgr.store.leaders_file import _xlsx_rows

    files.check_file(path)
    rows = [r for r in _xlsx_rows(path) if any(c.strip() for c in r)]
    if not rows:
        raise InputError(t(f"{path}：工作簿为空", f"{path}: the workbook is empty"))
    header, width = rows[0], len(rows[0])
    return pd.DataFrame(
        [(r + [""] * width)[:width] for r in rows[1:]], columns=header, dtype=object
    )


def _csv_rows(path: Path, encoding: str | None) -> pd.DataFrame:
    """A CSV under the file policy, every cell a string."""
    import csv
    import io

    text = files.read_text(path, encoding)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(
            t(f"{path}：不是有效的 CSV（{exc}）", f"{path}: not a valid CSV file ({exc})")
        ) from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError(t(f"{path}：文件为空", f"{path}: the file is empty"))
    header, body = rows[0], rows[1:]
    width = len(header)
    return pd.DataFrame([(r + [""] * width)[:width] for r in body], columns=header, dtype=object)


def _geojson_rows(path: Path, encoding: str | None) -> pd.DataFrame:
    """The feature properties of a GeoJSON under the file policy, every cell a string."""
    src = read_source(path, layer=None, prefer="", encoding=encoding)
    df = src.props.astype(object)
    return df.where(df.notna(), "").astype(str)


def _read_rows(path: Path, encoding: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Rows as strings and a label per row (``row N`` for CSV lines, ``feature N`` for GeoJSON)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df = _csv_rows(path, encoding)
        labels = [t(f"第 {i + 2} 行", f"row {i + 2}") for i in range(len(df))]
    elif suffix in {".geojson", ".json"}:
        df = _geojson_rows(path, encoding)
        labels = [t(f"第 {i + 1} 个要素", f"feature {i + 1}") for i in range(len(df))]
    elif suffix == ".xlsx":
        df = _xlsx_table(path)
        labels = [t(f"第 {i + 2} 行", f"row {i + 2}") for i in range(len(df))]
    else:
        raise InputError(
            t(
                f"{path}：请使用 .csv、.xlsx 或 .geojson 文件",
                f"{path}: use a .csv, .xlsx or .geojson file",
            )
        )
    df.columns = [_canonical_header(c) for c in df.columns]
    for col in ("cell", "leader_id"):
        if col not in df.columns:
            msg = t(
                f"{path}：缺少列 {col!r}，请用 `gridmgr assign export` 导出模板后填写",
                f"{path}: missing column {col!r}; export a template with `gridmgr assign export`",
            )
            raise InvalidFieldError(msg)
    return df, labels


@dataclass(frozen=True)
class _Lookup:
    """What an imported row is checked against: pieces, leaders and their unit packages."""

    pieces: pd.DataFrame
    by_cell: dict[str, list[int]]
    active: dict[str, bool]
    parents: dict[str, str | None]
    unit_packs: dict[str, set[str]]


def _lookup(conn: Connection) -> _Lookup:
    """Read the pieces, leaders, unit tree and unit packages once."""
    frame = pieces(conn, geometry=False)
    leaders = list_leaders(conn)
    by_cell: dict[str, list[int]] = {}
    for pos, cell in enumerate(frame["cell"]):
        by_cell.setdefault(cell, []).append(pos)
    pk = s.packages
    unit_packs: dict[str, set[str]] = {}
    for lid, target in conn.execute(select(pk.c.leader_id, pk.c.target).where(pk.c.kind == "unit")):
        unit_packs.setdefault(lid, set()).add(target)
    active = dict(zip(leaders["id"], leaders["active"], strict=True))
    return _Lookup(frame, by_cell, active, unit_parents(conn), unit_packs)


#: ``(column, what is wrong)``, or ``None`` when a value is fine.
_Problem = tuple[str, str] | None


def _find_piece(cell: str, unit: str, lk: _Lookup) -> tuple[int | None, _Problem]:
    """Position (in ``lk.pieces``) of the piece a row names by cell (and unit_code)."""
    cands = lk.by_cell.get(cell, [])
    if not cell:
        return None, ("cell", t("为空", "empty"))
    if not cands:
        what = t(
            f"网格单元 {cell} 不在库中（分辨率不对或属于其他区域？）",
            f"cell {cell} is not in the store (wrong resolution or another area?)",
        )
        return None, ("cell", what)
    units = lk.pieces["unit_code"]
    if unit:
        cands = [c for c in cands if units.iat[c] == unit]
        if not cands:
            what = t(
                f"网格单元 {cell} 在单位 {unit} 中没有地块",
                f"cell {cell} has no piece in unit {unit}",
            )
            return None, ("unit_code", what)
    elif len(cands) > 1:
        listed = ", ".join(str(units.iat[c]) for c in cands)
        what = t(
            f"网格单元 {cell} 分属多个单位 {listed}，请填写 unit_code",
            f"cell {cell} is split between units {listed}; give unit_code",
        )
        return None, ("unit_code", what)
    return cands[0], None


def _check_leader(lid: str | None, unit: str, lk: _Lookup) -> _Problem:
    """The new leader, when given, exists, is active and works in the piece's unit."""
    if lid is None:
        return None
    if lid not in lk.active:
        return "leader_id", t(f"未知的领导 {lid!r}", f"unknown leader {lid!r}")
    if not lk.active[lid]:
        what = t(f"领导 {lid!r} 已停用（不在岗）", f"leader {lid!r} is inactive (deactivated)")
        return "leader_id", what
    if not set(ancestors(lk.parents, unit)) & lk.unit_packs.get(lid, set()):
        what = t(
            f"领导 {lid!r} 不在单位 {unit} 包保（属于其他社区）",
            f"leader {lid!r} does not work in unit {unit} (another community)",
        )
        return "leader_id", what
    return None


def _parse_fallback(rec: dict[str, Any], lid: str | None) -> tuple[bool, _Problem]:
    """The ``fallback`` flag (needs a leader)."""
    fb_raw = str(rec.get("fallback", "")).strip().lower()
    if fb_raw in TRUE:
        fallback = True
    elif fb_raw in FALSE:
        fallback = False
    else:
        fb_val = rec.get("fallback")
        return False, (
            "fallback",
            t(f"{fb_val!r} 不是 true/false", f"{fb_val!r} is not true/false"),
        )
    if fallback and lid is None:
        return True, ("fallback", t("fallback 需要填写 leader_id", "fallback needs a leader_id"))
    return fallback, None


def _parse_version(rec: dict[str, Any]) -> tuple[int | None, _Problem]:
    """The optional ``version``: a whole number >= 0."""
    ver_raw = str(rec.get("version", "")).strip()
    if not ver_raw:
        return None, None
    try:
        version = int(float(ver_raw))
        if version < 0 or float(ver_raw) != version:
            raise ValueError
    except ValueError:
        what = t(f"{ver_raw!r} 不是大于等于 0 的整数", f"{ver_raw!r} is not a whole number >= 0")
        return None, ("version", what)
    return version, None


def _row_change(
    rec: dict[str, Any], label: str, has_unit: bool, lk: _Lookup, seen: dict[int, str]
) -> tuple[dict[str, Any] | None, _Problem]:
    """One row as a change (with its piece's position ``_pos``), or the first problem found."""
    cell = str(rec.get("cell", "")).strip()
    unit = str(rec.get("unit_code", "")).strip() if has_unit else ""
    pos, problem = _find_piece(cell, unit, lk)
    if pos is None:
        return None, problem
    pid = int(lk.pieces["id"].iat[pos])
    punit = str(lk.pieces["unit_code"].iat[pos])
    if pid in seen:
        what = t(
            f"地块 {cell}（单位 {punit}）已在{seen[pid]}给出",
            f"piece {cell} (unit {punit}) already given at {seen[pid]}",
        )
        return None, ("cell", what)
    seen[pid] = label
    lid = str(rec.get("leader_id", "")).strip() or None
    if (problem := _check_leader(lid, punit, lk)) is not None:
        return None, problem
    fallback, problem = _parse_fallback(rec, lid)
    if problem is not None:
        return None, problem
    version, problem = _parse_version(rec)
    if problem is not None:
        return None, problem
    change = {"piece_id": pid, "leader_id": lid, "fallback": fallback}
    return {**change, "expected_version": version, "_pos": pos}, None


def _check_cells(path: Path, df: pd.DataFrame, labels: list[str]) -> None:
    """Every cell passes the text validator (no control characters, no overlong values)."""
    problems: list[str] = []
    for i, rec in enumerate(df.to_dict("records")):
        for col, value in rec.items():
            if isinstance(value, str) and (bad := text_problem(value)) is not None:
                problems.append(
                    t(f"{labels[i]}，{col} 列：{bad}", f"{labels[i]}, column {col}: {bad}")
                )
    _raise_problems(path, problems)


def _raise_problems(path: Path, problems: list[str]) -> None:
    """One :class:`InvalidFieldError` listing (up to 20 of) the problems, if there are any."""
    if not problems:
        return
    shown = "; ".join(problems[:MAX_PROBLEMS])
    extra = len(problems) - MAX_PROBLEMS
    more = t(f"；……另有 {extra} 处", f"; … and {extra} more") if extra > 0 else ""
    raise InvalidFieldError(
        t(
            f"{path}：发现 {len(problems)} 处问题，未导入任何数据：{shown}{more}",
            f"{path}: {len(problems)} problem(s), nothing imported: {shown}{more}",
        )
    )


def _unchanged(todo: pd.DataFrame, lk: _Lookup) -> np.ndarray:
    """Mask of the rows that leave their piece's owner and fallback as they are."""
    pos = todo["_pos"].to_numpy(dtype=np.int64)
    cur_leader = lk.pieces["leader_id"].to_numpy(dtype=object)[pos]
    cur_fb = lk.pieces["fallback"].to_numpy(dtype=bool)[pos]
    same: np.ndarray = np.array(
        [opt(a) == opt(b) for a, b in zip(todo["leader_id"], cur_leader, strict=True)],
        dtype=bool,
    ) & (todo["fallback"].to_numpy(dtype=bool) == cur_fb)
    return same


def import_assignments(
    conn: Connection, path: str | Path, *, actor: str, reason: str, encoding: str | None = None
) -> AssignmentsImportReport:
    """Load an edited export back, with the checks of every other edit; all-or-nothing.

    Checked per row before anything is written: the cell (and ``unit_code`` when the cell is
    split) is in the store, each piece appears once, the leader exists, is active and works in
    the piece's unit, ``version`` is an integer and ``fallback`` a boolean. Rows whose owner is
    already the current one are skipped; the others go through
    :func:`~gridmgr.store.assignments.apply_changes` with their ``version`` as the expected
    version, so a piece someone changed since the export is refused.
    """
    p = Path(path)
    actor = clean_text(actor, t("操作人", "actor"))
    reason = clean_text(reason, t("原因", "reason"), single_line=False)
    df, labels = _read_rows(p, encoding)
    _check_cells(p, df, labels)
    lk = _lookup(conn)
    has_unit = "unit_code" in df.columns
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[int, str] = {}
    for i, rec in enumerate(df.to_dict("records")):
        row, problem = _row_change(rec, labels[i], has_unit, lk, seen)
        if problem is not None:
            col, what = problem
            problems.append(
                t(f"{labels[i]}，{col} 列：{what}", f"{labels[i]}, column {col}: {what}")
            )
        elif row is not None:
            rows.append(row)
    _raise_problems(p, problems)
    todo = pd.DataFrame(
        rows, columns=["piece_id", "leader_id", "fallback", "expected_version", "_pos"]
    )
    same = _unchanged(todo, lk)
    changes = todo[~same].drop(columns=["_pos"])
    result = apply_changes(conn, changes, actor=actor, reason=reason, kind="import")
    return AssignmentsImportReport(
        str(p), len(todo), result.changed, int(same.sum()) + result.unchanged, result.changeset_id
    )
