"""Chinese-first user text with English available (``GRIDMGR_LANG=en`` or ``--lang en``).

Usage: ``t("网格已生成", "grid built")`` returns the text in the current language. Keep user-facing
strings at the call site as a (zh, en) pair so both stay next to each other in the code.
"""

from __future__ import annotations

from gridmgr import settings

_override: str | None = None


def set_language(lang: str | None) -> None:
    """Force the UI language for this process (``zh`` or ``en``); ``None`` restores the default."""
    global _override
    _override = None if lang is None else ("en" if lang.lower().startswith("en") else "zh")


def current() -> str:
    """The language in effect: the override, else ``GRIDMGR_LANG``, else ``zh``."""
    return _override or settings.language()


def t(zh: str, en: str) -> str:
    """Return ``zh`` or ``en`` according to the current language."""
    return en if current() == "en" else zh


#: Labels of the unit levels and other shared vocabulary, (zh, en).
LEVELS = {
    "district": ("区", "district"),
    "street": ("街道/乡镇", "street/township"),
    "community": ("社区/村", "community/village"),
    "grid": ("网格", "grid"),
}


def level_label(level: str) -> str:
    zh, en = LEVELS.get(level, (level, level))
    return t(zh, en)
