"""Leaders files (CSV or XLSX): read them and validate every row (no database access).

Format (``docs/architecture.md``): columns ``id,name,role,department,phone,capacity,
unit_packages,place_packages`` (optional ``active``); list columns separated by ``;`` (also ``；``
or ``,`` inside quotes). Roles ``grid_leader`` / ``package_leader`` (Chinese 网格长, 网格员,
包保领导 accepted). Phone: mainland mobile ``1[3-9]\\d{9}`` or landline ``0\\d{2,3}-?\\d{7,8}``.

Every row is checked before anything is written, and all problems (up to 20 shown) are reported
in one message naming row and column, so a file is fixed in one pass. The import itself is
:func:`gridmgr.store.leaders.import_leaders`.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridmgr.errors import InputError, InvalidFieldError
from gridmgr.i18n import t
from gridmgr.io import files
from gridmgr.io.text import text_problem

COLUMNS = (
    "id",
    "name",
    "role",
    "department",
    "phone",
    "capacity",
    "unit_packages",
    "place_packages",
)
REQUIRED = ("id", "name", "role")
#: Header aliases (Chinese spreadsheets) → canonical column.
HEADER_ALIASES = {
    "编号": "id",
    "工号": "id",
    "领导编号": "id",
    "姓名": "name",
    "名称": "name",
    "职务": "name",
    "角色": "role",
    "类型": "role",
    "部门": "department",
    "单位": "department",
    "电话": "phone",
    "手机": "phone",
    "联系电话": "phone",
    "承载能力": "capacity",
    "能力": "capacity",
    "容量": "capacity",
    "包保单元": "unit_packages",
    "包保区域": "unit_packages",
    "包保点位": "place_packages",
    "包保重点点位": "place_packages",
    "在岗": "active",
    "状态": "active",
}
ROLE_ALIASES = {
    "grid_leader": "grid_leader",
    "grid leader": "grid_leader",
    "网格长": "grid_leader",
    "网格员": "grid_leader",
    "package_leader": "package_leader",
    "package leader": "package_leader",
    "包保领导": "package_leader",
}
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
LIST_SPLIT = re.compile(r"[;；,，]")
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class LeaderRow:
    """One validated row of a leaders file."""

    row: int
    id: str
    name: str
    role: str
    department: str | None
    phone: str | None
    capacity: float
    unit_packages: tuple[str, ...]
    place_packages: tuple[str, ...]
    active: bool | None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_rows(p: Path) -> list[list[str]]:
    """The first sheet of an XLSX workbook (already checked by the file policy) as text cells."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        ws = wb.worksheets[0]
        rows = [[_cell(v) for v in r] for r in ws.iter_rows(values_only=True)]
        wb.close()
    except Exception as exc:  # noqa: BLE001 - openpyxl/zipfile/XML errors of every kind
        msg = t(
            f"{p}：不是可读取的 XLSX 工作簿（{type(exc).__name__}），请重新另存为 .xlsx",
            f"{p}: not a readable XLSX workbook ({type(exc).__name__}); save it again as .xlsx",
        )
        raise InputError(msg) from None
    return rows


