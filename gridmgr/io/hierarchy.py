"""Unit levels and parents of the units reader (private; used by :mod:`gridmgr.io.units`).

Level values (English or Chinese aliases) or levels inferred from code lengths and parents;
parents from the parent field or the code prefix, checked to lie in the layer and above.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gridmgr.errors import HierarchyError, InvalidFieldError, MissingFieldError, UnknownParentError
from gridmgr.i18n import t
from gridmgr.io.validate import feature_ref, first_bad, normalise_codes, others_suffix

#: Unit levels from the top down.
LEVELS = ("district", "street", "community", "grid")


_LEVEL_ALIASES = {
    "district": "district",
    "county": "district",
    "区": "district",
    "县": "district",
    "区县": "district",
    "县级": "district",
    "street": "street",
    "township": "street",
    "town": "street",
    "subdistrict": "street",
    "街道": "street",
    "乡": "street",
    "镇": "street",
    "乡镇": "street",
    "街道/乡镇": "street",
    "乡级": "street",
    "community": "community",
    "village": "community",
    "社区": "community",
    "村": "community",
    "社区/村": "community",
    "居委会": "community",
    "村委会": "community",
    "grid": "grid",
    "网格": "grid",
}


def normalise_levels(
    values: pd.Series, path: Path | str, field: str, codes: Sequence[object]
) -> pd.Series:
    """Map level values (English or Chinese) to ``district|street|community|grid``."""
    text = values.astype(object).where(~pd.isna(values), "").astype(str).str.strip()
    mapped = text.str.lower().map(lambda v: _LEVEL_ALIASES.get(v))
    bad = np.flatnonzero(mapped.isna().to_numpy())
    if bad.size:
        i, where, others = first_bad(bad, path, codes)
        msg = t(
            f"{where}：字段 {field!r} 的层级值 {text.iloc[i]!r} "
            f"无法识别{others}；可用 district/street/community/grid 或 区/街道/社区/网格",
            f"{where}: level {text.iloc[i]!r} in field "
            f"{field!r} is not recognised{others}; use district, street, community "
            f"or grid (or 区, 街道, 社区, 网格)",
        )
        raise InvalidFieldError(msg)
    return mapped.astype(object)


def level_from_code(code: str) -> str | None:
    """Level from the code length: 6 district, 9 street, 12 community, 15 grid.

    Zero-padded 12-digit statistical codes are recognised too (``220173000000`` district,
    ``220173001000`` street).
    """
    if not code.isdigit():
        return None
    n = len(code)
    if n == 6:
        return "district"
    if n == 9:
        return "street"
    if n == 12:
        if code.endswith("000000"):
            return "district"
        if code.endswith("000"):
            return "street"
        return "community"
    if n == 15:
        return "grid"
    return None


def infer_levels(codes: pd.Series, path: Path | str, parents: pd.Series | None = None) -> pd.Series:
    """Levels from code lengths, else one below the parent's level.

    A code of no standard length (e.g. a custom grid code ``G01``) whose parent has a known
    level gets the next level down. :class:`MissingFieldError` when neither works.
    """
    levels = codes.map(level_from_code).astype(object)
    if parents is not None and levels.isna().any():
        par = normalise_codes(parents)
        par.index = codes.index
        for _ in LEVELS:
            level_of = dict(zip(codes.tolist(), levels.tolist(), strict=True))
            below = [
                LEVELS[LEVELS.index(level_of[p]) + 1]
                if p is not None and isinstance(level_of.get(p), str) and level_of[p] != LEVELS[-1]
                else None
                for p in par.tolist()
            ]
            fill = levels.isna().to_numpy() & np.array([b is not None for b in below], dtype=bool)
            if not fill.any():
                break
            levels[fill] = np.asarray(below, dtype=object)[fill]
    bad = np.flatnonzero(levels.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        msg = t(
            f"{feature_ref(path, i, codes.iloc[i])}：没有层级字段，且无法从编码长度推断层级（6 位=区，"
            f"9 位=街道，12 位=社区，15 位=网格），也无法从上级推断{others_suffix(bad.tolist())}；请增加 level 字段或用 "
            f"level_field= 指定",
            f"{feature_ref(path, i, codes.iloc[i])}: no level field and the level cannot be inferred "
            f"from the code length (6 digits district, 9 street, 12 community, 15 grid) nor from "
            f"a parent of known level{others_suffix(bad.tolist())}; add a 'level' field or name it with "
            f"level_field=",
        )
        raise MissingFieldError(msg)
    return levels.astype(object)


def _prefix_candidates(code: str) -> list[str]:
    if not code.isdigit():
        return []
    n = len(code)
    if n == 9:
        return [code[:6], code[:6] + "000000"]
    if n == 12:
        if code.endswith("000000"):
            return []
        if code.endswith("000"):
            return [code[:6], code[:6] + "000000"]
        return [code[:9], code[:9] + "000"]
    if n == 15:
        return [code[:12], code[:9]]
    return []


def resolve_parents(
    codes: pd.Series,
    parents: pd.Series | None,
    levels: pd.Series,
    path: Path | str,
    field: str | None,
) -> tuple[pd.Series, list[dict[str, str]]]:
    """Parents as codes in the layer (or ``None``); missing ones inferred from the code prefix.

    A unit at the layer's top level may name a parent outside the layer (e.g. the district's city
    ``2201``); that parent becomes ``None`` (the contract's root) and is reported in the returned
    list. Any other parent missing from the layer, a unit naming itself, or a parent that is not
    of a higher level, raises.
    """
    known = set(codes.tolist())
    n = len(codes)
    given = normalise_codes(parents) if parents is not None else pd.Series([None] * n, dtype=object)
    given.index = codes.index
    result: list[str | None] = []
    external: list[dict[str, str]] = []
    rank = {lvl: k for k, lvl in enumerate(LEVELS)}
    top = min(rank[v] for v in levels.tolist()) if n else 0
    for i, (code, par, lvl) in enumerate(
        zip(codes.tolist(), given.tolist(), levels.tolist(), strict=True)
    ):
        if par is None:
            cand = next((c for c in _prefix_candidates(code) if c in known and c != code), None)
            result.append(cand)
            continue
        if par == code:
            msg = t(
                f"{feature_ref(path, i, code)}：字段 {field!r} 把自己作为上级；请改为上级单元的编码或留空",
                f"{feature_ref(path, i, code)}: field {field!r} names the unit itself as its parent; "
                f"set the parent unit's code or leave it empty",
            )
            raise HierarchyError(msg)
        if par not in known:
            if rank[lvl] == top:
                external.append({"code": code, "parent": par})
                result.append(None)
                continue
            msg = t(
                f"{feature_ref(path, i, code)}：字段 {field!r} 的上级编码 {par!r} 在本图层中不存在；"
                f"请补充该上级单元、改正编码或清空该字段（将按编码前缀推断）",
                f"{feature_ref(path, i, code)}: parent code {par!r} in field {field!r} does not "
                f"exist in this layer; add that unit, correct the code, or clear the field (the "
                f"parent is then inferred from the code prefix)",
            )
            raise UnknownParentError(msg)
        result.append(par)
    out = pd.Series(result, index=codes.index, dtype=object)
    level_of = dict(zip(codes.tolist(), levels.tolist(), strict=True))
    for i, (code, par, lvl) in enumerate(
        zip(codes.tolist(), out.tolist(), levels.tolist(), strict=True)
    ):
        if par is not None and rank[level_of[par]] >= rank[lvl]:
            msg = t(
                f"{feature_ref(path, i, code)}：上级 {par!r} 的层级（{level_of[par]}）不高于本单元"
                f"（{lvl}）；请检查字段 {field!r} 或层级字段",
                f"{feature_ref(path, i, code)}: parent {par!r} is a {level_of[par]}, not a higher "
                f"level than this {lvl}; check field {field!r} or the level field",
            )
            raise HierarchyError(msg)
    return out, external


__all__ = [
    "LEVELS",
    "infer_levels",
    "level_from_code",
    "normalise_levels",
    "resolve_parents",
]
