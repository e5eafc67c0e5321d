"""Leaders files (CSV or XLSX): read, validate every row, then import all-or-nothing.

Format (``docs/architecture.md``): columns ``id,name,role,department,phone,capacity,
unit_packages,place_packages`` (optional ``active``); list columns separated by ``;`` (also ``；``
or ``,`` inside quotes). Roles ``grid_leader`` / ``package_leader`` (Chinese 网格长, 网格员,
包保领导 accepted). Phone: mainland mobile ``1[3-9]\\d{9}`` or landline ``0\\d{2,3}-?\\d{7,8}``.

Every row is checked before anything is written, and all problems (up to 20 shown) are reported
in one message naming row and column, so a file is fixed in one pass.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from gridmgr.errors import InputError, InvalidFieldError
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._types import LeadersImportReport

if TYPE_CHECKING:
    from gridmgr.store._store import Store

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


def read_table(path: str | Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Read a CSV (UTF-8, UTF-8-BOM or GB18030) or the first sheet of an XLSX file.

    Returns the canonical header and ``(row number as a spreadsheet shows it, values)`` pairs;
    blank rows are skipped.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(t(f"{p}：文件不存在", f"{p}: file not found"))
    raw_rows: list[list[str]]
    if p.suffix.lower() in {".xlsx", ".xlsm"}:
        import openpyxl

        try:
            wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        except Exception as exc:
            msg = t(
                f"{p}：不是可读取的 XLSX 工作簿（{exc}），请重新另存为 .xlsx",
                f"{p}: not a readable XLSX workbook ({exc}); save it again as .xlsx",
            )
            raise InputError(msg) from exc
        ws = wb.worksheets[0]
        raw_rows = [[_cell(v) for v in r] for r in ws.iter_rows(values_only=True)]
        wb.close()
    elif p.suffix.lower() in {".csv", ".txt"}:
        data = p.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes nearly anything
            raise InputError(
                t(
                    f"{p}：不是 UTF-8 或 GB18030 编码的文本，请另存为 UTF-8 CSV",
                    f"{p}: not UTF-8 or GB18030 text; save it as UTF-8 CSV",
                )
            )
        raw_rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text))]
    else:
        raise InputError(
            t(
                f"{p}：不支持的文件类型 {p.suffix!r}，请使用 .csv 或 .xlsx",
                f"{p}: unsupported file type {p.suffix!r}; use .csv or .xlsx",
            )
        )
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


def validate_rows(
    path: str | Path,
    rows: list[tuple[int, dict[str, str]]],
    *,
    departments: set[str],
    units: set[str],
    places: set[str],
) -> list[LeaderRow]:
    """Check every row; raise one :class:`InvalidFieldError` listing all problems."""
    problems: list[str] = []
    out: list[LeaderRow] = []
    first_row: dict[str, int] = {}

    def bad(row: int, col: str, what: str) -> None:
        problems.append(t(f"第 {row} 行，{col} 列：{what}", f"row {row}, column {col}: {what}"))

    for number, rec in rows:
        ok = True
        lid = rec.get("id", "").strip()
        if not lid:
            bad(number, "id", t("为空，每位领导都需要填写 id", "empty; every leader needs an id"))
            ok = False
        elif lid in first_row:
            first = first_row[lid]
            bad(
                number,
                "id",
                t(
                    f"id {lid!r} 重复（首次出现在第 {first} 行）",
                    f"duplicate id {lid!r} (first at row {first})",
                ),
            )
            ok = False
        else:
            first_row[lid] = number
        name = rec.get("name", "").strip()
        if not name:
            bad(
                number,
                "name",
                t(
                    "为空，请填写姓名或职务名称（如 包保领导A01）",
                    "empty; give the name or the post title (e.g. 包保领导A01)",
                ),
            )
            ok = False
        role_raw = rec.get("role", "").strip()
        role = ROLE_ALIASES.get(role_raw.lower(), ROLE_ALIASES.get(role_raw))
        if role is None:
            bad(
                number,
                "role",
                t(
                    f"未知角色 {role_raw!r}，请使用 grid_leader（网格长）或 package_leader（包保领导）",
                    f"unknown role {role_raw!r}; use grid_leader (网格长) or package_leader (包保领导)",
                ),
            )
            ok = False
        dep = rec.get("department", "").strip() or None
        if dep is not None and dep not in departments:
            known = ", ".join(sorted(departments)) or t("尚未导入", "none loaded")
            bad(
                number,
                "department",
                t(
                    f"未知部门 {dep!r}（已有：{known}）",
                    f"unknown department {dep!r} (known: {known})",
                ),
            )
            ok = False
        phone = re.sub(r"\s+", "", rec.get("phone", "")) or None
        if phone is not None and not (MOBILE.match(phone) or LANDLINE.match(phone)):
            bad(
                number,
                "phone",
                t(
                    f"电话格式有误 {phone!r}，请填写手机号 1XXXXXXXXXX 或座机 0431-XXXXXXXX",
                    f"malformed phone {phone!r}; use a mobile 1XXXXXXXXXX or a landline 0431-XXXXXXXX",
                ),
            )
            ok = False
        cap_raw = rec.get("capacity", "").strip()
        capacity = 1.0
        if cap_raw:
            try:
                capacity = float(cap_raw)
            except ValueError:
                capacity = math.nan
            if not math.isfinite(capacity) or capacity <= 0:
                bad(
                    number,
                    "capacity",
                    t(f"{cap_raw!r} 不是大于 0 的数", f"{cap_raw!r} is not a number > 0"),
                )
                ok = False
        upk = tuple(x.strip() for x in LIST_SPLIT.split(rec.get("unit_packages", "")) if x.strip())
        unknown_units = [u for u in upk if u not in units]
        if unknown_units:
            uu = ", ".join(unknown_units)
            bad(
                number,
                "unit_packages",
                t(
                    f"未知单位 {uu}，请先导入图层或更正代码",
                    f"unknown unit(s) {uu}; load the layers first or fix the codes",
                ),
            )
            ok = False
        ppk = tuple(x.strip() for x in LIST_SPLIT.split(rec.get("place_packages", "")) if x.strip())
        unknown_places = [k for k in ppk if k not in places]
        if unknown_places:
            up = ", ".join(unknown_places)
            bad(number, "place_packages", t(f"未知重点场所 {up}", f"unknown key place(s) {up}"))
            ok = False
        active: bool | None = None
        if "active" in rec and rec["active"].strip():
            a = rec["active"].strip().lower()
            if a in {"1", "true", "yes", "y", "是", "在岗"}:
                active = True
            elif a in {"0", "false", "no", "n", "否", "离岗"}:
                active = False
            else:
                a_raw = rec["active"]
                bad(
                    number,
                    "active",
                    t(f"{a_raw!r} 不是 true/false", f"{a_raw!r} is not true/false"),
                )
                ok = False
        if ok:
            out.append(
                LeaderRow(number, lid, name, str(role), dep, phone, capacity, upk, ppk, active)
            )
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


def import_leaders(
    store: Store, path: str | Path, *, actor: str, reason: str | None = None
) -> LeadersImportReport:
    """Create or update leaders from ``path``; one transaction, nothing written on any problem.

    Leaders not in the file are left as they are; a leader in the file replaces their unit and
    key-place packages. Without an ``active`` column, new leaders are active and existing ones
    keep their state. Returns what was created / updated.
    """
    _, rows = read_table(path)
    at = s.utcnow()
    ld, pk = s.leaders, s.packages
    with store.transaction() as conn:
        departments = {r[0] for r in conn.execute(select(s.departments.c.code))}
        units = {r[0] for r in conn.execute(select(s.units.c.code))}
        places = {r[0] for r in conn.execute(select(s.key_places.c.code))}
        valid = validate_rows(path, rows, departments=departments, units=units, places=places)
        current = {
            r.id: r
            for r in conn.execute(
                select(
                    ld.c.id,
                    ld.c.name,
                    ld.c.role,
                    ld.c.department,
                    ld.c.phone,
                    ld.c.capacity,
                    ld.c.active,
                )
            )
        }
        packs: dict[tuple[str, str], set[str]] = {}
        for leader_id, kind, target in conn.execute(select(pk.c.leader_id, pk.c.kind, pk.c.target)):
            packs.setdefault((leader_id, kind), set()).add(target)
        created: list[str] = []
        updated: list[str] = []
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        replace_packs: list[str] = []
        for r in valid:
            old = current.get(r.id)
            values = {
                "name": r.name,
                "role": r.role,
                "department": r.department,
                "phone": r.phone,
                "capacity": r.capacity,
            }
            if old is None:
                inserts.append(
                    {
                        "id": r.id,
                        **values,
                        "active": True if r.active is None else r.active,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                created.append(r.id)
                replace_packs.append(r.id)
                events.append({"leader_id": r.id, "kind": "created", "detail": {"row": r.row}})
                continue
            changed = [k for k, v in values.items() if getattr(old, k) != v]
            active = bool(old.active) if r.active is None else r.active
            if active != bool(old.active):
                changed.append("active")
            packs_changed = packs.get((r.id, "unit"), set()) != set(r.unit_packages) or packs.get(
                (r.id, "place"), set()
            ) != set(r.place_packages)
            if packs_changed:
                changed.append("packages")
                replace_packs.append(r.id)
            if changed:
                updates.append(
                    {
                        "b_id": r.id,
                        **{f"b_{k}": v for k, v in values.items()},
                        "b_active": active,
                        "b_at": at,
                    }
                )
                updated.append(r.id)
                events.append(
                    {
                        "leader_id": r.id,
                        "kind": "updated",
                        "detail": {"row": r.row, "fields": changed},
                    }
                )
        if not events:
            return LeadersImportReport(str(path), len(valid), unchanged=len(valid))
        cid = store._new_changeset(
            conn, kind="leaders", actor=actor, reason=reason or f"import leaders from {path}", at=at
        )
        if inserts:
            conn.execute(insert(ld), inserts)
        if updates:
            from sqlalchemy import bindparam

            conn.execute(
                update(ld)
                .where(ld.c.id == bindparam("b_id"))
                .values(
                    name=bindparam("b_name"),
                    role=bindparam("b_role"),
                    department=bindparam("b_department"),
                    phone=bindparam("b_phone"),
                    capacity=bindparam("b_capacity"),
                    active=bindparam("b_active"),
                    updated_at=bindparam("b_at"),
                ),
                updates,
            )
        if replace_packs:
            from gridmgr.store._store import chunks

            for part in chunks(replace_packs):
                conn.execute(delete(pk).where(pk.c.leader_id.in_(list(part))))
            by_id = {r.id: r for r in valid}
            new_packs = [
                {"leader_id": lid, "kind": kind, "target": t}
                for lid in replace_packs
                for kind, targets in (
                    ("unit", by_id[lid].unit_packages),
                    ("place", by_id[lid].place_packages),
                )
                for t in dict.fromkeys(targets)
            ]
            if new_packs:
                conn.execute(insert(pk), new_packs)
        conn.execute(
            insert(s.leader_events),
            [
                {
                    "changeset_id": cid,
                    "actor": actor,
                    "reason": reason or f"import leaders from {path}",
                    "at": at,
                    **e,
                }
                for e in events
            ],
        )
        conn.execute(
            update(s.changesets).where(s.changesets.c.id == cid).values(n_events=len(events))
        )
    return LeadersImportReport(
        str(path),
        len(valid),
        tuple(created),
        tuple(updated),
        unchanged=len(valid) - len(created) - len(updated),
        changeset_id=cid,
    )