def read_table(
    path: str | Path, *, encoding: str | None = None
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Read a CSV or the first sheet of an XLSX file, under the file policy of
    :mod:`gridmgr.io.files` (regular file, size cap; CSV text in ``encoding`` or detected:
    BOM, UTF-8, or GB18030/Big5 when exactly one reads as Chinese, else refused).

    Returns the canonical header and ``(row number as a spreadsheet shows it, values)`` pairs;
    blank rows are skipped.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in {".xlsx", ".xlsm", ".csv", ".txt"}:
        raise InputError(
            t(
                f"{p}：不支持的文件类型 {p.suffix!r}，请使用 .csv 或 .xlsx",
                f"{p}: unsupported file type {p.suffix!r}; use .csv or .xlsx",
            )
        )
    files.check_file(p)
    raw_rows: list[list[str]]
    if suffix in {".xlsx", ".xlsm"}:
        raw_rows = _xlsx_rows(p)
    else:
        text = files.read_text(p, encoding)
        try:
            raw_rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text, newline=""))]
        except csv.Error as exc:
            raise InputError(
                t(f"{p}：不是有效的 CSV（{exc}）", f"{p}: not a valid CSV file ({exc})")
            ) from None
    if not raw_rows:
        header_line = ",".join(COLUMNS)
        raise InputError(
            t(
                f"{p}：文件为空，应有表头 {header_line}",
                f"{p}: the file is empty; expected a header {header_line}",
            )
        )
    header = [HEADER_ALIASES.get(h.strip(), h.strip().lower()) for h in raw_rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        miss, header_line = ", ".join(missing), ",".join(COLUMNS)
        msg = t(
            f"{p}：表头缺少列 {miss}，应为 {header_line}",
            f"{p}: missing column(s) {miss} in the header row; expected {header_line}",
        )
        raise InvalidFieldError(msg)
    rows: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(raw_rows[1:], start=2):
        if not any(v for v in values):
            continue
        rec = {h: (values[i] if i < len(values) else "") for i, h in enumerate(header) if h}
        rows.append((number, rec))
    return header, rows


@dataclass(frozen=True)
class _Known:
    """What the store holds that a leaders file may refer to."""

    departments: set[str]
    units: set[str]
    places: set[str]


#: ``(column, what is wrong)`` problems of one row.
_Problems = list[tuple[str, str]]


def _check_id(lid: str, number: int, first_row: dict[str, int], problems: _Problems) -> None:
    """The id is present and not seen in an earlier row (records the first row of each id)."""
    if not lid:
        problems.append(("id", t("为空，每位领导都需要填写 id", "empty; every leader needs an id")))
    elif lid in first_row:
        first = first_row[lid]
        what = t(
            f"id {lid!r} 重复（首次出现在第 {first} 行）",
            f"duplicate id {lid!r} (first at row {first})",
        )
        problems.append(("id", what))
    else:
        first_row[lid] = number


def _check_name(name: str, problems: _Problems) -> None:
    """The name (or post title) is present."""
    if not name:
        what = t(
            "为空，请填写姓名或职务名称（如 包保领导A01）",
            "empty; give the name or the post title (e.g. 包保领导A01)",
        )
        problems.append(("name", what))


def _parse_role(raw: str, problems: _Problems) -> str | None:
    """The canonical role of ``raw`` (English or Chinese alias)."""
    role = ROLE_ALIASES.get(raw.lower(), ROLE_ALIASES.get(raw))
    if role is None:
        what = t(
            f"未知角色 {raw!r}，请使用 grid_leader（网格长）或 package_leader（包保领导）",
            f"unknown role {raw!r}; use grid_leader (网格长) or package_leader (包保领导)",
        )
        problems.append(("role", what))
    return role


def _check_department(dep: str | None, departments: set[str], problems: _Problems) -> None:
    """The department, when given, is a loaded one."""
    if dep is not None and dep not in departments:
        known = ", ".join(sorted(departments)) or t("尚未导入", "none loaded")
        what = t(
            f"未知部门 {dep!r}（已有：{known}）",
            f"unknown department {dep!r} (known: {known})",
        )
        problems.append(("department", what))


def _parse_phone(raw: str, problems: _Problems) -> str | None:
    """The phone without blanks, when it is a mainland mobile or landline number."""
    phone = re.sub(r"\s+", "", raw) or None
    if phone is not None and not (MOBILE.match(phone) or LANDLINE.match(phone)):
        what = t(
            f"电话格式有误 {phone!r}，请填写手机号 1XXXXXXXXXX 或座机 0431-XXXXXXXX",
            f"malformed phone {phone!r}; use a mobile 1XXXXXXXXXX or a landline 0431-XXXXXXXX",
        )
        problems.append(("phone", what))
    return phone


def _parse_capacity(raw: str, problems: _Problems) -> float:
    """The capacity: a finite number > 0, default 1."""
    capacity = 1.0
    if raw:
        try:
            capacity = float(raw)
        except ValueError:
            capacity = math.nan
        if not math.isfinite(capacity) or capacity <= 0:
            what = t(f"{raw!r} 不是大于 0 的数", f"{raw!r} is not a number > 0")
            problems.append(("capacity", what))
    return capacity


def _split_list(raw: str) -> tuple[str, ...]:
    """Items of a list cell (separated by ``;``, ``；``, ``,`` or ``，``)."""
    return tuple(x.strip() for x in LIST_SPLIT.split(raw) if x.strip())


def _parse_packages(
    rec: dict[str, str], known: _Known, problems: _Problems
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Unit and key-place packages, every target known to the store."""
    upk = _split_list(rec.get("unit_packages", ""))
    unknown_units = [u for u in upk if u not in known.units]
    if unknown_units:
        uu = ", ".join(unknown_units)
        what = t(
            f"未知单位 {uu}，请先导入图层或更正代码",
            f"unknown unit(s) {uu}; load the layers first or fix the codes",
        )
        problems.append(("unit_packages", what))
    ppk = _split_list(rec.get("place_packages", ""))
    unknown_places = [k for k in ppk if k not in known.places]
    if unknown_places:
        up = ", ".join(unknown_places)
        problems.append(("place_packages", t(f"未知重点场所 {up}", f"unknown key place(s) {up}")))
    return upk, ppk


def _parse_active(rec: dict[str, str], problems: _Problems) -> bool | None:
    """The optional ``active`` flag (``None``: not given)."""
    if "active" not in rec or not rec["active"].strip():
        return None
    a = rec["active"].strip().lower()
    if a in {"1", "true", "yes", "y", "是", "在岗"}:
        return True
    if a in {"0", "false", "no", "n", "否", "离岗"}:
        return False
    a_raw = rec["active"]
    problems.append(("active", t(f"{a_raw!r} 不是 true/false", f"{a_raw!r} is not true/false")))
    return None


def _validate_row(
    number: int, rec: dict[str, str], first_row: dict[str, int], known: _Known
) -> tuple[LeaderRow | None, _Problems]:
    """One row as a :class:`LeaderRow` (``None`` when it has problems) and its problems."""
    problems: _Problems = []
    for col, value in rec.items():
        if (bad := text_problem(value)) is not None:
            problems.append((col, bad))
    if problems:
        return None, problems
    rec = {k: unicodedata.normalize("NFC", v) for k, v in rec.items()}
    lid = rec.get("id", "").strip()
    _check_id(lid, number, first_row, problems)
    name = rec.get("name", "").strip()
    _check_name(name, problems)
    role = _parse_role(rec.get("role", "").strip(), problems)
    dep = rec.get("department", "").strip() or None
    _check_department(dep, known.departments, problems)
    phone = _parse_phone(rec.get("phone", ""), problems)
    capacity = _parse_capacity(rec.get("capacity", "").strip(), problems)
    upk, ppk = _parse_packages(rec, known, problems)
    active = _parse_active(rec, problems)
    if problems:
        return None, problems
    return LeaderRow(number, lid, name, str(role), dep, phone, capacity, upk, ppk, active), []


def validate_rows(
    path: str | Path,
    rows: list[tuple[int, dict[str, str]]],
    *,
    departments: set[str],
    units: set[str],
    places: set[str],
) -> list[LeaderRow]:
    """Check every row; raise one :class:`InvalidFieldError` listing all problems."""
    known = _Known(departments, units, places)
    problems: list[str] = []
    out: list[LeaderRow] = []
    first_row: dict[str, int] = {}
    for number, rec in rows:
        row, found = _validate_row(number, rec, first_row, known)
        problems += [
            t(f"第 {number} 行，{col} 列：{what}", f"row {number}, column {col}: {what}")
            for col, what in found
        ]
        if row is not None:
            out.append(row)
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS])
        extra = len(problems) - MAX_PROBLEMS
        more = t(f"；……另有 {extra} 处", f"; … and {extra} more") if extra > 0 else ""
        msg = t(
            f"{path}：发现 {len(problems)} 处问题，未导入任何数据：{shown}{more}",
            f"{path}: {len(problems)} problem(s), nothing imported: {shown}{more}",
        )
        raise InvalidFieldError(msg)
    if not out:
        header_line = ",".join(COLUMNS)
        raise InvalidFieldError(
            t(
                f"{path}：没有领导数据行，应有表头 {header_line} 及数据行",
                f"{path}: no leader rows; expected a header {header_line} and rows",
            )
        )
    return out
