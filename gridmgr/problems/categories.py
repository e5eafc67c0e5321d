"""Problem categories and the rules of the cycle, read from the layers directory.

``problem_categories.json``: ``{"categories": [{code, name, name_en, group, department, workdays,
severity}]}``; ``group`` is one of 治脏 / 治乱 / 治差 / 其他, ``department`` a code of
``departments.json`` (or null), ``workdays`` the default deadline (1-60 working days),
``severity`` 1-3. ``problem_rules.json``: radii, windows, thresholds and the assessment weights
(see ``docs/problems.md``). Every error names the file, the entry and the field.

Examples
--------
>>> from gridmgr import settings
>>> cats = read_categories(settings.layers_dir())
>>> cats["ZZ01"].name, cats["ZZ01"].group, cats["ZZ01"].department
('暴露垃圾', '治脏', 'HWC')
>>> read_rules(settings.layers_dir()).escalation_street
3
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridmgr import settings
from gridmgr.errors import InputError, InvalidFieldError, UnreadableFileError
from gridmgr.i18n import t

CATEGORIES_FILE = "problem_categories.json"
RULES_FILE = "problem_rules.json"
GROUPS = ("治脏", "治乱", "治差", "其他")


@dataclass(frozen=True)
class Category:
    """One problem category."""

    code: str
    name: str
    name_en: str
    group: str
    department: str | None
    workdays: int
    severity: int


@dataclass(frozen=True)
class Rules:
    """Rules of the cycle (``problem_rules.json``); defaults are the shipped file's values."""

    key_place_radius_m: float = 150.0
    repeat_window_days: int = 30
    escalation_community: int = 1
    escalation_street: int = 3
    photo_max_bytes: int = 10_000_000
    photo_max_pixels: int = 40_000_000
    photo_max_distance_m: float = 500.0
    photo_max_age_hours: float = 72.0
    notice_overdue: int = 2
    notice_rework: int = 2
    notice_repeats: int = 2
    commend_min_problems: int = 3
    commend_top: int = 5
    speed_ref_workdays: float = 5.0
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "on_time": 0.4,
            "overdue": 0.2,
            "speed": 0.1,
            "rework": 0.1,
            "repeats": 0.1,
            "patrol": 0.1,
        }
    )


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8-sig"))
    except FileNotFoundError:
        raise UnreadableFileError(t(f"{path}：文件不存在", f"{path}: file not found")) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableFileError(
            t(f"{path}：不是有效的 UTF-8 JSON（{exc}）", f"{path}: not valid UTF-8 JSON ({exc})")
        ) from None


def _bad(path: Path, where: str, fld: str, zh: str, en: str) -> InvalidFieldError:
    return InvalidFieldError(
        t(f"{path}：{where} 字段 {fld}：{zh}", f"{path}: {where} field {fld}: {en}")
    )


def _int_in(path: Path, where: str, entry: dict[str, Any], fld: str, lo: int, hi: int) -> int:
    v = entry.get(fld)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _bad(
            path,
            where,
            fld,
            f"应为 {lo}–{hi} 的整数，实为 {v!r}",
            f"must be an integer {lo}–{hi}, got {v!r}",
        )
    return v


def _category(path: Path, i: int, entry: Any, departments: set[str] | None) -> Category:
    where = t(f"第 {i + 1} 个类别", f"category #{i + 1}")
    if not isinstance(entry, dict):
        raise _bad(path, where, "-", "应为对象", "must be an object")
    for fld in ("code", "name"):
        if not isinstance(entry.get(fld), str) or not entry[fld].strip():
            raise _bad(path, where, fld, "缺失或为空", "missing or empty")
    where = t(f"类别 {entry['code']}", f"category {entry['code']}")
    if entry.get("group") not in GROUPS:
        raise _bad(
            path,
            where,
            "group",
            f"应为 {'/'.join(GROUPS)} 之一，实为 {entry.get('group')!r}",
            f"must be one of {'/'.join(GROUPS)}, got {entry.get('group')!r}",
        )
    dept = entry.get("department")
    if dept is not None and (
        not isinstance(dept, str) or (departments is not None and dept not in departments)
    ):
        raise _bad(
            path,
            where,
            "department",
            f"部门 {dept!r} 不在 departments.json 中",
            f"department {dept!r} is not in departments.json",
        )
    return Category(
        code=entry["code"].strip(),
        name=entry["name"].strip(),
        name_en=str(entry.get("name_en") or entry["name"]).strip(),
        group=entry["group"],
        department=dept or None,
        workdays=_int_in(path, where, entry, "workdays", 1, 60),
        severity=_int_in(path, where, entry, "severity", 1, 3),
    )


