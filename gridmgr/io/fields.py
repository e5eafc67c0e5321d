"""Field detection and attribute conversion of the layer readers (private to ``gridmgr.io``).

The field-name variants each reader recognises (matched case-insensitively, first match wins),
the lookup that names the file, the role and the option to pass when a field is missing, and the
conversions of attribute columns (codes, stripped text, yes/no flags).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from gridmgr.errors import InvalidFieldError, MissingFieldError
from gridmgr.i18n import t
from gridmgr.io.readers import Source
from gridmgr.io.validate import check_required, check_unique, normalise_codes

#: Field-name variants recognised, in order of preference (matched case-insensitively).
CODE_FIELDS = (
    "code",
    "adcode",
    "区划代码",
    "行政区划代码",
    "区划编码",
    "代码",
    "编码",
    "单元编码",
    "xzqdm",
    "xzqhdm",
    "xzqh_dm",
    "unit_code",
    "dm",
    "gb",
    "bm",
)


NAME_FIELDS = (
    "name",
    "名称",
    "单元名称",
    "区划名称",
    "行政区划名称",
    "xzqmc",
    "xzqhmc",
    "name_zh",
    "mc",
    "unit_name",
    "名字",
)


PARENT_FIELDS = (
    "parent",
    "parent_code",
    "parentcode",
    "parent_adcode",
    "上级代码",
    "上级编码",
    "上级区划代码",
    "父级代码",
    "父代码",
    "sjdm",
    "sjxzqdm",
    "pcode",
    "p_code",
)


LEVEL_FIELDS = ("level", "层级", "级别", "单元层级", "jb", "cj")


CATEGORY_FIELDS = ("category", "类别", "类型", "分类", "场所类型", "cat", "kind", "lb", "lx")


ADDRESS_FIELDS = ("address", "地址", "详细地址", "addr", "dz")


def find_field(
    src: Source,
    explicit: str | None,
    candidates: Sequence[str],
    role: str,
    option: str,
    *,
    required: bool,
) -> str | None:
    """The column for ``role``: ``explicit`` (any case) or the first of ``candidates`` present.

    Raises :class:`MissingFieldError` naming the fields and ``option`` when an explicit name is
    absent, or when nothing matches and the field is ``required``; else ``None``.
    """
    columns = [str(c) for c in src.props.columns]
    listing = ", ".join(repr(c) for c in columns)
    if explicit is not None:
        if explicit in columns:
            return explicit
        lower = {c.lower(): c for c in columns}
        if explicit.lower() in lower:
            return lower[explicit.lower()]
        msg = t(
            f"{src.path}：没有字段 {explicit!r}（{role}）；现有字段：{listing or '无'}；"
            f"请用 {option} 指定正确的字段名",
            f"{src.path}: field {explicit!r} ({role}) does not exist; fields are: "
            f"{listing or 'none'}; pass the right name with {option}",
        )
        raise MissingFieldError(msg)
    lower = {c.lower(): c for c in reversed(columns)}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    if not required:
        return None
    msg = t(
        f"{src.path}：找不到 {role} 字段（尝试了 {', '.join(candidates[:8])} …）；现有字段："
        f"{listing or '无'}；请用 {option} 指定",
        f"{src.path}: no {role} field found (tried {', '.join(candidates[:8])} …); fields are: "
        f"{listing or 'none'}; name it with {option}",
    )
    raise MissingFieldError(msg)


def read_codes(
    src: Source, code_field: str | None, option: str = "--code-field / code_field="
) -> tuple[str, pd.Series]:
    """The code field and its normalised codes, checked to be present and unique."""
    cf = find_field(src, code_field, CODE_FIELDS, "code", option, required=True)
    assert cf is not None
    check_required(src.props[cf], src.path, cf, None, t("编码", "code"))
    codes = normalise_codes(src.props[cf])
    check_unique(codes, src.path, cf)
    return cf, codes


def text_values(values: pd.Series) -> pd.Series:
    """Stripped strings, ``None`` for missing values (never NaN)."""
    out = [
        None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
        for v in values.astype(object).tolist()
    ]
    return pd.Series(out, index=values.index, dtype=object)


TRUE_WORDS = frozenset(("1", "true", "yes", "y", "t", "是", "样例", "真"))
FALSE_WORDS = frozenset(("", "0", "false", "no", "n", "f", "否", "假"))


def _flag(x: object) -> bool | None:
    """``True``/``False`` for a recognised yes/no value (missing is false), else ``None``."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return False
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | float | np.integer | np.floating) and float(x) in (0.0, 1.0):
        return bool(x)
    if isinstance(x, str):
        word = x.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def bool_values(values: pd.Series, where: Callable[[int], str] | None = None) -> pd.Series:
    """Yes/no flags (``1``/``true``/``yes``/``是``/``样例`` … true; ``0``/``false``/``否``/blank
    false). Any other value (``"maybe"``, ``2``) raises :class:`InvalidFieldError` naming
    ``where(i)`` of the first one — a flag is never guessed.

    >>> bool_values(pd.Series(["是", "0", None, True])).tolist()
    [True, False, False, True]
    """
    flags = [_flag(x) for x in values.astype(object).tolist()]
    bad = next((i for i, f in enumerate(flags) if f is None), None)
    if bad is not None:
        value = values.iloc[bad]
        place = where(bad) if where is not None else t(f"第 {bad} 项", f"item {bad}")
        raise InvalidFieldError(
            t(
                f"{place}：{value!r} 不是是/否值；请填写 true/false（或 是/否、1/0）",
                f"{place}: {value!r} is not a yes/no value; use true/false (or 是/否, 1/0)",
            )
        )
    return pd.Series(flags, index=values.index, dtype=bool)


__all__ = [
    "ADDRESS_FIELDS",
    "CATEGORY_FIELDS",
    "CODE_FIELDS",
    "LEVEL_FIELDS",
    "NAME_FIELDS",
    "PARENT_FIELDS",
    "bool_values",
    "find_field",
    "read_codes",
    "text_values",
]
