"""Chinese-first user text with English available (``GRIDMGR_LANG=en`` or ``--lang en``).

Usage: ``t("网格已生成", "grid built")`` returns the text in the current language. Keep user-facing
strings at the call site as a (zh, en) pair so both stay next to each other in the code.
"""

from __future__ import annotations

from gridmgr import glossary, settings

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


def term(group: str, code: str) -> str:
    """The name of a code (status, metric, level, role) in the current language."""
    return glossary.label(group, code, current())


def level_label(level: str) -> str:
    """The name of a unit level in the current language."""
    return term("level", level)
