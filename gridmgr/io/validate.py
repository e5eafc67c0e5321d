"""Attribute validation of the layer readers (private; used by the ``gridmgr.io`` readers).

Each check looks at a whole layer at once (shapely 2 / numpy), and on failure raises one specific
error from :mod:`gridmgr.errors` whose message names the file, the first offending feature (its
0-based position in the file), its code, the field, and the fix, plus how many other features
have the same problem. Nothing is returned partially: a reader either returns a fully valid frame
or raises.

This module holds the message helpers and the field checks (required, unique, known values);
geometry checks and repair are in :mod:`gridmgr.io.geometry_checks`, unit levels and parents in
:mod:`gridmgr.io.hierarchy`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from gridmgr.errors import DuplicateCodeError, MissingFieldError
from gridmgr.i18n import t

BoolArray = npt.NDArray[np.bool_]


# --- message helpers -------------------------------------------------------------------------


def feature_ref(path: Path | str, index: int, code: object = None) -> str:
    """``"units.geojson: feature 3 (code='220173001')"`` in the current UI language."""
    name = str(path)
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return t(f"{name}：要素 {index}", f"{name}: feature {index}")
    return t(f"{name}：要素 {index}（code={code!r}）", f"{name}: feature {index} (code={code!r})")


def others_suffix(indices: Sequence[int]) -> str:
    """``" (3 features in total: 0, 4, 9)"`` when more than one feature has the problem."""
    if len(indices) <= 1:
        return ""
    shown = ", ".join(str(i) for i in indices[:8]) + (" …" if len(indices) > 8 else "")
    return t(
        f"（共 {len(indices)} 个要素：{shown}）", f" ({len(indices)} features in total: {shown})"
    )


def code_at(codes: Sequence[object] | None, i: int) -> object:
    """The code of feature ``i`` (``None`` when there are no codes or it is missing)."""
    if codes is None:
        return None
    code = codes[i]
    return None if code is None or (isinstance(code, float) and math.isnan(code)) else code


def first_bad(
    bad: Sequence[int] | npt.NDArray[np.integer], path: Path | str, codes: Sequence[object] | None
) -> tuple[int, str, str]:
    """For the positions ``bad`` of failing features: the first one, its reference and the rest.

    Returns ``(i, where, others)``: ``where`` is :func:`feature_ref` of feature ``i`` and
    ``others`` the " (N features in total: …)" suffix (empty for a single feature).
    """
    i = int(bad[0])
    return i, feature_ref(path, i, code_at(codes, i)), others_suffix([int(b) for b in bad])


# --- attribute checks -------------------------------------------------------------------------


def is_blank(values: pd.Series) -> BoolArray:
    """Mask of missing or blank values (empty after stripping, or the text ``nan``/``None``)."""
    s = values.astype(object)
    isna = pd.isna(s).to_numpy(dtype=bool)
    as_str = s.where(~isna, "").astype(str).str.strip()
    return np.asarray(
        isna | (as_str == "").to_numpy(dtype=bool) | as_str.isin(["nan", "None"]).to_numpy()
    )


def normalise_codes(values: pd.Series) -> pd.Series:
    """Codes as stripped strings; integral floats lose their ``.0``; blanks become ``None``."""
    s = values.astype(object)

    def _one(v: object) -> object:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, (bool, np.bool_)):
            return str(v)
        text = str(v).strip()
        return text or None

    return pd.Series([_one(v) for v in s.tolist()], index=values.index, dtype=object)


def check_required(
    values: pd.Series, path: Path | str, field: str, codes: Sequence[object] | None, role: str
) -> None:
    """Raise :class:`MissingFieldError` when a feature leaves a required field empty."""
    blank = np.flatnonzero(is_blank(values))
    if blank.size == 0:
        return
    i = int(blank[0])
    where = feature_ref(path, i, code_at(codes, i))
    msg = t(
        f"{where}：字段 {field!r}（{role}）为空{others_suffix(blank.tolist())}；请在 QGIS 或表格中补全",
        f"{where}: field {field!r} ({role}) is empty{others_suffix(blank.tolist())}; fill it in "
        f"(QGIS attribute table) or drop the feature",
    )
    raise MissingFieldError(msg)


def check_unique(codes: pd.Series, path: Path | str, field: str) -> None:
    """Raise :class:`DuplicateCodeError` naming both features of the first duplicated code."""
    dup = codes.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    first = int(np.flatnonzero(dup)[0])
    code = codes.iloc[first]
    same = np.flatnonzero((codes == code).to_numpy()).tolist()
    n_codes = int(codes[dup].nunique())
    msg = t(
        f"{path}：字段 {field!r} 的编码 {code!r} 重复，出现在要素 {', '.join(map(str, same))}"
        f"（共 {n_codes} 个重复编码）；每个要素的编码必须唯一",
        f"{path}: code {code!r} in field {field!r} appears in features "
        f"{', '.join(map(str, same))} ({n_codes} duplicated codes in total); codes must be unique "
        f"— give each feature its own code or merge the features",
    )
    raise DuplicateCodeError(msg)


def error_for_unknown(values: Sequence[object], allowed: set[str]) -> int | None:
    """Position of the first value not in ``allowed`` (``None`` when all are known)."""
    for i, v in enumerate(values):
        if v not in allowed:
            return i
    return None


__all__ = [
    "check_required",
    "check_unique",
    "code_at",
    "error_for_unknown",
    "feature_ref",
    "first_bad",
    "is_blank",
    "normalise_codes",
    "others_suffix",
]
