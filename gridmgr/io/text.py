"""The one text validator for every name and free-text field (files, CLI and API alike).

A name (unit, key place, department, category, leader, user …) is one line of text; a free-text
field (a reason, an address) may span lines. Both are NFC-normalised and stripped, and refused
when they hold:

- NUL or any other C0 control character (tab included in names), DEL, or a C1 control;
- CR or LF in a single-line field (they would break a file name or an HTTP header);
- a bidirectional override or isolate (U+202A–U+202E, U+2066–U+2069), which can make a name
  display as something else;
- a lone surrogate or a non-character (U+FFFE, U+FFFF), which no database stores faithfully;
- more than :data:`MAX_NAME` (names) or :data:`MAX_TEXT` (free text) characters.

:func:`text_problem` says what is wrong (Chinese first) or returns ``None``;
:func:`clean_text` returns the normalised text or raises
:class:`~gridmgr.errors.InvalidFieldError` naming where the value came from;
:func:`check_column` does the same for a column of a layer, naming the feature and its code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import pandas as pd

from gridmgr.errors import InvalidFieldError
from gridmgr.i18n import t
from gridmgr.io.validate import feature_ref

#: Longest name (characters).
MAX_NAME = 200
#: Longest free-text value (characters).
MAX_TEXT = 4000

_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]"
)
_LINE_BREAK = re.compile("[\t\n\r\u2028\u2029\x85]")
_NAMES = {
    "\x00": "NUL",
    "\t": "TAB",
    "\n": "LF",
    "\r": "CR",
    "\x7f": "DEL",
    "\u2028": "LINE SEPARATOR",
    "\u2029": "PARAGRAPH SEPARATOR",
}


def _describe(ch: str) -> str:
    code = f"U+{ord(ch):04X}"
    name = _NAMES.get(ch)
    if name is None:
        if "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069":
            name = "bidi override"
        elif "\ud800" <= ch <= "\udfff":
            name = "lone surrogate"
        elif ch in "\ufffe\uffff":
            name = "non-character"
        else:
            name = "control"
    return f"{code} ({name})"


def text_problem(value: str, *, single_line: bool = True, max_len: int | None = None) -> str | None:
    """What is wrong with ``value`` (already normalised), or ``None`` when it is acceptable.

    >>> text_problem("硅谷街道") is None
    True
    >>> text_problem("张\\x00三")
    '含控制字符 U+0000 (NUL)（第 2 个字符）'
    """
    limit = max_len if max_len is not None else (MAX_NAME if single_line else MAX_TEXT)
    m = _CONTROL.search(value)
    if m is None and single_line:
        m = _LINE_BREAK.search(value)
    if m is not None:
        what = _describe(m.group(0))
        pos = m.start() + 1
        return t(
            f"含控制字符 {what}（第 {pos} 个字符）",
            f"holds the control character {what} (character {pos})",
        )
    if len(value) > limit:
        return t(
            f"过长（{len(value):,} 个字符，上限 {limit:,}）",
            f"too long ({len(value):,} characters, limit {limit:,})",
        )
    return None


def normalise(value: str) -> str:
    """NFC-normalised and stripped (full-width and decomposed forms compare equal afterwards).

    >>> normalise("  社区\\u0301 ") == unicodedata.normalize("NFC", "社区\\u0301")
    True
    """
    return unicodedata.normalize("NFC", value).strip()


def clean_text(
    value: str,
    where: str,
    *,
    single_line: bool = True,
    max_len: int | None = None,
) -> str:
    """``value`` normalised, or :class:`InvalidFieldError` ``"{where}: …"`` when it is refused.

    >>> clean_text(" 硅谷街道 ", "name")
    '硅谷街道'
    """
    text = normalise(value) if not _has_surrogate(value) else value
    problem = text_problem(text, single_line=single_line, max_len=max_len)
    if problem is not None:
        raise InvalidFieldError(
            t(
                f"{where}：{problem}；请删除这些字符后重试",
                f"{where}: {problem}; remove them and retry",
            )
        )
    return text


def _has_surrogate(value: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in value)


def clean_optional(value: str | None, where: str, *, single_line: bool = True) -> str | None:
    """:func:`clean_text` for an optional value (``None`` stays ``None``)."""
    return None if value is None else clean_text(value, where, single_line=single_line)


def check_column(
    values: pd.Series,
    path: object,
    field: str,
    codes: Sequence[object] | None = None,
    *,
    single_line: bool = True,
) -> pd.Series:
    """A text column of a layer, normalised; the first refused value raises naming the feature.

    ``None`` stays ``None``; the message names the file, the feature (0-based), its code, the
    field and the character.
    """
    out: list[object] = []
    for i, v in enumerate(values.tolist()):
        if not isinstance(v, str):
            out.append(v)
            continue
        text = normalise(v) if not _has_surrogate(v) else v
        problem = text_problem(text, single_line=single_line)
        if problem is not None:
            code = codes[i] if codes is not None and i < len(codes) else None
            where = feature_ref(str(path), i, code)
            raise InvalidFieldError(
                t(
                    f"{where}，字段 {field!r}：{problem}；请删除这些字符",
                    f"{where}, field {field!r}: {problem}; remove them",
                )
            )
        out.append(text)
    return pd.Series(out, index=values.index, dtype=object)


__all__ = [
    "MAX_NAME",
    "MAX_TEXT",
    "check_column",
    "clean_optional",
    "clean_text",
    "normalise",
    "text_problem",
]
