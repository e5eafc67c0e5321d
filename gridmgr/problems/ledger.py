"""The problem ledger (问题台账): as a frame for the XLSX, and existing Excel ledgers imported.

Import reads the first sheet of an XLSX; the header row names the columns. Default column names
(Chinese or English) map to fields; ``mapping`` (``{"表头": "field"}``) overrides them. Fields:
``category`` (code or Chinese name), ``text``, ``lat``, ``lng``, ``reporter``, ``reported_at``
(optional, Beijing time when no zone), ``source`` (optional). All rows go in one transaction:
the first bad row stops the import, names its row and column, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gridmgr.errors import GridMgrError, InputError, UnreadableFileError
from gridmgr.i18n import t
from gridmgr.problems.assessment import period_bounds
from gridmgr.problems.categories import Config, category_of
from gridmgr.problems.service import aware, insert_report, source_key
from gridmgr.problems.views import frame_view, names
from gridmgr.store import problems as repo
from gridmgr.store.engine import read_connection
from gridmgr.store.schema import utcnow

FIELDS = ("category", "text", "lat", "lng", "reporter", "reported_at", "source")
REQUIRED = ("category", "text", "lat", "lng", "reporter")
DEFAULT_MAPPING = {
    "问题类别": "category",
    "类别": "category",
    "category": "category",
    "问题描述": "text",
    "描述": "text",
    "text": "text",
    "纬度": "lat",
    "lat": "lat",
    "经度": "lng",
    "lng": "lng",
    "上报人": "reporter",
    "reporter": "reporter",
    "上报时间": "reported_at",
    "reported_at": "reported_at",
    "来源": "source",
    "source": "source",
}


def ledger_frame(
    store: Any, config: Config, period: str | None = None, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """All problems (of ``period``) with names, status and overdue, newest first."""
    when = as_of or utcnow()
    store.require_schema()
    with read_connection(store.engine) as conn:
        df = repo.listing(conn, reported=period_bounds(period) if period else None)
        return frame_view(df, names(conn), config, when)


def _read_sheet(path: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise UnreadableFileError(t(f"{path}：文件不存在", f"{path}: file not found")) from None
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a non-XLSX file
        raise UnreadableFileError(
            t(
                f"{path}：不是可读的 XLSX 文件（{type(exc).__name__}）",
                f"{path}: not a readable XLSX file ({type(exc).__name__})",
            )
        ) from None
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    if not rows:
        raise InputError(t(f"{path}：第一个工作表为空", f"{path}: the first sheet is empty"))
    return [str(h).strip() if h is not None else "" for h in rows[0]], rows[1:]


def _columns(path: Path, header: list[str], mapping: Mapping[str, str]) -> dict[str, int]:
    full = {**DEFAULT_MAPPING, **mapping}
    for head, fld in mapping.items():
        if fld not in FIELDS:
            raise InputError(
                t(
                    f"列映射 {head}={fld}：字段 {fld} 无效；可用：{', '.join(FIELDS)}",
                    f"column mapping {head}={fld}: unknown field; use {', '.join(FIELDS)}",
                )
            )
    cols: dict[str, int] = {}
    for j, h in enumerate(header):
        if h in full and full[h] not in cols:
            cols[full[h]] = j
    missing = [f for f in REQUIRED if f not in cols]
    if missing:
        raise InputError(
            t(
                f"{path}：缺少列 {', '.join(missing)}（表头：{', '.join(header)}；可用 --map 表头=字段 指定）",
                f"{path}: missing columns {', '.join(missing)} (header: {', '.join(header)}; use --map header=field)",
            )
        )
    return cols


def _category(config: Config, value: Any) -> str:
    v = str(value or "").strip()
    by_name = {c.name: c.code for c in config.categories.values()}
    return category_of(config.categories, by_name.get(v, v)).code


def import_ledger(
    store: Any,
    path: Path | str,
    *,
    actor: str,
    config: Config,
    mapping: Mapping[str, str] | None = None,
) -> list[str]:
    """Import every row of an XLSX ledger as a reported problem (all or nothing); their ids."""
    path = Path(path)
    header, rows = _read_sheet(path)
    cols = _columns(path, header, mapping or {})
    codes: list[int] = []
    with store.transaction() as conn:
        for i, row in enumerate(rows, start=2):
            if all(v is None or str(v).strip() == "" for v in row):
                continue
            rec = {f: (row[j] if j < len(row) else None) for f, j in cols.items()}
            fld = "category"
            try:
                cat = config.categories[_category(config, rec["category"])]
                fld = "lat"
                lat = float(str(rec["lat"]).strip())
                fld = "lng"
                lng = float(str(rec["lng"]).strip())
                fld = "reported_at"
                when = aware(
                    rec.get("reported_at") if rec.get("reported_at") not in (None, "") else None
                )
                fld = "source"
                src = source_key(str(rec.get("source") or "patrol"))
                fld = "text"
                text, reporter = str(rec["text"] or "").strip(), str(rec["reporter"] or "").strip()
                if not text or not reporter:
                    fld = "text" if not text else "reporter"
                    raise InputError(t("不能为空", "must not be empty"))
                fld = "lat"
                pid = insert_report(
                    conn, config, cat, when, lng, lat, text, reporter, src, None, False
                )
            except (GridMgrError, ValueError, TypeError) as exc:
                head = header[cols[fld]] if fld in cols else fld
                raise InputError(
                    t(
                        f"{path}：第 {i} 行，列「{head}」：{exc}；未导入任何行",
                        f"{path}: row {i}, column '{head}': {exc}; nothing imported",
                    )
                ) from None
            repo.insert_event(
                conn,
                {
                    "problem_id": pid,
                    "action": "report",
                    "from_state": None,
                    "to_state": "reported",
                    "actor": actor,
                    "role": "reporter",
                    "at": when,
                    "note": t(
                        f"自台账 {path.name} 第 {i} 行导入", f"imported from {path.name} row {i}"
                    ),
                    "detail": {"source": src, "imported_by": actor},
                },
            )
            codes.append(pid)
        return [str(repo.get(conn, c)["code"]) for c in codes]  # type: ignore[index]
