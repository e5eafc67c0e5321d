"""Assignment round trips: export to CSV/GeoJSON, edit in QGIS or Excel, import back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from gridmgr.errors import InputError, InvalidFieldError
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._types import AssignmentsImportReport

if TYPE_CHECKING:
    from gridmgr.store._store import Store

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
MAX_PROBLEMS = 20
TRUE = {"1", "true", "yes", "y", "是"}
FALSE = {"", "0", "false", "no", "n", "否"}


def _grid_codes_for(store: Store, pieces: pd.DataFrame) -> list[str | None]:
    """Grid code of each piece's territory: the leader's territory in the piece's unit or an
    ancestor of it."""
    codes = store.grid_codes()
    if codes.empty or pieces.empty:
        return [None] * len(pieces)
    with store._read() as conn:
        parents = store._unit_parents(conn)
    table = {(r.leader_id, r.unit_code): r.grid_code for r in codes.itertuples(index=False)}
    cache: dict[tuple[Any, str], str | None] = {}
    out: list[str | None] = []
    for leader, unit in zip(pieces["leader_id"], pieces["unit_code"], strict=True):
        key = (leader, unit)
        if key not in cache:
            cache[key] = None
            if leader is not None:
                for anc in store._ancestors(parents, unit):
                    if (leader, anc) in table:
                        cache[key] = table[(leader, anc)]
                        break
        out.append(cache[key])
    return out


def export_assignments(store: Store, out: str | Path, *, scope: str | None = None) -> Path:
    """See :meth:`gridmgr.store.Store.export_assignments`."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".geojson", ".json"}:
        raise InputError(
            t(
                f"{path}：文件名请使用 .csv 或 .geojson 扩展名",
                f"{path}: use a .csv or .geojson file name",
            )
        )
    geo = suffix != ".csv"
    pieces = store.pieces(scope, geometry=geo)
    pieces = pieces.rename(columns={"id": "piece_id"})
    pieces["grid_code"] = _grid_codes_for(store, pieces)
    path.parent.mkdir(parents=True, exist_ok=True)
    if geo:
        frame = pieces[[*EXPORT_COLUMNS, "geometry"]]
        if path.exists():
            path.unlink()
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    else:
        pieces[EXPORT_COLUMNS].to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _read(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Rows as strings and a label per row (``row N`` for CSV lines, ``feature N`` for GeoJSON)."""
    if not path.exists():
        raise InputError(t(f"{path}：文件不存在", f"{path}: file not found"))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        last: Exception | None = None
        for enc in ("utf-8-sig", "gb18030"):
            try:
                df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
                break
            except UnicodeDecodeError as exc:
                last = exc
        else:
            raise InputError(
                t(
                    f"{path}：不是 UTF-8 或 GB18030 编码的文本（{last}）",
                    f"{path}: not UTF-8 or GB18030 text ({last})",
                )
            )
        labels = [t(f"第 {i + 2} 行", f"row {i + 2}") for i in range(len(df))]
    elif suffix in {".geojson", ".json"}:
        import pyogrio

        df = pyogrio.read_dataframe(path, read_geometry=False)
        df = df.astype(object).where(df.notna(), "").astype(str)
        labels = [t(f"第 {i + 1} 个要素", f"feature {i + 1}") for i in range(len(df))]
    else:
        raise InputError(
            t(f"{path}：请使用 .csv 或 .geojson 文件", f"{path}: use a .csv or .geojson file")
        )
    df.columns = [str(c).strip().lower() for c in df.columns]
    for col in ("cell", "leader_id"):
        if col not in df.columns:
            msg = t(
                f"{path}：缺少列 {col!r}，请用 `gridmgr assign export` 导出模板后填写",
                f"{path}: missing column {col!r}; export a template with `gridmgr assign export`",
            )
            raise InvalidFieldError(msg)
    return df, labels


def import_assignments(
    store: Store, path: str | Path, *, actor: str, reason: str
) -> AssignmentsImportReport:
    """See :meth:`gridmgr.store.Store.import_assignments`.

    Checked per row before anything is written: the cell (and ``unit_code`` when the cell is
    split) is in the store, each piece appears once, the leader exists, is active and works in
    the piece's unit, ``version`` is an integer and ``fallback`` a boolean. Rows whose owner is
    already the current one are skipped; the others go through
    :meth:`~gridmgr.store.Store.apply_changes` with their ``version`` as the expected version,
    so a piece someone changed since the export is refused.
    """
    from gridmgr.store._edits import _opt, apply_changes

    p = Path(path)
    df, labels = _read(p)
    problems: list[str] = []

    def bad(i: int, col: str, what: str) -> None:
        problems.append(t(f"{labels[i]}，{col} 列：{what}", f"{labels[i]}, column {col}: {what}"))

    pieces = store.pieces(geometry=False)
    leaders = store.leaders()
    by_cell: dict[str, list[int]] = {}
    for pos, cell in enumerate(pieces["cell"]):
        by_cell.setdefault(cell, []).append(pos)
    with store._read() as conn:
        parents = store._unit_parents(conn)
        packs = conn.execute(
            select(s.packages.c.leader_id, s.packages.c.target).where(s.packages.c.kind == "unit")
        ).all()
    unit_packs: dict[str, set[str]] = {}
    for lid, target in packs:
        unit_packs.setdefault(lid, set()).add(target)
    active = dict(zip(leaders["id"], leaders["active"], strict=True))
    has_unit = "unit_code" in df.columns
    rows: list[dict[str, Any]] = []
    seen: dict[int, str] = {}
    for i, rec in enumerate(df.to_dict("records")):
        cell = str(rec.get("cell", "")).strip()
        unit = str(rec.get("unit_code", "")).strip() if has_unit else ""
        cands = by_cell.get(cell, [])
        if not cell:
            bad(i, "cell", t("为空", "empty"))
            continue
        if not cands:
            bad(
                i,
                "cell",
                t(
                    f"网格单元 {cell} 不在库中（分辨率不对或属于其他区域？）",
                    f"cell {cell} is not in the store (wrong resolution or another area?)",
                ),
            )
            continue
        if unit:
            cands = [c for c in cands if pieces["unit_code"].iat[c] == unit]
            if not cands:
                bad(
                    i,
                    "unit_code",
                    t(
                        f"网格单元 {cell} 在单位 {unit} 中没有地块",
                        f"cell {cell} has no piece in unit {unit}",
                    ),
                )
                continue
        elif len(cands) > 1:
            units = ", ".join(str(pieces["unit_code"].iat[c]) for c in cands)
            bad(
                i,
                "unit_code",
                t(
                    f"网格单元 {cell} 分属多个单位 {units}，请填写 unit_code",
                    f"cell {cell} is split between units {units}; give unit_code",
                ),
            )
            continue
        pos = cands[0]
        pid = int(pieces["id"].iat[pos])
        if pid in seen:
            punit_dup = pieces["unit_code"].iat[pos]
            bad(
                i,
                "cell",
                t(
                    f"地块 {cell}（单位 {punit_dup}）已在{seen[pid]}给出",
                    f"piece {cell} (unit {punit_dup}) already given at {seen[pid]}",
                ),
            )
            continue
        seen[pid] = labels[i]
        lid = str(rec.get("leader_id", "")).strip() or None
        punit = str(pieces["unit_code"].iat[pos])
        if lid is not None:
            if lid not in active:
                bad(i, "leader_id", t(f"未知的领导 {lid!r}", f"unknown leader {lid!r}"))
                continue
            if not active[lid]:
                bad(
                    i,
                    "leader_id",
                    t(
                        f"领导 {lid!r} 已停用（不在岗）",
                        f"leader {lid!r} is inactive (deactivated)",
                    ),
                )
                continue
            if not set(store._ancestors(parents, punit)) & unit_packs.get(lid, set()):
                bad(
                    i,
                    "leader_id",
                    t(
                        f"领导 {lid!r} 不在单位 {punit} 包保（属于其他社区）",
                        f"leader {lid!r} does not work in unit {punit} (another community)",
                    ),
                )
                continue
        fb_raw = str(rec.get("fallback", "")).strip().lower()
        if fb_raw in TRUE:
            fallback = True
        elif fb_raw in FALSE:
            fallback = False
        else:
            fb_val = rec.get("fallback")
            bad(i, "fallback", t(f"{fb_val!r} 不是 true/false", f"{fb_val!r} is not true/false"))
            continue
        if fallback and lid is None:
            bad(i, "fallback", t("fallback 需要填写 leader_id", "fallback needs a leader_id"))
            continue
        ver_raw = str(rec.get("version", "")).strip()
        version: int | None = None
        if ver_raw:
            try:
                version = int(float(ver_raw))
                if version < 0 or float(ver_raw) != version:
                    raise ValueError
            except ValueError:
                bad(
                    i,
                    "version",
                    t(
                        f"{ver_raw!r} 不是大于等于 0 的整数",
                        f"{ver_raw!r} is not a whole number >= 0",
                    ),
                )
                continue
        rows.append(
            {
                "piece_id": pid,
                "leader_id": lid,
                "fallback": fallback,
                "expected_version": version,
                "_pos": pos,
            }
        )
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS])
        extra = len(problems) - MAX_PROBLEMS
        more = t(f"；……另有 {extra} 处", f"; … and {extra} more") if extra > 0 else ""
        raise InvalidFieldError(
            t(
                f"{p}：发现 {len(problems)} 处问题，未导入任何数据：{shown}{more}",
                f"{p}: {len(problems)} problem(s), nothing imported: {shown}{more}",
            )
        )
    todo = pd.DataFrame(
        rows, columns=["piece_id", "leader_id", "fallback", "expected_version", "_pos"]
    )
    pos = todo["_pos"].to_numpy(dtype=np.int64)
    cur_leader = pieces["leader_id"].to_numpy(dtype=object)[pos]
    cur_fb = pieces["fallback"].to_numpy(dtype=bool)[pos]
    same = np.array(
        [_opt(a) == _opt(b) for a, b in zip(todo["leader_id"], cur_leader, strict=True)],
        dtype=bool,
    ) & (todo["fallback"].to_numpy(dtype=bool) == cur_fb)
    changes = todo[~same].drop(columns=["_pos"])
    result = apply_changes(store, changes, actor=actor, reason=reason, kind="import")
    return AssignmentsImportReport(
        str(p), len(todo), result.changed, int(same.sum()) + result.unchanged, result.changeset_id
    )