def read_categories(
    layers_dir: Path | str, departments: set[str] | None = None
) -> dict[str, Category]:
    """The categories of ``layers_dir/problem_categories.json``, by code, validated.

    ``departments``: the known department codes (default: those of ``departments.json`` in the
    same directory, when it exists).
    """
    d = Path(layers_dir)
    path = d / CATEGORIES_FILE
    data = _load(path)
    if departments is None and (d / "departments.json").exists():
        deps = _load(d / "departments.json").get("departments", [])
        departments = {str(x.get("code")) for x in deps if isinstance(x, dict)}
    entries = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidFieldError(
            t(f"{path}：缺少非空的 categories 列表", f"{path}: needs a non-empty categories list")
        )
    out: dict[str, Category] = {}
    for i, entry in enumerate(entries):
        cat = _category(path, i, entry, departments)
        if cat.code in out:
            raise _bad(
                path,
                t(f"类别 {cat.code}", f"category {cat.code}"),
                "code",
                "编码重复",
                "duplicate code",
            )
        out[cat.code] = cat
    return out


def category_of(categories: dict[str, Category], code: str) -> Category:
    """The category ``code``, or an :class:`InputError` listing the known codes."""
    if code not in categories:
        known = "、".join(sorted(categories))
        raise InputError(
            t(
                f"问题类别 {code!r} 不存在；可用：{known}",
                f"unknown problem category {code!r}; known: {known}",
            )
        )
    return categories[code]


def _number(
    path: Path, sect: str, data: dict[str, Any], key: str, default: float, lo: float
) -> float:
    v = data.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < lo:
        raise _bad(
            path, sect, key, f"应为 ≥ {lo} 的数，实为 {v!r}", f"must be a number ≥ {lo}, got {v!r}"
        )
    return float(v)


def read_rules(layers_dir: Path | str) -> Rules:
    """The rules of ``layers_dir/problem_rules.json`` (the defaults when the file is absent)."""
    path = Path(layers_dir) / RULES_FILE
    if not path.exists():
        return Rules()
    raw = _load(path)
    if not isinstance(raw, dict):
        raise InvalidFieldError(t(f"{path}：应为 JSON 对象", f"{path}: must be a JSON object"))
    d = Rules()

    def sect(name: str) -> dict[str, Any]:
        v = raw.get(name, {})
        if not isinstance(v, dict):
            raise _bad(path, name, "-", "应为对象", "must be an object")
        return v

    rep, esc, ph, no, asm = (
        sect(n) for n in ("repeat", "escalation", "photos", "notice", "assessment")
    )
    weights = dict(d.weights)
    wraw = asm.get("weights", {})
    if not isinstance(wraw, dict):
        raise _bad(path, "assessment", "weights", "应为对象", "must be an object")
    for key in wraw:
        if key not in weights:
            raise _bad(
                path,
                "assessment.weights",
                key,
                f"未知权重；可用：{', '.join(weights)}",
                f"unknown weight; known: {', '.join(weights)}",
            )
        weights[key] = _number(path, "assessment.weights", wraw, key, 0.0, 0.0)
    if sum(weights.values()) <= 0:
        raise _bad(
            path, "assessment", "weights", "权重之和必须大于 0", "weights must sum to more than 0"
        )
    return Rules(
        key_place_radius_m=_number(path, "-", raw, "key_place_radius_m", d.key_place_radius_m, 0),
        repeat_window_days=int(
            _number(path, "repeat", rep, "window_days", d.repeat_window_days, 0)
        ),
        escalation_community=int(
            _number(path, "escalation", esc, "community_workdays", d.escalation_community, 0)
        ),
        escalation_street=int(
            _number(path, "escalation", esc, "street_workdays", d.escalation_street, 0)
        ),
        photo_max_bytes=int(_number(path, "photos", ph, "max_bytes", d.photo_max_bytes, 1)),
        photo_max_pixels=int(_number(path, "photos", ph, "max_pixels", d.photo_max_pixels, 1)),
        photo_max_distance_m=_number(
            path, "photos", ph, "max_distance_m", d.photo_max_distance_m, 0
        ),
        photo_max_age_hours=_number(path, "photos", ph, "max_age_hours", d.photo_max_age_hours, 0),
        notice_overdue=int(_number(path, "notice", no, "overdue", d.notice_overdue, 1)),
        notice_rework=int(_number(path, "notice", no, "rework", d.notice_rework, 1)),
        notice_repeats=int(_number(path, "notice", no, "repeats", d.notice_repeats, 1)),
        commend_min_problems=int(
            _number(path, "notice", no, "commend_min_problems", d.commend_min_problems, 1)
        ),
        commend_top=int(_number(path, "notice", no, "commend_top", d.commend_top, 1)),
        speed_ref_workdays=_number(
            path, "assessment", asm, "speed_ref_workdays", d.speed_ref_workdays, 1
        ),
        weights=weights,
    )


@dataclass(frozen=True)
class Config:
    """Categories and rules (default: the layers directory's files)."""

    categories: dict[str, Category]
    rules: Rules

    @classmethod
    def load(cls, layers_dir: Path | str | None = None) -> Config:
        d = Path(layers_dir) if layers_dir is not None else settings.layers_dir()
        return cls(read_categories(d), read_rules(d))
