"""The departments reader: ``departments.json`` → sector departments and key-place categories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridmgr.errors import DuplicateCodeError, InvalidFieldError, MissingFieldError
from gridmgr.i18n import t
from gridmgr.io.fields import bool_values, text_values
from gridmgr.io.readers import load_json, unreadable
from gridmgr.io.text import check_column
from gridmgr.io.validate import is_blank, normalise_codes

PathLike = str | Path


@dataclass(frozen=True)
class DepartmentTables:
    """The two tables of ``departments.json``: sector departments and key-place categories."""

    departments: pd.DataFrame
    categories: pd.DataFrame


def _entries(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The array ``data[key]`` (empty when absent), checked to hold objects."""
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise unreadable(
            path,
            t(f"{key!r} 必须是对象数组", f"{key!r} must be an array of objects"),
            t("请按 docs/architecture.md 的格式改正", "follow the format in docs/architecture.md"),
        )
    return items


def _load_document(p: Path, encoding: str | None = None) -> dict[str, Any]:
    """Parse ``departments.json``: an object with a ``departments`` array."""
    try:
        data = load_json(p, encoding)
    except json.JSONDecodeError as exc:
        raise unreadable(
            p,
            t(
                f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）",
                f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            ),
            t("请用文本编辑器检查", "check it in a text editor"),
        ) from exc
    if not isinstance(data, dict) or "departments" not in data:
        raise MissingFieldError(
            t(
                f"{p}：缺少 'departments' 数组；格式见 docs/architecture.md",
                f"{p}: no 'departments' array; see the format in docs/architecture.md",
            )
        )
    return data


def _checked_table(p: Path, items: list[dict[str, Any]], kind: str, key: str) -> pd.DataFrame:
    """One table of entries: ``key`` and ``name`` filled in, ``key`` unique, names as text."""
    frame = pd.DataFrame.from_records(items, index=pd.RangeIndex(len(items)))
    for col in (key, "name"):
        if col not in frame.columns:
            frame[col] = None
        blank = np.flatnonzero(is_blank(frame[col]))
        if blank.size:
            i = int(blank[0])
            ident = items[i].get(key)
            msg = t(
                f"{p}：{kind}[{i}]（{key}={ident!r}）缺少字段 {col!r}；请补全",
                f"{p}: {kind}[{i}] ({key}={ident!r}) has no {col!r}; fill it in",
            )
            raise MissingFieldError(msg)
    codes = normalise_codes(frame[key])
    dup = codes.duplicated(keep=False)
    if dup.any():
        same = np.flatnonzero(dup.to_numpy())
        msg = t(
            f"{p}：{kind} 的 {key}={codes.iloc[same[0]]!r} 重复（第 {', '.join(map(str, same))} 项）；请保持唯一",
            f"{p}: {key}={codes.iloc[same[0]]!r} is duplicated in {kind} (entries "
            f"{', '.join(map(str, same))}); keep them unique",
        )
        raise DuplicateCodeError(msg)
    frame[key] = codes
    label = f"{p}: {kind}"
    frame["name"] = check_column(text_values(frame["name"]), label, "name", codes.tolist())
    frame["name_en"] = (
        check_column(text_values(frame["name_en"]), label, "name_en", codes.tolist()).fillna("")
        if "name_en" in frame.columns
        else ""
    )
    return frame


def _categories_table(p: Path, cframe: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """The categories table: each ``department`` among ``known`` (or ``None``), flags as bools."""
    if "department" not in cframe.columns:
        cframe["department"] = None
    cframe["department"] = normalise_codes(cframe["department"])
    bad = [
        i for i, d in enumerate(cframe["department"].tolist()) if d is not None and d not in known
    ]
    if bad:
        i = bad[0]
        msg = t(
            f"{p}：categories[{i}]（category={cframe['category'].iloc[i]!r}）的 department "
            f"{cframe['department'].iloc[i]!r} 不在 departments 中；请改正或补充该部门",
            f"{p}: categories[{i}] (category={cframe['category'].iloc[i]!r}) names department "
            f"{cframe['department'].iloc[i]!r}, which is not in 'departments'; correct it or add "
            f"the department",
        )
        raise InvalidFieldError(msg)
    if "requires_package_leader" not in cframe.columns:
        cframe["requires_package_leader"] = False
    cframe["requires_package_leader"] = bool_values(
        cframe["requires_package_leader"],
        lambda i: t(
            f"{p}：categories[{i}]（category={cframe['category'].iloc[i]!r}）的 "
            "requires_package_leader",
            f"{p}: categories[{i}] (category={cframe['category'].iloc[i]!r}), "
            "requires_package_leader",
        ),
    )
    cframe["visit_every_days"] = _visit_days(p, cframe)
    return cframe[
        ["category", "name", "name_en", "department", "requires_package_leader", "visit_every_days"]
    ]


def _visit_days(p: Path, cframe: pd.DataFrame) -> list[float | None]:
    """The optional ``visit_every_days`` of each category: a number of days in (0, 366], or
    ``None`` when not given (no visiting frequency for that category)."""
    if "visit_every_days" not in cframe.columns:
        return [None] * len(cframe)
    out: list[float | None] = []
    for i, v in enumerate(cframe["visit_every_days"].tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
            continue
        ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 < float(v) <= 366
        if not ok:
            msg = t(
                f"{p}：categories[{i}]（category={cframe['category'].iloc[i]!r}）的 "
                f"visit_every_days={v!r} 无效：应为 0 到 366 之间的天数（如 1 表示每天，7 表示每周）",
                f"{p}: categories[{i}] (category={cframe['category'].iloc[i]!r}) has "
                f"visit_every_days={v!r}: expected a number of days in (0, 366] (1 daily, 7 weekly)",
            )
            raise InvalidFieldError(msg)
        out.append(float(v))
    return out


def read_departments(path: PathLike, *, encoding: str | None = None) -> DepartmentTables:
    """Read ``departments.json``: departments (``code``, ``name``, ``name_en``) and categories.

    Categories have ``category``, ``name``, ``name_en``, ``department`` (a department code or
    ``None``), ``requires_package_leader`` (bool) and ``visit_every_days`` (float days or
    ``None``: how often a key place of the category should be visited during a campaign).

    Examples
    --------
    >>> tables = read_departments("layers/changchun_hitech/departments.json")  # doctest: +SKIP
    >>> tables.categories.set_index("category").loc["school", "department"]  # doctest: +SKIP
    'JYJ'
    """
    p = Path(path)
    data = _load_document(p, encoding)
    deps = _entries(p, data, "departments")
    cats = _entries(p, data, "categories")
    dframe = _checked_table(p, deps, "departments", "code")[["code", "name", "name_en"]]
    cframe = _categories_table(
        p, _checked_table(p, cats, "categories", "category"), set(dframe["code"])
    )
    return DepartmentTables(dframe.reset_index(drop=True), cframe.reset_index(drop=True))


def empty_tables() -> DepartmentTables:
    """Department tables without rows (a layers directory without ``departments.json``)."""
    return DepartmentTables(
        pd.DataFrame({"code": [], "name": [], "name_en": []}, dtype=object),
        pd.DataFrame(
            {
                "category": [],
                "name": [],
                "name_en": [],
                "department": [],
                "requires_package_leader": [],
                "visit_every_days": [],
            },
            dtype=object,
        ),
    )


__all__ = ["DepartmentTables", "empty_tables", "read_departments"]
